// The pay result (/pay/success), reached from Alipay through the shop's /alipay/return. The query
// says what the return carried; it is not trusted for the status: the page asks the shop
// (GET /api/orders/{out_trade_no}) until the order is paid, or says clearly that it is not.

import { ApiError, api, goToPayUrl } from '../api.js';
import { t } from '../i18n.js';
import { loginUrl } from '../router.js';
import { getSession } from '../session.js';
import { alertBox, errorMessage, formatTime, h, icon, price, setTitle, statusBadge, withBusy } from '../ui.js';

// Milliseconds to wait before each check: about 30 seconds in all.
const POLL_DELAYS = [0, 700, 1000, 1500, 2000, 2000, 3000, 3000, 4000, 5000, 5000];

const STATES = {
  confirming: { icon: null, tone: 'pending' },
  paid: { icon: 'check', tone: 'success' },
  unpaid: { icon: 'clock', tone: 'warning' },
  closed: { icon: 'cross', tone: 'neutral' },
  refunded: { icon: 'info', tone: 'neutral' },
  invalid_signature: { icon: 'alert', tone: 'danger' },
  internal: { icon: 'alert', tone: 'warning' },
  not_found: { icon: 'alert', tone: 'neutral' },
  missing: { icon: 'info', tone: 'neutral' },
  login: { icon: 'user', tone: 'neutral' },
};

const sleep = (ms, signal) =>
  new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      reject(new DOMException('navigated away', 'AbortError'));
    }, { once: true });
  });

export function renderPayResult(ctx) {
  const { root, query, signal } = ctx;
  setTitle(t('result.title'));
  const outTradeNo = query.get('out_trade_no');
  const error = query.get('error');

  const mark = h('div', { class: 'result-mark' });
  const heading = h('h1', { class: 'result-title' });
  const text = h('p', { class: 'result-text' });
  // One live region for the state: "confirming…" then "paid" (or the failure) is announced.
  const status = h('div', { class: 'result-status', role: 'status', 'aria-live': 'polite', 'aria-atomic': 'true' }, heading, text);
  const details = h('div', { class: 'result-details' });
  const actions = h('div', { class: 'actions actions-center' });
  const card = h('section', { class: 'card result-card', 'data-testid': 'pay-result', 'aria-labelledby': 'result-heading' }, mark, status, details, actions);
  heading.id = 'result-heading';
  root.replaceChildren(h('div', { class: 'result-wrap' }, card));

  const show = (state, title, message) => {
    const { icon: iconName, tone } = STATES[state];
    card.dataset.state = state;
    card.className = `card result-card tone-${tone}`;
    mark.replaceChildren(iconName ? icon(iconName) : h('span', { class: 'spinner spinner-lg', 'aria-hidden': 'true' }));
    heading.textContent = title;
    text.textContent = message;
  };
  const link = (href, label, primary = false) => h('a', { href, class: `btn ${primary ? 'btn-primary' : 'btn-secondary'}` }, label);

  if (error === 'invalid_signature') {
    show('invalid_signature', t('result.invalidSignature'), t('result.invalidSignatureText'));
    actions.replaceChildren(link('/orders', t('result.toOrders'), true), link('/', t('common.backToCourses')));
    return;
  }
  if (error) {
    show('internal', t('result.internal'), t('result.internalText'));
    actions.replaceChildren(link('/orders', t('result.toOrders'), true));
    return;
  }
  if (!outTradeNo) {
    show('missing', t('result.missing'), t('result.missingText'));
    actions.replaceChildren(link('/orders', t('result.toOrders'), true), link('/', t('common.backToCourses')));
    return;
  }
  if (!getSession()) {
    show('login', t('result.loginToSee'), '');
    details.replaceChildren(detailList([[t('result.orderNo'), outTradeNo]]));
    actions.replaceChildren(link(loginUrl(), t('nav.login'), true));
    return;
  }

  const renderOrder = (order) => {
    const rows = [[t('result.orderNo'), order.out_trade_no, 'order-no']];
    if (order.trade_no) rows.push([t('result.tradeNo'), order.trade_no, 'trade-no']);
    if (order.paid_at) rows.push([t('result.paidAt'), formatTime(order.paid_at), 'paid-at']);
    rows.push([t('result.courses'), order.items.map((i) => i.course_name).join('、')]);
    rows.push([t('result.status'), statusBadge(order.status), 'order-status']);
    const amountLabel = order.paid_at ? t('result.amount') : t('orders.total');
    details.replaceChildren(h('p', { class: 'result-amount' }, h('span', { class: 'muted' }, amountLabel), price(order.total_amount, 'price-xl')), detailList(rows));
  };

  const poll = async () => {
    show('confirming', t('result.confirming'), t('result.confirmingText'));
    details.replaceChildren(detailList([[t('result.orderNo'), outTradeNo, 'order-no']]));
    actions.replaceChildren();
    let last = null;
    for (const delay of POLL_DELAYS) {
      await sleep(delay, signal);
      try {
        last = await api.order(outTradeNo, { signal });
      } catch (err) {
        if (err.name === 'AbortError') throw err;
        if (err instanceof ApiError && err.status === 404) {
          show('not_found', t('result.notFound'), t('result.notFoundText'));
          actions.replaceChildren(link('/orders', t('result.toOrders'), true));
          return;
        }
        if (err instanceof ApiError && err.status === 401) return; // sent to the login page
        continue; // a network hiccup: keep trying
      }
      if (last.status !== 'unpaid') break;
    }
    if (!last) {
      show('unpaid', t('result.unpaid'), t('result.unpaidText'));
    } else if (last.status === 'paid') {
      show('paid', t('result.paid'), t('result.paidText'));
      renderOrder(last);
      actions.replaceChildren(link('/my/courses', t('result.toMyCourses'), true), link('/orders', t('result.toOrders')));
      return;
    } else if (last.status === 'refunded') {
      show('refunded', t('result.refunded'), t('result.refundedText'));
      renderOrder(last);
    } else if (last.status === 'cancelled' || last.status === 'timeout_cancelled') {
      show('closed', t('result.cancelled'), t('result.cancelledText'));
      renderOrder(last);
      actions.replaceChildren(link('/', t('common.backToCourses'), true), link('/orders', t('result.toOrders')));
      return;
    } else {
      show('unpaid', t('result.unpaid'), t('result.unpaidText'));
      renderOrder(last);
    }
    const again = h('button', { type: 'button', class: 'btn btn-secondary', onclick: () => poll().catch(() => {}) }, t('result.checkAgain'));
    if (last && last.status === 'unpaid' && Date.parse(last.expires_at) > Date.now()) {
      const pay = h('button', { type: 'button', class: 'btn btn-buy', 'data-testid': 'pay-again' }, t('orders.pay'));
      pay.addEventListener('click', () =>
        withBusy(pay, t('orders.payBusy'), async () => {
          try {
            goToPayUrl((await api.payOrder(last.out_trade_no)).pay_url);
            return 'keep';
          } catch (err) {
            details.prepend(alertBox('error', errorMessage(err)));
            return undefined;
          }
        }),
      );
      actions.replaceChildren(pay, again, link('/orders', t('result.toOrders')));
    } else {
      actions.replaceChildren(again, link('/orders', t('result.toOrders')));
    }
  };
  return poll();
}

function detailList(rows) {
  return h(
    'dl',
    { class: 'detail-list' },
    rows.map(([label, value, testid]) => h('div', { class: 'detail-row' }, h('dt', {}, label), h('dd', { 'data-testid': testid || null }, value))),
  );
}
