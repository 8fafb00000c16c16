//! Response nodes written the way Alipay's gateway writes them, byte for byte.
//!
//! Clients verify the signature over the *exact text* of the `<method>_response` node, and several
//! of them slice the body positionally, so the layout is part of the protocol (spec §6.1):
//!
//! * `code`, `msg`, then `sub_code`, `sub_msg` when present, then every other key in alphabetical
//!   order (nested objects too);
//! * compact, no whitespace;
//! * Java `JSONWriter` escaping: `"` `\` `/` and `\b \f \n \r \t` escaped, other ISO control
//!   characters as `\uXXXX` with upper-case hex, everything else (Chinese included) raw UTF-8;
//! * amounts as two-decimal strings, never numbers.
//!
//! `serde_json` cannot be told to escape `/`, so the writer is hand-written; it is small and pure.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use alipay::Money;
use serde_json::Value;

/// The gateway's `code` values and their exact `msg` texts (spec §6.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Code {
    /// `10000 Success`.
    Success,
    /// `10003`: the barcode payment waits for the buyer to confirm it on the phone.
    InProcess,
    /// `20000 Service Currently Unavailable`: outcome unknown.
    Unavailable,
    /// `40001 Missing Required Arguments`.
    MissingArguments,
    /// `40002 Invalid Arguments`.
    InvalidArguments,
    /// `40004 Business Failed`.
    BusinessFailed,
    /// `40006 Insufficient Permissions`.
    InsufficientPermissions,
}

impl Code {
    /// The numeric code as Alipay writes it (a string).
    #[must_use]
    pub const fn code(self) -> &'static str {
        match self {
            Code::Success => "10000",
            Code::InProcess => "10003",
            Code::Unavailable => "20000",
            Code::MissingArguments => "40001",
            Code::InvalidArguments => "40002",
            Code::BusinessFailed => "40004",
            Code::InsufficientPermissions => "40006",
        }
    }

    /// The exact `msg` text.
    #[must_use]
    pub const fn msg(self) -> &'static str {
        match self {
            Code::Success => "Success",
            Code::InProcess => "order success pay inprocess",
            Code::Unavailable => "Service Currently Unavailable",
            Code::MissingArguments => "Missing Required Arguments",
            Code::InvalidArguments => "Invalid Arguments",
            Code::BusinessFailed => "Business Failed",
            Code::InsufficientPermissions => "Insufficient Permissions",
        }
    }
}

/// One response node: status fields plus business fields.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    code: Code,
    sub_code: Option<String>,
    sub_msg: Option<String>,
    fields: BTreeMap<String, Value>,
}

impl Node {
    /// A `10000 Success` node.
    #[must_use]
    pub fn success() -> Node {
        Node {
            code: Code::Success,
            sub_code: None,
            sub_msg: None,
            fields: BTreeMap::new(),
        }
    }

    /// A `10003` node: a barcode payment waiting for the buyer.
    #[must_use]
    pub fn in_process() -> Node {
        Node {
            code: Code::InProcess,
            ..Node::success()
        }
    }

    /// An error node with its `sub_code` and `sub_msg`.
    #[must_use]
    pub fn error(code: Code, sub_code: impl Into<String>, sub_msg: impl Into<String>) -> Node {
        Node {
            code,
            sub_code: Some(sub_code.into()),
            sub_msg: Some(sub_msg.into()),
            fields: BTreeMap::new(),
        }
    }

    /// The node's code.
    #[must_use]
    pub fn code(&self) -> Code {
        self.code
    }

    /// The node's `sub_code`, if any.
    #[must_use]
    pub fn sub_code(&self) -> Option<&str> {
        self.sub_code.as_deref()
    }

    /// The node's `sub_msg`, if any.
    #[must_use]
    pub fn sub_msg(&self) -> Option<&str> {
        self.sub_msg.as_deref()
    }

    /// Adds a string field.
    #[must_use]
    pub fn field(mut self, key: &str, value: impl Into<String>) -> Node {
        self.fields
            .insert(key.to_owned(), Value::String(value.into()));
        self
    }

    /// Adds a string field when there is a value.
    #[must_use]
    pub fn field_opt(self, key: &str, value: Option<impl Into<String>>) -> Node {
        match value {
            Some(value) => self.field(key, value),
            None => self,
        }
    }

    /// Adds an amount, written as a two-decimal string.
    #[must_use]
    pub fn money(self, key: &str, amount: Money) -> Node {
        self.field(key, amount.to_string())
    }

    /// Drops a business field (a node built for one API, reused by another with fewer fields).
    #[must_use]
    pub fn remove(mut self, key: &str) -> Node {
        self.fields.remove(key);
        self
    }

    /// Adds any JSON value (arrays of objects such as `fund_bill_list`).
    #[must_use]
    pub fn value(mut self, key: &str, value: Value) -> Node {
        self.fields.insert(key.to_owned(), value);
        self
    }

