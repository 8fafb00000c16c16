//! All SQL lives here: apps, buyers, trades, refunds, notifications and their delivery attempts
//! in one SQLite database (a file, or memory for tests).
//!
//! The pool has exactly one connection. SQLite serialises writers anyway, and with a single
//! connection a use case's read-modify-write transaction can never meet a concurrent writer
//! (no `SQLITE_BUSY` halfway through a payment). The rule that follows: never acquire a second
//! connection while holding one, so every function here takes the connection it runs on.

use std::path::Path;
use std::str::FromStr;

use alipay::{Money, PublicKey, SignType};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{FromRow, SqliteConnection, SqlitePool};
use time::OffsetDateTime;

use crate::apps::{App, Partner};
use crate::config::BuyerConfig;
use crate::error::SandboxError;
use crate::trades::{Payer, Refund, Trade};

/// The database.
#[derive(Clone, Debug)]
pub struct Store {
    pool: SqlitePool,
}

/// Milliseconds since the Unix epoch, the stored form of every instant.
#[must_use]
pub fn to_ms(at: OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// The instant of a stored millisecond count, in Beijing time.
pub fn from_ms(ms: i64) -> Result<OffsetDateTime, SandboxError> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .map(|at| at.to_offset(alipay::time::BEIJING))
        .map_err(|_| SandboxError::Corrupt(format!("instant {ms} out of range")))
}

fn money(fen: i64) -> Result<Money, SandboxError> {
    Money::try_from_fen(fen).map_err(|e| SandboxError::Corrupt(e.to_string()))
}

fn parsed<T: FromStr<Err = String>>(text: &str) -> Result<T, SandboxError> {
    text.parse().map_err(SandboxError::Corrupt)
}

impl Store {
    /// Opens (creating if needed) the database at `path`, or an in-memory one, and migrates it.
    pub async fn open(path: Option<&Path>) -> Result<Store, SandboxError> {
        let options = match path {
            Some(path) => SqliteConnectOptions::new()
                .filename(path)
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal),
            None => SqliteConnectOptions::from_str("sqlite::memory:")?,
        }
        .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            // An in-memory database lives exactly as long as its connection: never recycle it.
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations").run(&pool).await?;
        Ok(Store { pool })
    }

    /// Starts a transaction (one use case = one transaction).
    pub async fn begin(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, SandboxError> {
        Ok(self.pool.begin().await?)
    }

    /// Borrows the connection for reads.
    pub async fn conn(&self) -> Result<sqlx::pool::PoolConnection<sqlx::Sqlite>, SandboxError> {
        Ok(self.pool.acquire().await?)
    }

    /// Closes the pool.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

// ---------------------------------------------------------------------------------------------
// Apps

#[derive(FromRow)]
struct AppRow {
    app_id: String,
    public_key: String,
    sign_type: String,
    seller_id: String,
    name: Option<String>,
    configured: bool,
    app_cert: Option<String>,
}

impl AppRow {
    fn into_app(self) -> Result<App, SandboxError> {
        let app_cert = self
            .app_cert
            .as_deref()
            .map(|pem| {
                alipay::cert::parse_pem(pem.as_bytes())
                    .map(|mut certs| certs.remove(0))
                    .map_err(|e| SandboxError::Corrupt(format!("app {}: {e}", self.app_id)))
            })
            .transpose()?;
        Ok(App {
            app_cert,
            public_key: PublicKey::parse(&self.public_key)
                .map_err(|e| SandboxError::Corrupt(format!("app {}: {e}", self.app_id)))?,
            sign_type: self
                .sign_type
                .parse()
                .map_err(|e: alipay::keys::UnknownSignType| SandboxError::Corrupt(e.to_string()))?,
            app_id: self.app_id,
            seller_id: self.seller_id,
            name: self.name,
            configured: self.configured,
        })
    }
}

/// Inserts or replaces an app.
pub async fn upsert_app(conn: &mut SqliteConnection, app: &App) -> Result<(), SandboxError> {
    sqlx::query(
        "INSERT INTO apps (app_id, public_key, sign_type, seller_id, name, configured, created_ms,
             app_cert)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (app_id) DO UPDATE SET public_key = $2, sign_type = $3, seller_id = $4,
             name = $5, configured = MAX(configured, $6), app_cert = $8",
    )
    .bind(&app.app_id)
    .bind(app.public_key.to_base64())
    .bind(app.sign_type.as_str())
    .bind(&app.seller_id)
    .bind(&app.name)
    .bind(app.configured)
    .bind(to_ms(alipay::time::now()))
    .bind(app.app_cert.as_ref().map(alipay::cert::Certificate::to_pem))
    .execute(conn)
    .await?;
    Ok(())
}

