// The shop's JSON API (GET /api/openapi.json describes it). Errors come back as
// {"error":{"code","message"}}; every failure here becomes an ApiError with that code.

import { clearSession, getSession } from './session.js';

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message || code);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

/** A random key for `Idempotency-Key`: one per click, so a retried request is the same order. */
export function randomKey() {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

export async function request(method, path, { body, auth = false, headers = {}, signal } = {}) {
  const init = { method, headers: { Accept: 'application/json', ...headers }, signal, credentials: 'same-origin' };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  if (auth) {
    const session = getSession();
    if (!session) throw new ApiError(401, 'not_logged_in', 'log in first');
    init.headers.Authorization = `Bearer ${session.token}`;
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    if (error.name === 'AbortError') throw error;
    throw new ApiError(0, 'network', 'the shop cannot be reached');
  }
  let data = null;
  if ((response.headers.get('content-type') || '').includes('application/json')) {
    try {
      data = await response.json();
    } catch {
      data = null;
    }
  }
  if (!response.ok) {
    const code = data?.error?.code || `http_${response.status}`;
    if (response.status === 401 && auth) {
      clearSession();
      window.dispatchEvent(new CustomEvent('shop:unauthorized'));
    }
    throw new ApiError(response.status, code, data?.error?.message);
  }
  return data;
}

export const path = (strings, ...values) =>
  strings.reduce((out, s, i) => out + s + (i < values.length ? encodeURIComponent(values[i]) : ''), '');

export const api = {
  register: (username, password) => request('POST', '/api/users', { body: { username, password } }),
  login: (username, password) => request('POST', '/api/login', { body: { username, password } }),
  me: (opts) => request('GET', '/api/me', { auth: true, ...opts }),
  courses: (opts) => request('GET', '/api/courses', opts),
  course: (id, opts) => request('GET', path`/api/courses/${id}`, opts),
  /** Places an order; `totalAmount` is the total the page shows (the shop refuses another). */
  createOrder: (courseIds, totalAmount, idempotencyKey) =>
    request('POST', '/api/orders', {
      auth: true,
      body: { course_ids: courseIds, total_amount: totalAmount },
      headers: { 'Idempotency-Key': idempotencyKey },
    }),
  orders: (opts) => request('GET', '/api/orders', { auth: true, ...opts }),
  order: (outTradeNo, opts) => request('GET', path`/api/orders/${outTradeNo}`, { auth: true, ...opts }),
  payOrder: (outTradeNo) => request('POST', path`/api/orders/${outTradeNo}/pay`, { auth: true }),
  cancelOrder: (outTradeNo) => request('POST', path`/api/orders/${outTradeNo}/cancel`, { auth: true }),
  myCourses: (opts) => request('GET', '/api/me/courses', { auth: true, ...opts }),
  lessons: (courseId, opts) => request('GET', path`/api/courses/${courseId}/lessons`, { auth: true, ...opts }),
};

/** Sends the browser to Alipay (or the sandbox cashier), refusing anything but an http(s) URL. */
export function goToPayUrl(payUrl) {
  const url = new URL(payUrl, location.href);
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new ApiError(0, 'invalid_pay_url', 'the pay link is not a web address');
  }
  location.assign(url.href);
}
