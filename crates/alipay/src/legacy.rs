//! **Deprecated by Alipay**: the legacy MD5 "即时到账" interface (`create_direct_pay_by_user` on the
//! `mapi` gateway), for shops that still run it, so they can be run, tested against the sandbox,
//! and migrated to `alipay.trade.page.pay` ([`crate::WebPay`]). Alipay stopped onboarding it years
//! ago; new shops must not use it.
//!
//! The protocol (spec §13), which has nothing in common with the RSA2 OpenAPI but its trade
//! statuses:
//!
//! * a merchant is a *partner* (`2088…`, the PID) with a 32-character MD5 key shared with Alipay;
//! * `params_filter` drops `sign`, `sign_type` and empty values, the rest is sorted by name and
//!   joined as `k=v&…` with raw values (the "prestr"); `sign = lowercase_hex(md5(prestr + key))`,
//!   with `sign_type=MD5` added after signing;
//! * the browser goes to `https://mapi.alipay.com/gateway.do?_input_charset=utf-8&…`; the return
//!   (GET) and the notification (POST) are signed the same way;
//! * because anyone who learns the key can forge a notification, the merchant asks the gateway
//!   whether a `notify_id` is genuine (`service=notify_verify`, answer `true`/`false`) before
//!   trusting it: [`LegacyClient::verify_notification`] does both checks.
//!
//! ```
//! use alipay::legacy::{DirectPay, LegacyClient, Md5Key};
//! use alipay::Money;
//! let client = LegacyClient::builder("2088101122136241", Md5Key::new("0123456789abcdefghijklmnopqrstuv")?)
//!     .notify_url("https://merchant.example.com/notify")
//!     .return_url("https://merchant.example.com/return")
//!     .build()?;
//! let link = client.direct_pay(&DirectPay::new("ORDER_20240501_0001", Money::from_fen(1), "测试"))?;
//! assert!(link.url().starts_with("https://mapi.alipay.com/gateway.do?_input_charset=utf-8&"));
//! # Ok::<(), alipay::legacy::LegacyError>(())
//! ```

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use md5::{Digest, Md5};
use serde::Deserialize;
use time::OffsetDateTime;

use crate::content::{self, FormError, Params};
use crate::fields::{FieldError, Fields};
use crate::money::Money;
use crate::notify::TradeStatus;

/// The production mapi gateway.
pub const MAPI_PRODUCTION_URL: &str = "https://mapi.alipay.com/gateway.do";
/// The (old) mapi sandbox gateway.
pub const MAPI_SANDBOX_URL: &str = "https://mapi.alipaydev.com/gateway.do";

/// What can go wrong with the legacy interface. Messages never contain the MD5 key.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LegacyError {
    /// The configuration is invalid.
    #[error("invalid legacy configuration: {0}")]
    Config(String),
    /// The MD5 key is unusable.
    #[error("MD5 key: {0}")]
    Key(String),
    /// The request is invalid and was not signed.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// The body or query is not a well-formed form.
    #[error("malformed parameters: {0}")]
    Form(#[from] FormError),
    /// No `sign`.
    #[error("the parameters are not signed")]
    MissingSign,
    /// A `sign_type` other than MD5.
    #[error("sign_type {0:?} is not supported; this interface is verified with MD5 only")]
    UnsupportedSignType(String),
    /// The MD5 signature does not match.
    #[error("the MD5 signature does not match (wrong key, or altered parameters)")]
    BadSignature,
    /// The gateway says this `notify_id` is not one it sent (or no longer valid).
    #[error("the gateway does not confirm notify_id {0:?}: not genuine, or expired")]
    NotGenuine(String),
    /// `notify_verify` could not be asked: the notification's authenticity is unknown, answer
    /// `fail` so that Alipay sends it again.
    #[error("notify_verify failed: {0}")]
    Transport(String),
    /// Genuine, but its fields are not what the typed view needs.
    #[error(transparent)]
    Field(#[from] FieldError),
}

/// A partner's MD5 key. Never printed: `Debug` shows only its length.
#[derive(Clone, PartialEq, Eq)]
pub struct Md5Key(String);

impl fmt::Debug for Md5Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Md5Key({} chars, ..)", self.0.len())
    }
}

