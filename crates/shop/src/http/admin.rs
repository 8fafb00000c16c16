//! Operators' API: refunds, an order's whole record, anomalies. Every route takes an
//! [`Operator`], whose role is read from the database on each request.

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::auth::Operator;
use super::catalog::CourseView;
use super::error::{ApiError, ErrorBody};
use super::orders::{OrderView, RefundView, idempotency_key, rfc3339};
use super::settlements::SettlementView;
use crate::backoffice::{self, AnomalyQuery, BackofficeError, OrderQuery};
use crate::catalog;
use crate::domain::notification::Stored;
use crate::domain::refund::Scope;
use crate::domain::{Anomaly, AnomalyKind, CourseDraft, Money, OrderStatus};
use crate::payments::confirm::Checked;
use crate::payments::refunds::{RefundRequest, request_refund};

/// A refund to make: either `course_ids` (those courses at the price paid in this order; exactly
/// those are revoked) or an `amount` alone (a goodwill refund: nothing is revoked unless the order
/// ends fully refunded).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRefund {
    /// Courses of the order to give back.
    pub course_ids: Option<Vec<i64>>,
    /// An amount, e.g. `"10.00"`; at most what is still refundable.
    #[schema(value_type = Option<String>, example = "10.00")]
    pub amount: Option<Money>,
    /// Why (shown to the buyer by Alipay).
    #[serde(default)]
    pub reason: String,
}

impl From<BackofficeError> for ApiError {
    fn from(error: BackofficeError) -> ApiError {
        match error {
            BackofficeError::OrderNotFound => ApiError::NotFound("order"),
            BackofficeError::AnomalyNotFound => ApiError::NotFound("anomaly"),
            BackofficeError::AlreadyResolved => ApiError::Conflict {
                code: "already_resolved",
                message: error.to_string(),
            },
            BackofficeError::InvalidNote => ApiError::invalid("invalid_note", error.to_string()),
            BackofficeError::WrongStatus(status) => ApiError::Conflict {
                code: "invalid_order_status",
                message: format!("the order is {status}"),
            },
            BackofficeError::Store(e) => ApiError::internal(e),
        }
    }
}

