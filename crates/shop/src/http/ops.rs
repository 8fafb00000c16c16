//! Operations: liveness, readiness, Prometheus metrics.
//!
//! `/healthz` and `/readyz` are open (load balancers call them). `/metrics` is not public: on
//! the shop's own address it answers only to `Authorization: Bearer <metrics_token>`; with
//! `metrics_listen`, it is served without a token on that separate address (a private interface
//! only the scraper reaches). With neither, there are no metrics over HTTP.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use secrecy::ExposeSecret;

use super::AppState;
use super::error::ApiError;
use crate::operations;

/// The process is up.
async fn healthz() -> &'static str {
    "ok"
}

/// The process can serve: the database answers.
async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    match operations::ready(&state.ctx).await {
        Ok(()) => (StatusCode::OK, "ready"),
        Err(error) => {
            tracing::warn!(%error, "not ready");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable")
        }
    }
}

/// Prometheus text. Order and job gauges are read from the database at scrape time, so every
/// instance reports the same totals.
async fn render(state: &AppState) -> Response {
    operations::refresh_gauges(&state.ctx).await;
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
        .into_response()
}

/// `/metrics` on the shop's address: only with the configured bearer token.
async fn metrics_with_token(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let Some(expected) = &state.config.metrics_token else {
        return ApiError::NotFound("page").into_response();
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    if !constant_time_eq(given.as_bytes(), expected.expose_secret().as_bytes()) {
        return ApiError::Unauthorized("metrics need Authorization: Bearer <metrics_token>")
            .into_response();
    }
    render(&state).await
}

/// `/metrics` on the separate `metrics_listen` address.
async fn metrics_open(State(state): State<AppState>) -> Response {
    render(&state).await
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    aws_lc_rs::constant_time::verify_slices_are_equal(a, b).is_ok()
}

/// Operations routes on the shop's address.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_with_token))
}

/// The router of the separate metrics address (`metrics_listen`).
pub fn metrics_router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(metrics_open))
        .route("/healthz", get(healthz))
        .with_state(state)
}
