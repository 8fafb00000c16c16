//! `/gateway.do`: decode the request, send a legacy `service=…` request to [`crate::protocol::mapi`],
//! run the protocol checks ([`crate::protocol::check`]), apply the API faults, dispatch to the
//! method ([`crate::protocol::methods`]). Page methods (`alipay.trade.page.pay`,
//! `alipay.trade.wap.pay`) answer with HTML, the cashier or an error page, since a browser is on
//! the other end; every other method with JSON.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{OriginalUri, State};
use axum::http::{HeaderMap, Method, header};
use axum::response::Response;

use crate::protocol::answer::{signed_json, unbound_json};
use crate::protocol::check::{check, merge_params};
use crate::service::Shared;

/// The base URL of the sandbox as the client sees it (`http://host/prefix/`), for absolute links
/// such as QR codes; relative links are used wherever a page is involved.
#[must_use]
pub fn base_url(shared: &Shared, headers: &HeaderMap, path: &str) -> String {
    if let Some(url) = &shared.config.public_url {
        return format!("{}/", url.trim_end_matches('/'));
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    let scheme = headers
        .get("x-forwarded-proto")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("http");
    let prefix = path.strip_suffix("gateway.do").unwrap_or("/");
    format!("{scheme}://{host}{prefix}")
}

/// `GET|POST /gateway.do`.
pub async fn gateway(
    State(shared): State<Arc<Shared>>,
    OriginalUri(uri): OriginalUri,
    http_method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|v| {
            v.to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        });
    let body: &[u8] = if http_method == Method::POST && is_form {
        &body
    } else {
        &[]
    };
    let params = match merge_params(uri.query(), body) {
        Ok(params) => params,
        Err(node) => return unbound_json(&node),
    };
    // The legacy mapi gateway shares the path; its requests name a `service`, not a `method`.
    if params.contains_key("service") && !params.contains_key("method") {
        return crate::protocol::mapi::gateway(&shared, params).await;
    }
    let checked = match check(&shared, params).await {
        Ok(checked) => checked,
        Err(refusal) => {
            return match (refusal.method, &refusal.app) {
                (Some(method), _) if method.is_page() => crate::pages::cashier::refusal_page(
                    &shared,
                    &refusal.node,
                    refusal.content.as_deref(),
                ),
                (Some(method), Some(app)) => {
                    signed_json(&shared, app, method.name(), &refusal.node, false).await
                }
                _ => unbound_json(&refusal.node),
            };
        }
    };
    let faults = shared
        .faults
        .for_api(checked.method.name(), !checked.method.is_page());
    if let Some(delay) = faults.delay {
        tokio::time::sleep(delay).await;
    }
    if faults.fail {
        let node = crate::protocol::methods::system_error(&checked);
        return if checked.method.is_page() {
            crate::pages::cashier::refusal_page(&shared, &node, None)
        } else {
            signed_json(
                &shared,
                &checked.app,
                checked.method.name(),
                &node,
                checked.encrypted,
            )
            .await
        };
    }
    let base = base_url(&shared, &headers, uri.path());
    crate::protocol::methods::run(&shared, checked, &base, faults.answer).await
}
