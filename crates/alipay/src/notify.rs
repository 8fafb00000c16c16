//! Asynchronous notifications (`notify_url`) and synchronous returns (`return_url`).
//!
//! Verify, then parse: [`verify_notification`] checks the signature over the raw form body before
//! it looks at a single field, and only then builds the typed [`Notification`]. A return is proof
//! that the *browser* came back, not that money moved: [`ReturnParams`] has no trade status, and
//! a shop must confirm payment by notification or `alipay.trade.query` (see the shop's payments
//! module).

use std::fmt;

use time::OffsetDateTime;

use crate::content::{self, EmptyValues, Params};
use crate::error::VerifyError;
use crate::fields::Fields;
use crate::keys::{PublicKey, SignType, decode_signature};
use crate::money::Money;

/// The body to answer a notification with once it has been handled (and committed). Anything else
/// makes Alipay send it again, up to 8 times over about 25 hours.
pub const ACK: &str = "success";

/// The answer to give a notification that could not be handled; Alipay will retry.
pub const NACK: &str = "failure";

/// The plain `success` body that stops Alipay's retries.
#[must_use]
pub const fn ack() -> &'static str {
    ACK
}

/// `trade_status` of a trade.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TradeStatus {
    /// Created, not paid.
    WaitBuyerPay,
    /// Unpaid and closed (timeout, close, cancel), or paid and fully refunded.
    TradeClosed,
    /// Paid, refundable.
    TradeSuccess,
    /// Paid, no longer refundable.
    TradeFinished,
    /// A status this SDK does not know; kept verbatim.
    Other(String),
}

impl TradeStatus {
    /// Parses the wire name.
    #[must_use]
    pub fn parse(text: &str) -> TradeStatus {
        match text {
            "WAIT_BUYER_PAY" => TradeStatus::WaitBuyerPay,
            "TRADE_CLOSED" => TradeStatus::TradeClosed,
            "TRADE_SUCCESS" => TradeStatus::TradeSuccess,
            "TRADE_FINISHED" => TradeStatus::TradeFinished,
            other => TradeStatus::Other(other.to_owned()),
        }
    }

    /// The wire name.
    #[must_use]
    pub fn as_str(&self) -> &str {
        match self {
            TradeStatus::WaitBuyerPay => "WAIT_BUYER_PAY",
            TradeStatus::TradeClosed => "TRADE_CLOSED",
            TradeStatus::TradeSuccess => "TRADE_SUCCESS",
            TradeStatus::TradeFinished => "TRADE_FINISHED",
            TradeStatus::Other(s) => s,
        }
    }

    /// `TRADE_SUCCESS` or `TRADE_FINISHED`: the only two statuses that mean the buyer paid.
    #[must_use]
    pub fn is_paid(&self) -> bool {
        matches!(self, TradeStatus::TradeSuccess | TradeStatus::TradeFinished)
    }
}

impl fmt::Display for TradeStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for TradeStatus {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for TradeStatus {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<TradeStatus, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Ok(TradeStatus::parse(&text))
    }
}

/// A verified asynchronous notification.
///
/// Typed fields cover what a shop decides on; [`Notification::params`] keeps every field as
/// received (unknown ones included), for storage and for whatever the types do not cover.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Notification {
    /// Constant across the retries of one notification; dedupe on it.
    pub notify_id: String,
    /// `trade_status_sync` for trades.
    pub notify_type: String,
    /// When this attempt was sent.
    pub notify_time: Option<OffsetDateTime>,
    /// The app the trade belongs to; check it is yours.
    pub app_id: String,
    /// The authorising app (ISV mode); equals `app_id` otherwise.
    pub auth_app_id: Option<String>,
    /// The merchant's order number.
    pub out_trade_no: String,
    /// Alipay's trade number.
    pub trade_no: Option<String>,
    /// Present on trade notifications.
    pub trade_status: Option<TradeStatus>,
    /// The order amount; compare with yours before fulfilling.
    pub total_amount: Option<Money>,
    /// What the merchant receives.
    pub receipt_amount: Option<Money>,
    /// What the buyer paid.
    pub buyer_pay_amount: Option<Money>,
    /// Cumulative refunded amount (refund notifications).
    pub refund_fee: Option<Money>,
    /// The refund request (`out_request_no`) a refund notification is about.
    pub out_biz_no: Option<String>,
    /// The seller's Alipay user id (`2088…`); check it is yours when configured.
    pub seller_id: Option<String>,
    /// The buyer's Alipay user id.
    pub buyer_id: Option<String>,
    /// Trade creation.
    pub gmt_create: Option<OffsetDateTime>,
    /// Payment time.
    pub gmt_payment: Option<OffsetDateTime>,
    /// Refund time.
    pub gmt_refund: Option<OffsetDateTime>,
    /// Close time.
    pub gmt_close: Option<OffsetDateTime>,
    /// Echo of the merchant's `passback_params`, verbatim.
    pub passback_params: Option<String>,
    /// Every field as received, `sign` and `sign_type` included.
    pub params: Params,
}

