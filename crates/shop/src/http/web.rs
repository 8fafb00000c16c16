//! The shop's pages (`web/`): a small single-page app served as files. Page paths all answer
//! with `index.html`; the script picks the view from the path. The back office (`/admin/…`) is
//! part of it: its data comes from operator-only API routes, so the pages hold nothing secret.

use std::path::Path;

use axum::Router;
use axum::routing::get_service;
use tower_http::services::{ServeDir, ServeFile};

use super::AppState;

/// The paths that render a page.
const PAGES: &[&str] = &[
    "/",
    "/courses/{id}",
    "/login",
    "/register",
    "/orders",
    "/my/courses",
    "/pay/success",
    "/checkout/{id}",
    "/learn/{id}",
    "/admin",
    "/admin/",
    "/admin/orders",
    "/admin/orders/{no}",
    "/admin/anomalies",
    "/admin/notifications",
    "/admin/catalog",
    "/admin/settlements",
    "/admin/settlements/{date}",
];

/// Routes for the pages and their assets under `dir`.
pub fn routes(dir: &Path) -> Router<AppState> {
    let index = ServeFile::new(dir.join("index.html"));
    let mut router = Router::new().nest_service("/assets", ServeDir::new(dir.join("assets")));
    for page in PAGES {
        router = router.route(page, get_service(index.clone()));
    }
    router
}
