// Log in and register.

import { ApiError, api } from '../api.js';
import { t } from '../i18n.js';
import { navigate, safeNext } from '../router.js';
import { getSession, setSession } from '../session.js';
import { alertBox, errorMessage, field, h, setTitle, toast, withBusy } from '../ui.js';

const USERNAME = /^[A-Za-z0-9_.-]{3,32}$/;

const REASONS = {
  buy: ['info', 'login.needLoginToBuy'],
  auth: ['info', 'login.needLogin'],
  expired: ['warning', 'login.expired'],
  logout: ['success', 'login.loggedOut'],
};

function authCard(title, subtitle, ...content) {
  return h(
    'div',
    { class: 'auth-wrap' },
    h('section', { class: 'card auth-card', 'aria-labelledby': 'auth-title' }, h('h1', { class: 'auth-title', id: 'auth-title' }, title), h('p', { class: 'auth-subtitle muted' }, subtitle), content),
  );
}

/** Shows `error` above the form (or under the field it is about). */
function showError(slot, error) {
  slot.replaceChildren(alertBox('error', errorMessage(error)));
}

function linkKeepingNext(path, query) {
  const next = query.get('next');
  return next ? `${path}?next=${encodeURIComponent(safeNext(next))}` : path;
}

export function renderLogin({ root, query }) {
  setTitle(t('login.title'));
  const next = safeNext(query.get('next'));
  if (getSession()) {
    navigate(next, { replace: true });
    return;
  }
  const reason = REASONS[query.get('reason')];
  const messageSlot = h('div', { class: 'form-message' }, reason ? alertBox(reason[0], t(reason[1])) : null);
  const username = field({ name: 'username', label: t('login.username'), autocomplete: 'username', value: query.get('username') || '' });
  const password = field({ name: 'password', label: t('login.password'), type: 'password', autocomplete: 'current-password' });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary btn-lg btn-block', 'data-testid': 'login-submit' }, t('login.submit'));
  const form = h('form', { class: 'form', novalidate: true, 'data-testid': 'login-form' }, username.el, password.el, submit);

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const name = username.input.value.trim();
    const pass = password.input.value;
    let invalid = null;
    if (!pass) {
      password.setError(t('validate.required', { field: t('login.password') }));
      invalid = password.input;
    }
    if (!name) {
      username.setError(t('validate.required', { field: t('login.username') }));
      invalid = username.input;
    }
    if (invalid) {
      invalid.focus();
      return;
    }
    await withBusy(submit, t('login.busy'), async () => {
      try {
        setSession(await api.login(name, pass));
      } catch (error) {
        showError(messageSlot, error);
        if (error instanceof ApiError && error.status === 401) password.input.select();
        return undefined;
      }
      navigate(next, { replace: true });
      return 'keep';
    });
  });

  root.replaceChildren(
    authCard(
      t('login.title'),
      t('login.subtitle'),
      messageSlot,
      form,
      h('p', { class: 'auth-switch' }, t('login.noAccount'), ' ', h('a', { href: linkKeepingNext('/register', query) }, t('login.toRegister'))),
    ),
  );
  focusUnlessInHeader(query.get('username') ? password.input : username.input);
}

export function renderRegister({ root, query }) {
  setTitle(t('register.title'));
  const next = safeNext(query.get('next'));
  if (getSession()) {
    navigate(next, { replace: true });
    return;
  }
  const messageSlot = h('div', { class: 'form-message' });
  const username = field({ name: 'username', label: t('register.username'), autocomplete: 'username', hint: t('register.usernameHint') });
  const password = field({ name: 'password', label: t('register.password'), type: 'password', autocomplete: 'new-password', hint: t('register.passwordHint') });
  const confirm = field({ name: 'confirm', label: t('register.confirm'), type: 'password', autocomplete: 'new-password' });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary btn-lg btn-block', 'data-testid': 'register-submit' }, t('register.submit'));
  const form = h('form', { class: 'form', novalidate: true, 'data-testid': 'register-form' }, username.el, password.el, confirm.el, submit);

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    messageSlot.replaceChildren();
    const name = username.input.value.trim();
    const pass = password.input.value;
    const checks = [
      [username, !name ? t('validate.required', { field: t('register.username') }) : !USERNAME.test(name) ? t('validate.username') : null],
      [password, pass.length < 8 || pass.length > 128 ? t('validate.password') : null],
      [confirm, confirm.input.value !== pass ? t('validate.confirm') : null],
    ];
    let first = null;
    for (const [f, message] of checks) {
      f.setError(message);
      if (message && !first) first = f.input;
    }
    if (first) {
      first.focus();
      return;
    }
    await withBusy(submit, t('register.busy'), async () => {
      try {
        await api.register(name, pass);
      } catch (error) {
        if (error instanceof ApiError && (error.code === 'username_taken' || error.code === 'invalid_username')) {
          username.setError(errorMessage(error));
          username.input.focus();
        } else if (error instanceof ApiError && error.code === 'invalid_password') {
          password.setError(errorMessage(error));
          password.input.focus();
        } else {
          showError(messageSlot, error);
        }
        return undefined;
      }
      try {
        setSession(await api.login(name, pass));
      } catch {
        // Registered but the automatic login failed (e.g. rate limit): log in by hand.
        navigate(`/login?username=${encodeURIComponent(name)}${query.get('next') ? `&next=${encodeURIComponent(next)}` : ''}`, { replace: true });
        return 'keep';
      }
      toast(t('register.done', { name }));
      navigate(next, { replace: true });
      return 'keep';
    });
  });

  root.replaceChildren(
    authCard(
      t('register.title'),
      t('register.subtitle'),
      messageSlot,
      form,
      h('p', { class: 'auth-switch' }, t('register.haveAccount'), ' ', h('a', { href: linkKeepingNext('/login', query) }, t('register.toLogin'))),
    ),
  );
  focusUnlessInHeader(username.input);
}

// The first field gets focus, unless the user is in the header (e.g. just switched language).
function focusUnlessInHeader(input) {
  if (!document.getElementById('site-header')?.contains(document.activeElement)) input.focus({ preventScroll: true });
}
