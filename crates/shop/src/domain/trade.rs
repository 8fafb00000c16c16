//! What Alipay's word about a trade means for an order: the one mapping from an Alipay trade
//! status to an order transition, whoever reported it (a notification, `alipay.trade.query`, a
//! line of the daily bill).

use alipay::TradeStatus;

use super::order::Transition;

/// The transition an Alipay trade status asks for, or `None` when it asks for nothing yet.
///
/// * `TRADE_SUCCESS` / `TRADE_FINISHED`: the money arrived → [`Transition::Pay`].
/// * `TRADE_CLOSED`: closed without payment (timeout, close, cancel) → [`Transition::Cancel`]. A
///   trade that was paid and then fully refunded is also `TRADE_CLOSED`; the order's own state
///   decides (a paid order does not take `Cancel`), and the refund itself arrives as a refund.
/// * `WAIT_BUYER_PAY` and statuses Alipay may add later: nothing.
#[must_use]
pub fn transition_for(status: &TradeStatus) -> Option<Transition> {
    match status {
        TradeStatus::TradeSuccess | TradeStatus::TradeFinished => Some(Transition::Pay),
        TradeStatus::TradeClosed => Some(Transition::Cancel),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::OrderStatus;

    /// Every status Alipay reports, against every order state: what the order becomes.
    #[test]
    fn the_status_table() {
        use OrderStatus::*;
        type Row = [(OrderStatus, Option<OrderStatus>); 5];
        let table: &[(&str, Row)] = &[
            (
                "WAIT_BUYER_PAY",
                [
                    (Unpaid, None),
                    (Paid, None),
                    (Cancelled, None),
                    (TimeoutCancelled, None),
                    (Refunded, None),
                ],
            ),
            (
                "TRADE_SUCCESS",
                [
                    (Unpaid, Some(Paid)),
                    (Paid, None),
                    (Cancelled, Some(Paid)),
                    (TimeoutCancelled, Some(Paid)),
                    (Refunded, None),
                ],
            ),
            (
                "TRADE_FINISHED",
                [
                    (Unpaid, Some(Paid)),
                    (Paid, None),
                    (Cancelled, Some(Paid)),
                    (TimeoutCancelled, Some(Paid)),
                    (Refunded, None),
                ],
            ),
            (
                "TRADE_CLOSED",
                [
                    (Unpaid, Some(Cancelled)),
                    (Paid, None),
                    (Cancelled, None),
                    (TimeoutCancelled, None),
                    (Refunded, None),
                ],
            ),
            (
                "TRADE_PENDING_SOMETHING_NEW",
                [
                    (Unpaid, None),
                    (Paid, None),
                    (Cancelled, None),
                    (TimeoutCancelled, None),
                    (Refunded, None),
                ],
            ),
        ];
        for (name, rows) in table {
            let status = TradeStatus::parse(name);
            for (from, to) in rows {
                let moved = transition_for(&status).and_then(|t| from.apply(t));
                assert_eq!(moved, *to, "{name} on a {from} order");
            }
        }
    }
}
