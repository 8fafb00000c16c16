//! Every notification as it arrived, with the verdict it got.

use sqlx::{AnyConnection, Row as _};

use super::{Db, StoreError, Tx, now_ms, values};
use crate::domain::notification::Stored;

/// What the shop made of a notification.
#[derive(Clone, Debug)]
pub struct Received<'a> {
    /// The raw body, byte for byte as received.
    pub body: &'a [u8],
    /// `accepted`, `duplicate`, `bad_signature`, `malformed`, `wrong_app`, `wrong_seller`,
    /// `unknown_order`, `amount_mismatch`, `ignored`, `error`.
    pub verdict: &'a str,
    /// Its `notify_id`, when it had one.
    pub notify_id: Option<&'a str>,
    /// Its `out_trade_no`, when it had one.
    pub out_trade_no: Option<&'a str>,
    /// Its `trade_status`, when it had one.
    pub trade_status: Option<&'a str>,
    /// Why.
    pub detail: &'a str,
    /// The length of the whole body as received (`body` may be a truncated prefix).
    pub body_len: usize,
    /// SHA-256 of the whole body (hex), kept when `body` is truncated.
    pub body_sha256: Option<&'a str>,
    /// The sender's address.
    pub peer: Option<&'a str>,
}

/// Keeps a notification inside the transaction that acted on it (written when it commits).
pub async fn record(tx: &mut Tx, received: &Received<'_>) -> Result<(), StoreError> {
    tx.notifications.push(Row {
        received_at: now_ms(),
        body: received.body.to_vec(),
        verdict: received.verdict.to_owned(),
        notify_id: received.notify_id.map(text),
        out_trade_no: received.out_trade_no.map(text),
        trade_status: received.trade_status.map(text),
        detail: text(received.detail),
        body_len: i64::try_from(received.body_len).unwrap_or(i64::MAX),
        body_sha256: received.body_sha256.map(str::to_owned),
        peer: received.peer.map(text),
    });
    Ok(())
}

/// A notification waiting for its transaction's commit.
#[derive(Debug)]
pub(super) struct Row {
    received_at: i64,
    body: Vec<u8>,
    verdict: String,
    notify_id: Option<String>,
    out_trade_no: Option<String>,
    trade_status: Option<String>,
    detail: String,
    body_len: i64,
    body_sha256: Option<String>,
    peer: Option<String>,
}

/// Writes `rows`, in order, up to a hundred per statement.
pub(super) async fn flush(conn: &mut AnyConnection, rows: &[Row]) -> Result<(), sqlx::Error> {
    for chunk in rows.chunks(100) {
        let sql = format!(
            "INSERT INTO notifications (received_at, body, verdict, notify_id, out_trade_no, trade_status, detail, body_len, body_sha256, peer) VALUES {}",
            values(chunk.len(), 10)
        );
        let mut query = sqlx::query(&sql);
        for row in chunk {
            query = query
                .bind(row.received_at)
                .bind(row.body.as_slice())
                .bind(row.verdict.as_str())
                .bind(row.notify_id.as_deref())
                .bind(row.out_trade_no.as_deref())
                .bind(row.trade_status.as_deref())
                .bind(row.detail.as_str())
                .bind(row.body_len)
                .bind(row.body_sha256.as_deref())
                .bind(row.peer.as_deref());
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Fields parsed out of an untrusted body go into TEXT columns, which on PostgreSQL cannot hold
/// NUL; the exact bytes are in `body`, so these copies only need to be faithful enough to search.
fn text(value: &str) -> String {
    value.replace('\0', "\u{FFFD}")
}

/// Keeps a notification on its own (for those that change nothing).
pub async fn record_alone(db: &Db, received: &Received<'_>) -> Result<(), StoreError> {
    let mut tx = db.begin().await?;
    record(&mut tx, received).await?;
    tx.commit().await?;
    Ok(())
}

/// Notifications, newest first, optionally of one verdict or one order.
pub async fn list(
    db: &Db,
    verdict: Option<&str>,
    out_trade_no: Option<&str>,
    limit: i64,
    offset: i64,
) -> Result<Vec<Stored>, StoreError> {
    let mut conditions = vec!["1 = 1"];
    let mut sql_params = Vec::new();
    if let Some(verdict) = verdict {
        conditions.push("verdict = ");
        sql_params.push(verdict);
    }
    if let Some(no) = out_trade_no {
        conditions.push("out_trade_no = ");
        sql_params.push(no);
    }
    let mut n = 0;
    let condition = conditions
        .iter()
        .map(|c| {
            if c.ends_with("= ") {
                n += 1;
                format!("{c}${n}")
            } else {
                (*c).to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join(" AND ");
    let sql = format!(
        "SELECT id, received_at, verdict, notify_id, out_trade_no, trade_status, detail, body, body_len FROM notifications \
         WHERE {condition} ORDER BY received_at DESC, id DESC LIMIT ${} OFFSET ${}",
        n + 1,
        n + 2
    );
    let mut query = sqlx::query(&sql);
    for value in sql_params {
        query = query.bind(value);
    }
    let rows = query
        .bind(limit)
        .bind(offset)
        .fetch_all(db.reader())
        .await?;
    rows.iter()
        .map(|row| {
            Ok(Stored {
                id: row.try_get("id")?,
                received_at: row.try_get("received_at")?,
                verdict: row.try_get("verdict")?,
                notify_id: row.try_get("notify_id")?,
                out_trade_no: row.try_get("out_trade_no")?,
                trade_status: row.try_get("trade_status")?,
                detail: row.try_get("detail")?,
                body: row.try_get("body")?,
                body_len: row.try_get("body_len")?,
            })
        })
        .collect()
}

/// Notifications per verdict, for metrics and tests.
pub async fn count_by_verdict(db: &Db) -> Result<Vec<(String, i64)>, StoreError> {
    let rows = sqlx::query("SELECT verdict, COUNT(*) AS n FROM notifications GROUP BY verdict")
        .fetch_all(db.reader())
        .await?;
    rows.iter()
        .map(|row| Ok((row.try_get("verdict")?, row.try_get("n")?)))
        .collect()
}

/// Deletes notifications with one of `verdicts` received before `before` (Unix ms), at most
/// `limit` at a time; returns how many went.
pub async fn prune(db: &Db, verdicts: &[&str], before: i64, limit: i64) -> Result<u64, StoreError> {
    if verdicts.is_empty() {
        return Ok(0);
    }
    let placeholders: Vec<String> = (0..verdicts.len()).map(|i| format!("${}", i + 3)).collect();
    let sql = format!(
        "DELETE FROM notifications WHERE id IN (SELECT id FROM notifications WHERE received_at < $1 AND verdict IN ({}) ORDER BY id LIMIT $2)",
        placeholders.join(", ")
    );
    let mut query = sqlx::query(&sql).bind(before).bind(limit);
    for verdict in verdicts {
        query = query.bind(*verdict);
    }
    let mut tx = db.begin().await?;
    let gone = query.execute(&mut *tx).await?.rows_affected();
    tx.commit().await?;
    Ok(gone)
}
