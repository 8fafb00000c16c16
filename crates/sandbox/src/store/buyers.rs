//! Sandbox buyers and their balances.

use alipay::Money;
use sqlx::{FromRow, SqliteConnection};

use super::money;
use crate::config::BuyerConfig;
use crate::error::SandboxError;
use crate::trades::Payer;

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
