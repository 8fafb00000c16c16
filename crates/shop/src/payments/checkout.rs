//! Placing orders and paying for them: the server-side price check, pay links, the buyer's
//! cancel, the timeout close, and what a buyer sees of their orders and courses.

use alipay::{Money, WebPay};

use super::{Facts, PaymentError, Source, apply, millis, retry_on_conflict};
use crate::context::Context;
use crate::domain::{Enrollment, Order, OrderStatus, Refund, Transition, checkout, ids};
use crate::store::order_writer::{Claim, NewOrder, Written};
use crate::store::{self, StoreError, courses, idempotency, now_ms, orders, refunds};

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
    let written = ctx
        .order_writer
        .write(NewOrder {
            out_trade_no,
            user_id: request.user_id,
            priced,
            expires_at: now + millis(ctx.settings.order_ttl),
            first_check_at: now + millis(ctx.settings.reconcile_after),
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

/// The buyer's own order with its refunds.
pub async fn own_order_detail(
    ctx: &Context,
    user_id: i64,
    out_trade_no: &str,
) -> Result<(Order, Vec<Refund>), PaymentError> {
    let order = own_order(ctx, user_id, out_trade_no).await?;
    let refunds = refunds::for_order(&ctx.db, order.id).await?;
    Ok((order, refunds))
}

/// The buyer's orders, newest first (at most 200).
pub async fn own_orders(ctx: &Context, user_id: i64) -> Result<Vec<Order>, PaymentError> {
    Ok(orders::for_user(&ctx.db, user_id, 200).await?)
}

/// The courses the buyer owns, newest first.
pub async fn own_courses(ctx: &Context, user_id: i64) -> Result<Vec<Enrollment>, PaymentError> {
    Ok(orders::enrollments(&ctx.db, user_id).await?)
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
    .moved()
    {
        return Err(PaymentError::WrongStatus(current.status));
    }
    tx.commit().await?;
    orders::get(&ctx.db, out_trade_no)
        .await?
        .ok_or(PaymentError::OrderNotFound)
}

/// Closes unpaid orders past their deadline (at most `limit`); returns how many.
pub async fn expire_due(ctx: &Context, limit: i64) -> Result<usize, StoreError> {
    let mut timed_out = 0;
    for out_trade_no in orders::expired_unpaid(&ctx.db, now_ms(), limit).await? {
        let moved = retry_on_conflict(|| expire(ctx, &out_trade_no)).await?;
        timed_out += usize::from(moved);
    }
    Ok(timed_out)
}

async fn expire(ctx: &Context, out_trade_no: &str) -> Result<bool, StoreError> {
    let mut tx = ctx.db.begin().await?;
    let mut moved = false;
    if let Some(order) = orders::lock(&mut tx, &ctx.db, out_trade_no).await?
        && order.status == OrderStatus::Unpaid
        && order.expires_at <= now_ms()
    {
        let facts = Facts {
            detail: "unpaid past its payment window".into(),
            ..Facts::default()
        };
        moved = apply(
            &mut tx,
            &order,
            Transition::Timeout,
            Source::Timeout,
            &facts,
        )
        .await?
        .moved();
    }
    tx.commit().await?;
    Ok(moved)
}
