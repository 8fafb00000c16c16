//! The strings Alipay signs, and the URL encoding around them.
//!
//! Two rules, both checked against signatures Alipay really made (see `tests/real_vectors.rs`):
//!
//! * **Requests** (what the merchant signs, what the gateway verifies): every parameter except
//!   `sign`, *including* `sign_type`; parameters whose value is empty or only whitespace are
//!   neither signed nor sent (Java SDK `getSignContent`, and the gateway's own echo of the content
//!   in its `isv.invalid-signature` message).
//! * **Notifications and returns** (what Alipay signs, what the merchant verifies, "rsaCheckV1"):
//!   every received field except `sign` *and* `sign_type`, values form-decoded exactly once.
//!
//! In both, keys are sorted by their bytes and joined as `k=v` with `&`, values raw (never
//! URL-encoded): the content is text, not a query string.

use std::collections::BTreeMap;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode, utf8_percent_encode};

/// Parameters keyed and iterated in byte order of their names, the order Alipay signs in.
pub type Params = BTreeMap<String, String>;

/// The content a request signature covers: all non-empty parameters but `sign`, sorted.
#[must_use]
pub fn request_content(params: &Params) -> String {
    join(
        params
            .iter()
            .filter(|(k, v)| k.as_str() != "sign" && !k.is_empty() && !v.trim().is_empty()),
    )
}

/// Whether empty values take part in a notification's content.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum EmptyValues {
    /// `k=` stays in the content (python-alipay-sdk, Node, PHP official).
    Keep,
    /// Empty values are dropped (Java `rsaCheckV1`, gopay).
    Drop,
}

/// The content a notification or return signature covers: everything but `sign` and `sign_type`.
#[must_use]
pub fn notify_content(params: &Params, empty: EmptyValues) -> String {
    join(params.iter().filter(|(k, v)| is_notify_signed(k, v, empty)))
}

/// Whether a notification's signature covers the field `k` = `v`.
fn is_notify_signed(k: &str, v: &str, empty: EmptyValues) -> bool {
    k != "sign" && k != "sign_type" && (empty == EmptyValues::Keep || !v.is_empty())
}

/// The fields a notification's signature covers: all but `sign` and `sign_type` (and, with
/// [`EmptyValues::Drop`], empty ones).
#[must_use]
pub fn unsigned_fields(params: &Params, empty: EmptyValues) -> Params {
    params
        .iter()
        .filter(|(k, v)| is_notify_signed(k, v, empty))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// `k=v` pairs in key order joined with `&`, values raw (never URL-encoded).
#[must_use]
pub fn join_raw(params: &Params) -> String {
    join(params.iter())
}

fn join<'a>(pairs: impl Iterator<Item = (&'a String, &'a String)>) -> String {
    let mut out = String::new();
    for (k, v) in pairs {
        if !out.is_empty() {
            out.push('&');
        }
        out.push_str(k);
        out.push('=');
        out.push_str(v);
    }
    out
}

/// Characters left as they are in a query value: letters, digits and `_.-~`, as Python's
/// `quote_plus(v, safe='')` (python-alipay-sdk) and RFC 3986 leave them. Everything else,
/// including `+`, `/`, `=` and `&`, is percent-encoded, so a base64 `sign` survives the trip.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'_')
    .remove(b'.')
    .remove(b'-')
    .remove(b'~');

/// Encodes one query-string value form-style: UTF-8 percent-encoding, space as `+`.
#[must_use]
pub fn encode_value(value: &str) -> String {
    utf8_percent_encode(value, QUERY_VALUE)
        .to_string()
        .replace("%20", "+")
}

/// Encodes parameters as a query string: sorted by key, with `sign` (when present) last, byte
/// for byte what python-alipay-sdk writes.
#[must_use]
pub fn query_string(params: &Params) -> String {
    let unsigned = params
        .iter()
        .filter(|(k, _)| k.as_str() != "sign")
        .map(|(k, v)| (k.as_str(), v.as_str()));
    let sign = params.get("sign").map(|s| ("sign", s.as_str()));
    let mut out = String::new();
    for (k, v) in unsigned.chain(sign) {
        if !out.is_empty() {
            out.push('&');
        }
        out.push_str(&encode_value(k));
        out.push('=');
        out.push_str(&encode_value(v));
    }
    out
}

/// What is wrong with a form body or query string.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FormError {
    /// A percent-escape decodes to bytes that are not UTF-8.
    #[error("parameter {0:?} is not valid UTF-8 after decoding")]
    InvalidUtf8(String),
    /// The same name appears twice; Alipay never sends that, an attacker might.
    #[error("parameter {0:?} appears more than once")]
    Duplicate(String),
    /// A pair without a name.
    #[error("a parameter has an empty name")]
    EmptyName,
}

