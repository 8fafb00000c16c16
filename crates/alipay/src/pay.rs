//! Payments the buyer makes in Alipay's cashier: `alipay.trade.page.pay` (PC web),
//! `alipay.trade.wap.pay` (mobile web) and `alipay.trade.app.pay` (the Alipay app).
//!
//! The SDK never calls the gateway for these: it signs the parameters and the *buyer's side*
//! takes them there: the browser follows [`SignedRequest::url`](crate::SignedRequest::url) or
//! loads [`SignedRequest::form_html`](crate::SignedRequest::form_html); a mobile app hands
//! [`SignedRequest::order_string`](crate::SignedRequest::order_string) to the Alipay app SDK.

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::Value;
use time::OffsetDateTime;

use crate::error::Error;
use crate::json::JsonText;
use crate::money::Money;
use crate::request::check_callback_url;

/// Which cashier.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PayKind {
    /// `alipay.trade.page.pay`, product `FAST_INSTANT_TRADE_PAY`: the PC cashier with a QR code.
    Page,
    /// `alipay.trade.wap.pay`, product `QUICK_WAP_WAY`: the mobile web cashier.
    Wap,
    /// `alipay.trade.app.pay`, product `QUICK_MSECURITY_PAY`: the merchant's mobile app opens
    /// the Alipay app with a signed order string; there is no return URL.
    App,
}

impl PayKind {
    /// The API method.
    #[must_use]
    pub const fn method(self) -> &'static str {
        match self {
            PayKind::Page => "alipay.trade.page.pay",
            PayKind::Wap => "alipay.trade.wap.pay",
            PayKind::App => "alipay.trade.app.pay",
        }
    }

    /// The method name Alipay puts in the return URL; app payments have none.
    #[must_use]
    pub const fn return_method(self) -> Option<&'static str> {
        match self {
            PayKind::Page => Some("alipay.trade.page.pay.return"),
            PayKind::Wap => Some("alipay.trade.wap.pay.return"),
            PayKind::App => None,
        }
    }

    /// The `product_code` the method requires.
    #[must_use]
    pub const fn product_code(self) -> &'static str {
        match self {
            PayKind::Page => "FAST_INSTANT_TRADE_PAY",
            PayKind::Wap => "QUICK_WAP_WAY",
            PayKind::App => "QUICK_MSECURITY_PAY",
        }
    }
}

/// One line of `goods_detail`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct GoodsDetail {
    /// The merchant's product id.
    pub goods_id: String,
    /// Product name.
    pub goods_name: String,
    /// Units.
    pub quantity: u32,
    /// Unit price.
    pub price: Money,
}

/// A payment: the order the buyer will see in Alipay's cashier, on the web or in the Alipay app.
///
/// ```
/// use alipay::{Money, WebPay};
/// let order = WebPay::page("ORDER_42", Money::from_fen(13_800), "Rust 入门课")
///     .body("video course")
///     .timeout_express("15m");
/// assert!(order.validate().is_ok());
/// ```
#[derive(Clone, Debug)]
pub struct WebPay {
    kind: PayKind,
    out_trade_no: String,
    total_amount: Money,
    subject: String,
    product_code: Option<String>,
    body: Option<String>,
    timeout_express: Option<String>,
    time_expire: Option<String>,
    passback_params: Option<String>,
    extend_params: Option<Value>,
    goods_detail: Vec<GoodsDetail>,
    qr_pay_mode: Option<String>,
    qrcode_width: Option<u32>,
    quit_url: Option<String>,
    extra: Vec<(String, Value)>,
    return_url: Option<String>,
    notify_url: Option<String>,
}

impl WebPay {
    /// A PC web payment (`alipay.trade.page.pay`).
    pub fn page(
        out_trade_no: impl Into<String>,
        total_amount: Money,
        subject: impl Into<String>,
    ) -> WebPay {
        WebPay::new(
            PayKind::Page,
            out_trade_no.into(),
            total_amount,
            subject.into(),
        )
    }

    /// A mobile web payment (`alipay.trade.wap.pay`).
    pub fn wap(
        out_trade_no: impl Into<String>,
        total_amount: Money,
        subject: impl Into<String>,
    ) -> WebPay {
        WebPay::new(
            PayKind::Wap,
            out_trade_no.into(),
            total_amount,
            subject.into(),
        )
    }

