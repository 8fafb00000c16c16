//! Settlement against Alipay's daily bill, for operators: run a day, list the days, a day's
//! report (JSON, or CSV to download).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::auth::Operator;
use super::error::{ApiError, ErrorBody};
use super::orders::rfc3339;
use crate::domain::settlement::Side;
use crate::domain::settlement::{Difference, Settlement};
use crate::payments::settlement::{self, SettleError};

impl From<SettleError> for ApiError {
    fn from(error: SettleError) -> ApiError {
        match error {
            SettleError::InvalidDate(_) => ApiError::invalid("invalid_date", error.to_string()),
            SettleError::Busy(_) => ApiError::Conflict {
                code: "settlement_running",
                message: error.to_string(),
            },
            SettleError::Bill { .. } => ApiError::Upstream(error.to_string()),
            SettleError::Store(e) => ApiError::internal(e),
        }
    }
}

/// One side's total.
#[derive(Debug, Serialize, ToSchema)]
pub struct SideView {
    /// Payments and refunds.
    pub count: u64,
    /// Payments minus refunds, e.g. `"138.00"`.
    #[schema(value_type = String, example = "138.00")]
    pub total: alipay::SignedMoney,
}

impl From<Side> for SideView {
    fn from(side: Side) -> SideView {
        SideView {
            count: side.count,
            total: side.total,
        }
    }
}

/// A difference between the bill and the shop's books, and what was done about it.
#[derive(Debug, Serialize, ToSchema)]
pub struct DifferenceView {
    /// `paid_at_alipay_only`, `amount_mismatch`, `unknown_order`, `refund_confirmed`,
    /// `refund_amount_mismatch`, `refund_unknown_here`, `missing_from_bill`.
    pub kind: String,
    /// The order.
    pub out_trade_no: String,
    /// Alipay's trade, when known.
    pub trade_no: Option<String>,
    /// The refund, for refund lines.
    pub out_request_no: Option<String>,
    /// The money (negative for refunds).
    #[schema(value_type = String, example = "-38.00")]
    pub amount: alipay::SignedMoney,
    /// What was done: `marked_paid` (through the one state-change path, source `bill`),
    /// `already_paid`, `not_paid:<verdict>`, `refund_settled`, `refund_already_settled`,
    /// `refund_recorded` (with an anomaly), `refund_on_record`, `anomaly_recorded`,
    /// `anomaly_on_record`.
    pub action: String,
    /// Details.
    pub detail: String,
}

impl From<Difference> for DifferenceView {
    fn from(d: Difference) -> DifferenceView {
        let some = |s: String| (!s.is_empty()).then_some(s);
        DifferenceView {
            kind: d.kind.as_str().to_owned(),
            out_trade_no: d.out_trade_no,
            trade_no: some(d.trade_no),
            out_request_no: some(d.out_request_no),
            amount: d.amount,
            action: d.action,
            detail: d.detail,
        }
    }
}

/// A settled day.
#[derive(Debug, Serialize, ToSchema)]
pub struct SettlementView {
    /// `yyyy-MM-dd` (Beijing time).
    pub date: String,
    /// `completed`, `no_bill` (Alipay has no bill: nothing happened there), `failed` (the bill
    /// could not be had), `running`.
    pub status: String,
    /// What Alipay's bill says.
    pub alipay: SideView,
    /// What the shop's books said.
    pub shop: SideView,
    /// How many differences are on record.
    pub difference_count: i64,
    /// Why it failed.
    pub detail: String,
    /// The operator who ran it last (none: the daily job or the command line).
    pub run_by: Option<i64>,
    /// When the last run started.
    pub started_at: Option<String>,
    /// When it finished.
    pub finished_at: Option<String>,
    /// The differences (in a day's report; absent in the list).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub differences: Option<Vec<DifferenceView>>,
}

impl SettlementView {
    /// A day without its differences (lists, the dashboard).
    #[must_use]
    pub fn summary(s: Settlement) -> SettlementView {
        SettlementView::new(s, None)
    }

    fn new(s: Settlement, differences: Option<Vec<Difference>>) -> SettlementView {
        SettlementView {
            date: s.bill_date,
            status: s.status,
            alipay: s.alipay.into(),
            shop: s.shop.into(),
            difference_count: s.differences,
            detail: s.detail,
            run_by: s.run_by,
            started_at: s.started_at.map(rfc3339),
            finished_at: s.finished_at.map(rfc3339),
            differences: differences.map(|d| d.into_iter().map(DifferenceView::from).collect()),
        }
    }
}

