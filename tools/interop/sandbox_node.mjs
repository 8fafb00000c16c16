// Interop: the official Node alipay-sdk (npm) against the alipay-sandbox binary.
//
// Starts the sandbox (in memory, port 0), registers an app, then drives it only through the real
// client: a page pay link (pageExecute GET) the emulator must accept, a payment, the notification
// verified with checkNotifySignV2, and trade query / refund / refund query / close through exec
// with validateSign on, the day's trade bill (alipay.data.dataservice.bill.downloadurl.query
// through exec, then downloaded and opened as a zip of GBK CSVs), and AES content encryption with
// the SDK's encryptKey (an encrypted app-pay order string, queries and a refund). Exits non-zero
// with a clear message on any mismatch.
//
// Environment (set by run.sh): SANDBOX_BIN (the built alipay-sandbox), INTEROP_DATA
// (crates/alipay/tests/data).

import { spawn } from 'node:child_process';
import { createVerify } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import AdmZip from 'adm-zip';
import { AlipaySdk } from 'alipay-sdk';

const APP_ID = '2021000000000001';
const TIMEOUT_MS = 10_000;
let checks = 0;
let child;

function fail(message) {
  console.error(`FAIL (Node alipay-sdk): ${message}`);
  if (child) child.kill('SIGKILL');
  process.exit(1);
}

function check(condition, message) {
  if (!condition) fail(message);
  checks += 1;
}

function withTimeout(promise, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), TIMEOUT_MS);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function startSandbox() {
  const binary = process.env.SANDBOX_BIN;
  if (!binary || !existsSync(binary)) {
    fail(`SANDBOX_BIN=${binary} does not exist; build it with cargo build -p alipay-sandbox`);
  }
  child = spawn(binary, ['--listen', '127.0.0.1:0', '--in-memory', '--time-scale', '0.001'], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  process.on('exit', () => child.kill('SIGKILL'));
  const lines = createInterface({ input: child.stdout });
  const first = await withTimeout(new Promise(resolve => lines.once('line', resolve)), 'the sandbox to start');
  if (!first.includes('listening on ')) fail(`unexpected first line from the sandbox: ${first}`);
  return first.trim().split(' ').pop();
}

/** A merchant notify endpoint that answers `success` and queues the raw bodies. */
async function startReceiver() {
  const waiting = [];
  const received = [];
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', chunk => { body += chunk; });
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('success');
      const next = waiting.shift();
      if (next) next(body); else received.push(body);
    });
  });
  await new Promise(resolve => server.listen(0, '127.0.0.1', resolve));
  server.unref();
  return {
    url: `http://127.0.0.1:${server.address().port}/alipay/notify`,
    next: what => withTimeout(
      received.length ? Promise.resolve(received.shift()) : new Promise(resolve => waiting.push(resolve)),
      `the ${what} notification`,
    ),
  };
}

function verifiedNotification(sdk, body, what) {
  // Decoded once, as a web framework hands it over; checkNotifySignV2 uses the raw values.
  const fields = Object.fromEntries(new URLSearchParams(body));
  check(sdk.checkNotifySignV2({ ...fields }), `${what}: checkNotifySignV2 refused ${body}`);
  check(!sdk.checkNotifySignV2({ ...fields, total_amount: '0.01' }), `${what}: a tampered notification verified`);
  return fields;
}

async function exec(sdk, method, bizContent) {
  try {
    return await sdk.exec(method, { bizContent }, { validateSign: true });
  } catch (error) {
    fail(`${method}: ${error.message}`);
  }
}

