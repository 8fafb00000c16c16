// The course list (home page).

import { api } from '../api.js';
import { level, t } from '../i18n.js';
import { getSession } from '../session.js';
import { cover, emptyState, h, icon, loadError, loading, price, setTitle } from '../ui.js';

export async function renderCourseList(ctx) {
  const { root, signal } = ctx;
  setTitle(t('courses.title'));
  root.replaceChildren(loading());
  let courses;
  let owned = new Set();
  try {
    const [list, mine] = await Promise.all([
      api.courses({ signal }),
      getSession() ? api.myCourses({ signal }).catch(() => []) : Promise.resolve([]),
    ]);
    courses = list;
    owned = new Set(mine.map((c) => c.course_id));
  } catch (error) {
    if (error.name === 'AbortError') return;
    root.replaceChildren(loadError(error, () => renderCourseList(ctx)));
    return;
  }

  const hero = h(
    'section',
    { class: 'hero', 'aria-labelledby': 'hero-title' },
    h('div', { class: 'hero-text' }, h('p', { class: 'hero-title', id: 'hero-title' }, t('courses.heroTitle')), h('p', { class: 'hero-sub' }, t('courses.heroText'))),
    h(
      'ul',
      { class: 'hero-points' },
      h('li', {}, icon('shield'), t('course.trust1')),
      h('li', {}, icon('bolt'), t('course.trust2')),
    ),
  );
  const heading = h('div', { class: 'section-head' }, h('h1', { class: 'page-title' }, t('courses.title')), h('p', { class: 'muted' }, t('courses.count', { n: courses.length })));

  if (courses.length === 0) {
    root.replaceChildren(hero, heading, emptyState('book', t('courses.empty'), t('courses.emptyText')));
    return;
  }
  const grid = h(
    'ul',
    { class: 'course-grid', 'data-testid': 'course-list' },
    courses.map((course) => h('li', {}, courseCard(course, owned.has(course.id)))),
  );
  root.replaceChildren(hero, heading, grid);
}

function courseCard(course, isOwned) {
  const titleId = `course-${course.id}-title`;
  return h(
    'article',
    { class: 'card course-card', 'aria-labelledby': titleId, dataset: { courseId: course.id } },
    cover(course),
    h(
      'div',
      { class: 'course-card-body' },
      h('h2', { class: 'course-card-title', id: titleId }, h('a', { href: `/courses/${course.id}`, class: 'stretched-link' }, course.name)),
      h(
        'p',
        { class: 'course-meta' },
        h('span', {}, course.teacher),
        h('span', { 'aria-hidden': 'true' }, '·'),
        h('span', {}, t('common.lessons', { n: course.lessons })),
        h('span', { 'aria-hidden': 'true' }, '·'),
        h('span', {}, level(course.level)),
      ),
      h('p', { class: 'course-card-desc' }, course.description),
      h(
        'div',
        { class: 'course-card-foot' },
        price(course.price, 'price-lg'),
        isOwned ? h('span', { class: 'badge badge-paid' }, t('common.owned')) : h('span', { class: 'link-hint', 'aria-hidden': 'true' }, t('courses.view'), icon('chevron')),
      ),
    ),
  );
}
