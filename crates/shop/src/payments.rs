//! The payment use cases: placing orders, pay links, and every way an order's state can change.
//!
//! **One path for state changes.** Whatever the trigger (a notification, a return followed by
//! `alipay.trade.query`, reconciliation, the timeout job, a refund, the buyer), a status changes
//! only in [`apply`]: inside a transaction, as a compare-and-set on the order's current status,
//! together with what the change implies (fulfilment, revocation, outbox jobs, the audit event).
//! Replaying any trigger finds the order already moved and changes nothing.

use std::time::Instant;

use alipay::api::{ApiRequest, TradeQuery};
use alipay::{Money, TradeStatus, WebPay};
use time::OffsetDateTime;

use crate::context::Context;
use crate::domain::checkout::{self, CheckoutError};
use crate::domain::{OrderStatus, Transition, ids};
use crate::store::jobs::{self, JobKind};
use crate::store::notifications::{self, Received};
use crate::store::order_writer::{Claim, NewOrder, Written};
use crate::store::orders::{self, Order, StatusFields};
use crate::store::{self, StoreError, Tx, courses, events, idempotency, now_ms, refunds};

/// What went wrong in a payment use case.
#[derive(Debug, thiserror::Error)]
pub enum PaymentError {
    /// No such order (or not the caller's).
    #[error("order not found")]
    OrderNotFound,
    /// The order cannot be placed.
    #[error(transparent)]
    Checkout(#[from] CheckoutError),
    /// The order is not in a state that allows this.
    #[error("the order is {0}")]
    WrongStatus(OrderStatus),
    /// An `Idempotency-Key` was reused for a different request.
    #[error("this Idempotency-Key was used for a different request")]
    IdempotencyMismatch,
    /// A refund would exceed what was paid.
    #[error("refund of {requested} exceeds the refundable {refundable}")]
    RefundTooLarge {
        /// Asked for.
        requested: Money,
        /// Still refundable.
        refundable: Money,
    },
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
    /// An administrator.
    Admin,
    /// The buyer.
    Buyer,
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
    /// Free text for the audit trail.
    pub detail: String,
}

/// **The** state-change path: moves `order` by `transition` if its current status allows it,
/// with a compare-and-set inside `tx`, and does what the new state implies. Returns whether the
/// order moved (false: it was already past this point, e.g. a duplicate notification).
pub async fn apply(
    tx: &mut Tx,
    order: &Order,
    transition: Transition,
    source: Source,
    facts: &Facts,
) -> Result<bool, StoreError> {
    let Some(to) = order.status.apply(transition) else {
        return Ok(false);
    };
    let fields = StatusFields {
        trade_no: facts.trade_no.clone(),
        paid_at: facts.paid_at.map(store::to_ms),
    };
    if !orders::compare_and_set_status(tx, order.id, order.status, to, &fields).await? {
        // Someone else moved it between our read and this write (only possible without a row
        // lock); the caller re-reads and decides again.
        return Err(StoreError::Conflict(format!(
            "order {} changed concurrently",
            order.out_trade_no
        )));
    }
    match to {
        OrderStatus::Paid => orders::grant(tx, order).await?,
        OrderStatus::Refunded => orders::revoke(tx, order).await?,
        OrderStatus::TimeoutCancelled => {
            // Close the trade at Alipay too, so a late buyer cannot pay a closed order. Through
            // the outbox: the call happens after this commit, and survives a crash.
            jobs::enqueue(tx, JobKind::CloseTrade, order.id, "", now_ms()).await?;
        }
        OrderStatus::Cancelled if source == Source::Buyer => {
            jobs::enqueue(tx, JobKind::CloseTrade, order.id, "", now_ms()).await?;
        }
        OrderStatus::Cancelled | OrderStatus::Unpaid => {}
    }
    events::record(tx, order.id, to.as_str(), source.as_str(), &facts.detail).await?;
    metrics::counter!("shop_order_transitions_total", "to" => to.as_str(), "source" => source.as_str()).increment(1);
    tracing::info!(order.out_trade_no = %order.out_trade_no, from = %order.status, to = %to, source = source.as_str(), "order {} is now {}", order.out_trade_no, to);
    Ok(true)
}

// ---------------------------------------------------------------------------------------------
// Placing orders and pay links

/// A placed order and the link to pay it.
#[derive(Debug)]
pub struct Placed {
    /// The order.
    pub order: Order,
    /// Where to send the browser.
    pub pay_url: String,
    /// Whether this is the answer to a retried request (same `Idempotency-Key`).
    pub replayed: bool,
}

/// An order request from a buyer.
#[derive(Debug)]
pub struct OrderRequest<'a> {
    /// The buyer.
    pub user_id: i64,
    /// What to buy.
    pub course_ids: &'a [i64],
    /// The total the client shows; must equal the catalog's.
    pub total_amount: Money,
    /// A subject for the cashier, instead of the course names.
    pub subject: Option<&'a str>,
    /// The client's `Idempotency-Key`, if any.
    pub idempotency_key: Option<&'a str>,
}

