//! Amounts of money as an integer count of fen (分).
//!
//! Alipay puts amounts on the wire as decimal strings in yuan (`"138.00"`). Parsing them into a
//! binary float and back is how shops end up charging `137.99999999`; this type never touches a
//! float: it parses the decimal text digit by digit and prints it with integer arithmetic.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A non-negative amount of Chinese yuan, held as a whole number of fen (1 yuan = 100 fen).
///
/// `Display` prints exactly two decimals (`"138.00"`), the form every Alipay API expects;
/// `FromStr` accepts what Alipay and people write: `"138.00"`, `"138.0"`, `"138"`, `"0.01"`.
///
/// ```
/// use alipay::Money;
/// let price: Money = "138.00".parse().unwrap();
/// assert_eq!(price.fen(), 13_800);
/// assert_eq!((price + Money::from_fen(1)).to_string(), "138.01");
/// assert!("1.001".parse::<Money>().is_err());
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Money(i64);

/// Why a text is not an amount of money.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MoneyError {
    /// The text is empty.
    #[error("amount is empty")]
    Empty,
    /// The text is not a plain decimal number (sign, exponent, spaces, letters, several dots...).
    #[error("amount {0:?} is not a decimal number like \"138.00\"")]
    NotDecimal(String),
    /// More than two digits after the decimal point: fen are the smallest unit.
    #[error("amount {0:?} has more than two decimals")]
    TooPrecise(String),
    /// The number does not fit.
    #[error("amount {0:?} is too large")]
    Overflow(String),
    /// A negative count of fen was given to a constructor.
    #[error("amount cannot be negative ({0} fen)")]
    Negative(i64),
}

impl Money {
    /// Zero yuan.
    pub const ZERO: Money = Money(0);
    /// The smallest amount Alipay accepts for a trade (0.01).
    pub const MIN_TRADE: Money = Money(1);
    /// The largest amount Alipay accepts for a trade (100000000.00).
    pub const MAX_TRADE: Money = Money(10_000_000_000);

    /// An amount from a count of fen.
    ///
    /// # Panics
    /// Panics when `fen` is negative; use [`Money::try_from_fen`] for untrusted input.
    #[must_use]
    pub const fn from_fen(fen: i64) -> Money {
        assert!(fen >= 0, "money cannot be negative");
        Money(fen)
    }

    /// An amount from a count of fen, refusing negative counts.
    pub const fn try_from_fen(fen: i64) -> Result<Money, MoneyError> {
        if fen < 0 {
            Err(MoneyError::Negative(fen))
        } else {
            Ok(Money(fen))
        }
    }

    /// An amount of whole yuan.
    ///
    /// # Panics
    /// Panics when `yuan` is negative or too large to count in fen.
    #[must_use]
    pub const fn from_yuan(yuan: i64) -> Money {
        assert!(yuan >= 0 && yuan <= i64::MAX / 100, "yuan out of range");
        Money(yuan * 100)
    }

    /// The amount as a count of fen.
    #[must_use]
    pub const fn fen(self) -> i64 {
        self.0
    }

    /// Whether Alipay accepts this as a trade amount (0.01 ..= 100000000.00).
    #[must_use]
    pub const fn is_valid_trade_amount(self) -> bool {
        self.0 >= Self::MIN_TRADE.0 && self.0 <= Self::MAX_TRADE.0
    }

    /// The sum, or `None` on overflow.
    #[must_use]
    pub const fn checked_add(self, other: Money) -> Option<Money> {
        match self.0.checked_add(other.0) {
            Some(v) => Some(Money(v)),
            None => None,
        }
    }

    /// The difference, or `None` when it would be negative.
    #[must_use]
    pub const fn checked_sub(self, other: Money) -> Option<Money> {
        if other.0 > self.0 {
            None
        } else {
            Some(Money(self.0 - other.0))
        }
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:02}", self.0 / 100, self.0 % 100)
    }
}

