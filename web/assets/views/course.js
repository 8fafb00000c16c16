// One course, with "Buy now" (or "Start studying" once owned).

import { ApiError, api } from '../api.js';
import { level, t } from '../i18n.js';
import { loginUrl, navigate } from '../router.js';
import { getSession } from '../session.js';
import { cover, emptyState, h, icon, loadError, loading, price, setTitle } from '../ui.js';

export async function renderCourse(ctx) {
  const { root, params, signal } = ctx;
  root.replaceChildren(loading());
  let course;
  let owned = false;
  try {
    const session = getSession();
    const [found, mine] = await Promise.all([
      api.course(params.id, { signal }),
      session ? api.myCourses({ signal }).catch(() => []) : Promise.resolve([]),
    ]);
    course = found;
    owned = mine.some((c) => c.course_id === course.id);
  } catch (error) {
    if (error.name === 'AbortError') return;
    if (error instanceof ApiError && error.status === 404) {
      setTitle(t('course.notFound'));
      root.replaceChildren(
        emptyState('book', t('course.notFound'), t('course.notFoundText'), h('a', { href: '/', class: 'btn btn-primary' }, t('common.backToCourses')), { heading: 'h1' }),
      );
      return;
    }
    root.replaceChildren(loadError(error, () => renderCourse(ctx)));
    return;
  }
  setTitle(course.name);

  const buy = () => {
    if (!getSession()) {
      // Log in first, then come back to this course.
      navigate(loginUrl(`/courses/${course.id}`, 'buy'));
      return;
    }
    navigate(`/checkout/${course.id}`);
  };

  const action = owned
    ? h('a', { href: `/learn/${course.id}`, class: 'btn btn-primary btn-lg btn-block', 'data-testid': 'study' }, icon('play'), t('course.study'))
    : h('button', { type: 'button', class: 'btn btn-buy btn-lg btn-block', 'data-testid': 'buy-now', onclick: buy }, t('course.buy'));

  const breadcrumb = h(
    'nav',
    { class: 'breadcrumb', 'aria-label': t('course.breadcrumb') },
    h('ol', {}, h('li', {}, h('a', { href: '/' }, t('nav.courses'))), h('li', { 'aria-current': 'page' }, course.name)),
  );

  const facts = h(
    'dl',
    { class: 'facts' },
    h('div', {}, h('dt', {}, t('common.teacher')), h('dd', {}, course.teacher)),
    h('div', {}, h('dt', {}, t('common.lessonCount')), h('dd', {}, t('common.lessons', { n: course.lessons }))),
    h('div', {}, h('dt', {}, t('common.level')), h('dd', {}, level(course.level))),
  );

  const buyBox = h(
    'aside',
    { class: 'card buy-box', 'aria-label': t('common.price') },
    h('p', { class: 'buy-box-label' }, t('common.price')),
    price(course.price, 'price-xl'),
    owned ? h('p', { class: 'owned-note' }, icon('check'), t('course.ownedNote')) : null,
    action,
    h(
      'ul',
      { class: 'trust-list' },
      h('li', {}, icon('shield'), t('course.trust1')),
      h('li', {}, icon('bolt'), t('course.trust2')),
      h('li', {}, icon('clock'), t('course.trust3')),
    ),
  );

  root.replaceChildren(
    breadcrumb,
    h(
      'div',
      { class: 'course-detail' },
      h('div', { class: 'course-head' }, cover(course, 'cover-lg'), h('div', { class: 'course-head-text' }, h('h1', { class: 'course-title' }, course.name), facts)),
      buyBox,
      h('section', { class: 'card section course-about', 'aria-labelledby': 'about-title' }, h('h2', { class: 'section-title', id: 'about-title' }, t('course.about')), h('p', { class: 'course-desc' }, course.description)),
    ),
  );
}
