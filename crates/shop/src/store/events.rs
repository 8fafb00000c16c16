//! The audit trail of payment state changes and anomalies.

use sqlx::Row;

use super::{Db, StoreError, Tx, now_ms};
use crate::domain::Event;

/// Records one event in the transaction that caused it.
pub async fn record(
    tx: &mut Tx,
    order_id: i64,
    kind: &str,
    source: &str,
    actor_id: Option<i64>,
    detail: &str,
) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO payment_events (order_id, kind, source, actor_id, detail, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(order_id)
        .bind(kind)
        .bind(source)
        .bind(actor_id)
        .bind(detail)
        .bind(now_ms())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// An order's events, oldest first.
pub async fn for_order(db: &Db, order_id: i64) -> Result<Vec<Event>, StoreError> {
    let rows = sqlx::query("SELECT kind, source, actor_id, detail, created_at FROM payment_events WHERE order_id = $1 ORDER BY id")
        .bind(order_id)
        .fetch_all(db.reader())
        .await?;
    rows.iter()
        .map(|row| {
            Ok(Event {
                kind: row.try_get("kind")?,
                source: row.try_get("source")?,
                actor_id: row.try_get("actor_id")?,
                detail: row.try_get("detail")?,
                created_at: row.try_get("created_at")?,
            })
        })
        .collect()
}
