//! Trades and their refunds.

use sqlx::{FromRow, SqliteConnection};

use super::{from_ms, money, parsed, to_ms};
use crate::error::SandboxError;
use crate::trades::{Payer, Refund, Trade};

// ---------------------------------------------------------------------------------------------
// Trades

#[derive(FromRow)]
struct TradeRow {
    id: i64,
    app_id: String,
    out_trade_no: String,
    trade_no: String,
    origin: String,
    state: String,
    total_amount_fen: i64,
    subject: String,
    body: Option<String>,
    product_code: Option<String>,
    passback_params: Option<String>,
    notify_url: Option<String>,
    return_url: Option<String>,
    quit_url: Option<String>,
    timeout_express: Option<String>,
    time_expire: Option<String>,
    qr_token: Option<String>,
    expires_ms: i64,
    created_ms: i64,
    paid_ms: Option<i64>,
    closed_ms: Option<i64>,
    close_reason: Option<String>,
    buyer_user_id: Option<String>,
    buyer_logon_id: Option<String>,
    refund_fee_fen: i64,
    warning: Option<String>,
}

/// A stored trade and its row id.
#[derive(Clone, Debug)]
pub struct StoredTrade {
    /// Row id.
    pub id: i64,
    /// The trade.
    pub trade: Trade,
}

impl TradeRow {
    fn into_stored(self) -> Result<StoredTrade, SandboxError> {
        let payer = match (self.buyer_user_id, self.buyer_logon_id) {
            (Some(user_id), Some(logon_id)) => Some(Payer { user_id, logon_id }),
            _ => None,
        };
        Ok(StoredTrade {
            id: self.id,
            trade: Trade {
                app_id: self.app_id,
                out_trade_no: self.out_trade_no,
                trade_no: self.trade_no,
                origin: parsed(&self.origin)?,
                state: parsed(&self.state)?,
                total_amount: money(self.total_amount_fen)?,
                subject: self.subject,
                body: self.body,
                product_code: self.product_code,
                passback_params: self.passback_params,
                notify_url: self.notify_url,
                return_url: self.return_url,
                quit_url: self.quit_url,
                timeout_express: self.timeout_express,
                time_expire: self.time_expire,
                qr_token: self.qr_token,
                expires_at: from_ms(self.expires_ms)?,
                gmt_create: from_ms(self.created_ms)?,
                gmt_payment: self.paid_ms.map(from_ms).transpose()?,
                gmt_close: self.closed_ms.map(from_ms).transpose()?,
                close_reason: self.close_reason.as_deref().map(parsed).transpose()?,
                payer,
                refund_fee: money(self.refund_fee_fen)?,
                warning: self.warning,
            },
        })
    }
}

/// Inserts a new trade, returning its row id.
pub async fn insert_trade(conn: &mut SqliteConnection, trade: &Trade) -> Result<i64, SandboxError> {
    let result = sqlx::query(
        "INSERT INTO trades (app_id, out_trade_no, trade_no, origin, state, total_amount_fen,
             subject, body, product_code, passback_params, notify_url, return_url, quit_url,
             timeout_express, time_expire, qr_token, expires_ms, created_ms, paid_ms, closed_ms,
             close_reason, buyer_user_id, buyer_logon_id, refund_fee_fen, warning)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18,
             $19, $20, $21, $22, $23, $24, $25)",
    )
    .bind(&trade.app_id)
    .bind(&trade.out_trade_no)
    .bind(&trade.trade_no)
    .bind(trade.origin.method())
    .bind(trade.state.as_str())
    .bind(trade.total_amount.fen())
    .bind(&trade.subject)
    .bind(&trade.body)
    .bind(&trade.product_code)
    .bind(&trade.passback_params)
    .bind(&trade.notify_url)
    .bind(&trade.return_url)
    .bind(&trade.quit_url)
    .bind(&trade.timeout_express)
    .bind(&trade.time_expire)
    .bind(&trade.qr_token)
    .bind(to_ms(trade.expires_at))
    .bind(to_ms(trade.gmt_create))
    .bind(trade.gmt_payment.map(to_ms))
    .bind(trade.gmt_close.map(to_ms))
    .bind(trade.close_reason.map(|r| r.as_str()))
    .bind(trade.payer.as_ref().map(|p| &p.user_id))
    .bind(trade.payer.as_ref().map(|p| &p.logon_id))
    .bind(trade.refund_fee.fen())
    .bind(&trade.warning)
    .execute(conn)
    .await?;
    Ok(result.last_insert_rowid())
}

