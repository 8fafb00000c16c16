// Money is a decimal string with two places ("138.00") at the API. It is never a float here:
// sums are done in integer fen (1 yuan = 100 fen).

const AMOUNT = /^(\d{1,12})(?:\.(\d{1,2}))?$/;

/** "138.00" → 13800. Throws on anything that is not a plain non-negative amount. */
export function toFen(amount) {
  const match = AMOUNT.exec(String(amount).trim());
  if (!match) throw new Error(`not an amount: ${amount}`);
  const [, yuan, cents = ''] = match;
  return Number(yuan) * 100 + Number(cents.padEnd(2, '0'));
}

/** 13800 → "138.00". */
export function fromFen(fen) {
  if (!Number.isSafeInteger(fen) || fen < 0) throw new Error(`not an amount in fen: ${fen}`);
  const yuan = Math.floor(fen / 100);
  const cents = String(fen % 100).padStart(2, '0');
  return `${yuan}.${cents}`;
}

/** The sum of amount strings, as an amount string. */
export function sum(amounts) {
  return fromFen(amounts.reduce((total, amount) => total + toFen(amount), 0));
}

/** "1234.50" → "¥1,234.50" (thousands separators, always two decimals). */
export function formatPrice(amount) {
  let text;
  try {
    text = fromFen(toFen(amount));
  } catch {
    return `¥${amount}`;
  }
  const [yuan, cents] = text.split('.');
  return `¥${yuan.replace(/\B(?=(\d{3})+(?!\d))/g, ',')}.${cents}`;
}
