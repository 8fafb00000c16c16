//! The test-control API under `/api/`: ours, not Alipay's. Tests and the dashboard use it to
//! register apps, pay or abandon trades without a browser, expire them, inspect every
//! notification attempt, redeliver, inject faults and reset.
//!
//! Bodies are JSON; refusals are `{"error": "<code>", "message": "<text>"}` with a 4xx status
//! (see [`SandboxError`]).

use std::sync::Arc;

use alipay::SignType;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::apps::{App, AppView, PartnerView};
use crate::ca::CertsView;
use crate::config::{AppConfig, PartnerConfig};
use crate::error::SandboxError;
use crate::faults::{Fault, FaultRequest};
use crate::service::Shared;
use crate::store::{self, StoredTrade, TradeKey};
use crate::views::{DeliveryView, NotificationView, TradeView};

/// The routes of the test-control API (relative: `/api/...`).
pub(crate) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/api/alipay-public-key", get(alipay_public_key))
        .route("/api/apps", get(list_apps).post(register_app))
        .route("/api/certs", get(certs))
        .route("/api/certs/rotate", post(rotate_cert))
        .route("/api/partners", get(list_partners).post(register_partner))
        .route("/api/buyers", get(list_buyers))
        .route("/api/trades", get(list_trades))
        .route("/api/trades/{out_trade_no}", get(show_trade))
        .route("/api/trades/{out_trade_no}/pay", post(pay_trade))
        .route("/api/trades/{out_trade_no}/cancel", post(abandon_trade))
        .route("/api/trades/{out_trade_no}/expire", post(expire_trade))
        .route("/api/trades/{out_trade_no}/refund", post(console_refund))
        .route("/api/notifications", get(list_deliveries))
        .route("/api/notifications/queue", get(list_notifications))
        .route("/api/notifications/{id}/deliver", post(redeliver))
        .route(
            "/api/faults",
            get(list_faults).post(add_fault).delete(clear_faults),
        )
        .route("/api/reset", post(reset))
}

type ApiResult<T> = Result<T, SandboxError>;

/// Parses an optional JSON body: empty means "all defaults".
fn json_body<T: DeserializeOwned + Default>(body: &Bytes) -> ApiResult<T> {
    if body.iter().all(u8::is_ascii_whitespace) || body.trim_ascii() == b"null" {
        return Ok(T::default());
    }
    serde_json::from_slice(body)
        .map_err(|e| SandboxError::BadRequest(format!("invalid JSON body: {e}")))
}

async fn alipay_public_key(State(shared): State<Arc<Shared>>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/x-pem-file")],
        shared.key.public_key().to_pem(),
    )
        .into_response()
}

async fn list_apps(State(shared): State<Arc<Shared>>) -> ApiResult<Json<Vec<AppView>>> {
    let mut conn = shared.store.conn().await?;
    let apps = store::apps(&mut conn).await?;
    Ok(Json(apps.iter().map(App::view).collect()))
}

/// `POST /api/apps` body: a public key (public-key mode), an app certificate (certificate mode),
/// or a public key and `"issue_cert": true` (certificate mode, the sandbox issues the certificate
/// as Alipay's console does from a CSR).
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RegisterApp {
    app_id: String,
    public_key: Option<String>,
    app_cert: Option<String>,
    #[serde(default)]
    issue_cert: bool,
    sign_type: Option<String>,
    name: Option<String>,
    seller_id: Option<String>,
    /// AES content-encryption key, base64.
    aes_key: Option<String>,
}

impl std::fmt::Debug for RegisterApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegisterApp")
            .field("app_id", &self.app_id)
            .field("sign_type", &self.sign_type)
            .field("aes_key", &self.aes_key.as_ref().map(|_| "redacted"))
            .finish_non_exhaustive()
    }
}

