//! Identifiers that must not be guessable.

use aws_lc_rs::rand::{SecureRandom, SystemRandom};

const ALPHABET: &[u8; 32] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";

/// `n` random characters from a 32-letter alphabet without look-alikes (5 bits each).
fn random_code(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    SystemRandom::new()
        .fill(&mut bytes)
        .expect("the operating system's random source is available");
    bytes
        .iter()
        .map(|b| char::from(ALPHABET[usize::from(b & 31)]))
        .collect()
}

/// A fresh `out_trade_no`: 26 random characters (130 bits) behind a fixed prefix. Not a clock
/// reading and not a counter, so order numbers reveal nothing and cannot be enumerated.
#[must_use]
pub fn out_trade_no() -> String {
    format!("CS{}", random_code(26))
}

/// A fresh refund request number (`out_request_no`).
#[must_use]
pub fn out_request_no() -> String {
    format!("RF{}", random_code(26))
}

/// A fresh opaque token (request ids and the like).
#[must_use]
pub fn token() -> String {
    random_code(20)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_numbers_are_valid_for_alipay_and_distinct() {
        let a = out_trade_no();
        assert_eq!(a.len(), 28);
        assert!(alipay::pay::check_out_trade_no(&a).is_ok());
        let many: std::collections::HashSet<String> = (0..10_000).map(|_| out_trade_no()).collect();
        assert_eq!(many.len(), 10_000);
    }
}