/// Requests a refund. It is queued (outbox) in the same transaction that records it and sent to
/// Alipay right after; `status` tells when Alipay confirmed it. With `Idempotency-Key`, a
/// retried request returns the same refund.
#[utoipa::path(post, path = "/api/admin/orders/{out_trade_no}/refunds", tag = "admin", params(("out_trade_no" = String, Path),
    ("Idempotency-Key" = Option<String>, Header)), request_body = CreateRefund,
    responses((status = 202, body = RefundView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
async fn create_refund(
    State(state): State<AppState>,
    operator: Operator,
    Path(out_trade_no): Path<String>,
    headers: HeaderMap,
    body: Result<Json<CreateRefund>, JsonRejection>,
) -> Result<(StatusCode, Json<RefundView>), ApiError> {
    let Json(request) = body?;
    if request.reason.chars().count() > 256
        || request.reason.chars().any(|c| c.is_control() && c != '\n')
    {
        return Err(ApiError::invalid(
            "invalid_reason",
            "reason must be at most 256 characters of text",
        ));
    }
    let scope = match (request.course_ids, request.amount) {
        (Some(course_ids), None) => Scope::Courses(course_ids),
        (None, Some(amount)) => Scope::Amount(amount),
        _ => {
            return Err(ApiError::invalid(
                "invalid_refund",
                "give either course_ids (those courses at the price paid) or an amount, not both",
            ));
        }
    };
    let key = idempotency_key(&headers)?;
    let refund = request_refund(
        &state.ctx,
        &RefundRequest {
            operator_id: operator.id,
            out_trade_no: &out_trade_no,
            scope,
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
    /// The operator who acted, for operator actions.
    pub actor_id: Option<i64>,
    /// Details.
    pub detail: String,
    /// When (RFC 3339).
    pub at: String,
}

/// Something Alipay reported that does not fit the books.
#[derive(Debug, Serialize, ToSchema)]
pub struct AnomalyView {
    /// Id.
    pub id: i64,
    /// `amount_mismatch`, `second_trade`, `double_payment`, `external_refund`,
    /// `refund_mismatch`, `over_refunded`.
    pub kind: String,
    /// The order it concerns.
    pub out_trade_no: Option<String>,
    /// The money involved.
    #[schema(value_type = Option<String>, example = "1.00")]
    pub amount: Option<Money>,
    /// What does not fit.
    pub detail: String,
    /// Who reported it (`notify`, `reconcile`, ...).
    pub source: String,
    /// When (RFC 3339).
    pub created_at: String,
    /// When it was resolved.
    pub resolved_at: Option<String>,
    /// By which operator.
    pub resolved_by: Option<i64>,
    /// What was done.
    pub resolution: Option<String>,
}

impl From<Anomaly> for AnomalyView {
    fn from(anomaly: Anomaly) -> AnomalyView {
        AnomalyView {
            id: anomaly.id,
            kind: anomaly.kind.as_str().to_owned(),
            out_trade_no: anomaly.out_trade_no,
            amount: anomaly.amount,
            detail: anomaly.detail,
            source: anomaly.source,
            created_at: rfc3339(anomaly.created_at),
            resolved_at: anomaly.resolution.as_ref().map(|r| rfc3339(r.at)),
            resolved_by: anomaly.resolution.as_ref().map(|r| r.by),
            resolution: anomaly.resolution.map(|r| r.note),
        }
    }
}

/// A notification as the shop kept it.
#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationView {
    /// Row id.
    pub id: i64,
    /// When it arrived.
    pub received_at: String,
    /// `accepted`, `duplicate`, `bad_signature`, `malformed`, `wrong_app`, `wrong_seller`,
    /// `unknown_order`, `amount_mismatch`, `ignored`, `refund_mismatch`, `external_refund`.
    pub verdict: String,
    /// Its `notify_id`.
    pub notify_id: Option<String>,
    /// Its order.
    pub out_trade_no: Option<String>,
    /// Its `trade_status`.
    pub trade_status: Option<String>,
    /// Why the verdict.
    pub detail: String,
    /// The body as kept (a rejected one cut to 8 KiB), as text.
    pub body: String,
    /// The length of the whole body.
    pub body_len: Option<i64>,
}

impl From<Stored> for NotificationView {
    fn from(n: Stored) -> NotificationView {
        NotificationView {
            id: n.id,
            received_at: rfc3339(n.received_at),
            verdict: n.verdict,
            notify_id: n.notify_id,
            out_trade_no: n.out_trade_no,
            trade_status: n.trade_status,
            detail: n.detail,
            body: String::from_utf8_lossy(&n.body).into_owned(),
            body_len: n.body_len,
        }
    }
}

/// An order as an operator sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminOrderView {
    /// The order.
    #[serde(flatten)]
    pub order: OrderView,
    /// The buyer's user id.
    pub user_id: i64,
    /// The buyer's user name.
    pub buyer: String,
    /// Every notification about it, newest first.
    pub notifications: Vec<NotificationView>,
    /// Its refunds.
    pub refunds: Vec<RefundView>,
    /// Its history.
    pub events: Vec<EventView>,
    /// Anomalies about it.
    pub anomalies: Vec<AnomalyView>,
}

/// Any order, with refunds, history and anomalies.
#[utoipa::path(get, path = "/api/admin/orders/{out_trade_no}", tag = "admin", params(("out_trade_no" = String, Path)),
    responses((status = 200, body = AdminOrderView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
async fn admin_order(
    State(state): State<AppState>,
    _operator: Operator,
    Path(out_trade_no): Path<String>,
) -> Result<Json<AdminOrderView>, ApiError> {
    let record = backoffice::order_record(&state.ctx, &out_trade_no).await?;
    Ok(Json(AdminOrderView {
        user_id: record.order.user_id,
        buyer: record.buyer,
        notifications: record
            .notifications
            .into_iter()
            .map(NotificationView::from)
            .collect(),
        order: record.order.into(),
        refunds: record.refunds.into_iter().map(RefundView::from).collect(),
        events: record
            .events
            .into_iter()
            .map(|e| EventView {
                kind: e.kind,
                source: e.source,
                actor_id: e.actor_id,
                detail: e.detail,
                at: rfc3339(e.created_at),
            })
            .collect(),
        anomalies: record
            .anomalies
            .into_iter()
            .map(AnomalyView::from)
            .collect(),
    }))
}

/// Filters for the anomaly list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AnomalyFilter {
    /// `true`: open only; `false`: resolved only; absent: all.
    pub open: Option<bool>,
    /// One kind only.
    pub kind: Option<String>,
    /// One order only.
    pub out_trade_no: Option<String>,
    /// Page size (default 50, at most 200).
    pub limit: Option<i64>,
    /// Rows to skip.
    pub offset: Option<i64>,
}

/// Anomalies, newest first.
#[utoipa::path(get, path = "/api/admin/anomalies", tag = "admin", params(AnomalyFilter),
    responses((status = 200, body = [AnomalyView]), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)), security(("bearer" = [])))]