const ORDER_SCOPE: &str = "create_order";

/// Prices and stores a new order (one transaction), and signs its pay link.
pub async fn place_order(
    ctx: &Context,
    request: &OrderRequest<'_>,
) -> Result<Placed, PaymentError> {
    let request_hash = format!(
        "{:?}|{}|{:?}",
        request.course_ids, request.total_amount, request.subject
    );
    if let Some(key) = request.idempotency_key
        && let Some(replay) = replay(ctx, request.user_id, key, &request_hash).await?
    {
        return Ok(replay);
    }
    let (catalog, owned) =
        courses::for_checkout(&ctx.db, request.user_id, request.course_ids).await?;
    let priced = checkout::price(
        request.course_ids,
        &catalog,
        &owned,
        request.total_amount,
        request.subject,
    )?;
    let out_trade_no = ids::out_trade_no();
    let now = now_ms();
    let expires_at = now + millis(ctx.settings.order_ttl);
    let first_check = now + millis(ctx.settings.reconcile_after);

    let written = ctx
        .order_writer
        .write(NewOrder {
            out_trade_no,
            user_id: request.user_id,
            priced,
            expires_at,
            first_check_at: first_check,
            claim: request.idempotency_key.map(|key| Claim {
                scope: ORDER_SCOPE,
                key: key.to_owned(),
                request_hash: request_hash.clone(),
            }),
        })
        .await?;
    let order = match written {
        Written::Created(order) => order,
        // A concurrent retry with the same key won: answer with its order.
        Written::KeyTaken => {
            let key = request.idempotency_key.unwrap_or_default();
            return replay(ctx, request.user_id, key, &request_hash)
                .await?
                .ok_or(PaymentError::IdempotencyMismatch);
        }
    };
    metrics::counter!("shop_orders_created_total").increment(1);
    let pay_url = pay_link(ctx, &order)?;
    Ok(Placed {
        order,
        pay_url,
        replayed: false,
    })
}

async fn replay(
    ctx: &Context,
    user_id: i64,
    key: &str,
    request_hash: &str,
) -> Result<Option<Placed>, PaymentError> {
    let Some(seen) = idempotency::find(&ctx.db, user_id, ORDER_SCOPE, key).await? else {
        return Ok(None);
    };
    if seen.request_hash != request_hash {
        return Err(PaymentError::IdempotencyMismatch);
    }
    let order = orders::get(&ctx.db, &seen.resource)
        .await?
        .ok_or(PaymentError::OrderNotFound)?;
    let pay_url = if order.status == OrderStatus::Unpaid {
        pay_link(ctx, &order)?
    } else {
        String::new()
    };
    Ok(Some(Placed {
        order,
        pay_url,
        replayed: true,
    }))
}

/// Signs a pay link for an unpaid order. It carries both `timeout_express` (what is left of the
/// order's lifetime) and `time_expire`, so Alipay closes the trade on time even if our timeout
/// job is down.
pub fn pay_link(ctx: &Context, order: &Order) -> Result<String, PaymentError> {
    let remaining_ms = (order.expires_at - now_ms()).max(60_000);
    let minutes = (remaining_ms + 59_999) / 60_000;
    let request = WebPay::page(&order.out_trade_no, order.total, &order.subject)
        .timeout_express(format!("{}m", minutes.min(15 * 24 * 60)))
        .time_expire(store::from_ms(order.expires_at.max(now_ms() + 60_000)));
    Ok(ctx.alipay.web_pay(&request)?.url())
}

