use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{ApiRequest, TradeRef};
use crate::error::Error;
use crate::money::Money;
use crate::notify::TradeStatus;

/// `alipay.trade.query`: the state of a trade, the source of truth when a notification is late
/// or lost. A page-pay trade does not exist (`ACQ.TRADE_NOT_EXIST`) until the buyer opens the
/// cashier.
#[derive(Clone, Debug, Serialize)]
pub struct TradeQuery {
    #[serde(flatten)]
    trade: TradeRef,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    query_options: Vec<String>,
}

impl TradeQuery {
    /// Query by the merchant's order number.
    pub fn by_out_trade_no(out_trade_no: impl Into<String>) -> TradeQuery {
        TradeQuery::new(TradeRef::out_trade_no(out_trade_no))
    }

    /// Query by Alipay's trade number.
    pub fn by_trade_no(trade_no: impl Into<String>) -> TradeQuery {
        TradeQuery::new(TradeRef::trade_no(trade_no))
    }

    /// Query a trade.
    #[must_use]
    pub fn new(trade: TradeRef) -> TradeQuery {
        TradeQuery {
            trade,
            query_options: Vec::new(),
        }
    }

    /// Extra data to return (`fund_bill_list`, `voucher_detail_list`, ...).
    #[must_use]
    pub fn query_option(mut self, option: impl Into<String>) -> TradeQuery {
        self.query_options.push(option.into());
        self
    }
}

impl ApiRequest for TradeQuery {
    const METHOD: &'static str = "alipay.trade.query";
    type Response = TradeQueryResponse;
    const SAFE_TO_REPEAT: bool = true;

    fn validate(&self) -> Result<(), Error> {
        self.trade.validate()
    }
}

/// One funding source of a payment.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct FundBill {
    /// Channel, e.g. `ALIPAYACCOUNT`, `PCREDIT`.
    pub fund_channel: String,
    /// Amount from this channel.
    pub amount: Money,
}

/// The trade as Alipay sees it.
#[derive(Clone, Debug, Deserialize)]
#[non_exhaustive]
pub struct TradeQueryResponse {
    /// Alipay's trade number.
    pub trade_no: String,
    /// The merchant's order number.
    pub out_trade_no: String,
    /// Where the trade stands.
    pub trade_status: TradeStatus,
    /// The order amount.
    pub total_amount: Money,
    /// What the buyer paid (may be `0.00` in the sandbox even when paid).
    pub buyer_pay_amount: Option<Money>,
    /// What the merchant receives.
    pub receipt_amount: Option<Money>,
    /// Invoiceable amount.
    pub invoice_amount: Option<Money>,
    /// Paid with points.
    pub point_amount: Option<Money>,
    /// Payment time (only once paid).
    #[serde(default, with = "crate::time::serde_opt")]
    pub send_pay_date: Option<OffsetDateTime>,
    /// Masked buyer login.
    pub buyer_logon_id: Option<String>,
    /// Buyer's user id (`2088…`).
    pub buyer_user_id: Option<String>,
    /// Buyer's open id (newer apps).
    pub buyer_open_id: Option<String>,
    /// Funding sources (snake_case here, unlike notifications).
    #[serde(default)]
    pub fund_bill_list: Vec<FundBill>,
    /// Every other field of the node.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}