async fn list_anomalies(
    State(state): State<AppState>,
    _operator: Operator,
    filter: Result<Query<AnomalyFilter>, QueryRejection>,
) -> Result<Json<Vec<AnomalyView>>, ApiError> {
    let Query(filter) = filter?;
    let kind = filter
        .kind
        .as_deref()
        .map(str::parse::<AnomalyKind>)
        .transpose()
        .map_err(|e| ApiError::invalid("invalid_request", e))?;
    let query = AnomalyQuery {
        open: filter.open,
        kind,
        out_trade_no: filter.out_trade_no,
        limit: filter.limit.unwrap_or(50),
        offset: filter.offset.unwrap_or(0),
    };
    Ok(Json(
        backoffice::anomalies(&state.ctx, &query)
            .await?
            .into_iter()
            .map(AnomalyView::from)
            .collect(),
    ))
}

/// How an anomaly was dealt with.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Resolve {
    /// What was done about it.
    pub note: String,
}

/// Marks an anomaly resolved, with a note (recorded with the operator's id).
#[utoipa::path(post, path = "/api/admin/anomalies/{id}/resolve", tag = "admin", params(("id" = i64, Path)), request_body = Resolve,
    responses((status = 200, body = AnomalyView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
async fn resolve_anomaly(
    State(state): State<AppState>,
    operator: Operator,
    Path(id): Path<String>,
    body: Result<Json<Resolve>, JsonRejection>,
) -> Result<Json<AnomalyView>, ApiError> {
    let id: i64 = id.parse().map_err(|_| ApiError::NotFound("anomaly"))?;
    let Json(resolve) = body?;
    let anomaly = backoffice::resolve_anomaly(&state.ctx, operator.id, id, &resolve.note).await?;
    Ok(Json(anomaly.into()))
}

/// Today's figures.
#[derive(Debug, Serialize, ToSchema)]
pub struct DashboardView {
    /// Orders paid today (Beijing time).
    pub paid_today: i64,
    /// Their total.
    #[schema(value_type = String, example = "276.00")]
    pub paid_today_total: Money,
    /// Orders per status.
    pub orders_by_status: std::collections::BTreeMap<String, i64>,
    /// Anomalies not yet resolved.
    pub open_anomalies: i64,
    /// The latest settlement, if any.
    pub last_settlement: Option<SettlementView>,
}

/// The back office's front page.
#[utoipa::path(get, path = "/api/admin/dashboard", tag = "admin",
    responses((status = 200, body = DashboardView), (status = 403, body = ErrorBody)), security(("bearer" = [])))]
async fn dashboard(
    State(state): State<AppState>,
    _operator: Operator,
) -> Result<Json<DashboardView>, ApiError> {
    let board = backoffice::dashboard(&state.ctx).await?;
    Ok(Json(DashboardView {
        paid_today: board.paid_today,
        paid_today_total: board.paid_today_total,
        orders_by_status: board
            .by_status
            .into_iter()
            .map(|(status, n)| (status.as_str().to_owned(), n))
            .collect(),
        open_anomalies: board.open_anomalies,
        last_settlement: board.last_settlement.map(SettlementView::summary),
    }))
}

/// Filters for the order list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OrderFilterParams {
    /// One status only.
    pub status: Option<String>,
    /// Created on or after this day (`yyyy-MM-dd`, Beijing time).
    pub from: Option<String>,
    /// Created on or before this day.
    pub to: Option<String>,
    /// The buyer's user name.
    pub buyer: Option<String>,
    /// An order number or an Alipay trade number.
    pub q: Option<String>,
    /// Page, from 1.
    pub page: Option<i64>,
    /// Page size (default 20, at most 100).
    pub per_page: Option<i64>,
}

/// One order in the list.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminOrderRow {
    /// The order.
    #[serde(flatten)]
    pub order: OrderView,
    /// The buyer's user name.
    pub buyer: String,
}

