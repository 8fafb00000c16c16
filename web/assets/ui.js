// DOM helpers. Text from the API always goes in as text nodes (never innerHTML), so a course
// name or an error message cannot inject markup.

import { ApiError } from './api.js';
import { has, t } from './i18n.js';
import { formatPrice } from './money.js';

/**
 * Creates an element. `attrs`: `class`, `text`, `on<event>` handlers, `dataset`, boolean and
 * string attributes (`aria-*`, `href`, …); `null`/`false` values are skipped. Children may be
 * nodes, strings, arrays or null.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === 'class') el.className = value;
    else if (name === 'text') el.textContent = value;
    else if (name === 'dataset') Object.assign(el.dataset, value);
    else if (name.startsWith('on') && typeof value === 'function') el.addEventListener(name.slice(2), value);
    else if (value === true) el.setAttribute(name, '');
    else el.setAttribute(name, String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

const SVG = 'http://www.w3.org/2000/svg';
const ICONS = {
  check: 'M5 12.5l4.5 4.5L19 7.5',
  cross: 'M6 6l12 12M18 6L6 18',
  alert: 'M12 8v5m0 3.5v.5M10.3 3.9L2.6 17.5A2 2 0 0 0 4.3 20.5h15.4a2 2 0 0 0 1.7-3L13.7 3.9a2 2 0 0 0-3.4 0z',
  info: 'M12 11v6m0-9.5v.5M12 21a9 9 0 1 0 0-18 9 9 0 0 0 0 18z',
  shield: 'M12 3l7 3v5c0 4.5-3 8.5-7 10-4-1.5-7-5.5-7-10V6z M9 12l2 2 4-4',
  bolt: 'M13 3L5 14h6l-1 7 8-11h-6z',
  clock: 'M12 7v5l3 2M12 21a9 9 0 1 0 0-18 9 9 0 0 0 0 18z',
  book: 'M4 5.5C6.5 4.2 9 4.2 11.5 5.5v14C9 18.2 6.5 18.2 4 19.5zM20 5.5c-2.5-1.3-5-1.3-7.5 0v14c2.5-1.3 5-1.3 7.5 0z',
  user: 'M12 12a4 4 0 1 0 0-8 4 4 0 0 0 0 8zM4.5 20c1-3.5 4-5.5 7.5-5.5s6.5 2 7.5 5.5',
  play: 'M8 5.5v13l10.5-6.5z',
  globe: 'M12 21a9 9 0 1 0 0-18 9 9 0 0 0 0 18zM3.5 9h17M3.5 15h17M12 3c-2.5 2.5-3.5 5.5-3.5 9s1 6.5 3.5 9c2.5-2.5 3.5-5.5 3.5-9s-1-6.5-3.5-9z',
  receipt: 'M6 3h12v18l-3-2-3 2-3-2-3 2zM9 8h6M9 12h6',
  chevron: 'M9 6l6 6-6 6',
};

/** An inline SVG icon (decorative: hidden from assistive technology). */
export function icon(name, cls = '') {
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  svg.setAttribute('class', `icon ${cls}`.trim());
  const path = document.createElementNS(SVG, 'path');
  path.setAttribute('d', ICONS[name] || ICONS.info);
  svg.append(path);
  return svg;
}

/** The shop's logo mark. */
export function logo() {
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', '0 0 32 32');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('class', 'logo-mark');
  const rect = document.createElementNS(SVG, 'rect');
  for (const [k, v] of Object.entries({ width: 32, height: 32, rx: 8, fill: '#1677ff' })) rect.setAttribute(k, v);
  const path = document.createElementNS(SVG, 'path');
  path.setAttribute('d', 'M7.5 10.2c2.9-1.4 5.6-1.3 7.8.3v12.6c-2.3-1.4-4.9-1.5-7.8-.3zM24.5 10.2c-2.9-1.4-5.6-1.3-7.8.3v12.6c2.3-1.4 4.9-1.5 7.8-.3z');
  path.setAttribute('fill', '#fff');
  svg.append(rect, path);
  return svg;
}

/** A price as "¥138.00", styled. */
export function price(amount, cls = '') {
  return h('span', { class: `price ${cls}`.trim() }, formatPrice(amount));
}

const COVERS = [
  ['#1677ff', '#69b1ff'],
  ['#722ed1', '#b37feb'],
  ['#13a8a8', '#5cdbd3'],
  ['#d4380d', '#ff9c6e'],
  ['#389e0d', '#95de64'],
  ['#c41d7f', '#ff85c0'],
];

/** A generated cover for a course (no image files: a gradient with the course's first word). */
export function cover(course, size = '') {
  const [from, to] = COVERS[(Math.abs(Number(course.id) || 0) + COVERS.length - 1) % COVERS.length];
  const word = String(course.name || '').split(/[\s：:]/)[0].slice(0, 12);
  const el = h('div', { class: `cover ${size}`.trim(), 'aria-hidden': 'true' }, h('span', { class: 'cover-word' }, word));
  el.style.setProperty('--cover-from', from);
  el.style.setProperty('--cover-to', to);
  return el;
}

/** The human message for an error (API codes mapped to the current language). */
export function errorMessage(error) {
  if (error instanceof ApiError) {
    const key = `error.${error.code}`;
    if (has(key)) return t(key);
    if (error.status === 404) return t('error.not_found');
    if (error.status >= 500) return t('error.internal');
    return t('error.generic', { code: error.code });
  }
  return t('error.generic', { code: error?.name || 'error' });
}

