//! Registration, login, and the `AuthUser` extractor (JWT, HS256).
//!
//! Tokens come as `Authorization: Bearer <t>` or, for the seeds' front ends (Django REST
//! framework JWT), `Authorization: jwt <t>`.

use axum::extract::{FromRequestParts, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::{Json, extract::rejection::JsonRejection};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::error::{ApiError, ErrorBody};
use crate::domain::user::{self, Username};
use crate::store::{StoreError, now_ms, users};

/// Signs and checks login tokens. The secret never leaves this struct.
pub struct Jwt {
    encoding: EncodingKey,
    decoding: DecodingKey,
    ttl_secs: u64,
}

impl std::fmt::Debug for Jwt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Jwt(ttl={}s, ..)", self.ttl_secs)
    }
}

#[derive(Serialize, Deserialize)]
struct Claims {
    sub: String,
    name: String,
    role: String,
    iat: u64,
    exp: u64,
}

impl Jwt {
    /// From a shared secret.
    #[must_use]
    pub fn new(secret: &[u8], ttl_secs: u64) -> Jwt {
        Jwt {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            ttl_secs,
        }
    }

    fn issue(&self, user: &users::User) -> Result<(String, u64), ApiError> {
        let now = u64::try_from(now_ms() / 1000).unwrap_or_default();
        let claims = Claims {
            sub: user.id.to_string(),
            name: user.username.clone(),
            role: user.role.clone(),
            iat: now,
            exp: now + self.ttl_secs,
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| ApiError::Internal(format!("cannot sign a token: {e}")))?;
        Ok((token, claims.exp))
    }

    fn check(&self, token: &str) -> Option<AuthUser> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 5;
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation).ok()?;
        Some(AuthUser {
            id: data.claims.sub.parse().ok()?,
            username: data.claims.name,
            is_admin: data.claims.role == "admin",
        })
    }
}

/// The logged-in user, from the request's token.
#[derive(Clone, Debug)]
pub struct AuthUser {
    /// Id.
    pub id: i64,
    /// Name.
    pub username: String,
    /// Whether the user may refund.
    pub is_admin: bool,
}

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<AuthUser, ApiError> {
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or(ApiError::Unauthorized(
                "log in first (missing Authorization header)",
            ))?;
        let (scheme, token) = header
            .split_once(' ')
            .ok_or(ApiError::Unauthorized("malformed Authorization header"))?;
        if !scheme.eq_ignore_ascii_case("bearer") && !scheme.eq_ignore_ascii_case("jwt") {
            return Err(ApiError::Unauthorized("use Authorization: Bearer <token>"));
        }
        state.jwt.check(token.trim()).ok_or(ApiError::Unauthorized(
            "the token is invalid or expired; log in again",
        ))
    }
}

/// Registration or login.
#[derive(Deserialize, ToSchema)]
pub struct Credentials {
    /// 3 to 32 letters, digits, `_`, `-`, `.`.
    pub username: String,
    /// 8 to 128 characters.
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"..")
            .finish()
    }
}

/// A new user.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    /// Id.
    pub id: i64,
    /// Name.
    pub username: String,
    /// `user` or `admin`.
    pub role: String,
}

/// A login token.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenView {
    /// Send as `Authorization: Bearer <token>`.
    pub token: String,
    /// Unix seconds.
    pub expires_at: u64,
    /// Who logged in.
    pub user: UserView,
}

/// Creates an account.
#[utoipa::path(post, path = "/api/users", tag = "auth", request_body = Credentials,
    responses((status = 201, body = UserView), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn register(
    State(state): State<AppState>,
    body: Result<Json<Credentials>, JsonRejection>,
) -> Result<(StatusCode, Json<UserView>), ApiError> {
    let Json(credentials) = body?;
    let username = Username::parse(&credentials.username)
        .map_err(|e| ApiError::invalid("invalid_username", e.to_string()))?;
    user::check_password(&credentials.password)
        .map_err(|e| ApiError::invalid("invalid_password", e.to_string()))?;
    let password = credentials.password;
    let hash = tokio::task::spawn_blocking(move || user::hash_password(&password))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let role = if state.config.admins.iter().any(|a| a == username.as_str()) {
        "admin"
    } else {
        "user"
    };
    let id = match users::insert(&state.ctx.db, username.as_str(), &hash, role).await {
        Ok(id) => id,
        Err(StoreError::Conflict(_)) => {
            return Err(ApiError::Conflict {
                code: "username_taken",
                message: "that username is taken".into(),
            });
        }
        Err(e) => return Err(e.into()),
    };
    tracing::info!(user.id = id, "user registered");
    Ok((
        StatusCode::CREATED,
        Json(UserView {
            id,
            username: username.as_str().to_owned(),
            role: role.into(),
        }),
    ))
}

/// Exchanges a username and password for a token. Rate-limited per client address.
#[utoipa::path(post, path = "/api/login", tag = "auth", request_body = Credentials,
    responses((status = 200, body = TokenView), (status = 401, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn login(
    State(state): State<AppState>,
    body: Result<Json<Credentials>, JsonRejection>,
) -> Result<Json<TokenView>, ApiError> {
    let Json(credentials) = body?;
    let token = authenticate(&state, &credentials).await?;
    Ok(Json(token))
}

/// Checks credentials and issues a token (shared with the seeds' login route).
pub async fn authenticate(
    state: &AppState,
    credentials: &Credentials,
) -> Result<TokenView, ApiError> {
    let denied = ApiError::Unauthorized("wrong username or password");
    let found = users::by_username(&state.ctx.db, &credentials.username).await?;
    // Hash even for an unknown user, so timing does not reveal which names exist.
    let hash = found
        .as_ref()
        .map_or_else(|| DUMMY_HASH.clone(), |u| u.password_hash.clone());
    let password = credentials.password.clone();
    let ok = tokio::task::spawn_blocking(move || user::verify_password(&password, &hash))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let user = match found {
        Some(user) if ok => user,
        _ => return Err(denied),
    };
    let (token, expires_at) = state.jwt.issue(&user)?;
    Ok(TokenView {
        token,
        expires_at,
        user: UserView {
            id: user.id,
            username: user.username,
            role: user.role,
        },
    })
}

/// A real argon2id hash, verified against when the user does not exist.
static DUMMY_HASH: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| user::hash_password("no such user"));

/// Who am I.
#[utoipa::path(get, path = "/api/me", tag = "auth", responses((status = 200, body = UserView), (status = 401, body = ErrorBody)))]
async fn me(user: AuthUser) -> Json<UserView> {
    Json(UserView {
        id: user.id,
        username: user.username,
        role: if user.is_admin { "admin" } else { "user" }.into(),
    })
}

/// Registration and identity routes (login is mounted separately, behind the rate limiter).
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(register))
        .routes(routes!(me))
}

/// The login route.
pub fn login_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(login))
}
