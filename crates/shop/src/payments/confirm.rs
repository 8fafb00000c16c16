//! Alipay's word about a trade, however it reached us (a notification, `alipay.trade.query`
//! after the browser's return, the reconciliation job), applied through the one mapping from
//! trade status to order transition ([`crate::domain::trade::transition_for`]).

use alipay::api::TradeQuery;
use alipay::{Money, TradeStatus};
use time::OffsetDateTime;

use super::{Applied, Facts, Source, apply, call, millis, refunds, retry_on_conflict};
use crate::context::Context;
use crate::domain::trade::transition_for;
use crate::domain::{AnomalyKind, Order, OrderStatus, Transition};
use crate::store::anomalies::{self, NewAnomaly};
use crate::store::{StoreError, Tx, events, now_ms, orders};

/// What Alipay reports about a trade.
#[derive(Clone, Debug)]
pub struct Report {
    /// The trade's status.
    pub status: TradeStatus,
    /// Alipay's trade number.
    pub trade_no: Option<String>,
    /// The trade's amount (`total_amount`).
    pub amount: Option<Money>,
    /// When it was paid.
    pub paid_at: Option<OffsetDateTime>,
}

/// What applying a report did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The order became paid now.
    Paid,
    /// It was already paid (a duplicate); nothing changed.
    AlreadyPaid,
    /// The amount differs from the order's: an anomaly is recorded, nothing else changed.
    AmountMismatch,
    /// Closed at Alipay: the unpaid order is cancelled now.
    Closed,
    /// Closed at Alipay, and nothing to do here (already cancelled, or paid and refunded).
    AlreadyClosed,
    /// No such order here.
    UnknownOrder,
    /// Nothing to do yet (`WAIT_BUYER_PAY`, or a status this shop does not act on).
    Waiting,
    /// A payment report without an amount: not acted on.
    Incomplete,
}

impl Outcome {
    /// The verdict a notification with this outcome is stored with.
    #[must_use]
    pub const fn verdict(self) -> &'static str {
        match self {
            Outcome::Paid | Outcome::Closed => "accepted",
            Outcome::AlreadyPaid | Outcome::AlreadyClosed => "duplicate",
            Outcome::AmountMismatch => "amount_mismatch",
            Outcome::UnknownOrder => "unknown_order",
            Outcome::Waiting => "ignored",
            Outcome::Incomplete => "malformed",
        }
    }
}

/// Applies `report` about `out_trade_no` inside `tx`: the one place a trade status becomes an
/// order transition.
pub async fn apply_report(
    tx: &mut Tx,
    ctx: &Context,
    out_trade_no: &str,
    report: &Report,
    source: Source,
) -> Result<Outcome, StoreError> {
    match transition_for(&report.status) {
        Some(Transition::Pay) => match report.amount {
            Some(amount) => paid(tx, ctx, out_trade_no, report, amount, source).await,
            None => Ok(Outcome::Incomplete),
        },
        Some(Transition::Cancel) => closed(tx, ctx, out_trade_no, source).await,
        _ => Ok(Outcome::Waiting),
    }
}

/// Applies a report in a transaction of its own (retried if it loses a race).
pub async fn apply_report_alone(
    ctx: &Context,
    out_trade_no: &str,
    report: &Report,
    source: Source,
) -> Result<Outcome, StoreError> {
    retry_on_conflict(|| async {
        let mut tx = ctx.db.begin().await?;
        let outcome = apply_report(&mut tx, ctx, out_trade_no, report, source).await?;
        tx.commit().await?;
        Ok(outcome)
    })
    .await
}

