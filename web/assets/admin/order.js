// One order, everything about it: items, buyer, status, the timeline with who did what, every
// notification with its verdict, refunds, anomalies; and the operator's actions, each confirmed
// first: ask Alipay now, refund chosen courses or an amount, close an unpaid order.

import { randomKey } from '../api.js';
import { t } from '../i18n.js';
import { toFen } from '../money.js';
import { refresh } from '../router.js';
import { alertBox, h, price, statusBadge, toast } from '../ui.js';
import { admin } from './api.js';
import { actionError, confirmDialog, control, loadInto, page, requireOperator, table, tag, when } from './common.js';

export async function renderAdminOrder(ctx) {
  const no = ctx.params.no;
  if (!(await requireOperator(ctx, t('order.adminTitle', { no })))) return;
  await loadInto(ctx, (signal) => admin.order(no, { signal }), (order) => {
    const messageSlot = h('div', { class: 'form-message', 'aria-live': 'polite', 'data-testid': 'action-message' });
    const facts = h(
      'dl',
      { class: 'facts', 'data-testid': 'order-facts' },
      fact(t('order.buyer'), h('span', { 'data-testid': 'order-buyer' }, order.buyer)),
      fact(t('order.status'), statusBadge(order.status)),
      fact(t('order.total'), price(order.total_amount)),
      fact(t('order.refunded'), price(order.refunded_amount)),
      fact(t('order.tradeNo'), h('span', { class: 'mono' }, order.trade_no || '—')),
      fact(t('order.paidAt'), when(order.paid_at) || '—'),
      fact(t('order.createdAt'), when(order.created_at)),
    );
    const items = table(
      [
        [t('order.course'), (item) => item.course_name],
        [t('order.pricePaid'), (item) => price(item.real_price)],
      ],
      order.items,
      { label: t('order.items'), testid: 'order-items' },
    );
    const actions = h('div', { class: 'actions', 'data-testid': 'order-actions' });
    actions.append(button(t('order.check'), 'btn-secondary', 'check', () => askAlipay(order, messageSlot)));
    if (order.status === 'paid') actions.append(button(t('order.refund'), 'btn-buy', 'refund', () => refundDialog(order, messageSlot)));
    if (order.status === 'unpaid') actions.append(button(t('order.close'), 'btn-secondary', 'close', () => closeDialog(order, messageSlot)));

    ctx.root.replaceChildren(
      ...page(
        t('order.adminTitle', { no: order.out_trade_no }),
        h('section', { class: 'card section', 'aria-label': t('order.actions') }, facts, actions, messageSlot),
        section('items', t('order.items'), items),
        section('timeline', t('order.timeline'), timeline(order.events)),
        section('notifications', t('order.notifications'), notifications(order.notifications)),
        section('refunds', t('order.refunds'), refunds(order.refunds, order.items)),
        section('anomalies', t('order.anomalies'), anomalies(order.anomalies)),
      ),
    );
  });
}

function fact(label, value) {
  return h('div', { class: 'fact' }, h('dt', {}, label), h('dd', {}, value));
}

function section(id, title, body) {
  return h('section', { class: 'card section', 'aria-labelledby': `s-${id}`, 'data-testid': `section-${id}` }, h('h2', { class: 'section-title', id: `s-${id}` }, title), body);
}

function button(label, kind, testid, onclick) {
  return h('button', { type: 'button', class: `btn ${kind}`, 'data-testid': `action-${testid}`, onclick }, label);
}

function timeline(events) {
  if (!events.length) return h('p', { class: 'muted' }, t('admin.none'));
  return h(
    'ol',
    { class: 'timeline' },
    events.map((e) =>
      h(
        'li',
        { class: 'timeline-item' },
        h('p', {}, h('strong', {}, e.kind), ' ', h('span', { class: 'muted small' }, `${t('order.event.source')}: ${e.source}`), e.actor_id ? [' ', tag(t('order.event.actor', { id: e.actor_id }), 'info')] : null),
        e.detail ? h('p', { class: 'small' }, e.detail) : null,
        h('p', { class: 'muted small' }, when(e.at)),
      ),
    ),
  );
}

function notifications(list) {
  if (!list.length) return h('p', { class: 'muted' }, t('admin.none'));
  return h(
    'ul',
    { class: 'notification-list' },
    list.map((n) =>
      h(
        'li',
        { class: 'notification' },
        h('p', {}, tag(n.verdict, n.verdict === 'accepted' || n.verdict === 'duplicate' ? 'ok' : 'warn'), ' ', h('span', { class: 'muted small' }, `${when(n.received_at)} · ${n.trade_status || ''}`)),
        n.detail ? h('p', { class: 'small' }, n.detail) : null,
        h('details', {}, h('summary', {}, t('order.body')), h('pre', { class: 'body-text' }, n.body)),
      ),
    ),
  );
}