/// A fresh pay link for the buyer's own unpaid order.
pub async fn reissue_pay_link(
    ctx: &Context,
    user_id: i64,
    out_trade_no: &str,
) -> Result<(Order, String), PaymentError> {
    let order = own_order(ctx, user_id, out_trade_no).await?;
    if order.status != OrderStatus::Unpaid {
        return Err(PaymentError::WrongStatus(order.status));
    }
    if order.expires_at <= now_ms() {
        return Err(PaymentError::WrongStatus(OrderStatus::TimeoutCancelled));
    }
    let url = pay_link(ctx, &order)?;
    orders::mark_pay_link(
        &ctx.db,
        order.id,
        now_ms() + millis(ctx.settings.reconcile_after),
    )
    .await?;
    Ok((order, url))
}

/// The buyer's own order; someone else's is "not found".
pub async fn own_order(
    ctx: &Context,
    user_id: i64,
    out_trade_no: &str,
) -> Result<Order, PaymentError> {
    match orders::get(&ctx.db, out_trade_no).await? {
        Some(order) if order.user_id == user_id => Ok(order),
        _ => Err(PaymentError::OrderNotFound),
    }
}

/// The buyer gives up on an unpaid order.
pub async fn cancel_by_buyer(
    ctx: &Context,
    user_id: i64,
    out_trade_no: &str,
) -> Result<Order, PaymentError> {
    let order = own_order(ctx, user_id, out_trade_no).await?;
    let mut tx = ctx.db.begin().await?;
    let Some(current) = orders::lock(&mut tx, &ctx.db, &order.out_trade_no).await? else {
        return Err(PaymentError::OrderNotFound);
    };
    if !apply(
        &mut tx,
        &current,
        Transition::Cancel,
        Source::Buyer,
        &Facts::default(),
    )
    .await?
    {
        return Err(PaymentError::WrongStatus(current.status));
    }
    tx.commit().await?;
    orders::get(&ctx.db, out_trade_no)
        .await?
        .ok_or(PaymentError::OrderNotFound)
}

// ---------------------------------------------------------------------------------------------
// Payments confirmed by Alipay

/// What Alipay says was paid.
#[derive(Clone, Debug)]
pub struct Proof {
    /// Alipay's trade number.
    pub trade_no: Option<String>,
    /// The amount of the trade.
    pub amount: Money,
    /// When.
    pub paid_at: Option<OffsetDateTime>,
}

/// What confirming a payment did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Confirmed {
    /// The order became paid now.
    Paid,
    /// It was already paid (a duplicate); nothing changed.
    AlreadyPaid,
    /// No such order.
    UnknownOrder,
    /// The amount differs from the order's: recorded as an anomaly, nothing changed.
    AmountMismatch,
}

impl Confirmed {
    fn verdict(&self) -> &'static str {
        match self {
            Confirmed::Paid => "accepted",
            Confirmed::AlreadyPaid => "duplicate",
            Confirmed::UnknownOrder => "unknown_order",
            Confirmed::AmountMismatch => "amount_mismatch",
        }
    }
}

