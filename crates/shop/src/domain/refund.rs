//! Refunds: what a refund gives back, and the only ways its status moves.
//!
//! ```text
//! pending ──verified success──▶ succeeded
//!    │                              ▲
//!    └──verified refusal──▶ failed ─┘ a verified success that arrives later still counts
//! ```
//!
//! An answer that cannot be trusted (bad signature, garbled body, timeout) moves nothing: the
//! refund stays `pending` and is asked about again with the same `out_request_no`.

use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;

use super::Money;
use super::order::Order;

/// Where a refund stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RefundStatus {
    /// Requested; Alipay has not given a verified answer yet.
    Pending,
    /// Alipay refunded it (a verified answer, query or notification said so).
    Succeeded,
    /// Alipay refused it (a verified business error).
    Failed,
}

impl RefundStatus {
    /// Every status.
    pub const ALL: [RefundStatus; 3] = [
        RefundStatus::Pending,
        RefundStatus::Succeeded,
        RefundStatus::Failed,
    ];

    /// The name used in the API and the database.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            RefundStatus::Pending => "pending",
            RefundStatus::Succeeded => "succeeded",
            RefundStatus::Failed => "failed",
        }
    }

    /// The states a refund may be settled as `to` from. A success may follow a failure (Alipay's
    /// verified word outranks an earlier verified refusal of a retried request); nothing leaves
    /// `succeeded`.
    #[must_use]
    pub const fn sources(to: RefundStatus) -> &'static [RefundStatus] {
        match to {
            RefundStatus::Succeeded => &[RefundStatus::Pending, RefundStatus::Failed],
            RefundStatus::Failed => &[RefundStatus::Pending],
            RefundStatus::Pending => &[],
        }
    }

    /// Whether the money is (or may still be) on its way back: counts against what is
    /// refundable.
    #[must_use]
    pub const fn commits_money(self) -> bool {
        !matches!(self, RefundStatus::Failed)
    }
}

impl fmt::Display for RefundStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RefundStatus {
    type Err = String;

    fn from_str(s: &str) -> Result<RefundStatus, String> {
        RefundStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| format!("unknown refund status {s:?}"))
    }
}

/// Who asked for a refund.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefundOrigin {
    /// An operator, through the back office or the API.
    Operator,
    /// The shop itself: the later of two payments for the same course is given back.
    DoublePayment,
    /// Nobody here: Alipay reported a refund made elsewhere (the merchant console).
    External,
}

impl RefundOrigin {
    /// Stored name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            RefundOrigin::Operator => "operator",
            RefundOrigin::DoublePayment => "double_payment",
            RefundOrigin::External => "external",
        }
    }
}

impl FromStr for RefundOrigin {
    type Err = String;

    fn from_str(s: &str) -> Result<RefundOrigin, String> {
        [
            RefundOrigin::Operator,
            RefundOrigin::DoublePayment,
            RefundOrigin::External,
        ]
        .into_iter()
        .find(|origin| origin.as_str() == s)
        .ok_or_else(|| format!("unknown refund origin {s:?}"))
    }
}

/// A refund of (part of) an order.
#[derive(Clone, Debug)]
pub struct Refund {
    /// Row id.
    pub id: i64,
    /// The order.
    pub order_id: i64,
    /// The number Alipay knows it by (its idempotency key there).
    pub out_request_no: String,
    /// How much.
    pub amount: Money,
    /// Why (Alipay shows it to the buyer).
    pub reason: String,
    /// Where it stands.
    pub status: RefundStatus,
    /// Who asked for it.
    pub origin: RefundOrigin,
    /// The operator who asked, for [`RefundOrigin::Operator`].
    pub requested_by: Option<i64>,
    /// The courses it gives back; empty for a goodwill (amount-only) refund.
    pub items: Vec<RefundItem>,
    /// Requested (Unix ms).
    pub created_at: i64,
    /// Settled (Unix ms).
    pub completed_at: Option<i64>,
}

/// A course a refund gives back, at the price paid for it in that order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RefundItem {
    /// The course.
    pub course_id: i64,
    /// What is given back for it.
    pub amount: Money,
}

/// What an operator asks to give back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    /// These courses of the order, each at the price paid; exactly these are revoked.
    Courses(Vec<i64>),
    /// An amount alone (goodwill): nothing is revoked unless the order ends fully refunded.
    Amount(Money),
}

/// A checked refund, ready to store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    /// How much.
    pub amount: Money,
    /// The courses it gives back.
    pub items: Vec<RefundItem>,
}

/// Why a refund cannot be made.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RefundError {
    /// Neither courses nor a positive amount.
    #[error("a refund needs at least one course or an amount above 0.00")]
    Empty,
    /// A course the order does not contain.
    #[error("course {0} is not part of this order")]
    NotInOrder(i64),
    /// A course listed twice.
    #[error("course {0} is listed twice")]
    Duplicate(i64),
    /// A course already given back (or on its way back) by another refund.
    #[error("course {0} has already been refunded")]
    AlreadyRefunded(i64),
    /// More than what is still refundable.
    #[error("refund of {requested} exceeds the refundable {refundable}")]
    TooLarge {
        /// Asked for.
        requested: Money,
        /// Still refundable.
        refundable: Money,
    },
}

/// Money given back or on its way back: the refunds that did not fail.
#[must_use]
pub fn committed(refunds: &[Refund]) -> Money {
    refunds
        .iter()
        .filter(|r| r.status.commits_money())
        .map(|r| r.amount)
        .sum()
}

/// What may still be refunded of `order`.
#[must_use]
pub fn refundable(order: &Order, refunds: &[Refund]) -> Money {
    order
        .total
        .checked_sub(committed(refunds))
        .unwrap_or(Money::ZERO)
}

