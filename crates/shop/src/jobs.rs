//! Background jobs: each is a `run_once` that tests can call directly, and [`run_until_stopped`]
//! loops them. All are safe with several instances on one PostgreSQL database (claims and
//! compare-and-set updates), and survive restarts (their state is in the database).
//!
//! * **Reconciliation**: unpaid orders with a pay link are checked with `alipay.trade.query`,
//!   first `reconcile_after` after the link, then with backoff; paid there → paid here.
//! * **Timeouts**: unpaid orders past their lifetime become `timeout_cancelled` (and a close job
//!   is queued in the same transaction).
//! * **Outbox**: `alipay.trade.close` and `alipay.trade.refund` calls, retried until Alipay gives
//!   a definite answer; an ambiguous refund is retried with the same `out_request_no`.

use std::time::Duration;

use alipay::api::{RefundQuery, TradeClose, TradeRef, TradeRefund};
use tokio_util::sync::CancellationToken;

use crate::context::Context;
use crate::domain::{OrderStatus, Transition};
use crate::payments::{self, Checked, Facts, Source};
use crate::store::jobs::{self, Job, JobKind};
use crate::store::{self, StoreError, now_ms, orders, refunds};

/// How many orders or jobs one pass takes at most.
const BATCH: i64 = 100;

/// What one pass did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pass {
    /// Orders found paid at Alipay.
    pub paid: usize,
    /// Orders found closed at Alipay.
    pub closed: usize,
    /// Orders closed for timeout.
    pub timed_out: usize,
    /// Outbox jobs completed.
    pub jobs_done: usize,
    /// Outbox jobs that will be retried.
    pub jobs_retried: usize,
    /// Checks that could not decide (Alipay unavailable...).
    pub undecided: usize,
}

/// Backoff for attempt `n` (1-based): 30 s, 1 min, 2 min ... capped at 30 min; scaled by `unit`.
fn backoff(attempt: i64, unit: Duration) -> i64 {
    let steps = attempt.clamp(1, 7) - 1;
    let ms = i64::try_from(unit.as_millis()).unwrap_or(i64::MAX);
    ms.saturating_mul(1 << steps).min(ms.saturating_mul(60))
}

/// Checks unpaid orders whose check is due.
pub async fn reconcile_once(ctx: &Context) -> Result<Pass, StoreError> {
    let mut pass = Pass::default();
    let now = now_ms();
    for order in orders::due_for_check(&ctx.db, now, BATCH).await? {
        // Claim the check: only the instance whose reschedule succeeds goes on.
        let attempts = order.check_attempts + 1;
        let next = now + backoff(attempts, ctx.settings.reconcile_backoff);
        if !orders::reschedule_check(&ctx.db, order.id, order.check_attempts, next, attempts)
            .await?
        {
            continue;
        }
        match payments::check_with_alipay(ctx, &order, Source::Reconcile).await? {
            Checked::Paid => pass.paid += 1,
            Checked::Closed => pass.closed += 1,
            Checked::Unknown(reason) => {
                tracing::info!(order.out_trade_no = %order.out_trade_no, %reason, "reconciliation undecided; will retry");
                pass.undecided += 1;
            }
            Checked::Waiting | Checked::AmountMismatch => {}
        }
    }
    metrics::counter!("shop_job_runs_total", "job" => "reconcile").increment(1);
    Ok(pass)
}

/// Closes unpaid orders past their deadline.
pub async fn expire_once(ctx: &Context) -> Result<Pass, StoreError> {
    let mut pass = Pass::default();
    for out_trade_no in orders::expired_unpaid(&ctx.db, now_ms(), BATCH).await? {
        let mut tx = ctx.db.begin().await?;
        if let Some(order) = orders::lock(&mut tx, &ctx.db, &out_trade_no).await?
            && order.status == OrderStatus::Unpaid
            && order.expires_at <= now_ms()
        {
            let facts = Facts {
                detail: "unpaid past its payment window".into(),
                ..Facts::default()
            };
            if payments::apply(
                &mut tx,
                &order,
                Transition::Timeout,
                Source::Timeout,
                &facts,
            )
            .await?
            {
                pass.timed_out += 1;
            }
        }
        tx.commit().await?;
    }
    metrics::counter!("shop_job_runs_total", "job" => "expire").increment(1);
    Ok(pass)
}

/// Runs due outbox jobs.
pub async fn outbox_once(ctx: &Context) -> Result<Pass, StoreError> {
    let mut pass = Pass::default();
    let lease_ms = 60_000;
    for job in jobs::claim_due(&ctx.db, lease_ms, BATCH).await? {
        let outcome = match job.kind {
            JobKind::CloseTrade => close_trade(ctx, &job).await,
            JobKind::Refund => refund(ctx, &job).await,
        };
        match outcome {
            Ok(Done::Yes) => {
                jobs::complete(&ctx.db, job.id).await?;
                pass.jobs_done += 1;
                metrics::counter!("shop_job_runs_total", "job" => job.kind.as_str(), "outcome" => "done").increment(1);
            }
            Ok(Done::Retry(reason)) => {
                let run_at = now_ms() + backoff(job.attempts, Duration::from_secs(2));
                jobs::retry(&ctx.db, job.id, run_at, &reason).await?;
                pass.jobs_retried += 1;
                metrics::counter!("shop_job_runs_total", "job" => job.kind.as_str(), "outcome" => "retry").increment(1);
                tracing::info!(job.id, job.kind = job.kind.as_str(), %reason, "job will be retried");
            }
            Err(error) => {
                let run_at = now_ms() + backoff(job.attempts, Duration::from_secs(2));
                jobs::retry(&ctx.db, job.id, run_at, &error.to_string()).await?;
                pass.jobs_retried += 1;
            }
        }
    }
    Ok(pass)
}