/** Today's trade bill (the sandbox serves today's; Alipay only past days), verified by exec. */
async function tradeBill(sdk, outTradeNo, tradeNo) {
  const beijing = new Date(Date.now() + 8 * 3600 * 1000).toISOString().slice(0, 10);
  const answer = await exec(sdk, 'alipay.data.dataservice.bill.downloadurl.query', { bill_type: 'trade', bill_date: beijing });
  check(answer.code === '10000' && answer.billDownloadUrl?.startsWith('http://127.0.0.1:'), `bill download url: ${JSON.stringify(answer)}`);
  const download = await fetch(answer.billDownloadUrl);
  check(download.status === 200, `downloading the bill: ${download.status}`);
  const zip = new AdmZip(Buffer.from(await download.arrayBuffer()));
  const names = zip.getEntries().map(entry => entry.entryName);
  const detail = names.filter(name => name.endsWith('_业务明细.csv'));
  check(detail.length === 1 && names.some(name => name.endsWith('_业务明细(汇总).csv')), `the zip's files: ${names}`);
  const text = new TextDecoder('gbk').decode(zip.readFile(detail[0]));
  const lines = text.split(/\r?\n/);
  check(lines[0].startsWith('#支付宝业务明细查询'), `the bill's first line: ${lines[0]}`);
  const start = lines.findIndex(line => line.includes('业务明细列表----') && !line.includes('结束'));
  const header = lines[start + 1].split(',').map(column => column.trim());
  for (const column of ['支付宝交易号', '商户订单号', '业务类型', '订单金额（元）', '商家实收（元）', '退款批次号/请求号']) {
    check(header.includes(column), `the column ${column} is in the header: ${header}`);
  }
  const ours = lines.slice(start + 2).filter(line => !line.startsWith('#') && line.includes(outTradeNo));
  check(ours.some(line => line.includes(tradeNo) && line.includes('交易') && line.includes('66.60')), `the payment's line: ${ours}`);
  check(ours.some(line => line.includes('退款') && line.includes('-6.60')), `the refund's line: ${ours}`);
  check(lines.some(line => line.startsWith('#交易合计')), 'the bill ends with #交易合计');

  const missing = await exec(sdk, 'alipay.data.dataservice.bill.downloadurl.query', { bill_type: 'trade', bill_date: '2016-01-01' });
  check(missing.code === '40004' && missing.subCode === 'isp.bill_not_exist', `a day without trades: ${JSON.stringify(missing)}`);
}

/**
 * AES content encryption with the SDK's own `encryptKey`: the sandbox decrypts what Node encrypted
 * (an app-pay order string, queries, a refund) and Node decrypts and verifies what the sandbox
 * encrypted. The key is the protocol notes' worked example.
 */
