// "Start studying": the lessons of an owned course, with their content, which the shop serves to
// the course's owners only (GET /api/courses/{id}/lessons answers 403 to anyone else).

import { ApiError, api } from '../api.js';
import { level, t } from '../i18n.js';
import { cover, emptyState, h, icon, loadError, loading, setTitle } from '../ui.js';

export async function renderLearn(ctx) {
  const { root, params, signal } = ctx;
  root.replaceChildren(loading());
  let course;
  let lessons;
  try {
    course = await api.course(params.id, { signal });
    lessons = await api.lessons(params.id, { signal });
  } catch (error) {
    if (error.name === 'AbortError') return;
    if (error instanceof ApiError && error.status === 404) {
      root.replaceChildren(emptyState('book', t('course.notFound'), t('course.notFoundText'), h('a', { href: '/my/courses', class: 'btn btn-primary' }, t('nav.myCourses')), { heading: 'h1' }));
      return;
    }
    if (error instanceof ApiError && error.status === 403 && course) {
      setTitle(course.name);
      root.replaceChildren(
        h('div', { class: 'card' }, emptyState('book', t('learn.notOwned'), t('learn.notOwnedText'), h('a', { href: `/courses/${course.id}`, class: 'btn btn-buy' }, t('learn.buy')), { heading: 'h1' })),
      );
      return;
    }
    root.replaceChildren(loadError(error, () => renderLearn(ctx)));
    return;
  }
  setTitle(course.name);

  const nowPlaying = h('p', { class: 'player-caption', role: 'status' }, t('learn.player'));
  const content = h('p', { class: 'player-note lesson-content', 'data-testid': 'lesson-content' }, t('learn.demoNote'));
  const player = h('div', { class: 'player' }, cover(course, 'cover-player'), h('div', { class: 'player-overlay' }, icon('play', 'player-icon'), nowPlaying, content));
  const buttons = [];
  const select = (lesson) => {
    for (const b of buttons) b.setAttribute('aria-pressed', String(b.dataset.lesson === String(lesson.position)));
    nowPlaying.textContent = t('learn.playingTitle', { title: lesson.title });
    content.textContent = lesson.content || t('learn.demoNote');
  };
  const list = h(
    'ol',
    { class: 'lesson-list', 'data-testid': 'lesson-list' },
    lessons.map((lesson) => {
      const minutes = Math.round((Number(lesson.duration_secs) || 0) / 60);
      const button = h(
        'button',
        { type: 'button', class: 'lesson', 'aria-pressed': 'false', dataset: { lesson: lesson.position }, onclick: () => select(lesson) },
        h('span', { class: 'lesson-no' }, String(lesson.position).padStart(2, '0')),
        h('span', {}, lesson.title),
        minutes ? h('span', { class: 'muted small' }, ` · ${t('learn.minutes', { n: minutes })}`) : null,
      );
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
