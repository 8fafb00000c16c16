//! The background jobs loop: each pass calls the use cases that keep the books right. All are
//! safe with several instances on one PostgreSQL database (claims and compare-and-set updates),
//! and survive restarts (their state is in the database).
//!
//! * Timeouts: [`payments::checkout::expire_due`].
//! * The outbox of calls to Alipay: [`payments::outbox::run_due`].
//! * Reconciliation of unpaid orders: [`payments::confirm::reconcile_due`].
//! * Retention of rejected notifications: [`payments::notify::prune_rejected`] (hourly).
//! * Settlement of the day before against Alipay's bill: [`payments::settlement::settle_due`]
//!   (checked every minute; it runs once its time of day has come).

use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use crate::context::Context;
use crate::payments;
use crate::store::StoreError;

/// How many orders or jobs one pass takes at most.
const BATCH: i64 = 100;

/// How often old rejected notifications are pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// How often the settlement schedule is looked at.
const SETTLE_CHECK_EVERY: Duration = Duration::from_secs(60);

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

/// Checks unpaid orders whose check is due.
pub async fn reconcile_once(ctx: &Context) -> Result<Pass, StoreError> {
    let found = payments::confirm::reconcile_due(ctx, BATCH).await?;
    metrics::counter!("shop_job_runs_total", "job" => "reconcile").increment(1);
    Ok(Pass {
        paid: found.paid,
        closed: found.closed,
        undecided: found.undecided,
        ..Pass::default()
    })
}

/// Closes unpaid orders past their deadline.
pub async fn expire_once(ctx: &Context) -> Result<Pass, StoreError> {
    let timed_out = payments::checkout::expire_due(ctx, BATCH).await?;
    metrics::counter!("shop_job_runs_total", "job" => "expire").increment(1);
    Ok(Pass {
        timed_out,
        ..Pass::default()
    })
}

/// Runs due outbox jobs.
pub async fn outbox_once(ctx: &Context) -> Result<Pass, StoreError> {
    let drained = payments::outbox::run_due(ctx, BATCH).await?;
    Ok(Pass {
        jobs_done: drained.done,
        jobs_retried: drained.retried,
        ..Pass::default()
    })
}

/// Runs every job once (tests and operators).
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
    let mut last_prune: Option<Instant> = None;
    let mut last_settle_check: Option<Instant> = None;
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            () = wakeup.notified() => {}
            _ = ticker.tick() => {}
        }
        if let Err(error) = run_all_once(&ctx).await {
            tracing::error!(%error, "background jobs failed; will retry");
        }
        if let Some(schedule) = ctx.settings.settle
            && last_settle_check.is_none_or(|at| at.elapsed() >= SETTLE_CHECK_EVERY)
        {
            last_settle_check = Some(Instant::now());
            if let Err(error) = payments::settlement::settle_due(&ctx, schedule).await {
                tracing::error!(%error, "daily settlement failed; will retry");
            }
        }
        if last_prune.is_none_or(|at| at.elapsed() >= PRUNE_EVERY) {
            last_prune = Some(Instant::now());
            match payments::notify::prune_rejected(&ctx).await {
                Ok(0) => {}
                Ok(gone) => tracing::info!(gone, "old rejected notifications pruned"),
                Err(error) => tracing::error!(%error, "pruning rejected notifications failed"),
            }
        }
    }
}
