//! Refunds and the courses they give back.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Db, StoreError, Tx, now_ms};
use crate::domain::refund::Plan;
use crate::domain::{Money, Refund, RefundItem, RefundOrigin, RefundStatus};

const COLUMNS: &str = "id, order_id, out_request_no, amount_fen, reason, status, origin, requested_by, created_at, completed_at";

fn money(fen: i64) -> Result<Money, StoreError> {
    Money::try_from_fen(fen).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn refund(row: &AnyRow) -> Result<Refund, StoreError> {
    let status: String = row.try_get("status")?;
    let origin: String = row.try_get("origin")?;
    Ok(Refund {
        id: row.try_get("id")?,
        order_id: row.try_get("order_id")?,
        out_request_no: row.try_get("out_request_no")?,
        amount: money(row.try_get("amount_fen")?)?,
        reason: row.try_get("reason")?,
        status: status.parse().map_err(StoreError::Corrupt)?,
        origin: origin.parse().map_err(StoreError::Corrupt)?,
        requested_by: row.try_get("requested_by")?,
        items: Vec::new(),
        created_at: row.try_get("created_at")?,
        completed_at: row.try_get("completed_at")?,
    })
}

/// A new refund.
#[derive(Clone, Debug)]
pub struct NewRefund<'a> {
    /// The order.
    pub order_id: i64,
    /// Its number at Alipay.
    pub out_request_no: &'a str,
    /// What it gives back.
    pub plan: &'a Plan,
    /// Why.
    pub reason: &'a str,
    /// Who asked.
    pub origin: RefundOrigin,
    /// The operator, if one asked.
    pub requested_by: Option<i64>,
    /// `pending` for a refund still to be made; `succeeded` for one Alipay reports as done.
    pub status: RefundStatus,
}

/// Records a refund and its items. A refund number already stored is a
/// [`StoreError::Conflict`].
pub async fn insert(tx: &mut Tx, new: &NewRefund<'_>) -> Result<i64, StoreError> {
    let now = now_ms();
    let completed_at = (new.status != RefundStatus::Pending).then_some(now);
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO refunds (order_id, out_request_no, amount_fen, reason, status, origin, requested_by, created_at, completed_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
    )
    .bind(new.order_id)
    .bind(new.out_request_no)
    .bind(new.plan.amount.fen())
    .bind(new.reason)
    .bind(new.status.as_str())
    .bind(new.origin.as_str())
    .bind(new.requested_by)
    .bind(now)
    .bind(completed_at)
    .fetch_one(&mut **tx)
    .await
    .map_err(StoreError::from_sqlx)?;
    for item in &new.plan.items {
        sqlx::query(
            "INSERT INTO refund_items (refund_id, course_id, amount_fen) VALUES ($1, $2, $3)",
        )
        .bind(id)
        .bind(item.course_id)
        .bind(item.amount.fen())
        .execute(&mut **tx)
        .await?;
    }
    Ok(id)
}

async fn with_items(
    executor: impl sqlx::Executor<'_, Database = sqlx::Any>,
    mut refunds: Vec<Refund>,
    order_id: i64,
) -> Result<Vec<Refund>, StoreError> {
    let rows = sqlx::query(
        "SELECT ri.refund_id, ri.course_id, ri.amount_fen FROM refund_items ri \
         JOIN refunds r ON r.id = ri.refund_id WHERE r.order_id = $1 ORDER BY ri.refund_id, ri.course_id",
    )
    .bind(order_id)
    .fetch_all(executor)
    .await?;
    for row in rows {
        let refund_id: i64 = row.try_get("refund_id")?;
        let item = RefundItem {
            course_id: row.try_get("course_id")?,
            amount: money(row.try_get("amount_fen")?)?,
        };
        if let Some(refund) = refunds.iter_mut().find(|r| r.id == refund_id) {
            refund.items.push(item);
        }
    }
    Ok(refunds)
}

/// An order's refunds with their items, oldest first, read inside a transaction (to decide
/// against what is committed).
pub async fn for_order_tx(tx: &mut Tx, order_id: i64) -> Result<Vec<Refund>, StoreError> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM refunds WHERE order_id = $1 ORDER BY id"
    ))
    .bind(order_id)
    .fetch_all(&mut **tx)
    .await?;
    let refunds = rows.iter().map(refund).collect::<Result<Vec<_>, _>>()?;
    with_items(&mut **tx, refunds, order_id).await
}

