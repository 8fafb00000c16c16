//! The cashier a buyer's browser sees: order, amount, a sandbox login, Pay and Cancel; and the
//! HTML error page the gateway shows for refused page-pay requests.
//!
//! Every link is relative, so the pages work wherever the router is mounted (the shop serves it
//! under `/sandbox`): a page rendered at `…/gateway.do` posts to `cashier/{trade_no}/pay`, one
//! at `…/qr/{token}` to `../cashier/…`; `root` carries that prefix into the templates.

use std::sync::Arc;

use alipay::content;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use minijinja::context;

use super::render;
use crate::error::SandboxError;
use crate::json::Node;
use crate::messages;
use crate::service::Shared;
use crate::store::TradeKey;
use crate::trades::{Trade, TradeError, TradeState};

/// The routes of the cashier.
pub(super) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/cashier/{trade_no}", get(show))
        .route("/cashier/{trade_no}/pay", post(pay))
        .route("/cashier/{trade_no}/cancel", post(cancel))
        .route("/qr/{token}", get(scan))
}

fn state_text(state: TradeState) -> &'static str {
    match state {
        TradeState::Created | TradeState::WaitBuyerPay => "等待付款 Waiting for payment",
        TradeState::TradeSuccess | TradeState::TradeFinished => "交易已支付 Already paid",
        TradeState::TradeClosed => "交易已关闭 This trade is closed",
    }
}

/// The cashier for `trade` of `merchant` (its display name), with an optional error `message`
/// (wrong password, no balance...).
pub(crate) fn cashier_page(
    shared: &Shared,
    merchant: &str,
    trade: &Trade,
    root: &str,
    message: Option<(&str, String)>,
) -> Response {
    let payable = matches!(trade.state, TradeState::Created | TradeState::WaitBuyerPay);
    let default_buyer = shared
        .config
        .buyers
        .first()
        .map(|b| b.logon_id.clone())
        .unwrap_or_default();
    let (buyer, message) = match message {
        Some((buyer, message)) => (buyer.to_owned(), Some(message)),
        None => (default_buyer, None),
    };
    let buyers: Vec<String> = shared
        .config
        .buyers
        .iter()
        .map(|b| b.logon_id.clone())
        .collect();
    render(
        "cashier.html",
        context! {
            root,
            merchant,
            subject => trade.subject,
            body => trade.body,
            amount => trade.total_amount.to_string(),
            out_trade_no => trade.out_trade_no,
            trade_no => trade.trade_no,
            expires_at => alipay::time::format(trade.expires_at),
            payable,
            paid => trade.is_paid(),
            state => trade.state.as_str(),
            state_text => state_text(trade.state),
            warning => trade.warning,
            message,
            buyer,
            buyers,
            password => crate::config::DEFAULT_PASSWORD,
        },
    )
}

/// The gateway's error page for a refused page-pay request ("错误代码 … 错误原因 …").
pub(crate) fn refusal_page(_shared: &Shared, node: &Node, content: Option<&str>) -> Response {
    // The page shows the content string raw (the template escapes it once); `sub_msg` of a
    // signature error repeats it HTML-escaped for JSON clients, so it is cut short here.
    let sub_msg = node.sub_msg().map(|msg| match msg.split_once('：') {
        Some((reason, _)) if content.is_some() => reason.to_owned(),
        _ => msg.to_owned(),
    });
    render(
        "message.html",
        context! {
            title => "支付请求有误 Payment request refused",
            tone => "bad",
            lead => "商户的支付请求未通过支付宝网关校验。The merchant's payment request did not pass the gateway's checks.",
            code => node.code().code(),
            sub_code => node.sub_code(),
            sub_msg,
            content,
        },
    )
}

async fn show(State(shared): State<Arc<Shared>>, Path(trade_no): Path<String>) -> Response {
    match shared.trade(TradeKey::AnyTradeNo(&trade_no)).await {
        Ok((app, trade)) => cashier_page(&shared, &app.display_name(), &trade, "../", None),
        Err(error) => trade_error_page(&shared, error),
    }
}