async fn register_app(
    State(shared): State<Arc<Shared>>,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<AppView>)> {
    let request: RegisterApp = json_body(&body)?;
    let mut config = match (&request.public_key, &request.app_cert, request.issue_cert) {
        (Some(key), None, false) => AppConfig::parse(request.app_id, key)?,
        (None, Some(pem), false) => AppConfig::parse_certificate(request.app_id, pem)?,
        (Some(key), None, true) => {
            let public_key = alipay::PublicKey::parse(key).map_err(SandboxError::AppKey)?;
            let seller_id = request
                .seller_id
                .clone()
                .unwrap_or_else(|| crate::ids::seller_id_for(&request.app_id));
            let cert =
                shared
                    .ca()
                    .await?
                    .issue_app_cert(&request.app_id, &seller_id, &public_key)?;
            AppConfig::with_certificate(request.app_id, cert)?
        }
        _ => {
            return Err(SandboxError::BadRequest(
                "give public_key, or app_cert, or public_key with \"issue_cert\": true".into(),
            ));
        }
    };
    if let Some(sign_type) = request.sign_type {
        config.sign_type = sign_type
            .parse::<SignType>()
            .map_err(|e| SandboxError::BadRequest(e.to_string()))?;
    }
    config.name = request.name;
    config.seller_id = request.seller_id;
    config.aes_key = request
        .aes_key
        .as_deref()
        .map(alipay::aes::AesKey::from_base64)
        .transpose()
        .map_err(|e| SandboxError::BadRequest(format!("aes_key: {e}")))?;
    let app = shared.register_app(config, false).await?;
    Ok((StatusCode::CREATED, Json(app.view())))
}

async fn certs(State(shared): State<Arc<Shared>>) -> ApiResult<Json<CertsView>> {
    Ok(Json(shared.certs_view().await?))
}

async fn rotate_cert(
    State(shared): State<Arc<Shared>>,
) -> ApiResult<(StatusCode, Json<CertsView>)> {
    shared.rotate_alipay_cert().await?;
    Ok((StatusCode::CREATED, Json(shared.certs_view().await?)))
}

async fn list_partners(State(shared): State<Arc<Shared>>) -> ApiResult<Json<Vec<PartnerView>>> {
    let mut conn = shared.store.conn().await?;
    let partners = store::partners(&mut conn).await?;
    Ok(Json(
        partners.iter().map(crate::apps::Partner::view).collect(),
    ))
}

/// `POST /api/partners` body.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RegisterPartner {
    partner: String,
    md5_key: String,
    seller_email: Option<String>,
    name: Option<String>,
}

async fn register_partner(
    State(shared): State<Arc<Shared>>,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<PartnerView>)> {
    let request: RegisterPartner = json_body(&body)?;
    let key = alipay::legacy::Md5Key::new(&request.md5_key)
        .map_err(|e| SandboxError::InvalidPartner(e.to_string()))?;
    let mut config = PartnerConfig::new(request.partner, key);
    config.seller_email = request.seller_email;
    config.name = request.name;
    let partner = shared.register_partner(config, false).await?;
    Ok((StatusCode::CREATED, Json(partner.view())))
}

#[derive(Serialize)]
struct BuyerView {
    logon_id: String,
    user_id: String,
    balance: String,
}

async fn list_buyers(State(shared): State<Arc<Shared>>) -> ApiResult<Json<Vec<BuyerView>>> {
    let mut conn = shared.store.conn().await?;
    let buyers = store::buyers(&mut conn).await?;
    buyers
        .into_iter()
        .map(|b| {
            Ok(BuyerView {
                balance: b.balance()?.to_string(),
                logon_id: b.logon_id,
                user_id: b.user_id,
            })
        })
        .collect::<ApiResult<Vec<_>>>()
        .map(Json)
}

/// `?app_id=` narrows an `out_trade_no` to one app when several use it.
#[derive(Debug, Default, Deserialize)]
struct AppFilter {
    app_id: Option<String>,
}

/// The newest trade with this `out_trade_no` (of `app_id`, when given).
async fn find_trade(
    shared: &Shared,
    out_trade_no: &str,
    app_id: Option<&str>,
) -> ApiResult<StoredTrade> {
    let mut conn = shared.store.conn().await?;
    let found = match app_id {
        Some(app_id) => {
            store::trade(
                &mut conn,
                TradeKey::OutTradeNo {
                    app_id,
                    out_trade_no,
                },
            )
            .await?
        }
        None => store::trades_by_out_trade_no(&mut conn, out_trade_no)
            .await?
            .into_iter()
            .next(),
    };
    found.ok_or_else(|| {
        SandboxError::NotFound(format!(
            "no trade {out_trade_no}: a page-pay trade exists once its pay link has been opened \
             (GET the gateway URL), a precreated one once alipay.trade.precreate was called"
        ))
    })
}

