//! Settling a day against Alipay's trade bill (对账单): every line matched with the shop's orders
//! and refunds ([`crate::domain::settlement::reconcile`]), and every difference acted on through
//! the usual paths, source `bill`:
//!
//! * paid at Alipay, not here → paid through [`super::apply`], fulfilled as usual;
//! * a refund made at Alipay that is pending or failed here → settled as succeeded;
//! * a refund the shop never asked for → recorded with its effects, and an anomaly;
//! * different amounts, orders the shop does not have, payments missing from the bill →
//!   anomalies.
//!
//! The daily job, `shop settle --date`, and the back office's button all run [`settle_day`]. A
//! day is claimed with a lease, so one instance settles it at a time; a second run finds the
//! books in order and changes nothing (differences and anomalies are recorded once).

use std::collections::{BTreeSet, HashMap, HashSet};
use std::time::Duration;

use alipay::bill::Business;
use alipay::bill::FetchError;
use alipay::{SignedMoney, TradeStatus};
use time::{Date, OffsetDateTime};

use super::confirm::{self, Misfit, Outcome, Report, record_anomaly};
use super::{Source, millis, refunds, retry_on_conflict};
use crate::context::Context;
use crate::domain::settlement::{
    Books, Finding, FindingKind, Side, alipay_side, reconcile, shop_side,
};
use crate::domain::settlement::{Difference, Settlement};
use crate::domain::{AnomalyKind, Money, Order};
use crate::log::cut;
use crate::store::settlements::{self, Finished};
use crate::store::{self, StoreError, now_ms, orders};

/// How long a run may hold its day before another instance may take it over.
const LEASE: Duration = Duration::from_secs(15 * 60);

/// How long the daily job waits before trying a failed day again.
const RETRY_FAILED: Duration = Duration::from_secs(30 * 60);

/// Why a day could not be settled.
#[derive(Debug, thiserror::Error)]
pub enum SettleError {
    /// Not a `yyyy-MM-dd` date, or one in the future.
    #[error("{0:?} is not a past or present day (yyyy-MM-dd)")]
    InvalidDate(String),
    /// Another run (another instance, another operator) has the day now.
    #[error("the day {0} is being settled right now")]
    Busy(String),
    /// The bill could not be had or read; the day is recorded as failed.
    #[error("the bill of {date} could not be had: {reason}")]
    Bill {
        /// The day.
        date: String,
        /// Why.
        reason: String,
    },
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Parses a `yyyy-MM-dd` day that is not in the future (Beijing time).
pub fn parse_day(text: &str) -> Result<Date, SettleError> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let date = Date::parse(text, &format).map_err(|_| SettleError::InvalidDate(text.to_owned()))?;
    if date > alipay::time::now().date() {
        return Err(SettleError::InvalidDate(text.to_owned()));
    }
    Ok(date)
}

fn day_text(date: Date) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    date.format(&format).unwrap_or_default()
}

/// The day's bounds in Unix ms, Beijing time.
fn bounds(date: Date) -> (i64, i64) {
    let start = date.midnight().assume_offset(alipay::time::BEIJING);
    let from = store::to_ms(start);
    (from, from + 24 * 3600 * 1000)
}

/// Settles `date` (run by `operator`, or by the job or the command line), and returns the
/// day's record.
pub async fn settle_day(
    ctx: &Context,
    date: Date,
    operator: Option<i64>,
) -> Result<Settlement, SettleError> {
    let day = day_text(date);
    if !settlements::claim(&ctx.db, &day, operator, now_ms() + millis(LEASE)).await? {
        return Err(SettleError::Busy(day));
    }
    let outcome = run(ctx, date, &day).await;
    let (finished, differences) = match outcome {
        Ok(Run {
            status,
            alipay,
            shop,
            differences,
        }) => (
            Finished {
                status,
                alipay,
                shop,
                detail: "",
                retry_after: None,
            },
            differences,
        ),
        Err(RunError::Bill(reason)) => {
            let error = SettleError::Bill {
                date: day.clone(),
                reason: reason.clone(),
            };
            tracing::warn!(date = %day, reason = %cut(&reason), "settlement failed: no bill");
            metrics::counter!("shop_settlement_runs_total", "status" => "failed").increment(1);
            let finished = Finished {
                status: "failed",
                alipay: Side::default(),
                shop: Side::default(),
                detail: &reason,
                retry_after: Some(now_ms() + millis(RETRY_FAILED)),
            };
            settlements::finish(&ctx.db, &day, &finished, &[]).await?;
            return Err(error);
        }
        Err(RunError::Store(error)) => {
            // Leave the lease to expire: another attempt may take the day over later.
            return Err(error.into());
        }
    };
    settlements::finish(&ctx.db, &day, &finished, &differences).await?;
    metrics::counter!("shop_settlement_runs_total", "status" => finished.status).increment(1);
    for difference in &differences {
        metrics::counter!("shop_settlement_differences_total", "kind" => difference.kind.as_str())
            .increment(1);
    }
    tracing::info!(
        date = %day,
        status = finished.status,
        alipay.count = finished.alipay.count,
        alipay.total = %finished.alipay.total,
        shop.count = finished.shop.count,
        shop.total = %finished.shop.total,
        differences = differences.len(),
        "day settled"
    );
    settlements::get(&ctx.db, &day).await?.ok_or_else(|| {
        SettleError::Store(StoreError::Corrupt(format!("settlement {day} vanished")))
    })
}

