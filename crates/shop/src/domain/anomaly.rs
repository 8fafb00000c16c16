//! Anomalies: what Alipay reported that does not fit the shop's books. Each is recorded for an
//! operator to look at; none is acted on silently.

use std::fmt;
use std::str::FromStr;

/// What kind of misfit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AnomalyKind {
    /// Alipay reports a payment of another amount than the order's: not marked paid.
    AmountMismatch,
    /// A second Alipay trade paid an order already paid.
    SecondTrade,
    /// A buyer paid two orders for the same course: the later one is refunded.
    DoublePayment,
    /// A refund the shop did not ask for (made in the merchant console).
    ExternalRefund,
    /// A refund notification whose amounts do not fit the refund it names.
    RefundMismatch,
    /// Alipay refunded more than the shop thought was paid.
    OverRefunded,
    /// Paid here, but not on Alipay's bill of that day.
    MissingFromBill,
    /// Alipay's bill names an order the shop does not have.
    UnknownOrder,
}

impl AnomalyKind {
    /// Every kind.
    pub const ALL: [AnomalyKind; 8] = [
        AnomalyKind::AmountMismatch,
        AnomalyKind::SecondTrade,
        AnomalyKind::DoublePayment,
        AnomalyKind::ExternalRefund,
        AnomalyKind::RefundMismatch,
        AnomalyKind::OverRefunded,
        AnomalyKind::MissingFromBill,
        AnomalyKind::UnknownOrder,
    ];

    /// Stored name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            AnomalyKind::AmountMismatch => "amount_mismatch",
            AnomalyKind::SecondTrade => "second_trade",
            AnomalyKind::DoublePayment => "double_payment",
            AnomalyKind::ExternalRefund => "external_refund",
            AnomalyKind::RefundMismatch => "refund_mismatch",
            AnomalyKind::OverRefunded => "over_refunded",
            AnomalyKind::MissingFromBill => "missing_from_bill",
            AnomalyKind::UnknownOrder => "unknown_order",
        }
    }
}

impl fmt::Display for AnomalyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AnomalyKind {
    type Err = String;

    fn from_str(s: &str) -> Result<AnomalyKind, String> {
        AnomalyKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == s)
            .ok_or_else(|| format!("unknown anomaly kind {s:?}"))
    }
}

/// A recorded anomaly.
#[derive(Clone, Debug)]
pub struct Anomaly {
    /// Row id.
    pub id: i64,
    /// What kind.
    pub kind: AnomalyKind,
    /// The order it concerns, when there is one here.
    pub order_id: Option<i64>,
    /// The order number Alipay named.
    pub out_trade_no: Option<String>,
    /// The money involved, when there is a figure.
    pub amount: Option<super::Money>,
    /// What exactly does not fit.
    pub detail: String,
    /// What reported it (notify, query, bill...).
    pub source: String,
    /// Recorded (Unix ms).
    pub created_at: i64,
    /// Resolved (Unix ms), by whom, and how.
    pub resolution: Option<Resolution>,
}

/// How an operator closed an anomaly.
#[derive(Clone, Debug)]
pub struct Resolution {
    /// When (Unix ms).
    pub at: i64,
    /// The operator's user id.
    pub by: i64,
    /// What was done about it.
    pub note: String,
}
