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
use crate::accounts;
use crate::domain::{Role, User};

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

/// What a token says: who the user is. Never what they may do: roles are read from the
/// database on each request that needs one.
#[derive(Serialize, Deserialize)]
struct Claims {
    sub: String,
    name: String,
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

    fn issue(&self, user: &User) -> Result<(String, u64), ApiError> {
        let now = time::OffsetDateTime::now_utc()
            .unix_timestamp()
            .unsigned_abs();
        let claims = Claims {
            sub: user.id.to_string(),
            name: user.username.clone(),
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
        })
    }
}

/// The logged-in user, from the request's token: who they are, nothing more.
#[derive(Clone, Debug)]
pub struct AuthUser {
    /// Id.
    pub id: i64,
    /// Name.
    pub username: String,
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

/// A logged-in operator: the token says who, the database says they are an operator *now* (a
/// revoked operator's token stops working for admin routes on the next request).
#[derive(Clone, Debug)]
pub struct Operator {
    /// The operator's user id, recorded with every action they take.
    pub id: i64,
}

impl FromRequestParts<AppState> for Operator {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Operator, ApiError> {
        let user = AuthUser::from_request_parts(parts, state).await?;
        accounts::require_operator(&state.ctx, user.id).await?;
        Ok(Operator { id: user.id })
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

/// A user.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    /// Id.
    pub id: i64,
    /// Name.
    pub username: String,
    /// `user` or `admin` (operators are made on the command line, never by registering).
    pub role: String,
}

impl UserView {
    fn new(id: i64, username: String, role: Role) -> UserView {
        UserView {
            id,
            username,
            role: role.as_str().to_owned(),
        }
    }
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

/// Creates a buyer account (registration never grants a role). Rate-limited per client
/// address.
#[utoipa::path(post, path = "/api/users", tag = "auth", request_body = Credentials,
    responses((status = 201, body = UserView), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn register(
    State(state): State<AppState>,
    body: Result<Json<Credentials>, JsonRejection>,
) -> Result<(StatusCode, Json<UserView>), ApiError> {
    let Json(credentials) = body?;
    let user = accounts::register(&state.ctx, &credentials.username, &credentials.password).await?;
    Ok((
        StatusCode::CREATED,
        Json(UserView::new(user.id, user.username, user.role)),
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

/// Checks credentials and issues a token.
pub async fn authenticate(
    state: &AppState,
    credentials: &Credentials,
) -> Result<TokenView, ApiError> {
    let user =
        accounts::authenticate(&state.ctx, &credentials.username, &credentials.password).await?;
    let (token, expires_at) = state.jwt.issue(&user)?;
    Ok(TokenView {
        token,
        expires_at,
        user: UserView::new(user.id, user.username, user.role),
    })
}

/// Who am I (the role as the database has it now).
#[utoipa::path(get, path = "/api/me", tag = "auth", responses((status = 200, body = UserView), (status = 401, body = ErrorBody)))]
async fn me(State(state): State<AppState>, user: AuthUser) -> Result<Json<UserView>, ApiError> {
    let role = accounts::current_role(&state.ctx, user.id)
        .await?
        .ok_or(ApiError::Unauthorized(
            "the token is invalid or expired; log in again",
        ))?;
    Ok(Json(UserView::new(user.id, user.username, role)))
}

/// Identity routes (registration and login are mounted separately, behind rate limiters).
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(me))
}

/// The login route.
pub fn login_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(login))
}

/// The registration route.
pub fn register_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(register))
}
