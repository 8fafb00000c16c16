//! The outbox: the calls to Alipay that state changes queue in their own transaction
//! (`alipay.trade.close` for closed orders, `alipay.trade.refund` for refunds), made after the
//! commit and retried with backoff until Alipay gives an answer that settles them.

use std::time::Duration;

use alipay::api::TradeClose;

use super::confirm::{Checked, backoff, check_with_alipay};
use super::refunds::{self, Sent};
use super::{Source, call};
use crate::context::Context;
use crate::log::cut;
use crate::store::jobs::{self, Job, JobKind};
use crate::store::{StoreError, now_ms, orders};

/// What one pass over the outbox did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Drained {
    /// Jobs completed.
    pub done: usize,
    /// Jobs that will be retried.
    pub retried: usize,
}

/// How long a claimed job is ours before another instance may take it.
const LEASE_MS: i64 = 60_000;

/// Runs the due jobs (at most `limit`).
pub async fn run_due(ctx: &Context, limit: i64) -> Result<Drained, StoreError> {
    let mut pass = Drained::default();
    for job in jobs::claim_due(&ctx.db, LEASE_MS, limit).await? {
        let outcome = match job.kind {
            JobKind::CloseTrade => close_trade(ctx, &job).await,
            JobKind::Refund => refunds::send(ctx, &job.payload).await,
        };
        let retry = match outcome {
            Ok(Sent::Done) => None,
            Ok(Sent::Retry(reason)) => Some(reason),
            Err(error) => Some(error.to_string()),
        };
        match retry {
            None => {
                jobs::complete(&ctx.db, job.id).await?;
                pass.done += 1;
                metrics::counter!("shop_job_runs_total", "job" => job.kind.as_str(), "outcome" => "done").increment(1);
            }
            Some(reason) => {
                let run_at = now_ms() + backoff(job.attempts, Duration::from_secs(2));
                jobs::retry(&ctx.db, job.id, run_at, &reason).await?;
                pass.retried += 1;
                metrics::counter!("shop_job_runs_total", "job" => job.kind.as_str(), "outcome" => "retry").increment(1);
                tracing::info!(job.id, job.kind = job.kind.as_str(), reason = %cut(&reason), "job will be retried");
            }
        }
    }
    Ok(pass)
}

/// `alipay.trade.close` for an order closed here. If Alipay says the trade is paid after all,
/// the payment is kept: the order is confirmed paid through the usual path.
async fn close_trade(ctx: &Context, job: &Job) -> Result<Sent, StoreError> {
    let Some(order) = orders::get_by_id(&ctx.db, job.order_id).await? else {
        return Ok(Sent::Done);
    };
    match call(ctx, &TradeClose::by_out_trade_no(&order.out_trade_no)).await {
        Ok(_) => Ok(Sent::Done),
        // The buyer never opened the cashier: there is nothing to close.
        Err(e) if e.verified_sub_code() == Some("ACQ.TRADE_NOT_EXIST") => Ok(Sent::Done),
        // Paid or already closed at Alipay: ask which, and keep any money.
        Err(e) if e.verified_sub_code() == Some("ACQ.TRADE_STATUS_ERROR") => {
            match check_with_alipay(ctx, &order, Source::Reconcile).await? {
                Checked::Unknown(reason) => Ok(Sent::Retry(reason)),
                _ => Ok(Sent::Done),
            }
        }
        Err(e) if super::is_verified_refusal(&e) => {
            tracing::warn!(order.out_trade_no = %order.out_trade_no, error = %cut(&e.to_string()), "alipay.trade.close refused");
            Ok(Sent::Done)
        }
        // Unknown or untrusted: try again.
        Err(e) => Ok(Sent::Retry(e.to_string())),
    }
}
