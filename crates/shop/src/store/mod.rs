//! All SQL lives here, written once in the dialect SQLite and PostgreSQL share (`$N` parameters,
//! `RETURNING`, `ON CONFLICT DO NOTHING`, 64-bit integers for money and times) and run through
//! sqlx's `Any` driver, so one code path serves both databases.
//!
//! SQLite allows one writer at a time. Rather than let concurrent transactions race for the lock
//! (and fail with `SQLITE_BUSY` on upgrade), SQLite writes go through a pool of one connection, so
//! they queue in-process; reads use their own pool (WAL mode lets them run beside the writer).
//! PostgreSQL uses one pool for both, and row locks (`FOR UPDATE`, `SKIP LOCKED`) where the
//! dialects differ. Several shop instances therefore need PostgreSQL.

pub mod anomalies;
pub mod courses;
pub mod events;
pub mod idempotency;
pub mod jobs;
pub mod lessons;
pub mod notifications;
pub mod order_writer;
pub mod orders;
pub mod refunds;
pub mod settlements;
pub mod users;

use std::ops::{Deref, DerefMut};
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{Any, AnyConnection, AnyPool, Executor, Transaction};

/// Which database is behind the pools.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// Embedded SQLite (the default).
    Sqlite,
    /// PostgreSQL (or a compatible database).
    Postgres,
}

/// A database failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness rule was violated (the caller decides what that means).
    #[error("conflict on {0}")]
    Conflict(String),
    /// Anything else.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// The order writer reported a failure of its batch.
    #[error("database error: {0}")]
    Batch(String),
    /// A stored value could not be understood.
    #[error("corrupt data: {0}")]
    Corrupt(String),
}

impl StoreError {
    /// Maps unique-constraint violations to [`StoreError::Conflict`].
    pub fn from_sqlx(error: sqlx::Error) -> StoreError {
        if let sqlx::Error::Database(db) = &error
            && db.is_unique_violation()
        {
            return StoreError::Conflict(db.message().to_owned());
        }
        StoreError::Database(error)
    }
}

/// A write transaction.
///
/// Rows of the append-only logs (order events, kept notifications) are written when it
/// commits, many per statement, rather than one round trip each: on SQLite every statement is
/// a hand-over to the one writer's thread, and those round trips, not the disk, were what
/// bounded a batch of notifications. Nothing reads those logs inside a write transaction; a
/// rolled-back transaction writes none of them. Everything else executes at once, on the
/// connection this dereferences to.
///
/// It also holds orders read ahead under lock ([`orders::prefetch`]), each given out once by
/// [`orders::lock`] instead of a statement of its own.
#[derive(Debug)]
pub struct Tx {
    inner: Transaction<'static, Any>,
    events: Vec<events::Row>,
    notifications: Vec<notifications::Row>,
    prefetched: std::collections::HashMap<String, Option<crate::domain::Order>>,
}

impl Tx {
    /// Writes the deferred rows, then commits.
    pub async fn commit(mut self) -> Result<(), sqlx::Error> {
        events::flush(&mut self.inner, &self.events).await?;
        notifications::flush(&mut self.inner, &self.notifications).await?;
        self.inner.commit().await
    }
}

impl Deref for Tx {
    type Target = AnyConnection;

    fn deref(&self) -> &AnyConnection {
        &self.inner
    }
}

impl DerefMut for Tx {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        &mut self.inner
    }
}

/// `($1, …, $columns), (…)`: the placeholders of a multi-row `VALUES` for `rows` rows.
fn values(rows: usize, columns: usize) -> String {
    let mut sql = String::with_capacity(rows * columns * 5);
    for row in 0..rows {
        if row > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for column in 0..columns {
            if column > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&format!("${}", row * columns + column + 1));
        }
        sql.push(')');
    }
    sql
}

/// The shop's database.
#[derive(Clone, Debug)]
pub struct Db {
    read: AnyPool,
    write: AnyPool,
    backend: Backend,
}

static MIGRATE_SQLITE: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static MIGRATE_POSTGRES: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

