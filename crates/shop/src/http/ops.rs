//! Operations: liveness, readiness, Prometheus metrics.

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;

use super::AppState;
use crate::domain::OrderStatus;
use crate::store::{jobs, notifications, orders};

/// The process is up.
async fn healthz() -> &'static str {
    "ok"
}

/// The process can serve: the database answers.
async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    match state.ctx.db.ping().await {
        Ok(()) => (StatusCode::OK, "ready"),
        Err(error) => {
            tracing::warn!(%error, "not ready");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable")
        }
    }
}

/// Prometheus text. Order and job gauges are read from the database at scrape time, so every
/// instance reports the same totals.
async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    if let Ok(counts) = orders::count_by_status(&state.ctx.db).await {
        for status in OrderStatus::ALL {
            let n = counts
                .iter()
                .find(|(s, _)| s == status.as_str())
                .map_or(0, |(_, n)| *n);
            metrics::gauge!("shop_orders", "status" => status.as_str()).set(n as f64);
        }
    }
    if let Ok(counts) = notifications::count_by_verdict(&state.ctx.db).await {
        for (verdict, n) in counts {
            metrics::gauge!("shop_notifications_stored", "verdict" => verdict).set(n as f64);
        }
    }
    if let Ok(pending) = jobs::pending(&state.ctx.db).await {
        metrics::gauge!("shop_jobs_pending").set(pending as f64);
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
}

/// Operations routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
}
