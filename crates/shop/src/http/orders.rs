//! Orders: placing them (server-side price check, `Idempotency-Key`), paying, listing, and the
//! courses a buyer owns.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::auth::AuthUser;
use super::error::{ApiError, ErrorBody};
use crate::domain::{Money, Order, Refund};
use crate::payments::checkout::{self, OrderRequest};

/// An order to place.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOrder {
    /// The courses to buy.
    pub course_ids: Vec<i64>,
    /// The total the page shows, e.g. `"276.00"`; refused if it is not the catalog's.
    #[schema(value_type = String, example = "276.00")]
    pub total_amount: Money,
    /// What the Alipay cashier shows (default: the course names).
    pub subject: Option<String>,
}

/// A placed order.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderCreated {
    /// The order number (also Alipay's `out_trade_no`).
    pub out_trade_no: String,
    /// The amount due.
    #[schema(value_type = String, example = "276.00")]
    pub total_amount: Money,
    /// `unpaid`.
    pub status: String,
    /// Where to send the browser to pay.
    pub pay_url: String,
    /// What the cashier shows.
    pub subject: String,
    /// After this (RFC 3339, Beijing time) the order is closed if unpaid.
    pub expires_at: String,
}

/// One line of an order.
#[derive(Debug, Serialize, ToSchema)]
pub struct ItemView {
    /// Course id.
    pub course_id: i64,
    /// Course title.
    pub course_name: String,
    /// List price.
    #[schema(value_type = String, example = "138.00")]
    pub price: Money,
    /// Price paid.
    #[schema(value_type = String, example = "138.00")]
    pub real_price: Money,
}

/// A refund of an order.
#[derive(Debug, Serialize, ToSchema)]
pub struct RefundView {
    /// Refund request number (Alipay's `out_request_no`).
    pub out_request_no: String,
    /// Amount.
    #[schema(value_type = String, example = "138.00")]
    pub amount: Money,
    /// Why.
    pub reason: String,
    /// `pending`, `succeeded`, `failed`.
    pub status: String,
    /// The courses it gives back (none for an amount-only refund).
    pub course_ids: Vec<i64>,
    /// `operator`, `double_payment` (the shop refunds the later of two payments for the same
    /// course), `external` (made outside the shop, e.g. in the merchant console).
    pub origin: String,
    /// Requested at (RFC 3339).
    pub created_at: String,
    /// Settled at (RFC 3339).
    pub completed_at: Option<String>,
}

impl From<Refund> for RefundView {
    fn from(refund: Refund) -> RefundView {
        RefundView {
            out_request_no: refund.out_request_no,
            amount: refund.amount,
            reason: refund.reason,
            status: refund.status.as_str().into(),
            course_ids: refund.items.iter().map(|item| item.course_id).collect(),
            origin: refund.origin.as_str().into(),
            created_at: rfc3339(refund.created_at),
            completed_at: refund.completed_at.map(rfc3339),
        }
    }
}

/// An order as its buyer sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderView {
    /// The order number.
    pub out_trade_no: String,
    /// What the cashier shows.
    pub subject: String,
    /// The amount due.
    #[schema(value_type = String, example = "276.00")]
    pub total_amount: Money,
    /// `unpaid`, `paid`, `cancelled`, `timeout_cancelled` or `refunded`.
    pub status: String,
    /// Alipay's trade number, once paid.
    pub trade_no: Option<String>,
    /// When Alipay took the money (RFC 3339, Beijing time).
    pub paid_at: Option<String>,
    /// Refunded so far.
    #[schema(value_type = String, example = "0.00")]
    pub refunded_amount: Money,
    /// Placed at.
    pub created_at: String,
    /// Closed after this if unpaid.
    pub expires_at: String,
    /// The lines.
    pub items: Vec<ItemView>,
}

impl From<Order> for OrderView {
    fn from(order: Order) -> OrderView {
        OrderView {
            out_trade_no: order.out_trade_no,
            subject: order.subject,
            total_amount: order.total,
            status: order.status.as_str().into(),
            trade_no: order.trade_no,
            paid_at: order.paid_at.map(rfc3339),
            refunded_amount: order.refunded,
            created_at: rfc3339(order.created_at),
            expires_at: rfc3339(order.expires_at),
            items: order
                .items
                .into_iter()
                .map(|i| ItemView {
                    course_id: i.course_id,
                    course_name: i.course_name,
                    price: i.price,
                    real_price: i.real_price,
                })
                .collect(),
        }
    }
}

/// An order with its refunds.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderDetail {
    /// The order.
    #[serde(flatten)]
    pub order: OrderView,
    /// Its refunds.
    pub refunds: Vec<RefundView>,
}

/// Stored milliseconds as RFC 3339 in Beijing time.
#[must_use]
pub fn rfc3339(ms: i64) -> String {
    crate::domain::time::from_ms(ms)
        .to_offset(alipay::time::BEIJING)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// The `Idempotency-Key` header, checked: 1 to 128 ASCII characters.
pub fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let key = value.to_str().map_err(|_| {
        ApiError::invalid("invalid_idempotency_key", "Idempotency-Key must be ASCII")
    })?;
    if key.is_empty() || key.len() > 128 {
        return Err(ApiError::invalid(
            "invalid_idempotency_key",
            "Idempotency-Key must be 1 to 128 characters",
        ));
    }
    Ok(Some(key.to_owned()))
}