/// One app.
pub async fn app(conn: &mut SqliteConnection, app_id: &str) -> Result<Option<App>, SandboxError> {
    sqlx::query_as::<_, AppRow>("SELECT * FROM apps WHERE app_id = $1")
        .bind(app_id)
        .fetch_optional(conn)
        .await?
        .map(AppRow::into_app)
        .transpose()
}

/// Every app, oldest first.
pub async fn apps(conn: &mut SqliteConnection) -> Result<Vec<App>, SandboxError> {
    sqlx::query_as::<_, AppRow>("SELECT * FROM apps ORDER BY created_ms, app_id")
        .fetch_all(conn)
        .await?
        .into_iter()
        .map(AppRow::into_app)
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Legacy partners

#[derive(FromRow)]
struct PartnerRow {
    partner: String,
    md5_key: String,
    seller_email: String,
    name: Option<String>,
    configured: bool,
}

impl PartnerRow {
    fn into_partner(self) -> Result<Partner, SandboxError> {
        Ok(Partner {
            md5_key: alipay::legacy::Md5Key::new(&self.md5_key)
                .map_err(|e| SandboxError::Corrupt(format!("partner {}: {e}", self.partner)))?,
            partner: self.partner,
            seller_email: self.seller_email,
            name: self.name,
            configured: self.configured,
        })
    }
}

/// Inserts or replaces a partner.
pub async fn upsert_partner(
    conn: &mut SqliteConnection,
    partner: &Partner,
) -> Result<(), SandboxError> {
    sqlx::query(
        "INSERT INTO partners (partner, md5_key, seller_email, name, configured, created_ms)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (partner) DO UPDATE SET md5_key = $2, seller_email = $3, name = $4,
             configured = MAX(configured, $5)",
    )
    .bind(&partner.partner)
    .bind(partner.md5_key.expose_secret())
    .bind(&partner.seller_email)
    .bind(&partner.name)
    .bind(partner.configured)
    .bind(to_ms(alipay::time::now()))
    .execute(conn)
    .await?;
    Ok(())
}

/// One partner.
pub async fn partner(
    conn: &mut SqliteConnection,
    partner: &str,
) -> Result<Option<Partner>, SandboxError> {
    sqlx::query_as::<_, PartnerRow>("SELECT * FROM partners WHERE partner = $1")
        .bind(partner)
        .fetch_optional(conn)
        .await?
        .map(PartnerRow::into_partner)
        .transpose()
}

/// Every partner, oldest first.
pub async fn partners(conn: &mut SqliteConnection) -> Result<Vec<Partner>, SandboxError> {
    sqlx::query_as::<_, PartnerRow>("SELECT * FROM partners ORDER BY created_ms, partner")
        .fetch_all(conn)
        .await?
        .into_iter()
        .map(PartnerRow::into_partner)
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Rotated Alipay certificates

/// Every rotated Alipay certificate, oldest first: (certificate file, private key PEM).
pub async fn alipay_certs(
    conn: &mut SqliteConnection,
) -> Result<Vec<(String, String)>, SandboxError> {
    Ok(sqlx::query_as::<_, (String, String)>(
        "SELECT cert_pem, key_pem FROM alipay_certs ORDER BY created_ms, sn",
    )
    .fetch_all(conn)
    .await?)
}

/// Keeps a rotated Alipay certificate.
pub async fn insert_alipay_cert(
    conn: &mut SqliteConnection,
    sn: &str,
    cert_pem: &str,
    key_pem: &str,
) -> Result<(), SandboxError> {
    sqlx::query(
        "INSERT INTO alipay_certs (sn, cert_pem, key_pem, created_ms) VALUES ($1, $2, $3, $4)",
    )
    .bind(sn)
    .bind(cert_pem)
    .bind(key_pem)
    .bind(to_ms(alipay::time::now()))
    .execute(conn)
    .await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// notify_verify

/// Records that a notification is going out now.
pub async fn mark_sent(
    conn: &mut SqliteConnection,
    notification_id: i64,
    at_ms: i64,
) -> Result<(), SandboxError> {
    sqlx::query("UPDATE notifications SET sent_ms = $2 WHERE id = $1")
        .bind(notification_id)
        .bind(at_ms)
        .execute(conn)
        .await?;
    Ok(())
}

/// Records a `notify_id` handed to the browser with a legacy return.
pub async fn insert_return_notify_id(
    conn: &mut SqliteConnection,
    notify_id: &str,
    partner: &str,
    out_trade_no: &str,
    at_ms: i64,
) -> Result<(), SandboxError> {
    sqlx::query(
        "INSERT INTO return_notify_ids (notify_id, partner, out_trade_no, issued_ms)
         VALUES ($1, $2, $3, $4)",
    )
    .bind(notify_id)
    .bind(partner)
    .bind(out_trade_no)
    .bind(at_ms)
    .execute(conn)
    .await?;
    Ok(())
}

/// `notify_verify`: whether `notify_id` is one the sandbox sent `partner` (a notification really
/// sent and not yet acknowledged, or a return), at most `ttl_ms` ago.
pub async fn notify_id_is_genuine(
    conn: &mut SqliteConnection,
    partner: &str,
    notify_id: &str,
    now_ms: i64,
    ttl_ms: i64,
) -> Result<bool, SandboxError> {
    let (count,): (i64,) = sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM notifications
                  WHERE notify_id = $2 AND app_id = $1 AND sign_type = 'MD5'
                    AND sent_ms IS NOT NULL AND state != 'acknowledged' AND sent_ms >= $3)
              + (SELECT COUNT(*) FROM return_notify_ids
                  WHERE notify_id = $2 AND partner = $1 AND issued_ms >= $3)",
    )
    .bind(partner)
    .bind(notify_id)
    .bind(now_ms - ttl_ms)
    .fetch_one(conn)
    .await?;
    Ok(count > 0)
}

// ---------------------------------------------------------------------------------------------
// Buyers

/// A sandbox buyer and their balance.
#[derive(Clone, Debug, FromRow)]
pub struct BuyerRow {
    /// Login.
    pub logon_id: String,
    /// `2088…`.
    pub user_id: String,
    /// Password.
    pub password: String,
    /// Balance in fen.
    pub balance_fen: i64,
}

impl BuyerRow {
    /// The balance.
    pub fn balance(&self) -> Result<Money, SandboxError> {
        money(self.balance_fen)
    }

    /// As the payer of a trade.
    #[must_use]
    pub fn payer(&self) -> Payer {
        Payer {
            user_id: self.user_id.clone(),
            logon_id: self.logon_id.clone(),
        }
    }
}

/// Adds the configured buyers; existing ones keep their balance (a restart loses nothing).
pub async fn seed_buyers(
    conn: &mut SqliteConnection,
    buyers: &[BuyerConfig],
) -> Result<(), SandboxError> {
    for buyer in buyers {
        sqlx::query(
            "INSERT INTO buyers (logon_id, user_id, password, balance_fen, initial_balance_fen)
             VALUES ($1, $2, $3, $4, $4)
             ON CONFLICT (logon_id) DO UPDATE SET user_id = $2, password = $3,
                 initial_balance_fen = $4",
        )
        .bind(&buyer.logon_id)
        .bind(&buyer.user_id)
        .bind(&buyer.password)
        .bind(buyer.balance.fen())
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// One buyer.
pub async fn buyer(
    conn: &mut SqliteConnection,
    logon_id: &str,
) -> Result<Option<BuyerRow>, SandboxError> {
    Ok(sqlx::query_as::<_, BuyerRow>(
        "SELECT logon_id, user_id, password, balance_fen FROM buyers WHERE logon_id = $1",
    )
    .bind(logon_id)
    .fetch_optional(conn)
    .await?)
}

/// Every buyer.
pub async fn buyers(conn: &mut SqliteConnection) -> Result<Vec<BuyerRow>, SandboxError> {
    Ok(sqlx::query_as::<_, BuyerRow>(
        "SELECT logon_id, user_id, password, balance_fen FROM buyers ORDER BY rowid",
    )
    .fetch_all(conn)
    .await?)
}

/// Moves a buyer's balance by `delta_fen` (negative to pay, positive to refund).
pub async fn adjust_balance(
    conn: &mut SqliteConnection,
    user_id: &str,
    delta_fen: i64,
) -> Result<(), SandboxError> {
    sqlx::query("UPDATE buyers SET balance_fen = balance_fen + $1 WHERE user_id = $2")
        .bind(delta_fen)
        .bind(user_id)
        .execute(conn)
        .await?;
    Ok(())
}

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

// ---------------------------------------------------------------------------------------------
// Notifications

/// A notification waiting to be (or already) delivered.
#[derive(Clone, Debug, FromRow)]
pub struct NotificationRow {
    /// Row id (what `POST /api/notifications/{id}/deliver` takes).
    pub id: i64,
    /// Constant across attempts.
    pub notify_id: String,
    /// The app.
    pub app_id: String,
    /// The order.
    pub out_trade_no: String,
    /// The `trade_status` it reports.
    pub trade_status: String,
    /// Where it goes.
    pub notify_url: String,
    /// The fields, JSON.
    pub fields: String,
    /// `RSA2` or `RSA`.
    pub sign_type: String,
    /// `pending`, `acknowledged` or `exhausted`.
    pub state: String,
    /// Scheduled attempts made.
    pub attempts: i64,
    /// When the next scheduled attempt is due.
    pub next_attempt_ms: Option<i64>,
    /// Creation.
    pub created_ms: i64,
}

impl NotificationRow {
    /// The signature algorithm.
    pub fn sign_type(&self) -> Result<SignType, SandboxError> {
        self.sign_type
            .parse()
            .map_err(|e: alipay::keys::UnknownSignType| SandboxError::Corrupt(e.to_string()))
    }
}

/// What a new notification is made of.
#[derive(Clone, Debug)]
pub struct NewNotification {
    /// Constant across attempts.
    pub notify_id: String,
    /// The app.
    pub app_id: String,
    /// The order.
    pub out_trade_no: String,
    /// The reported status.
    pub trade_status: String,
    /// Where to.
    pub notify_url: String,
    /// Fields as JSON.
    pub fields: String,
    /// `RSA2` / `RSA`, or `MD5` for the legacy interface.
    pub sign_type: String,
    /// Creation (and first attempt).
    pub created_ms: i64,
}

/// Queues a notification for immediate delivery.
pub async fn insert_notification(
    conn: &mut SqliteConnection,
    new: &NewNotification,
) -> Result<i64, SandboxError> {
    let result = sqlx::query(
        "INSERT INTO notifications (notify_id, app_id, out_trade_no, trade_status, notify_url,
             fields, sign_type, state, attempts, next_attempt_ms, created_ms)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', 0, $8, $8)",
    )
    .bind(&new.notify_id)
    .bind(&new.app_id)
    .bind(&new.out_trade_no)
    .bind(&new.trade_status)
    .bind(&new.notify_url)
    .bind(&new.fields)
    .bind(&new.sign_type)
    .bind(new.created_ms)
    .execute(conn)
    .await?;
    Ok(result.last_insert_rowid())
}

/// Pending notifications due by `now_ms`, oldest first.
pub async fn due_notifications(
    conn: &mut SqliteConnection,
    now_ms: i64,
    limit: i64,
) -> Result<Vec<NotificationRow>, SandboxError> {
    Ok(sqlx::query_as::<_, NotificationRow>(
        "SELECT * FROM notifications WHERE state = 'pending' AND next_attempt_ms <= $1
         ORDER BY next_attempt_ms, id LIMIT $2",
    )
    .bind(now_ms)
    .bind(limit)
    .fetch_all(conn)
    .await?)
}

/// Pending notifications in order (the dispatcher filters those in flight).
pub async fn pending_schedule(
    conn: &mut SqliteConnection,
) -> Result<Vec<(i64, i64)>, SandboxError> {
    Ok(sqlx::query_as::<_, (i64, i64)>(
        "SELECT id, next_attempt_ms FROM notifications
         WHERE state = 'pending' AND next_attempt_ms IS NOT NULL ORDER BY next_attempt_ms",
    )
    .fetch_all(conn)
    .await?)
}

/// One notification by row id or by `notify_id`.
pub async fn notification(
    conn: &mut SqliteConnection,
    id_or_notify_id: &str,
) -> Result<Option<NotificationRow>, SandboxError> {
    let by_notify_id =
        sqlx::query_as::<_, NotificationRow>("SELECT * FROM notifications WHERE notify_id = $1")
            .bind(id_or_notify_id)
            .fetch_optional(&mut *conn)
            .await?;
    if by_notify_id.is_some() {
        return Ok(by_notify_id);
    }
    let Ok(id) = id_or_notify_id.parse::<i64>() else {
        return Ok(None);
    };
    Ok(
        sqlx::query_as::<_, NotificationRow>("SELECT * FROM notifications WHERE id = $1")
            .bind(id)
            .fetch_optional(conn)
            .await?,
    )
}

/// One delivery attempt, as logged.
#[derive(Clone, Debug)]
pub struct NewDelivery {
    /// The notification.
    pub notification_id: i64,
    /// 1..=8 on the schedule, 0 for a manual redelivery.
    pub attempt: i64,
    /// The exact form body sent.
    pub body: String,
    /// HTTP status received.
    pub status: Option<u16>,
    /// Body received.
    pub response: Option<String>,
    /// Transport error.
    pub error: Option<String>,
    /// The injected fault that shaped this attempt.
    pub fault: Option<String>,
    /// Whether the merchant answered `success`.
    pub acknowledged: bool,
    /// When.
    pub attempted_ms: i64,
}

/// Logs one attempt.
pub async fn insert_delivery(
    conn: &mut SqliteConnection,
    delivery: &NewDelivery,
) -> Result<(), SandboxError> {
    sqlx::query(
        "INSERT INTO deliveries (notification_id, attempt, body, status, response, error, fault,
             acknowledged, attempted_ms)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(delivery.notification_id)
    .bind(delivery.attempt)
    .bind(&delivery.body)
    .bind(delivery.status)
    .bind(&delivery.response)
    .bind(&delivery.error)
    .bind(&delivery.fault)
    .bind(delivery.acknowledged)
    .bind(delivery.attempted_ms)
    .execute(conn)
    .await?;
    Ok(())
}

/// Where a notification goes after an attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttemptResult {
    /// The merchant answered `success`: no more attempts.
    Acknowledged,
    /// Failed; try again at this instant (ms).
    RetryAt(i64),
    /// Failed, and that was the last attempt of the schedule.
    Exhausted,
}

/// Moves a notification on after an attempt; `scheduled` attempts count towards the schedule,
/// manual redeliveries do not (but their `success` still stops the retries).
pub async fn finish_attempt(
    conn: &mut SqliteConnection,
    notification_id: i64,
    scheduled: bool,
    result: AttemptResult,
) -> Result<(), SandboxError> {
    let counted = i64::from(scheduled);
    match result {
        AttemptResult::Acknowledged => {
            sqlx::query(
                "UPDATE notifications SET state = 'acknowledged', next_attempt_ms = NULL,
                     attempts = attempts + $2 WHERE id = $1",
            )
            .bind(notification_id)
            .bind(counted)
            .execute(conn)
            .await?;
        }
        AttemptResult::RetryAt(_) | AttemptResult::Exhausted if !scheduled => {}
        AttemptResult::RetryAt(at) => {
            sqlx::query(
                "UPDATE notifications SET attempts = attempts + 1, next_attempt_ms = $2
                 WHERE id = $1 AND state = 'pending'",
            )
            .bind(notification_id)
            .bind(at)
            .execute(conn)
            .await?;
        }
        AttemptResult::Exhausted => {
            sqlx::query(
                "UPDATE notifications SET attempts = attempts + 1, next_attempt_ms = NULL,
                     state = 'exhausted' WHERE id = $1 AND state = 'pending'",
            )
            .bind(notification_id)
            .execute(conn)
            .await?;
        }
    }
    Ok(())
}

/// A logged attempt with its notification's identity.
#[derive(Clone, Debug, FromRow)]
pub struct DeliveryRow {
    /// Attempt row id.
    pub id: i64,
    /// The notification's row id.
    pub notification_id: i64,
    /// The notification's `notify_id`.
    pub notify_id: String,
    /// The app.
    pub app_id: String,
    /// The order.
    pub out_trade_no: String,
    /// Reported status.
    pub trade_status: String,
    /// Where it went.
    pub notify_url: String,
    /// Attempt number (0 = manual).
    pub attempt: i64,
    /// Exact body.
    pub body: String,
    /// HTTP status.
    pub status: Option<i64>,
    /// Body received.
    pub response: Option<String>,
    /// Transport error.
    pub error: Option<String>,
    /// Injected fault.
    pub fault: Option<String>,
    /// `success` received.
    pub acknowledged: bool,
    /// When.
    pub attempted_ms: i64,
}

/// Logged attempts, oldest first, optionally for one order only.
pub async fn deliveries(
    conn: &mut SqliteConnection,
    out_trade_no: Option<&str>,
    limit: i64,
) -> Result<Vec<DeliveryRow>, SandboxError> {
    Ok(sqlx::query_as::<_, DeliveryRow>(
        "SELECT d.id, d.notification_id, n.notify_id, n.app_id, n.out_trade_no, n.trade_status,
             n.notify_url, d.attempt, d.body, d.status, d.response, d.error, d.fault,
             d.acknowledged, d.attempted_ms
         FROM deliveries d JOIN notifications n ON n.id = d.notification_id
         WHERE $1 IS NULL OR n.out_trade_no = $1
         ORDER BY d.id LIMIT $2",
    )
    .bind(out_trade_no)
    .bind(limit)
    .fetch_all(conn)
    .await?)
}

/// Every notification, oldest first, optionally for one order only.
pub async fn notifications(
    conn: &mut SqliteConnection,
    out_trade_no: Option<&str>,
) -> Result<Vec<NotificationRow>, SandboxError> {
    Ok(sqlx::query_as::<_, NotificationRow>(
        "SELECT * FROM notifications WHERE $1 IS NULL OR out_trade_no = $1 ORDER BY id",
    )
    .bind(out_trade_no)
    .fetch_all(conn)
    .await?)
}

/// Forgets every trade, refund and notification, restores buyer balances, and (when asked)
/// forgets apps registered at run time.
pub async fn reset(conn: &mut SqliteConnection, forget_apps: bool) -> Result<(), SandboxError> {
    for statement in [
        "DELETE FROM deliveries",
        "DELETE FROM notifications",
        "DELETE FROM refunds",
        "DELETE FROM trades",
        "DELETE FROM return_notify_ids",
        "UPDATE buyers SET balance_fen = initial_balance_fen",
    ] {
        sqlx::query(statement).execute(&mut *conn).await?;
    }
    if forget_apps {
        sqlx::query("DELETE FROM apps WHERE configured = 0")
            .execute(&mut *conn)
            .await?;
        sqlx::query("DELETE FROM partners WHERE configured = 0")
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}