/// The signed parameters the browser brings back to `return_url`.
///
/// There is no `trade_status`: this proves nothing about payment, only that the buyer came back.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ReturnParams {
    /// `alipay.trade.page.pay.return` or `alipay.trade.wap.pay.return`.
    pub method: Option<String>,
    /// The app.
    pub app_id: String,
    /// The merchant's order number.
    pub out_trade_no: String,
    /// Alipay's trade number.
    pub trade_no: Option<String>,
    /// The order amount.
    pub total_amount: Option<Money>,
    /// The seller's Alipay user id.
    pub seller_id: Option<String>,
    /// When Alipay redirected.
    pub timestamp: Option<OffsetDateTime>,
    /// Every parameter as received.
    pub params: Params,
}

/// Checks the signature of already-decoded notification or return parameters, rsaCheckV1 style.
///
/// `sign_type`, when present, must equal `configured`: a notification that claims a weaker
/// algorithm than the merchant uses is refused, not verified with it.
pub fn verify_params(
    params: &Params,
    alipay_public_key: &PublicKey,
    configured: SignType,
) -> Result<(), VerifyError> {
    let sign = params
        .get("sign")
        .filter(|s| !s.is_empty())
        .ok_or(VerifyError::MissingSign)?;
    if let Some(posted) = params.get("sign_type")
        && posted != configured.as_str()
    {
        return Err(VerifyError::SignTypeMismatch {
            posted: posted.clone(),
            configured,
        });
    }
    let signature = decode_signature(sign).ok_or(VerifyError::BadSignature)?;
    let content = content::notify_content(params, EmptyValues::Keep);
    if alipay_public_key
        .verify(configured, content.as_bytes(), &signature)
        .is_ok()
    {
        return Ok(());
    }
    // Alipay itself never sends empty values, so the two rules only differ for relayed or
    // re-built parameter sets; accept either, as the SDKs in the wild disagree (see notify.json).
    if params.values().any(String::is_empty) {
        let content = content::notify_content(params, EmptyValues::Drop);
        if alipay_public_key
            .verify(configured, content.as_bytes(), &signature)
            .is_ok()
        {
            return Ok(());
        }
    }
    Err(VerifyError::BadSignature)
}

/// Verifies a notification's raw `application/x-www-form-urlencoded` body and returns it typed.
pub fn verify_notification(
    body: &[u8],
    alipay_public_key: &PublicKey,
    sign_type: SignType,
) -> Result<Notification, VerifyError> {
    let params = content::parse_form(body)?;
    verify_params(&params, alipay_public_key, sign_type)?;
    Notification::from_verified(params)
}

/// Verifies a return URL's raw query string (with or without the leading `?`, or a whole URL).
pub fn verify_return(
    query: &str,
    alipay_public_key: &PublicKey,
    sign_type: SignType,
) -> Result<ReturnParams, VerifyError> {
    let query = if let Some(q) = query.strip_prefix('?') {
        q
    } else if query.contains("://") {
        query.split_once('?').map_or("", |(_, q)| q)
    } else {
        query
    };
    let query = query.split('#').next().unwrap_or_default();
    let params = content::parse_form(query.as_bytes())?;
    verify_params(&params, alipay_public_key, sign_type)?;
    ReturnParams::from_verified(params)
}

impl Notification {
    /// Builds the typed view of parameters whose signature has been checked.
    pub fn from_verified(params: Params) -> Result<Notification, VerifyError> {
        let fields = Fields(&params);
        Ok(Notification {
            notify_id: fields.required("notify_id")?,
            notify_type: fields.optional("notify_type").unwrap_or_default(),
            notify_time: fields.time("notify_time")?,
            app_id: fields.required("app_id")?,
            auth_app_id: fields.optional("auth_app_id"),
            out_trade_no: fields.required("out_trade_no")?,
            trade_no: fields.optional("trade_no"),
            trade_status: fields
                .optional("trade_status")
                .map(|s| TradeStatus::parse(&s)),
            total_amount: fields.money("total_amount")?,
            receipt_amount: fields.money("receipt_amount")?,
            buyer_pay_amount: fields.money("buyer_pay_amount")?,
            refund_fee: fields.money("refund_fee")?,
            out_biz_no: fields.optional("out_biz_no"),
            seller_id: fields.optional("seller_id"),
            buyer_id: fields.optional("buyer_id"),
            gmt_create: fields.time("gmt_create")?,
            gmt_payment: fields.time("gmt_payment")?,
            gmt_refund: fields.time("gmt_refund")?,
            gmt_close: fields.time("gmt_close")?,
            passback_params: fields.optional("passback_params"),
            params,
        })
    }
}

impl ReturnParams {
    /// Builds the typed view of parameters whose signature has been checked.
    pub fn from_verified(params: Params) -> Result<ReturnParams, VerifyError> {
        let fields = Fields(&params);
        Ok(ReturnParams {
            method: fields.optional("method"),
            app_id: fields.required("app_id")?,
            out_trade_no: fields.required("out_trade_no")?,
            trade_no: fields.optional("trade_no"),
            total_amount: fields.money("total_amount")?,
            seller_id: fields.optional("seller_id"),
            timestamp: fields.time("timestamp")?,
            params,
        })
    }
}
