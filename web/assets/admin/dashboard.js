// The back office's front page: today's money, orders by status, open anomalies, the last
// settlement.

import { t } from '../i18n.js';
import { h, price, statusBadge } from '../ui.js';
import { admin } from './api.js';
import { loadInto, page, requireOperator, tag } from './common.js';

export async function renderDashboard(ctx) {
  if (!(await requireOperator(ctx, t('dash.title')))) return;
  await loadInto(ctx, (signal) => admin.dashboard({ signal }), (board) => {
    const settled = board.last_settlement;
    const tiles = h(
      'ul',
      { class: 'tiles', 'data-testid': 'dashboard' },
      h('li', { class: 'card tile' }, h('p', { class: 'tile-label' }, t('dash.paidToday')), h('p', { class: 'tile-value', 'data-testid': 'paid-today' }, price(board.paid_today_total)), h('p', { class: 'muted small' }, t('dash.paidTodayCount', { n: board.paid_today }))),
      h('li', { class: 'card tile' }, h('p', { class: 'tile-label' }, t('dash.openAnomalies')), h('p', { class: 'tile-value' }, h('a', { href: '/admin/anomalies' }, String(board.open_anomalies)))),
      h(
        'li',
        { class: 'card tile' },
        h('p', { class: 'tile-label' }, t('dash.lastSettlement')),
        settled
          ? [h('p', { class: 'tile-value' }, h('a', { href: `/admin/settlements/${settled.date}` }, settled.date)), h('p', {}, tag(t(`settle.status.${settled.status}`), settled.status === 'completed' ? 'ok' : 'warn'), ' ', t('settle.differenceCount', { n: settled.difference_count }))]
          : h('p', { class: 'muted' }, t('dash.noSettlement')),
      ),
    );
    const byStatus = h(
      'section',
      { class: 'card section', 'aria-labelledby': 'by-status' },
      h('h2', { class: 'section-title', id: 'by-status' }, t('dash.byStatus')),
      h(
        'ul',
        { class: 'status-counts' },
        Object.entries(board.orders_by_status).map(([status, n]) => h('li', {}, h('a', { href: `/admin/orders?status=${status}` }, statusBadge(status), ' ', h('strong', {}, String(n))))),
      ),
    );
    ctx.root.replaceChildren(...page(t('dash.title'), tiles, byStatus));
  });
}
