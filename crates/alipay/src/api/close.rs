use serde::{Deserialize, Serialize};

use super::{ApiRequest, TradeRef};
use crate::error::Error;

/// `alipay.trade.close`: closes an unpaid trade so it can no longer be paid.
///
/// `ACQ.TRADE_NOT_EXIST` is a normal answer for a page-pay order whose cashier was never opened;
/// `ACQ.TRADE_STATUS_ERROR` means it is paid or already closed: query it.
#[derive(Clone, Debug, Serialize)]
pub struct TradeClose {
    #[serde(flatten)]
    trade: TradeRef,
    #[serde(skip_serializing_if = "Option::is_none")]
    operator_id: Option<String>,
    #[serde(skip)]
    notify_url: Option<String>,
}

impl TradeClose {
    /// Close by the merchant's order number.
    pub fn by_out_trade_no(out_trade_no: impl Into<String>) -> TradeClose {
        TradeClose::new(TradeRef::out_trade_no(out_trade_no))
    }

    /// Close a trade.
    #[must_use]
    pub fn new(trade: TradeRef) -> TradeClose {
        TradeClose {
            trade,
            operator_id: None,
            notify_url: None,
        }
    }

    /// Who closed it.
    #[must_use]
    pub fn operator_id(mut self, id: impl Into<String>) -> TradeClose {
        self.operator_id = Some(id.into());
        self
    }

    /// Where to send the `TRADE_CLOSED` notification.
    #[must_use]
    pub fn notify_url(mut self, url: impl Into<String>) -> TradeClose {
        self.notify_url = Some(url.into());
        self
    }
}

impl ApiRequest for TradeClose {
    const METHOD: &'static str = "alipay.trade.close";
    type Response = TradeCloseResponse;

    fn validate(&self) -> Result<(), Error> {
        self.trade.validate()
    }

    fn notify_url(&self) -> Option<&str> {
        self.notify_url.as_deref()
    }
}

/// A closed trade.
#[derive(Clone, Debug, Deserialize)]
#[non_exhaustive]
pub struct TradeCloseResponse {
    /// Alipay's trade number.
    pub trade_no: Option<String>,
    /// The merchant's order number.
    pub out_trade_no: Option<String>,
}