impl Md5Key {
    /// A key as Alipay's console shows it: 32 letters and digits. Surrounding whitespace is
    /// dropped; inner whitespace or other characters are refused (a copy-paste accident).
    pub fn new(text: &str) -> Result<Md5Key, LegacyError> {
        let key = text.trim();
        if key.is_empty() {
            return Err(LegacyError::Key("the key is empty".into()));
        }
        if let Some(position) = key.chars().position(|c| !c.is_ascii_alphanumeric()) {
            return Err(LegacyError::Key(format!(
                "unexpected character at position {position}; the key is letters and digits only"
            )));
        }
        if key.len() > 64 {
            return Err(LegacyError::Key(format!(
                "the key is {} characters; Alipay's MD5 keys are 32",
                key.len()
            )));
        }
        Ok(Md5Key(key.to_owned()))
    }

    /// Reads a key file (the key alone, surrounding whitespace ignored).
    pub fn from_file(path: impl AsRef<Path>) -> Result<Md5Key, LegacyError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| {
            LegacyError::Key(format!("cannot read key file {}: {e}", path.display()))
        })?;
        Md5Key::new(&text)
    }

    /// The key's length; Alipay's are 32 characters.
    #[must_use]
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Always false: an empty key cannot be built.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The key itself, to store it (the sandbox does). Never log it.
    #[must_use]
    pub fn expose_secret(&self) -> &str {
        &self.0
    }
}

impl FromStr for Md5Key {
    type Err = LegacyError;
    fn from_str(s: &str) -> Result<Md5Key, LegacyError> {
        Md5Key::new(s)
    }
}

/// `paraFilter`: every parameter but `sign`, `sign_type` and the empty ones.
#[must_use]
pub fn params_filter(params: &Params) -> Params {
    content::unsigned_fields(params, content::EmptyValues::Drop)
}

/// `createLinkstring`: `k=v` pairs in key order joined with `&`, values raw.
#[must_use]
pub fn link_string(params: &Params) -> String {
    content::join_raw(params)
}

/// The signed text ("prestr"): [`link_string`] of [`params_filter`], which is the modern
/// notification rule with empty values dropped.
#[must_use]
pub fn sign_content(params: &Params) -> String {
    content::notify_content(params, content::EmptyValues::Drop)
}

