//! The pages a browser sees: the buyer's cashier (and the error page of refused page-pay
//! requests), and the dashboard. Rendered from templates compiled into the binary, under a
//! Content-Security-Policy that allows no script at all.
//!
//! Every link is relative, so the pages work wherever the router is mounted (the shop serves it
//! under `/sandbox`); `root` carries the prefix back to the sandbox's root into the templates.

pub(crate) mod cashier;
mod dashboard;

use std::sync::{Arc, LazyLock};

use alipay::request::escape_html;
use axum::Router;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use minijinja::{AutoEscape, Environment};

use crate::service::Shared;

/// The Content-Security-Policy of the sandbox's pages: nothing but themselves, no scripts at all,
/// the layout's one `<style>` block allowed by its hash. Forms post to the sandbox itself, but
/// the cashier's answer redirects the browser to the merchant's return URL (any origin), which
/// `form-action` also governs.
#[must_use]
pub fn content_security_policy() -> String {
    let layout = include_str!("templates/layout.html");
    let style = layout
        .split_once("<style>")
        .and_then(|(_, rest)| rest.split_once("</style>"))
        .map_or("", |(style, _)| style);
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, style.as_bytes());
    let hash = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, digest.as_ref());
    format!(
        "default-src 'self'; script-src 'none'; style-src 'sha256-{hash}'; img-src 'self' data:; \
         object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self' http: https:"
    )
}

/// The templates, compiled into the binary (no external assets, no CDN).
static TEMPLATES: LazyLock<Environment<'static>> = LazyLock::new(templates);

fn templates() -> Environment<'static> {
    let mut env = Environment::new();
    // minijinja's HTML escaping also escapes `/`, which turns every URL in the pages into
    // `https:&#x2f;&#x2f;…`: valid, but unreadable in the source and for tests. Escape the five
    // characters that matter instead.
    env.set_formatter(|out, state, value| {
        if state.auto_escape() == AutoEscape::Html
            && !value.is_safe()
            && let Some(text) = value.as_str()
        {
            return out
                .write_str(&escape_html(text))
                .map_err(minijinja::Error::from);
        }
        minijinja::escape_formatter(out, state, value)
    });
    for (name, source) in [
        ("layout.html", include_str!("templates/layout.html")),
        ("cashier.html", include_str!("templates/cashier.html")),
        ("message.html", include_str!("templates/message.html")),
        ("dashboard.html", include_str!("templates/dashboard.html")),
    ] {
        // The templates are part of the source; one that does not parse is a build defect
        // caught by every test that renders a page.
        if let Err(error) = env.add_template(name, source) {
            tracing::error!(%error, "template {name} does not parse");
        }
    }
    env
}

/// Renders a template, or a plain 500 naming the problem.
pub(crate) fn render(name: &str, ctx: minijinja::Value) -> Response {
    match TEMPLATES
        .get_template(name)
        .and_then(|template| template.render(ctx))
    {
        Ok(html) => Html(html).into_response(),
        Err(error) => {
            tracing::error!(%error, "rendering {name} failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("template {name}: {error}"),
            )
                .into_response()
        }
    }
}

/// The pages' routes: the dashboard at `/`, the cashier at `/cashier/…` and `/qr/…`.
pub(crate) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/", get(dashboard::dashboard))
        .merge(cashier::router())
}