/// A page of orders.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderPageView {
    /// The orders, newest first.
    pub orders: Vec<AdminOrderRow>,
    /// How many match in all.
    pub total: i64,
    /// This page.
    pub page: i64,
    /// Its size.
    pub per_page: i64,
}

fn day(text: Option<&str>, name: &str) -> Result<Option<time::Date>, ApiError> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    text.filter(|t| !t.is_empty())
        .map(|t| {
            time::Date::parse(t, &format).map_err(|_| {
                ApiError::invalid("invalid_request", format!("{name} must be yyyy-MM-dd"))
            })
        })
        .transpose()
}

/// Orders, newest first, filtered by status, date range, buyer, or searched by number.
#[utoipa::path(get, path = "/api/admin/orders", tag = "admin", params(OrderFilterParams),
    responses((status = 200, body = OrderPageView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)), security(("bearer" = [])))]
async fn list_orders(
    State(state): State<AppState>,
    _operator: Operator,
    filter: Result<Query<OrderFilterParams>, QueryRejection>,
) -> Result<Json<OrderPageView>, ApiError> {
    let Query(filter) = filter?;
    let status = filter
        .status
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(str::parse::<OrderStatus>)
        .transpose()
        .map_err(|e| ApiError::invalid("invalid_request", e.to_string()))?;
    let query = OrderQuery {
        status,
        from: day(filter.from.as_deref(), "from")?,
        to: day(filter.to.as_deref(), "to")?,
        buyer: filter.buyer,
        number: filter.q,
        page: filter.page.unwrap_or(1).max(1),
        per_page: filter.per_page.unwrap_or(20).clamp(1, 100),
    };
    let page = backoffice::search_orders(&state.ctx, &query).await?;
    Ok(Json(OrderPageView {
        orders: page
            .orders
            .into_iter()
            .map(|(order, buyer)| AdminOrderRow {
                order: order.into(),
                buyer,
            })
            .collect(),
        total: page.total,
        page: query.page,
        per_page: query.per_page,
    }))
}

/// What asking Alipay found.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckView {
    /// `paid`, `amount_mismatch`, `closed`, `waiting`, `unknown`.
    pub result: String,
    /// Why, for `unknown`.
    pub detail: Option<String>,
    /// The order now.
    pub order: OrderView,
}

/// Asks Alipay about the order now (`alipay.trade.query`); the answer goes through the one
/// state-change path, and the question into the order's timeline.
#[utoipa::path(post, path = "/api/admin/orders/{out_trade_no}/check", tag = "admin", params(("out_trade_no" = String, Path)),
    responses((status = 200, body = CheckView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
async fn check_order(
    State(state): State<AppState>,
    operator: Operator,
    Path(out_trade_no): Path<String>,
) -> Result<Json<CheckView>, ApiError> {
    let checked = backoffice::ask_alipay(&state.ctx, operator.id, &out_trade_no).await?;
    let (result, detail) = match checked {
        Checked::Paid => ("paid", None),
        Checked::AmountMismatch => ("amount_mismatch", None),
        Checked::Closed => ("closed", None),
        Checked::Waiting => ("waiting", None),
        Checked::Unknown(reason) => ("unknown", Some(reason)),
    };
    let record = backoffice::order_record(&state.ctx, &out_trade_no).await?;
    Ok(Json(CheckView {
        result: result.to_owned(),
        detail,
        order: record.order.into(),
    }))
}

/// Why an operator closes an order.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CloseOrder {
    /// Why.
    #[serde(default)]
    pub reason: String,
}

/// Closes an unpaid order (and its trade at Alipay). A payment that still arrives is kept.
#[utoipa::path(post, path = "/api/admin/orders/{out_trade_no}/close", tag = "admin", params(("out_trade_no" = String, Path)), request_body = CloseOrder,
    responses((status = 200, body = OrderView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)), security(("bearer" = [])))]
async fn close_order(
    State(state): State<AppState>,
    operator: Operator,
    Path(out_trade_no): Path<String>,
    body: Result<Json<CloseOrder>, JsonRejection>,
) -> Result<Json<OrderView>, ApiError> {
    let Json(close) = body?;
    let order =
        backoffice::close_unpaid(&state.ctx, operator.id, &out_trade_no, &close.reason).await?;
    state.jobs_wakeup.notify_one();
    Ok(Json(order.into()))
}