struct Run {
    status: &'static str,
    alipay: Side,
    shop: Side,
    differences: Vec<Difference>,
}

enum RunError {
    Bill(String),
    Store(StoreError),
}

impl From<StoreError> for RunError {
    fn from(error: StoreError) -> RunError {
        RunError::Store(error)
    }
}

async fn run(ctx: &Context, date: Date, day: &str) -> Result<Run, RunError> {
    let (lines, status) = match ctx.alipay.fetch_bill(day).await {
        Ok(Some(bill)) => (bill.lines, "completed"),
        // A verified "no bill": nothing happened at Alipay that day (which the shop's own
        // payments of the day may contradict: they are checked all the same).
        Ok(None) => (Vec::new(), "no_bill"),
        Err(FetchError::Api(error)) => return Err(RunError::Bill(error.to_string())),
        Err(error) => return Err(RunError::Bill(error.to_string())),
    };
    let (from, until) = bounds(date);
    // The day's paid orders first (one query), then only the other orders the bill names.
    let paid_that_day = orders::paid_between(&ctx.db, from, until).await?;
    let others = {
        let known: HashSet<&str> = paid_that_day
            .iter()
            .map(|o| o.out_trade_no.as_str())
            .collect();
        let numbers: BTreeSet<&str> = lines
            .iter()
            .map(|l| l.out_trade_no.as_str())
            .filter(|no| !known.contains(no))
            .collect();
        let numbers: Vec<&str> = numbers.into_iter().collect();
        orders::by_out_trade_nos(&ctx.db, &numbers).await?
    };
    let request_numbers: BTreeSet<&str> = lines
        .iter()
        .filter(|l| l.business == Business::Refund)
        .map(|l| l.out_request_no.as_deref().unwrap_or(&l.out_trade_no))
        .collect();
    let request_numbers: Vec<&str> = request_numbers.into_iter().collect();
    let refunds = store::refunds::by_request_nos(&ctx.db, &request_numbers).await?;
    let books = Books::new(paid_that_day, others, refunds);
    let refunded_that_day = store::refunds::succeeded_between(&ctx.db, from, until).await?;
    let shop = shop_side(books.paid_that_day(), &refunded_that_day);
    let alipay = alipay_side(&lines);
    let findings = reconcile(&lines, &books);
    let mut differences = Vec::with_capacity(findings.len());
    for finding in &findings {
        let action = act(ctx, day, finding, &books.orders).await?;
        differences.push(difference(finding, action));
    }
    Ok(Run {
        status,
        alipay,
        shop,
        differences,
    })
}