/// Marks an order paid on Alipay's word, inside `tx`.
async fn confirm_in(
    tx: &mut Tx,
    ctx: &Context,
    out_trade_no: &str,
    proof: &Proof,
    source: Source,
) -> Result<Confirmed, StoreError> {
    let Some(order) = orders::lock(tx, &ctx.db, out_trade_no).await? else {
        return Ok(Confirmed::UnknownOrder);
    };
    if proof.amount != order.total {
        let detail = format!(
            "Alipay reports {} paid for an order of {}; not marked paid",
            proof.amount, order.total
        );
        events::record(tx, order.id, "anomaly", source.as_str(), &detail).await?;
        metrics::counter!("shop_payment_anomalies_total", "kind" => "amount_mismatch").increment(1);
        tracing::warn!(order.out_trade_no = %out_trade_no, amount = %proof.amount, expected = %order.total, "payment amount mismatch");
        return Ok(Confirmed::AmountMismatch);
    }
    if order.status.is_paid() {
        if let (Some(known), Some(reported)) = (&order.trade_no, &proof.trade_no)
            && known != reported
        {
            let detail =
                format!("a second Alipay trade {reported} paid this order (first: {known})");
            events::record(tx, order.id, "anomaly", source.as_str(), &detail).await?;
            metrics::counter!("shop_payment_anomalies_total", "kind" => "second_trade")
                .increment(1);
        }
        return Ok(Confirmed::AlreadyPaid);
    }
    let facts = Facts {
        trade_no: proof.trade_no.clone(),
        paid_at: proof.paid_at,
        detail: match order.status {
            OrderStatus::Unpaid => String::new(),
            late => format!("payment arrived while the order was {late}; kept"),
        },
    };
    apply(tx, &order, Transition::Pay, source, &facts).await?;
    Ok(Confirmed::Paid)
}

/// Marks an order paid on Alipay's word (one transaction, exactly once).
pub async fn confirm_payment(
    ctx: &Context,
    out_trade_no: &str,
    proof: &Proof,
    source: Source,
) -> Result<Confirmed, StoreError> {
    let mut tx = ctx.db.begin().await?;
    let confirmed = confirm_in(&mut tx, ctx, out_trade_no, proof, source).await?;
    tx.commit().await?;
    Ok(confirmed)
}

/// How to answer Alipay.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reply {
    /// `success`: handled (and committed); stop sending it.
    Success,
    /// `failure`: not accepted; Alipay will send it again.
    Failure,
}

/// Handles an asynchronous notification's raw body. Every notification is stored raw with its
/// verdict; `success` is answered only after the commit that acted on it.
pub async fn receive_notification(ctx: &Context, body: &[u8]) -> Result<Reply, StoreError> {
    let notification = match ctx.alipay.verify_notification(body) {
        Ok(notification) => notification,
        Err(
            error @ (alipay::VerifyError::BadSignature
            | alipay::VerifyError::MissingSign
            | alipay::VerifyError::SignTypeMismatch { .. }),
        ) => {
            return reject(ctx, body, "bad_signature", error.to_string()).await;
        }
        Err(error) => return reject(ctx, body, "malformed", error.to_string()).await,
    };
    if notification.app_id != ctx.alipay.app_id() {
        return reject(
            ctx,
            body,
            "wrong_app",
            format!("app_id {} is not ours", notification.app_id),
        )
        .await;
    }
    if let Some(seller_id) = &ctx.settings.seller_id
        && notification.seller_id.as_ref() != Some(seller_id)
    {
        let detail = format!("seller_id {:?} is not ours", notification.seller_id);
        return reject(ctx, body, "wrong_seller", detail).await;
    }

    let mut tx = ctx.db.begin().await?;
    let status = notification.trade_status.clone();
    let is_refund = notification.out_biz_no.is_some()
        || notification.refund_fee.is_some_and(|fee| fee > Money::ZERO);
    let (verdict, detail, reply) = match status {
        Some(_) if is_refund => {
            let verdict = refund_notified(&mut tx, ctx, &notification).await?;
            (verdict, String::new(), Reply::Success)
        }
        Some(ref status) if status.is_paid() => match notification.total_amount {
            Some(amount) => {
                let proof = Proof {
                    trade_no: notification.trade_no.clone(),
                    amount,
                    paid_at: notification.gmt_payment,
                };
                let confirmed = confirm_in(
                    &mut tx,
                    ctx,
                    &notification.out_trade_no,
                    &proof,
                    Source::Notify,
                )
                .await?;
                let reply = if confirmed == Confirmed::UnknownOrder {
                    Reply::Failure
                } else {
                    Reply::Success
                };
                (confirmed.verdict(), String::new(), reply)
            }
            None => ("malformed", "no total_amount".to_owned(), Reply::Failure),
        },
        Some(TradeStatus::TradeClosed) => {
            let verdict =
                closed_at_alipay(&mut tx, ctx, &notification.out_trade_no, Source::Notify).await?;
            (verdict, String::new(), Reply::Success)
        }
        _ => (
            "ignored",
            format!(
                "trade_status {:?}",
                status.as_ref().map(TradeStatus::as_str)
            ),
            Reply::Success,
        ),
    };
    notifications::record(
        &mut tx,
        &Received {
            body,
            verdict,
            notify_id: Some(&notification.notify_id),
            out_trade_no: Some(&notification.out_trade_no),
            trade_status: notification.trade_status.as_ref().map(TradeStatus::as_str),
            detail: &detail,
        },
    )
    .await?;
    tx.commit().await?;
    metrics::counter!("shop_notifications_total", "verdict" => verdict).increment(1);
    Ok(reply)
}

