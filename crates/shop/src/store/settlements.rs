//! Settlements: one row per bill day, and the differences found.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Db, StoreError, now_ms};
use crate::domain::settlement::{Difference, Settlement, Side};

const COLUMNS: &str = "s.bill_date, s.status, s.alipay_count, s.alipay_total_fen, s.shop_count, s.shop_total_fen, s.detail, s.run_by, s.started_at, s.finished_at, \
    (SELECT COUNT(*) FROM settlement_differences d WHERE d.bill_date = s.bill_date) AS differences";

fn settlement(row: &AnyRow) -> Result<Settlement, StoreError> {
    let side = |count: &str, total: &str| -> Result<Side, StoreError> {
        let count: i64 = row.try_get(count)?;
        let total: i64 = row.try_get(total)?;
        Ok(Side {
            count: count.unsigned_abs(),
            total: alipay::SignedMoney::from_fen(total),
        })
    };
    Ok(Settlement {
        bill_date: row.try_get("bill_date")?,
        status: row.try_get("status")?,
        alipay: side("alipay_count", "alipay_total_fen")?,
        shop: side("shop_count", "shop_total_fen")?,
        differences: row.try_get("differences")?,
        detail: row.try_get("detail")?,
        run_by: row.try_get("run_by")?,
        started_at: row.try_get("started_at")?,
        finished_at: row.try_get("finished_at")?,
    })
}

/// Claims `bill_date` for a run until `lease_until` (Unix ms): only one instance settles a day
/// at a time. Returns whether this caller has it.
pub async fn claim(
    db: &Db,
    bill_date: &str,
    run_by: Option<i64>,
    lease_until: i64,
) -> Result<bool, StoreError> {
    let now = now_ms();
    let mut tx = db.begin().await?;
    let claimed = sqlx::query(
        "INSERT INTO settlements (bill_date, status, run_by, started_at, lease_until) VALUES ($1, 'running', $2, $3, $4) \
         ON CONFLICT (bill_date) DO UPDATE SET status = 'running', run_by = $2, started_at = $3, lease_until = $4 \
         WHERE settlements.lease_until IS NULL OR settlements.lease_until < $3",
    )
    .bind(bill_date)
    .bind(run_by)
    .bind(now)
    .bind(lease_until)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    tx.commit().await?;
    Ok(claimed)
}

/// How a run ended.
#[derive(Clone, Debug)]
pub struct Finished<'a> {
    /// `completed`, `no_bill` or `failed`.
    pub status: &'a str,
    /// The bill's side.
    pub alipay: Side,
    /// The shop's side.
    pub shop: Side,
    /// Why it failed.
    pub detail: &'a str,
    /// Not to be run again (by the daily job) before this (Unix ms); `None`: whenever asked.
    pub retry_after: Option<i64>,
}

/// Records the end of a run, with the differences it found (a difference already on record
/// for the day is kept as it was: a second run adds nothing).
pub async fn finish(
    db: &Db,
    bill_date: &str,
    finished: &Finished<'_>,
    differences: &[Difference],
) -> Result<(), StoreError> {
    let now = now_ms();
    let mut tx = db.begin().await?;
    for difference in differences {
        sqlx::query(
            "INSERT INTO settlement_differences (bill_date, kind, out_trade_no, trade_no, out_request_no, amount_fen, action, detail, found_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING",
        )
        .bind(bill_date)
        .bind(difference.kind.as_str())
        .bind(&difference.out_trade_no)
        .bind(&difference.trade_no)
        .bind(&difference.out_request_no)
        .bind(difference.amount.fen())
        .bind(&difference.action)
        .bind(&difference.detail)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    }
    sqlx::query(
        "UPDATE settlements SET status = $1, alipay_count = $2, alipay_total_fen = $3, shop_count = $4, shop_total_fen = $5, \
         detail = $6, finished_at = $7, lease_until = $8 WHERE bill_date = $9",
    )
    .bind(finished.status)
    .bind(i64::try_from(finished.alipay.count).unwrap_or(i64::MAX))
    .bind(finished.alipay.total.fen())
    .bind(i64::try_from(finished.shop.count).unwrap_or(i64::MAX))
    .bind(finished.shop.total.fen())
    .bind(finished.detail)
    .bind(now)
    .bind(finished.retry_after)
    .bind(bill_date)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// One day.
pub async fn get(db: &Db, bill_date: &str) -> Result<Option<Settlement>, StoreError> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM settlements s WHERE s.bill_date = $1"
    ))
    .bind(bill_date)
    .fetch_optional(db.reader())
    .await?;
    row.as_ref().map(settlement).transpose()
}

/// The latest days, newest first.
pub async fn list(db: &Db, limit: i64) -> Result<Vec<Settlement>, StoreError> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM settlements s ORDER BY s.bill_date DESC LIMIT $1"
    ))
    .bind(limit)
    .fetch_all(db.reader())
    .await?;
    rows.iter().map(settlement).collect()
}

/// A day's differences, in the order they were found.
pub async fn differences(db: &Db, bill_date: &str) -> Result<Vec<Difference>, StoreError> {
    let rows = sqlx::query(
        "SELECT kind, out_trade_no, trade_no, out_request_no, amount_fen, action, detail FROM settlement_differences \
         WHERE bill_date = $1 ORDER BY id",
    )
    .bind(bill_date)
    .fetch_all(db.reader())
    .await?;
    rows.iter()
        .map(|row| {
            let kind: String = row.try_get("kind")?;
            let amount: i64 = row.try_get("amount_fen")?;
            Ok(Difference {
                kind: kind.parse().map_err(StoreError::Corrupt)?,
                out_trade_no: row.try_get("out_trade_no")?,
                trade_no: row.try_get("trade_no")?,
                out_request_no: row.try_get("out_request_no")?,
                amount: alipay::SignedMoney::from_fen(amount),
                action: row.try_get("action")?,
                detail: row.try_get("detail")?,
            })
        })
        .collect()
}
