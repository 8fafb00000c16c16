// What every back-office page shares: the operator check, the page frame, confirmation dialogs,
// tables and paging. All text goes in as text nodes.

import { ApiError, api } from '../api.js';
import { t } from '../i18n.js';
import { refresh } from '../router.js';
import { alertBox, emptyState, errorMessage, formatTime, h, loadError, loading, setTitle } from '../ui.js';

/**
 * Renders the page only for an operator: the role is asked of the shop (which reads it from its
 * database); anyone else sees "not allowed". Returns false when the page must not go on.
 */
export async function requireOperator(ctx, title) {
  const { root, signal } = ctx;
  setTitle(`${title} · ${t('admin.title')}`);
  root.replaceChildren(loading());
  try {
    const me = await api.me({ signal });
    if (me.role === 'admin') return true;
  } catch (error) {
    if (error.name === 'AbortError') return false;
    if (!(error instanceof ApiError) || error.status !== 403) {
      root.replaceChildren(loadError(error, () => refresh()));
      return false;
    }
  }
  root.replaceChildren(
    h('div', { class: 'card', 'data-testid': 'admin-forbidden' }, emptyState('shield', t('admin.forbidden'), t('admin.forbiddenText'), h('a', { href: '/', class: 'btn btn-primary' }, t('admin.toShop')), { heading: 'h1' })),
  );
  return false;
}

/** A page of the back office: its title and its body. */
export function page(title, ...body) {
  return [h('h1', { class: 'page-title' }, title), ...body];
}

/** Loads with `load`, then renders with `render`; a failure shows a retry button. */
export async function loadInto(ctx, load, render) {
  const { root, signal } = ctx;
  root.replaceChildren(loading());
  let data;
  try {
    data = await load(signal);
  } catch (error) {
    if (error.name === 'AbortError') return;
    root.replaceChildren(loadError(error, () => loadInto(ctx, load, render)));
    return;
  }
  if (!signal.aborted) render(data);
}

/**
 * Asks for confirmation in a modal dialog (keyboard: Tab stays inside, Escape cancels). `fields`
 * are extra form controls shown in it. Resolves true when confirmed.
 */
export function confirmDialog({ title, text, confirmLabel = t('admin.confirm'), danger = false, fields = [], validate }) {
  return new Promise((resolve) => {
    const message = h('div', { class: 'dialog-message', 'aria-live': 'polite' });
    const form = h('form', { method: 'dialog', class: 'dialog-form' });
    const titleId = `dlg-${Math.random().toString(36).slice(2)}`;
    const dialog = h(
      'dialog',
      { class: 'dialog', 'aria-labelledby': titleId },
      form,
    );
    const ok = h('button', { type: 'submit', class: `btn ${danger ? 'btn-buy' : 'btn-primary'}`, value: 'ok', 'data-testid': 'dialog-confirm' }, confirmLabel);
    const cancel = h('button', { type: 'button', class: 'btn btn-secondary', 'data-testid': 'dialog-cancel', onclick: () => dialog.close('cancel') }, t('admin.cancel'));
    form.append(h('h2', { class: 'dialog-title', id: titleId }, title), text ? h('p', { class: 'dialog-text' }, text) : null, ...fields, message, h('div', { class: 'actions' }, ok, cancel));
    form.addEventListener('submit', (event) => {
      if (validate) {
        const problem = validate();
        if (problem) {
          event.preventDefault();
          message.replaceChildren(alertBox('error', problem));
        }
      }
    });
    dialog.addEventListener('close', () => {
      const confirmed = dialog.returnValue === 'ok';
      dialog.remove();
      resolve(confirmed);
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}

/** A labelled control for a dialog or a filter bar. */
export function control(label, input) {
  const id = `c-${Math.random().toString(36).slice(2)}`;
  input.id = id;
  return h('div', { class: 'field' }, h('label', { for: id, class: 'field-label' }, label), input);
}

/** A `<select>` with `options` ([value, label]) and `value` chosen. */
export function select(name, options, value = '') {
  const el = h('select', { name, class: 'input' }, options.map(([v, label]) => h('option', { value: v }, label)));
  el.value = value;
  return el;
}

/** A data table: `columns` ([label, cell(row)]), one row per item; "nothing here" when empty. */
export function table(columns, rows, { label, testid } = {}) {
  if (rows.length === 0) return h('p', { class: 'muted empty-line' }, t('admin.none'));
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      { class: 'table', 'aria-label': label, 'data-testid': testid },
      h('thead', {}, h('tr', {}, columns.map(([name]) => h('th', { scope: 'col' }, name)))),
      h('tbody', {}, rows.map((row) => h('tr', {}, columns.map(([, cell]) => h('td', {}, cell(row)))))),
    ),
  );
}

/** Previous / next links for a list of `total` items, `perPage` a page, now on `page`. */
export function pager(page, perPage, total, hrefFor) {
  const last = Math.max(1, Math.ceil(total / perPage));
  return h(
    'nav',
    { class: 'pager', 'aria-label': t('admin.pageOf', { page, total }) },
    page > 1 ? h('a', { href: hrefFor(page - 1), class: 'btn btn-secondary btn-sm', rel: 'prev' }, t('admin.prev')) : null,
    h('span', { class: 'muted small' }, t('admin.pageOf', { page, total })),
    page < last ? h('a', { href: hrefFor(page + 1), class: 'btn btn-secondary btn-sm', rel: 'next' }, t('admin.next')) : null,
  );
}

/** A small label, e.g. a verdict or a settlement status. */
export function tag(text, kind = 'neutral') {
  return h('span', { class: `tag tag-${kind}` }, text);
}

/** Times as the pages show them. */
export const when = formatTime;

/** An error shown where an action's result goes. */
export function actionError(slot, error) {
  slot.replaceChildren(alertBox('error', errorMessage(error)));
}
