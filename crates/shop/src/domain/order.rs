//! Order states and the only transitions between them.
//!
//! ```text
//! unpaid ──pay──────────────▶ paid ──full refund──▶ refunded
//!   │  ╲                       ▲
//!   │   ╲─close(timeout)─▶ timeout_cancelled ─pay─┤   money that arrives after a close is kept:
//!   └──cancel / closed at Alipay─▶ cancelled ─pay─┘   the order becomes paid, never lost
//! ```

use std::fmt;
use std::str::FromStr;

use super::Money;

/// Where an order stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OrderStatus {
    /// Created; waiting for the buyer's money.
    Unpaid,
    /// Alipay confirmed the payment; the courses are owned.
    Paid,
    /// Cancelled by the buyer, or found closed at Alipay.
    Cancelled,
    /// Closed because it stayed unpaid too long.
    TimeoutCancelled,
    /// Fully refunded; the courses are no longer owned.
    Refunded,
}

/// Why an order changes state; each is one arrow of the diagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transition {
    /// Alipay says the money arrived (notification, query after return, reconciliation).
    Pay,
    /// The buyer cancelled, or Alipay says the trade is closed.
    Cancel,
    /// The order outlived its payment window.
    Timeout,
    /// Refunds reached the paid amount.
    RefundInFull,
}

impl OrderStatus {
    /// Every status, for metrics and listings.
    pub const ALL: [OrderStatus; 5] = [
        OrderStatus::Unpaid,
        OrderStatus::Paid,
        OrderStatus::Cancelled,
        OrderStatus::TimeoutCancelled,
        OrderStatus::Refunded,
    ];

    /// The name used in the API and the database.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Unpaid => "unpaid",
            OrderStatus::Paid => "paid",
            OrderStatus::Cancelled => "cancelled",
            OrderStatus::TimeoutCancelled => "timeout_cancelled",
            OrderStatus::Refunded => "refunded",
        }
    }

    /// The states `transition` may start from.
    #[must_use]
    pub const fn sources(transition: Transition) -> &'static [OrderStatus] {
        match transition {
            // A payment is never refused for being late: money Alipay took is money the buyer paid.
            Transition::Pay => &[
                OrderStatus::Unpaid,
                OrderStatus::Cancelled,
                OrderStatus::TimeoutCancelled,
            ],
            Transition::Cancel | Transition::Timeout => &[OrderStatus::Unpaid],
            Transition::RefundInFull => &[OrderStatus::Paid],
        }
    }

    /// The state `transition` leads to.
    #[must_use]
    pub const fn target(transition: Transition) -> OrderStatus {
        match transition {
            Transition::Pay => OrderStatus::Paid,
            Transition::Cancel => OrderStatus::Cancelled,
            Transition::Timeout => OrderStatus::TimeoutCancelled,
            Transition::RefundInFull => OrderStatus::Refunded,
        }
    }

    /// Where `transition` takes this state, or `None` when it does not apply.
    #[must_use]
    pub fn apply(self, transition: Transition) -> Option<OrderStatus> {
        OrderStatus::sources(transition)
            .contains(&self)
            .then(|| OrderStatus::target(transition))
    }

    /// Whether the buyer owns the order's courses in this state.
    #[must_use]
    pub const fn grants_access(self) -> bool {
        matches!(self, OrderStatus::Paid)
    }

    /// Whether money was received (refunds aside).
    #[must_use]
    pub const fn is_paid(self) -> bool {
        matches!(self, OrderStatus::Paid | OrderStatus::Refunded)
    }
}

impl fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A status name that is not one of ours.
#[derive(Debug, thiserror::Error)]
#[error("unknown order status {0:?}")]
pub struct UnknownStatus(pub String);

impl FromStr for OrderStatus {
    type Err = UnknownStatus;

    fn from_str(s: &str) -> Result<OrderStatus, UnknownStatus> {
        OrderStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| UnknownStatus(s.to_owned()))
    }
}

/// An order: what a buyer asked to buy, at the prices the catalog set, and where it stands.
#[derive(Clone, Debug)]
pub struct Order {
    /// Row id.
    pub id: i64,
    /// The number Alipay knows it by.
    pub out_trade_no: String,
    /// The buyer.
    pub user_id: i64,
    /// What the cashier shows.
    pub subject: String,
    /// The amount due.
    pub total: Money,
    /// Where it stands.
    pub status: OrderStatus,
    /// Alipay's trade number, once paid.
    pub trade_no: Option<String>,
    /// When Alipay took the money (Unix ms).
    pub paid_at: Option<i64>,
    /// Refunded so far (succeeded refunds only).
    pub refunded: Money,
    /// Created (Unix ms).
    pub created_at: i64,
    /// Closed if unpaid by then (Unix ms).
    pub expires_at: i64,
    /// When the last pay link was issued (Unix ms); reconciliation only checks such orders.
    pub pay_link_at: Option<i64>,
    /// Consecutive reconciliation attempts that failed to decide (backoff).
    pub check_attempts: i64,
    /// The lines (empty when loaded without them).
    pub items: Vec<Item>,
}

/// One line of an order: a course at the price it was sold for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Item {
    /// The course.
    pub course_id: i64,
    /// Its title when bought.
    pub course_name: String,
    /// List price.
    pub price: Money,
    /// Price paid.
    pub real_price: Money,
}

impl Order {
    /// The line for `course_id`, if the order has one.
    #[must_use]
    pub fn item(&self, course_id: i64) -> Option<&Item> {
        self.items.iter().find(|item| item.course_id == course_id)
    }

    /// The course ids of its lines.
    pub fn course_ids(&self) -> impl Iterator<Item = i64> + '_ {
        self.items.iter().map(|item| item.course_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_drawn_arrows_exist() {
        use OrderStatus::*;
        use Transition::*;
        assert_eq!(Unpaid.apply(Pay), Some(Paid));
        assert_eq!(TimeoutCancelled.apply(Pay), Some(Paid));
        assert_eq!(Cancelled.apply(Pay), Some(Paid));
        assert_eq!(Paid.apply(Pay), None, "a duplicate payment changes nothing");
        assert_eq!(Refunded.apply(Pay), None);
        assert_eq!(Unpaid.apply(Timeout), Some(TimeoutCancelled));
        assert_eq!(Paid.apply(Timeout), None, "a paid order never times out");
        assert_eq!(Paid.apply(Cancel), None);
        assert_eq!(Paid.apply(RefundInFull), Some(Refunded));
        assert_eq!(Unpaid.apply(RefundInFull), None);
    }

    #[test]
    fn names_round_trip() {
        for status in OrderStatus::ALL {
            assert_eq!(status.as_str().parse::<OrderStatus>().unwrap(), status);
        }
        assert!("PAID".parse::<OrderStatus>().is_err());
    }
}