    /// The node's JSON text, exactly as Alipay would write it.
    #[must_use]
    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(256);
        out.push('{');
        write_member(
            &mut out,
            "code",
            &Value::String(self.code.code().into()),
            true,
        );
        write_member(
            &mut out,
            "msg",
            &Value::String(self.code.msg().into()),
            false,
        );
        if let Some(sub_code) = &self.sub_code {
            write_member(
                &mut out,
                "sub_code",
                &Value::String(sub_code.clone()),
                false,
            );
        }
        if let Some(sub_msg) = &self.sub_msg {
            write_member(&mut out, "sub_msg", &Value::String(sub_msg.clone()), false);
        }
        for (key, value) in &self.fields {
            write_member(&mut out, key, value, false);
        }
        out.push('}');
        out
    }
}

/// The whole body of a signed answer: `{"<node_name>":<node>,"sign":"<sign>"}`, or in
/// certificate mode `{"<node_name>":<node>,"alipay_cert_sn":"<sn>","sign":"<sign>"}`; no
/// whitespace, the node first, as positional client parsers expect.
#[must_use]
pub fn signed_envelope(
    node_name: &str,
    node_json: &str,
    cert_sn: Option<&str>,
    sign: &str,
) -> String {
    let mut out = String::with_capacity(node_json.len() + sign.len() + node_name.len() + 64);
    out.push('{');
    write_string(&mut out, node_name);
    out.push(':');
    out.push_str(node_json);
    if let Some(sn) = cert_sn {
        out.push_str(",\"alipay_cert_sn\":");
        write_string(&mut out, sn);
    }
    // Alipay leaves `/` in the base64 signature unescaped (spec §15.2).
    out.push_str(",\"sign\":\"");
    out.push_str(sign);
    out.push_str("\"}");
    out
}

/// The body of an unsigned gateway-level refusal: `{"error_response":<node>}`.
#[must_use]
pub fn error_envelope(node_json: &str) -> String {
    format!("{{\"error_response\":{node_json}}}")
}

fn write_member(out: &mut String, key: &str, value: &Value, first: bool) {
    if !first {
        out.push(',');
    }
    write_string(out, key);
    out.push(':');
    write_value(out, value);
}

fn write_value(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                write_value(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (index, key) in keys.into_iter().enumerate() {
                write_member(out, key, &map[key], index == 0);
            }
            out.push('}');
        }
    }
}

/// Writes a JSON string with Java `JSONWriter` escaping.
pub fn write_string(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '/' => out.push_str("\\/"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            // Java's Character.isISOControl: U+0000..U+001F and U+007F..U+009F.
            c if c.is_control() && (c as u32) <= 0x9f => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// `20000 isp.unknow-error` (sic), the gateway's "something broke, result unknown".
#[must_use]
pub fn system_busy() -> Node {
    Node::error(Code::Unavailable, "isp.unknow-error", "系统繁忙")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn status_first_then_alphabetical() {
        let node = Node::error(Code::BusinessFailed, "ACQ.TRADE_NOT_EXIST", "交易不存在")
            .money("receipt_amount", Money::ZERO)
            .field("out_trade_no", "ORDER_X")
            .money("buyer_pay_amount", Money::ZERO)
            .money("point_amount", Money::ZERO)
            .money("invoice_amount", Money::ZERO);
        assert_eq!(
            node.to_json(),
            r#"{"code":"40004","msg":"Business Failed","sub_code":"ACQ.TRADE_NOT_EXIST","sub_msg":"交易不存在","buyer_pay_amount":"0.00","invoice_amount":"0.00","out_trade_no":"ORDER_X","point_amount":"0.00","receipt_amount":"0.00"}"#
        );
    }

    #[test]
    fn escapes_like_java_json_writer() {
        let node = Node::success()
            .field("qr_code", "https://qr.alipay.com/bax0")
            .field("s", "a\"b\\c\u{8}\u{c}\n\r\t\u{1}\u{7f}\u{9f}\u{a0}测");
        assert_eq!(
            node.to_json(),
            "{\"code\":\"10000\",\"msg\":\"Success\",\"qr_code\":\"https:\\/\\/qr.alipay.com\\/bax0\",\"s\":\"a\\\"b\\\\c\\b\\f\\n\\r\\t\\u0001\\u007F\\u009F\u{a0}测\"}"
        );
    }

    #[test]
    fn nested_objects_are_sorted_and_compact() {
        let node = Node::success().value(
            "fund_bill_list",
            json!([{"fund_channel": "ALIPAYACCOUNT", "amount": "88.88"}]),
        );
        assert_eq!(
            node.to_json(),
            r#"{"code":"10000","msg":"Success","fund_bill_list":[{"amount":"88.88","fund_channel":"ALIPAYACCOUNT"}]}"#
        );
    }

    #[test]
    fn envelopes() {
        assert_eq!(
            signed_envelope("alipay_trade_query_response", "{}", None, "a/b+c=="),
            r#"{"alipay_trade_query_response":{},"sign":"a/b+c=="}"#
        );
        assert_eq!(
            signed_envelope("alipay_trade_query_response", "{}", Some("0a1b"), "c2ln"),
            r#"{"alipay_trade_query_response":{},"alipay_cert_sn":"0a1b","sign":"c2ln"}"#
        );
        assert_eq!(error_envelope("{}"), r#"{"error_response":{}}"#);
    }
}
