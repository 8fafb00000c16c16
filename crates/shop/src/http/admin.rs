//! Administration: refunds.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::auth::AuthUser;
use super::error::{ApiError, ErrorBody};
use super::orders::{OrderView, RefundView, rfc3339};
use crate::domain::Money;
use crate::payments::{self, RefundRequest};
use crate::store::{events, orders, refunds};

/// A refund to make.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRefund {
    /// How much, e.g. `"138.00"`; at most what is still refundable.
    #[schema(value_type = String, example = "138.00")]
    pub amount: Money,
    /// Why (shown to the buyer by Alipay).
    #[serde(default)]
    pub reason: String,
}

fn admin(user: &AuthUser) -> Result<(), ApiError> {
    if user.is_admin {
        Ok(())
    } else {
        Err(ApiError::Forbidden("administrators only"))
    }
}

/// Requests a full or partial refund. It is queued (outbox) in the same transaction that records
/// it and sent to Alipay right after; `status` tells when it succeeded. With `Idempotency-Key`, a
/// retried request returns the same refund.
#[utoipa::path(post, path = "/api/admin/orders/{out_trade_no}/refunds", tag = "admin", params(("out_trade_no" = String, Path),
    ("Idempotency-Key" = Option<String>, Header)), request_body = CreateRefund,
    responses((status = 202, body = RefundView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
async fn create_refund(
    State(state): State<AppState>,
    user: AuthUser,
    Path(out_trade_no): Path<String>,
    headers: HeaderMap,
    body: Result<Json<CreateRefund>, JsonRejection>,
) -> Result<(StatusCode, Json<RefundView>), ApiError> {
    admin(&user)?;
    let Json(request) = body?;
    if request.reason.chars().count() > 256
        || request.reason.chars().any(|c| c.is_control() && c != '\n')
    {
        return Err(ApiError::invalid(
            "invalid_reason",
            "reason must be at most 256 characters of text",
        ));
    }
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let refund = payments::request_refund(
        &state.ctx,
        &RefundRequest {
            admin_id: user.id,
            out_trade_no: &out_trade_no,
            amount: request.amount,
            reason: &request.reason,
            idempotency_key: key.as_deref(),
        },
    )
    .await?;
    state.jobs_wakeup.notify_one();
    Ok((StatusCode::ACCEPTED, Json(refund.into())))
}

/// An order's audit event.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventView {
    /// What happened.
    pub kind: String,
    /// What caused it.
    pub source: String,
    /// Details.
    pub detail: String,
    /// When (RFC 3339).
    pub at: String,
}

/// An order as an administrator sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminOrderView {
    /// The order.
    #[serde(flatten)]
    pub order: OrderView,
    /// The buyer's user id.
    pub user_id: i64,
    /// Its refunds.
    pub refunds: Vec<RefundView>,
    /// Its history.
    pub events: Vec<EventView>,
}

/// Any order, with refunds and history.
#[utoipa::path(get, path = "/api/admin/orders/{out_trade_no}", tag = "admin", params(("out_trade_no" = String, Path)),
    responses((status = 200, body = AdminOrderView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
async fn admin_order(
    State(state): State<AppState>,
    user: AuthUser,
    Path(out_trade_no): Path<String>,
) -> Result<Json<AdminOrderView>, ApiError> {
    admin(&user)?;
    let order = orders::get(&state.ctx.db, &out_trade_no)
        .await?
        .ok_or(ApiError::NotFound("order"))?;
    let refunds = refunds::for_order(&state.ctx.db, order.id)
        .await?
        .into_iter()
        .map(RefundView::from)
        .collect();
    let events = events::for_order(&state.ctx.db, order.id)
        .await?
        .into_iter()
        .map(|e| EventView {
            kind: e.kind,
            source: e.source,
            detail: e.detail,
            at: rfc3339(e.created_at),
        })
        .collect();
    Ok(Json(AdminOrderView {
        user_id: order.user_id,
        order: order.into(),
        refunds,
        events,
    }))
}

/// Admin routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_refund))
        .routes(routes!(admin_order))
}