/// The courses of an order that refunds have given back (or are giving back).
#[must_use]
pub fn refunded_courses(refunds: &[Refund]) -> HashSet<i64> {
    refunds
        .iter()
        .filter(|r| r.status.commits_money())
        .flat_map(|r| r.items.iter().map(|i| i.course_id))
        .collect()
}

/// Checks an operator's refund of `order` (whose refunds so far are `refunds`) and says what it
/// gives back.
pub fn plan(order: &Order, refunds: &[Refund], scope: &Scope) -> Result<Plan, RefundError> {
    let (amount, items) = match scope {
        Scope::Courses(course_ids) => {
            if course_ids.is_empty() {
                return Err(RefundError::Empty);
            }
            let given_back = refunded_courses(refunds);
            let mut seen = HashSet::new();
            let mut items = Vec::with_capacity(course_ids.len());
            for &course_id in course_ids {
                if !seen.insert(course_id) {
                    return Err(RefundError::Duplicate(course_id));
                }
                let item = order
                    .item(course_id)
                    .ok_or(RefundError::NotInOrder(course_id))?;
                if given_back.contains(&course_id) {
                    return Err(RefundError::AlreadyRefunded(course_id));
                }
                items.push(RefundItem {
                    course_id,
                    amount: item.real_price,
                });
            }
            (items.iter().map(|i| i.amount).sum(), items)
        }
        Scope::Amount(amount) => (*amount, Vec::new()),
    };
    if amount <= Money::ZERO {
        return Err(RefundError::Empty);
    }
    let left = refundable(order, refunds);
    if amount > left {
        return Err(RefundError::TooLarge {
            requested: amount,
            refundable: left,
        });
    }
    Ok(Plan { amount, items })
}

/// The whole of an order, course by course: the refund the shop makes of the later of two
/// payments for the same course.
#[must_use]
pub fn whole(order: &Order) -> Plan {
    Plan {
        amount: order.total,
        items: order
            .items
            .iter()
            .map(|item| RefundItem {
                course_id: item.course_id,
                amount: item.real_price,
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::order::{Item, OrderStatus};

    fn order() -> Order {
        let item = |course_id, fen| Item {
            course_id,
            course_name: format!("course {course_id}"),
            price: Money::from_fen(fen),
            real_price: Money::from_fen(fen),
        };
        Order {
            id: 1,
            out_trade_no: "CS1".into(),
            user_id: 7,
            subject: "two courses".into(),
            total: Money::from_fen(33_700),
            status: OrderStatus::Paid,
            trade_no: Some("2026".into()),
            paid_at: Some(0),
            refunded: Money::ZERO,
            created_at: 0,
            expires_at: 0,
            pay_link_at: None,
            check_attempts: 0,
            items: vec![item(1, 13_800), item(2, 19_900)],
        }
    }

    fn refund(status: RefundStatus, fen: i64, courses: &[i64]) -> Refund {
        Refund {
            id: 1,
            order_id: 1,
            out_request_no: "RF1".into(),
            amount: Money::from_fen(fen),
            reason: String::new(),
            status,
            origin: RefundOrigin::Operator,
            requested_by: Some(1),
            items: courses
                .iter()
                .map(|&course_id| RefundItem {
                    course_id,
                    amount: Money::from_fen(fen),
                })
                .collect(),
            created_at: 0,
            completed_at: None,
        }
    }

    #[test]
    fn course_refunds_give_back_the_price_paid() {
        let plan = plan(&order(), &[], &Scope::Courses(vec![2])).unwrap();
        assert_eq!(plan.amount, Money::from_fen(19_900));
        assert_eq!(plan.items[0].course_id, 2);
    }

    #[test]
    fn a_course_is_refunded_once_and_must_be_in_the_order() {
        let pending = [refund(RefundStatus::Pending, 19_900, &[2])];
        assert_eq!(
            plan(&order(), &pending, &Scope::Courses(vec![2])),
            Err(RefundError::AlreadyRefunded(2))
        );
        let failed = [refund(RefundStatus::Failed, 19_900, &[2])];
        assert!(plan(&order(), &failed, &Scope::Courses(vec![2])).is_ok());
        assert_eq!(
            plan(&order(), &[], &Scope::Courses(vec![3])),
            Err(RefundError::NotInOrder(3))
        );
        assert_eq!(
            plan(&order(), &[], &Scope::Courses(vec![1, 1])),
            Err(RefundError::Duplicate(1))
        );
        assert_eq!(
            plan(&order(), &[], &Scope::Courses(vec![])),
            Err(RefundError::Empty)
        );
    }

    #[test]
    fn never_more_than_what_is_left() {
        let goodwill = [refund(RefundStatus::Succeeded, 30_000, &[])];
        assert_eq!(
            plan(&order(), &goodwill, &Scope::Courses(vec![1])),
            Err(RefundError::TooLarge {
                requested: Money::from_fen(13_800),
                refundable: Money::from_fen(3_700)
            })
        );
        assert!(plan(&order(), &goodwill, &Scope::Amount(Money::from_fen(3_700))).is_ok());
        assert_eq!(
            plan(&order(), &[], &Scope::Amount(Money::ZERO)),
            Err(RefundError::Empty)
        );
        assert_eq!(refundable(&order(), &goodwill), Money::from_fen(3_700));
    }

    #[test]
    fn settling_moves_only_along_the_drawn_arrows() {
        use RefundStatus::*;
        assert!(RefundStatus::sources(Succeeded).contains(&Failed));
        assert!(!RefundStatus::sources(Failed).contains(&Succeeded));
        assert!(RefundStatus::sources(Pending).is_empty());
        for status in RefundStatus::ALL {
            assert_eq!(status.as_str().parse::<RefundStatus>().unwrap(), status);
        }
    }
}