async function aesContentEncryption(base, appPublicKey, alipayPublicKey, data, receiver) {
  const appId = '2021000000000077';
  const encryptKey = 'iotxR/d99T9Awom/UaSqiQ==';
  const registered = await fetch(`${base}/api/apps`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ app_id: appId, public_key: appPublicKey, aes_key: encryptKey }),
  });
  const registeredBody = await registered.text();
  check(registered.status === 201 && JSON.parse(registeredBody).aes === true, `registering the AES app: ${registeredBody}`);
  check(!registeredBody.includes(encryptKey), 'the app view never shows the AES key');
  const sdk = new AlipaySdk({
    appId,
    privateKey: readFileSync(join(data, 'keys/app_private_pkcs1.pem'), 'utf8'),
    alipayPublicKey,
    gateway: `${base}/gateway.do`,
    encryptKey,
    timeout: TIMEOUT_MS,
  });
  // Node's ciphertext of the worked example is the one the Rust SDK's unit test asserts
  // (crates/alipay/src/aes.rs): the same bytes both ways.
  const example = new URLSearchParams(sdk.sdkExecute('alipay.trade.query', {
    bizContent: { out_trade_no: 'ORDER_20240501_0001' },
    needEncrypt: true,
  }));
  check(example.get('biz_content') === 'YkCCfwQGoXkJ7vcDu8jhRulEL4ArhquhyJLaid0MiaYnMA92lXhtcLumTHVtysfZ',
    `Node's ciphertext of the worked example: ${example.get('biz_content')}`);
  const outTradeNo = `NODE_AES_${Date.now()}`;
  // The app-pay order string, encrypted, opens the Alipay app's cashier.
  const orderString = sdk.sdkExecute('alipay.trade.app.pay', {
    bizContent: { out_trade_no: outTradeNo, total_amount: '12.30', subject: '加密 课程', product_code: 'QUICK_MSECURITY_PAY' },
    notifyUrl: receiver.url,
    needEncrypt: true,
  });
  const params = new URLSearchParams(orderString);
  check(params.get('encrypt_type') === 'AES' && !params.get('biz_content').includes(outTradeNo), `the order string is encrypted: ${orderString}`);
  const page = await (await fetch(`${base}/gateway.do?${orderString}`)).text();
  check(page.includes('id="pay"') && page.includes('12.30'), `the encrypted order string was not accepted: ${page.slice(-600)}`);

  // alipay-sdk 4.14.0 cannot verify an encrypted answer: its getSignStr keeps what lies between
  // braces, and an encrypted node is a string. So exec decrypts without checking, and the raw
  // answer's signature is checked below over the quoted node, as Alipay's Java SDK does.
  const execEncrypted = async (method, bizContent) => {
    try {
      return await sdk.exec(method, { bizContent, needEncrypt: true }, { validateSign: false });
    } catch (error) {
      fail(`${method} (AES): ${error.message}`);
    }
  };
  let query = await execEncrypted('alipay.trade.query', { out_trade_no: outTradeNo });
  check(query.code === '10000' && query.tradeStatus === 'WAIT_BUYER_PAY', `encrypted query: ${JSON.stringify(query)}`);
  // The raw answer's node is a string (the ciphertext), signed as such.
  const rawRequest = sdk.sdkExecute('alipay.trade.query', { bizContent: { out_trade_no: outTradeNo }, needEncrypt: true });
  const raw = await (await fetch(`${base}/gateway.do`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded;charset=utf-8' },
    body: rawRequest,
  })).text();
  const envelope = JSON.parse(raw);
  check(typeof envelope.alipay_trade_query_response === 'string', `the answer is encrypted: ${raw}`);
  const quoted = raw.match(/^\{"alipay_trade_query_response":("[^"]*"),"sign":/)?.[1];
  check(quoted !== undefined, `the encrypted node is a string before sign: ${raw}`);
  const verifier = createVerify('RSA-SHA256');
  verifier.update(quoted, 'utf8');
  check(verifier.verify(alipayPublicKey, envelope.sign, 'base64'), `the signature covers the quoted ciphertext: ${raw}`);
  const wrong = createVerify('RSA-SHA256');
  wrong.update(JSON.parse(quoted), 'utf8');
  check(!wrong.verify(alipayPublicKey, envelope.sign, 'base64'), 'the signature does not cover the unquoted text');

  const paid = await fetch(`${base}/api/trades/${outTradeNo}/pay`, { method: 'POST', body: JSON.stringify({ app_id: appId }) });
  check(paid.status === 200, `paying the AES trade: ${paid.status}`);
  verifiedNotification(sdk, await receiver.next('AES payment'), 'AES payment');
  query = await execEncrypted('alipay.trade.query', { out_trade_no: outTradeNo });
  check(query.tradeStatus === 'TRADE_SUCCESS', `encrypted query after paying: ${JSON.stringify(query)}`);
  const refund = await execEncrypted('alipay.trade.refund', { out_trade_no: outTradeNo, refund_amount: '2.30', out_request_no: 'AES1' });
  check(refund.code === '10000' && refund.refundFee === '2.30', `encrypted refund: ${JSON.stringify(refund)}`);
  await receiver.next('AES refund');
}

async function main() {
  const data = process.env.INTEROP_DATA;
  if (!data) fail('INTEROP_DATA is not set');
  const base = await startSandbox();
  const gateway = `${base}/gateway.do`;
  const appPublicKey = readFileSync(join(data, 'keys/app_public_spki.pem'), 'utf8');
  const registered = await fetch(`${base}/api/apps`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ app_id: APP_ID, public_key: appPublicKey }),
  });
  const registeredBody = await registered.text();
  check(registered.status === 201, `registering the app: ${registered.status} ${registeredBody}`);
  const { seller_id: sellerId } = JSON.parse(registeredBody);
  const alipayPublicKey = await (await fetch(`${base}/api/alipay-public-key`)).text();

  const receiver = await startReceiver();
  const sdk = new AlipaySdk({
    appId: APP_ID,
    privateKey: readFileSync(join(data, 'keys/app_private_pkcs1.pem'), 'utf8'),
    alipayPublicKey,
    gateway,
    timeout: TIMEOUT_MS,
  });

  // A page pay link, made by the real client, accepted by the emulator.
  const outTradeNo = `NODE_${Date.now()}`;
  const url = sdk.pageExecute('alipay.trade.page.pay', 'GET', {
    bizContent: {
      out_trade_no: outTradeNo,
      total_amount: '66.60',
      subject: 'Node 测试 a+b/c',
      product_code: 'FAST_INSTANT_TRADE_PAY',
    },
    returnUrl: 'https://shop.example/return',
    notifyUrl: receiver.url,
  });
  const page = await fetch(url);
  const html = await page.text();
  check(page.status === 200 && html.includes('id="pay"'), `the pay link was not accepted: ${page.status} ${html.slice(-800)}`);

  let query = await exec(sdk, 'alipay.trade.query', { out_trade_no: outTradeNo });
  check(query.code === '10000' && query.tradeStatus === 'WAIT_BUYER_PAY', `query before paying: ${JSON.stringify(query)}`);

  const paidResponse = await fetch(`${base}/api/trades/${outTradeNo}/pay`, { method: 'POST', body: '{}' });
  const paidBody = await paidResponse.text();
  check(paidResponse.status === 200, `paying: ${paidResponse.status} ${paidBody}`);
  const paid = verifiedNotification(sdk, await receiver.next('payment'), 'payment');
  check(paid.trade_status === 'TRADE_SUCCESS' && paid.out_trade_no === outTradeNo, `payment notification: ${JSON.stringify(paid)}`);
  check(paid.total_amount === '66.60' && paid.seller_id === sellerId, `payment notification: ${JSON.stringify(paid)}`);
  check(paid.subject === 'Node 测试 a+b/c', `subject survived the trip: ${paid.subject}`);

  query = await exec(sdk, 'alipay.trade.query', { out_trade_no: outTradeNo });
  check(query.tradeStatus === 'TRADE_SUCCESS' && query.tradeNo === paid.trade_no, `query after paying: ${JSON.stringify(query)}`);
  check(query.fundBillList?.[0]?.fundChannel === 'ALIPAYACCOUNT', `fund_bill_list: ${JSON.stringify(query)}`);

  const refund = await exec(sdk, 'alipay.trade.refund', { out_trade_no: outTradeNo, refund_amount: '6.60', out_request_no: 'R1' });
  check(refund.code === '10000' && refund.fundChange === 'Y' && refund.refundFee === '6.60', `refund: ${JSON.stringify(refund)}`);
  const refunded = verifiedNotification(sdk, await receiver.next('refund'), 'refund');
  check(refunded.refund_fee === '6.60' && refunded.out_biz_no === 'R1', `refund notification: ${JSON.stringify(refunded)}`);
  const refundQuery = await exec(sdk, 'alipay.trade.fastpay.refund.query', { out_trade_no: outTradeNo, out_request_no: 'R1' });
  check(refundQuery.refundStatus === 'REFUND_SUCCESS', `refund query: ${JSON.stringify(refundQuery)}`);
  const tooMuch = await exec(sdk, 'alipay.trade.refund', { out_trade_no: outTradeNo, refund_amount: '60.01', out_request_no: 'R2' });
  check(tooMuch.subCode === 'ACQ.REASON_TRADE_REFUND_FEE_ERR', `over-refund: ${JSON.stringify(tooMuch)}`);

  // Close an unpaid trade; Alipay sends TRADE_CLOSED.
  const other = `${outTradeNo}_B`;
  const otherUrl = sdk.pageExecute('alipay.trade.page.pay', 'GET', {
    bizContent: { out_trade_no: other, total_amount: '1.00', subject: 'to close', product_code: 'FAST_INSTANT_TRADE_PAY' },
    notifyUrl: receiver.url,
  });
  check((await (await fetch(otherUrl)).text()).includes('id="pay"'), 'second pay link');
  const closed = await exec(sdk, 'alipay.trade.close', { out_trade_no: other });
  check(closed.code === '10000' && closed.outTradeNo === other, `close: ${JSON.stringify(closed)}`);
  const notice = verifiedNotification(sdk, await receiver.next('close'), 'close');
  check(notice.trade_status === 'TRADE_CLOSED', `close notification: ${JSON.stringify(notice)}`);
  const missing = await exec(sdk, 'alipay.trade.query', { out_trade_no: 'NODE_NOPE' });
  check(missing.subCode === 'ACQ.TRADE_NOT_EXIST', `query of an unknown trade: ${JSON.stringify(missing)}`);

  // The raw body passes the SDK's own response check too (what validateSign runs).
  const signed = sdk.pageExecute('alipay.trade.query', 'GET', { bizContent: { out_trade_no: outTradeNo } });
  const raw = await (await fetch(signed)).text();
  const { sign } = JSON.parse(raw);
  let verified = true;
  try { sdk.checkResponseSign(raw, 'alipay_trade_query_response', sign, ''); } catch { verified = false; }
  check(verified, `checkResponseSign refused ${raw}`);

  await tradeBill(sdk, outTradeNo, paid.trade_no);
  await aesContentEncryption(base, appPublicKey, alipayPublicKey, data, receiver);

  console.log(`Node alipay-sdk interop: ${checks} checks passed`);
  child.kill('SIGTERM');
  process.exit(0);
}

main().catch(error => fail(error.stack || String(error)));