async fn list_trades(State(shared): State<Arc<Shared>>) -> ApiResult<Json<Vec<TradeView>>> {
    let mut conn = shared.store.conn().await?;
    let trades = store::trades(&mut conn, 1000).await?;
    Ok(Json(
        trades
            .iter()
            .map(|stored| TradeView::new(&stored.trade, None))
            .collect(),
    ))
}

async fn show_trade(
    State(shared): State<Arc<Shared>>,
    Path(out_trade_no): Path<String>,
    Query(filter): Query<AppFilter>,
) -> ApiResult<Json<TradeView>> {
    let found = find_trade(&shared, &out_trade_no, filter.app_id.as_deref()).await?;
    // Through the use case, so an expired trade shows as closed.
    let (_, trade) = shared.trade(TradeKey::Id(found.id)).await?;
    let mut conn = shared.store.conn().await?;
    let refunds = store::refunds(&mut conn, found.id).await?;
    Ok(Json(TradeView::new(&trade, Some(&refunds))))
}

/// `POST /api/trades/{out_trade_no}/pay` body.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PayRequest {
    buyer: Option<String>,
    app_id: Option<String>,
}

#[derive(Debug, Serialize)]
struct PayResponse {
    trade: TradeView,
    /// Where the cashier would send the browser (signed return parameters), if anywhere.
    return_url: Option<String>,
}

async fn pay_trade(
    State(shared): State<Arc<Shared>>,
    Path(out_trade_no): Path<String>,
    body: Bytes,
) -> ApiResult<Json<PayResponse>> {
    let request: PayRequest = json_body(&body)?;
    let found = find_trade(&shared, &out_trade_no, request.app_id.as_deref()).await?;
    let buyer = match request.buyer {
        Some(buyer) => buyer,
        None => shared
            .config
            .buyers
            .first()
            .map(|b| b.logon_id.clone())
            .ok_or_else(|| SandboxError::BadRequest("no sandbox buyer is configured".into()))?,
    };
    let (merchant, trade) = shared.pay(TradeKey::Id(found.id), &buyer, None).await?;
    Ok(Json(PayResponse {
        return_url: crate::service::trades::return_location(&shared, &merchant, &trade).await?,
        trade: TradeView::new(&trade, None),
    }))
}

/// `POST /api/trades/{out_trade_no}/refund` body: a refund made in the merchant console
/// (商家中心), not through the API.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConsoleRefund {
    refund_amount: String,
    out_request_no: Option<String>,
    refund_reason: Option<String>,
    app_id: Option<String>,
}

/// A refund made in the merchant console: it takes effect as `alipay.trade.refund` would, and
/// Alipay sends its refund notification, but the merchant's software never asked for it.
async fn console_refund(
    State(shared): State<Arc<Shared>>,
    Path(out_trade_no): Path<String>,
    body: Bytes,
) -> ApiResult<Json<TradeView>> {
    let request: ConsoleRefund = json_body(&body)?;
    let amount: alipay::Money = request
        .refund_amount
        .parse()
        .map_err(|e| SandboxError::BadRequest(format!("refund_amount: {e}")))?;
    let found = find_trade(&shared, &out_trade_no, request.app_id.as_deref()).await?;
    let app = {
        let mut conn = shared.store.conn().await?;
        store::app(&mut conn, &found.trade.app_id).await?
    }
    .ok_or_else(|| {
        SandboxError::BadRequest(
            "console refunds are for open-API trades (not the legacy MD5 interface)".into(),
        )
    })?;
    let out_request_no = request.out_request_no.unwrap_or_else(|| {
        format!(
            "CONSOLE{}",
            crate::ids::trade_no(alipay::time::now())
                .get(8..)
                .unwrap_or_default()
        )
    });
    let trade = crate::service::trades::TradeRef {
        out_trade_no: Some(found.trade.out_trade_no.clone()),
        trade_no: None,
    };
    let refund = crate::trades::RefundRequest {
        out_request_no: Some(out_request_no),
        amount,
        reason: request.refund_reason,
    };
    let (trade, _) = shared.refund(&app, &trade, &refund).await?;
    let mut conn = shared.store.conn().await?;
    let refunds = store::refunds(&mut conn, found.id).await?;
    Ok(Json(TradeView::new(&trade, Some(&refunds))))
}