/// Stores a notification that changes nothing, and answers `failure`.
async fn reject(
    ctx: &Context,
    body: &[u8],
    verdict: &'static str,
    detail: String,
) -> Result<Reply, StoreError> {
    metrics::counter!("shop_notifications_total", "verdict" => verdict).increment(1);
    tracing::warn!(verdict, %detail, "notification rejected");
    let fields = alipay::content::parse_form(body).unwrap_or_default();
    notifications::record_alone(
        &ctx.db,
        &Received {
            body,
            verdict,
            notify_id: fields.get("notify_id").map(String::as_str),
            out_trade_no: fields.get("out_trade_no").map(String::as_str),
            trade_status: fields.get("trade_status").map(String::as_str),
            detail: &detail,
        },
    )
    .await?;
    Ok(Reply::Failure)
}

/// Alipay says the trade is closed (and no money moved): an unpaid order here is cancelled.
async fn closed_at_alipay(
    tx: &mut Tx,
    ctx: &Context,
    out_trade_no: &str,
    source: Source,
) -> Result<&'static str, StoreError> {
    let Some(order) = orders::lock(tx, &ctx.db, out_trade_no).await? else {
        return Ok("unknown_order");
    };
    let facts = Facts {
        detail: "trade closed at Alipay".into(),
        ..Facts::default()
    };
    Ok(
        if apply(tx, &order, Transition::Cancel, source, &facts).await? {
            "accepted"
        } else {
            "duplicate"
        },
    )
}

// ---------------------------------------------------------------------------------------------
// Asking Alipay

/// Calls an Alipay API, recording latency and outcome.
pub async fn call<R: ApiRequest>(ctx: &Context, request: &R) -> Result<R::Response, alipay::Error> {
    let started = Instant::now();
    let result = ctx.alipay.execute(request).await;
    let outcome = match &result {
        Ok(_) => "ok",
        Err(e) if e.is_outcome_unknown() => "unknown",
        Err(alipay::Error::Api { .. }) => "business_error",
        Err(_) => "error",
    };
    metrics::histogram!("shop_alipay_request_seconds", "method" => R::METHOD)
        .record(started.elapsed().as_secs_f64());
    metrics::counter!("shop_alipay_requests_total", "method" => R::METHOD, "outcome" => outcome)
        .increment(1);
    result
}

/// What `alipay.trade.query` said about an order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Checked {
    /// Paid at Alipay; the order is paid here now (or already was).
    Paid,
    /// Alipay reports a different amount: recorded, not paid.
    AmountMismatch,
    /// Closed at Alipay; an unpaid order is cancelled here.
    Closed,
    /// Not paid yet (or the buyer never opened the cashier).
    Waiting,
    /// Alipay could not tell (system error, timeout): try again later.
    Unknown(String),
}

/// Asks Alipay about an order and applies the answer through the one state-change path.
pub async fn check_with_alipay(
    ctx: &Context,
    order: &Order,
    source: Source,
) -> Result<Checked, StoreError> {
    let trade = match call(ctx, &TradeQuery::by_out_trade_no(&order.out_trade_no)).await {
        Ok(trade) => trade,
        Err(e) if e.sub_code() == Some("ACQ.TRADE_NOT_EXIST") => return Ok(Checked::Waiting),
        Err(e) => return Ok(Checked::Unknown(e.to_string())),
    };
    match trade.trade_status {
        ref status if status.is_paid() => {
            let proof = Proof {
                trade_no: Some(trade.trade_no.clone()),
                amount: trade.total_amount,
                paid_at: trade.send_pay_date,
            };
            Ok(
                match confirm_payment(ctx, &order.out_trade_no, &proof, source).await? {
                    Confirmed::AmountMismatch => Checked::AmountMismatch,
                    _ => Checked::Paid,
                },
            )
        }
        TradeStatus::TradeClosed => {
            let mut tx = ctx.db.begin().await?;
            closed_at_alipay(&mut tx, ctx, &order.out_trade_no, source).await?;
            tx.commit().await?;
            Ok(Checked::Closed)
        }
        _ => Ok(Checked::Waiting),
    }
}

