use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{ApiRequest, TradeRef};
use crate::error::Error;
use crate::money::Money;

/// `alipay.trade.refund`: refunds all or part of a paid trade.
///
/// `out_request_no` identifies the refund: repeating a request with the same one is safe (Alipay
/// answers `fund_change = N`), which is how an ambiguous result (timeout, `20000`) is retried.
/// Several partial refunds need distinct numbers; their sum never exceeds the paid amount.
#[derive(Clone, Debug, Serialize)]
pub struct TradeRefund {
    #[serde(flatten)]
    trade: TradeRef,
    refund_amount: Money,
    out_request_no: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    refund_reason: Option<String>,
}

impl TradeRefund {
    /// Refund `amount` of a trade, identified as refund `out_request_no`.
    pub fn new(trade: TradeRef, amount: Money, out_request_no: impl Into<String>) -> TradeRefund {
        TradeRefund {
            trade,
            refund_amount: amount,
            out_request_no: out_request_no.into(),
            refund_reason: None,
        }
    }

    /// Why (shown to the buyer).
    #[must_use]
    pub fn reason(mut self, reason: impl Into<String>) -> TradeRefund {
        self.refund_reason = Some(reason.into());
        self
    }
}

impl ApiRequest for TradeRefund {
    const METHOD: &'static str = "alipay.trade.refund";
    type Response = TradeRefundResponse;

    fn validate(&self) -> Result<(), Error> {
        self.trade.validate()?;
        if !self.refund_amount.is_valid_trade_amount() {
            return Err(Error::InvalidRequest(format!(
                "refund_amount {} is outside 0.01..100000000.00",
                self.refund_amount
            )));
        }
        if self.out_request_no.is_empty() || self.out_request_no.len() > 64 {
            return Err(Error::InvalidRequest(
                "out_request_no must be 1 to 64 characters".into(),
            ));
        }
        Ok(())
    }
}

/// The refund's result.
#[derive(Clone, Debug, Deserialize)]
#[non_exhaustive]
pub struct TradeRefundResponse {
    /// Alipay's trade number.
    pub trade_no: Option<String>,
    /// The merchant's order number.
    pub out_trade_no: Option<String>,
    /// Whether this call moved money (`false` for an idempotent repeat).
    #[serde(default, with = "super::yes_no_opt")]
    pub fund_change: Option<bool>,
    /// Total refunded on the trade so far, this refund included.
    pub refund_fee: Money,
    /// When the refund was paid out.
    #[serde(default, with = "crate::time::serde_opt")]
    pub gmt_refund_pay: Option<OffsetDateTime>,
    /// Masked buyer login.
    pub buyer_logon_id: Option<String>,
}

/// `alipay.trade.fastpay.refund.query`: whether a refund request went through.
#[derive(Clone, Debug, Serialize)]
pub struct RefundQuery {
    #[serde(flatten)]
    trade: TradeRef,
    out_request_no: String,
}

impl RefundQuery {
    /// Query refund `out_request_no` of a trade.
    pub fn new(trade: TradeRef, out_request_no: impl Into<String>) -> RefundQuery {
        RefundQuery {
            trade,
            out_request_no: out_request_no.into(),
        }
    }
}

impl ApiRequest for RefundQuery {
    const METHOD: &'static str = "alipay.trade.fastpay.refund.query";
    type Response = RefundQueryResponse;
    const SAFE_TO_REPEAT: bool = true;

    fn validate(&self) -> Result<(), Error> {
        self.trade.validate()
    }
}

/// A refund request's state. Refunded if and only if `refund_status` is `REFUND_SUCCESS`.
#[derive(Clone, Debug, Deserialize)]
#[non_exhaustive]
pub struct RefundQueryResponse {
    /// Alipay's trade number.
    pub trade_no: Option<String>,
    /// The merchant's order number.
    pub out_trade_no: Option<String>,
    /// The refund request.
    pub out_request_no: Option<String>,
    /// The trade amount.
    pub total_amount: Option<Money>,
    /// This request's amount.
    pub refund_amount: Option<Money>,
    /// `REFUND_SUCCESS`, or absent when no such refund happened.
    pub refund_status: Option<String>,
    /// When it was paid out.
    #[serde(default, with = "crate::time::serde_opt")]
    pub gmt_refund_pay: Option<OffsetDateTime>,
}

impl RefundQueryResponse {
    /// Whether the refund happened.
    #[must_use]
    pub fn is_refunded(&self) -> bool {
        self.refund_status.as_deref() == Some("REFUND_SUCCESS")
    }
}
