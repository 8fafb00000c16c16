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
use super::error::{ApiError, ErrorBody};
use super::orders::{OrderView, RefundView, idempotency_key, rfc3339};
use crate::backoffice::{self, AnomalyQuery, BackofficeError};
use crate::domain::refund::Scope;
use crate::domain::{Anomaly, AnomalyKind, Money};
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

/// An order as an operator sees it.
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

/// Operator routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_refund))
        .routes(routes!(admin_order))
        .routes(routes!(list_anomalies))
        .routes(routes!(resolve_anomaly))
}
