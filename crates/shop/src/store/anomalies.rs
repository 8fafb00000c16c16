//! Anomalies, until an operator resolves them.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Db, StoreError, Tx, now_ms};
use crate::domain::anomaly::Resolution;
use crate::domain::{Anomaly, AnomalyKind, Money};

/// A new anomaly.
#[derive(Clone, Debug)]
pub struct NewAnomaly<'a> {
    /// What kind.
    pub kind: AnomalyKind,
    /// The order, when it is one of ours.
    pub order_id: Option<i64>,
    /// The order number Alipay named.
    pub out_trade_no: Option<&'a str>,
    /// The money involved.
    pub amount: Option<Money>,
    /// What does not fit.
    pub detail: &'a str,
    /// Who reported it.
    pub source: &'a str,
    /// When set, the anomaly is recorded once: a second one with the same key is not (the same
    /// settlement run twice finds the same things).
    pub dedupe_key: Option<&'a str>,
}

/// Records an anomaly; `None` when one with the same `dedupe_key` is on record already.
pub async fn record(tx: &mut Tx, new: &NewAnomaly<'_>) -> Result<Option<i64>, StoreError> {
    Ok(sqlx::query_scalar(
        "INSERT INTO anomalies (kind, order_id, out_trade_no, amount_fen, detail, source, created_at, dedupe_key) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING RETURNING id",
    )
    .bind(new.kind.as_str())
    .bind(new.order_id)
    .bind(new.out_trade_no)
    .bind(new.amount.map(Money::fen))
    .bind(new.detail)
    .bind(new.source)
    .bind(now_ms())
    .bind(new.dedupe_key)
    .fetch_optional(&mut **tx)
    .await?)
}

const COLUMNS: &str = "id, kind, order_id, out_trade_no, amount_fen, detail, source, created_at, resolved_at, resolved_by, resolution";

fn anomaly(row: &AnyRow) -> Result<Anomaly, StoreError> {
    let kind: String = row.try_get("kind")?;
    let amount: Option<i64> = row.try_get("amount_fen")?;
    let resolved_at: Option<i64> = row.try_get("resolved_at")?;
    let resolved_by: Option<i64> = row.try_get("resolved_by")?;
    let note: Option<String> = row.try_get("resolution")?;
    Ok(Anomaly {
        id: row.try_get("id")?,
        kind: kind.parse().map_err(StoreError::Corrupt)?,
        order_id: row.try_get("order_id")?,
        out_trade_no: row.try_get("out_trade_no")?,
        amount: amount
            .map(Money::try_from_fen)
            .transpose()
            .map_err(|e| StoreError::Corrupt(e.to_string()))?,
        detail: row.try_get("detail")?,
        source: row.try_get("source")?,
        created_at: row.try_get("created_at")?,
        resolution: match (resolved_at, resolved_by) {
            (Some(at), Some(by)) => Some(Resolution {
                at,
                by,
                note: note.unwrap_or_default(),
            }),
            _ => None,
        },
    })
}

/// Which anomalies to list.
#[derive(Clone, Debug, Default)]
pub struct Filter<'a> {
    /// Only unresolved (`Some(true)`), only resolved (`Some(false)`), or both.
    pub open: Option<bool>,
    /// Only this kind.
    pub kind: Option<AnomalyKind>,
    /// Only this order.
    pub order_id: Option<i64>,
    /// Only this order number.
    pub out_trade_no: Option<&'a str>,
}

/// Anomalies, newest first.
pub async fn list(
    db: &Db,
    filter: &Filter<'_>,
    limit: i64,
    offset: i64,
) -> Result<Vec<Anomaly>, StoreError> {
    let mut conditions = vec!["1 = 1".to_owned()];
    let mut n = 0;
    let mut next = || {
        n += 1;
        format!("${n}")
    };
    match filter.open {
        Some(true) => conditions.push("resolved_at IS NULL".into()),
        Some(false) => conditions.push("resolved_at IS NOT NULL".into()),
        None => {}
    }
    if filter.kind.is_some() {
        conditions.push(format!("kind = {}", next()));
    }
    if filter.order_id.is_some() {
        conditions.push(format!("order_id = {}", next()));
    }
    if filter.out_trade_no.is_some() {
        conditions.push(format!("out_trade_no = {}", next()));
    }
    let sql = format!(
        "SELECT {COLUMNS} FROM anomalies WHERE {} ORDER BY created_at DESC, id DESC LIMIT {} OFFSET {}",
        conditions.join(" AND "),
        next(),
        next()
    );
    let mut query = sqlx::query(&sql);
    if let Some(kind) = filter.kind {
        query = query.bind(kind.as_str());
    }
    if let Some(order_id) = filter.order_id {
        query = query.bind(order_id);
    }
    if let Some(no) = filter.out_trade_no {
        query = query.bind(no);
    }
    let rows = query
        .bind(limit)
        .bind(offset)
        .fetch_all(db.reader())
        .await?;
    rows.iter().map(anomaly).collect()
}

/// One anomaly.
pub async fn get(db: &Db, id: i64) -> Result<Option<Anomaly>, StoreError> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM anomalies WHERE id = $1"))
        .bind(id)
        .fetch_optional(db.reader())
        .await?;
    row.as_ref().map(anomaly).transpose()
}

/// Marks an open anomaly resolved by operator `by`, and records that in the order's timeline
/// (when it concerns one of ours) in the same transaction; returns whether it was open.
pub async fn resolve(
    db: &Db,
    id: i64,
    by: i64,
    order_id: Option<i64>,
    note: &str,
) -> Result<bool, StoreError> {
    let mut tx = db.begin().await?;
    let moved = sqlx::query(
        "UPDATE anomalies SET resolved_at = $1, resolved_by = $2, resolution = $3 WHERE id = $4 AND resolved_at IS NULL",
    )
    .bind(now_ms())
    .bind(by)
    .bind(note)
    .bind(id)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if moved && let Some(order_id) = order_id {
        super::events::record(
            &mut tx,
            order_id,
            "anomaly_resolved",
            "admin",
            Some(by),
            &format!("anomaly {id}: {note}"),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(moved)
}

/// Open anomalies, for metrics and the dashboard.
pub async fn count_open(db: &Db) -> Result<i64, StoreError> {
    Ok(
        sqlx::query_scalar("SELECT COUNT(*) FROM anomalies WHERE resolved_at IS NULL")
            .fetch_one(db.reader())
            .await?,
    )
}
