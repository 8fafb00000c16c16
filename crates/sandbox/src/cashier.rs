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
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use minijinja::{AutoEscape, Environment, context};

use crate::Shared;
use crate::apps::Merchant;
use crate::error::SandboxError;
use crate::json::Node;
use crate::messages;
use crate::store::TradeKey;
use crate::trades::{Trade, TradeError, TradeState};
use alipay::request::escape_html;

/// The Content-Security-Policy of the sandbox's pages: nothing but themselves, no scripts at all,
/// the layout's one `<style>` block allowed by its hash. Forms post to the sandbox itself, but
/// the cashier's answer redirects the browser to the merchant's return URL (any origin), which
/// `form-action` also governs.
#[must_use]
pub fn content_security_policy() -> String {
    let layout = include_str!("templates/layout.html");
    let style = layout
        .split_once("<style>")
        .and_then(|(_, rest)| rest.split_once("</style>"))
        .map_or("", |(style, _)| style);
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, style.as_bytes());
    let hash = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, digest.as_ref());
    format!(
        "default-src 'self'; script-src 'none'; style-src 'sha256-{hash}'; img-src 'self' data:; \
         object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self' http: https:"
    )
}

/// The templates, compiled into the binary (no external assets, no CDN).
pub(crate) fn templates() -> Environment<'static> {
    let mut env = Environment::new();
    // minijinja's HTML escaping also escapes `/`, which turns every URL in the pages into
    // `https:&#x2f;&#x2f;…`: valid, but unreadable in the source and for tests. Escape the five
    // characters that matter instead.
    env.set_formatter(|out, state, value| {
        if state.auto_escape() == AutoEscape::Html
            && !value.is_safe()
            && let Some(text) = value.as_str()
        {
            return out
                .write_str(&escape_html(text))
                .map_err(minijinja::Error::from);
        }
        minijinja::escape_formatter(out, state, value)
    });
    for (name, source) in [
        ("layout.html", include_str!("templates/layout.html")),
        ("cashier.html", include_str!("templates/cashier.html")),
        ("message.html", include_str!("templates/message.html")),
        ("dashboard.html", include_str!("templates/dashboard.html")),
    ] {
        // The templates are part of the source; one that does not parse is a build defect
        // caught by every test that renders a page.
        if let Err(error) = env.add_template(name, source) {
            tracing::error!(%error, "template {name} does not parse");
        }
    }
    env
}

/// Renders a template, or a plain 500 naming the problem.
pub(crate) fn render(shared: &Shared, name: &str, ctx: minijinja::Value) -> Response {
    match shared
        .templates
        .get_template(name)
        .and_then(|template| template.render(ctx))
    {
        Ok(html) => Html(html).into_response(),
        Err(error) => {
            tracing::error!(%error, "rendering {name} failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("template {name}: {error}"),
            )
                .into_response()
        }
    }
}

/// The routes of the cashier.
pub(crate) fn router() -> Router<Arc<Shared>> {
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
        shared,
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
pub(crate) fn refusal_page(shared: &Shared, node: &Node, content: Option<&str>) -> Response {
    // The page shows the content string raw (the template escapes it once); `sub_msg` of a
    // signature error repeats it HTML-escaped for JSON clients, so it is cut short here.
    let sub_msg = node.sub_msg().map(|msg| match msg.split_once('：') {
        Some((reason, _)) if content.is_some() => reason.to_owned(),
        _ => msg.to_owned(),
    });
    render(
        shared,
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

fn trade_error_page(shared: &Shared, error: SandboxError) -> Response {
    let node = match &error {
        SandboxError::Trade(trade) => Node::error(
            crate::json::Code::BusinessFailed,
            trade.sub_code(),
            trade.sub_msg(),
        ),
        _ => {
            tracing::error!(%error, "cashier failed");
            crate::gateway::system_busy()
        }
    };
    render(
        shared,
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

/// Where the browser goes after paying: `return_url` with the signed parameters (spec §10; the
/// legacy interface's are MD5-signed, spec §13).
pub(crate) async fn return_location(
    shared: &Shared,
    merchant: &Merchant,
    trade: &Trade,
) -> Result<Option<String>, SandboxError> {
    let Some(return_url) = trade.return_url.as_deref() else {
        return Ok(None);
    };
    let app = match merchant {
        Merchant::Partner(partner) => {
            return crate::mapi::return_location(shared, partner, trade, return_url)
                .await
                .map(Some);
        }
        Merchant::App(app) => app,
    };
    let Some(method) = trade.origin.return_method() else {
        return Ok(None);
    };
    let (key, _) = shared.signer_for(app).await?;
    let params = messages::return_params(app, trade, method, alipay::time::now(), &key);
    Ok(Some(messages::return_location(return_url, &params)))
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
        Ok((merchant, trade)) => match return_location(&shared, &merchant, &trade).await {
            Err(error) => trade_error_page(&shared, error),
            Ok(Some(location)) => Redirect::to(&location).into_response(),
            Ok(None) => render(
                &shared,
                "message.html",
                context! {
                    title => "支付成功 Payment successful",
                    tone => "ok",
                    lead => format!("已向 {} 支付 ¥{} · {}", merchant.display_name(), trade.total_amount, trade.subject),
                },
            ),
        },
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
            let back = merchant_link(&trade);
            render(
                &shared,
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

/// Where "back to the merchant" goes: the wap `quit_url`, else the site of `return_url`.
pub(crate) fn merchant_link(trade: &Trade) -> Option<String> {
    if let Some(quit_url) = &trade.quit_url {
        return Some(quit_url.clone());
    }
    let return_url = trade.return_url.as_deref()?;
    let after_scheme = return_url.find("://")? + 3;
    let end = return_url[after_scheme..]
        .find('/')
        .map_or(return_url.len(), |i| after_scheme + i);
    Some(format!("{}/", &return_url[..end]))
}
