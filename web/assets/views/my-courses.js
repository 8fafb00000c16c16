// The courses the buyer owns.

import { api } from '../api.js';
import { t } from '../i18n.js';
import { cover, emptyState, formatDate, h, icon, loadError, loading, setTitle } from '../ui.js';

export async function renderMyCourses(ctx) {
  const { root, signal } = ctx;
  setTitle(t('my.title'));
  root.replaceChildren(loading());
  let owned;
  try {
    owned = await api.myCourses({ signal });
  } catch (error) {
    if (error.name === 'AbortError') return;
    root.replaceChildren(loadError(error, () => renderMyCourses(ctx)));
    return;
  }
  const title = h('h1', { class: 'page-title' }, t('my.title'));
  if (owned.length === 0) {
    root.replaceChildren(title, h('div', { class: 'card' }, emptyState('book', t('my.empty'), t('my.emptyText'), h('a', { href: '/', class: 'btn btn-primary' }, t('common.backToCourses')))));
    return;
  }
  root.replaceChildren(
    title,
    h(
      'ul',
      { class: 'my-grid', 'data-testid': 'my-courses' },
      owned.map((course) =>
        h(
          'li',
          {},
          h(
            'article',
            { class: 'card my-card', dataset: { courseId: course.course_id } },
            cover({ id: course.course_id, name: course.name }, 'cover-sm'),
            h(
              'div',
              { class: 'my-card-body' },
              h('h2', { class: 'my-card-title' }, course.name),
              h('p', { class: 'muted small' }, t('my.since', { date: formatDate(course.granted_at) })),
              h('a', { href: `/learn/${course.course_id}`, class: 'btn btn-primary btn-sm', 'aria-label': `${t('my.study')} – ${course.name}` }, icon('play'), t('my.study')),
            ),
          ),
        ),
      ),
    ),
  );
}
