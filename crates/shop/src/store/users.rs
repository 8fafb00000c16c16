//! Users.

use sqlx::Row;

use super::{Db, StoreError, now_ms};

/// A stored user.
#[derive(Clone, Debug)]
pub struct User {
    /// Id.
    pub id: i64,
    /// Login name.
    pub username: String,
    /// argon2id PHC string.
    pub password_hash: String,
    /// `user` or `admin`.
    pub role: String,
}

/// Creates a user; [`StoreError::Conflict`] when the name is taken.
pub async fn insert(
    db: &Db,
    username: &str,
    password_hash: &str,
    role: &str,
) -> Result<i64, StoreError> {
    let mut tx = db.begin().await?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO users (username, password_hash, role, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(username)
    .bind(password_hash)
    .bind(role)
    .bind(now_ms())
    .fetch_one(&mut *tx)
    .await
    .map_err(StoreError::from_sqlx)?;
    tx.commit().await?;
    Ok(id)
}

fn user(row: &sqlx::any::AnyRow) -> Result<User, sqlx::Error> {
    Ok(User {
        id: row.try_get("id")?,
        username: row.try_get("username")?,
        password_hash: row.try_get("password_hash")?,
        role: row.try_get("role")?,
    })
}

/// Looks a user up by name.
pub async fn by_username(db: &Db, username: &str) -> Result<Option<User>, StoreError> {
    let row =
        sqlx::query("SELECT id, username, password_hash, role FROM users WHERE username = $1")
            .bind(username)
            .fetch_optional(db.reader())
            .await?;
    Ok(row.as_ref().map(user).transpose()?)
}
