//! Settlement: the shop's books for a day against Alipay's trade bill (对账单). Pure: what each
//! bill line means for the shop, given what the shop knows; the use case
//! ([`crate::payments::settlement`]) acts on it.
//!
//! | on the bill | here | finding |
//! |---|---|---|
//! | a payment | paid (or since refunded), same amount | matched |
//! | a payment | unpaid, cancelled or timed out, same amount | [`Finding::PaidAtAlipayOnly`]: pay it through the one state-change path |
//! | a payment | another amount | [`Finding::AmountMismatch`] |
//! | a payment or refund | no such order | [`Finding::UnknownOrder`] |
//! | a refund | succeeded, same amount | matched |
//! | a refund | pending or failed, same amount | [`Finding::RefundConfirmed`]: settle it as succeeded |
//! | a refund | another amount | [`Finding::RefundAmountMismatch`] |
//! | a refund | never asked for here | [`Finding::RefundUnknownHere`]: record it, with its effects |
//! | nothing | paid that day | [`Finding::MissingFromBill`] |

use std::collections::{HashMap, HashSet};
use std::fmt;

use alipay::SignedMoney;
use alipay::bill::{BillLine, Business};
use time::OffsetDateTime;

use super::{Money, Order, OrderStatus, Refund, RefundStatus};

/// What a bill line (or its absence) means.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Finding {
    /// Paid at Alipay, not (or no longer) here: the payment is applied, source `bill`.
    PaidAtAlipayOnly {
        /// The order.
        out_trade_no: String,
        /// Alipay's trade.
        trade_no: String,
        /// What was paid.
        amount: Money,
        /// When.
        paid_at: Option<OffsetDateTime>,
    },
    /// Alipay took another amount than the order's.
    AmountMismatch {
        /// The order.
        out_trade_no: String,
        /// Alipay's trade.
        trade_no: String,
        /// What the bill says.
        alipay: Money,
        /// What the order says.
        shop: Money,
    },
    /// The bill names an order the shop does not have.
    UnknownOrder {
        /// The order number on the bill.
        out_trade_no: String,
        /// Alipay's trade.
        trade_no: String,
        /// The line's amount (negative for a refund).
        amount: SignedMoney,
    },
    /// A refund the shop has as pending or failed was made: it is settled as succeeded.
    RefundConfirmed {
        /// The order.
        out_trade_no: String,
        /// The refund.
        out_request_no: String,
        /// How much.
        amount: Money,
    },
    /// A refund of another amount than the shop asked for.
    RefundAmountMismatch {
        /// The order.
        out_trade_no: String,
        /// The refund.
        out_request_no: String,
        /// What the bill says.
        alipay: Money,
        /// What the shop asked.
        shop: Money,
    },
    /// A refund the shop never asked for (the merchant console): recorded with its effects.
    RefundUnknownHere {
        /// The order.
        out_trade_no: String,
        /// Alipay's trade.
        trade_no: String,
        /// The refund's number at Alipay.
        out_request_no: String,
        /// How much.
        amount: Money,
    },
    /// Paid here that day, but not on Alipay's bill.
    MissingFromBill {
        /// The order.
        out_trade_no: String,
        /// Alipay's trade, as the shop knows it.
        trade_no: Option<String>,
        /// What the shop recorded as paid.
        amount: Money,
    },
}

/// The kinds of findings, as stored and shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FindingKind {
    /// [`Finding::PaidAtAlipayOnly`].
    PaidAtAlipayOnly,
    /// [`Finding::AmountMismatch`].
    AmountMismatch,
    /// [`Finding::UnknownOrder`].
    UnknownOrder,
    /// [`Finding::RefundConfirmed`].
    RefundConfirmed,
    /// [`Finding::RefundAmountMismatch`].
    RefundAmountMismatch,
    /// [`Finding::RefundUnknownHere`].
    RefundUnknownHere,
    /// [`Finding::MissingFromBill`].
    MissingFromBill,
}

impl FindingKind {
    /// Every kind.
    pub const ALL: [FindingKind; 7] = [
        FindingKind::PaidAtAlipayOnly,
        FindingKind::AmountMismatch,
        FindingKind::UnknownOrder,
        FindingKind::RefundConfirmed,
        FindingKind::RefundAmountMismatch,
        FindingKind::RefundUnknownHere,
        FindingKind::MissingFromBill,
    ];