    /// An app payment (`alipay.trade.app.pay`): sign it with
    /// [`Client::app_pay`](crate::Client::app_pay) and hand the order string to the app.
    pub fn app(
        out_trade_no: impl Into<String>,
        total_amount: Money,
        subject: impl Into<String>,
    ) -> WebPay {
        WebPay::new(
            PayKind::App,
            out_trade_no.into(),
            total_amount,
            subject.into(),
        )
    }

    fn new(kind: PayKind, out_trade_no: String, total_amount: Money, subject: String) -> WebPay {
        WebPay {
            kind,
            out_trade_no,
            total_amount,
            subject,
            product_code: None,
            body: None,
            timeout_express: None,
            time_expire: None,
            passback_params: None,
            extend_params: None,
            goods_detail: Vec::new(),
            qr_pay_mode: None,
            qrcode_width: None,
            quit_url: None,
            extra: Vec::new(),
            return_url: None,
            notify_url: None,
        }
    }

    /// Which cashier.
    #[must_use]
    pub fn kind(&self) -> PayKind {
        self.kind
    }

    /// The merchant's order number.
    #[must_use]
    pub fn out_trade_no(&self) -> &str {
        &self.out_trade_no
    }

    /// The amount.
    #[must_use]
    pub fn total_amount(&self) -> Money {
        self.total_amount
    }

    /// Overrides the default product code (`FAST_INSTANT_TRADE_PAY` / `QUICK_WAP_WAY`).
    #[must_use]
    pub fn product_code(mut self, code: impl Into<String>) -> WebPay {
        self.product_code = Some(code.into());
        self
    }

    /// Order description (≤ 128 characters).
    #[must_use]
    pub fn body(mut self, body: impl Into<String>) -> WebPay {
        self.body = Some(body.into());
        self
    }

    /// Relative payment window: `90m`, `2h`, `3d` (1m..15d), or `1c` (until midnight).
    #[must_use]
    pub fn timeout_express(mut self, window: impl Into<String>) -> WebPay {
        self.timeout_express = Some(window.into());
        self
    }

    /// Absolute deadline, sent as Beijing time. Alipay closes the trade then even if the shop's
    /// own timeout job is down.
    #[must_use]
    pub fn time_expire(mut self, at: OffsetDateTime) -> WebPay {
        self.time_expire = Some(match self.kind {
            PayKind::Page | PayKind::App => crate::time::format(at),
            // The wap API documents minute precision.
            PayKind::Wap => crate::time::format(at)[..16].to_owned(),
        });
        self
    }

    /// Opaque merchant data echoed back verbatim in the notification (≤ 512 characters). Alipay
    /// expects it URL-encoded by the merchant.
    #[must_use]
    pub fn passback_params(mut self, data: impl Into<String>) -> WebPay {
        self.passback_params = Some(data.into());
        self
    }

    /// `extend_params` (e.g. `sys_service_provider_id`, `hb_fq_num`).
    #[must_use]
    pub fn extend_params(mut self, params: Value) -> WebPay {
        self.extend_params = Some(params);
        self
    }

    /// Adds a `goods_detail` line.
    #[must_use]
    pub fn goods(mut self, line: GoodsDetail) -> WebPay {
        self.goods_detail.push(line);
        self
    }

    /// PC cashier QR mode (`0`..`4`; with `4`, `qrcode_width` applies).
    #[must_use]
    pub fn qr_pay_mode(mut self, mode: impl Into<String>, width: Option<u32>) -> WebPay {
        self.qr_pay_mode = Some(mode.into());
        self.qrcode_width = width;
        self
    }

    /// Where the mobile cashier's "back" button goes (wap only).
    #[must_use]
    pub fn quit_url(mut self, url: impl Into<String>) -> WebPay {
        self.quit_url = Some(url.into());
        self
    }

    /// Any other `biz_content` field, written after the typed ones in the order added.
    #[must_use]
    pub fn biz_param(mut self, key: impl Into<String>, value: impl Into<Value>) -> WebPay {
        self.extra.push((key.into(), value.into()));
        self
    }

    /// This payment's `return_url`, instead of the client's default.
    #[must_use]
    pub fn return_url(mut self, url: impl Into<String>) -> WebPay {
        self.return_url = Some(url.into());
        self
    }

    /// This payment's `notify_url`, instead of the client's default.
    #[must_use]
    pub fn notify_url(mut self, url: impl Into<String>) -> WebPay {
        self.notify_url = Some(url.into());
        self
    }

