// The back office, end to end, in headless Chromium: an operator (made with `shop admin create`
// by run.sh) logs in, finds a paid order by its number, sees its notification, refunds one of
// its two courses (the buyer loses exactly that one), then settles today against the sandbox's
// bill after a refund made in the merchant console and a payment whose notifications were all
// dropped, and sees both differences handled; a buyer is refused.
//
// Run through run.sh, which starts the shop and sets SHOP_URL, SCREENSHOT_DIR, OPERATOR_NAME
// and OPERATOR_PASSWORD.

import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';

const BASE = process.env.SHOP_URL;
const SHOTS = process.env.SCREENSHOT_DIR;
const EXECUTABLE = process.env.CHROMIUM || '/usr/bin/chromium';
const OPERATOR = process.env.OPERATOR_NAME;
const OPERATOR_PASSWORD = process.env.OPERATOR_PASSWORD;
if (!BASE || !SHOTS || !OPERATOR || !OPERATOR_PASSWORD) throw new Error('set SHOP_URL, SCREENSHOT_DIR, OPERATOR_NAME, OPERATOR_PASSWORD (run.sh does)');
mkdirSync(SHOTS, { recursive: true });
const TIMEOUT = 15_000;

let shot = 40;
async function screenshot(page, name) {
  shot += 1;
  const file = path.join(SHOTS, `${shot}-admin-${name}.png`);
  await page.waitForTimeout(250);
  await page.screenshot({ path: file, fullPage: true });
  console.log(`  screenshot ${path.basename(file)}`);
}
const step = (text) => console.log(`- ${text}`);

