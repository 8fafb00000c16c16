// The shop's pages, end to end, in headless Chromium (playwright-core driving /usr/bin/chromium).
//
// Buyer 1: register, log out, log in (keyboard: Enter submits), open a course, buy it, pay on the
// sandbox cashier, land on /pay/success showing "paid" (after the page's own polling), see the
// course under My courses and the order paid under My orders, switch to English.
// Buyer 2: edits the price in the order request (page.route) and sees the price error; no order
// is created. A forged return shows an error, never success. Phone-size screenshots too.
//
// Run through run.sh, which starts the shop and sets SHOP_URL and SCREENSHOT_DIR.

import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';

const BASE = process.env.SHOP_URL;
const SHOTS = process.env.SCREENSHOT_DIR;
const EXECUTABLE = process.env.CHROMIUM || '/usr/bin/chromium';
if (!BASE || !SHOTS) throw new Error('set SHOP_URL and SCREENSHOT_DIR (run.sh does)');
mkdirSync(SHOTS, { recursive: true });

const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };
const TIMEOUT = 15_000;

let shot = 0;
async function screenshot(page, name, { fullPage = true } = {}) {
  shot += 1;
  const file = path.join(SHOTS, `${String(shot).padStart(2, '0')}-${name}.png`);
  // Let transitions and the toast settle so the picture shows the page, not an animation.
  await page.waitForTimeout(250);
  await page.screenshot({ path: file, fullPage });
  console.log(`  screenshot ${path.basename(file)}`);
}

function step(text) {
  console.log(`- ${text}`);
}

const randomName = (prefix) => `${prefix}_${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;

// The flags keep Chromium off the network (this machine refuses outside connections) and quiet.
// playwright's launch() gives every browser a fresh temporary --user-data-dir of its own.
const browser = await chromium.launch({
  executablePath: EXECUTABLE,
  headless: true,
  args: [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ],
});

const problems = [];

/** A fresh browser context (no cookies, no localStorage) with checks on every page. */
async function newContext(viewport = DESKTOP, extra = {}) {
  const context = await browser.newContext({ viewport, locale: 'zh-CN', timezoneId: 'Asia/Shanghai', ...extra });
  context.setDefaultTimeout(TIMEOUT);
  context.on('page', watch);
  return context;
}

/** Fails the test on script errors, requests leaving 127.0.0.1, or a token in a URL. */
function watch(page) {
  page.on('pageerror', (error) => problems.push(`script error on ${page.url()}: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) {
      problems.push(`console error on ${page.url()}: ${message.text()}`);
    }
  });
  page.on('request', (request) => {
    const url = new URL(request.url());
    if (url.protocol !== 'data:' && url.hostname !== '127.0.0.1') problems.push(`request left the shop: ${request.url()}`);
    if (/token|password/i.test(url.search)) problems.push(`secret-looking query in ${request.url()}`);
  });
}

/** The buyer's orders, through the API with the token the page keeps. */
async function apiOrders(page) {
  return page.evaluate(async () => {
    const session = JSON.parse(localStorage.getItem('shop.session'));
    const response = await fetch('/api/orders', { headers: { Authorization: `Bearer ${session.token}` } });
    return response.json();
  });
}

async function registerThroughUi(page, username, password) {
  await page.getByLabel('用户名').fill(username);
  await page.getByLabel('密码', { exact: true }).fill(password);
  await page.getByLabel('确认密码').fill(password);
  await page.getByTestId('register-submit').click();
}