async fn scan(State(shared): State<Arc<Shared>>, Path(token): Path<String>) -> Response {
    match shared.scan(&token).await {
        Ok((app, trade)) => cashier_page(&shared, &app.display_name(), &trade, "../", None),
        Err(error) => trade_error_page(&shared, error),
    }
}

fn trade_error_page(_shared: &Shared, error: SandboxError) -> Response {
    let node = match &error {
        SandboxError::Trade(trade) => Node::error(
            crate::json::Code::BusinessFailed,
            trade.sub_code(),
            trade.sub_msg(),
        ),
        _ => {
            tracing::error!(%error, "cashier failed");
            crate::json::system_busy()
        }
    };
    render(
        "message.html",
        context! {
            title => "无法支付 Cannot pay",
            tone => "bad",
            code => node.code().code(),
            sub_code => node.sub_code(),
            sub_msg => node.sub_msg(),
        },
    )
}

async fn pay(
    State(shared): State<Arc<Shared>>,
    Path(trade_no): Path<String>,
    body: Bytes,
) -> Response {
    let form = content::parse_form(&body).unwrap_or_default();
    let buyer = form
        .get("buyer")
        .map(|b| b.trim().to_owned())
        .unwrap_or_default();
    let password = form.get("password").cloned().unwrap_or_default();
    let key = TradeKey::AnyTradeNo(&trade_no);
    match shared.pay(key, &buyer, Some(&password)).await {
        Ok((merchant, trade)) => {
            match crate::service::trades::return_location(&shared, &merchant, &trade).await {
                Err(error) => trade_error_page(&shared, error),
                Ok(Some(location)) => Redirect::to(&location).into_response(),
                Ok(None) => render(
                    "message.html",
                    context! {
                        title => "支付成功 Payment successful",
                        tone => "ok",
                        lead => format!("已向 {} 支付 ¥{} · {}", merchant.display_name(), trade.total_amount, trade.subject),
                    },
                ),
            }
        }
        Err(SandboxError::Trade(
            error @ (TradeError::UnknownBuyer(_)
            | TradeError::WrongPassword
            | TradeError::InsufficientBalance { .. }),
        )) => {
            let message = match &error {
                TradeError::UnknownBuyer(_) => format!("账户不存在 No sandbox buyer {buyer:?}"),
                TradeError::WrongPassword => "支付密码错误 Wrong payment password".to_owned(),
                TradeError::InsufficientBalance { balance, amount } => format!(
                    "余额不足 Insufficient balance: {buyer} has ¥{balance}, this payment needs ¥{amount}"
                ),
                other => other.to_string(),
            };
            match shared.trade(key).await {
                Ok((merchant, trade)) => {
                    let mut response = cashier_page(
                        &shared,
                        &merchant.display_name(),
                        &trade,
                        "../../",
                        Some((&buyer, message)),
                    );
                    *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
                    response
                }
                Err(error) => trade_error_page(&shared, error),
            }
        }
        Err(error) => trade_error_page(&shared, error),
    }
}

/// The buyer leaves the cashier. Nothing changes at Alipay (the trade stays `WAIT_BUYER_PAY`
/// until it times out, is closed, or is paid later); the buyer is offered the way back.
async fn cancel(State(shared): State<Arc<Shared>>, Path(trade_no): Path<String>) -> Response {
    match shared.trade(TradeKey::AnyTradeNo(&trade_no)).await {
        Ok((merchant, trade)) => {
            tracing::info!(trade.no = %trade.trade_no, "buyer left the cashier of {}", trade.out_trade_no);
            let back = messages::merchant_link(&trade);
            render(
                "message.html",
                context! {
                    title => "已取消支付 Payment cancelled",
                    tone => "bad",
                    lead => format!("您没有向 {} 付款，订单仍可稍后支付。You have not paid; the order can still be paid until it expires.", merchant.display_name()),
                    link => back,
                    link_text => "返回商户 Back to the merchant",
                },
            )
        }
        Err(error) => trade_error_page(&shared, error),
    }
}