    /// Stored name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            FindingKind::PaidAtAlipayOnly => "paid_at_alipay_only",
            FindingKind::AmountMismatch => "amount_mismatch",
            FindingKind::UnknownOrder => "unknown_order",
            FindingKind::RefundConfirmed => "refund_confirmed",
            FindingKind::RefundAmountMismatch => "refund_amount_mismatch",
            FindingKind::RefundUnknownHere => "refund_unknown_here",
            FindingKind::MissingFromBill => "missing_from_bill",
        }
    }
}

impl fmt::Display for FindingKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for FindingKind {
    type Err = String;

    fn from_str(s: &str) -> Result<FindingKind, String> {
        FindingKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == s)
            .ok_or_else(|| format!("unknown finding kind {s:?}"))
    }
}

impl Finding {
    /// Its kind.
    #[must_use]
    pub const fn kind(&self) -> FindingKind {
        match self {
            Finding::PaidAtAlipayOnly { .. } => FindingKind::PaidAtAlipayOnly,
            Finding::AmountMismatch { .. } => FindingKind::AmountMismatch,
            Finding::UnknownOrder { .. } => FindingKind::UnknownOrder,
            Finding::RefundConfirmed { .. } => FindingKind::RefundConfirmed,
            Finding::RefundAmountMismatch { .. } => FindingKind::RefundAmountMismatch,
            Finding::RefundUnknownHere { .. } => FindingKind::RefundUnknownHere,
            Finding::MissingFromBill { .. } => FindingKind::MissingFromBill,
        }
    }

    /// The order it is about.
    #[must_use]
    pub fn out_trade_no(&self) -> &str {
        match self {
            Finding::PaidAtAlipayOnly { out_trade_no, .. }
            | Finding::AmountMismatch { out_trade_no, .. }
            | Finding::UnknownOrder { out_trade_no, .. }
            | Finding::RefundConfirmed { out_trade_no, .. }
            | Finding::RefundAmountMismatch { out_trade_no, .. }
            | Finding::RefundUnknownHere { out_trade_no, .. }
            | Finding::MissingFromBill { out_trade_no, .. } => out_trade_no,
        }
    }
}

/// A settled day.
#[derive(Clone, Debug)]
pub struct Settlement {
    /// `yyyy-MM-dd`.
    pub bill_date: String,
    /// `running`, `completed`, `no_bill`, `failed`.
    pub status: String,
    /// The bill's side.
    pub alipay: Side,
    /// The shop's side.
    pub shop: Side,
    /// Differences on record for the day.
    pub differences: i64,
    /// Why it failed, when it did.
    pub detail: String,
    /// The operator who ran it last (none: the daily job or the command line).
    pub run_by: Option<i64>,
    /// When the last run started (Unix ms).
    pub started_at: Option<i64>,
    /// When it finished.
    pub finished_at: Option<i64>,
}

/// A difference between the bill and the books, and what was done about it.
#[derive(Clone, Debug)]
pub struct Difference {
    /// What kind.
    pub kind: FindingKind,
    /// The order.
    pub out_trade_no: String,
    /// Alipay's trade (empty when unknown).
    pub trade_no: String,
    /// The refund (empty for payments).
    pub out_request_no: String,
    /// The money (negative for refunds).
    pub amount: alipay::SignedMoney,
    /// What was done about it.
    pub action: String,
    /// Details.
    pub detail: String,
}

/// What the shop knows that the bill is checked against. Each order is held once: on a
/// settled day nearly every order the bill names is one the shop recorded as paid that day.
#[derive(Debug, Default)]
pub struct Books {
    /// Orders paid that day and the others the bill names, by `out_trade_no` (lines not needed).
    pub orders: HashMap<String, Order>,
    /// Refunds named on the bill, by `out_request_no`.
    pub refunds: HashMap<String, Refund>,
    /// The orders (in `orders`) the shop recorded as paid during the day, in the order paid.
    pub paid_that_day: Vec<String>,
}

impl Books {
    /// The books of a day: the orders paid that day, the other orders the bill names, and the
    /// refunds it names.
    #[must_use]
    pub fn new(paid_that_day: Vec<Order>, others: Vec<Order>, refunds: Vec<Refund>) -> Books {
        let mut books = Books {
            orders: HashMap::with_capacity(paid_that_day.len() + others.len()),
            refunds: HashMap::with_capacity(refunds.len()),
            paid_that_day: Vec::with_capacity(paid_that_day.len()),
        };
        for order in paid_that_day {
            books.paid_that_day.push(order.out_trade_no.clone());
            books.orders.insert(order.out_trade_no.clone(), order);
        }
        for order in others {
            books.orders.insert(order.out_trade_no.clone(), order);
        }
        for refund in refunds {
            books.refunds.insert(refund.out_request_no.clone(), refund);
        }
        books
    }