/// Settles a day against Alipay's bill now (the daily job does yesterday on its own). Running a
/// day again changes nothing the books already agree with.
#[utoipa::path(post, path = "/api/admin/settlements/{date}", tag = "admin", params(("date" = String, Path, description = "yyyy-MM-dd")),
    responses((status = 200, body = SettlementView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 502, body = ErrorBody)),
    security(("bearer" = [])))]
async fn run_day(
    State(state): State<AppState>,
    operator: Operator,
    Path(date): Path<String>,
) -> Result<Json<SettlementView>, ApiError> {
    let day = settlement::parse_day(&date)?;
    settlement::settle_day(&state.ctx, day, Some(operator.id)).await?;
    let (settled, differences) = settlement::report(&state.ctx, &date)
        .await?
        .ok_or(ApiError::NotFound("settlement"))?;
    Ok(Json(SettlementView::new(settled, Some(differences))))
}

/// The settled days, newest first.
#[utoipa::path(get, path = "/api/admin/settlements", tag = "admin",
    responses((status = 200, body = [SettlementView]), (status = 403, body = ErrorBody)), security(("bearer" = [])))]
async fn list_days(
    State(state): State<AppState>,
    _operator: Operator,
) -> Result<Json<Vec<SettlementView>>, ApiError> {
    Ok(Json(
        settlement::days(&state.ctx, 100)
            .await?
            .into_iter()
            .map(|s| SettlementView::new(s, None))
            .collect(),
    ))
}

/// A day's report with its differences; `{date}.csv` gives the differences as CSV.
#[utoipa::path(get, path = "/api/admin/settlements/{date}", tag = "admin", params(("date" = String, Path, description = "yyyy-MM-dd, or yyyy-MM-dd.csv")),
    responses((status = 200, body = SettlementView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
async fn show_day(
    State(state): State<AppState>,
    _operator: Operator,
    Path(date): Path<String>,
) -> Result<Response, ApiError> {
    let (day, csv) = match date.strip_suffix(".csv") {
        Some(day) => (day, true),
        None => (date.as_str(), false),
    };
    let (settled, differences) = settlement::report(&state.ctx, day)
        .await?
        .ok_or(ApiError::NotFound("settlement"))?;
    if !csv {
        return Ok(Json(SettlementView::new(settled, Some(differences))).into_response());
    }
    let body = csv_report(&settled, differences).map_err(ApiError::internal)?;
    let disposition = HeaderValue::from_str(&format!(
        "attachment; filename=\"settlement-{}.csv\"",
        settled.bill_date
    ))
    .map_err(ApiError::internal)?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/csv; charset=utf-8"),
            ),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        body,
    )
        .into_response())
}

/// The report as CSV: one row per difference, each with the day's totals, a UTF-8 BOM first so
/// that spreadsheet programs read the Chinese right.
fn csv_report(settled: &Settlement, differences: Vec<Difference>) -> Result<Vec<u8>, csv::Error> {
    let mut writer = csv::Writer::from_writer(b"\xEF\xBB\xBF".to_vec());
    writer.write_record([
        "date",
        "status",
        "alipay_count",
        "alipay_total",
        "shop_count",
        "shop_total",
        "kind",
        "out_trade_no",
        "trade_no",
        "out_request_no",
        "amount",
        "action",
        "detail",
    ])?;
    let day = [
        settled.bill_date.clone(),
        settled.status.clone(),
        settled.alipay.count.to_string(),
        settled.alipay.total.to_string(),
        settled.shop.count.to_string(),
        settled.shop.total.to_string(),
    ];
    if differences.is_empty() {
        writer.write_record(day.iter().map(String::as_str).chain([""; 7]))?;
    }
    for d in differences {
        let amount = d.amount.to_string();
        writer.write_record(day.iter().map(String::as_str).chain([
            d.kind.as_str(),
            &d.out_trade_no,
            &d.trade_no,
            &d.out_request_no,
            &amount,
            &d.action,
            &d.detail,
        ]))?;
    }
    writer.into_inner().map_err(|e| e.into_error().into())
}

/// Settlement routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_days))
        .routes(routes!(run_day, show_day))
}
