// My orders: status, pay again or cancel unpaid ones, study the paid ones.

import { api, goToPayUrl } from '../api.js';
import { t } from '../i18n.js';
import { toFen } from '../money.js';
import { alertBox, emptyState, errorMessage, formatTime, h, icon, loadError, loading, price, setTitle, statusBadge, toast, withBusy } from '../ui.js';

export async function renderOrders(ctx) {
  const { root, signal } = ctx;
  setTitle(t('orders.title'));
  root.replaceChildren(loading());
  let orders;
  try {
    orders = await api.orders({ signal });
  } catch (error) {
    if (error.name === 'AbortError') return;
    root.replaceChildren(loadError(error, () => renderOrders(ctx)));
    return;
  }
  const title = h('h1', { class: 'page-title' }, t('orders.title'));
  if (orders.length === 0) {
    root.replaceChildren(title, h('div', { class: 'card' }, emptyState('receipt', t('orders.empty'), t('orders.emptyText'), h('a', { href: '/', class: 'btn btn-primary' }, t('common.backToCourses')))));
    return;
  }
  const messageSlot = h('div', { class: 'form-message', 'aria-live': 'polite' });
  root.replaceChildren(
    title,
    messageSlot,
    h('ul', { class: 'order-list', 'aria-label': t('orders.list'), 'data-testid': 'order-list' }, orders.map((order) => h('li', {}, orderCard(order, messageSlot, ctx)))),
  );
}

function orderCard(order, messageSlot, ctx) {
  const now = Date.now();
  const expired = order.status === 'unpaid' && Date.parse(order.expires_at) <= now;
  const head = h(
    'div',
    { class: 'order-head' },
    h('p', { class: 'order-no' }, h('span', { class: 'muted' }, `${t('orders.no')} `), h('span', { class: 'mono', 'data-testid': 'order-no' }, order.out_trade_no)),
    h('p', { class: 'muted small' }, `${t('orders.createdAt')} ${formatTime(order.created_at)}`),
    statusBadge(order.status),
  );
  const items = h(
    'ul',
    { class: 'order-lines' },
    order.items.map((item) =>
      h('li', { class: 'order-line' }, h('a', { href: `/courses/${item.course_id}`, class: 'order-line-name' }, item.course_name), price(item.real_price, 'order-line-price')),
    ),
  );

  const notes = [];
  if (order.status === 'paid' || order.status === 'refunded') {
    if (order.paid_at) notes.push(`${t('orders.paidAt')} ${formatTime(order.paid_at)}`);
    if (order.trade_no) notes.push(`${t('orders.tradeNo')} ${order.trade_no}`);
  }
  if (order.status === 'unpaid') notes.push(expired ? t('orders.expired') : t('orders.expiresAt', { time: formatTime(order.expires_at) }));
  let refunded = null;
  try {
    if (toFen(order.refunded_amount || '0.00') > 0) refunded = h('span', { class: 'refunded' }, t('orders.refunded', { amount: `¥${order.refunded_amount}` }));
  } catch {
    refunded = null;
  }

  const actions = h('div', { class: 'order-actions' });
  if (order.status === 'unpaid' && !expired) {
    const pay = h('button', { type: 'button', class: 'btn btn-buy btn-sm', 'data-testid': 'pay-again' }, t('orders.pay'));
    pay.addEventListener('click', () =>
      withBusy(pay, t('orders.payBusy'), async () => {
        try {
          const link = await api.payOrder(order.out_trade_no);
          goToPayUrl(link.pay_url);
          return 'keep';
        } catch (error) {
          messageSlot.replaceChildren(alertBox('error', errorMessage(error)));
          return undefined;
        }
      }),
    );
    const cancel = h('button', { type: 'button', class: 'btn btn-secondary btn-sm' }, t('orders.cancel'));
    cancel.addEventListener('click', () => {
      if (!window.confirm(t('orders.cancelConfirm', { no: order.out_trade_no }))) return;
      withBusy(cancel, t('orders.cancelBusy'), async () => {
        try {
          await api.cancelOrder(order.out_trade_no);
        } catch (error) {
          messageSlot.replaceChildren(alertBox('error', errorMessage(error)));
          return undefined;
        }
        toast(t('orders.cancelled', { no: order.out_trade_no }));
        renderOrders(ctx);
        return 'keep';
      });
    });
    actions.append(cancel, pay);
  } else if (order.status === 'paid') {
    const first = order.items[0];
    if (first) actions.append(h('a', { href: order.items.length === 1 ? `/learn/${first.course_id}` : '/my/courses', class: 'btn btn-primary btn-sm' }, icon('play'), t('orders.study')));
  }

  return h(
    'article',
    { class: `card order-card order-${order.status}`, dataset: { status: order.status, outTradeNo: order.out_trade_no } },
    head,
    items,
    h(
      'div',
      { class: 'order-foot' },
      h('div', { class: 'order-notes muted small' }, notes.map((n) => h('p', {}, n))),
      h('div', { class: 'order-total' }, h('span', { class: 'muted' }, t('orders.total')), price(order.total_amount, 'price-lg'), refunded),
      actions,
    ),
  );
}