/// Does what a finding calls for; returns what was done, for the report, as a code:
/// `marked_paid`, `already_paid`, `not_paid:<verdict>`, `refund_settled`,
/// `refund_already_settled`, `refund_recorded` (with its anomaly), `refund_on_record`,
/// `anomaly_recorded`, `anomaly_on_record`.
async fn act(
    ctx: &Context,
    day: &str,
    finding: &Finding,
    orders: &HashMap<String, Order>,
) -> Result<String, StoreError> {
    let key = |kind: FindingKind, extra: &str| {
        format!("bill:{day}:{kind}:{}:{extra}", finding.out_trade_no())
    };
    match finding {
        Finding::PaidAtAlipayOnly {
            out_trade_no,
            trade_no,
            amount,
            paid_at,
        } => {
            let report = Report {
                status: TradeStatus::TradeSuccess,
                trade_no: Some(trade_no.clone()),
                amount: Some(*amount),
                paid_at: *paid_at,
            };
            let outcome =
                confirm::apply_report_alone(ctx, out_trade_no, &report, Source::Bill).await?;
            Ok(match outcome {
                Outcome::Paid => "marked_paid".into(),
                Outcome::AlreadyPaid => "already_paid".into(),
                other => format!("not_paid:{}", other.verdict()),
            })
        }
        Finding::AmountMismatch {
            out_trade_no,
            trade_no,
            alipay,
            shop,
        } => {
            let detail = format!(
                "the bill has {alipay} paid for order {out_trade_no} (trade {trade_no}) of {shop}"
            );
            let key = key(FindingKind::AmountMismatch, trade_no);
            misfit(
                ctx,
                orders.get(out_trade_no),
                out_trade_no,
                AnomalyKind::AmountMismatch,
                Some(*alipay),
                &detail,
                &key,
            )
            .await
        }
        Finding::UnknownOrder {
            out_trade_no,
            trade_no,
            amount,
        } => {
            let detail = format!(
                "the bill has {amount} for order {} (trade {trade_no}), which the shop does not have",
                cut(out_trade_no)
            );
            let key = key(FindingKind::UnknownOrder, trade_no);
            misfit(
                ctx,
                None,
                out_trade_no,
                AnomalyKind::UnknownOrder,
                Some(amount.magnitude()),
                &detail,
                &key,
            )
            .await
        }
        Finding::RefundConfirmed { out_request_no, .. } => {
            if refunds::settle_succeeded(ctx, out_request_no, Source::Bill).await? {
                Ok("refund_settled".into())
            } else {
                Ok("refund_already_settled".into())
            }
        }
        Finding::RefundAmountMismatch {
            out_trade_no,
            out_request_no,
            alipay,
            shop,
        } => {
            let detail = format!(
                "the bill has refund {out_request_no} of order {out_trade_no} at {alipay}, the shop asked {shop}"
            );
            let key = key(FindingKind::RefundAmountMismatch, out_request_no);
            misfit(
                ctx,
                orders.get(out_trade_no),
                out_trade_no,
                AnomalyKind::RefundMismatch,
                Some(*alipay),
                &detail,
                &key,
            )
            .await
        }
        Finding::RefundUnknownHere {
            out_trade_no,
            out_request_no,
            amount,
            ..
        } => {
            let recorded = retry_on_conflict(|| async {
                let mut tx = ctx.db.begin().await?;
                let recorded = match orders::lock(&mut tx, &ctx.db, out_trade_no).await? {
                    Some(order) => {
                        refunds::record_external(
                            &mut tx,
                            ctx,
                            &order,
                            out_request_no,
                            *amount,
                            Source::Bill,
                        )
                        .await?
                    }
                    None => false,
                };
                tx.commit().await?;
                Ok(recorded)
            })
            .await?;
            Ok(if recorded {
                "refund_recorded".into()
            } else {
                "refund_on_record".into()
            })
        }
        Finding::MissingFromBill {
            out_trade_no,
            amount,
            ..
        } => {
            let detail = format!(
                "order {out_trade_no} was paid here ({amount}) but is not on Alipay's bill of {day}"
            );
            let key = key(FindingKind::MissingFromBill, "");
            misfit(
                ctx,
                orders.get(out_trade_no),
                out_trade_no,
                AnomalyKind::MissingFromBill,
                Some(*amount),
                &detail,
                &key,
            )
            .await
        }
    }
}

