// History-API routing: each page path (the shop answers all of them with index.html) maps to a
// view. A view gets a fresh container, the path parameters, the query and an AbortSignal that
// fires when the user navigates away (polling and late responses stop there).

import { getSession } from './session.js';

const routes = [];
let outlet = null;
let current = null;
let firstRender = true;
let notFoundView = null;
const renderListeners = new Set();

/** Registers `view` for `pattern` ("/courses/:id"). `auth`: log in first. */
export function addRoute(pattern, view, { auth = false } = {}) {
  const keys = [];
  const source = pattern.replace(/:(\w+)/g, (_, key) => {
    keys.push(key);
    return '([^/]+)';
  });
  routes.push({ regex: new RegExp(`^${source}/?$`), keys, view, auth });
}

export function setNotFound(view) {
  notFoundView = view;
}

function match(pathname) {
  for (const route of routes) {
    const found = route.regex.exec(pathname);
    if (found) {
      const params = {};
      route.keys.forEach((key, i) => {
        params[key] = decodeURIComponent(found[i + 1]);
      });
      return { route, params };
    }
  }
  return null;
}

/** Only same-site paths are followed after login (no open redirect through `next`). */
export function safeNext(next, fallback = '/') {
  if (typeof next !== 'string' || !next.startsWith('/') || next.startsWith('//') || next.startsWith('/\\')) return fallback;
  return next;
}

/** The login page, coming back to `next` afterwards; `reason` picks the message shown. */
export function loginUrl(next = currentPath(), reason) {
  const query = new URLSearchParams();
  if (next && next !== '/login' && next !== '/register') query.set('next', next);
  if (reason) query.set('reason', reason);
  const text = query.toString();
  return text ? `/login?${text}` : '/login';
}

export function currentPath() {
  return location.pathname + location.search;
}

export function navigate(to, { replace = false } = {}) {
  if (replace) history.replaceState(null, '', to);
  else history.pushState(null, '', to);
  render({ scroll: true });
}

/** Renders the current page again (e.g. after a language switch). */
export function refresh() {
  render({ scroll: false, keepFocus: true });
}

/** Calls `fn(pathname)` after each page change (the header marks the current page). */
export function onRender(fn) {
  renderListeners.add(fn);
}

function render({ scroll, keepFocus = false }) {
  if (current) current.controller.abort();
  const controller = new AbortController();
  const found = match(location.pathname);
  if (found?.route.auth && !getSession()) {
    history.replaceState(null, '', loginUrl(currentPath(), 'auth'));
    render({ scroll, keepFocus });
    return;
  }
  const container = document.createElement('div');
  container.className = 'page';
  outlet.replaceChildren(container);
  current = { controller };
  for (const fn of renderListeners) fn(location.pathname);
  if (scroll) window.scrollTo(0, 0);
  const view = found ? found.route.view : notFoundView;
  const ctx = {
    root: container,
    params: found ? found.params : {},
    query: new URLSearchParams(location.search),
    signal: controller.signal,
  };
  const focusAfter = !firstRender && !keepFocus;
  firstRender = false;
  Promise.resolve()
    .then(() => view(ctx))
    .catch((error) => {
      if (error?.name !== 'AbortError') console.error('page failed to render', error);
    })
    .finally(() => {
      if (focusAfter && !controller.signal.aborted) focusHeading(container);
    });
}

// Moves focus to the new page's heading, so keyboard and screen-reader users start there.
function focusHeading(container) {
  if (container.contains(document.activeElement)) return; // the view chose (e.g. a form's first field)
  const target = container.querySelector('h1') || outlet;
  if (!target.hasAttribute('tabindex')) target.setAttribute('tabindex', '-1');
  target.focus({ preventScroll: true });
}

/** Starts routing into `el`: intercepts same-site links to known pages, handles back/forward. */
export function start(el) {
  outlet = el;
  if ('scrollRestoration' in history) history.scrollRestoration = 'manual';
  document.addEventListener('click', (event) => {
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    const link = event.target.closest('a[href]');
    if (!link || (link.target && link.target !== '_self') || link.hasAttribute('download')) return;
    const url = new URL(link.href, location.href);
    if (url.origin !== location.origin) return;
    if (url.hash && url.pathname === location.pathname && url.search === location.search) {
      // An in-page link (the skip link): move focus there, no page change.
      const target = document.getElementById(decodeURIComponent(url.hash.slice(1)));
      if (target) {
        event.preventDefault();
        if (!target.hasAttribute('tabindex')) target.setAttribute('tabindex', '-1');
        target.focus();
      }
      return;
    }
    if (!match(url.pathname)) return;
    event.preventDefault();
    if (url.pathname + url.search === currentPath()) refresh();
    else navigate(url.pathname + url.search);
  });
  window.addEventListener('popstate', () => render({ scroll: true }));
  render({ scroll: false });
}
