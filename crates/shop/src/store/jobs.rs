//! The outbox: calls to Alipay that a state change requires, stored in the same transaction as
//! the change, so a crash between the commit and the call loses nothing.
//!
//! Jobs are claimed with a lease (`locked_until`): an instance that dies mid-job lets the lease
//! expire and another picks the job up. On PostgreSQL the claim uses `FOR UPDATE SKIP LOCKED` so
//! several instances never take the same job; SQLite's single writer serialises claims.

use sqlx::Row;

use super::{Backend, Db, StoreError, Tx, now_ms};

/// What a job does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobKind {
    /// `alipay.trade.close` for an order closed here.
    CloseTrade,
    /// `alipay.trade.refund` for a refund request.
    Refund,
}

impl JobKind {
    /// Stored name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            JobKind::CloseTrade => "close_trade",
            JobKind::Refund => "refund",
        }
    }

    fn parse(text: &str) -> Option<JobKind> {
        match text {
            "close_trade" => Some(JobKind::CloseTrade),
            "refund" => Some(JobKind::Refund),
            _ => None,
        }
    }
}

/// A claimed job.
#[derive(Clone, Debug)]
pub struct Job {
    /// Row id.
    pub id: i64,
    /// What to do.
    pub kind: JobKind,
    /// The order concerned.
    pub order_id: i64,
    /// Kind-specific data (the refund's `out_request_no`).
    pub payload: String,
    /// Attempts so far, this one included.
    pub attempts: i64,
}

/// Adds a job, due at `run_at` (ms).
pub async fn enqueue(
    tx: &mut Tx,
    kind: JobKind,
    order_id: i64,
    payload: &str,
    run_at: i64,
) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO jobs (kind, order_id, payload, run_at, created_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(kind.as_str())
        .bind(order_id)
        .bind(payload)
        .bind(run_at)
        .bind(now_ms())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Claims up to `limit` due jobs for `lease_ms`.
pub async fn claim_due(db: &Db, lease_ms: i64, limit: i64) -> Result<Vec<Job>, StoreError> {
    let now = now_ms();
    let skip_locked = match db.backend() {
        Backend::Postgres => " FOR UPDATE SKIP LOCKED",
        Backend::Sqlite => "",
    };
    let mut tx = db.begin().await?;
    let rows = sqlx::query(&format!(
        "UPDATE jobs SET locked_until = $1, attempts = attempts + 1 WHERE id IN (\
           SELECT id FROM jobs WHERE done_at IS NULL AND run_at <= $2 AND (locked_until IS NULL OR locked_until < $2) \
           ORDER BY run_at LIMIT $3{skip_locked}) \
         RETURNING id, kind, order_id, payload, attempts"
    ))
    .bind(now + lease_ms)
    .bind(now)
    .bind(limit)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    rows.iter()
        .map(|row| {
            let kind: String = row.try_get("kind")?;
            Ok(Job {
                id: row.try_get("id")?,
                kind: JobKind::parse(&kind)
                    .ok_or_else(|| StoreError::Corrupt(format!("job kind {kind:?}")))?,
                order_id: row.try_get("order_id")?,
                payload: row.try_get("payload")?,
                attempts: row.try_get("attempts")?,
            })
        })
        .collect()
}

/// Marks a job done.
pub async fn complete(db: &Db, id: i64) -> Result<(), StoreError> {
    let mut tx = db.begin().await?;
    sqlx::query(
        "UPDATE jobs SET done_at = $1, locked_until = NULL, last_error = NULL WHERE id = $2",
    )
    .bind(now_ms())
    .bind(id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Schedules another attempt.
pub async fn retry(db: &Db, id: i64, run_at: i64, error: &str) -> Result<(), StoreError> {
    let mut tx = db.begin().await?;
    sqlx::query("UPDATE jobs SET run_at = $1, locked_until = NULL, last_error = $2 WHERE id = $3")
        .bind(run_at)
        .bind(error)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Jobs not yet done.
pub async fn pending(db: &Db) -> Result<i64, StoreError> {
    Ok(
        sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE done_at IS NULL")
            .fetch_one(db.reader())
            .await?,
    )
}