/// An order's refunds with their items, oldest first.
pub async fn for_order(db: &Db, order_id: i64) -> Result<Vec<Refund>, StoreError> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM refunds WHERE order_id = $1 ORDER BY id"
    ))
    .bind(order_id)
    .fetch_all(db.reader())
    .await?;
    let refunds = rows.iter().map(refund).collect::<Result<Vec<_>, _>>()?;
    with_items(db.reader(), refunds, order_id).await
}

/// A refund by its request number, with its items, locked in the transaction.
pub async fn by_request_no(
    tx: &mut Tx,
    db: &Db,
    out_request_no: &str,
) -> Result<Option<Refund>, StoreError> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM refunds WHERE out_request_no = $1{}",
        db.for_update()
    ))
    .bind(out_request_no)
    .fetch_optional(&mut **tx)
    .await?;
    let Some(found) = row.as_ref().map(refund).transpose()? else {
        return Ok(None);
    };
    let order_id = found.order_id;
    let id = found.id;
    Ok(with_items(&mut **tx, vec![found], order_id)
        .await?
        .into_iter()
        .find(|r| r.id == id))
}

/// A refund by its request number, with its items (no lock).
pub async fn get(db: &Db, out_request_no: &str) -> Result<Option<Refund>, StoreError> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM refunds WHERE out_request_no = $1"
    ))
    .bind(out_request_no)
    .fetch_optional(db.reader())
    .await?;
    let Some(found) = row.as_ref().map(refund).transpose()? else {
        return Ok(None);
    };
    let (order_id, id) = (found.order_id, found.id);
    Ok(with_items(db.reader(), vec![found], order_id)
        .await?
        .into_iter()
        .find(|r| r.id == id))
}

/// Settles a refund as `to` if it is still in one of the states that may move there
/// ([`RefundStatus::sources`]); returns whether it moved.
pub async fn settle(tx: &mut Tx, id: i64, to: RefundStatus) -> Result<bool, StoreError> {
    let sources = RefundStatus::sources(to);
    if sources.is_empty() {
        return Ok(false);
    }
    let placeholders: Vec<String> = (0..sources.len()).map(|i| format!("${}", i + 4)).collect();
    let sql = format!(
        "UPDATE refunds SET status = $1, completed_at = $2 WHERE id = $3 AND status IN ({})",
        placeholders.join(", ")
    );
    let mut query = sqlx::query(&sql).bind(to.as_str()).bind(now_ms()).bind(id);
    for source in sources {
        query = query.bind(source.as_str());
    }
    Ok(query.execute(&mut **tx).await?.rows_affected() == 1)
}

/// The refunds with these numbers (without their items), looked up in batches.
pub async fn by_request_nos(db: &Db, numbers: &[&str]) -> Result<Vec<Refund>, StoreError> {
    let mut found = Vec::with_capacity(numbers.len());
    for chunk in numbers.chunks(500) {
        let placeholders: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT {COLUMNS} FROM refunds WHERE out_request_no IN ({})",
            placeholders.join(", ")
        );
        let mut query = sqlx::query(&sql);
        for no in chunk {
            query = query.bind(*no);
        }
        for row in query.fetch_all(db.reader()).await? {
            found.push(refund(&row)?);
        }
    }
    Ok(found)
}

/// Refunds that succeeded in `[from, until)` (Unix ms), without items.
pub async fn succeeded_between(db: &Db, from: i64, until: i64) -> Result<Vec<Refund>, StoreError> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM refunds WHERE status = 'succeeded' AND completed_at >= $1 AND completed_at < $2 ORDER BY completed_at, id"
    ))
    .bind(from)
    .bind(until)
    .fetch_all(db.reader())
    .await?;
    rows.iter().map(refund).collect()
}

/// Refunds per status, for metrics.
pub async fn count_by_status(db: &Db) -> Result<Vec<(String, i64)>, StoreError> {
    let rows = sqlx::query("SELECT status, COUNT(*) AS n FROM refunds GROUP BY status")
        .fetch_all(db.reader())
        .await?;
    rows.iter()
        .map(|row| Ok((row.try_get("status")?, row.try_get("n")?)))
        .collect()
}
