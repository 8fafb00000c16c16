// "Start studying": the lesson list of an owned course. (The demo shop has no video content; the
// player area says so.)

import { ApiError, api } from '../api.js';
import { level, t } from '../i18n.js';
import { cover, emptyState, h, icon, loadError, loading, setTitle } from '../ui.js';

export async function renderLearn(ctx) {
  const { root, params, signal } = ctx;
  root.replaceChildren(loading());
  let course;
  let owned;
  try {
    const [found, mine] = await Promise.all([api.course(params.id, { signal }), api.myCourses({ signal })]);
    course = found;
    owned = mine.some((c) => c.course_id === course.id);
  } catch (error) {
    if (error.name === 'AbortError') return;
    if (error instanceof ApiError && error.status === 404) {
      root.replaceChildren(emptyState('book', t('course.notFound'), t('course.notFoundText'), h('a', { href: '/my/courses', class: 'btn btn-primary' }, t('nav.myCourses')), { heading: 'h1' }));
      return;
    }
    root.replaceChildren(loadError(error, () => renderLearn(ctx)));
    return;
  }
  setTitle(course.name);
  if (!owned) {
    root.replaceChildren(
      h('div', { class: 'card' }, emptyState('book', t('learn.notOwned'), t('learn.notOwnedText'), h('a', { href: `/courses/${course.id}`, class: 'btn btn-buy' }, t('learn.buy')), { heading: 'h1' })),
    );
    return;
  }

  const nowPlaying = h('p', { class: 'player-caption', role: 'status' }, t('learn.player'));
  const player = h('div', { class: 'player' }, cover(course, 'cover-player'), h('div', { class: 'player-overlay' }, icon('play', 'player-icon'), nowPlaying, h('p', { class: 'player-note' }, t('learn.demoNote'))));
  const count = Math.max(0, Math.min(Number(course.lessons) || 0, 200));
  const buttons = [];
  const select = (n) => {
    for (const b of buttons) b.setAttribute('aria-pressed', String(b.dataset.lesson === String(n)));
    nowPlaying.textContent = t('learn.playing', { n });
  };
  const list = h(
    'ol',
    { class: 'lesson-list' },
    Array.from({ length: count }, (_, i) => {
      const button = h('button', { type: 'button', class: 'lesson', 'aria-pressed': 'false', dataset: { lesson: i + 1 }, onclick: () => select(i + 1) }, h('span', { class: 'lesson-no' }, String(i + 1).padStart(2, '0')), h('span', {}, t('learn.lesson', { n: i + 1 })));
      buttons.push(button);
      return h('li', {}, button);
    }),
  );
  root.replaceChildren(
    h('nav', { class: 'breadcrumb', 'aria-label': t('course.breadcrumb') }, h('ol', {}, h('li', {}, h('a', { href: '/my/courses' }, t('nav.myCourses'))), h('li', { 'aria-current': 'page' }, course.name))),
    h('h1', { class: 'page-title' }, course.name),
    h('p', { class: 'muted page-subtitle' }, `${course.teacher} · ${t('common.lessons', { n: course.lessons })} · ${level(course.level)}`),
    h('div', { class: 'learn' }, player, h('section', { class: 'card lessons', 'aria-labelledby': 'lessons-title' }, h('h2', { class: 'section-title', id: 'lessons-title' }, t('learn.title')), list)),
  );
}
