//! What can go wrong in the sandbox itself, and how the test-control API reports it.
//!
//! Gateway answers are not errors in this sense: a refused request is a perfectly good Alipay
//! response (see [`crate::gateway`]). These are the sandbox's own failures (bad configuration, a
//! broken database) and the refusals of its test-control endpoints, which become one JSON shape
//! `{"error": "<code>", "message": "<text>"}` here, in one place.

use std::path::PathBuf;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::trades::TradeError;

/// Everything the sandbox can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SandboxError {
    /// The configuration is invalid.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What happened.
        #[source]
        source: std::io::Error,
    },
    /// The emulator's own private key could not be loaded or created.
    #[error("the sandbox's Alipay key: {0}")]
    Key(#[source] alipay::KeyError),
    /// An app public key could not be parsed.
    #[error("app public key: {0}")]
    AppKey(#[source] alipay::KeyError),
    /// An app registration is invalid.
    #[error("invalid app: {0}")]
    InvalidApp(String),
    /// A legacy partner registration is invalid.
    #[error("invalid partner: {0}")]
    InvalidPartner(String),
    /// The database failed.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// The database schema could not be brought up to date.
    #[error("database migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// Stored data does not make sense (a hand-edited database?).
    #[error("corrupt stored data: {0}")]
    Corrupt(String),
    /// The listener could not be bound or served.
    #[error("server: {0}")]
    Serve(#[source] std::io::Error),
    /// Something a test asked for does not exist.
    #[error("{0}")]
    NotFound(String),
    /// A test-control request is malformed.
    #[error("{0}")]
    BadRequest(String),
    /// The trade cannot do what was asked.
    #[error(transparent)]
    Trade(#[from] TradeError),
}

impl SandboxError {
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            SandboxError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            SandboxError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            SandboxError::AppKey(_) => (StatusCode::BAD_REQUEST, "invalid_public_key"),
            SandboxError::InvalidApp(_) => (StatusCode::BAD_REQUEST, "invalid_app"),
            SandboxError::InvalidPartner(_) => (StatusCode::BAD_REQUEST, "invalid_partner"),
            SandboxError::Trade(error) => (StatusCode::CONFLICT, error.code()),
            _ => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

impl IntoResponse for SandboxError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!(error = %self, "test-control request failed");
        }
        let mut body = serde_json::json!({ "error": code, "message": self.to_string() });
        if let SandboxError::Trade(error) = &self {
            body["sub_code"] = error.sub_code().into();
        }
        (status, Json(body)).into_response()
    }
}