/// Places an order: prices it from the catalog, refuses a tampered total, stores it in one
/// transaction and returns the pay link. With `Idempotency-Key`, a retry returns the same order.
#[utoipa::path(post, path = "/api/orders", tag = "orders", request_body = CreateOrder,
    params(("Idempotency-Key" = Option<String>, Header, description = "retries with the same key return the same order")),
    responses((status = 201, body = OrderCreated), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
async fn create_order(
    State(state): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
    body: Result<Json<CreateOrder>, JsonRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let Json(request) = body?;
    let key = idempotency_key(&headers)?;
    let placed = checkout::place_order(
        &state.ctx,
        &OrderRequest {
            user_id: user.id,
            course_ids: &request.course_ids,
            total_amount: request.total_amount,
            subject: request.subject.as_deref(),
            idempotency_key: key.as_deref(),
        },
    )
    .await?;
    let created = OrderCreated {
        out_trade_no: placed.order.out_trade_no.clone(),
        total_amount: placed.order.total,
        status: placed.order.status.as_str().into(),
        pay_url: placed.pay_url,
        subject: placed.order.subject.clone(),
        expires_at: rfc3339(placed.order.expires_at),
    };
    let mut response = (StatusCode::CREATED, Json(created)).into_response();
    if placed.replayed {
        response
            .headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(response)
}

/// The caller's orders, newest first.
#[utoipa::path(get, path = "/api/orders", tag = "orders", responses((status = 200, body = [OrderView]), (status = 401, body = ErrorBody)), security(("bearer" = [])))]
async fn list_orders(
    State(state): State<AppState>,
    user: AuthUser,
) -> Result<Json<Vec<OrderView>>, ApiError> {
    Ok(Json(
        checkout::own_orders(&state.ctx, user.id)
            .await?
            .into_iter()
            .map(OrderView::from)
            .collect(),
    ))
}

/// One of the caller's orders (someone else's is 404).
#[utoipa::path(get, path = "/api/orders/{out_trade_no}", tag = "orders", params(("out_trade_no" = String, Path)),
    responses((status = 200, body = OrderDetail), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
async fn get_order(
    State(state): State<AppState>,
    user: AuthUser,
    Path(out_trade_no): Path<String>,
) -> Result<Json<OrderDetail>, ApiError> {
    let (order, refunds) = checkout::own_order_detail(&state.ctx, user.id, &out_trade_no).await?;
    Ok(Json(OrderDetail {
        order: order.into(),
        refunds: refunds.into_iter().map(RefundView::from).collect(),
    }))
}

/// A fresh pay link.
#[derive(Debug, Serialize, ToSchema)]
pub struct PayLink {
    /// The order.
    pub out_trade_no: String,
    /// Where to send the browser.
    pub pay_url: String,
}

/// A fresh pay link for one of the caller's unpaid orders.
#[utoipa::path(post, path = "/api/orders/{out_trade_no}/pay", tag = "orders", params(("out_trade_no" = String, Path)),
    responses((status = 200, body = PayLink), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)), security(("bearer" = [])))]
async fn pay_order(
    State(state): State<AppState>,
    user: AuthUser,
    Path(out_trade_no): Path<String>,
) -> Result<Json<PayLink>, ApiError> {
    let (order, pay_url) = checkout::reissue_pay_link(&state.ctx, user.id, &out_trade_no).await?;
    Ok(Json(PayLink {
        out_trade_no: order.out_trade_no,
        pay_url,
    }))
}

/// Cancels one of the caller's unpaid orders (and closes its trade at Alipay).
#[utoipa::path(post, path = "/api/orders/{out_trade_no}/cancel", tag = "orders", params(("out_trade_no" = String, Path)),
    responses((status = 200, body = OrderView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)), security(("bearer" = [])))]
async fn cancel_order(
    State(state): State<AppState>,
    user: AuthUser,
    Path(out_trade_no): Path<String>,
) -> Result<Json<OrderView>, ApiError> {
    Ok(Json(
        checkout::cancel_by_buyer(&state.ctx, user.id, &out_trade_no)
            .await?
            .into(),
    ))
}

/// A course the caller owns.
#[derive(Debug, Serialize, ToSchema)]
pub struct OwnedCourse {
    /// Course id.
    pub course_id: i64,
    /// Title.
    pub name: String,
    /// The order that bought it.
    pub out_trade_no: String,
    /// Since (RFC 3339).
    pub granted_at: String,
}

/// The courses the caller owns (what paid orders gave).
#[utoipa::path(get, path = "/api/me/courses", tag = "orders", responses((status = 200, body = [OwnedCourse]), (status = 401, body = ErrorBody)), security(("bearer" = [])))]
async fn my_courses(
    State(state): State<AppState>,
    user: AuthUser,
) -> Result<Json<Vec<OwnedCourse>>, ApiError> {
    let owned = checkout::own_courses(&state.ctx, user.id).await?;
    Ok(Json(
        owned
            .into_iter()
            .map(|e| OwnedCourse {
                course_id: e.course_id,
                name: e.course_name,
                out_trade_no: e.out_trade_no,
                granted_at: rfc3339(e.granted_at),
            })
            .collect(),
    ))
}

/// Order routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_order, list_orders))
        .routes(routes!(get_order))
        .routes(routes!(pay_order))
        .routes(routes!(cancel_order))
        .routes(routes!(my_courses))
}
