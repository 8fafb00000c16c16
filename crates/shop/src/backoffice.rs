//! What operators read and do outside the payment path: an order's whole record, the anomalies
//! and their resolution. (Refunds, being state changes of money, are in
//! [`crate::payments::refunds`].) Every call here is made on behalf of an operator whose role the
//! HTTP edge has just read from the database.

use crate::context::Context;
use crate::domain::notification::Stored;
use crate::domain::settlement::Settlement;
use crate::domain::{Anomaly, AnomalyKind, Event, Money, Order, OrderStatus, Refund, Transition};
use crate::payments::confirm::{Checked, check_with_alipay};
use crate::payments::{Facts, Source, apply, retry_on_conflict};
use crate::store::anomalies::{self, Filter};
use crate::store::notifications;
use crate::store::orders::OrderFilter;
use crate::store::settlements;
use crate::store::{StoreError, events, orders, refunds, users};

/// What went wrong.
#[derive(Debug, thiserror::Error)]
pub enum BackofficeError {
    /// No such order.
    #[error("order not found")]
    OrderNotFound,
    /// No such anomaly.
    #[error("anomaly not found")]
    AnomalyNotFound,
    /// It was resolved already.
    #[error("the anomaly is already resolved")]
    AlreadyResolved,
    /// A note that cannot be stored.
    #[error("the note must be 1 to 1000 characters of text")]
    InvalidNote,
    /// The order is not in a state that allows this.
    #[error("the order is {0}")]
    WrongStatus(OrderStatus),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Everything the shop knows about an order.
#[derive(Clone, Debug)]
pub struct OrderRecord {
    /// The order with its lines.
    pub order: Order,
    /// The buyer's user name.
    pub buyer: String,
    /// Every notification about it, newest first.
    pub notifications: Vec<Stored>,
    /// Its refunds with what they give back.
    pub refunds: Vec<Refund>,
    /// Its timeline, oldest first.
    pub events: Vec<Event>,
    /// Anomalies about it.
    pub anomalies: Vec<Anomaly>,
}

/// An order's whole record.
pub async fn order_record(
    ctx: &Context,
    out_trade_no: &str,
) -> Result<OrderRecord, BackofficeError> {
    let order = orders::get(&ctx.db, out_trade_no)
        .await?
        .ok_or(BackofficeError::OrderNotFound)?;
    let refunds = refunds::for_order(&ctx.db, order.id).await?;
    let events = events::for_order(&ctx.db, order.id).await?;
    let filter = Filter {
        order_id: Some(order.id),
        ..Filter::default()
    };
    let anomalies = anomalies::list(&ctx.db, &filter, 200, 0).await?;
    let notifications =
        notifications::list(&ctx.db, None, Some(&order.out_trade_no), 200, 0).await?;
    let buyer = users::names(&ctx.db, &[order.user_id])
        .await?
        .pop()
        .map(|(_, name)| name)
        .unwrap_or_default();
    Ok(OrderRecord {
        buyer,
        notifications,
        order,
        refunds,
        events,
        anomalies,
    })
}

/// Which anomalies an operator asks for.
#[derive(Clone, Debug, Default)]
pub struct AnomalyQuery {
    /// Only open ones (`Some(true)`), only resolved ones (`Some(false)`), or all.
    pub open: Option<bool>,
    /// Only this kind.
    pub kind: Option<AnomalyKind>,
    /// Only about this order.
    pub out_trade_no: Option<String>,
    /// Page size (at most 200).
    pub limit: i64,
    /// Rows to skip.
    pub offset: i64,
}

/// Anomalies, newest first.
pub async fn anomalies(
    ctx: &Context,
    query: &AnomalyQuery,
) -> Result<Vec<Anomaly>, BackofficeError> {
    let filter = Filter {
        open: query.open,
        kind: query.kind,
        order_id: None,
        out_trade_no: query.out_trade_no.as_deref(),
    };
    Ok(anomalies::list(
        &ctx.db,
        &filter,
        query.limit.clamp(1, 200),
        query.offset.max(0),
    )
    .await?)
}

/// Marks an anomaly resolved by `operator_id`, with what was done about it; recorded in the
/// order's timeline too.
pub async fn resolve_anomaly(
    ctx: &Context,
    operator_id: i64,
    id: i64,
    note: &str,
) -> Result<Anomaly, BackofficeError> {
    let note = note.trim();
    if note.is_empty()
        || note.chars().count() > 1000
        || note.chars().any(|c| c.is_control() && c != '\n')
    {
        return Err(BackofficeError::InvalidNote);
    }
    let anomaly = anomalies::get(&ctx.db, id)
        .await?
        .ok_or(BackofficeError::AnomalyNotFound)?;
    if !anomalies::resolve(&ctx.db, id, operator_id, anomaly.order_id, note).await? {
        return Err(BackofficeError::AlreadyResolved);
    }
    tracing::info!(
        anomaly.id = id,
        operator.id = operator_id,
        "anomaly resolved"
    );
    anomalies::get(&ctx.db, id)
        .await?
        .ok_or(BackofficeError::AnomalyNotFound)
}

/// Which orders an operator asks for.
#[derive(Clone, Debug, Default)]
pub struct OrderQuery {
    /// One status only.
    pub status: Option<OrderStatus>,
    /// Created on or after this day (Beijing time).
    pub from: Option<time::Date>,
    /// Created on or before this day.
    pub to: Option<time::Date>,
    /// The buyer's user name.
    pub buyer: Option<String>,
    /// An order number or Alipay trade number.
    pub number: Option<String>,
    /// Page (1-based).
    pub page: i64,
    /// Page size (at most 100).
    pub per_page: i64,
}

/// A page of orders.
#[derive(Clone, Debug)]
pub struct OrderPage {
    /// The orders with their buyers' names.
    pub orders: Vec<(Order, String)>,
    /// How many match in all.
    pub total: i64,
}

fn day_start_ms(date: time::Date) -> i64 {
    crate::store::to_ms(date.midnight().assume_offset(alipay::time::BEIJING))
}

/// Orders matching `query`, newest first.
pub async fn search_orders(
    ctx: &Context,
    query: &OrderQuery,
) -> Result<OrderPage, BackofficeError> {
    let per_page = query.per_page.clamp(1, 100);
    let offset = (query.page.max(1) - 1).saturating_mul(per_page);
    let filter = OrderFilter {
        status: query.status,
        from: query.from.map(day_start_ms),
        until: query.to.map(|d| day_start_ms(d) + 24 * 3600 * 1000),
        buyer: query.buyer.as_deref().filter(|b| !b.is_empty()),
        number: query
            .number
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty()),
    };
    let (orders, total) = orders::search(&ctx.db, &filter, per_page, offset).await?;
    Ok(OrderPage { orders, total })
}