try {
  // ------------------------------------------------------------------ buyer 1
  const context = await newContext();
  const page = await context.newPage();
  const username = randomName('buyer');
  const password = 'correct-horse-42';

  step('course list (Chinese by default), under the Content-Security-Policy');
  const first = await page.goto(`${BASE}/`);
  const policy = first.headers()['content-security-policy'] || '';
  assert.ok(policy.includes("default-src 'self'") && !policy.includes('unsafe-inline'), `a strict policy: ${policy}`);
  await page.getByTestId('course-list').waitFor();
  assert.equal(await page.locator('html').getAttribute('lang'), 'zh-CN');
  assert.ok((await page.getByTestId('course-list').locator('article').count()) >= 6, 'the demo courses are listed');
  assert.ok(await page.getByText('¥138.00').first().isVisible(), 'prices show as ¥138.00');
  await screenshot(page, 'course-list');

  step('keyboard: skip link, open a course, reach Buy now');
  const courseName = 'Python 全栈开发实战';
  const focused = () => page.evaluate(() => {
    const el = document.activeElement;
    return { tag: el.tagName, id: el.id, cls: el.className, href: el.getAttribute('href'), testid: el.dataset.testid || null };
  });
  await page.keyboard.press('Tab');
  assert.equal((await focused()).cls, 'skip-link', 'the first Tab stop is the skip link');
  await page.keyboard.press('Enter');
  assert.equal((await focused()).id, 'main', 'the skip link moves focus to the content');
  await page.keyboard.press('Tab');
  assert.equal((await focused()).href, '/courses/1', 'then the first course');
  await screenshot(page, 'keyboard-focus', { fullPage: false });
  await page.keyboard.press('Enter');
  await page.waitForURL(/\/courses\/1$/);
  await page.getByRole('heading', { level: 1, name: courseName }).waitFor();
  await page.waitForFunction(() => document.activeElement?.tagName === 'H1');
  await page.keyboard.press('Tab');
  assert.equal((await focused()).testid, 'buy-now', 'Buy now follows the title');
  await screenshot(page, 'course-detail');

  step('course detail, logged out: Buy now asks to log in');
  await page.keyboard.press('Enter');
  await page.waitForURL(/\/login\?/);
  const loginUrl = new URL(page.url());
  assert.equal(loginUrl.searchParams.get('next'), '/courses/1', 'login returns to the course');
  await page.getByText('请先登录，登录后将回到课程页面继续购买。').waitFor();
  await screenshot(page, 'login-prompt');

  step('register a new user (and come back to the course)');
  await page.getByRole('link', { name: '立即注册' }).click();
  await page.waitForURL(/\/register\?next=/);
  // The page checks the form before sending it.
  await page.getByLabel('用户名').fill('ab');
  await page.getByTestId('register-submit').click();
  await page.getByText('用户名需为 3–32 位字母、数字、下划线、点或短横线').waitFor();
  await registerThroughUi(page, username, password);
  await page.waitForURL(/\/courses\/1$/);
  await page.getByTestId('account-name').filter({ hasText: username }).waitFor();
  await screenshot(page, 'registered-back-on-course');

  step('log out, then log in with the keyboard (Enter submits)');
  await page.getByRole('button', { name: '退出' }).click();
  await page.waitForURL(/\/login\?reason=logout/);
  await page.getByLabel('用户名').fill(username);
  await page.getByLabel('密码').fill('wrong-password');
  await page.getByLabel('密码').press('Enter');
  await page.getByText('用户名或密码错误。').waitFor();
  await screenshot(page, 'login-wrong-password');
  await page.getByLabel('密码').fill(password);
  await page.getByLabel('密码').press('Enter');
  await page.waitForURL(`${BASE}/`);
  await page.getByTestId('account-name').filter({ hasText: username }).waitFor();

  step('open a course and buy it');
  await page.getByRole('link', { name: courseName }).click();
  await page.waitForURL(/\/courses\/1$/);
  await page.getByTestId('buy-now').click();
  await page.waitForURL(/\/checkout\/1$/);
  await page.getByTestId('checkout-total').filter({ hasText: '¥138.00' }).waitFor();
  await screenshot(page, 'checkout');
  // A double click must not place two orders: the button is busy after the first.
  await page.getByTestId('place-order').dblclick();
  await page.waitForURL(/\/sandbox\/gateway\.do/);

  step('pay on the sandbox cashier');
  await page.locator('input[name="buyer"]').waitFor();
  assert.equal(await page.locator('input[name="buyer"]').inputValue(), 'buyer@sandbox.com');
  await page.locator('input[name="password"]').fill('111111');
  await screenshot(page, 'sandbox-cashier');
  await page.locator('#pay').click();

  step('the result page confirms the payment with the shop');
  await page.waitForURL(/\/pay\/success\?/);
  const result = page.getByTestId('pay-result');
  await result.waitFor();
  await page.locator('[data-testid="pay-result"][data-state="paid"]').waitFor({ timeout: 45_000 });
  await page.getByRole('heading', { name: '支付成功' }).waitFor();
  const returned = new URL(page.url());
  const outTradeNo = returned.searchParams.get('out_trade_no');
  assert.ok(outTradeNo, 'the return carries the order number');
  assert.equal(await result.getByTestId('order-no').innerText(), outTradeNo);
  const tradeNo = (await result.getByTestId('trade-no').innerText()).trim();
  assert.match(tradeNo, /^\d{10,}$/, 'the Alipay trade number is shown');
  assert.match(await result.getByTestId('paid-at').innerText(), /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
  assert.equal(await result.getByTestId('order-status').innerText(), '已支付');
  await screenshot(page, 'pay-result-paid');
  await page.setViewportSize(PHONE);
  await screenshot(page, 'pay-result-paid-phone');
  await page.setViewportSize(DESKTOP);

  step('My courses lists the course; start studying');
  await page.getByRole('link', { name: '去学习' }).click();
  await page.waitForURL(/\/my\/courses$/);
  const mine = page.getByTestId('my-courses');
  await mine.getByText(courseName).waitFor();
  await screenshot(page, 'my-courses');
  await mine.getByRole('link', { name: /开始学习/ }).first().click();
  await page.waitForURL(/\/learn\/1$/);
  // The lessons' content comes from the shop only for owners of the course.
  await page.getByTestId('lesson-list').getByRole('button', { name: /课程导学/ }).click();
  await page.getByText('正在学习：课程导学').waitFor();
  assert.match(await page.getByTestId('lesson-content').textContent(), /欢迎加入本课程/);
  await screenshot(page, 'learn');

  step('My orders shows the order paid (exactly one order despite the double click)');
  await page.getByRole('link', { name: '我的订单' }).click();
  await page.waitForURL(/\/orders$/);
  const order = page.locator(`article[data-out-trade-no="${outTradeNo}"]`);
  await order.waitFor();
  assert.equal(await order.getAttribute('data-status'), 'paid');
  await order.getByText('已支付').waitFor();
  assert.equal(await page.getByTestId('order-list').locator('article').count(), 1, 'one order');
  const orders = await apiOrders(page);
  assert.equal(orders.length, 1);
  assert.equal(orders[0].status, 'paid');
  await screenshot(page, 'my-orders-paid');

  step('the course page now offers "start studying"');
  await page.goto(`${BASE}/courses/1`);
  await page.getByTestId('study').waitFor();
  assert.equal(await page.getByTestId('buy-now').count(), 0);

  step('English switch, kept across reloads');
  await page.goto(`${BASE}/orders`);
  await order.waitFor();
  await page.getByRole('button', { name: 'Switch to English' }).click();
  await page.getByRole('heading', { level: 1, name: 'My orders' }).waitFor();
  assert.equal(await page.locator('html').getAttribute('lang'), 'en');
  assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('aria-label')), '切换到中文', 'focus stays on the language switch');
  await page.reload();
  await page.getByRole('heading', { level: 1, name: 'My orders' }).waitFor();
  await order.getByText('Paid', { exact: true }).waitFor();
  await screenshot(page, 'my-orders-english');
  await page.goto(`${BASE}/`);
  await page.getByRole('heading', { level: 1, name: 'All courses' }).waitFor();
  await screenshot(page, 'course-list-english');
  await page.goto(`${BASE}/pay/success?out_trade_no=${encodeURIComponent(outTradeNo)}&trade_no=${tradeNo}&status=paid`);
  await page.getByRole('heading', { name: 'Payment successful' }).waitFor();
  await screenshot(page, 'pay-result-paid-english');
  await page.getByRole('button', { name: '切换到中文' }).click();
  await page.getByRole('heading', { name: '支付成功' }).waitFor();

  step('a forged return is an error, never success');
  await page.goto(`${BASE}/alipay/return?out_trade_no=${encodeURIComponent(outTradeNo)}&trade_no=${tradeNo}&total_amount=138.00&sign_type=RSA2&sign=bad`);
  await page.waitForURL(/\/pay\/success\?.*error=invalid_signature/);
  await page.locator('[data-testid="pay-result"][data-state="invalid_signature"]').waitFor();
  await page.getByRole('heading', { name: '支付结果验证失败' }).waitFor();
  assert.equal(await page.getByText('支付成功').count(), 0, 'no success on a forged return');
  await screenshot(page, 'forged-return-error');
  await page.goto(`${BASE}/pay/success?out_trade_no=${encodeURIComponent(outTradeNo)}&error=invalid_signature`);
  await page.locator('[data-testid="pay-result"][data-state="invalid_signature"]').waitFor();
  assert.equal(await page.getByText('支付成功').count(), 0);
  await context.close();

  // ------------------------------------------------------------------ buyer 2: tampered price
  step('second buyer edits the price in the request and sees the price error');
  const context2 = await newContext();
  const page2 = await context2.newPage();
  await page2.goto(`${BASE}/register?next=${encodeURIComponent('/checkout/2')}`);
  await registerThroughUi(page2, randomName('tamper'), 'another-secret-99');
  await page2.waitForURL(/\/checkout\/2$/);
  await page2.getByTestId('checkout-total').filter({ hasText: '¥199.00' }).waitFor();
  let tampered = 0;
  await page2.route('**/api/orders', async (route) => {
    const request = route.request();
    if (request.method() !== 'POST') return route.continue();
    const body = request.postDataJSON();
    body.total_amount = '1.00';
    tampered += 1;
    return route.continue({ postData: JSON.stringify(body) });
  });
  await page2.getByTestId('place-order').click();
  const error = page2.locator('[data-testid="order-error"][data-code="price_mismatch"]');
  await error.waitFor();
  assert.equal(tampered, 1, 'the order request was intercepted once');
  await error.getByText('订单金额与课程价格不一致，订单未创建。').waitFor();
  await error.getByText('课程实际价格为 ¥199.00，而提交的金额是 ¥1.00。').waitFor();
  assert.match(page2.url(), /\/checkout\/2$/, 'the buyer stays on the checkout page');
  assert.equal(await page2.getByTestId('place-order').isEnabled(), true, 'the button is usable again');
  assert.deepEqual(await apiOrders(page2), [], 'no order was created');
  await screenshot(page2, 'price-tampered-error');
  await page2.unroute('**/api/orders');
  await page2.goto(`${BASE}/orders`);
  await page2.getByText('还没有订单').waitFor();
  await screenshot(page2, 'my-orders-empty');
  await page2.goto(`${BASE}/my/courses`);
  await page2.getByText('还没有课程').waitFor();

  step('second buyer leaves the cashier without paying: the order waits, unpaid');
  await page2.goto(`${BASE}/checkout/2`);
  await page2.getByTestId('place-order').click();
  await page2.waitForURL(/\/sandbox\/gateway\.do/);
  await page2.locator('#cancel').click();
  await page2.getByRole('link', { name: /返回商户/ }).click();
  await page2.waitForURL(`${BASE}/`);
  await page2.getByRole('link', { name: '我的订单' }).click();
  const unpaid = page2.locator('article[data-status="unpaid"]');
  await unpaid.waitFor();
  const unpaidNo = await unpaid.getAttribute('data-out-trade-no');
  await unpaid.getByRole('button', { name: '去支付' }).waitFor();
  await screenshot(page2, 'my-orders-unpaid');

  step('a result page for an unpaid order: "confirming…", then a clear "not paid yet"');
  await page2.goto(`${BASE}/pay/success?out_trade_no=${encodeURIComponent(unpaidNo)}&status=paid`);
  await page2.locator('[data-testid="pay-result"][data-state="confirming"]').waitFor();
  await page2.getByRole('heading', { name: '正在确认支付结果…' }).waitFor();
  await screenshot(page2, 'pay-result-confirming');
  await page2.locator('[data-testid="pay-result"][data-state="unpaid"]').waitFor({ timeout: 60_000 });
  await page2.getByRole('heading', { name: '暂未收到付款' }).waitFor();
  assert.equal(await page2.getByText('支付成功').count(), 0, 'the query saying paid is not trusted');
  await screenshot(page2, 'pay-result-not-paid');

  step('pay again from My orders');
  await page2.getByRole('link', { name: '查看我的订单' }).click();
  await page2.locator(`article[data-out-trade-no="${unpaidNo}"]`).getByRole('button', { name: '去支付' }).click();
  await page2.waitForURL(/\/sandbox\/gateway\.do/);
  await page2.getByText(unpaidNo).waitFor();
  await page2.locator('#pay').click();
  await page2.waitForURL(/\/pay\/success\?/);
  await page2.locator('[data-testid="pay-result"][data-state="paid"]').waitFor({ timeout: 45_000 });
  assert.equal(await page2.getByTestId('order-no').innerText(), unpaidNo);

  step('cancel an unpaid order');
  await page2.goto(`${BASE}/checkout/3`);
  await page2.getByTestId('place-order').click();
  await page2.waitForURL(/\/sandbox\/gateway\.do/);
  await page2.locator('#cancel').click();
  await page2.goto(`${BASE}/orders`);
  const toCancel = page2.locator('article[data-status="unpaid"]');
  await toCancel.waitFor();
  const cancelNo = await toCancel.getAttribute('data-out-trade-no');
  page2.once('dialog', (dialog) => dialog.accept());
  await toCancel.getByRole('button', { name: '取消订单' }).click();
  await page2.locator(`article[data-out-trade-no="${cancelNo}"][data-status="cancelled"]`).waitFor();
  const statuses = (await apiOrders(page2)).map((o) => o.status).sort();
  assert.deepEqual(statuses, ['cancelled', 'paid']);
  await screenshot(page2, 'my-orders-paid-and-cancelled');
  await page2.locator('.toast').waitFor({ state: 'detached', timeout: 10_000 });
  await page2.setViewportSize(PHONE);
  await screenshot(page2, 'phone-my-orders');
  await context2.close();

  // ------------------------------------------------------------------ phone
  step('phone-size pages');
  const phone = await newContext(PHONE, { isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
  const mobile = await phone.newPage();
  await mobile.goto(`${BASE}/`);
  await mobile.getByTestId('course-list').waitFor();
  const overflow = await mobile.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `no sideways scrolling on a phone (overflow ${overflow}px)`);
  await screenshot(mobile, 'phone-course-list');
  await mobile.getByRole('link', { name: '支付系统设计' }).click();
  await mobile.getByTestId('buy-now').waitFor();
  await screenshot(mobile, 'phone-course-detail');
  await mobile.getByTestId('buy-now').click();
  await mobile.waitForURL(/\/login\?/);
  await screenshot(mobile, 'phone-login-prompt');
  await mobile.getByRole('button', { name: 'Switch to English' }).click();
  await mobile.getByRole('heading', { level: 1, name: 'Log in' }).waitFor();
  await mobile.getByText('Please log in to buy this course.', { exact: false }).waitFor();
  await screenshot(mobile, 'phone-login-prompt-english');
  await mobile.goto(`${BASE}/`);
  await mobile.getByRole('heading', { level: 1, name: 'All courses' }).waitFor();
  await screenshot(mobile, 'phone-course-list-english', { fullPage: false });
  await phone.close();

  if (problems.length) throw new Error(`problems seen in the browser:\n  ${problems.join('\n  ')}`);
  console.log('e2e: all steps passed');
} catch (error) {
  console.error(`e2e: FAILED: ${error.stack || error}`);
  if (problems.length) console.error(`also seen in the browser:\n  ${problems.join('\n  ')}`);
  process.exitCode = 1;
  // What the browser showed when it failed.
  let n = 0;
  for (const context of browser.contexts()) {
    for (const open of context.pages()) {
      n += 1;
      const file = path.join(SHOTS, `FAILED-${n}.png`);
      await open.screenshot({ path: file, fullPage: true }).catch(() => {});
      console.error(`  ${open.url()} -> ${path.basename(file)}`);
    }
  }
} finally {
  await browser.close();
}
