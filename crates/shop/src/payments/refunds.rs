//! Refunds, and every change of a refund's status.
//!
//! * An operator asks ([`request_refund`]): courses of the order (each at the price paid) or an
//!   amount alone; never more than is still refundable. The refund and its outbox job are
//!   written in one transaction.
//! * The outbox sends it ([`send`]) with its `out_request_no`, Alipay's idempotency key. Only a
//!   verified refusal marks it failed. An answer that cannot be trusted (bad signature, garbled
//!   body, timeout) leaves it pending: Alipay is asked (`alipay.trade.fastpay.refund.query`,
//!   same number) and, until it gives a verified yes or no, asked again with backoff.
//! * A verified success (the answer, the query, a refund notification) settles it
//!   (`succeeded`), pending or failed: the refunded total grows (never past the paid amount),
//!   the courses it gives back are revoked (unless another paid order of the buyer pays for
//!   them), and a fully refunded order becomes `refunded` through [`super::apply`].
//! * A refund Alipay reports that the shop never asked for (made in the merchant console) is
//!   recorded as such, with its effects, and as an anomaly (`record_external`).
//! * The later of two payments for the same course is refunded in full automatically
//!   (`refund_double_payment`).

use alipay::Money;
use alipay::api::{RefundQuery, TradeRef, TradeRefund};

use super::confirm::anomaly;
use super::{Facts, PaymentError, Source, apply, call, is_verified_refusal, retry_on_conflict};
use crate::context::Context;
use crate::domain::refund::{self, Plan, Scope};
use crate::domain::{
    AnomalyKind, Order, OrderStatus, Refund, RefundOrigin, RefundStatus, Transition, ids,
};
use crate::log::cut;
use crate::store::jobs::{self, JobKind};
use crate::store::refunds::{self as stored, NewRefund};
use crate::store::{StoreError, Tx, events, idempotency, now_ms, orders};

/// A refund an operator asks for.
#[derive(Debug)]
pub struct RefundRequest<'a> {
    /// The operator.
    pub operator_id: i64,
    /// The order.
    pub out_trade_no: &'a str,
    /// What to give back.
    pub scope: Scope,
    /// Why.
    pub reason: &'a str,
    /// The client's `Idempotency-Key`, if any.
    pub idempotency_key: Option<&'a str>,
}

const REFUND_SCOPE: &str = "refund";