/// Filters for the notifications log.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NotificationFilter {
    /// One verdict only.
    pub verdict: Option<String>,
    /// Page, from 1.
    pub page: Option<i64>,
    /// Page size (default 50, at most 100).
    pub per_page: Option<i64>,
}

/// The notifications log, newest first.
#[utoipa::path(get, path = "/api/admin/notifications", tag = "admin", params(NotificationFilter),
    responses((status = 200, body = [NotificationView]), (status = 403, body = ErrorBody)), security(("bearer" = [])))]
async fn list_notifications(
    State(state): State<AppState>,
    _operator: Operator,
    filter: Result<Query<NotificationFilter>, QueryRejection>,
) -> Result<Json<Vec<NotificationView>>, ApiError> {
    let Query(filter) = filter?;
    let log = backoffice::notification_log(
        &state.ctx,
        filter.verdict.as_deref().filter(|v| !v.is_empty()),
        filter.page.unwrap_or(1),
        filter.per_page.unwrap_or(50),
    )
    .await?;
    Ok(Json(log.into_iter().map(NotificationView::from).collect()))
}

/// A course as an operator writes it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CourseInput {
    /// Title.
    pub name: String,
    /// Description.
    #[serde(default)]
    pub description: String,
    /// Teacher.
    #[serde(default)]
    pub teacher: String,
    /// Level.
    #[serde(default)]
    pub level: String,
    /// Number of lessons announced.
    #[serde(default)]
    pub lessons: i64,
    /// The price of new orders, e.g. `"138.00"`.
    #[schema(value_type = String, example = "138.00")]
    pub price: Money,
    /// Whether it can be bought.
    pub published: bool,
}

impl From<CourseInput> for CourseDraft {
    fn from(input: CourseInput) -> CourseDraft {
        CourseDraft {
            name: input.name,
            description: input.description,
            teacher: input.teacher,
            level: input.level,
            lessons: input.lessons,
            price: input.price,
            published: input.published,
        }
    }
}

/// Every course, published or not.
#[utoipa::path(get, path = "/api/admin/courses", tag = "admin",
    responses((status = 200, body = [CourseView]), (status = 403, body = ErrorBody)), security(("bearer" = [])))]
async fn list_courses(
    State(state): State<AppState>,
    _operator: Operator,
) -> Result<Json<Vec<CourseView>>, ApiError> {
    Ok(Json(
        catalog::all_courses(&state.ctx)
            .await?
            .into_iter()
            .map(CourseView::from)
            .collect(),
    ))
}

/// Adds a course.
#[utoipa::path(post, path = "/api/admin/courses", tag = "admin", request_body = CourseInput,
    responses((status = 201, body = CourseView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)), security(("bearer" = [])))]
async fn create_course(
    State(state): State<AppState>,
    operator: Operator,
    body: Result<Json<CourseInput>, JsonRejection>,
) -> Result<(StatusCode, Json<CourseView>), ApiError> {
    let Json(input) = body?;
    let course = catalog::create_course(&state.ctx, operator.id, &input.into()).await?;
    Ok((StatusCode::CREATED, Json(course.into())))
}

/// Changes a course; a new price applies to new orders only.
#[utoipa::path(put, path = "/api/admin/courses/{id}", tag = "admin", params(("id" = i64, Path)), request_body = CourseInput,
    responses((status = 200, body = CourseView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
async fn update_course(
    State(state): State<AppState>,
    operator: Operator,
    Path(id): Path<String>,
    body: Result<Json<CourseInput>, JsonRejection>,
) -> Result<Json<CourseView>, ApiError> {
    let id: i64 = id.parse().map_err(|_| ApiError::NotFound("course"))?;
    let Json(input) = body?;
    let course = catalog::update_course(&state.ctx, operator.id, id, &input.into()).await?;
    Ok(Json(course.into()))
}

/// Operator routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(dashboard))
        .routes(routes!(list_orders))
        .routes(routes!(create_refund))
        .routes(routes!(admin_order))
        .routes(routes!(check_order))
        .routes(routes!(close_order))
        .routes(routes!(list_anomalies))
        .routes(routes!(resolve_anomaly))
        .routes(routes!(list_notifications))
        .routes(routes!(list_courses, create_course))
        .routes(routes!(update_course))
}
