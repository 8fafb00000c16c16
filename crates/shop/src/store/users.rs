//! Users and their roles.

use sqlx::Row;

use super::{Db, StoreError, now_ms};
use crate::domain::{Role, User};

/// Creates a user; a taken name is a [`StoreError::Conflict`].
pub async fn insert(
    db: &Db,
    username: &str,
    password_hash: &str,
    role: Role,
) -> Result<i64, StoreError> {
    let mut tx = db.begin().await?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO users (username, password_hash, role, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(username)
    .bind(password_hash)
    .bind(role.as_str())
    .bind(now_ms())
    .fetch_one(&mut *tx)
    .await
    .map_err(StoreError::from_sqlx)?;
    tx.commit().await?;
    Ok(id)
}

fn user(row: &sqlx::any::AnyRow) -> Result<User, sqlx::Error> {
    let role: String = row.try_get("role")?;
    Ok(User {
        id: row.try_get("id")?,
        username: row.try_get("username")?,
        password_hash: row.try_get("password_hash")?,
        role: Role::from_stored(&role),
    })
}

/// A user by name.
pub async fn by_username(db: &Db, username: &str) -> Result<Option<User>, StoreError> {
    let row =
        sqlx::query("SELECT id, username, password_hash, role FROM users WHERE username = $1")
            .bind(username)
            .fetch_optional(db.reader())
            .await?;
    Ok(row.as_ref().map(user).transpose()?)
}

/// A user's current role (`None`: no such user).
pub async fn role(db: &Db, user_id: i64) -> Result<Option<Role>, StoreError> {
    let role: Option<String> = sqlx::query_scalar("SELECT role FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_optional(db.reader())
        .await?;
    Ok(role.as_deref().map(Role::from_stored))
}

/// Sets a user's role; returns whether the user exists.
pub async fn set_role(db: &Db, username: &str, role: Role) -> Result<bool, StoreError> {
    let mut tx = db.begin().await?;
    let found = sqlx::query("UPDATE users SET role = $1 WHERE username = $2")
        .bind(role.as_str())
        .bind(username)
        .execute(&mut *tx)
        .await?
        .rows_affected()
        == 1;
    tx.commit().await?;
    Ok(found)
}

/// Users with `role`, by name.
pub async fn with_role(db: &Db, role: Role) -> Result<Vec<User>, StoreError> {
    let rows = sqlx::query(
        "SELECT id, username, password_hash, role FROM users WHERE role = $1 ORDER BY username",
    )
    .bind(role.as_str())
    .fetch_all(db.reader())
    .await?;
    Ok(rows.iter().map(user).collect::<Result<_, _>>()?)
}

/// Names of users by id (for showing who acted).
pub async fn names(db: &Db, ids: &[i64]) -> Result<Vec<(i64, String)>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let placeholders: Vec<String> = (1..=ids.len()).map(|i| format!("${i}")).collect();
    let sql = format!(
        "SELECT id, username FROM users WHERE id IN ({})",
        placeholders.join(", ")
    );
    let mut query = sqlx::query(&sql);
    for id in ids {
        query = query.bind(*id);
    }
    let rows = query.fetch_all(db.reader()).await?;
    rows.iter()
        .map(|row| Ok((row.try_get("id")?, row.try_get("username")?)))
        .collect()
}