/**
 * An alert box. kind: error | success | info | warning. Errors use role=alert (announced at once),
 * others role=status.
 */
export function alertBox(kind, message, ...extra) {
  const iconName = { error: 'alert', success: 'check', warning: 'alert', info: 'info' }[kind];
  return h(
    'div',
    { class: `alert alert-${kind}`, role: kind === 'error' ? 'alert' : 'status' },
    icon(iconName, 'alert-icon'),
    h('div', { class: 'alert-body' }, h('p', { class: 'alert-text' }, message), extra),
  );
}

/** A small coloured label for an order status. */
export function statusBadge(status) {
  const known = ['unpaid', 'paid', 'cancelled', 'timeout_cancelled', 'refunded'].includes(status);
  return h('span', { class: `badge badge-${known ? status : 'unknown'}`, dataset: { status } }, t(known ? `status.${status}` : 'status.unknown'));
}

/** "2025-05-01T12:30:05.123+08:00" → "2025-05-01 12:30:05" (the shop's times are Beijing time). */
export function formatTime(value) {
  if (!value) return '';
  const match = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})/.exec(value);
  return match ? `${match[1]} ${match[2]}` : value;
}

/** The date part only. */
export function formatDate(value) {
  return formatTime(value).slice(0, 10);
}

/**
 * Runs `task` with `button` in a busy state: disabled (no double submission), aria-busy, a
 * spinner and `busyLabel`. Restores the button afterwards unless `task` returns `'keep'`.
 */
export async function withBusy(button, busyLabel, task) {
  if (button.dataset.busy === 'true') return undefined;
  const label = button.textContent;
  button.dataset.busy = 'true';
  button.disabled = true;
  button.setAttribute('aria-busy', 'true');
  button.replaceChildren(h('span', { class: 'spinner spinner-sm', 'aria-hidden': 'true' }), h('span', {}, busyLabel));
  let keep = false;
  try {
    const result = await task();
    keep = result === 'keep';
    return result;
  } finally {
    if (!keep) {
      button.dataset.busy = 'false';
      button.disabled = false;
      button.removeAttribute('aria-busy');
      button.textContent = label;
    }
  }
}

/** A loading placeholder. */
export function loading() {
  return h('div', { class: 'page-loading', role: 'status' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), h('span', { class: 'visually-hidden' }, t('common.loading')));
}

/** A centred "nothing here" block. */
export function emptyState(iconName, title, text, action, { heading = 'h2' } = {}) {
  return h('div', { class: 'empty' }, h('div', { class: 'empty-icon' }, icon(iconName)), h(heading, { class: 'empty-title' }, title), h('p', { class: 'empty-text' }, text), action);
}

/** A failed page load, with a retry button. */
export function loadError(error, retry) {
  return h('div', { class: 'load-error' }, alertBox('error', errorMessage(error), h('button', { class: 'btn btn-secondary btn-sm', type: 'button', onclick: retry }, t('common.retry'))));
}

/** Says `message` to screen readers (the page's polite live region). */
export function announce(message) {
  const region = document.getElementById('announcer');
  if (!region) return;
  region.textContent = '';
  setTimeout(() => {
    region.textContent = message;
  }, 50);
}

/** Sets the document title: "<page> · <shop>". */
export function setTitle(page) {
  const shop = `${t('brand.name')} ${t('brand.tagline')}`;
  document.title = page ? `${page} · ${shop}` : shop;
}

/** A short message at the bottom of the screen that survives page changes. */
export function toast(message, kind = 'success') {
  let region = document.getElementById('toasts');
  if (!region) {
    region = h('div', { id: 'toasts', class: 'toasts', role: 'status', 'aria-live': 'polite' });
    document.body.append(region);
  }
  const item = h('div', { class: `toast toast-${kind}` }, icon(kind === 'success' ? 'check' : 'info'), h('span', {}, message));
  region.append(item);
  setTimeout(() => item.classList.add('toast-out'), 3600);
  setTimeout(() => item.remove(), 4000);
}

let fieldCounter = 0;

/**
 * A labelled form field: label, input, hint and an error line, wired with aria-describedby and
 * aria-invalid. Returns { el, input, setError(message|null) }.
 */
export function field({ name, label, type = 'text', autocomplete, hint, value = '', inputmode, autofocus = false }) {
  fieldCounter += 1;
  const id = `f-${name}-${fieldCounter}`;
  const hintId = hint ? `${id}-hint` : null;
  const errorId = `${id}-error`;
  const input = h('input', {
    id,
    name,
    type,
    autocomplete,
    inputmode,
    class: 'input',
    autocapitalize: 'off',
    spellcheck: 'false',
    'aria-describedby': [hintId, errorId].filter(Boolean).join(' '),
  });
  input.value = value;
  if (autofocus) input.autofocus = true;
  const error = h('p', { class: 'field-error', id: errorId, hidden: true });
  const el = h('div', { class: 'field' }, h('label', { for: id, class: 'field-label' }, label), input, hint ? h('p', { class: 'field-hint', id: hintId }, hint) : null, error);
  const setError = (message) => {
    if (message) {
      error.replaceChildren(icon('alert'), h('span', {}, message));
      error.hidden = false;
      input.setAttribute('aria-invalid', 'true');
    } else {
      error.replaceChildren();
      error.hidden = true;
      input.removeAttribute('aria-invalid');
    }
  };
  input.addEventListener('input', () => setError(null));
  return { el, input, setError };
}