/// Saves the mutable parts of a trade.
pub async fn update_trade(
    conn: &mut SqliteConnection,
    id: i64,
    trade: &Trade,
) -> Result<(), SandboxError> {
    sqlx::query(
        "UPDATE trades SET origin = $2, state = $3, notify_url = $4, return_url = $5,
             quit_url = $6, timeout_express = $7, time_expire = $8, expires_ms = $9, paid_ms = $10,
             closed_ms = $11, close_reason = $12, buyer_user_id = $13, buyer_logon_id = $14,
             refund_fee_fen = $15, warning = $16
         WHERE id = $1",
    )
    .bind(id)
    .bind(trade.origin.method())
    .bind(trade.state.as_str())
    .bind(&trade.notify_url)
    .bind(&trade.return_url)
    .bind(&trade.quit_url)
    .bind(&trade.timeout_express)
    .bind(&trade.time_expire)
    .bind(to_ms(trade.expires_at))
    .bind(trade.gmt_payment.map(to_ms))
    .bind(trade.gmt_close.map(to_ms))
    .bind(trade.close_reason.map(|r| r.as_str()))
    .bind(trade.payer.as_ref().map(|p| &p.user_id))
    .bind(trade.payer.as_ref().map(|p| &p.logon_id))
    .bind(trade.refund_fee.fen())
    .bind(&trade.warning)
    .execute(conn)
    .await?;
    Ok(())
}

