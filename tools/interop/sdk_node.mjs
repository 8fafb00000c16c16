// The official Node alipay-sdk (npm) against the `alipay` CLI, on freshly generated random cases.
// 1. Page-pay URLs from pageExecute: `alipay sign` gives the same content and signature.
// 2. Notifications signed by `alipay sign --rule notify`: checkNotifySignV2 accepts them, and
//    rejects a tampered copy.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { AlipaySdk } from 'alipay-sdk';

const BIN = process.env.ALIPAY_BIN;
const DATA = process.env.INTEROP_DATA;
const CASES = Number(process.env.INTEROP_CASES ?? 60);
const key = (name) => readFileSync(path.join(DATA, 'keys', name), 'utf8');
const keyPath = (name) => path.join(DATA, 'keys', name);

let seed = 20261126;
const random = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
const pick = (items) => items[Math.floor(random() * items.length)];
const ALPHABET = [...'abcXYZ019 +&=%/?#~*\'"<>测试商品课程中文，。😀\\'];
const text = (n) => Array.from({ length: n }, () => pick(ALPHABET)).join('').trim() || 'x';
const amount = () => {
  const fen = pick([1, 99, 100, 13800, 999999, Math.floor(random() * 1e10) + 1]);
  return `${Math.floor(fen / 100)}.${String(fen % 100).padStart(2, '0')}`;
};

function cli(args, input) {
  try {
    return { code: 0, stdout: execFileSync(BIN, args, { input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] }) };
  } catch (error) {
    return { code: error.status, stdout: error.stdout ?? '', stderr: error.stderr ?? '' };
  }
}

const failures = [];
const check = (ok, message) => { if (!ok) failures.push(message); };

for (let i = 0; i < CASES; i++) {
  const signType = pick(['RSA2', 'RSA']);
  const sdk = new AlipaySdk({ appId: '2021000000000001', privateKey: key('app_private_pkcs1.pem'), signType, alipayPublicKey: key('alipay_public_spki.pem') });
  const bizContent = { subject: text(1 + Math.floor(random() * 30)), out_trade_no: `ORD${i}${Math.floor(random() * 1e9)}`, total_amount: amount(), product_code: 'FAST_INSTANT_TRADE_PAY' };
  if (random() < 0.5) bizContent.body = text(20);
  const url = sdk.pageExecute('alipay.trade.page.pay', 'GET', { bizContent, returnUrl: 'https://merchant.example.com/alipay/return', notifyUrl: 'https://merchant.example.com/alipay/notify' });
  const params = Object.fromEntries(new URL(url).searchParams);
  const nodeSign = params.sign;
  delete params.sign;
  const out = cli(['sign', '--private-key', keyPath('app_private_pkcs8.pem'), '--sign-type', signType], JSON.stringify(params));
  check(out.code === 0, `page pay ${i}: alipay sign failed: ${out.stderr}`);
  if (out.code === 0) {
    const lines = out.stdout.replace(/\n$/, '').split('\n');
    check(lines.at(-1) === nodeSign, `page pay ${i}: signature differs (${signType})`);
  }
}

const merchant = new AlipaySdk({ appId: '2021000000000001', privateKey: key('app_private_pkcs1.pem'), alipayPublicKey: key('alipay_public_spki.pem') });
for (let i = 0; i < CASES; i++) {
  const fen = 1 + Math.floor(random() * 1e8);
  const data = {
    app_id: '2021000000000001', auth_app_id: '2021000000000001', charset: 'utf-8',
    notify_id: `2024052000222${Math.floor(random() * 1e15)}`, notify_time: '2024-05-20 12:35:11',
    notify_type: 'trade_status_sync', out_trade_no: `ORD${i}`, subject: text(1 + Math.floor(random() * 20)),
    total_amount: `${Math.floor(fen / 100)}.${String(fen % 100).padStart(2, '0')}`,
    trade_no: `2024052022001${Math.floor(random() * 1e15)}`, trade_status: pick(['TRADE_SUCCESS', 'TRADE_FINISHED']), version: '1.0',
  };
  const out = cli(['sign', '--private-key', keyPath('alipay_private_pkcs8.pem'), '--rule', 'notify'], JSON.stringify(data));
  check(out.code === 0, `notify ${i}: alipay sign --rule notify failed: ${out.stderr}`);
  if (out.code !== 0) continue;
  const sign = out.stdout.replace(/\n$/, '').split('\n').at(-1);
  check(merchant.checkNotifySignV2({ ...data, sign_type: 'RSA2', sign }) === true, `notify ${i}: checkNotifySignV2 rejects our signature`);
  check(merchant.checkNotifySignV2({ ...data, total_amount: '0.02', sign_type: 'RSA2', sign }) === false, `notify ${i}: tampered copy accepted`);
}

if (failures.length) {
  console.log(`${failures.length} failures:\n  ${failures.slice(0, 20).join('\n  ')}`);
  process.exit(1);
}
console.log(`ok: ${CASES} page-pay URLs and ${CASES} notifications agree with the Node alipay-sdk`);
