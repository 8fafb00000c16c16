//! Refund requests.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Db, StoreError, Tx, now_ms};
use crate::domain::Money;

/// Where a refund stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefundStatus {
    /// Requested; the outbox will (re)send it to Alipay.
    Pending,
    /// Alipay refunded it.
    Succeeded,
    /// Alipay refused it for good.
    Failed,
}

impl RefundStatus {
    /// Stored name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            RefundStatus::Pending => "pending",
            RefundStatus::Succeeded => "succeeded",
            RefundStatus::Failed => "failed",
        }
    }

    fn parse(text: &str) -> Result<RefundStatus, StoreError> {
        match text {
            "pending" => Ok(RefundStatus::Pending),
            "succeeded" => Ok(RefundStatus::Succeeded),
            "failed" => Ok(RefundStatus::Failed),
            other => Err(StoreError::Corrupt(format!("refund status {other:?}"))),
        }
    }
}

/// A stored refund.
#[derive(Clone, Debug)]
pub struct Refund {
    /// Row id.
    pub id: i64,
    /// The order.
    pub order_id: i64,
    /// The idempotency key Alipay knows it by.
    pub out_request_no: String,
    /// How much.
    pub amount: Money,
    /// Why.
    pub reason: String,
    /// Where it stands.
    pub status: RefundStatus,
    /// Requested (ms).
    pub created_at: i64,
    /// Settled (ms).
    pub completed_at: Option<i64>,
}

const COLUMNS: &str =
    "id, order_id, out_request_no, amount_fen, reason, status, created_at, completed_at";

fn refund(row: &AnyRow) -> Result<Refund, StoreError> {
    let status: String = row.try_get("status")?;
    let amount: i64 = row.try_get("amount_fen")?;
    Ok(Refund {
        id: row.try_get("id")?,
        order_id: row.try_get("order_id")?,
        out_request_no: row.try_get("out_request_no")?,
        amount: Money::try_from_fen(amount).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        reason: row.try_get("reason")?,
        status: RefundStatus::parse(&status)?,
        created_at: row.try_get("created_at")?,
        completed_at: row.try_get("completed_at")?,
    })
}

/// Records a pending refund.
pub async fn insert(
    tx: &mut Tx,
    order_id: i64,
    out_request_no: &str,
    amount: Money,
    reason: &str,
    requested_by: i64,
) -> Result<i64, StoreError> {
    sqlx::query_scalar(
        "INSERT INTO refunds (order_id, out_request_no, amount_fen, reason, status, requested_by, created_at) VALUES ($1, $2, $3, $4, 'pending', $5, $6) RETURNING id",
    )
    .bind(order_id)
    .bind(out_request_no)
    .bind(amount.fen())
    .bind(reason)
    .bind(requested_by)
    .bind(now_ms())
    .fetch_one(&mut **tx)
    .await
    .map_err(StoreError::from_sqlx)
}

/// An order's refunds, oldest first (in a transaction, to count what is committed to).
pub async fn for_order_tx(tx: &mut Tx, order_id: i64) -> Result<Vec<Refund>, StoreError> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM refunds WHERE order_id = $1 ORDER BY id"
    ))
    .bind(order_id)
    .fetch_all(&mut **tx)
    .await?;
    rows.iter().map(refund).collect()
}

/// An order's refunds, oldest first.
pub async fn for_order(db: &Db, order_id: i64) -> Result<Vec<Refund>, StoreError> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM refunds WHERE order_id = $1 ORDER BY id"
    ))
    .bind(order_id)
    .fetch_all(db.reader())
    .await?;
    rows.iter().map(refund).collect()
}

/// A refund by its request number, locked in the transaction.
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
    row.as_ref().map(refund).transpose()
}

/// Settles a pending refund; returns whether it was still pending.
pub async fn settle(tx: &mut Tx, id: i64, status: RefundStatus) -> Result<bool, StoreError> {
    let result = sqlx::query(
        "UPDATE refunds SET status = $1, completed_at = $2 WHERE id = $3 AND status = 'pending'",
    )
    .bind(status.as_str())
    .bind(now_ms())
    .bind(id)
    .execute(&mut **tx)
    .await?;
    Ok(result.rows_affected() == 1)
}