#[derive(Debug, Serialize)]
struct AbandonResponse {
    trade: TradeView,
    /// Where the cashier's "back to the merchant" link goes.
    back_url: Option<String>,
}

/// The buyer presses Cancel: nothing changes at Alipay (see [`crate::pages::cashier`]).
async fn abandon_trade(
    State(shared): State<Arc<Shared>>,
    Path(out_trade_no): Path<String>,
    body: Bytes,
) -> ApiResult<Json<AbandonResponse>> {
    let filter: AppFilter = json_body(&body)?;
    let found = find_trade(&shared, &out_trade_no, filter.app_id.as_deref()).await?;
    let (_, trade) = shared.trade(TradeKey::Id(found.id)).await?;
    Ok(Json(AbandonResponse {
        back_url: crate::messages::merchant_link(&trade),
        trade: TradeView::new(&trade, None),
    }))
}

async fn expire_trade(
    State(shared): State<Arc<Shared>>,
    Path(out_trade_no): Path<String>,
    body: Bytes,
) -> ApiResult<Json<TradeView>> {
    let filter: AppFilter = json_body(&body)?;
    let found = find_trade(&shared, &out_trade_no, filter.app_id.as_deref()).await?;
    let trade = shared.expire(TradeKey::Id(found.id)).await?;
    Ok(Json(TradeView::new(&trade, None)))
}

#[derive(Debug, Default, Deserialize)]
struct TradeFilter {
    out_trade_no: Option<String>,
}

async fn list_deliveries(
    State(shared): State<Arc<Shared>>,
    Query(filter): Query<TradeFilter>,
) -> ApiResult<Json<Vec<DeliveryView>>> {
    let mut conn = shared.store.conn().await?;
    let rows = store::deliveries(&mut conn, filter.out_trade_no.as_deref(), 10_000).await?;
    rows.into_iter()
        .map(DeliveryView::new)
        .collect::<ApiResult<Vec<_>>>()
        .map(Json)
}

async fn list_notifications(
    State(shared): State<Arc<Shared>>,
    Query(filter): Query<TradeFilter>,
) -> ApiResult<Json<Vec<NotificationView>>> {
    let mut conn = shared.store.conn().await?;
    let rows = store::notifications(&mut conn, filter.out_trade_no.as_deref()).await?;
    rows.into_iter()
        .map(NotificationView::new)
        .collect::<ApiResult<Vec<_>>>()
        .map(Json)
}

async fn redeliver(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
) -> ApiResult<Json<DeliveryView>> {
    let row = crate::service::notify::deliver_now(&shared, &id).await?;
    Ok(Json(DeliveryView::new(row)?))
}

async fn list_faults(State(shared): State<Arc<Shared>>) -> Json<Vec<Fault>> {
    Json(shared.faults.list())
}

async fn add_fault(
    State(shared): State<Arc<Shared>>,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<Fault>)> {
    let request: FaultRequest = serde_json::from_slice(&body)
        .map_err(|e| SandboxError::BadRequest(format!("invalid fault: {e}")))?;
    Ok((StatusCode::CREATED, Json(shared.faults.add(request)?)))
}

async fn clear_faults(State(shared): State<Arc<Shared>>) -> StatusCode {
    shared.faults.clear();
    StatusCode::NO_CONTENT
}

#[derive(Debug, Default, Deserialize)]
struct ResetOptions {
    /// Also forget apps registered through the API (configured ones stay).
    #[serde(default)]
    apps: bool,
}

async fn reset(
    State(shared): State<Arc<Shared>>,
    Query(options): Query<ResetOptions>,
) -> ApiResult<StatusCode> {
    shared.reset(options.apps).await?;
    Ok(StatusCode::NO_CONTENT)
}