/// What the browser's return amounted to.
#[derive(Clone, Debug)]
pub struct Returned {
    /// Whether the parameters carried Alipay's signature.
    pub verified: bool,
    /// The order number they name (if any).
    pub out_trade_no: Option<String>,
    /// Alipay's trade number they name.
    pub trade_no: Option<String>,
    /// The order's status after confirming with Alipay.
    pub status: Option<OrderStatus>,
}

/// Handles the browser coming back from the cashier. The signed parameters alone never mark an
/// order paid: if it is still unpaid here, Alipay is asked (`alipay.trade.query`) and the answer
/// goes through the same path as a notification.
pub async fn handle_return(ctx: &Context, query: &str) -> Result<Returned, StoreError> {
    let back = match ctx.alipay.verify_return(query) {
        Ok(back) => back,
        Err(error) => {
            tracing::warn!(%error, "return with an invalid signature");
            let fields = alipay::content::parse_form(query.as_bytes()).unwrap_or_default();
            return Ok(Returned {
                verified: false,
                out_trade_no: fields.get("out_trade_no").cloned(),
                trade_no: None,
                status: None,
            });
        }
    };
    let Some(order) = orders::get(&ctx.db, &back.out_trade_no).await? else {
        return Ok(Returned {
            verified: true,
            out_trade_no: Some(back.out_trade_no),
            trade_no: back.trade_no,
            status: None,
        });
    };
    if order.status != OrderStatus::Paid {
        check_with_alipay(ctx, &order, Source::Return).await?;
    }
    let status = orders::get(&ctx.db, &order.out_trade_no)
        .await?
        .map(|o| o.status);
    Ok(Returned {
        verified: true,
        out_trade_no: Some(order.out_trade_no),
        trade_no: back.trade_no,
        status,
    })
}

// ---------------------------------------------------------------------------------------------
// Refunds

/// A refund request from an administrator.
#[derive(Debug)]
pub struct RefundRequest<'a> {
    /// The administrator.
    pub admin_id: i64,
    /// The order.
    pub out_trade_no: &'a str,
    /// How much.
    pub amount: Money,
    /// Why.
    pub reason: &'a str,
    /// The client's `Idempotency-Key`, if any.
    pub idempotency_key: Option<&'a str>,
}

const REFUND_SCOPE: &str = "refund";

