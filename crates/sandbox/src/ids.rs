//! Identifiers shaped like Alipay's, so merchant code that checks lengths or prefixes accepts them.
//!
//! * `trade_no`: 28 digits, `yyyyMMdd` + `22001` + 15 digits (e.g. `2024050122001446880500012345`).
//! * `notify_id`: 34 digits, `yyyyMMdd` + `00222` + `HHmmss` + 15 digits.
//! * user ids (`seller_id`, `buyer_id`): `2088` + 12 digits.

use time::OffsetDateTime;

fn random_digits(count: usize) -> String {
    (0..count)
        .map(|_| char::from(b'0' + rand::random_range(0..10u8)))
        .collect()
}

fn date_digits(at: OffsetDateTime) -> String {
    let at = at.to_offset(alipay::time::BEIJING);
    format!("{:04}{:02}{:02}", at.year(), u8::from(at.month()), at.day())
}

/// A fresh 28-digit `trade_no` dated `at` (Beijing).
#[must_use]
pub fn trade_no(at: OffsetDateTime) -> String {
    format!("{}22001{}", date_digits(at), random_digits(15))
}

/// A fresh 34-digit `notify_id` dated `at` (Beijing).
#[must_use]
pub fn notify_id(at: OffsetDateTime) -> String {
    let local = at.to_offset(alipay::time::BEIJING);
    format!(
        "{}00222{:02}{:02}{:02}{}",
        date_digits(at),
        local.hour(),
        local.minute(),
        local.second(),
        random_digits(15)
    )
}

/// The token in a precreate QR code (`bax` + 20 characters, like `https://qr.alipay.com/bax…`).
#[must_use]
pub fn qr_token() -> String {
    const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let tail: String = (0..20)
        .map(|_| char::from(ALPHABET[rand::random_range(0..ALPHABET.len())]))
        .collect();
    format!("bax{tail}")
}

/// A stable seller id for an app: `2088` + 12 digits derived from the app id (FNV-1a), so the
/// same app gets the same seller id after a reset or on another machine.
#[must_use]
pub fn seller_id_for(app_id: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in app_id.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("2088{:012}", hash % 1_000_000_000_000)
}

/// A buyer login as Alipay shows it to merchants: `buyer@sandbox.com` → `buy***@sandbox.com`,
/// `13800138000` → `138******00`.
#[must_use]
pub fn mask_logon_id(logon_id: &str) -> String {
    if let Some((local, domain)) = logon_id.split_once('@') {
        let visible: String = local.chars().take(3).collect();
        return format!("{visible}***@{domain}");
    }
    let chars: Vec<char> = logon_id.chars().collect();
    if chars.len() <= 5 {
        return format!(
            "{}***",
            chars.first().map(char::to_string).unwrap_or_default()
        );
    }
    let head: String = chars[..3].iter().collect();
    let tail: String = chars[chars.len() - 2..].iter().collect();
    format!("{head}******{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn shapes() {
        let at = datetime!(2024-05-01 04:01:30 UTC);
        let trade_no = trade_no(at);
        assert_eq!(trade_no.len(), 28);
        assert!(trade_no.starts_with("2024050122001"));
        assert!(trade_no.bytes().all(|b| b.is_ascii_digit()));
        let notify_id = notify_id(at);
        assert_eq!(notify_id.len(), 34);
        assert!(notify_id.starts_with("2024050100222120130"));
        let seller = seller_id_for("2021000000000001");
        assert_eq!(seller.len(), 16);
        assert!(seller.starts_with("2088"));
        assert_eq!(seller, seller_id_for("2021000000000001"));
        assert_ne!(seller, seller_id_for("2021000000000002"));
        assert!(qr_token().starts_with("bax"));
        assert_eq!(qr_token().len(), 23);
    }

    #[test]
    fn masking() {
        assert_eq!(mask_logon_id("buyer@sandbox.com"), "buy***@sandbox.com");
        assert_eq!(mask_logon_id("ab@x.com"), "ab***@x.com");
        assert_eq!(mask_logon_id("13800138000"), "138******00");
        assert_eq!(mask_logon_id("abc"), "a***");
    }
}