    /// The orders paid that day.
    pub fn paid_that_day(&self) -> impl Iterator<Item = &Order> {
        self.paid_that_day
            .iter()
            .filter_map(|no| self.orders.get(no))
    }
}

/// A side's total: how many lines, and the money they add up to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Side {
    /// Payments and refunds.
    pub count: u64,
    /// Payments minus refunds.
    pub total: SignedMoney,
}

impl Side {
    fn add(&mut self, amount: SignedMoney) {
        self.count += 1;
        self.total = self.total.checked_add(amount).unwrap_or(self.total);
    }
}

/// The bill's side: every payment and refund line.
#[must_use]
pub fn alipay_side(lines: &[BillLine]) -> Side {
    let mut side = Side::default();
    for line in lines {
        side.add(line.received);
    }
    side
}

/// The shop's side: payments recorded that day, and (when given) refunds that succeeded that day.
#[must_use]
pub fn shop_side<'a>(paid: impl IntoIterator<Item = &'a Order>, refunds: &[Refund]) -> Side {
    let mut side = Side::default();
    for order in paid {
        side.add(order.total.into());
    }
    for refund in refunds {
        side.add(-SignedMoney::from(refund.amount));
    }
    side
}

/// Checks every line of `lines` against `books`, and the day's payments against the bill.
#[must_use]
pub fn reconcile(lines: &[BillLine], books: &Books) -> Vec<Finding> {
    let mut findings = Vec::new();
    let mut on_bill: HashSet<&str> = HashSet::new();
    for line in lines {
        match line.business {
            Business::Payment => {
                on_bill.insert(&line.out_trade_no);
                if let Some(finding) = payment(line, books) {
                    findings.push(finding);
                }
            }
            Business::Refund => {
                if let Some(finding) = refund(line, books) {
                    findings.push(finding);
                }
            }
            // Other business (and kinds the bill module may learn) is not the shop's trades.
            _ => {}
        }
    }
    for order in books.paid_that_day() {
        if !on_bill.contains(order.out_trade_no.as_str()) {
            findings.push(Finding::MissingFromBill {
                out_trade_no: order.out_trade_no.clone(),
                trade_no: order.trade_no.clone(),
                amount: order.total,
            });
        }
    }
    findings
}

fn payment(line: &BillLine, books: &Books) -> Option<Finding> {
    let Some(order) = books.orders.get(&line.out_trade_no) else {
        return Some(Finding::UnknownOrder {
            out_trade_no: line.out_trade_no.clone(),
            trade_no: line.trade_no.clone(),
            amount: line.received,
        });
    };
    // What the buyer paid for the order: the order amount (the merchant's receipt is smaller
    // when Alipay's or the merchant's discounts applied).
    let paid = line.order_amount.magnitude();
    if paid != order.total {
        return Some(Finding::AmountMismatch {
            out_trade_no: order.out_trade_no.clone(),
            trade_no: line.trade_no.clone(),
            alipay: paid,
            shop: order.total,
        });
    }
    match order.status {
        OrderStatus::Paid | OrderStatus::Refunded => None,
        OrderStatus::Unpaid | OrderStatus::Cancelled | OrderStatus::TimeoutCancelled => {
            Some(Finding::PaidAtAlipayOnly {
                out_trade_no: order.out_trade_no.clone(),
                trade_no: line.trade_no.clone(),
                amount: paid,
                paid_at: line.completed_at,
            })
        }
    }
}