/// `md5(prestr + key)` in lower-case hex.
#[must_use]
pub fn md5_sign(params: &Params, key: &Md5Key) -> String {
    let mut hasher = Md5::new();
    hasher.update(sign_content(params).as_bytes());
    hasher.update(key.0.as_bytes());
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Checks `sign` (and that `sign_type` is MD5) over received parameters.
pub fn verify_md5(params: &Params, key: &Md5Key) -> Result<(), LegacyError> {
    let sign = params
        .get("sign")
        .filter(|s| !s.is_empty())
        .ok_or(LegacyError::MissingSign)?;
    match params.get("sign_type") {
        Some(sign_type) if sign_type.eq_ignore_ascii_case("MD5") => {}
        Some(other) => return Err(LegacyError::UnsupportedSignType(other.clone())),
        None => return Err(LegacyError::UnsupportedSignType(String::new())),
    }
    let expected = md5_sign(params, key);
    // Compare without stopping at the first difference.
    let given = sign.to_ascii_lowercase();
    let same = given.len() == expected.len()
        && given
            .bytes()
            .zip(expected.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
    if same {
        Ok(())
    } else {
        Err(LegacyError::BadSignature)
    }
}

/// Which mapi gateway.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum LegacyGateway {
    /// `https://mapi.alipay.com/gateway.do`
    Production,
    /// `https://mapi.alipaydev.com/gateway.do`
    Sandbox,
    /// Any other URL, such as this project's sandbox (`http://127.0.0.1:PORT/gateway.do`).
    Url(String),
}

impl LegacyGateway {
    /// The gateway URL.
    #[must_use]
    pub fn url(&self) -> &str {
        match self {
            LegacyGateway::Production => MAPI_PRODUCTION_URL,
            LegacyGateway::Sandbox => MAPI_SANDBOX_URL,
            LegacyGateway::Url(url) => url,
        }
    }
}

impl FromStr for LegacyGateway {
    type Err = LegacyError;

    /// `production`, `sandbox`, or an `http(s)://` URL.
    fn from_str(s: &str) -> Result<LegacyGateway, LegacyError> {
        match s {
            "production" | "prod" => Ok(LegacyGateway::Production),
            "sandbox" => Ok(LegacyGateway::Sandbox),
            url => match url::Url::parse(url) {
                Ok(parsed) if matches!(parsed.scheme(), "http" | "https") => {
                    Ok(LegacyGateway::Url(url.to_owned()))
                }
                _ => Err(LegacyError::Config(format!(
                    "gateway {url:?} must be production, sandbox or an http(s) URL"
                ))),
            },
        }
    }
}

/// A `create_direct_pay_by_user` order.
#[derive(Clone, Debug)]
pub struct DirectPay {
    out_trade_no: String,
    total_fee: Money,
    subject: String,
    body: Option<String>,
    show_url: Option<String>,
    extra_common_param: Option<String>,
    it_b_pay: Option<String>,
    exter_invoke_ip: Option<String>,
    anti_phishing_key: Option<String>,
    notify_url: Option<String>,
    return_url: Option<String>,
    extra: Params,
}

impl DirectPay {
    /// An order of `total_fee` for `subject`.
    pub fn new(
        out_trade_no: impl Into<String>,
        total_fee: Money,
        subject: impl Into<String>,
    ) -> DirectPay {
        DirectPay {
            out_trade_no: out_trade_no.into(),
            total_fee,
            subject: subject.into(),
            body: None,
            show_url: None,
            extra_common_param: None,
            it_b_pay: None,
            exter_invoke_ip: None,
            anti_phishing_key: None,
            notify_url: None,
            return_url: None,
            extra: Params::new(),
        }
    }

    /// The description.
    #[must_use]
    pub fn body(mut self, body: impl Into<String>) -> DirectPay {
        self.body = Some(body.into());
        self
    }

    /// The product page shown on the cashier.
    #[must_use]
    pub fn show_url(mut self, url: impl Into<String>) -> DirectPay {
        self.show_url = Some(url.into());
        self
    }

    /// Echoed back verbatim in the return and the notification.
    #[must_use]
    pub fn extra_common_param(mut self, value: impl Into<String>) -> DirectPay {
        self.extra_common_param = Some(value.into());
        self
    }

    /// The payment window (`15m`, `2h`, `1d`, `1c`).
    #[must_use]
    pub fn it_b_pay(mut self, window: impl Into<String>) -> DirectPay {
        self.it_b_pay = Some(window.into());
        self
    }

    /// The buyer's IP, for Alipay's anti-phishing checks.
    #[must_use]
    pub fn exter_invoke_ip(mut self, ip: impl Into<String>) -> DirectPay {
        self.exter_invoke_ip = Some(ip.into());
        self
    }

    /// A timestamp key from `query_timestamp`, for Alipay's anti-phishing checks.
    #[must_use]
    pub fn anti_phishing_key(mut self, key: impl Into<String>) -> DirectPay {
        self.anti_phishing_key = Some(key.into());
        self
    }

    /// This order's `notify_url` instead of the client's.
    #[must_use]
    pub fn notify_url(mut self, url: impl Into<String>) -> DirectPay {
        self.notify_url = Some(url.into());
        self
    }

    /// This order's `return_url` instead of the client's.
    #[must_use]
    pub fn return_url(mut self, url: impl Into<String>) -> DirectPay {
        self.return_url = Some(url.into());
        self
    }

    /// Any other parameter of the interface (`qr_pay_mode`, `paymethod`...).
    #[must_use]
    pub fn param(mut self, key: impl Into<String>, value: impl Into<String>) -> DirectPay {
        self.extra.insert(key.into(), value.into());
        self
    }

    fn validate(&self) -> Result<(), LegacyError> {
        crate::pay::check_out_trade_no(&self.out_trade_no).map_err(LegacyError::InvalidRequest)?;
        if !self.total_fee.is_valid_trade_amount() {
            return Err(LegacyError::InvalidRequest(format!(
                "total_fee {} must be between 0.01 and 100000000.00",
                self.total_fee
            )));
        }
        let subject = self.subject.trim();
        if subject.is_empty() || subject.chars().count() > 256 {
            return Err(LegacyError::InvalidRequest(
                "subject must be 1 to 256 characters".into(),
            ));
        }
        Ok(())
    }
}

/// A signed legacy request: a redirect URL or an auto-submitting form for the browser.
#[derive(Clone, Debug)]
pub struct LegacySignedRequest {
    params: Params,
    content: String,
    gateway: String,
}

impl LegacySignedRequest {
    /// Every parameter, `sign` and `sign_type` included.
    #[must_use]
    pub fn params(&self) -> &Params {
        &self.params
    }

    /// The signed text without the key (the "prestr").
    #[must_use]
    pub fn content(&self) -> &str {
        &self.content
    }

    /// The MD5 signature.
    #[must_use]
    pub fn signature(&self) -> &str {
        &self.params["sign"]
    }

    /// `gateway?_input_charset=utf-8&…` for a redirect (GET).
    #[must_use]
    pub fn url(&self) -> String {
        let separator = if self.gateway.contains('?') { '&' } else { '?' };
        let rest: Params = self
            .params
            .iter()
            .filter(|(k, _)| k.as_str() != "_input_charset")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        format!(
            "{}{separator}_input_charset=utf-8&{}",
            self.gateway,
            content::query_string(&rest)
        )
    }

    /// The auto-submitting form the legacy PHP demo (`buildRequestForm`) prints.
    #[must_use]
    pub fn form_html(&self) -> String {
        let separator = if self.gateway.contains('?') { '&' } else { '?' };
        let style = crate::request::FormStyle {
            attributes: "id=\"alipaysubmit\" name=\"alipaysubmit\"",
            label: "确认",
            script: "document.forms['alipaysubmit'].submit();",
        };
        crate::request::auto_submit_form(
            &format!("{}{separator}_input_charset=utf-8", self.gateway),
            &style,
            &self.params,
        )
    }
}

/// A verified legacy notification (POST to `notify_url`).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct LegacyNotification {
    /// Ask the gateway about it (`notify_verify`); dedupe on it.
    pub notify_id: String,
    /// `trade_status_sync`.
    pub notify_type: String,
    /// When this attempt was sent.
    pub notify_time: Option<OffsetDateTime>,
    /// The merchant's order number.
    pub out_trade_no: String,
    /// Alipay's trade number.
    pub trade_no: Option<String>,
    /// `TRADE_SUCCESS`/`TRADE_FINISHED` mean paid.
    pub trade_status: Option<TradeStatus>,
    /// The order amount; compare with yours.
    pub total_fee: Option<Money>,
    /// The seller (your partner id); check it is yours.
    pub seller_id: Option<String>,
    /// The seller's account.
    pub seller_email: Option<String>,
    /// The buyer's Alipay user id.
    pub buyer_id: Option<String>,
    /// The buyer's account.
    pub buyer_email: Option<String>,
    /// Payment time.
    pub gmt_payment: Option<OffsetDateTime>,
    /// Echo of the order's `extra_common_param`.
    pub extra_common_param: Option<String>,
    /// Every field as received.
    pub params: Params,
}

