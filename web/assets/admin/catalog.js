// The catalog: every course, published or not; create and edit (name, description, teacher,
// level, lessons, price, on sale). A new price applies to new orders only.

import { t } from '../i18n.js';
import { toFen } from '../money.js';
import { refresh } from '../router.js';
import { h, price, toast } from '../ui.js';
import { admin } from './api.js';
import { actionError, confirmDialog, control, loadInto, page, requireOperator, table, tag } from './common.js';

export async function renderCatalog(ctx) {
  if (!(await requireOperator(ctx, t('catalog.title')))) return;
  await loadInto(ctx, (signal) => admin.courses({ signal }), (courses) => {
    const messageSlot = h('div', { class: 'form-message', 'aria-live': 'polite' });
    const rows = table(
      [
        ['#', (c) => String(c.id)],
        [t('catalog.name'), (c) => h('a', { href: `/courses/${c.id}` }, c.name)],
        [t('catalog.teacher'), (c) => c.teacher],
        [t('catalog.price'), (c) => price(c.price)],
        [t('catalog.published'), (c) => tag(t(c.published ? 'catalog.status.on' : 'catalog.status.off'), c.published ? 'ok' : 'neutral')],
        ['', (c) => h('button', { type: 'button', class: 'btn btn-secondary btn-sm', 'data-testid': `edit-course-${c.id}`, onclick: () => edit(c, messageSlot) }, t('catalog.edit'))],
      ],
      courses,
      { label: t('catalog.title'), testid: 'catalog' },
    );
    const create = h('button', { type: 'button', class: 'btn btn-primary', 'data-testid': 'new-course', onclick: () => edit(null, messageSlot) }, t('catalog.new'));
    ctx.root.replaceChildren(...page(t('catalog.title'), h('p', { class: 'muted' }, t('catalog.priceNote')), h('div', { class: 'actions' }, create), messageSlot, h('div', { class: 'card section' }, rows)));
  });
}

async function edit(course, slot) {
  const input = (value, attrs = {}) => h('input', { type: 'text', class: 'input', ...attrs, value: value ?? '' });
  const name = input(course?.name, { maxlength: '100', 'data-testid': 'course-name' });
  const description = h('textarea', { class: 'input', rows: '4', maxlength: '4000' });
  description.value = course?.description ?? '';
  const teacher = input(course?.teacher, { maxlength: '50' });
  const level = input(course?.level, { maxlength: '20' });
  const lessons = h('input', { type: 'number', class: 'input', min: '0', max: '10000', value: String(course?.lessons ?? 0) });
  const amount = input(course?.price, { inputmode: 'decimal', placeholder: '138.00', 'data-testid': 'course-price' });
  const published = h('input', { type: 'checkbox', checked: course ? course.published : true });
  const confirmed = await confirmDialog({
    title: course ? `${t('catalog.edit')} #${course.id}` : t('catalog.new'),
    text: course ? t('catalog.priceNote') : null,
    confirmLabel: t('admin.save'),
    fields: [
      control(t('catalog.name'), name),
      control(t('catalog.description'), description),
      control(t('catalog.teacher'), teacher),
      control(t('catalog.level'), level),
      control(t('catalog.lessons'), lessons),
      control(t('catalog.price'), amount),
      h('label', { class: 'check' }, published, ` ${t('catalog.published')}`),
    ],
    validate: () => {
      if (!name.value.trim()) return t('validate.required', { field: t('catalog.name') });
      try {
        if (toFen(amount.value.trim()) <= 0) return t('order.refundBadAmount');
      } catch {
        return t('order.refundBadAmount');
      }
      return null;
    },
  });
  if (!confirmed) return;
  const body = {
    name: name.value.trim(),
    description: description.value.trim(),
    teacher: teacher.value.trim(),
    level: level.value.trim(),
    lessons: Number(lessons.value) || 0,
    price: amount.value.trim(),
    published: published.checked,
  };
  try {
    if (course) await admin.updateCourse(course.id, body);
    else await admin.createCourse(body);
    toast(t('admin.saved'));
    refresh();
  } catch (error) {
    actionError(slot, error);
  }
}
