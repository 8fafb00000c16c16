//! The payment use cases, one module per use case, and [`apply`], the one path every order
//! status change takes.
//!
//! * [`checkout`]: placing orders, pay links, the buyer's cancel, the timeout close, the
//!   buyer's view of orders and courses.
//! * [`confirm`]: Alipay's word about a trade (notification, query after a return,
//!   reconciliation) applied through the one status mapping ([`crate::domain::trade`]).
//! * [`notify`]: receiving notifications: verify, keep, act, answer.
//! * [`refunds`]: every refund state change: requests, Alipay's answers, refund notifications,
//!   refunds made outside the shop, the automatic refund of a double payment.
//! * [`outbox`]: the calls to Alipay that state changes queue (close, refund).
//! * [`settlement`]: the day's books against Alipay's trade bill.
//!
//! **One path for state changes.** Whatever the trigger, a status changes only in [`apply`]:
//! inside a transaction, as a compare-and-set on the order's current status, together with what
//! the change implies (fulfilment, revocation, outbox jobs, the audit event). Replaying any
//! trigger finds the order already moved and changes nothing.

pub mod checkout;
pub mod confirm;
pub mod notify;
pub mod outbox;
pub mod refunds;
pub mod settlement;

use std::time::Instant;

use alipay::api::ApiRequest;
use time::OffsetDateTime;

use crate::context::Context;
use crate::domain::checkout::CheckoutError;
use crate::domain::refund::RefundError;
use crate::domain::{Order, OrderStatus, Transition};
use crate::store::jobs::{self, JobKind};
use crate::store::orders::{self, StatusFields};
use crate::store::{self, StoreError, Tx, events, now_ms};

/// What went wrong in a payment use case.
#[derive(Debug, thiserror::Error)]
pub enum PaymentError {
    /// No such order (or not the caller's).
    #[error("order not found")]
    OrderNotFound,
    /// No such refund.
    #[error("refund not found")]
    RefundNotFound,
    /// The order cannot be placed.
    #[error(transparent)]
    Checkout(#[from] CheckoutError),
    /// The refund cannot be made.
    #[error(transparent)]
    Refund(#[from] RefundError),
    /// The order is not in a state that allows this.
    #[error("the order is {0}")]
    WrongStatus(OrderStatus),
    /// An `Idempotency-Key` was reused for a different request.
    #[error("this Idempotency-Key was used for a different request")]
    IdempotencyMismatch,
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Alipay could not be asked (the request could not even be built).
    #[error(transparent)]
    Alipay(#[from] alipay::Error),
}

impl From<sqlx::Error> for PaymentError {
    fn from(error: sqlx::Error) -> PaymentError {
        PaymentError::Store(StoreError::Database(error))
    }
}

/// Where a state change came from, for the audit trail and metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// An asynchronous notification.
    Notify,
    /// The browser's return, confirmed by `alipay.trade.query`.
    Return,
    /// The reconciliation job's `alipay.trade.query`.
    Reconcile,
    /// The timeout job.
    Timeout,
    /// An operator.
    Admin,
    /// The buyer.
    Buyer,
    /// The shop itself (the automatic refund of a double payment).
    Shop,
    /// Alipay's answer to a call from the outbox (a refund, a close).
    Outbox,
    /// Alipay's daily bill (settlement).
    Bill,
}

impl Source {
    /// Stored name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Source::Notify => "notify",
            Source::Return => "return",
            Source::Reconcile => "reconcile",
            Source::Timeout => "timeout",
            Source::Admin => "admin",
            Source::Buyer => "buyer",
            Source::Shop => "shop",
            Source::Outbox => "outbox",
            Source::Bill => "bill",
        }
    }
}

/// Facts that come with a change, written together with the new status.
#[derive(Clone, Debug, Default)]
pub struct Facts {
    /// Alipay's trade number (payments).
    pub trade_no: Option<String>,
    /// Payment time.
    pub paid_at: Option<OffsetDateTime>,
    /// The operator who made the change, if one did.
    pub actor_id: Option<i64>,
    /// Free text for the audit trail.
    pub detail: String,
}

/// What [`apply`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Applied {
    /// Nothing: the order was already past this point (e.g. a duplicate notification).
    Unchanged,
    /// The order moved.
    Moved,
    /// The order moved to paid, and its buyer already had some of its courses (through other
    /// orders, see [`orders::owned_through_other_orders`]): a second payment for them.
    PaidForOwnedCourses,
}

impl Applied {
    /// Whether the order moved.
    #[must_use]
    pub fn moved(self) -> bool {
        self != Applied::Unchanged
    }
}