impl Db {
    /// Connects and brings the schema up to date.
    pub async fn connect(url: &str) -> Result<Db, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else {
            return Err(StoreError::Corrupt(format!(
                "unsupported database URL scheme in {:?}: use sqlite:// or postgres://",
                crate::config::redact_url(url)
            )));
        };
        let options: AnyConnectOptions = url.parse()?;
        let db = match backend {
            Backend::Postgres => {
                let pool = AnyPoolOptions::new()
                    .max_connections(32)
                    .acquire_timeout(Duration::from_secs(10))
                    .connect_with(options)
                    .await?;
                Db {
                    read: pool.clone(),
                    write: pool,
                    backend,
                }
            }
            Backend::Sqlite => {
                // An embedded file has no network to go stale over: no ping before every
                // transaction (each one a round trip to the connection's thread).
                let write = AnyPoolOptions::new()
                    .max_connections(1)
                    .test_before_acquire(false)
                    .acquire_timeout(Duration::from_secs(30))
                    .after_connect(sqlite_pragmas)
                    .connect_with(options.clone())
                    .await?;
                let read = AnyPoolOptions::new()
                    .max_connections(8)
                    .test_before_acquire(false)
                    .acquire_timeout(Duration::from_secs(10))
                    .after_connect(sqlite_pragmas)
                    .connect_with(options)
                    .await?;
                Db {
                    read,
                    write,
                    backend,
                }
            }
        };
        db.migrate().await?;
        Ok(db)
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        let migrator = match self.backend {
            Backend::Sqlite => &MIGRATE_SQLITE,
            Backend::Postgres => &MIGRATE_POSTGRES,
        };
        migrator
            .run(&self.write)
            .await
            .map_err(|e| StoreError::Corrupt(format!("migration failed: {e}")))
    }

    /// Which database this is.
    #[must_use]
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The pool for reads.
    #[must_use]
    pub fn reader(&self) -> &AnyPool {
        &self.read
    }

    /// Starts a write transaction.
    pub async fn begin(&self) -> Result<Tx, StoreError> {
        Ok(Tx {
            inner: self.write.begin().await?,
            events: Vec::new(),
            notifications: Vec::new(),
            prefetched: std::collections::HashMap::new(),
        })
    }

    /// `FOR UPDATE` where the database has row locks (SQLite's single writer already serialises).
    #[must_use]
    pub fn for_update(&self) -> &'static str {
        match self.backend {
            Backend::Postgres => " FOR UPDATE",
            Backend::Sqlite => "",
        }
    }

    /// `FOR UPDATE OF <table>`, for a query that joins other tables to the rows it locks.
    #[must_use]
    pub fn for_update_of(&self, table: &str) -> String {
        match self.backend {
            Backend::Postgres => format!(" FOR UPDATE OF {table}"),
            Backend::Sqlite => String::new(),
        }
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.read).await?;
        Ok(())
    }

    /// Closes the pools.
    pub async fn close(&self) {
        self.read.close().await;
        self.write.close().await;
    }
}

type ConnectFuture<'c> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), sqlx::Error>> + Send + 'c>>;

/// WAL (readers beside the writer), `synchronous = FULL` (every commit is on disk before it
/// returns: an acknowledged notification or order survives a power cut, not only a crash; the
/// writers group their commits to pay for it), foreign keys on, and a generous busy timeout
/// for the rare cross-process lock.
fn sqlite_pragmas(
    conn: &mut sqlx::AnyConnection,
    _meta: sqlx::pool::PoolConnectionMetadata,
) -> ConnectFuture<'_> {
    Box::pin(async move {
        // One statement per call: not every driver path runs the rest of a multi-statement string.
        for pragma in [
            "PRAGMA journal_mode = WAL",
            "PRAGMA synchronous = FULL",
            "PRAGMA foreign_keys = ON",
            "PRAGMA busy_timeout = 10000",
        ] {
            conn.execute(pragma).await?;
        }
        Ok(())
    })
}

/// Now, as stored: Unix milliseconds.
#[must_use]
pub fn now_ms() -> i64 {
    to_ms(time::OffsetDateTime::now_utc())
}

pub use crate::domain::time::{from_ms, to_ms};
