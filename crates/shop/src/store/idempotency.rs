//! `Idempotency-Key`: a retried POST returns the resource the first one created.

use sqlx::Row;

use super::{Db, StoreError, Tx, now_ms};

/// A key seen before: the hash of the request it came with, and what that request created.
#[derive(Clone, Debug)]
pub struct Seen {
    /// Hash of the first request's body.
    pub request_hash: String,
    /// What it created (an `out_trade_no`, a refund number...).
    pub resource: String,
}

/// Looks a key up.
pub async fn find(
    db: &Db,
    user_id: i64,
    scope: &str,
    key: &str,
) -> Result<Option<Seen>, StoreError> {
    let row = sqlx::query("SELECT request_hash, resource FROM idempotency_keys WHERE user_id = $1 AND scope = $2 AND key = $3")
        .bind(user_id)
        .bind(scope)
        .bind(key)
        .fetch_optional(db.reader())
        .await?;
    row.map(|row| {
        Ok(Seen {
            request_hash: row.try_get("request_hash")?,
            resource: row.try_get("resource")?,
        })
    })
    .transpose()
}

/// Claims a key inside the transaction that creates the resource; [`StoreError::Conflict`] when
/// a concurrent request claimed it first.
pub async fn claim(
    tx: &mut Tx,
    user_id: i64,
    scope: &str,
    key: &str,
    request_hash: &str,
    resource: &str,
) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO idempotency_keys (user_id, scope, key, request_hash, resource, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(user_id)
        .bind(scope)
        .bind(key)
        .bind(request_hash)
        .bind(resource)
        .bind(now_ms())
        .execute(&mut **tx)
        .await
        .map_err(StoreError::from_sqlx)?;
    Ok(())
}
