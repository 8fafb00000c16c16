//! The audit trail of payment state changes and anomalies.

use sqlx::{AnyConnection, Row as _};

use super::{Db, StoreError, Tx, now_ms, values};
use crate::domain::Event;

/// Records one event in the transaction that caused it (written when it commits).
pub async fn record(
    tx: &mut Tx,
    order_id: i64,
    kind: &str,
    source: &str,
    actor_id: Option<i64>,
    detail: &str,
) -> Result<(), StoreError> {
    tx.events.push(Row {
        order_id,
        kind: kind.to_owned(),
        source: source.to_owned(),
        actor_id,
        detail: detail.to_owned(),
        created_at: now_ms(),
    });
    Ok(())
}

/// An event waiting for its transaction's commit.
#[derive(Debug)]
pub(super) struct Row {
    order_id: i64,
    kind: String,
    source: String,
    actor_id: Option<i64>,
    detail: String,
    created_at: i64,
}

/// Writes `rows`, in order, a few hundred per statement.
pub(super) async fn flush(conn: &mut AnyConnection, rows: &[Row]) -> Result<(), sqlx::Error> {
    for chunk in rows.chunks(200) {
        let sql = format!(
            "INSERT INTO payment_events (order_id, kind, source, actor_id, detail, created_at) VALUES {}",
            values(chunk.len(), 6)
        );
        let mut query = sqlx::query(&sql);
        for row in chunk {
            query = query
                .bind(row.order_id)
                .bind(row.kind.as_str())
                .bind(row.source.as_str())
                .bind(row.actor_id)
                .bind(row.detail.as_str())
                .bind(row.created_at);
        }
        query.execute(&mut *conn).await?;
    }
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
