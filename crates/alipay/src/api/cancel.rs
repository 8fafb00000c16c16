use serde::{Deserialize, Serialize};

use super::{ApiRequest, TradeRef};
use crate::error::Error;

/// `alipay.trade.cancel`: undoes a trade whose outcome is unknown: closes it if unpaid, refunds
/// it in full if paid. Valid for 24 hours after creation.
#[derive(Clone, Debug, Serialize)]
pub struct TradeCancel {
    #[serde(flatten)]
    trade: TradeRef,
}

impl TradeCancel {
    /// Cancel by the merchant's order number.
    pub fn by_out_trade_no(out_trade_no: impl Into<String>) -> TradeCancel {
        TradeCancel::new(TradeRef::out_trade_no(out_trade_no))
    }

    /// Cancel a trade.
    #[must_use]
    pub fn new(trade: TradeRef) -> TradeCancel {
        TradeCancel { trade }
    }
}

impl ApiRequest for TradeCancel {
    const METHOD: &'static str = "alipay.trade.cancel";
    type Response = TradeCancelResponse;

    fn validate(&self) -> Result<(), Error> {
        self.trade.validate()
    }
}

/// What the cancel did.
#[derive(Clone, Debug, Deserialize)]
#[non_exhaustive]
pub struct TradeCancelResponse {
    /// Alipay's trade number.
    pub trade_no: Option<String>,
    /// The merchant's order number.
    pub out_trade_no: Option<String>,
    /// `Y`: call again.
    #[serde(default, with = "super::yes_no_opt")]
    pub retry_flag: Option<bool>,
    /// `close` (unpaid trade closed) or `refund` (paid trade refunded); absent when nothing was done.
    pub action: Option<String>,
}
