// Settlement: one row per day with both sides' totals and the differences; open a day to see
// each difference and what was done; settle a day (again); download a day's report as CSV.

import { has, t } from '../i18n.js';
import { navigate, refresh } from '../router.js';
import { errorMessage, h, toast } from '../ui.js';
import { admin, downloadSettlementCsv } from './api.js';
import { actionError, confirmDialog, control, loadInto, page, requireOperator, table, tag, when } from './common.js';

/** "-10.00" → "-¥10.00". */
const money = (amount) => {
  const text = String(amount);
  return h('span', { class: 'amount' }, text.startsWith('-') ? `-¥${text.slice(1)}` : `¥${text}`);
};

/** An action code of the report in words (an unknown code as it is). */
const action = (code) => (has(`settle.action.${code}`) ? t(`settle.action.${code}`) : code);

function statusTag(status) {
  return tag(t(`settle.status.${status}`), { completed: 'ok', no_bill: 'neutral', failed: 'bad', running: 'info' }[status] || 'neutral');
}

function today() {
  // The shop settles in Beijing time.
  const beijing = new Date(Date.now() + 8 * 3600 * 1000);
  return beijing.toISOString().slice(0, 10);
}

async function settle(date, slot) {
  if (!(await confirmDialog({ title: t('settle.run'), text: t('settle.runConfirm', { date }) }))) return;
  try {
    const report = await admin.settle(date);
    toast(t('settle.done', { n: report.difference_count }));
    navigate(`/admin/settlements/${date}`);
  } catch (error) {
    actionError(slot, error);
  }
}

export async function renderSettlements(ctx) {
  if (!(await requireOperator(ctx, t('settle.title')))) return;
  await loadInto(ctx, (signal) => admin.settlements({ signal }), (days) => {
    const messageSlot = h('div', { class: 'form-message', 'aria-live': 'polite' });
    const date = h('input', { type: 'date', class: 'input', value: today(), max: today(), 'data-testid': 'settle-date' });
    const form = h(
      'form',
      {
        class: 'card filters',
        onsubmit: (event) => {
          event.preventDefault();
          if (date.value) settle(date.value, messageSlot);
        },
      },
      control(t('settle.date'), date),
      h('div', { class: 'filter-actions' }, h('button', { type: 'submit', class: 'btn btn-primary', 'data-testid': 'settle-run' }, t('settle.run'))),
    );
    const rows = table(
      [
        [t('settle.date'), (d) => h('a', { href: `/admin/settlements/${d.date}` }, d.date)],
        [t('order.status'), (d) => statusTag(d.status)],
        [t('settle.alipay'), (d) => [money(d.alipay.total), h('span', { class: 'muted small' }, ` ${t('settle.count', { n: d.alipay.count })}`)]],
        [t('settle.shop'), (d) => [money(d.shop.total), h('span', { class: 'muted small' }, ` ${t('settle.count', { n: d.shop.count })}`)]],
        [t('settle.differences'), (d) => String(d.difference_count)],
      ],
      days,
      { label: t('settle.title'), testid: 'settlements' },
    );
    ctx.root.replaceChildren(...page(t('settle.title'), h('p', { class: 'muted' }, t('settle.intro')), form, messageSlot, h('div', { class: 'card section' }, rows)));
  });
}

export async function renderSettlementDay(ctx) {
  const date = ctx.params.date;
  if (!(await requireOperator(ctx, `${t('settle.title')} ${date}`))) return;
  await loadInto(ctx, (signal) => admin.settlement(date, { signal }), (day) => {
    const messageSlot = h('div', { class: 'form-message', 'aria-live': 'polite' });
    const summary = h(
      'dl',
      { class: 'facts', 'data-testid': 'settlement-summary' },
      h('div', { class: 'fact' }, h('dt', {}, t('order.status')), h('dd', {}, statusTag(day.status))),
      h('div', { class: 'fact' }, h('dt', {}, t('settle.alipay')), h('dd', {}, money(day.alipay.total), ` · ${t('settle.count', { n: day.alipay.count })}`)),
      h('div', { class: 'fact' }, h('dt', {}, t('settle.shop')), h('dd', {}, money(day.shop.total), ` · ${t('settle.count', { n: day.shop.count })}`)),
      h('div', { class: 'fact' }, h('dt', {}, t('settle.differences')), h('dd', {}, String(day.difference_count))),
      day.finished_at ? h('div', { class: 'fact' }, h('dt', {}, t('settle.finishedAt')), h('dd', {}, when(day.finished_at))) : null,
    );
    const download = h('button', { type: 'button', class: 'btn btn-secondary', 'data-testid': 'settle-download' }, t('settle.download'));
    download.addEventListener('click', async () => {
      try {
        await downloadSettlementCsv(date);
      } catch (error) {
        messageSlot.textContent = errorMessage(error);
      }
    });
    const again = h('button', { type: 'button', class: 'btn btn-primary', 'data-testid': 'settle-again', onclick: () => settle(date, messageSlot).then(() => refresh()) }, t('settle.runAgain'));
    const differences = table(
      [
        [t('anomalies.kind'), (d) => t(`settle.kind.${d.kind}`)],
        [t('anomalies.order'), (d) => h('a', { href: `/admin/orders/${encodeURIComponent(d.out_trade_no)}`, class: 'mono' }, d.out_trade_no)],
        [t('order.tradeNo'), (d) => h('span', { class: 'mono small' }, d.trade_no || d.out_request_no || '—')],
        [t('anomalies.amount'), (d) => money(d.amount)],
        [t('settle.action'), (d) => action(d.action)],
      ],
      day.differences || [],
      { label: t('settle.differences'), testid: 'settlement-differences' },
    );
    ctx.root.replaceChildren(
      ...page(
        `${t('settle.title')} ${day.date}`,
        h('div', { class: 'card section' }, summary, day.detail ? h('p', { class: 'small' }, day.detail) : null, h('div', { class: 'actions' }, again, download), messageSlot),
        h('section', { class: 'card section', 'aria-labelledby': 'diff-title' }, h('h2', { class: 'section-title', id: 'diff-title' }, t('settle.differences')), differences),
      ),
    );
  });
}
