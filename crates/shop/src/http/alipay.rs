//! What Alipay (and the browser coming back from it) calls: outside login and CSRF protection,
//! because their authenticity is the signature, checked in [`crate::payments`].

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::client_ip::ClientIp;
use crate::payments::confirm::handle_return;
use crate::payments::notify::{Reply, receive_notification};

/// The asynchronous notification. Answers the plain text `success` once handled and committed,
/// `failure` otherwise (Alipay then sends it again); 429 to an address that sent too many
/// notifications that failed verification (a genuine one is never limited).
#[utoipa::path(post, path = "/alipay/notify", tag = "alipay",
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "Alipay's signed notification"),
    responses((status = 200, body = String, description = "`success` or `failure`"), (status = 429, body = String)))]
async fn receive_notify(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    body: Bytes,
) -> Response {
    notify_reply(&state, ip, &body).await
}

/// Runs a notification through the payment path and renders Alipay's plain-text answer.
pub async fn notify_reply(state: &AppState, ip: Option<std::net::IpAddr>, body: &[u8]) -> Response {
    match receive_notification(&state.ctx, body, ip).await {
        Ok(Reply::Success) => (StatusCode::OK, alipay::notify::ACK).into_response(),
        Ok(Reply::Failure) => (StatusCode::OK, alipay::notify::NACK).into_response(),
        Ok(Reply::TooMany) => (StatusCode::TOO_MANY_REQUESTS, alipay::notify::NACK).into_response(),
        Err(error) => {
            tracing::error!(%error, "notification could not be stored; Alipay will retry");
            (StatusCode::INTERNAL_SERVER_ERROR, alipay::notify::NACK).into_response()
        }
    }
}

/// The browser's return from the cashier: verify, confirm with Alipay if still unpaid, then send
/// the browser to the shop's result page (never anywhere else: no open redirect).
#[utoipa::path(get, path = "/alipay/return", tag = "alipay",
    responses((status = 303, description = "to the front end's /pay/success page")))]
async fn browser_return(State(state): State<AppState>, RawQuery(query): RawQuery) -> Response {
    let query = query.unwrap_or_default();
    let target = match handle_return(&state.ctx, &query).await {
        Ok(returned) if returned.verified => {
            let mut params = vec![("out_trade_no", returned.out_trade_no.unwrap_or_default())];
            if let Some(trade_no) = returned.trade_no {
                params.push(("trade_no", trade_no));
            }
            params.push((
                "status",
                returned
                    .order
                    .map(|order| order.status.as_str().to_owned())
                    .unwrap_or_else(|| "unknown".into()),
            ));
            params
        }
        Ok(returned) => vec![
            ("out_trade_no", returned.out_trade_no.unwrap_or_default()),
            ("error", "invalid_signature".into()),
        ],
        Err(error) => {
            tracing::error!(%error, "return could not be handled");
            vec![("error", "internal".into())]
        }
    };
    let query = serde_urlencoded::to_string(&target).unwrap_or_default();
    Redirect::to(&format!(
        "{}/pay/success?{query}",
        state.ctx.settings.frontend_url
    ))
    .into_response()
}

/// Notification bodies are a few KiB; anything up to this is still read, stored and answered
/// (so a malformed giant is on record), beyond it the request is refused with 413.
pub const NOTIFY_BODY_LIMIT: usize = 1024 * 1024;

/// Routes Alipay and the returning browser call.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(receive_notify))
        .routes(routes!(browser_return))
        .layer(axum::extract::DefaultBodyLimit::max(NOTIFY_BODY_LIMIT))
}
