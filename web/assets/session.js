// The login session: the token, its expiry and the user, kept in localStorage so the pay-result
// page (reached from Alipay in a fresh page load) can still call the API. The token never goes
// into a URL or a log.

const KEY = 'shop.session';
const listeners = new Set();

function read() {
  try {
    const value = JSON.parse(localStorage.getItem(KEY) || 'null');
    if (value && typeof value.token === 'string' && value.user && typeof value.expires_at === 'number') {
      return value;
    }
  } catch {
    // A corrupt entry is the same as none.
  }
  return null;
}

/** The current session, or null when logged out or the token has expired. */
export function getSession() {
  const session = read();
  if (!session) return null;
  // A minute of margin: a token about to expire would fail halfway through a purchase.
  if (session.expires_at * 1000 < Date.now() + 60_000) {
    localStorage.removeItem(KEY);
    return null;
  }
  return session;
}

export function isLoggedIn() {
  return getSession() !== null;
}

/** Stores the answer of `POST /api/login`. */
export function setSession({ token, expires_at, user }) {
  localStorage.setItem(KEY, JSON.stringify({ token, expires_at, user: { id: user.id, username: user.username, role: user.role } }));
  notify();
}

export function clearSession() {
  const had = read() !== null;
  localStorage.removeItem(KEY);
  if (had) notify();
}

/** Calls `fn(session)` whenever the user logs in or out (in this tab or another). */
export function onSessionChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

function notify() {
  const session = getSession();
  for (const fn of listeners) fn(session);
}

window.addEventListener('storage', (event) => {
  if (event.key === KEY || event.key === null) notify();
});
