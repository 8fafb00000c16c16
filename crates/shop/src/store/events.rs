//! The audit trail of payment state changes and anomalies.

use sqlx::Row;

use super::{Db, StoreError, Tx, now_ms};

/// Records one event in the transaction that caused it.
pub async fn record(
    tx: &mut Tx,
    order_id: i64,
    kind: &str,
    source: &str,
    detail: &str,
) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO payment_events (order_id, kind, source, detail, created_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(order_id)
        .bind(kind)
        .bind(source)
        .bind(detail)
        .bind(now_ms())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// One event.
#[derive(Clone, Debug)]
pub struct Event {
    /// `paid`, `cancelled`, `timeout_cancelled`, `refunded`, `anomaly`, ...
    pub kind: String,
    /// `notify`, `return`, `reconcile`, `timeout`, `admin`, `buyer`.
    pub source: String,
    /// Free text.
    pub detail: String,
    /// When (ms).
    pub created_at: i64,
}

/// An order's events, oldest first.
pub async fn for_order(db: &Db, order_id: i64) -> Result<Vec<Event>, StoreError> {
    let rows = sqlx::query("SELECT kind, source, detail, created_at FROM payment_events WHERE order_id = $1 ORDER BY id")
        .bind(order_id)
        .fetch_all(db.reader())
        .await?;
    rows.iter()
        .map(|row| {
            Ok(Event {
                kind: row.try_get("kind")?,
                source: row.try_get("source")?,
                detail: row.try_get("detail")?,
                created_at: row.try_get("created_at")?,
            })
        })
        .collect()
}