// ------------------------------------------------------------------ the API, as a buyer's browser and the sandbox would
async function json(method, url, body, token) {
  const response = await fetch(new URL(url, BASE), {
    method,
    headers: { 'Content-Type': 'application/json', ...(token ? { Authorization: `Bearer ${token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let data = null;
  try {
    data = JSON.parse(text);
  } catch {
    data = text;
  }
  if (!response.ok) throw new Error(`${method} ${url}: ${response.status} ${text.slice(0, 300)}`);
  return data;
}

async function buyer(name) {
  await json('POST', '/api/users', { username: name, password: 'password123' });
  const login = await json('POST', '/api/login', { username: name, password: 'password123' });
  return login.token;
}

async function placeAndPay(token, courseIds) {
  const courses = await json('GET', '/api/courses');
  const fen = courses.filter((c) => courseIds.includes(c.id)).reduce((sum, c) => sum + Math.round(Number(c.price) * 100), 0);
  const total = `${Math.floor(fen / 100)}.${String(fen % 100).padStart(2, '0')}`;
  const order = await json('POST', '/api/orders', { course_ids: courseIds, total_amount: total }, token);
  // Opening the cashier creates the trade at "Alipay", as the real one does.
  const cashier = await fetch(order.pay_url);
  assert.equal(cashier.status, 200);
  await json('POST', `/sandbox/api/trades/${order.out_trade_no}/pay`, {});
  return order;
}

async function waitFor(what, check) {
  const deadline = Date.now() + TIMEOUT;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const orderStatus = async (token, no) => (await json('GET', `/api/orders/${no}`, undefined, token)).status;
const owned = async (token) => (await json('GET', '/api/me/courses', undefined, token)).map((c) => c.course_id).sort();
const suffix = Date.now().toString(36);

const browser = await chromium.launch({
  executablePath: EXECUTABLE,
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const problems = [];

async function newPage() {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'zh-CN', acceptDownloads: true });
  context.setDefaultTimeout(TIMEOUT);
  const page = await context.newPage();
  page.on('pageerror', (error) => problems.push(`script error on ${page.url()}: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) problems.push(`console error on ${page.url()}: ${message.text()}`);
  });
  return page;
}

async function login(page, name, password) {
  await page.goto(`${BASE}/login?next=${encodeURIComponent('/admin')}`);
  await page.getByLabel('用户名').fill(name);
  await page.getByLabel('密码').fill(password);
  await page.getByLabel('密码').press('Enter');
}

try {
  // ---------------------------------------------------------------- data
  step('a buyer pays an order of two courses');
  const alice = await buyer(`alice_${suffix}`);
  const order = await placeAndPay(alice, [3, 5]);
  const no = order.out_trade_no;
  await waitFor('the order paid', async () => (await orderStatus(alice, no)) === 'paid');
  assert.deepEqual(await owned(alice), [3, 5]);

  // ---------------------------------------------------------------- a buyer is refused
  step('a buyer who opens /admin is refused');
  const bobName = `bob_${suffix}`;
  await buyer(bobName);
  const bobPage = await newPage();
  await login(bobPage, bobName, 'password123');
  await bobPage.getByTestId('admin-forbidden').waitFor();
  await screenshot(bobPage, 'forbidden');
  await bobPage.context().close();

  // ---------------------------------------------------------------- the operator
  step('the operator logs in and sees the dashboard');
  const page = await newPage();
  await login(page, OPERATOR, OPERATOR_PASSWORD);
  await page.getByTestId('dashboard').waitFor();
  await screenshot(page, 'dashboard');

  step('finds the paid order by its number (keyboard: type, Enter)');
  await page.getByRole('link', { name: '订单记录' }).click();
  await page.getByTestId('order-search').fill(no);
  await page.getByTestId('order-search').press('Enter');
  await page.getByTestId('admin-orders').getByRole('link', { name: no }).click();
  await page.getByTestId('order-facts').waitFor();
  assert.equal(await page.getByTestId('order-buyer').textContent(), `alice_${suffix}`);
  const notifications = page.getByTestId('section-notifications');
  await notifications.getByText('accepted').first().waitFor();
  await screenshot(page, 'order');

  step('refunds one of its two courses; the buyer loses exactly that one');
  await page.getByTestId('action-refund').click();
  await page.getByTestId('refund-course-5').check();
  await page.getByTestId('refund-reason').fill('课程不合适');
  await screenshot(page, 'refund-dialog');
  await page.getByTestId('dialog-confirm').click();
  await page.getByTestId('action-message').getByText('退款已提交').waitFor();
  await waitFor('the refund settled', async () => {
    const detail = await json('GET', `/api/orders/${no}`, undefined, alice);
    return detail.refunds[0]?.status === 'succeeded';
  });
  assert.deepEqual(await owned(alice), [3], 'course 5 revoked, course 3 kept');
  await page.reload();
  await page.getByTestId('order-refunds').getByText('已退款').waitFor();
  await screenshot(page, 'order-refunded');

  // ---------------------------------------------------------------- what a real bill shows
  step('a refund made in the merchant console, and a payment whose notifications were all dropped');
  await json('POST', '/sandbox/api/faults', { kind: 'drop_notifications', count: 8 });
  await json('POST', `/sandbox/api/trades/${no}/refund`, { refund_amount: '10.00', out_request_no: `CONSOLE${suffix}` });
  await json('POST', '/sandbox/api/faults', { kind: 'drop_notifications', count: 8 });
  const carol = await buyer(`carol_${suffix}`);
  const lost = await placeAndPay(carol, [1]);
  await waitFor('the lost payment attempted', async () => {
    const deliveries = await json('GET', '/sandbox/api/notifications');
    return deliveries.some((d) => d.out_trade_no === lost.out_trade_no && d.fault === 'dropped');
  });
  assert.equal(await orderStatus(carol, lost.out_trade_no), 'unpaid');

  step('settles today and sees both differences handled');
  await page.getByRole('link', { name: '对账' }).click();
  await page.getByTestId('settle-run').click();
  await page.getByTestId('dialog-confirm').click();
  const differences = page.getByTestId('settlement-differences');
  await differences.waitFor();
  await differences.getByText('支付宝已收款，商城未记为已支付').waitFor();
  await differences.getByText('商城未发起的退款').waitFor();
  await screenshot(page, 'settlement');
  assert.equal(await orderStatus(carol, lost.out_trade_no), 'paid', 'the lost payment is paid from the bill');
  assert.deepEqual(await owned(carol), [1]);

  step('downloads the day\'s report as CSV');
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('settle-download').click()]);
  assert.match(download.suggestedFilename(), /^settlement-\d{4}-\d{2}-\d{2}\.csv$/);

  step('the console refund is an open anomaly; the operator resolves it');
  await page.getByRole('link', { name: '异常' }).click();
  const anomalies = page.getByTestId('anomalies');
  await anomalies.getByText('商户后台退款').first().waitFor();
  await anomalies.getByRole('button', { name: '标记为已处理' }).first().click();
  await page.getByTestId('resolve-note').fill('客服已与买家确认');
  await page.getByTestId('dialog-confirm').click();
  await page.getByText('没有记录').waitFor();
  await screenshot(page, 'anomalies-resolved');

  step('the catalog and the notifications log, in English too');
  await page.getByRole('link', { name: '课程管理' }).click();
  await page.getByTestId('catalog').waitFor();
  await screenshot(page, 'catalog');
  await page.getByRole('button', { name: 'Switch to English' }).click();
  await page.getByRole('link', { name: 'Notifications' }).click();
  await page.getByTestId('notifications').waitFor();
  await screenshot(page, 'notifications-english');

  await browser.close();
  if (problems.length) throw new Error(`problems seen in the browser:\n  ${problems.join('\n  ')}`);
  console.log('e2e: back office passed');
} catch (error) {
  console.error(`e2e: back office FAILED: ${error.stack || error}`);
  if (problems.length) console.error(`also seen in the browser:\n  ${problems.join('\n  ')}`);
  await browser.close();
  process.exit(1);
}
