// Anomalies: what Alipay reported that does not fit the books. Filter by state and kind;
// resolve with a note (recorded with the operator's id).

import { t } from '../i18n.js';
import { navigate, refresh } from '../router.js';
import { h, price, toast } from '../ui.js';
import { admin } from './api.js';
import { actionError, confirmDialog, control, loadInto, page, requireOperator, select, table, tag, when } from './common.js';

const KINDS = ['amount_mismatch', 'second_trade', 'double_payment', 'external_refund', 'refund_mismatch', 'over_refunded', 'missing_from_bill', 'unknown_order'];

export async function renderAnomalies(ctx) {
  if (!(await requireOperator(ctx, t('anomalies.title')))) return;
  const open = ctx.query.get('open') ?? 'true';
  const kind = ctx.query.get('kind') || '';
  await loadInto(ctx, (signal) => admin.anomalies({ open: open === 'all' ? '' : open, kind, limit: 200 }, { signal }), (list) => {
    const state = select('open', [['true', t('anomalies.open')], ['false', t('anomalies.resolved')], ['all', t('admin.all')]], open);
    const kinds = select('kind', [['', t('admin.all')], ...KINDS.map((k) => [k, t(`anomaly.${k}`)])], kind);
    const filters = h(
      'form',
      {
        class: 'card filters',
        onsubmit: (event) => {
          event.preventDefault();
          const next = new URLSearchParams({ open: state.value });
          if (kinds.value) next.set('kind', kinds.value);
          navigate(`/admin/anomalies?${next}`);
        },
      },
      control(t('anomalies.open'), state),
      control(t('anomalies.kind'), kinds),
      h('div', { class: 'filter-actions' }, h('button', { type: 'submit', class: 'btn btn-primary' }, t('admin.search'))),
    );
    const messageSlot = h('div', { class: 'form-message', 'aria-live': 'polite' });
    const rows = table(
      [
        [t('anomalies.kind'), (a) => tag(t(`anomaly.${a.kind}`), 'warn')],
        [t('anomalies.order'), (a) => (a.out_trade_no ? h('a', { href: `/admin/orders/${encodeURIComponent(a.out_trade_no)}`, class: 'mono' }, a.out_trade_no) : '—')],
        [t('anomalies.amount'), (a) => (a.amount ? price(a.amount) : '—')],
        [t('anomalies.detail'), (a) => a.detail],
        [t('anomalies.createdAt'), (a) => when(a.created_at)],
        ['', (a) => (a.resolved_at ? h('span', { class: 'muted small' }, t('anomalies.resolvedBy', { id: a.resolved_by, note: a.resolution })) : h('button', { type: 'button', class: 'btn btn-secondary btn-sm', 'data-testid': `resolve-${a.id}`, onclick: () => resolve(a, messageSlot) }, t('anomalies.resolve')))],
      ],
      list,
      { label: t('anomalies.title'), testid: 'anomalies' },
    );
    ctx.root.replaceChildren(...page(t('anomalies.title'), filters, messageSlot, h('div', { class: 'card section' }, rows)));
  });
}

async function resolve(anomaly, slot) {
  const note = h('textarea', { class: 'input', rows: '3', maxlength: '1000', 'data-testid': 'resolve-note' });
  const confirmed = await confirmDialog({
    title: t('anomalies.resolve'),
    text: anomaly.detail,
    fields: [control(t('anomalies.note'), note)],
    validate: () => (note.value.trim() ? null : t('anomalies.noteRequired')),
  });
  if (!confirmed) return;
  try {
    await admin.resolve(anomaly.id, note.value.trim());
    toast(t('admin.saved'));
    refresh();
  } catch (error) {
    actionError(slot, error);
  }
}