async fn paid(
    tx: &mut Tx,
    ctx: &Context,
    out_trade_no: &str,
    report: &Report,
    amount: Money,
    source: Source,
) -> Result<Outcome, StoreError> {
    let Some(order) = orders::lock(tx, &ctx.db, out_trade_no).await? else {
        return Ok(Outcome::UnknownOrder);
    };
    if amount != order.total {
        let detail = format!(
            "Alipay reports {amount} paid for an order of {}; not marked paid",
            order.total
        );
        anomaly(
            tx,
            &order,
            AnomalyKind::AmountMismatch,
            Some(amount),
            &detail,
            source,
        )
        .await?;
        tracing::warn!(order.out_trade_no = %out_trade_no, %amount, expected = %order.total, "payment amount mismatch");
        return Ok(Outcome::AmountMismatch);
    }
    if order.status.is_paid() {
        if let (Some(known), Some(reported)) = (&order.trade_no, &report.trade_no)
            && known != reported
        {
            let detail =
                format!("a second Alipay trade {reported} paid this order (first: {known})");
            anomaly(
                tx,
                &order,
                AnomalyKind::SecondTrade,
                Some(amount),
                &detail,
                source,
            )
            .await?;
        }
        return Ok(Outcome::AlreadyPaid);
    }
    let facts = Facts {
        trade_no: report.trade_no.clone(),
        paid_at: report.paid_at,
        actor_id: None,
        detail: match order.status {
            OrderStatus::Unpaid => String::new(),
            late => format!("payment arrived while the order was {late}; kept"),
        },
    };
    // A second payment for a course the buyer already paid for: the money is kept on record and
    // given back in full, through the outbox.
    if apply(tx, &order, Transition::Pay, source, &facts).await? == Applied::PaidForOwnedCourses {
        let owned = orders::owned_through_other_orders(tx, &order).await?;
        if !owned.is_empty() {
            refunds::refund_double_payment(tx, ctx, &order, &owned, source).await?;
        }
    }
    Ok(Outcome::Paid)
}

/// Records an anomaly about `order`, in its timeline too.
pub(crate) async fn anomaly(
    tx: &mut Tx,
    order: &Order,
    kind: AnomalyKind,
    amount: Option<Money>,
    detail: &str,
    source: Source,
) -> Result<(), StoreError> {
    record_anomaly(
        tx,
        &Misfit {
            order: Some(order),
            out_trade_no: &order.out_trade_no,
            kind,
            amount,
            detail,
            source,
            dedupe_key: None,
        },
    )
    .await
    .map(|_| ())
}

/// Something that does not fit the books.
#[derive(Debug)]
pub(crate) struct Misfit<'a> {
    /// The order, when it is one of ours.
    pub(crate) order: Option<&'a Order>,
    /// The order number Alipay named.
    pub(crate) out_trade_no: &'a str,
    /// What kind.
    pub(crate) kind: AnomalyKind,
    /// The money involved.
    pub(crate) amount: Option<Money>,
    /// What exactly.
    pub(crate) detail: &'a str,
    /// Who found it.
    pub(crate) source: Source,
    /// Recorded once per key (see [`NewAnomaly::dedupe_key`]).
    pub(crate) dedupe_key: Option<&'a str>,
}

/// Records an anomaly (and, for one of our orders, the timeline entry); returns whether it is
/// new (`false`: the same key is on record).
pub(crate) async fn record_anomaly(tx: &mut Tx, misfit: &Misfit<'_>) -> Result<bool, StoreError> {
    let recorded = anomalies::record(
        tx,
        &NewAnomaly {
            kind: misfit.kind,
            order_id: misfit.order.map(|o| o.id),
            out_trade_no: Some(misfit.out_trade_no),
            amount: misfit.amount,
            detail: misfit.detail,
            source: misfit.source.as_str(),
            dedupe_key: misfit.dedupe_key,
        },
    )
    .await?;
    if recorded.is_none() {
        return Ok(false);
    }
    if let Some(order) = misfit.order {
        events::record(
            tx,
            order.id,
            "anomaly",
            misfit.source.as_str(),
            None,
            &format!("{}: {}", misfit.kind, misfit.detail),
        )
        .await?;
    }
    metrics::counter!("shop_payment_anomalies_total", "kind" => misfit.kind.as_str()).increment(1);
    Ok(true)
}

/// Alipay says the trade is closed (and no money moved): an unpaid order here is cancelled.
async fn closed(
    tx: &mut Tx,
    ctx: &Context,
    out_trade_no: &str,
    source: Source,
) -> Result<Outcome, StoreError> {
    let Some(order) = orders::lock(tx, &ctx.db, out_trade_no).await? else {
        return Ok(Outcome::UnknownOrder);
    };
    let facts = Facts {
        detail: "trade closed at Alipay".into(),
        ..Facts::default()
    };
    Ok(
        if apply(tx, &order, Transition::Cancel, source, &facts)
            .await?
            .moved()
        {
            Outcome::Closed
        } else {
            Outcome::AlreadyClosed
        },
    )
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
    /// Alipay could not tell, or its answer could not be trusted: try again later.
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
        Err(e) if e.verified_sub_code() == Some("ACQ.TRADE_NOT_EXIST") => {
            return Ok(Checked::Waiting);
        }
        Err(e) => return Ok(Checked::Unknown(e.to_string())),
    };
    let report = Report {
        status: trade.trade_status.clone(),
        trade_no: Some(trade.trade_no.clone()),
        amount: Some(trade.total_amount),
        paid_at: trade.send_pay_date,
    };
    Ok(
        match apply_report_alone(ctx, &order.out_trade_no, &report, source).await? {
            Outcome::Paid | Outcome::AlreadyPaid => Checked::Paid,
            Outcome::AmountMismatch => Checked::AmountMismatch,
            Outcome::Closed | Outcome::AlreadyClosed => Checked::Closed,
            Outcome::UnknownOrder | Outcome::Waiting | Outcome::Incomplete => Checked::Waiting,
        },
    )
}