/// The verified parameters the browser brings back to `return_url`. Like the OpenAPI return, it
/// proves the browser came back; `trade_status` is there, but confirm with the notification.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct LegacyReturn {
    /// `is_success=T`.
    pub is_success: bool,
    /// The merchant's order number.
    pub out_trade_no: String,
    /// Alipay's trade number.
    pub trade_no: Option<String>,
    /// As reported at redirect time.
    pub trade_status: Option<TradeStatus>,
    /// The order amount.
    pub total_fee: Option<Money>,
    /// The seller.
    pub seller_id: Option<String>,
    /// For `notify_verify`.
    pub notify_id: Option<String>,
    /// Echo of `extra_common_param`.
    pub extra_common_param: Option<String>,
    /// Every parameter as received.
    pub params: Params,
}

impl LegacyNotification {
    fn from_verified(params: Params) -> Result<LegacyNotification, LegacyError> {
        let f = Fields(&params);
        Ok(LegacyNotification {
            notify_id: f.required("notify_id")?,
            notify_type: f.optional("notify_type").unwrap_or_default(),
            notify_time: f.time("notify_time")?,
            out_trade_no: f.required("out_trade_no")?,
            trade_no: f.optional("trade_no"),
            trade_status: f.optional("trade_status").map(|s| TradeStatus::parse(&s)),
            total_fee: f.money("total_fee")?,
            seller_id: f.optional("seller_id"),
            seller_email: f.optional("seller_email"),
            buyer_id: f.optional("buyer_id"),
            buyer_email: f.optional("buyer_email"),
            gmt_payment: f.time("gmt_payment")?,
            extra_common_param: f.optional("extra_common_param"),
            params,
        })
    }
}

impl LegacyReturn {
    fn from_verified(params: Params) -> Result<LegacyReturn, LegacyError> {
        let f = Fields(&params);
        Ok(LegacyReturn {
            is_success: f.optional("is_success").as_deref() == Some("T"),
            out_trade_no: f.required("out_trade_no")?,
            trade_no: f.optional("trade_no"),
            trade_status: f.optional("trade_status").map(|s| TradeStatus::parse(&s)),
            total_fee: f.money("total_fee")?,
            seller_id: f.optional("seller_id"),
            notify_id: f.optional("notify_id"),
            extra_common_param: f.optional("extra_common_param"),
            params,
        })
    }
}

/// A partner on the legacy interface. Cheap to clone.
#[derive(Clone)]
pub struct LegacyClient {
    inner: Arc<LegacyInner>,
}

struct LegacyInner {
    partner: String,
    key: Md5Key,
    seller_id: String,
    seller_email: Option<String>,
    gateway: LegacyGateway,
    notify_url: Option<String>,
    return_url: Option<String>,
    http: reqwest::Client,
}