/// Records a refund (never above what is still refundable) and queues its call to Alipay in
/// the same transaction. The refund's `out_request_no` makes Alipay's side idempotent too.
pub async fn request_refund(
    ctx: &Context,
    request: &RefundRequest<'_>,
) -> Result<refunds::Refund, PaymentError> {
    let request_hash = format!(
        "{}|{}|{}",
        request.out_trade_no, request.amount, request.reason
    );
    if let Some(key) = request.idempotency_key
        && let Some(seen) = idempotency::find(&ctx.db, request.admin_id, REFUND_SCOPE, key).await?
    {
        return replay_refund(ctx, &seen, &request_hash).await;
    }
    let mut tx = ctx.db.begin().await?;
    let order = orders::lock(&mut tx, &ctx.db, request.out_trade_no)
        .await?
        .ok_or(PaymentError::OrderNotFound)?;
    if order.status != OrderStatus::Paid {
        return Err(PaymentError::WrongStatus(order.status));
    }
    let committed: Money = refunds::for_order_tx(&mut tx, order.id)
        .await?
        .iter()
        .filter(|r| r.status != refunds::RefundStatus::Failed)
        .map(|r| r.amount)
        .sum();
    let refundable = order.total.checked_sub(committed).unwrap_or(Money::ZERO);
    if request.amount == Money::ZERO || request.amount > refundable {
        return Err(PaymentError::RefundTooLarge {
            requested: request.amount,
            refundable,
        });
    }
    let out_request_no = ids::out_request_no();
    if let Some(key) = request.idempotency_key {
        match idempotency::claim(
            &mut tx,
            request.admin_id,
            REFUND_SCOPE,
            key,
            &request_hash,
            &out_request_no,
        )
        .await
        {
            Ok(()) => {}
            Err(StoreError::Conflict(_)) => {
                drop(tx);
                let seen = idempotency::find(&ctx.db, request.admin_id, REFUND_SCOPE, key)
                    .await?
                    .ok_or(PaymentError::IdempotencyMismatch)?;
                return replay_refund(ctx, &seen, &request_hash).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
    refunds::insert(
        &mut tx,
        order.id,
        &out_request_no,
        request.amount,
        request.reason,
        request.admin_id,
    )
    .await?;
    jobs::enqueue(
        &mut tx,
        JobKind::Refund,
        order.id,
        &out_request_no,
        now_ms(),
    )
    .await?;
    events::record(
        &mut tx,
        order.id,
        "refund_requested",
        Source::Admin.as_str(),
        &format!("{} ({out_request_no})", request.amount),
    )
    .await?;
    tx.commit().await?;
    let mut tx = ctx.db.begin().await?;
    let refund = refunds::by_request_no(&mut tx, &ctx.db, &out_request_no)
        .await?
        .ok_or(PaymentError::OrderNotFound)?;
    tx.commit().await?;
    Ok(refund)
}

async fn replay_refund(
    ctx: &Context,
    seen: &idempotency::Seen,
    request_hash: &str,
) -> Result<refunds::Refund, PaymentError> {
    if seen.request_hash != request_hash {
        return Err(PaymentError::IdempotencyMismatch);
    }
    let mut tx = ctx.db.begin().await?;
    let refund = refunds::by_request_no(&mut tx, &ctx.db, &seen.resource)
        .await?
        .ok_or(PaymentError::OrderNotFound)?;
    tx.commit().await?;
    Ok(refund)
}

/// Settles a refund Alipay confirmed (from the refund job or a refund notification): adds it to
/// the order's refunded total and, once everything is refunded, moves the order to `refunded`
/// through [`apply`]. Idempotent: a settled refund is not counted twice.
pub async fn refund_succeeded(
    tx: &mut Tx,
    ctx: &Context,
    out_request_no: &str,
    source: Source,
) -> Result<bool, StoreError> {
    let Some(refund) = refunds::by_request_no(tx, &ctx.db, out_request_no).await? else {
        return Ok(false);
    };
    if !refunds::settle(tx, refund.id, refunds::RefundStatus::Succeeded).await? {
        return Ok(false);
    }
    orders::add_refunded(tx, refund.order_id, refund.amount).await?;
    let out_trade_no: String = sqlx::query_scalar("SELECT out_trade_no FROM orders WHERE id = $1")
        .bind(refund.order_id)
        .fetch_one(&mut **tx)
        .await?;
    let Some(order) = orders::lock(tx, &ctx.db, &out_trade_no).await? else {
        return Ok(true);
    };
    events::record(
        tx,
        order.id,
        "refund_succeeded",
        source.as_str(),
        &format!("{} ({out_request_no})", refund.amount),
    )
    .await?;
    if order.refunded >= order.total {
        let facts = Facts {
            detail: format!("refunded {} in total", order.refunded),
            ..Facts::default()
        };
        apply(tx, &order, Transition::RefundInFull, source, &facts).await?;
    }
    Ok(true)
}

/// A refund notification (`out_biz_no` names the refund): settle it if the job has not yet.
async fn refund_notified(
    tx: &mut Tx,
    ctx: &Context,
    notification: &alipay::Notification,
) -> Result<&'static str, StoreError> {
    let Some(out_request_no) = &notification.out_biz_no else {
        return Ok("ignored");
    };
    Ok(
        if refund_succeeded(tx, ctx, out_request_no, Source::Notify).await? {
            "accepted"
        } else {
            "duplicate"
        },
    )
}

fn millis(duration: std::time::Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}
