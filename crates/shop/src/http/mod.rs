//! The HTTP edge: routes, extractors, DTOs, and the mapping of errors to responses. Handlers are
//! thin: they extract, call a use case in [`crate::payments`] or a read in [`crate::store`], and
//! shape the answer. Only this module knows the JSON shapes.

pub mod admin;
pub mod alipay;
pub mod auth;
pub mod catalog;
pub mod compat;
pub mod error;
pub mod ops;
pub mod orders;
pub mod web;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, Request};
use axum::response::IntoResponse;
use metrics_exporter_prometheus::PrometheusHandle;
use tower_governor::GovernorLayer;
use tower_governor::governor::GovernorConfigBuilder;
use tower_governor::key_extractor::PeerIpKeyExtractor;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa_axum::router::OpenApiRouter;

use crate::config::Config;
use crate::context::Context;

/// Shared by every handler. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// Database, Alipay, settings.
    pub ctx: Context,
    /// Login tokens.
    pub jwt: Arc<auth::Jwt>,
    /// The whole configuration.
    pub config: Arc<Config>,
    /// Renders `/metrics`.
    pub metrics: PrometheusHandle,
    /// Wakes the job runner (a refund was queued).
    pub jobs_wakeup: Arc<tokio::sync::Notify>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("ctx", &self.ctx)
            .finish_non_exhaustive()
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "alipay-shop", description = "The course shop's API: catalog, orders, Alipay checkout, refunds."),
    modifiers(&BearerAuth),
    tags((name = "auth"), (name = "catalog"), (name = "orders"), (name = "alipay", description = "called by Alipay and the returning browser"), (name = "admin"))
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// The API routes with their OpenAPI description, built from the same registrations so the two
/// cannot drift apart.
fn api(config: &Config) -> (Router<AppState>, utoipa::openapi::OpenApi) {
    // One token back every 60 s / n, at most n at once; n is clamped so the period never rounds to
    // zero (which the limiter refuses).
    let per_minute = config.login_per_minute.clamp(1, 1_000_000);
    let per_login = Duration::from_secs(60) / per_minute;
    let mut governor = GovernorConfigBuilder::default().key_extractor(PeerIpKeyExtractor);
    governor
        .period(per_login)
        .burst_size(per_minute)
        .error_handler(|_| error::ApiError::RateLimited.into_response());
    let governor = governor
        .finish()
        .expect("a non-zero period and burst make a valid rate limit");
    let login = auth::login_routes().layer(GovernorLayer {
        config: Arc::new(governor),
    });
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(auth::routes())
        .merge(login)
        .merge(catalog::routes())
        .merge(orders::routes())
        .merge(admin::routes())
        .merge(alipay::routes())
        .split_for_parts()
}

/// The OpenAPI document.
#[must_use]
pub fn openapi(config: &Config) -> utoipa::openapi::OpenApi {
    api(config).1
}

/// Every route of the shop, with middleware: request ids, tracing, timeouts, body limits.
/// `sandbox` (demo mode) is mounted at `/sandbox`.
pub fn router(state: AppState, web_dir: &std::path::Path, sandbox: Option<Router>) -> Router {
    let (api, doc) = api(&state.config);
    let doc = Arc::new(doc);
    let request_id = HeaderName::from_static("x-request-id");
    let mut router = Router::new();
    if let Some(sandbox) = sandbox {
        router = router.nest_service("/sandbox", sandbox);
    }
    router
        .merge(api)
        .route("/api/openapi.json", axum::routing::get(move || async move { axum::Json((*doc).clone()) }))
        .merge(compat::routes())
        .merge(ops::routes())
        .merge(web::routes(web_dir))
        .fallback(|| async { error::ApiError::NotFound("page").into_response() })
        .with_state(state)
        .layer(DefaultBodyLimit::max(64 * 1024))
        .layer(TimeoutLayer::with_status_code(axum::http::StatusCode::SERVICE_UNAVAILABLE, Duration::from_secs(30)))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
            let id = request.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-");
            // The path only: query strings can hold signed parameters and are not for logs.
            tracing::info_span!("request", method = %request.method(), path = %request.uri().path(), request_id = %id)
        }))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
}