impl fmt::Debug for LegacyClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LegacyClient")
            .field("partner", &self.inner.partner)
            .field("gateway", &self.inner.gateway)
            .finish_non_exhaustive()
    }
}

/// Builds a [`LegacyClient`].
#[derive(Debug)]
#[must_use]
pub struct LegacyClientBuilder {
    partner: String,
    key: Md5Key,
    seller_id: Option<String>,
    seller_email: Option<String>,
    gateway: LegacyGateway,
    notify_url: Option<String>,
    return_url: Option<String>,
    timeout: Duration,
    http: Option<reqwest::Client>,
}

impl LegacyClientBuilder {
    /// The seller (default: the partner itself, as for every 即时到账 merchant).
    pub fn seller_id(mut self, seller_id: impl Into<String>) -> LegacyClientBuilder {
        self.seller_id = Some(seller_id.into());
        self
    }

    /// The seller's account, sent as `seller_email` besides `seller_id`.
    pub fn seller_email(mut self, email: impl Into<String>) -> LegacyClientBuilder {
        self.seller_email = Some(email.into());
        self
    }

    /// The gateway (default: production mapi).
    pub fn gateway(mut self, gateway: LegacyGateway) -> LegacyClientBuilder {
        self.gateway = gateway;
        self
    }

    /// The default `notify_url`.
    pub fn notify_url(mut self, url: impl Into<String>) -> LegacyClientBuilder {
        self.notify_url = Some(url.into());
        self
    }

    /// The default `return_url`.
    pub fn return_url(mut self, url: impl Into<String>) -> LegacyClientBuilder {
        self.return_url = Some(url.into());
        self
    }

    /// Time allowed for a `notify_verify` call (default 10 s).
    pub fn timeout(mut self, timeout: Duration) -> LegacyClientBuilder {
        self.timeout = timeout;
        self
    }

    /// Uses this HTTP client instead of building one.
    pub fn http_client(mut self, client: reqwest::Client) -> LegacyClientBuilder {
        self.http = Some(client);
        self
    }

    /// Checks the configuration and builds the client.
    pub fn build(self) -> Result<LegacyClient, LegacyError> {
        check_partner(&self.partner)?;
        let seller_id = self.seller_id.unwrap_or_else(|| self.partner.clone());
        check_partner(&seller_id).map_err(|_| {
            LegacyError::Config(format!(
                "seller_id {seller_id:?} must be 2088 followed by 12 digits"
            ))
        })?;
        for (which, url) in [
            ("notify_url", &self.notify_url),
            ("return_url", &self.return_url),
        ] {
            if let Some(url) = url {
                crate::request::check_callback_url(which, url)
                    .map_err(|e| LegacyError::Config(e.to_string()))?;
            }
        }
        let http = match self.http {
            Some(http) => http,
            None => reqwest::Client::builder()
                .timeout(self.timeout)
                .user_agent(concat!("alipay-rs/", env!("CARGO_PKG_VERSION")))
                .build()
                .map_err(|e| LegacyError::Config(format!("HTTP client: {e}")))?,
        };
        Ok(LegacyClient {
            inner: Arc::new(LegacyInner {
                partner: self.partner,
                key: self.key,
                seller_id,
                seller_email: self.seller_email,
                gateway: self.gateway,
                notify_url: self.notify_url,
                return_url: self.return_url,
                http,
            }),
        })
    }
}

/// A partner id (PID): `2088` and 12 more digits.
pub fn check_partner(partner: &str) -> Result<(), LegacyError> {
    if crate::api::is_user_id(partner) {
        Ok(())
    } else {
        Err(LegacyError::Config(format!(
            "partner {partner:?} must be the PID from the Alipay console: 2088 followed by 12 digits"
        )))
    }
}

impl LegacyClient {
    /// Starts a client for `partner` (`2088…`) with its MD5 key.
    pub fn builder(partner: impl Into<String>, key: Md5Key) -> LegacyClientBuilder {
        LegacyClientBuilder {
            partner: partner.into(),
            key,
            seller_id: None,
            seller_email: None,
            gateway: LegacyGateway::Production,
            notify_url: None,
            return_url: None,
            timeout: Duration::from_secs(10),
            http: None,
        }
    }

    /// The partner id.
    #[must_use]
    pub fn partner(&self) -> &str {
        &self.inner.partner
    }

    /// The seller id orders are made out to.
    #[must_use]
    pub fn seller_id(&self) -> &str {
        &self.inner.seller_id
    }

    /// The gateway.
    #[must_use]
    pub fn gateway(&self) -> &LegacyGateway {
        &self.inner.gateway
    }

