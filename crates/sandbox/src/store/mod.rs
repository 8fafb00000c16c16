//! All SQL lives here: apps, buyers, trades, refunds, notifications and their delivery attempts
//! in one SQLite database (a file, or memory for tests), one module per group of tables:
//! [`merchants`](mod@merchants), [`buyers`](mod@buyers), [`trades`](mod@trades),
//! [`notifications`](mod@notifications).
//!
//! The pool has exactly one connection. SQLite serialises writers anyway, and with a single
//! connection a use case's read-modify-write transaction can never meet a concurrent writer
//! (no `SQLITE_BUSY` halfway through a payment). The rule that follows: never acquire a second
//! connection while holding one, so every function here takes the connection it runs on.

mod buyers;
mod merchants;
mod notifications;
mod trades;

pub use buyers::*;
pub use merchants::*;
pub use notifications::*;
pub use trades::*;

use std::path::Path;
use std::str::FromStr;

use alipay::Money;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{SqliteConnection, SqlitePool};
use time::OffsetDateTime;

use crate::error::SandboxError;

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

pub(super) fn money(fen: i64) -> Result<Money, SandboxError> {
    Money::try_from_fen(fen).map_err(|e| SandboxError::Corrupt(e.to_string()))
}

pub(super) fn parsed<T: FromStr<Err = String>>(text: &str) -> Result<T, SandboxError> {
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