/// The front page of the back office.
#[derive(Clone, Debug)]
pub struct Dashboard {
    /// Orders paid today (Beijing time).
    pub paid_today: i64,
    /// Their total.
    pub paid_today_total: Money,
    /// Orders per status.
    pub by_status: Vec<(OrderStatus, i64)>,
    /// Anomalies not yet resolved.
    pub open_anomalies: i64,
    /// The latest settlement.
    pub last_settlement: Option<Settlement>,
}

/// Today's figures.
pub async fn dashboard(ctx: &Context) -> Result<Dashboard, BackofficeError> {
    let today = alipay::time::now().date();
    let from = day_start_ms(today);
    let (paid_today, paid_today_total) =
        orders::paid_summary(&ctx.db, from, from + 24 * 3600 * 1000).await?;
    let counts = orders::count_by_status(&ctx.db).await?;
    let by_status = OrderStatus::ALL
        .into_iter()
        .map(|status| {
            let n = counts
                .iter()
                .find(|(s, _)| s == status.as_str())
                .map_or(0, |(_, n)| *n);
            (status, n)
        })
        .collect();
    Ok(Dashboard {
        paid_today,
        paid_today_total,
        by_status,
        open_anomalies: anomalies::count_open(&ctx.db).await?,
        last_settlement: settlements::list(&ctx.db, 1).await?.pop(),
    })
}

/// The notifications log, newest first.
pub async fn notification_log(
    ctx: &Context,
    verdict: Option<&str>,
    page: i64,
    per_page: i64,
) -> Result<Vec<Stored>, BackofficeError> {
    let per_page = per_page.clamp(1, 100);
    let offset = (page.max(1) - 1).saturating_mul(per_page);
    Ok(notifications::list(&ctx.db, verdict, None, per_page, offset).await?)
}

/// "Ask Alipay now": `alipay.trade.query` for the order, applied through the one state-change
/// path; the operator's question and its answer go into the order's timeline.
pub async fn ask_alipay(
    ctx: &Context,
    operator_id: i64,
    out_trade_no: &str,
) -> Result<Checked, BackofficeError> {
    let order = orders::get(&ctx.db, out_trade_no)
        .await?
        .ok_or(BackofficeError::OrderNotFound)?;
    let checked = check_with_alipay(ctx, &order, Source::Admin).await?;
    let answer = match &checked {
        Checked::Paid => "paid at Alipay".to_owned(),
        Checked::AmountMismatch => "paid at Alipay with another amount".to_owned(),
        Checked::Closed => "closed at Alipay".to_owned(),
        Checked::Waiting => "not paid at Alipay".to_owned(),
        Checked::Unknown(reason) => format!("no trustworthy answer: {}", crate::log::cut(reason)),
    };
    let mut tx = ctx.db.begin().await?;
    events::record(
        &mut tx,
        order.id,
        "asked_alipay",
        Source::Admin.as_str(),
        Some(operator_id),
        &answer,
    )
    .await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(checked)
}

/// An operator closes an unpaid order (and its trade at Alipay, through the outbox).
pub async fn close_unpaid(
    ctx: &Context,
    operator_id: i64,
    out_trade_no: &str,
    reason: &str,
) -> Result<Order, BackofficeError> {
    let reason = reason.trim();
    if reason.chars().count() > 256 || reason.chars().any(char::is_control) {
        return Err(BackofficeError::InvalidNote);
    }
    retry_on_conflict(|| async {
        let mut tx = ctx.db.begin().await?;
        let Some(order) = orders::lock(&mut tx, &ctx.db, out_trade_no).await? else {
            return Ok(Err(BackofficeError::OrderNotFound));
        };
        let facts = Facts {
            actor_id: Some(operator_id),
            detail: if reason.is_empty() {
                "closed by an operator".to_owned()
            } else {
                format!("closed by an operator: {reason}")
            },
            ..Facts::default()
        };
        if !apply(&mut tx, &order, Transition::Cancel, Source::Admin, &facts)
            .await?
            .moved()
        {
            return Ok(Err(BackofficeError::WrongStatus(order.status)));
        }
        tx.commit().await?;
        Ok(Ok(()))
    })
    .await??;
    orders::get(&ctx.db, out_trade_no)
        .await?
        .ok_or(BackofficeError::OrderNotFound)
}