    /// The unsigned parameters of an order.
    pub fn direct_pay_params(&self, order: &DirectPay) -> Result<Params, LegacyError> {
        order.validate()?;
        let mut params = order.extra.clone();
        let mut put = |k: &str, v: Option<&str>| {
            if let Some(v) = v.filter(|v| !v.is_empty()) {
                params.insert(k.to_owned(), v.to_owned());
            }
        };
        put("service", Some("create_direct_pay_by_user"));
        put("partner", Some(&self.inner.partner));
        put("_input_charset", Some("utf-8"));
        put("payment_type", Some("1"));
        put("seller_id", Some(&self.inner.seller_id));
        put("seller_email", self.inner.seller_email.as_deref());
        put("out_trade_no", Some(&order.out_trade_no));
        put("subject", Some(&order.subject));
        put("total_fee", Some(&order.total_fee.to_string()));
        put("body", order.body.as_deref());
        put("show_url", order.show_url.as_deref());
        put("extra_common_param", order.extra_common_param.as_deref());
        put("it_b_pay", order.it_b_pay.as_deref());
        put("exter_invoke_ip", order.exter_invoke_ip.as_deref());
        put("anti_phishing_key", order.anti_phishing_key.as_deref());
        let notify_url = order
            .notify_url
            .as_deref()
            .or(self.inner.notify_url.as_deref());
        let return_url = order
            .return_url
            .as_deref()
            .or(self.inner.return_url.as_deref());
        for (which, url) in [("notify_url", notify_url), ("return_url", return_url)] {
            if let Some(url) = url {
                crate::request::check_callback_url(which, url)
                    .map_err(|e| LegacyError::InvalidRequest(e.to_string()))?;
            }
        }
        put("notify_url", notify_url);
        put("return_url", return_url);
        Ok(params)
    }

    /// Signs parameters with the MD5 key: `sign`, then `sign_type=MD5`.
    #[must_use]
    pub fn sign(&self, params: Params) -> LegacySignedRequest {
        let mut params = params_filter(&params);
        let content = link_string(&params);
        let sign = md5_sign(&params, &self.inner.key);
        params.insert("sign".into(), sign);
        params.insert("sign_type".into(), "MD5".into());
        LegacySignedRequest {
            params,
            content,
            gateway: self.inner.gateway.url().to_owned(),
        }
    }

    /// A signed `create_direct_pay_by_user` request for the browser.
    pub fn direct_pay(&self, order: &DirectPay) -> Result<LegacySignedRequest, LegacyError> {
        Ok(self.sign(self.direct_pay_params(order)?))
    }

    /// Checks the MD5 signature of a notification's raw POST body. Not enough on its own: see
    /// [`LegacyClient::verify_notification`].
    pub fn verify_notification_signature(
        &self,
        body: &[u8],
    ) -> Result<LegacyNotification, LegacyError> {
        let params = content::parse_form(body)?;
        verify_md5(&params, &self.inner.key)?;
        LegacyNotification::from_verified(params)
    }

    /// Verifies a notification as the legacy demo does: the MD5 signature, then `notify_verify`
    /// (the gateway must confirm the `notify_id`). A [`LegacyError::Transport`] means "unknown":
    /// answer `fail` and Alipay will send it again.
    pub async fn verify_notification(
        &self,
        body: &[u8],
    ) -> Result<LegacyNotification, LegacyError> {
        let notification = self.verify_notification_signature(body)?;
        if !self.notify_verify(&notification.notify_id).await? {
            return Err(LegacyError::NotGenuine(notification.notify_id));
        }
        Ok(notification)
    }

    /// Checks the MD5 signature of a return (the raw query string, with or without `?`, or the
    /// whole URL).
    pub fn verify_return_signature(&self, query: &str) -> Result<LegacyReturn, LegacyError> {
        let query = match query.split_once('?') {
            Some((_, q)) => q,
            None => query,
        };
        let query = query.split('#').next().unwrap_or_default();
        let params = content::parse_form(query.as_bytes())?;
        verify_md5(&params, &self.inner.key)?;
        LegacyReturn::from_verified(params)
    }

    /// Verifies a return: the MD5 signature, then `notify_verify` of its `notify_id` when it has
    /// one (as the legacy demo's `verifyReturn`).
    pub async fn verify_return(&self, query: &str) -> Result<LegacyReturn, LegacyError> {
        let returned = self.verify_return_signature(query)?;
        if let Some(notify_id) = &returned.notify_id
            && !self.notify_verify(notify_id).await?
        {
            return Err(LegacyError::NotGenuine(notify_id.clone()));
        }
        Ok(returned)
    }

