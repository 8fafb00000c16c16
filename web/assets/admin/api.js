// The back office's calls: every one under /api/admin/, for operators (the shop reads the role
// from its database on each request; a token alone opens nothing).

import { path, request } from '../api.js';
import { getSession } from '../session.js';

const get = (url, opts) => request('GET', url, { auth: true, ...opts });
const post = (url, body, opts) => request('POST', url, { auth: true, body, ...opts });

/** `?a=1&b=2` from the non-empty entries of `params`. */
function query(params) {
  const q = new URLSearchParams();
  for (const [key, value] of Object.entries(params || {})) {
    if (value !== undefined && value !== null && value !== '') q.set(key, String(value));
  }
  const text = q.toString();
  return text ? `?${text}` : '';
}

export const admin = {
  dashboard: (opts) => get('/api/admin/dashboard', opts),
  orders: (params, opts) => get(`/api/admin/orders${query(params)}`, opts),
  order: (no, opts) => get(path`/api/admin/orders/${no}`, opts),
  check: (no) => post(path`/api/admin/orders/${no}/check`, {}),
  close: (no, reason) => post(path`/api/admin/orders/${no}/close`, { reason }),
  refund: (no, body, idempotencyKey) => post(path`/api/admin/orders/${no}/refunds`, body, { headers: { 'Idempotency-Key': idempotencyKey } }),
  anomalies: (params, opts) => get(`/api/admin/anomalies${query(params)}`, opts),
  resolve: (id, note) => post(path`/api/admin/anomalies/${id}/resolve`, { note }),
  notifications: (params, opts) => get(`/api/admin/notifications${query(params)}`, opts),
  courses: (opts) => get('/api/admin/courses', opts),
  createCourse: (course) => post('/api/admin/courses', course),
  updateCourse: (id, course) => request('PUT', path`/api/admin/courses/${id}`, { auth: true, body: course }),
  settlements: (opts) => get('/api/admin/settlements', opts),
  settlement: (date, opts) => get(path`/api/admin/settlements/${date}`, opts),
  settle: (date) => post(path`/api/admin/settlements/${date}`, {}),
};

/** Downloads a day's report as CSV (the request carries the login token, so not a plain link). */
export async function downloadSettlementCsv(date) {
  const session = getSession();
  const response = await fetch(path`/api/admin/settlements/${`${date}.csv`}`, {
    headers: { Authorization: `Bearer ${session?.token || ''}` },
  });
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  const blob = await response.blob();
  const url = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = url;
  link.download = `settlement-${date}.csv`;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
