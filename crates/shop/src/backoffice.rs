//! What operators read and do outside the payment path: an order's whole record, the anomalies
//! and their resolution. (Refunds, being state changes of money, are in
//! [`crate::payments::refunds`].) Every call here is made on behalf of an operator whose role the
//! HTTP edge has just read from the database.

use crate::context::Context;
use crate::domain::{Anomaly, AnomalyKind, Event, Order, Refund};
use crate::store::anomalies::{self, Filter};
use crate::store::{StoreError, events, orders, refunds};

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
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Everything the shop knows about an order.
#[derive(Clone, Debug)]
pub struct OrderRecord {
    /// The order with its lines.
    pub order: Order,
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
    Ok(OrderRecord {
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