    /// Asks the gateway whether it really sent `notify_id` (and it is still valid):
    /// `GET gateway?service=notify_verify&partner=…&notify_id=…`, answer `true` or `false`.
    pub async fn notify_verify(&self, notify_id: &str) -> Result<bool, LegacyError> {
        let params: Params = [
            ("service", "notify_verify"),
            ("partner", self.inner.partner.as_str()),
            ("notify_id", notify_id),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let gateway = self.inner.gateway.url();
        let separator = if gateway.contains('?') { '&' } else { '?' };
        let url = format!("{gateway}{separator}{}", content::query_string(&params));
        let response = self
            .inner
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| LegacyError::Transport(e.to_string()))?;
        if !response.status().is_success() {
            return Err(LegacyError::Transport(format!(
                "HTTP status {}",
                response.status().as_u16()
            )));
        }
        let text = response
            .text()
            .await
            .map_err(|e| LegacyError::Transport(e.to_string()))?;
        // The demo's test: `preg_match("/true$/i", $response)`.
        Ok(text.trim_end().to_ascii_lowercase().ends_with("true"))
    }
}

/// The `[alipay.legacy]` table of a configuration file.
///
/// ```toml
/// [alipay.legacy]
/// partner = "2088101122136241"
/// md5_key_file = "keys/md5_key.txt"            # or md5_key = "..."
/// gateway = "production"                       # production | sandbox | http(s)://.../gateway.do
/// notify_url = "https://shop.example.com/alipay/legacy/notify"
/// return_url = "https://shop.example.com/alipay/legacy/return"
/// ```
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LegacyConfig {
    /// The partner id (PID), `2088…`.
    pub partner: String,
    /// The MD5 key, inline.
    pub md5_key: Option<secrecy::SecretString>,
    /// The MD5 key, as a file.
    pub md5_key_file: Option<PathBuf>,
    /// The seller (default: the partner).
    pub seller_id: Option<String>,
    /// The seller's account (`seller_email`).
    pub seller_email: Option<String>,
    /// `production` (default), `sandbox`, or a URL.
    pub gateway: Option<String>,
    /// Default `notify_url`.
    pub notify_url: Option<String>,
    /// Default `return_url`.
    pub return_url: Option<String>,
}

impl fmt::Debug for LegacyConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LegacyConfig")
            .field("partner", &self.partner)
            .field("md5_key", &self.md5_key.as_ref().map(|_| ".."))
            .field("md5_key_file", &self.md5_key_file)
            .field("gateway", &self.gateway)
            .field("notify_url", &self.notify_url)
            .field("return_url", &self.return_url)
            .finish_non_exhaustive()
    }
}

impl LegacyConfig {
    /// Loads the MD5 key.
    pub fn md5_key(&self) -> Result<Md5Key, LegacyError> {
        match (&self.md5_key, &self.md5_key_file) {
            (Some(_), Some(_)) => Err(LegacyError::Config(
                "set md5_key or md5_key_file, not both".into(),
            )),
            (Some(text), None) => Md5Key::new(secrecy::ExposeSecret::expose_secret(text)),
            (None, Some(path)) => Md5Key::from_file(path),
            (None, None) => Err(LegacyError::Config(
                "set md5_key or md5_key_file (the partner's MD5 key)".into(),
            )),
        }
    }

    /// The configured gateway.
    pub fn gateway(&self) -> Result<LegacyGateway, LegacyError> {
        self.gateway
            .as_deref()
            .map_or(Ok(LegacyGateway::Production), str::parse)
    }

    /// Makes a relative key file path relative to `dir`.
    pub fn resolve_paths(&mut self, dir: &Path) {
        if let Some(file) = &mut self.md5_key_file
            && file.is_relative()
        {
            *file = dir.join(&*file);
        }
    }