enum Done {
    Yes,
    Retry(String),
}

async fn order_no(ctx: &Context, order_id: i64) -> Result<String, StoreError> {
    Ok(
        sqlx::query_scalar("SELECT out_trade_no FROM orders WHERE id = $1")
            .bind(order_id)
            .fetch_one(ctx.db.reader())
            .await?,
    )
}

/// `alipay.trade.close` for an order closed here. If Alipay says the trade is paid after all,
/// the payment is kept: the order is confirmed paid through the usual path.
async fn close_trade(ctx: &Context, job: &Job) -> Result<Done, StoreError> {
    let out_trade_no = order_no(ctx, job.order_id).await?;
    match payments::call(ctx, &TradeClose::by_out_trade_no(&out_trade_no)).await {
        Ok(_) => Ok(Done::Yes),
        // The buyer never opened the cashier: there is nothing to close.
        Err(e) if e.sub_code() == Some("ACQ.TRADE_NOT_EXIST") => Ok(Done::Yes),
        // Paid or already closed at Alipay: ask which, and keep any money.
        Err(e) if e.sub_code() == Some("ACQ.TRADE_STATUS_ERROR") => {
            let Some(order) = orders::get(&ctx.db, &out_trade_no).await? else {
                return Ok(Done::Yes);
            };
            match payments::check_with_alipay(ctx, &order, Source::Reconcile).await? {
                Checked::Unknown(reason) => Ok(Done::Retry(reason)),
                _ => Ok(Done::Yes),
            }
        }
        Err(e) if e.is_outcome_unknown() => Ok(Done::Retry(e.to_string())),
        Err(e) => {
            tracing::warn!(order.out_trade_no = %out_trade_no, error = %e, "alipay.trade.close refused");
            Ok(Done::Yes)
        }
    }
}

/// `alipay.trade.refund`, idempotent by `out_request_no`: an ambiguous answer is retried with the
/// same number (and checked with `fastpay.refund.query`), so money moves at most once.
async fn refund(ctx: &Context, job: &Job) -> Result<Done, StoreError> {
    let out_request_no = job.payload.clone();
    let out_trade_no = order_no(ctx, job.order_id).await?;
    let mut tx = ctx.db.begin().await?;
    let Some(pending) = refunds::by_request_no(&mut tx, &ctx.db, &out_request_no).await? else {
        return Ok(Done::Yes);
    };
    tx.commit().await?;
    if pending.status != refunds::RefundStatus::Pending {
        return Ok(Done::Yes);
    }
    let request = TradeRefund::new(
        TradeRef::out_trade_no(&out_trade_no),
        pending.amount,
        &out_request_no,
    )
    .reason(&pending.reason);
    let settled = match payments::call(ctx, &request).await {
        Ok(_) => true,
        Err(e) if e.is_outcome_unknown() => {
            // Did it go through anyway?
            match payments::call(
                ctx,
                &RefundQuery::new(TradeRef::out_trade_no(&out_trade_no), &out_request_no),
            )
            .await
            {
                Ok(answer) if answer.is_refunded() => true,
                _ => return Ok(Done::Retry(e.to_string())),
            }
        }
        Err(e) => {
            tracing::warn!(order.out_trade_no = %out_trade_no, refund = %out_request_no, error = %e, "refund refused by Alipay");
            let mut tx = ctx.db.begin().await?;
            if refunds::settle(&mut tx, pending.id, refunds::RefundStatus::Failed).await? {
                store::events::record(
                    &mut tx,
                    job.order_id,
                    "refund_failed",
                    Source::Admin.as_str(),
                    &e.to_string(),
                )
                .await?;
            }
            tx.commit().await?;
            return Ok(Done::Yes);
        }
    };
    if settled {
        let mut tx = ctx.db.begin().await?;
        payments::refund_succeeded(&mut tx, ctx, &out_request_no, Source::Admin).await?;
        tx.commit().await?;
    }
    Ok(Done::Yes)
}

/// Runs every job once (tests and `shop jobs run-once`).
pub async fn run_all_once(ctx: &Context) -> Result<Pass, StoreError> {
    let expire = expire_once(ctx).await?;
    let outbox = outbox_once(ctx).await?;
    let reconcile = reconcile_once(ctx).await?;
    Ok(Pass {
        paid: reconcile.paid,
        closed: reconcile.closed,
        timed_out: expire.timed_out,
        jobs_done: outbox.jobs_done,
        jobs_retried: outbox.jobs_retried,
        undecided: reconcile.undecided,
    })
}

/// Loops the jobs every `interval` (or sooner when `wakeup` is notified) until `shutdown`.
pub async fn run_until_stopped(
    ctx: Context,
    interval: Duration,
    wakeup: std::sync::Arc<tokio::sync::Notify>,
    shutdown: CancellationToken,
) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            () = wakeup.notified() => {
                if let Err(error) = run_all_once(&ctx).await {
                    tracing::error!(%error, "background jobs failed; will retry");
                }
            }
            _ = ticker.tick() => {
                if let Err(error) = run_all_once(&ctx).await {
                    tracing::error!(%error, "background jobs failed; will retry");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        let unit = Duration::from_secs(30);
        assert_eq!(backoff(1, unit), 30_000);
        assert_eq!(backoff(2, unit), 60_000);
        assert_eq!(backoff(3, unit), 120_000);
        assert_eq!(backoff(50, unit), 30_000 * 60);
    }
}
