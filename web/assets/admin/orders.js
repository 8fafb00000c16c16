// Orders: filter by status, date range, buyer; search by order or Alipay trade number; pages.

import { t } from '../i18n.js';
import { navigate } from '../router.js';
import { h, price, statusBadge } from '../ui.js';
import { admin } from './api.js';
import { control, loadInto, page, pager, requireOperator, select, table, when } from './common.js';

const STATUSES = ['unpaid', 'paid', 'cancelled', 'timeout_cancelled', 'refunded'];
const PER_PAGE = 20;

export async function renderOrderList(ctx) {
  if (!(await requireOperator(ctx, t('orders.adminTitle')))) return;
  const q = ctx.query;
  const params = {
    status: q.get('status') || '',
    from: q.get('from') || '',
    to: q.get('to') || '',
    buyer: q.get('buyer') || '',
    q: q.get('q') || '',
    page: Math.max(1, Number(q.get('page')) || 1),
    per_page: PER_PAGE,
  };
  await loadInto(ctx, (signal) => admin.orders(params, { signal }), (result) => {
    const status = select('status', [['', t('admin.all')], ...STATUSES.map((s) => [s, t(`status.${s}`)])], params.status);
    const from = h('input', { type: 'date', name: 'from', class: 'input', value: params.from });
    const to = h('input', { type: 'date', name: 'to', class: 'input', value: params.to });
    const buyer = h('input', { type: 'text', name: 'buyer', class: 'input', value: params.buyer, autocomplete: 'off' });
    const number = h('input', { type: 'search', name: 'q', class: 'input input-wide', value: params.q, autocomplete: 'off', 'data-testid': 'order-search' });
    const filters = h(
      'form',
      {
        class: 'card filters',
        role: 'search',
        onsubmit: (event) => {
          event.preventDefault();
          const next = new URLSearchParams();
          for (const [key, el] of Object.entries({ status, from, to, buyer, q: number })) if (el.value) next.set(key, el.value.trim());
          navigate(`/admin/orders${next.toString() ? `?${next}` : ''}`);
        },
      },
      control(t('orders.filterQ'), number),
      control(t('orders.filterStatus'), status),
      control(t('orders.filterFrom'), from),
      control(t('orders.filterTo'), to),
      control(t('orders.filterBuyer'), buyer),
      h('div', { class: 'filter-actions' }, h('button', { type: 'submit', class: 'btn btn-primary', 'data-testid': 'order-search-submit' }, t('admin.search')), h('a', { href: '/admin/orders', class: 'btn btn-secondary' }, t('admin.reset'))),
    );
    const rows = table(
      [
        [t('orders.colNo'), (row) => h('a', { href: `/admin/orders/${encodeURIComponent(row.out_trade_no)}`, class: 'mono' }, row.out_trade_no)],
        [t('orders.colBuyer'), (row) => row.buyer],
        [t('orders.colSubject'), (row) => row.subject],
        [t('orders.colAmount'), (row) => price(row.total_amount)],
        [t('orders.colStatus'), (row) => statusBadge(row.status)],
        [t('orders.colCreated'), (row) => when(row.created_at)],
      ],
      result.orders,
      { label: t('orders.adminTitle'), testid: 'admin-orders' },
    );
    const hrefFor = (n) => {
      const next = new URLSearchParams(ctx.query);
      next.set('page', n);
      return `/admin/orders?${next}`;
    };
    ctx.root.replaceChildren(...page(t('orders.adminTitle'), filters, h('div', { class: 'card section' }, rows, pager(result.page, result.per_page, result.total, hrefFor))));
  });
}
