//! The HTTP edge: routes, extractors, DTOs, and the mapping of errors to responses. Handlers are
//! thin: they extract, call a use case ([`crate::payments`], [`crate::accounts`],
//! [`crate::catalog`], [`crate::backoffice`], [`crate::operations`]), and shape the answer.
//! Nothing here touches the store. Only this module knows the JSON shapes.

pub mod admin;
pub mod alipay;
pub mod auth;
pub mod catalog;
pub mod client_ip;
pub mod compat;
pub mod error;
pub mod headers;
pub mod ops;
pub mod orders;
pub mod settlements;
pub mod web;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, Request};
use axum::response::IntoResponse;
use governor::middleware::NoOpMiddleware;
use metrics_exporter_prometheus::PrometheusHandle;
use tower_governor::GovernorLayer;
use tower_governor::governor::{GovernorConfig, GovernorConfigBuilder};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa_axum::router::OpenApiRouter;

use crate::config::Config;
use crate::context::Context;
use client_ip::ClientIpKey;

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

type Limiter = GovernorConfig<ClientIpKey, NoOpMiddleware>;

/// A per-client-address limit of `per_minute` requests (a burst of that many, one more every
/// 60 s / n); n is clamped so the period never rounds to zero, which the limiter refuses.
fn per_minute_limit(per_minute: u32, trusted: &[std::net::IpAddr]) -> Arc<Limiter> {
    let per_minute = per_minute.clamp(1, 1_000_000);
    let mut builder =
        GovernorConfigBuilder::default().key_extractor(ClientIpKey::new(trusted.to_vec()));
    builder
        .period(Duration::from_secs(60) / per_minute)
        .burst_size(per_minute)
        .error_handler(|_| error::ApiError::RateLimited.into_response());
    Arc::new(
        builder
            .finish()
            .expect("a non-zero period and burst make a valid rate limit"),
    )
}

/// Forgets idle client addresses every minute, so the limiters' memory stays bounded; stops when
/// the router holding them is dropped.
fn prune_limiters(limiters: Vec<Arc<Limiter>>) {
    let weak: Vec<_> = limiters.iter().map(Arc::downgrade).collect();
    drop(limiters);
    if tokio::runtime::Handle::try_current().is_err() {
        return;
    }
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(Duration::from_secs(60));
        loop {
            ticker.tick().await;
            let mut alive = false;
            for limiter in weak.iter().filter_map(std::sync::Weak::upgrade) {
                limiter.limiter().retain_recent();
                alive = true;
            }
            if !alive {
                break;
            }
        }
    });
}

/// The API routes with their OpenAPI description, built from the same registrations so the two
/// cannot drift apart, and the rate limiters they use.
fn api(
    config: &Config,
) -> (
    Router<AppState>,
    utoipa::openapi::OpenApi,
    Vec<Arc<Limiter>>,
) {
    let login_limit = per_minute_limit(config.login_per_minute, &config.trusted_proxies);
    let register_limit = per_minute_limit(config.register_per_minute, &config.trusted_proxies);
    let login = auth::login_routes().layer(GovernorLayer {
        config: login_limit.clone(),
    });
    let register = auth::register_routes().layer(GovernorLayer {
        config: register_limit.clone(),
    });
    let (router, doc) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(auth::routes())
        .merge(login)
        .merge(register)
        .merge(catalog::routes())
        .merge(orders::routes())
        .merge(admin::routes())
        .merge(settlements::routes())
        .merge(alipay::routes())
        .split_for_parts();
    (router, doc, vec![login_limit, register_limit])
}

/// The OpenAPI document.
#[must_use]
pub fn openapi(config: &Config) -> utoipa::openapi::OpenApi {
    api(config).1
}

/// Where the shop's pages may post forms besides themselves: the Alipay gateway's origin.
fn gateway_origin(ctx: &Context) -> Option<String> {
    headers::origin(ctx.alipay.gateway().url())
}

/// Every route of the shop, with middleware: request ids, tracing, timeouts, body limits,
/// security headers. `sandbox` (demo mode) is mounted at `/sandbox`. `/metrics` is served here
/// only with a `metrics_token` (and then only to that bearer token); see [`ops::metrics_router`].
pub fn router(state: AppState, web_dir: &std::path::Path, sandbox: Option<Router>) -> Router {
    let (api, doc, limiters) = api(&state.config);
    prune_limiters(limiters);
    let gateway_origin = gateway_origin(&state.ctx);
    let https = state.ctx.settings.public_url.starts_with("https://");
    let doc = Arc::new(doc);
    let request_id = HeaderName::from_static("x-request-id");
    let mut router = Router::new();
    if let Some(sandbox) = sandbox {
        router = router.nest_service("/sandbox", sandbox);
    }
    let router = router
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
            tracing::info_span!("request", method = %request.method(), path = %crate::log::cut(request.uri().path()), request_id = %crate::log::cut(id))
        }))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid));
    headers::apply(router, gateway_origin.as_deref(), https)
}