    /// Builds a client.
    pub fn client(&self) -> Result<LegacyClient, LegacyError> {
        let mut builder =
            LegacyClient::builder(&self.partner, self.md5_key()?).gateway(self.gateway()?);
        if let Some(seller_id) = &self.seller_id {
            builder = builder.seller_id(seller_id);
        }
        if let Some(email) = &self.seller_email {
            builder = builder.seller_email(email);
        }
        if let Some(url) = &self.notify_url {
            builder = builder.notify_url(url);
        }
        if let Some(url) = &self.return_url {
            builder = builder.return_url(url);
        }
        builder.build()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec_params() -> Params {
        [
            ("service", "create_direct_pay_by_user"),
            ("partner", "2088101122136241"),
            ("_input_charset", "utf-8"),
            ("notify_url", "https://merchant.example.com/notify"),
            ("return_url", "https://merchant.example.com/return"),
            ("out_trade_no", "ORDER_20240501_0001"),
            ("subject", "测试"),
            ("payment_type", "1"),
            ("total_fee", "0.01"),
            ("seller_id", "2088101122136241"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }

    /// Spec §13's worked example, byte for byte.
    #[test]
    fn reproduces_the_spec_md5_example() {
        let key = Md5Key::new("0123456789abcdefghijklmnopqrstuv").unwrap();
        let mut params = spec_params();
        params.insert("sign_type".into(), "MD5".into());
        params.insert("sign".into(), "ignored".into());
        params.insert("body".into(), String::new());
        assert_eq!(
            sign_content(&params),
            "_input_charset=utf-8&notify_url=https://merchant.example.com/notify&out_trade_no=ORDER_20240501_0001&partner=2088101122136241&payment_type=1&return_url=https://merchant.example.com/return&seller_id=2088101122136241&service=create_direct_pay_by_user&subject=测试&total_fee=0.01"
        );
        assert_eq!(md5_sign(&params, &key), "1609679ee8d6a6a5dad03b275b4e8993");
    }

    #[test]
    fn the_client_signs_the_spec_order_identically() {
        let key = Md5Key::new("0123456789abcdefghijklmnopqrstuv").unwrap();
        let client = LegacyClient::builder("2088101122136241", key.clone())
            .notify_url("https://merchant.example.com/notify")
            .return_url("https://merchant.example.com/return")
            .build()
            .unwrap();
        let signed = client
            .direct_pay(&DirectPay::new(
                "ORDER_20240501_0001",
                Money::from_fen(1),
                "测试",
            ))
            .unwrap();
        assert_eq!(signed.signature(), "1609679ee8d6a6a5dad03b275b4e8993");
        assert_eq!(signed.params()["sign_type"], "MD5");
        let url = signed.url();
        assert!(
            url.starts_with(
                "https://mapi.alipay.com/gateway.do?_input_charset=utf-8&notify_url=https%3A%2F%2F"
            ),
            "{url}"
        );
        assert_eq!(url.matches("_input_charset").count(), 1);
        let query = content::parse_form(url.split_once('?').unwrap().1.as_bytes()).unwrap();
        assert!(verify_md5(&query, &key).is_ok());
        assert!(
            signed
                .form_html()
                .contains("action=\"https://mapi.alipay.com/gateway.do?_input_charset=utf-8\"")
        );
    }

    #[test]
    fn verification_refuses_tampering_other_sign_types_and_missing_signs() {
        let key = Md5Key::new("0123456789abcdefghijklmnopqrstuv").unwrap();
        let mut params = spec_params();
        params.insert("sign".into(), md5_sign(&params, &key));
        params.insert("sign_type".into(), "MD5".into());
        assert!(verify_md5(&params, &key).is_ok());
        let mut upper = params.clone();
        upper.insert("sign".into(), params["sign"].to_uppercase());
        assert!(verify_md5(&upper, &key).is_ok());
        let mut tampered = params.clone();
        tampered.insert("total_fee".into(), "100.00".into());
        assert!(matches!(
            verify_md5(&tampered, &key),
            Err(LegacyError::BadSignature)
        ));
        let other = Md5Key::new("vutsrqponmlkjihgfedcba9876543210").unwrap();
        assert!(matches!(
            verify_md5(&params, &other),
            Err(LegacyError::BadSignature)
        ));
        let mut rsa = params.clone();
        rsa.insert("sign_type".into(), "RSA".into());
        assert!(matches!(
            verify_md5(&rsa, &key),
            Err(LegacyError::UnsupportedSignType(_))
        ));
        let mut unsigned = params;
        unsigned.remove("sign");
        assert!(matches!(
            verify_md5(&unsigned, &key),
            Err(LegacyError::MissingSign)
        ));
    }

    #[test]
    fn keys_are_checked_and_never_printed() {
        let key = Md5Key::new("  0123456789abcdefghijklmnopqrstuv\n").unwrap();
        assert_eq!(key.len(), 32);
        assert!(!format!("{key:?}").contains("0123"));
        assert!(Md5Key::new("").is_err());
        assert!(Md5Key::new("0123 4567").is_err());
        let config = LegacyConfig {
            partner: "2088101122136241".into(),
            md5_key: Some("0123456789abcdefghijklmnopqrstuv".into()),
            ..LegacyConfig::default()
        };
        assert!(!format!("{config:?}").contains("0123"));
        assert!(check_partner("2088101122136241").is_ok());
        assert!(check_partner("2021000000000001").is_err());
    }
}