impl FromStr for Money {
    type Err = MoneyError;

    fn from_str(text: &str) -> Result<Money, MoneyError> {
        if text.is_empty() {
            return Err(MoneyError::Empty);
        }
        let not_decimal = || MoneyError::NotDecimal(text.to_owned());
        let (whole, frac) = match text.split_once('.') {
            Some((whole, frac)) => (whole, Some(frac)),
            None => (text, None),
        };
        if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) {
            return Err(not_decimal());
        }
        let frac_fen = match frac {
            None => 0,
            Some(frac) => {
                if frac.is_empty() || !frac.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(not_decimal());
                }
                if frac.len() > 2 {
                    return Err(MoneyError::TooPrecise(text.to_owned()));
                }
                let digits: i64 = frac.parse().map_err(|_| not_decimal())?;
                if frac.len() == 1 { digits * 10 } else { digits }
            }
        };
        let overflow = || MoneyError::Overflow(text.to_owned());
        let whole: i64 = whole.parse().map_err(|_| overflow())?;
        whole
            .checked_mul(100)
            .and_then(|fen| fen.checked_add(frac_fen))
            .map(Money)
            .ok_or_else(overflow)
    }
}

impl std::ops::Add for Money {
    type Output = Money;

    /// # Panics
    /// Panics on overflow (more than 92 quadrillion yuan); use [`Money::checked_add`] otherwise.
    fn add(self, other: Money) -> Money {
        self.checked_add(other).expect("money overflow")
    }
}

impl std::iter::Sum for Money {
    fn sum<I: Iterator<Item = Money>>(iter: I) -> Money {
        iter.fold(Money::ZERO, |acc, m| acc + m)
    }
}

impl Serialize for Money {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Money {
    /// Accepts only the string form: a JSON number would have been through a float already.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Money, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// An amount that may be negative, as statements print refunds (`"-138.00"`); still a whole
/// number of fen, never a float.
///
/// ```
/// use alipay::{Money, SignedMoney};
/// let refund: SignedMoney = "-30.50".parse().unwrap();
/// assert_eq!(refund.fen(), -3050);
/// assert_eq!(refund.magnitude(), Money::from_fen(3050));
/// assert_eq!(refund.to_string(), "-30.50");
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SignedMoney(i64);

impl SignedMoney {
    /// Nothing.
    pub const ZERO: SignedMoney = SignedMoney(0);

    /// From a count of fen, negative or not.
    #[must_use]
    pub const fn from_fen(fen: i64) -> SignedMoney {
        SignedMoney(fen)
    }

    /// The count of fen.
    #[must_use]
    pub const fn fen(self) -> i64 {
        self.0
    }

    /// Whether it is below zero.
    #[must_use]
    pub const fn is_negative(self) -> bool {
        self.0 < 0
    }

    /// Its size, without the sign.
    #[must_use]
    pub const fn magnitude(self) -> Money {
        Money(self.0.saturating_abs())
    }

    /// The sum, or `None` on overflow.
    #[must_use]
    pub const fn checked_add(self, other: SignedMoney) -> Option<SignedMoney> {
        match self.0.checked_add(other.0) {
            Some(fen) => Some(SignedMoney(fen)),
            None => None,
        }
    }
}

impl From<Money> for SignedMoney {
    fn from(money: Money) -> SignedMoney {
        SignedMoney(money.0)
    }
}

impl std::ops::Neg for SignedMoney {
    type Output = SignedMoney;

    fn neg(self) -> SignedMoney {
        SignedMoney(self.0.saturating_neg())
    }
}

impl std::ops::Add for SignedMoney {
    type Output = SignedMoney;