/// What one reconciliation pass found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reconciled {
    /// Orders found paid at Alipay.
    pub paid: usize,
    /// Orders found closed at Alipay.
    pub closed: usize,
    /// Checks that could not decide (Alipay unavailable, an untrusted answer...).
    pub undecided: usize,
}

/// Checks unpaid orders with a pay link whose check is due (at most `limit`), with backoff for
/// checks that could not decide.
pub async fn reconcile_due(ctx: &Context, limit: i64) -> Result<Reconciled, StoreError> {
    let mut pass = Reconciled::default();
    let now = now_ms();
    for order in orders::due_for_check(&ctx.db, now, limit).await? {
        // Claim the check: only the instance whose reschedule succeeds goes on.
        let attempts = order.check_attempts + 1;
        let next = now + backoff(attempts, ctx.settings.reconcile_backoff);
        if !orders::reschedule_check(&ctx.db, order.id, order.check_attempts, next, attempts)
            .await?
        {
            continue;
        }
        match check_with_alipay(ctx, &order, Source::Reconcile).await? {
            Checked::Paid => pass.paid += 1,
            Checked::Closed => pass.closed += 1,
            Checked::Unknown(reason) => {
                tracing::info!(order.out_trade_no = %order.out_trade_no, reason = %crate::log::cut(&reason), "reconciliation undecided; will retry");
                pass.undecided += 1;
            }
            Checked::Waiting | Checked::AmountMismatch => {}
        }
    }
    Ok(pass)
}

/// Backoff for attempt `n` (1-based): `unit`, doubling, capped at 60 × `unit`.
#[must_use]
pub fn backoff(attempt: i64, unit: std::time::Duration) -> i64 {
    let steps = attempt.clamp(1, 7) - 1;
    millis(unit)
        .saturating_mul(1 << steps)
        .min(millis(unit).saturating_mul(60))
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
    /// The order as it stands after confirming with Alipay.
    pub order: Option<Order>,
}

/// Handles the browser coming back from the cashier. The signed parameters alone never mark an
/// order paid: if it is still unpaid here, Alipay is asked (`alipay.trade.query`, at most once
/// per [`crate::context::Settings::return_check_interval`] per order) and the answer goes
/// through the same path as a notification.
pub async fn handle_return(ctx: &Context, query: &str) -> Result<Returned, StoreError> {
    let back = match ctx.alipay.verify_return(query) {
        Ok(back) => back,
        Err(error) => {
            tracing::warn!(error = %crate::log::cut(&error.to_string()), "return with an invalid signature");
            let fields = alipay::content::parse_form(query.as_bytes()).unwrap_or_default();
            return Ok(Returned {
                verified: false,
                out_trade_no: fields.get("out_trade_no").cloned(),
                trade_no: None,
                order: None,
            });
        }
    };
    let Some(order) = orders::get(&ctx.db, &back.out_trade_no).await? else {
        return Ok(Returned {
            verified: true,
            out_trade_no: Some(back.out_trade_no),
            trade_no: back.trade_no,
            order: None,
        });
    };
    if order.status == OrderStatus::Unpaid
        && orders::claim_return_check(
            &ctx.db,
            order.id,
            millis(ctx.settings.return_check_interval),
        )
        .await?
    {
        check_with_alipay(ctx, &order, Source::Return).await?;
    }
    let order = orders::get(&ctx.db, &order.out_trade_no).await?;
    Ok(Returned {
        verified: true,
        out_trade_no: Some(back.out_trade_no),
        trade_no: back.trade_no,
        order,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn backoff_doubles_and_caps() {
        let unit = Duration::from_secs(30);
        assert_eq!(backoff(1, unit), 30_000);
        assert_eq!(backoff(2, unit), 60_000);
        assert_eq!(backoff(3, unit), 120_000);
        assert_eq!(backoff(50, unit), 30_000 * 60);
    }
}
