//! The routes the seed projects' own front ends call, with their shapes, on the same code paths
//! as the API (the same order placement with its price check, the same return and notification
//! handling).
//!
//! * Luffy (路飞学城): `POST /order/pay` `{subject, total_amount, goods_pks: "1,2"}` → the pay
//!   URL as a JSON string; `PATCH /order/success?<return params>`; `POST /order/success`
//!   (the notification, answered `success`).
//! * Meiduo (美多商城): `GET /orders/{out_trade_no}/payment/` → `{"alipay_url": …}`;
//!   `PUT /payment/status/?<return params>` → `{"trade_id": …}`, 403 on a bad signature.

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, put};
use serde::Deserialize;
use serde_json::value::RawValue;

use super::AppState;
use super::auth::AuthUser;
use super::client_ip::ClientIp;
use super::error::ApiError;
use crate::domain::{Money, OrderStatus};
use crate::payments::checkout::{self, OrderRequest};
use crate::payments::confirm::{self, Returned};

/// Luffy's order body. `total_amount` may be a JSON string or number; it is read from its exact
/// text, never through a float.
#[derive(Debug, Deserialize)]
struct LuffyOrder {
    subject: Option<String>,
    total_amount: Box<RawValue>,
    goods_pks: String,
}

fn money_from_raw(raw: &RawValue) -> Result<Money, ApiError> {
    let text = raw.get().trim();
    let text = text
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .unwrap_or(text);
    text.parse()
        .map_err(|e| ApiError::invalid("invalid_amount", format!("total_amount: {e}")))
}

async fn luffy_pay(
    State(state): State<AppState>,
    user: AuthUser,
    body: Result<Json<LuffyOrder>, JsonRejection>,
) -> Result<Json<String>, ApiError> {
    let Json(order) = body?;
    let course_ids = order
        .goods_pks
        .split(',')
        .map(|pk| pk.trim().parse::<i64>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| {
            ApiError::invalid(
                "invalid_request",
                "goods_pks must be course ids separated by commas",
            )
        })?;
    let placed = checkout::place_order(
        &state.ctx,
        &OrderRequest {
            user_id: user.id,
            course_ids: &course_ids,
            total_amount: money_from_raw(&order.total_amount)?,
            subject: order.subject.as_deref().filter(|s| !s.trim().is_empty()),
            idempotency_key: None,
        },
    )
    .await?;
    Ok(Json(placed.pay_url))
}

/// The result of a front end relaying the return parameters.
async fn relayed_return(state: &AppState, query: Option<String>) -> Result<Returned, ApiError> {
    confirm::handle_return(&state.ctx, &query.unwrap_or_default())
        .await
        .map_err(ApiError::internal)
}

async fn luffy_success(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let returned = relayed_return(&state, query).await?;
    if !returned.verified {
        return Err(ApiError::invalid(
            "invalid_signature",
            "the return parameters are not signed by Alipay",
        ));
    }
    let order = returned.order.ok_or(ApiError::NotFound("order"))?;
    let body = serde_json::json!({
        "out_trade_no": order.out_trade_no,
        "trade_no": order.trade_no,
        "status": order.status.as_str(),
        "paid": order.status == OrderStatus::Paid,
        "pay_time": order.paid_at.map(super::orders::rfc3339),
        "real_price": order.total,
        "course_list": order.items.iter().map(|i| i.course_name.clone()).collect::<Vec<_>>(),
    });
    Ok(Json(body).into_response())
}

async fn luffy_notify(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    body: Bytes,
) -> Response {
    super::alipay::notify_reply(&state, ip, &body).await
}

async fn meiduo_payment(
    State(state): State<AppState>,
    user: AuthUser,
    Path(out_trade_no): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let (_, url) = checkout::reissue_pay_link(&state.ctx, user.id, &out_trade_no).await?;
    Ok(Json(serde_json::json!({ "alipay_url": url })))
}

async fn meiduo_status(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let returned = relayed_return(&state, query).await?;
    if !returned.verified {
        return Ok((
            StatusCode::FORBIDDEN,
            Json(serde_json::json!({ "message": "非法请求" })),
        )
            .into_response());
    }
    match returned.order.map(|order| order.status) {
        Some(OrderStatus::Paid) => {
            Ok(Json(serde_json::json!({ "trade_id": returned.trade_no })).into_response())
        }
        Some(status) => Err(ApiError::Conflict {
            code: "not_paid",
            message: format!("the order is {status}; Alipay has not confirmed the payment"),
        }),
        None => Err(ApiError::NotFound("order")),
    }
}

/// The seeds' routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/order/pay", axum::routing::post(luffy_pay))
        .route("/order/pay/", axum::routing::post(luffy_pay))
        .route("/order/success", patch(luffy_success).post(luffy_notify))
        .route("/order/success/", patch(luffy_success).post(luffy_notify))
        .route("/orders/{out_trade_no}/payment/", get(meiduo_payment))
        .route("/payment/status/", put(meiduo_status))
}