    /// # Panics
    /// Panics on overflow; use [`SignedMoney::checked_add`] otherwise.
    fn add(self, other: SignedMoney) -> SignedMoney {
        self.checked_add(other).expect("money overflow")
    }
}

impl std::iter::Sum for SignedMoney {
    fn sum<I: Iterator<Item = SignedMoney>>(iter: I) -> SignedMoney {
        iter.fold(SignedMoney::ZERO, |acc, m| acc + m)
    }
}

impl fmt::Display for SignedMoney {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_negative() {
            f.write_str("-")?;
        }
        fmt::Display::fmt(&self.magnitude(), f)
    }
}

impl FromStr for SignedMoney {
    type Err = MoneyError;

    /// `"138.00"`, `"+138.00"`, `"-138.00"`.
    fn from_str(text: &str) -> Result<SignedMoney, MoneyError> {
        let (negative, digits) = match text.as_bytes().first() {
            Some(b'-') => (true, &text[1..]),
            Some(b'+') => (false, &text[1..]),
            _ => (false, text),
        };
        let magnitude: Money = digits.parse()?;
        Ok(if negative {
            -SignedMoney::from(magnitude)
        } else {
            SignedMoney::from(magnitude)
        })
    }
}

impl Serialize for SignedMoney {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for SignedMoney {
    /// Accepts only the string form, like [`Money`].
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<SignedMoney, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_forms_people_write() {
        assert_eq!("138.00".parse(), Ok(Money(13_800)));
        assert_eq!("138.0".parse(), Ok(Money(13_800)));
        assert_eq!("138".parse(), Ok(Money(13_800)));
        assert_eq!("9.9".parse(), Ok(Money(990)));
        assert_eq!("0.01".parse(), Ok(Money(1)));
        assert_eq!("0".parse(), Ok(Money(0)));
        assert_eq!("007.50".parse(), Ok(Money(750)));
        assert_eq!("99999999.99".parse(), Ok(Money(9_999_999_999)));
    }

    #[test]
    fn rejects_anything_that_is_not_a_plain_decimal() {
        for bad in [
            "", "-1", "+1", "1e3", " 1", "1 ", "1.", ".5", "1.2.3", "1,00", "abc", "NaN", "１",
        ] {
            assert!(bad.parse::<Money>().is_err(), "{bad:?} accepted");
        }
        assert_eq!(
            "1.001".parse::<Money>(),
            Err(MoneyError::TooPrecise("1.001".into()))
        );
        assert!(matches!(
            "99999999999999999999".parse::<Money>(),
            Err(MoneyError::Overflow(_))
        ));
    }

    #[test]
    fn prints_two_decimals() {
        assert_eq!(Money(0).to_string(), "0.00");
        assert_eq!(Money(1).to_string(), "0.01");
        assert_eq!(Money(990).to_string(), "9.90");
        assert_eq!(Money(13_800).to_string(), "138.00");
        assert_eq!(Money::MAX_TRADE.to_string(), "100000000.00");
    }

    #[test]
    fn round_trips_through_text() {
        for fen in [0, 1, 9, 10, 99, 100, 101, 13_800, 9_999_999_999, i64::MAX] {
            let m = Money(fen);
            assert_eq!(m.to_string().parse(), Ok(m));
        }
    }

    #[test]
    fn serde_uses_the_string_form() {
        assert_eq!(serde_json::to_string(&Money(13_800)).unwrap(), "\"138.00\"");
        assert_eq!(serde_json::from_str::<Money>("\"0.01\"").unwrap(), Money(1));
        assert!(serde_json::from_str::<Money>("0.01").is_err());
    }

    #[test]
    fn trade_range() {
        assert!(!Money::ZERO.is_valid_trade_amount());
        assert!(Money(1).is_valid_trade_amount());
        assert!(Money::MAX_TRADE.is_valid_trade_amount());
        assert!(!Money(Money::MAX_TRADE.0 + 1).is_valid_trade_amount());
        assert_eq!(Money(5).checked_sub(Money(6)), None);
        assert_eq!(Money::try_from_fen(-1), Err(MoneyError::Negative(-1)));
    }
}
