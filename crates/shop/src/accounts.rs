//! Accounts: registration, login, and who may operate the shop.
//!
//! Registration always makes a buyer. Operators are made only on the command line
//! (`shop admin grant|create`), and every operator request reads the role from the database:
//! revoking takes effect on the operator's next request, whatever their token says.
//!
//! Password hashing (argon2id, ~19 MiB and tens of milliseconds each) runs on a few dedicated
//! threads ([`crate::hashers`]), so a burst of registrations or logins queues instead of taking
//! the machine's memory.

use crate::context::Context;
use crate::domain::user::{self, UserError, Username};
use crate::domain::{Role, User};
use crate::hashers::Hashers;
use crate::store::{Db, StoreError, users};

/// What went wrong with an account.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// The user name is not acceptable.
    #[error(transparent)]
    InvalidUsername(UserError),
    /// The password is not acceptable.
    #[error(transparent)]
    InvalidPassword(UserError),
    /// Someone has that name.
    #[error("that username is taken")]
    UsernameTaken,
    /// Login refused (without saying which part was wrong).
    #[error("wrong username or password")]
    WrongCredentials,
    /// No user by that name.
    #[error("no user named {0:?}")]
    UnknownUser(String),
    /// The caller is not (or no longer) an operator.
    #[error("operators only")]
    NotOperator,
    /// Hashing could not run.
    #[error("password hashing failed: {0}")]
    Hashing(String),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Creates a buyer account. Never grants a role, whatever the name.
pub async fn register(ctx: &Context, username: &str, password: &str) -> Result<User, AccountError> {
    create(
        &ctx.db,
        &ctx.limits.password_hashing,
        username,
        password,
        Role::Buyer,
    )
    .await
}

async fn create(
    db: &Db,
    hashers: &Hashers,
    username: &str,
    password: &str,
    role: Role,
) -> Result<User, AccountError> {
    let username = Username::parse(username).map_err(AccountError::InvalidUsername)?;
    user::check_password(password).map_err(AccountError::InvalidPassword)?;
    let password = password.to_owned();
    let password_hash = hashing(hashers, move |ws| ws.hash_password(&password)).await?;
    let id = match users::insert(db, username.as_str(), &password_hash, role).await {
        Ok(id) => id,
        Err(StoreError::Conflict(_)) => return Err(AccountError::UsernameTaken),
        Err(e) => return Err(e.into()),
    };
    tracing::info!(user.id = id, role = role.as_str(), "user registered");
    Ok(User {
        id,
        username: username.as_str().to_owned(),
        password_hash,
        role,
    })
}

/// Checks a user name and password. Hashes even for an unknown user, so timing does not reveal
/// which names exist.
pub async fn authenticate(
    ctx: &Context,
    username: &str,
    password: &str,
) -> Result<User, AccountError> {
    let found = users::by_username(&ctx.db, username).await?;
    let hash = found
        .as_ref()
        .map_or_else(|| DUMMY_HASH.clone(), |u| u.password_hash.clone());
    let password = password.to_owned();
    let ok = hashing(&ctx.limits.password_hashing, move |ws| {
        ws.verify_password(&password, &hash)
    })
    .await?;
    match found {
        Some(user) if ok => Ok(user),
        _ => Err(AccountError::WrongCredentials),
    }
}

/// The user's role as the database has it now (`None`: no such user).
pub async fn current_role(ctx: &Context, user_id: i64) -> Result<Option<Role>, AccountError> {
    Ok(users::role(&ctx.db, user_id).await?)
}

/// Succeeds only if the user is an operator right now.
pub async fn require_operator(ctx: &Context, user_id: i64) -> Result<(), AccountError> {
    match current_role(ctx, user_id).await? {
        Some(Role::Operator) => Ok(()),
        _ => Err(AccountError::NotOperator),
    }
}

/// Makes an existing user an operator (the command line's `shop admin grant`).
pub async fn grant_operator(db: &Db, username: &str) -> Result<(), AccountError> {
    set_role(db, username, Role::Operator).await
}

/// Takes the operator role away (`shop admin revoke`); the user stays, as a buyer.
pub async fn revoke_operator(db: &Db, username: &str) -> Result<(), AccountError> {
    set_role(db, username, Role::Buyer).await
}

async fn set_role(db: &Db, username: &str, role: Role) -> Result<(), AccountError> {
    if users::set_role(db, username, role).await? {
        tracing::info!(username, role = role.as_str(), "role changed");
        Ok(())
    } else {
        Err(AccountError::UnknownUser(username.to_owned()))
    }
}

/// Creates a user who is an operator from the start (`shop admin create`).
pub async fn create_operator(
    db: &Db,
    username: &str,
    password: &str,
) -> Result<User, AccountError> {
    create(db, &Hashers::new(1), username, password, Role::Operator).await
}

/// The operators, by name (`shop admin list`).
pub async fn operators(db: &Db) -> Result<Vec<User>, AccountError> {
    Ok(users::with_role(db, Role::Operator).await?)
}

/// Runs CPU- and memory-heavy password work on the hashing threads.
async fn hashing<T: Send + 'static>(
    hashers: &Hashers,
    work: impl FnOnce(&mut user::Workspace) -> T + Send + 'static,
) -> Result<T, AccountError> {
    hashers
        .run(work)
        .await
        .map_err(|e| AccountError::Hashing(e.to_string()))
}

/// A real argon2id hash, verified against when the user does not exist.
static DUMMY_HASH: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| user::hash_password("no such user"));

/// Creates the demo buyer (`demo` / `demo123456`) unless it exists (demo mode only).
pub async fn ensure_demo_user(db: &Db) -> Result<(), AccountError> {
    if users::by_username(db, "demo").await?.is_some() {
        return Ok(());
    }
    match create(db, &Hashers::new(1), "demo", "demo123456", Role::Buyer).await {
        Ok(_) | Err(AccountError::UsernameTaken) => Ok(()),
        Err(e) => Err(e),
    }
}