function refunds(list, items) {
  const names = new Map(items.map((item) => [item.course_id, item.course_name]));
  return table(
    [
      [t('order.refundNo'), (r) => h('span', { class: 'mono' }, r.out_request_no)],
      [t('order.amount'), (r) => price(r.amount)],
      [t('order.status'), (r) => tag(t(`order.refundStatus.${r.status}`), r.status === 'succeeded' ? 'ok' : r.status === 'failed' ? 'bad' : 'warn')],
      [t('order.course'), (r) => r.course_ids.map((id) => names.get(id) || `#${id}`).join('、') || '—'],
      [t('order.refundReason'), (r) => `${r.reason || ''} (${t(`order.origin.${r.origin}`)})`],
      [t('order.requestedAt'), (r) => when(r.created_at)],
    ],
    list,
    { label: t('order.refunds'), testid: 'order-refunds' },
  );
}

function anomalies(list) {
  return table(
    [
      [t('anomalies.kind'), (a) => t(`anomaly.${a.kind}`)],
      [t('anomalies.amount'), (a) => (a.amount ? price(a.amount) : '—')],
      [t('anomalies.detail'), (a) => a.detail],
      [t('anomalies.createdAt'), (a) => when(a.created_at)],
    ],
    list,
    { label: t('order.anomalies') },
  );
}

async function askAlipay(order, slot) {
  if (!(await confirmDialog({ title: t('order.check'), text: t('order.checkConfirm') }))) return;
  try {
    const result = await admin.check(order.out_trade_no);
    toast(t(`order.checkResult.${result.result}`), result.result === 'unknown' ? 'info' : 'success');
    refresh();
  } catch (error) {
    actionError(slot, error);
  }
}

async function closeDialog(order, slot) {
  const reason = h('input', { type: 'text', class: 'input', maxlength: '256' });
  const confirmed = await confirmDialog({ title: t('order.close'), text: t('order.closeConfirm'), danger: true, fields: [control(t('order.closeReason'), reason)] });
  if (!confirmed) return;
  try {
    await admin.close(order.out_trade_no, reason.value.trim());
    toast(t('order.closed'));
    refresh();
  } catch (error) {
    actionError(slot, error);
  }
}

async function refundDialog(order, slot) {
  const refundedCourses = new Set(order.refunds.filter((r) => r.status !== 'failed').flatMap((r) => r.course_ids));
  const byCourses = h('input', { type: 'radio', name: 'refund-kind', value: 'courses', checked: true });
  const byAmount = h('input', { type: 'radio', name: 'refund-kind', value: 'amount' });
  const boxes = order.items
    .filter((item) => !refundedCourses.has(item.course_id))
    .map((item) => {
      const box = h('input', { type: 'checkbox', value: String(item.course_id), 'data-testid': `refund-course-${item.course_id}` });
      return { box, el: h('label', { class: 'check' }, box, ` ${item.course_name} `, price(item.real_price)) };
    });
  const amount = h('input', { type: 'text', class: 'input', inputmode: 'decimal', placeholder: '10.00', 'data-testid': 'refund-amount' });
  const reason = h('input', { type: 'text', class: 'input', maxlength: '256', 'data-testid': 'refund-reason' });
  const fields = [
    h(
      'fieldset',
      { class: 'fieldset' },
      h('legend', {}, t('order.refundTitle')),
      h('label', { class: 'check' }, byCourses, ` ${t('order.refundCourses')}`),
      h('div', { class: 'indent' }, boxes.map((b) => b.el)),
      h('label', { class: 'check' }, byAmount, ` ${t('order.refundAmount')}`),
      h('div', { class: 'indent' }, control(t('order.refundAmountLabel'), amount)),
    ),
    control(t('order.refundReason'), reason),
  ];
  amount.addEventListener('focus', () => {
    byAmount.checked = true;
  });
  for (const b of boxes) b.box.addEventListener('change', () => {
    byCourses.checked = true;
  });
  const chosen = () => boxes.filter((b) => b.box.checked).map((b) => Number(b.box.value));
  const confirmed = await confirmDialog({
    title: t('order.refundTitle'),
    text: t('order.refundConfirm'),
    confirmLabel: t('order.refund'),
    danger: true,
    fields,
    validate: () => {
      if (byCourses.checked && chosen().length === 0) return t('order.refundPickCourse');
      if (byAmount.checked) {
        try {
          if (toFen(amount.value.trim()) <= 0) return t('order.refundBadAmount');
        } catch {
          return t('order.refundBadAmount');
        }
      }
      return null;
    },
  });
  if (!confirmed) return;
  const body = byCourses.checked ? { course_ids: chosen(), reason: reason.value.trim() } : { amount: amount.value.trim(), reason: reason.value.trim() };
  try {
    await admin.refund(order.out_trade_no, body, randomKey());
    toast(t('order.refundQueued'));
    slot.replaceChildren(alertBox('success', t('order.refundQueued')));
    setTimeout(refresh, 1500);
  } catch (error) {
    actionError(slot, error);
  }
}