/// **The** state-change path: moves `order` by `transition` if its current status allows it,
/// with a compare-and-set inside `tx`, and does what the new state implies. Returns what it did
/// ([`Applied::Unchanged`]: it was already past this point, e.g. a duplicate notification).
///
/// `order` must have been read under lock in `tx` ([`orders::lock`]): then the compare-and-set
/// cannot lose. If it does anyway (a caller that did not lock), the change is refused with
/// [`StoreError::Conflict`] and the transaction must be dropped; callers that can retry do so
/// through [`retry_on_conflict`].
pub async fn apply(
    tx: &mut Tx,
    order: &Order,
    transition: Transition,
    source: Source,
    facts: &Facts,
) -> Result<Applied, StoreError> {
    let Some(to) = order.status.apply(transition) else {
        return Ok(Applied::Unchanged);
    };
    let fields = StatusFields {
        trade_no: facts.trade_no.clone(),
        paid_at: facts.paid_at.map(store::to_ms),
    };
    if !orders::compare_and_set_status(tx, order.id, order.status, to, &fields).await? {
        return Err(StoreError::Conflict(format!(
            "order {} changed concurrently",
            order.out_trade_no
        )));
    }
    let mut applied = Applied::Moved;
    match to {
        OrderStatus::Paid => {
            if !orders::grant(tx, order).await?.all {
                applied = Applied::PaidForOwnedCourses;
            }
        }
        OrderStatus::Refunded => {
            let all: Vec<i64> = order.course_ids().collect();
            orders::revoke(tx, order, &all).await?;
        }
        OrderStatus::TimeoutCancelled => {
            // Close the trade at Alipay too, so a late buyer cannot pay a closed order. Through
            // the outbox: the call happens after this commit, and survives a crash.
            jobs::enqueue(tx, JobKind::CloseTrade, order.id, "", now_ms()).await?;
        }
        OrderStatus::Cancelled if matches!(source, Source::Buyer | Source::Admin) => {
            jobs::enqueue(tx, JobKind::CloseTrade, order.id, "", now_ms()).await?;
        }
        OrderStatus::Cancelled | OrderStatus::Unpaid => {}
    }
    events::record(
        tx,
        order.id,
        to.as_str(),
        source.as_str(),
        facts.actor_id,
        &facts.detail,
    )
    .await?;
    metrics::counter!("shop_order_transitions_total", "to" => to.as_str(), "source" => source.as_str()).increment(1);
    tracing::info!(order.out_trade_no = %order.out_trade_no, from = %order.status, to = %to, source = source.as_str(), "order {} is now {}", order.out_trade_no, to);
    Ok(applied)
}

/// Runs a transactional use case again when it lost a compare-and-set race
/// ([`StoreError::Conflict`] from [`apply`]), a few times, then reports the conflict.
pub async fn retry_on_conflict<T, F, Fut>(mut attempt: F) -> Result<T, StoreError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, StoreError>>,
{
    const ATTEMPTS: usize = 3;
    let mut tries = 0;
    loop {
        match attempt().await {
            Err(StoreError::Conflict(reason)) if tries + 1 < ATTEMPTS => {
                tries += 1;
                tracing::info!(%reason, tries, "state changed concurrently; deciding again");
            }
            other => return other,
        }
    }
}

/// Calls an Alipay API, recording latency and outcome.
pub async fn call<R: ApiRequest>(ctx: &Context, request: &R) -> Result<R::Response, alipay::Error> {
    let started = Instant::now();
    let result = ctx.alipay.execute(request).await;
    let outcome = match &result {
        Ok(_) => "ok",
        Err(e) if is_verified_refusal(e) => "business_error",
        Err(alipay::Error::Signature { .. }) => "untrusted",
        Err(e) if e.is_outcome_unknown() => "unknown",
        Err(_) => "not_sent",
    };
    metrics::histogram!("shop_alipay_request_seconds", "method" => R::METHOD)
        .record(started.elapsed().as_secs_f64());
    metrics::counter!("shop_alipay_requests_total", "method" => R::METHOD, "outcome" => outcome)
        .increment(1);
    result
}

/// Whether Alipay said "no" in a way we can trust ([`alipay::Error::is_verified_refusal`]).
/// Everything else (transport failures, bad signatures, garbled bodies, unsigned gateway errors,
/// certificates that cannot be fetched, system errors) is *outcome unknown*.
#[must_use]
pub fn is_verified_refusal(error: &alipay::Error) -> bool {
    error.is_verified_refusal()
}

fn millis(duration: std::time::Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}
