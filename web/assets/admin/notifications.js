// The notifications log: every notification the shop received, with its verdict, newest first.

import { t } from '../i18n.js';
import { navigate } from '../router.js';
import { h } from '../ui.js';
import { admin } from './api.js';
import { control, loadInto, page, pager, requireOperator, select, table, tag, when } from './common.js';

const VERDICTS = ['accepted', 'duplicate', 'bad_signature', 'malformed', 'wrong_app', 'wrong_seller', 'unknown_order', 'amount_mismatch', 'ignored', 'external_refund', 'refund_mismatch'];
const PER_PAGE = 50;

export async function renderNotifications(ctx) {
  if (!(await requireOperator(ctx, t('notifications.title')))) return;
  const verdict = ctx.query.get('verdict') || '';
  const pageNo = Math.max(1, Number(ctx.query.get('page')) || 1);
  await loadInto(ctx, (signal) => admin.notifications({ verdict, page: pageNo, per_page: PER_PAGE }, { signal }), (list) => {
    const verdicts = select('verdict', [['', t('admin.all')], ...VERDICTS.map((v) => [v, v])], verdict);
    const filters = h(
      'form',
      {
        class: 'card filters',
        onsubmit: (event) => {
          event.preventDefault();
          navigate(verdicts.value ? `/admin/notifications?verdict=${encodeURIComponent(verdicts.value)}` : '/admin/notifications');
        },
      },
      control(t('notifications.verdict'), verdicts),
      h('div', { class: 'filter-actions' }, h('button', { type: 'submit', class: 'btn btn-primary' }, t('admin.search'))),
    );
    const rows = table(
      [
        [t('order.receivedAt'), (n) => when(n.received_at)],
        [t('order.verdict'), (n) => tag(n.verdict, n.verdict === 'accepted' || n.verdict === 'duplicate' ? 'ok' : 'warn')],
        [t('anomalies.order'), (n) => (n.out_trade_no ? h('a', { href: `/admin/orders/${encodeURIComponent(n.out_trade_no)}`, class: 'mono' }, n.out_trade_no) : '—')],
        ['trade_status', (n) => n.trade_status || ''],
        [t('anomalies.detail'), (n) => n.detail],
        [t('order.body'), (n) => h('details', {}, h('summary', {}, `${n.body_len ?? n.body.length} B`), h('pre', { class: 'body-text' }, n.body))],
      ],
      list,
      { label: t('notifications.title'), testid: 'notifications' },
    );
    // The log has no total count: "next" is offered while pages come back full.
    const hrefFor = (n) => `/admin/notifications?${new URLSearchParams({ ...(verdict ? { verdict } : {}), page: n })}`;
    const total = (pageNo - 1) * PER_PAGE + list.length + (list.length === PER_PAGE ? 1 : 0);
    ctx.root.replaceChildren(...page(t('notifications.title'), filters, h('div', { class: 'card section' }, rows, pager(pageNo, PER_PAGE, total, hrefFor))));
  });
}