    /// The per-payment `return_url`, if any.
    #[must_use]
    pub fn return_url_override(&self) -> Option<&str> {
        self.return_url.as_deref()
    }

    /// The per-payment `notify_url`, if any.
    #[must_use]
    pub fn notify_url_override(&self) -> Option<&str> {
        self.notify_url.as_deref()
    }

    /// The `biz_content` fields the typed setters will write.
    fn typed_fields_present(&self) -> Vec<&'static str> {
        let mut fields = vec!["subject", "out_trade_no", "total_amount", "product_code"];
        let optional = [
            ("body", self.body.is_some()),
            ("timeout_express", self.timeout_express.is_some()),
            ("time_expire", self.time_expire.is_some()),
            ("passback_params", self.passback_params.is_some()),
            ("extend_params", self.extend_params.is_some()),
            ("goods_detail", !self.goods_detail.is_empty()),
            ("qr_pay_mode", self.qr_pay_mode.is_some()),
            ("qrcode_width", self.qrcode_width.is_some()),
            ("quit_url", self.quit_url.is_some()),
        ];
        fields.extend(
            optional
                .iter()
                .filter(|(_, set)| *set)
                .map(|(name, _)| *name),
        );
        fields
    }

    /// Checks what Alipay's gateway would refuse, before a buyer ever sees an error page.
    pub fn validate(&self) -> Result<(), Error> {
        let invalid = |m: String| Err(Error::InvalidRequest(m));
        if let Err(message) = check_out_trade_no(&self.out_trade_no) {
            return invalid(message);
        }
        if !self.total_amount.is_valid_trade_amount() {
            return invalid(format!(
                "total_amount {} is outside 0.01..100000000.00",
                self.total_amount
            ));
        }
        if self.subject.trim().is_empty() || self.subject.chars().count() > 256 {
            return invalid("subject must be 1 to 256 characters".into());
        }
        if self.body.as_ref().is_some_and(|b| b.chars().count() > 128) {
            return invalid("body must be at most 128 characters".into());
        }
        if let Some(window) = &self.timeout_express
            && !is_valid_timeout_express(window)
        {
            return invalid(format!(
                "timeout_express {window:?} must be minutes, hours or days (1m..15d) or 1c"
            ));
        }
        if self
            .passback_params
            .as_ref()
            .is_some_and(|p| p.chars().count() > 512)
        {
            return invalid("passback_params must be at most 512 characters".into());
        }
        let typed = self.typed_fields_present();
        for (index, (key, _)) in self.extra.iter().enumerate() {
            if typed.contains(&key.as_str()) || self.extra[..index].iter().any(|(k, _)| k == key) {
                return invalid(format!("biz_content field {key} is given twice"));
            }
        }
        if let Some(url) = &self.return_url {
            if self.kind == PayKind::App {
                return invalid("an app payment has no return_url: the app learns the result from the Alipay app SDK, and the shop from the notification".into());
            }
            check_callback_url("return_url", url)?;
        }
        if let Some(url) = &self.notify_url {
            check_callback_url("notify_url", url)?;
        }
        Ok(())
    }

    /// The `biz_content` JSON text: compact, raw UTF-8, fields in a fixed order.
    pub fn biz_content(&self) -> Result<String, Error> {
        self.biz_content_as(JsonText::Utf8)
    }

    /// The `biz_content` JSON text, spelled as `text` says.
    pub fn biz_content_as(&self, text: JsonText) -> Result<String, Error> {
        crate::json::to_string(self, text)
            .map_err(|e| Error::InvalidRequest(format!("biz_content: {e}")))
    }
}