/// Decodes `application/x-www-form-urlencoded` text (a POST body or a query string) exactly once:
/// `+` is a space, `%XX` a byte, the bytes UTF-8. Duplicate names are refused.
pub fn parse_form(text: &[u8]) -> Result<Params, FormError> {
    let mut params = Params::new();
    for pair in text.split(|&b| b == b'&').filter(|p| !p.is_empty()) {
        let (name, value) = match pair.iter().position(|&b| b == b'=') {
            Some(eq) => (&pair[..eq], &pair[eq + 1..]),
            None => (pair, &b""[..]),
        };
        let name = decode_component(name)
            .map_err(|_| FormError::InvalidUtf8(String::from_utf8_lossy(name).into_owned()))?;
        if name.is_empty() {
            return Err(FormError::EmptyName);
        }
        let value = decode_component(value).map_err(|_| FormError::InvalidUtf8(name.clone()))?;
        if params.insert(name.clone(), value).is_some() {
            return Err(FormError::Duplicate(name));
        }
    }
    Ok(params)
}

fn decode_component(raw: &[u8]) -> Result<String, std::str::Utf8Error> {
    let plus_as_space: Vec<u8> = raw
        .iter()
        .map(|&b| if b == b'+' { b' ' } else { b })
        .collect();
    percent_decode(&plus_as_space)
        .decode_utf8()
        .map(|s| s.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Params {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn request_content_sorts_and_keeps_sign_type() {
        let p = params(&[
            ("timestamp", "2024-05-01 12:00:00"),
            ("app_id", "1"),
            ("sign_type", "RSA2"),
            ("sign", "xx"),
        ]);
        assert_eq!(
            request_content(&p),
            "app_id=1&sign_type=RSA2&timestamp=2024-05-01 12:00:00"
        );
    }

    #[test]
    fn request_content_drops_empty_and_blank_values() {
        let p = params(&[("a", "1"), ("b", ""), ("c", "   "), ("d", " x ")]);
        assert_eq!(request_content(&p), "a=1&d= x ");
    }

    #[test]
    fn request_content_uses_raw_values_and_byte_order() {
        let p = params(&[
            ("biz_content", r#"{"subject":"测试 a+b&c=d"}"#),
            ("B", "upper"),
            ("a_b", "1"),
            ("a", "2"),
        ]);
        // Byte order: upper-case before lower-case, "a" before "a_b" before "biz_content".
        assert_eq!(
            request_content(&p),
            r#"B=upper&a=2&a_b=1&biz_content={"subject":"测试 a+b&c=d"}"#
        );
    }

    #[test]
    fn notify_content_drops_sign_and_sign_type() {
        let p = params(&[("sign", "s"), ("sign_type", "RSA2"), ("b", ""), ("a", "1")]);
        assert_eq!(notify_content(&p, EmptyValues::Keep), "a=1&b=");
        assert_eq!(notify_content(&p, EmptyValues::Drop), "a=1");
    }

    #[test]
    fn values_are_encoded_like_quote_plus() {
        assert_eq!(
            encode_value("a b+c/d=e&f~g*h_i.j-k"),
            "a+b%2Bc%2Fd%3De%26f~g%2Ah_i.j-k"
        );
        assert_eq!(encode_value("测"), "%E6%B5%8B");
        assert_eq!(encode_value("%20"), "%2520");
    }

    #[test]
    fn query_string_puts_sign_last() {
        let p = params(&[("sign", "a+b/c=="), ("z", "1"), ("a", "x y")]);
        assert_eq!(query_string(&p), "a=x+y&z=1&sign=a%2Bb%2Fc%3D%3D");
    }

    #[test]
    fn parse_form_decodes_once() {
        let p =
            parse_form(b"subject=a+b%2Bc&passback=k1%253Dv1&empty=&flag&sign=x%2By%3D").unwrap();
        assert_eq!(p["subject"], "a b+c");
        assert_eq!(p["passback"], "k1%3Dv1");
        assert_eq!(p["empty"], "");
        assert_eq!(p["flag"], "");
        assert_eq!(p["sign"], "x+y=");
    }

    #[test]
    fn parse_form_refuses_duplicates_and_bad_utf8() {
        assert_eq!(
            parse_form(b"a=1&a=1"),
            Err(FormError::Duplicate("a".into()))
        );
        assert_eq!(
            parse_form(b"a=%FF"),
            Err(FormError::InvalidUtf8("a".into()))
        );
        assert_eq!(parse_form(b"=1"), Err(FormError::EmptyName));
        assert!(parse_form(b"").unwrap().is_empty());
    }
}