/// Records an anomaly found by settlement (once per key); the action for the report.
async fn misfit(
    ctx: &Context,
    order: Option<&Order>,
    out_trade_no: &str,
    kind: AnomalyKind,
    amount: Option<Money>,
    detail: &str,
    key: &str,
) -> Result<String, StoreError> {
    let order = match order {
        Some(order) => Some(order.clone()),
        None => orders::get(&ctx.db, out_trade_no).await?,
    };
    let mut tx = ctx.db.begin().await?;
    let new = record_anomaly(
        &mut tx,
        &Misfit {
            order: order.as_ref(),
            out_trade_no,
            kind,
            amount,
            detail,
            source: Source::Bill,
            dedupe_key: Some(key),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(if new {
        "anomaly_recorded".into()
    } else {
        "anomaly_on_record".into()
    })
}

fn difference(finding: &Finding, action: String) -> Difference {
    let (trade_no, out_request_no, amount, detail) = match finding {
        Finding::PaidAtAlipayOnly {
            trade_no, amount, ..
        } => (
            trade_no.clone(),
            String::new(),
            SignedMoney::from(*amount),
            String::new(),
        ),
        Finding::AmountMismatch {
            trade_no,
            alipay,
            shop,
            ..
        } => (
            trade_no.clone(),
            String::new(),
            SignedMoney::from(*alipay),
            format!("the order is {shop}"),
        ),
        Finding::UnknownOrder {
            trade_no, amount, ..
        } => (trade_no.clone(), String::new(), *amount, String::new()),
        Finding::RefundConfirmed {
            out_request_no,
            amount,
            ..
        } => (
            String::new(),
            out_request_no.clone(),
            -SignedMoney::from(*amount),
            String::new(),
        ),
        Finding::RefundAmountMismatch {
            out_request_no,
            alipay,
            shop,
            ..
        } => (
            String::new(),
            out_request_no.clone(),
            -SignedMoney::from(*alipay),
            format!("the shop asked {shop}"),
        ),
        Finding::RefundUnknownHere {
            trade_no,
            out_request_no,
            amount,
            ..
        } => (
            trade_no.clone(),
            out_request_no.clone(),
            -SignedMoney::from(*amount),
            String::new(),
        ),
        Finding::MissingFromBill {
            trade_no, amount, ..
        } => (
            trade_no.clone().unwrap_or_default(),
            String::new(),
            SignedMoney::from(*amount),
            String::new(),
        ),
    };
    Difference {
        kind: finding.kind(),
        out_trade_no: finding.out_trade_no().to_owned(),
        trade_no,
        out_request_no,
        amount,
        action,
        detail,
    }
}

/// A settled day and its differences.
pub async fn report(
    ctx: &Context,
    day: &str,
) -> Result<Option<(Settlement, Vec<Difference>)>, SettleError> {
    let Some(settlement) = settlements::get(&ctx.db, day).await? else {
        return Ok(None);
    };
    let differences = settlements::differences(&ctx.db, day).await?;
    Ok(Some((settlement, differences)))
}

/// The latest settled days, newest first.
pub async fn days(ctx: &Context, limit: i64) -> Result<Vec<Settlement>, SettleError> {
    Ok(settlements::list(&ctx.db, limit.clamp(1, 366)).await?)
}

/// When the daily job settles: every day after `at` (Beijing time), for the day before.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Schedule {
    /// Minutes after midnight, Beijing time.
    pub minutes: u16,
}

impl Schedule {
    /// `HH:MM`.
    pub fn parse(text: &str) -> Option<Schedule> {
        let (h, m) = text.split_once(':')?;
        let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
        (h < 24 && m < 60).then_some(Schedule {
            minutes: h * 60 + m,
        })
    }

    /// The day due at `now`: yesterday, once today's time has come.
    #[must_use]
    pub fn due(self, now: OffsetDateTime) -> Option<Date> {
        let now = now.to_offset(alipay::time::BEIJING);
        let minutes = u16::from(now.hour()) * 60 + u16::from(now.minute());
        (minutes >= self.minutes)
            .then(|| now.date().previous_day())
            .flatten()
    }
}

/// The daily job's step: settles yesterday once its time has come, unless it is settled, being
/// settled, or failed a little while ago.
pub async fn settle_due(
    ctx: &Context,
    schedule: Schedule,
) -> Result<Option<Settlement>, SettleError> {
    let Some(date) = schedule.due(alipay::time::now()) else {
        return Ok(None);
    };
    let day = day_text(date);
    if let Some(existing) = settlements::get(&ctx.db, &day).await?
        && matches!(existing.status.as_str(), "completed" | "no_bill")
    {
        return Ok(None);
    }
    match settle_day(ctx, date, None).await {
        Ok(settled) => Ok(Some(settled)),
        // Another instance has it, or it failed recently (its lease says when to try again).
        Err(SettleError::Busy(_)) => Ok(None),
        Err(error) => Err(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn the_schedule_settles_yesterday_once_the_time_has_come() {
        let schedule = Schedule::parse("10:00").unwrap();
        assert_eq!(schedule.due(datetime!(2026-12-06 09:59 +8)), None);
        assert_eq!(
            schedule.due(datetime!(2026-12-06 10:00 +8)),
            Some(time::macros::date!(2026 - 12 - 05))
        );
        // 02:30 UTC is 10:30 in Beijing.
        assert_eq!(
            schedule.due(datetime!(2026-12-06 02:30 UTC)),
            Some(time::macros::date!(2026 - 12 - 05))
        );
        assert_eq!(Schedule::parse("24:00"), None);
        assert_eq!(Schedule::parse("ten"), None);
    }

    #[test]
    fn days_are_past_or_present() {
        assert!(parse_day("2026-12-05").is_ok());
        assert!(parse_day("2999-01-01").is_err());
        assert!(parse_day("2026-12").is_err());
    }
}