/// Which trade a request means.
#[derive(Clone, Copy, Debug)]
pub enum TradeKey<'a> {
    /// By row id.
    Id(i64),
    /// By app and merchant order number.
    OutTradeNo {
        /// The app.
        app_id: &'a str,
        /// The order number.
        out_trade_no: &'a str,
    },
    /// By app and Alipay trade number.
    TradeNo {
        /// The app.
        app_id: &'a str,
        /// The trade number.
        trade_no: &'a str,
    },
    /// By Alipay trade number alone (the cashier's links).
    AnyTradeNo(&'a str),
    /// By QR token.
    QrToken(&'a str),
}

/// Finds one trade.
pub async fn trade(
    conn: &mut SqliteConnection,
    key: TradeKey<'_>,
) -> Result<Option<StoredTrade>, SandboxError> {
    let query = match key {
        TradeKey::Id(id) => {
            sqlx::query_as::<_, TradeRow>("SELECT * FROM trades WHERE id = $1").bind(id)
        }
        TradeKey::OutTradeNo {
            app_id,
            out_trade_no,
        } => sqlx::query_as("SELECT * FROM trades WHERE app_id = $1 AND out_trade_no = $2")
            .bind(app_id)
            .bind(out_trade_no),
        TradeKey::TradeNo { app_id, trade_no } => {
            sqlx::query_as("SELECT * FROM trades WHERE app_id = $1 AND trade_no = $2")
                .bind(app_id)
                .bind(trade_no)
        }
        TradeKey::AnyTradeNo(trade_no) => {
            sqlx::query_as("SELECT * FROM trades WHERE trade_no = $1").bind(trade_no)
        }
        TradeKey::QrToken(token) => {
            sqlx::query_as("SELECT * FROM trades WHERE qr_token = $1").bind(token)
        }
    };
    query
        .fetch_optional(conn)
        .await?
        .map(TradeRow::into_stored)
        .transpose()
}

/// Trades with this merchant order number, newest first (any app; for the test API).
pub async fn trades_by_out_trade_no(
    conn: &mut SqliteConnection,
    out_trade_no: &str,
) -> Result<Vec<StoredTrade>, SandboxError> {
    sqlx::query_as::<_, TradeRow>("SELECT * FROM trades WHERE out_trade_no = $1 ORDER BY id DESC")
        .bind(out_trade_no)
        .fetch_all(conn)
        .await?
        .into_iter()
        .map(TradeRow::into_stored)
        .collect()
}

/// Every trade, newest first.
pub async fn trades(
    conn: &mut SqliteConnection,
    limit: i64,
) -> Result<Vec<StoredTrade>, SandboxError> {
    sqlx::query_as::<_, TradeRow>("SELECT * FROM trades ORDER BY id DESC LIMIT $1")
        .bind(limit)
        .fetch_all(conn)
        .await?
        .into_iter()
        .map(TradeRow::into_stored)
        .collect()
}

/// An app's trades paid in `[from, until)` (Unix ms), in payment order (a day's bill).
pub async fn paid_between(
    conn: &mut SqliteConnection,
    app_id: &str,
    from: i64,
    until: i64,
) -> Result<Vec<StoredTrade>, SandboxError> {
    sqlx::query_as::<_, TradeRow>(
        "SELECT * FROM trades WHERE app_id = $1 AND paid_ms >= $2 AND paid_ms < $3 ORDER BY paid_ms, id",
    )
    .bind(app_id)
    .bind(from)
    .bind(until)
    .fetch_all(conn)
    .await?
    .into_iter()
    .map(TradeRow::into_stored)
    .collect()
}

/// An app's refunds made in `[from, until)` (Unix ms), in refund order, with their trades (a day's
/// bill).
pub async fn refunded_between(
    conn: &mut SqliteConnection,
    app_id: &str,
    from: i64,
    until: i64,
) -> Result<Vec<(StoredTrade, Refund)>, SandboxError> {
    let trade_ids: Vec<i64> = sqlx::query_scalar(
        "SELECT DISTINCT r.trade_id FROM refunds r JOIN trades t ON t.id = r.trade_id \
         WHERE t.app_id = $1 AND r.refunded_ms >= $2 AND r.refunded_ms < $3",
    )
    .bind(app_id)
    .bind(from)
    .bind(until)
    .fetch_all(&mut *conn)
    .await?;
    let mut found = Vec::new();
    for id in trade_ids {
        let Some(stored) = trade(&mut *conn, TradeKey::Id(id)).await? else {
            continue;
        };
        for refund in refunds(&mut *conn, id).await? {
            let at = to_ms(refund.gmt_refund);
            if (from..until).contains(&at) {
                found.push((stored.clone(), refund));
            }
        }
    }
    found.sort_by_key(|(_, refund)| refund.gmt_refund);
    Ok(found)
}

/// Unpaid trades whose window has passed.
pub async fn expired_trade_ids(
    conn: &mut SqliteConnection,
    now_ms: i64,
) -> Result<Vec<i64>, SandboxError> {
    Ok(sqlx::query_scalar(
        "SELECT id FROM trades WHERE state IN ('CREATED', 'WAIT_BUYER_PAY') AND expires_ms <= $1",
    )
    .bind(now_ms)
    .fetch_all(conn)
    .await?)
}

/// When the next unpaid trade expires.
pub async fn next_expiry_ms(conn: &mut SqliteConnection) -> Result<Option<i64>, SandboxError> {
    Ok(sqlx::query_scalar(
        "SELECT MIN(expires_ms) FROM trades WHERE state IN ('CREATED', 'WAIT_BUYER_PAY')",
    )
    .fetch_one(conn)
    .await?)
}

#[derive(FromRow)]
struct RefundRow {
    out_request_no: String,
    amount_fen: i64,
    reason: Option<String>,
    refunded_ms: i64,
}

/// A trade's refunds, oldest first.
pub async fn refunds(
    conn: &mut SqliteConnection,
    trade_id: i64,
) -> Result<Vec<Refund>, SandboxError> {
    sqlx::query_as::<_, RefundRow>(
        "SELECT out_request_no, amount_fen, reason, refunded_ms FROM refunds
         WHERE trade_id = $1 ORDER BY refunded_ms, rowid",
    )
    .bind(trade_id)
    .fetch_all(conn)
    .await?
    .into_iter()
    .map(|row| {
        Ok(Refund {
            out_request_no: row.out_request_no,
            amount: money(row.amount_fen)?,
            reason: row.reason,
            gmt_refund: from_ms(row.refunded_ms)?,
        })
    })
    .collect()
}

/// Records a refund.
pub async fn insert_refund(
    conn: &mut SqliteConnection,
    trade_id: i64,
    refund: &Refund,
) -> Result<(), SandboxError> {
    sqlx::query(
        "INSERT INTO refunds (trade_id, out_request_no, amount_fen, reason, refunded_ms)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(trade_id)
    .bind(&refund.out_request_no)
    .bind(refund.amount.fen())
    .bind(&refund.reason)
    .bind(to_ms(refund.gmt_refund))
    .execute(conn)
    .await?;
    Ok(())
}