fn refund(line: &BillLine, books: &Books) -> Option<Finding> {
    let amount = line.order_amount.magnitude();
    // A refund without a request number is the one full refund, numbered by the order.
    let out_request_no = line
        .out_request_no
        .clone()
        .unwrap_or_else(|| line.out_trade_no.clone());
    let Some(order) = books.orders.get(&line.out_trade_no) else {
        return Some(Finding::UnknownOrder {
            out_trade_no: line.out_trade_no.clone(),
            trade_no: line.trade_no.clone(),
            amount: line.received,
        });
    };
    let Some(refund) = books
        .refunds
        .get(&out_request_no)
        .filter(|r| r.order_id == order.id)
    else {
        return Some(Finding::RefundUnknownHere {
            out_trade_no: order.out_trade_no.clone(),
            trade_no: line.trade_no.clone(),
            out_request_no,
            amount,
        });
    };
    if refund.amount != amount {
        return Some(Finding::RefundAmountMismatch {
            out_trade_no: order.out_trade_no.clone(),
            out_request_no,
            alipay: amount,
            shop: refund.amount,
        });
    }
    match refund.status {
        RefundStatus::Succeeded => None,
        RefundStatus::Pending | RefundStatus::Failed => Some(Finding::RefundConfirmed {
            out_trade_no: order.out_trade_no.clone(),
            out_request_no,
            amount,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::RefundOrigin;

    fn line(
        business: Business,
        out_trade_no: &str,
        fen: i64,
        out_request_no: Option<&str>,
    ) -> BillLine {
        let text = format!(
            "#-----业务明细列表-----\n支付宝交易号,商户订单号,业务类型,订单金额（元）,商家实收（元）,退款批次号/请求号\n2026{out_trade_no},{out_trade_no},{},{},{},{}\n",
            match business {
                Business::Refund => "退款",
                _ => "交易",
            },
            SignedMoney::from_fen(fen),
            SignedMoney::from_fen(fen),
            out_request_no.unwrap_or_default()
        );
        alipay::bill::parse_text(&text).unwrap().lines.remove(0)
    }

    fn order(id: i64, no: &str, fen: i64, status: OrderStatus) -> Order {
        Order {
            id,
            out_trade_no: no.into(),
            user_id: 1,
            subject: String::new(),
            total: Money::from_fen(fen),
            status,
            trade_no: None,
            paid_at: None,
            refunded: Money::ZERO,
            created_at: 0,
            expires_at: 0,
            pay_link_at: None,
            check_attempts: 0,
            items: Vec::new(),
        }
    }

    fn refund(order_id: i64, no: &str, fen: i64, status: RefundStatus) -> Refund {
        Refund {
            id: 1,
            order_id,
            out_request_no: no.into(),
            amount: Money::from_fen(fen),
            reason: String::new(),
            status,
            origin: RefundOrigin::Operator,
            requested_by: None,
            items: Vec::new(),
            created_at: 0,
            completed_at: None,
        }
    }

    #[test]
    fn every_row_of_the_table() {
        let books = Books::new(
            vec![
                order(1, "PAID", 100, OrderStatus::Paid),
                order(5, "LOST", 500, OrderStatus::Paid),
            ],
            vec![
                order(2, "UNPAID", 200, OrderStatus::Unpaid),
                order(3, "CLOSED", 300, OrderStatus::TimeoutCancelled),
                order(4, "OTHER", 400, OrderStatus::Paid),
            ],
            vec![
                refund(1, "R1", 50, RefundStatus::Succeeded),
                refund(1, "R2", 20, RefundStatus::Pending),
                refund(1, "R3", 10, RefundStatus::Failed),
            ],
        );
        let lines = [
            line(Business::Payment, "PAID", 100, None),
            line(Business::Payment, "UNPAID", 200, None),
            line(Business::Payment, "CLOSED", 300, None),
            line(Business::Payment, "OTHER", 1, None),
            line(Business::Payment, "NOBODY", 700, None),
            line(Business::Refund, "PAID", -50, Some("R1")),
            line(Business::Refund, "PAID", -20, Some("R2")),
            line(Business::Refund, "PAID", -11, Some("R3")),
            line(Business::Refund, "PAID", -5, Some("CONSOLE")),
        ];
        let kinds: Vec<(FindingKind, String)> = reconcile(&lines, &books)
            .iter()
            .map(|f| (f.kind(), f.out_trade_no().to_owned()))
            .collect();
        assert_eq!(
            kinds,
            [
                (FindingKind::PaidAtAlipayOnly, "UNPAID".into()),
                (FindingKind::PaidAtAlipayOnly, "CLOSED".into()),
                (FindingKind::AmountMismatch, "OTHER".into()),
                (FindingKind::UnknownOrder, "NOBODY".into()),
                (FindingKind::RefundConfirmed, "PAID".into()),
                (FindingKind::RefundAmountMismatch, "PAID".into()),
                (FindingKind::RefundUnknownHere, "PAID".into()),
                (FindingKind::MissingFromBill, "LOST".into()),
            ]
        );
        let side = alipay_side(&lines);
        assert_eq!(side.count, 9);
        assert_eq!(
            side.total,
            SignedMoney::from_fen(100 + 200 + 300 + 1 + 700 - 50 - 20 - 11 - 5)
        );
        for kind in FindingKind::ALL {
            assert_eq!(kind.as_str().parse::<FindingKind>().unwrap(), kind);
        }
    }
}