/// Records a refund (never above what is still refundable) and queues its call to Alipay in
/// the same transaction.
pub async fn request_refund(
    ctx: &Context,
    request: &RefundRequest<'_>,
) -> Result<Refund, PaymentError> {
    let request_hash = format!(
        "{}|{:?}|{}",
        request.out_trade_no, request.scope, request.reason
    );
    if let Some(key) = request.idempotency_key
        && let Some(seen) =
            idempotency::find(&ctx.db, request.operator_id, REFUND_SCOPE, key).await?
    {
        return replay(ctx, &seen, &request_hash).await;
    }
    let mut tx = ctx.db.begin().await?;
    let order = orders::lock(&mut tx, &ctx.db, request.out_trade_no)
        .await?
        .ok_or(PaymentError::OrderNotFound)?;
    if order.status != OrderStatus::Paid {
        return Err(PaymentError::WrongStatus(order.status));
    }
    let existing = stored::for_order_tx(&mut tx, order.id).await?;
    let plan = refund::plan(&order, &existing, &request.scope)?;
    let out_request_no = ids::out_request_no();
    if let Some(key) = request.idempotency_key {
        match idempotency::claim(
            &mut tx,
            request.operator_id,
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
                let seen = idempotency::find(&ctx.db, request.operator_id, REFUND_SCOPE, key)
                    .await?
                    .ok_or(PaymentError::IdempotencyMismatch)?;
                return replay(ctx, &seen, &request_hash).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
    queue(
        &mut tx,
        &order,
        &out_request_no,
        &plan,
        request.reason,
        RefundOrigin::Operator,
        Some(request.operator_id),
        Source::Admin,
    )
    .await?;
    tx.commit().await?;
    stored::get(&ctx.db, &out_request_no)
        .await?
        .ok_or(PaymentError::RefundNotFound)
}

async fn replay(
    ctx: &Context,
    seen: &idempotency::Seen,
    request_hash: &str,
) -> Result<Refund, PaymentError> {
    if seen.request_hash != request_hash {
        return Err(PaymentError::IdempotencyMismatch);
    }
    stored::get(&ctx.db, &seen.resource)
        .await?
        .ok_or(PaymentError::RefundNotFound)
}

/// Stores a pending refund, its outbox job and the timeline entry.
#[allow(clippy::too_many_arguments)]
async fn queue(
    tx: &mut Tx,
    order: &Order,
    out_request_no: &str,
    plan: &Plan,
    reason: &str,
    origin: RefundOrigin,
    requested_by: Option<i64>,
    source: Source,
) -> Result<(), StoreError> {
    stored::insert(
        tx,
        &NewRefund {
            order_id: order.id,
            out_request_no,
            plan,
            reason,
            origin,
            requested_by,
            status: RefundStatus::Pending,
        },
    )
    .await?;
    jobs::enqueue(tx, JobKind::Refund, order.id, out_request_no, now_ms()).await?;
    let courses: Vec<String> = plan.items.iter().map(|i| i.course_id.to_string()).collect();
    let what = if courses.is_empty() {
        String::new()
    } else {
        format!(" for courses {}", courses.join(", "))
    };
    events::record(
        tx,
        order.id,
        "refund_requested",
        source.as_str(),
        requested_by,
        &format!("{}{what} ({out_request_no})", plan.amount),
    )
    .await?;
    metrics::counter!("shop_refunds_requested_total", "origin" => origin.as_str()).increment(1);
    Ok(())
}

/// A buyer paid `order` for courses (`owned`) another of their paid orders already pays for:
/// records the anomaly and refunds this order in full through the outbox.
pub(crate) async fn refund_double_payment(
    tx: &mut Tx,
    _ctx: &Context,
    order: &Order,
    owned: &[i64],
    source: Source,
) -> Result<(), StoreError> {
    let courses: Vec<String> = owned.iter().map(i64::to_string).collect();
    let detail = format!(
        "courses {} were already paid for by another order; this order is refunded in full",
        courses.join(", ")
    );
    anomaly(
        tx,
        order,
        AnomalyKind::DoublePayment,
        Some(order.total),
        &detail,
        source,
    )
    .await?;
    queue(
        tx,
        order,
        &ids::out_request_no(),
        &refund::whole(order),
        "重复支付退款 (paid twice for the same course)",
        RefundOrigin::DoublePayment,
        None,
        Source::Shop,
    )
    .await
}

/// What sending a refund came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Sent {
    /// Settled (succeeded or failed), or nothing left to do.
    Done,
    /// Alipay's answer could not be trusted or said nothing yet: ask again later.
    Retry(String),
}

/// Sends a pending refund to Alipay (the outbox's refund step) and settles it on a verified
/// answer.
pub async fn send(ctx: &Context, out_request_no: &str) -> Result<Sent, StoreError> {
    let Some(pending) = stored::get(&ctx.db, out_request_no).await? else {
        return Ok(Sent::Done);
    };
    if pending.status != RefundStatus::Pending {
        return Ok(Sent::Done);
    }
    let Some(order) = orders::get_by_id(&ctx.db, pending.order_id).await? else {
        return Ok(Sent::Done);
    };
    let trade = TradeRef::out_trade_no(&order.out_trade_no);
    let request =
        TradeRefund::new(trade.clone(), pending.amount, out_request_no).reason(&pending.reason);
    let refusal = match call(ctx, &request).await {
        Ok(_) => {
            settle_succeeded(ctx, out_request_no, Source::Outbox).await?;
            return Ok(Sent::Done);
        }
        Err(e) if is_verified_refusal(&e) => e,
        Err(e) => {
            // The outcome is unknown: the refund may have been made. Ask with the same number.
            return match call(ctx, &RefundQuery::new(trade, out_request_no)).await {
                Ok(answer) if answer.is_refunded() => {
                    settle_succeeded(ctx, out_request_no, Source::Outbox).await?;
                    Ok(Sent::Done)
                }
                // Alipay has no such refund (yet): send it again, same number, later.
                Ok(_) => Ok(Sent::Retry(format!(
                    "{e}; Alipay has no refund {out_request_no} yet"
                ))),
                Err(query) => Ok(Sent::Retry(format!("{e}; query: {query}"))),
            };
        }
    };
    tracing::warn!(order.out_trade_no = %order.out_trade_no, refund = %out_request_no, error = %cut(&refusal.to_string()), "refund refused by Alipay");
    retry_on_conflict(|| async {
        let mut tx = ctx.db.begin().await?;
        if let Some(refund) = stored::by_request_no(&mut tx, &ctx.db, out_request_no).await? {
            failed(&mut tx, &refund, &refusal.to_string()).await?;
        }
        tx.commit().await?;
        Ok(())
    })
    .await?;
    Ok(Sent::Done)
}

pub(crate) async fn settle_succeeded(
    ctx: &Context,
    out_request_no: &str,
    source: Source,
) -> Result<bool, StoreError> {
    retry_on_conflict(|| async {
        let mut tx = ctx.db.begin().await?;
        let settled = match stored::by_request_no(&mut tx, &ctx.db, out_request_no).await? {
            Some(refund) => succeeded(&mut tx, ctx, &refund, source).await?,
            None => false,
        };
        tx.commit().await?;
        Ok(settled)
    })
    .await
}

/// Settles `refund` as failed (a verified refusal), if it is still pending.
async fn failed(tx: &mut Tx, refund: &Refund, reason: &str) -> Result<bool, StoreError> {
    if !stored::settle(tx, refund.id, RefundStatus::Failed).await? {
        return Ok(false);
    }
    events::record(
        tx,
        refund.order_id,
        "refund_failed",
        Source::Outbox.as_str(),
        None,
        &format!("{} ({}): {}", refund.amount, refund.out_request_no, reason),
    )
    .await?;
    metrics::counter!("shop_refunds_settled_total", "status" => "failed").increment(1);
    Ok(true)
}

/// Settles `refund` as succeeded on Alipay's verified word: adds it to the order's refunded
/// total (never past what was paid), revokes the courses it gives back and, once everything is
/// refunded, moves the order to `refunded` through [`apply`]. Idempotent: a refund that already
/// succeeded changes nothing.
pub(crate) async fn succeeded(
    tx: &mut Tx,
    ctx: &Context,
    refund: &Refund,
    source: Source,
) -> Result<bool, StoreError> {
    if !stored::settle(tx, refund.id, RefundStatus::Succeeded).await? {
        return Ok(false);
    }
    let Some(mut order) = orders::lock_by_id(tx, &ctx.db, refund.order_id).await? else {
        return Ok(true);
    };
    let room = order
        .total
        .checked_sub(order.refunded)
        .unwrap_or(Money::ZERO);
    let counted = refund.amount.min(room);
    if counted < refund.amount {
        let detail = format!(
            "Alipay refunded {} ({}) with only {room} of {} left to refund here",
            refund.amount, refund.out_request_no, order.total
        );
        anomaly(
            tx,
            &order,
            AnomalyKind::OverRefunded,
            Some(refund.amount),
            &detail,
            source,
        )
        .await?;
    }
    orders::add_refunded(tx, order.id, counted).await?;
    order.refunded = order.refunded.checked_add(counted).unwrap_or(order.total);
    events::record(
        tx,
        order.id,
        "refund_succeeded",
        source.as_str(),
        None,
        &format!("{} ({})", refund.amount, refund.out_request_no),
    )
    .await?;
    let courses: Vec<i64> = refund.items.iter().map(|i| i.course_id).collect();
    orders::revoke(tx, &order, &courses).await?;
    if order.refunded >= order.total {
        let facts = Facts {
            detail: format!("refunded {} in total", order.refunded),
            ..Facts::default()
        };
        apply(tx, &order, Transition::RefundInFull, source, &facts).await?;
    }
    metrics::counter!("shop_refunds_settled_total", "status" => "succeeded").increment(1);
    Ok(true)
}

/// Records a refund Alipay made that the shop never asked for (the merchant console), with its
/// effects as an amount-only refund (nothing revoked unless the order ends fully refunded), and
/// an anomaly. Returns `false` if a refund with that number is already known.
pub(crate) async fn record_external(
    tx: &mut Tx,
    ctx: &Context,
    order: &Order,
    out_request_no: &str,
    amount: Money,
    source: Source,
) -> Result<bool, StoreError> {
    let plan = Plan {
        amount,
        items: Vec::new(),
    };
    match stored::insert(
        tx,
        &NewRefund {
            order_id: order.id,
            out_request_no,
            plan: &plan,
            reason: "made outside the shop (merchant console)",
            origin: RefundOrigin::External,
            requested_by: None,
            status: RefundStatus::Pending,
        },
    )
    .await
    {
        Ok(_) => {}
        Err(StoreError::Conflict(_)) => return Ok(false),
        Err(e) => return Err(e),
    }
    let detail =
        format!("Alipay refunded {amount} ({out_request_no}) that the shop did not ask for");
    anomaly(
        tx,
        order,
        AnomalyKind::ExternalRefund,
        Some(amount),
        &detail,
        source,
    )
    .await?;
    let refund = stored::by_request_no(tx, &ctx.db, out_request_no)
        .await?
        .ok_or_else(|| StoreError::Corrupt(format!("refund {out_request_no} vanished")))?;
    succeeded(tx, ctx, &refund, source).await
}

/// A refund notification (`out_biz_no` names the refund, `refund_fee` is the trade's refunded
/// total at Alipay): settles the refund it names, or records one the shop never asked for.
/// Returns the notification's verdict and a detail for the record.
pub(crate) async fn notified(
    tx: &mut Tx,
    ctx: &Context,
    notification: &alipay::Notification,
) -> Result<(&'static str, String), StoreError> {
    let Some(out_request_no) = &notification.out_biz_no else {
        return Ok(("ignored", "a refund without out_biz_no".into()));
    };
    let refund_fee = notification.refund_fee.unwrap_or(Money::ZERO);
    if let Some(refund) = stored::by_request_no(tx, &ctx.db, out_request_no).await? {
        let Some(order) = orders::lock_by_id(tx, &ctx.db, refund.order_id).await? else {
            return Ok(("unknown_order", String::new()));
        };
        if order.out_trade_no != notification.out_trade_no {
            let detail = format!(
                "refund {out_request_no} belongs to order {}, the notification names {}",
                order.out_trade_no,
                cut(&notification.out_trade_no)
            );
            anomaly(
                tx,
                &order,
                AnomalyKind::RefundMismatch,
                Some(refund_fee),
                &detail,
                Source::Notify,
            )
            .await?;
            return Ok(("refund_mismatch", detail));
        }
        // refund_fee is cumulative: it includes this refund and never exceeds the trade.
        if refund_fee < refund.amount || refund_fee > order.total {
            let detail = format!(
                "refund {out_request_no} of {} reported with a refunded total of {refund_fee} on an order of {}",
                refund.amount, order.total
            );
            anomaly(
                tx,
                &order,
                AnomalyKind::RefundMismatch,
                Some(refund_fee),
                &detail,
                Source::Notify,
            )
            .await?;
        }
        let verdict = if succeeded(tx, ctx, &refund, Source::Notify).await? {
            "accepted"
        } else {
            "duplicate"
        };
        return Ok((verdict, String::new()));
    }
    let Some(order) = orders::lock(tx, &ctx.db, &notification.out_trade_no).await? else {
        return Ok(("unknown_order", String::new()));
    };
    // A refund the shop did not make. Its own amount is what Alipay's refunded total adds to
    // what the shop knows was refunded; the daily bill gives the exact figure per refund.
    let amount = refund_fee
        .checked_sub(order.refunded)
        .unwrap_or(Money::ZERO);
    if amount <= Money::ZERO {
        let detail = format!(
            "unknown refund {} reported with a refunded total of {refund_fee}, no more than the {} refunded here",
            cut(out_request_no),
            order.refunded
        );
        anomaly(
            tx,
            &order,
            AnomalyKind::RefundMismatch,
            Some(refund_fee),
            &detail,
            Source::Notify,
        )
        .await?;
        return Ok(("refund_mismatch", detail));
    }
    record_external(tx, ctx, &order, out_request_no, amount, Source::Notify).await?;
    Ok((
        "external_refund",
        format!(
            "{amount} refunded outside the shop ({})",
            cut(out_request_no)
        ),
    ))
}

/// The refunds of an order (any order: for operators).
pub async fn for_order(ctx: &Context, order: &Order) -> Result<Vec<Refund>, PaymentError> {
    Ok(stored::for_order(&ctx.db, order.id).await?)
}