impl Serialize for WebPay {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("subject", &self.subject)?;
        map.serialize_entry("out_trade_no", &self.out_trade_no)?;
        map.serialize_entry("total_amount", &self.total_amount)?;
        map.serialize_entry(
            "product_code",
            self.product_code
                .as_deref()
                .unwrap_or(self.kind.product_code()),
        )?;
        let optional: [(&str, Option<&String>); 4] = [
            ("body", self.body.as_ref()),
            ("timeout_express", self.timeout_express.as_ref()),
            ("time_expire", self.time_expire.as_ref()),
            ("passback_params", self.passback_params.as_ref()),
        ];
        for (key, value) in optional {
            if let Some(value) = value {
                map.serialize_entry(key, value)?;
            }
        }
        if let Some(value) = &self.extend_params {
            map.serialize_entry("extend_params", value)?;
        }
        if !self.goods_detail.is_empty() {
            map.serialize_entry("goods_detail", &self.goods_detail)?;
        }
        if let Some(value) = &self.qr_pay_mode {
            map.serialize_entry("qr_pay_mode", value)?;
        }
        if let Some(value) = &self.qrcode_width {
            // Documented as String(4) in the API, and sent as text by the SDKs.
            map.serialize_entry("qrcode_width", &value.to_string())?;
        }
        if let Some(value) = &self.quit_url {
            map.serialize_entry("quit_url", value)?;
        }
        for (key, value) in &self.extra {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

/// `out_trade_no`: 1 to 64 characters of letters, digits, `_` and `-`.
pub fn check_out_trade_no(out_trade_no: &str) -> Result<(), String> {
    if out_trade_no.is_empty() || out_trade_no.len() > 64 {
        return Err(format!(
            "out_trade_no must be 1 to 64 characters, got {}",
            out_trade_no.len()
        ));
    }
    if !out_trade_no
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(format!(
            "out_trade_no {out_trade_no:?} may contain only letters, digits, '_' and '-'"
        ));
    }
    Ok(())
}

/// `timeout_express`: `<n>m` (n ≥ 1), `<n>h`, `<n>d` (up to 15 days), or `1c`.
fn is_valid_timeout_express(window: &str) -> bool {
    if window == "1c" {
        return true;
    }
    let Some(unit) = window.chars().last() else {
        return false;
    };
    let digits = &window[..window.len() - unit.len_utf8()];
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) || digits.len() > 6 {
        return false;
    }
    let Ok(n) = digits.parse::<u32>() else {
        return false;
    };
    let minutes = match unit {
        'm' => n,
        'h' => n * 60,
        'd' => n * 24 * 60,
        _ => return false,
    };
    (1..=15 * 24 * 60).contains(&minutes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn biz_content_field_order_and_defaults() {
        let pay = WebPay::page("ORD1", Money::from_fen(13_800), "课程 a/b")
            .timeout_express("15m")
            .biz_param("integration_type", "PCWEB");
        assert_eq!(
            pay.biz_content().unwrap(),
            r#"{"subject":"课程 a/b","out_trade_no":"ORD1","total_amount":"138.00","product_code":"FAST_INSTANT_TRADE_PAY","timeout_express":"15m","integration_type":"PCWEB"}"#
        );
        let wap = WebPay::wap("ORD1", Money::from_fen(1), "x").quit_url("https://shop.example/q");
        assert!(
            wap.biz_content()
                .unwrap()
                .contains(r#""product_code":"QUICK_WAP_WAY""#)
        );
    }

    #[test]
    fn validation_catches_what_the_gateway_refuses() {
        let ok = || WebPay::page("ORD_1-a", Money::from_fen(1), "s");
        assert!(ok().validate().is_ok());
        assert!(
            WebPay::page("", Money::from_fen(1), "s")
                .validate()
                .is_err()
        );
        assert!(
            WebPay::page("a".repeat(65), Money::from_fen(1), "s")
                .validate()
                .is_err()
        );
        assert!(
            WebPay::page("订单", Money::from_fen(1), "s")
                .validate()
                .is_err()
        );
        assert!(WebPay::page("o", Money::ZERO, "s").validate().is_err());
        assert!(
            WebPay::page("o", Money::from_fen(10_000_000_001), "s")
                .validate()
                .is_err()
        );
        assert!(
            WebPay::page("o", Money::from_fen(1), " ")
                .validate()
                .is_err()
        );
        assert!(ok().timeout_express("1.5h").validate().is_err());
        assert!(ok().timeout_express("16d").validate().is_err());
        assert!(ok().timeout_express("0m").validate().is_err());
        assert!(ok().timeout_express("1c").validate().is_ok());
        assert!(ok().timeout_express("90m").validate().is_ok());
        assert!(ok().biz_param("subject", "dup").validate().is_err());
        assert!(ok().biz_param("k", 1).biz_param("k", 2).validate().is_err());
        assert!(ok().biz_param("body", "via biz_param").validate().is_ok());
        assert!(
            ok().notify_url("https://x.example/n?a=1")
                .validate()
                .is_err()
        );
    }
}
