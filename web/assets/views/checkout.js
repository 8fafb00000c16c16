// Confirm the order, place it (the total shown is sent and checked by the shop) and go to Alipay.

import { ApiError, api, goToPayUrl, randomKey } from '../api.js';
import { level, t } from '../i18n.js';
import { sum } from '../money.js';
import { alertBox, cover, emptyState, errorMessage, h, icon, loadError, loading, price, setTitle, withBusy } from '../ui.js';

export async function renderCheckout(ctx) {
  const { root, params, signal } = ctx;
  setTitle(t('checkout.title'));
  root.replaceChildren(loading());
  let course;
  let owned;
  let pending;
  try {
    const [found, mine, orders] = await Promise.all([
      api.course(params.id, { signal }),
      api.myCourses({ signal }),
      api.orders({ signal }).catch(() => []),
    ]);
    course = found;
    owned = mine.some((c) => c.course_id === course.id);
    const now = Date.now();
    pending = orders.find(
      (o) => o.status === 'unpaid' && Date.parse(o.expires_at) > now && o.items.length === 1 && o.items[0].course_id === course.id,
    );
  } catch (error) {
    if (error.name === 'AbortError') return;
    if (error instanceof ApiError && error.status === 404) {
      root.replaceChildren(emptyState('book', t('course.notFound'), t('course.notFoundText'), h('a', { href: '/', class: 'btn btn-primary' }, t('common.backToCourses')), { heading: 'h1' }));
      return;
    }
    root.replaceChildren(loadError(error, () => renderCheckout(ctx)));
    return;
  }

  const title = h('h1', { class: 'page-title' }, t('checkout.title'));
  if (owned) {
    root.replaceChildren(
      title,
      h(
        'div',
        { class: 'card section' },
        alertBox('info', t('checkout.owned')),
        h('div', { class: 'actions' }, h('a', { href: `/learn/${course.id}`, class: 'btn btn-primary' }, icon('play'), t('course.study')), h('a', { href: '/', class: 'btn btn-secondary' }, t('common.backToCourses'))),
      ),
    );
    return;
  }

  // One course per order here; the sum is kept general (integer fen, never floats).
  const total = sum([course.price]);
  const messageSlot = h('div', { class: 'form-message', 'data-testid': 'checkout-message' });
  if (pending) {
    const payPending = h('button', { type: 'button', class: 'btn btn-secondary btn-sm' }, t('checkout.payPending'));
    payPending.addEventListener('click', () =>
      withBusy(payPending, t('orders.payBusy'), async () => {
        try {
          const link = await api.payOrder(pending.out_trade_no);
          goToPayUrl(link.pay_url);
          return 'keep';
        } catch (error) {
          messageSlot.replaceChildren(alertBox('error', errorMessage(error)));
          return undefined;
        }
      }),
    );
    messageSlot.append(alertBox('info', t('checkout.pending', { no: pending.out_trade_no }), payPending));
  }

  const submit = h('button', { type: 'submit', class: 'btn btn-buy btn-lg btn-block', 'data-testid': 'place-order' }, t('checkout.submit'));
  const form = h('form', { class: 'checkout-pay', novalidate: true }, submit);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    await withBusy(submit, t('checkout.busy'), async () => {
      // A fresh key per click: a network retry of this request cannot create a second order.
      const key = randomKey();
      let created;
      try {
        created = await api.createOrder([course.id], total, key);
      } catch (error) {
        const extra = [];
        if (error instanceof ApiError && error.code === 'price_mismatch') {
          const detail = /cost ([\d.]+), not ([\d.]+)/.exec(error.message || '');
          if (detail) extra.push(h('p', { class: 'alert-detail' }, t('error.price_mismatch_detail', { expected: `¥${detail[1]}`, sent: `¥${detail[2]}` })));
          extra.push(h('button', { type: 'button', class: 'btn btn-secondary btn-sm', onclick: () => renderCheckout(ctx) }, t('checkout.refresh')));
        }
        messageSlot.replaceChildren(h('div', { 'data-testid': 'order-error', dataset: { code: error.code || 'error' } }, alertBox('error', errorMessage(error), extra)));
        messageSlot.scrollIntoView({ block: 'nearest', behavior: 'smooth' });
        return undefined;
      }
      messageSlot.replaceChildren(alertBox('info', t('checkout.redirecting')));
      submit.lastElementChild.textContent = t('checkout.redirecting');
      goToPayUrl(created.pay_url);
      return 'keep';
    });
  });

  const item = h(
    'div',
    { class: 'order-item' },
    cover(course, 'cover-thumb'),
    h('div', { class: 'order-item-text' }, h('p', { class: 'order-item-name' }, h('a', { href: `/courses/${course.id}` }, course.name)), h('p', { class: 'muted small' }, `${course.teacher} · ${t('common.lessons', { n: course.lessons })} · ${level(course.level)}`)),
    price(course.price, 'order-item-price'),
  );

  const method = h(
    'fieldset',
    { class: 'pay-methods' },
    h('legend', { class: 'section-title' }, t('checkout.method')),
    h(
      'label',
      { class: 'pay-method pay-method-selected' },
      h('input', { type: 'radio', name: 'method', value: 'alipay', checked: true }),
      h('span', { class: 'alipay-mark', 'aria-hidden': 'true' }, '支'),
      h('span', { class: 'pay-method-text' }, h('span', { class: 'pay-method-name' }, t('checkout.alipay')), h('span', { class: 'muted small' }, t('checkout.alipayNote'))),
    ),
  );

  root.replaceChildren(
    title,
    h(
      'div',
      { class: 'checkout' },
      h(
        'div',
        { class: 'checkout-main' },
        h('section', { class: 'card section', 'aria-labelledby': 'items-title' }, h('h2', { class: 'section-title', id: 'items-title' }, t('checkout.item')), item),
        h('section', { class: 'card section' }, method),
      ),
      h(
        'aside',
        { class: 'card section checkout-summary', 'aria-labelledby': 'total-title' },
        h('div', { class: 'summary-row' }, h('h2', { class: 'summary-label', id: 'total-title' }, t('checkout.total')), h('span', { 'data-testid': 'checkout-total' }, price(total, 'price-xl'))),
        messageSlot,
        form,
        h('p', { class: 'muted small' }, t('checkout.agree')),
        h('p', { class: 'muted small' }, icon('clock'), ' ', t('checkout.expiresNote')),
      ),
    ),
  );
}
