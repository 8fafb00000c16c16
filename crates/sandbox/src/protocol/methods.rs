//! The gateway methods: `biz_content` in, a response node out (spec §7), in the field sets and
//! with the codes Alipay uses. The nodes are built by pure functions so the spec's worked
//! examples (§15.2) can be reproduced byte for byte.

use alipay::Money;
use axum::response::Response;
use serde_json::{Map, Value, json};

use super::answer;
use super::check::{Checked, GatewayMethod};
use crate::apps::App;
use crate::error::SandboxError;
use crate::faults::Answer;
use crate::json::{Code, Node};
use crate::service::Shared;
use crate::service::trades::TradeRef;
use crate::trades::{Order, Origin, Refund, RefundRequest, Trade, TradeError};

/// Runs a checked request and answers it.
pub async fn run(shared: &Shared, checked: Checked, base_url: &str, answer: Answer) -> Response {
    let biz = Biz(&checked.biz);
    let method = checked.method;
    let result = match method {
        GatewayMethod::PagePay | GatewayMethod::WapPay | GatewayMethod::AppPay => {
            return page_pay(shared, &checked).await;
        }
        GatewayMethod::Query => query(shared, &checked.app, &biz).await,
        GatewayMethod::Close => close(shared, &checked, &biz).await,
        GatewayMethod::Cancel => cancel(shared, &checked.app, &biz).await,
        GatewayMethod::Refund => refund(shared, &checked.app, &biz).await,
        GatewayMethod::RefundQuery => refund_query(shared, &checked.app, &biz).await,
        GatewayMethod::Precreate => precreate(shared, &checked, &biz, base_url).await,
        GatewayMethod::Create => create(shared, &checked, &biz).await,
        GatewayMethod::Pay => barcode_pay(shared, &checked, &biz).await,
        GatewayMethod::AlipayCertDownload => alipay_cert_download(shared, &biz).await,
        GatewayMethod::BillDownloadUrl => {
            bill_download_url(shared, &checked.app, &biz, base_url).await
        }
        GatewayMethod::Unsupported(_) => Ok(Node::error(
            Code::InsufficientPermissions,
            "isv.insufficient-isv-permissions",
            "ISV权限不足，建议在开放平台控制台检查对应产品是否已经绑定 (the sandbox does not emulate this method)",
        )),
    };
    let node = match result {
        Ok(node) => node,
        Err(error) => decorate_error(method, &biz, error_node(error)),
    };
    answer::answer(
        shared,
        &checked.app,
        method.name(),
        &node,
        checked.encrypted,
        answer,
    )
    .await
}

/// `alipay.open.app.alipaycert.download`: the certificate file of `alipay_cert_sn`, base64 of
/// its PEM text (spec §7.11).
async fn alipay_cert_download(shared: &Shared, biz: &Biz<'_>) -> Result<Node, SandboxError> {
    let sn = biz.required("alipay_cert_sn")?;
    let signer = shared
        .ca()
        .await?
        .by_sn(&sn)
        .ok_or(TradeError::AlipayCertNotExist)?;
    Ok(Node::success().field(
        "alipay_cert_content",
        alipay::keys::encode_signature(signer.chain_pem.as_bytes()),
    ))
}

/// `ACQ.SYSTEM_ERROR`, what an injected `fail_api` answers: outcome unknown, retry or query.
#[must_use]
pub fn system_error(checked: &Checked) -> Node {
    let node = Node::error(Code::BusinessFailed, "ACQ.SYSTEM_ERROR", "系统错误");
    let node = decorate_error(checked.method, &Biz(&checked.biz), node);
    if checked.method == GatewayMethod::Cancel {
        // Alipay asks for a retry of a cancel whose outcome it does not know.
        node.field("retry_flag", "Y")
    } else {
        node
    }
}

/// The node of a refusal.
fn error_node(error: SandboxError) -> Node {
    match error {
        SandboxError::Trade(error) => {
            Node::error(Code::BusinessFailed, error.sub_code(), error.sub_msg())
        }
        other => {
            tracing::error!(error = %other, "gateway method failed");
            crate::json::system_busy()
        }
    }
}

/// Error nodes echo the request's identifiers and, per API, zeroed amounts (as real ones do).
fn decorate_error(method: GatewayMethod, biz: &Biz<'_>, node: Node) -> Node {
    let echo = |node: Node, key: &str| node.field_opt(key, biz.lenient(key));
    let node = echo(echo(node, "out_trade_no"), "trade_no");
    match method {
        GatewayMethod::Query => [
            "buyer_pay_amount",
            "invoice_amount",
            "point_amount",
            "receipt_amount",
        ]
        .into_iter()
        .fold(node, |node, key| node.money(key, Money::ZERO)),
        GatewayMethod::Refund => node
            .money("refund_fee", Money::ZERO)
            .money("send_back_fee", Money::ZERO),
        GatewayMethod::RefundQuery => echo(node, "out_request_no"),
        GatewayMethod::Cancel if node.sub_code() != Some("ACQ.SYSTEM_ERROR") => {
            node.field("retry_flag", "N")
        }
        _ => node,
    }
}

/// `biz_content` fields, leniently typed as real clients send them (numbers for amounts, too).
struct Biz<'a>(&'a Map<String, Value>);

impl Biz<'_> {
    /// A text field; numbers are taken as their JSON text; empty strings count as absent.
    fn string(&self, key: &str) -> Result<Option<String>, TradeError> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(_) => Err(TradeError::InvalidParameter(format!(
                "{key} must be a string"
            ))),
        }
    }

    /// A field for echoing, whatever its type.
    fn lenient(&self, key: &str) -> Option<String> {
        self.string(key).ok().flatten()
    }

    fn required(&self, key: &str) -> Result<String, TradeError> {
        self.string(key)?
            .ok_or_else(|| TradeError::InvalidParameter(format!("{key} 不能为空 (required)")))
    }

    /// An amount: `"88.88"` or `88.88`, at most two decimals, non-negative.
    fn money(&self, key: &str) -> Result<Option<Money>, TradeError> {
        self.string(key)?
            .map(|text| {
                text.parse::<Money>()
                    .map_err(|e| TradeError::InvalidParameter(format!("{key} 格式错误: {e}")))
            })
            .transpose()
    }

    fn trade_ref(&self) -> Result<TradeRef, TradeError> {
        let trade = TradeRef {
            out_trade_no: self.string("out_trade_no")?,
            trade_no: self.string("trade_no")?,
        };
        if trade.out_trade_no.is_none() && trade.trade_no.is_none() {
            return Err(TradeError::InvalidParameter(
                "out_trade_no 和 trade_no 不能同时为空".into(),
            ));
        }
        Ok(trade)
    }

    fn has_option(&self, option: &str) -> bool {
        matches!(self.0.get("query_options"), Some(Value::Array(items))
            if items.iter().any(|item| item.as_str() == Some(option)))
    }
}

/// The order a page/wap pay or precreate asks for, and a warning for the merchant.
fn order(checked: &Checked, origin: Origin) -> Result<(Order, Option<String>), TradeError> {
    let biz = Biz(&checked.biz);
    let out_trade_no = biz.required("out_trade_no")?;
    alipay::pay::check_out_trade_no(&out_trade_no).map_err(TradeError::InvalidParameter)?;
    let total_amount = biz
        .money("total_amount")?
        .ok_or_else(|| TradeError::InvalidParameter("total_amount 不能为空 (required)".into()))?;
    if total_amount > Money::MAX_TRADE {
        return Err(TradeError::TotalFeeExceed);
    }
    if total_amount < Money::MIN_TRADE {
        return Err(TradeError::InvalidParameter(format!(
            "total_amount {total_amount} must be between 0.01 and 100000000.00"
        )));
    }
    let subject = biz.required("subject")?;
    if subject.chars().count() > 256 {
        return Err(TradeError::InvalidParameter(
            "subject 超过 256 个字符".into(),
        ));
    }
    let body = biz.string("body")?;
    if body.as_ref().is_some_and(|b| b.chars().count() > 128) {
        return Err(TradeError::InvalidParameter("body 超过 128 个字符".into()));
    }
    let product_code = biz.string("product_code")?;
    let allowed: &[&str] = match origin {
        Origin::Page => &["FAST_INSTANT_TRADE_PAY"],
        // The official name, and the one python-alipay-sdk sends.
        Origin::Wap => &["QUICK_WAP_WAY", "QUICK_WAP_PAY"],
        Origin::Precreate | Origin::Barcode => &["FACE_TO_FACE_PAYMENT"],
        Origin::App => &["QUICK_MSECURITY_PAY"],
        // Mini programs and JSAPI pages; older integrations still send the face-to-face code.
        Origin::Create => &["JSAPI_PAY", "FACE_TO_FACE_PAYMENT"],
        // Legacy orders come through `mapi`, never this path.
        Origin::Legacy => &[],
    };
    match &product_code {
        Some(code) if allowed.contains(&code.as_str()) => {}
        None if matches!(origin, Origin::Precreate | Origin::Create | Origin::Barcode) => {}
        other => {
            return Err(TradeError::InvalidParameter(format!(
                "product_code {} is not valid for {}: use {}",
                other.as_deref().unwrap_or("(missing)"),
                origin.method(),
                allowed.first().copied().unwrap_or("the mapi gateway")
            )));
        }
    }
    let passback_params = biz.string("passback_params")?;
    if passback_params
        .as_ref()
        .is_some_and(|p| p.chars().count() > 512)
    {
        return Err(TradeError::InvalidParameter(
            "passback_params 超过 512 个字符".into(),
        ));
    }
    let notify_url = checked
        .params
        .get("notify_url")
        .filter(|u| !u.trim().is_empty())
        .cloned();
    let return_url = checked
        .params
        .get("return_url")
        .filter(|u| !u.trim().is_empty())
        .cloned();
    for (name, url) in [("notify_url", &notify_url), ("return_url", &return_url)] {
        if let Some(url) = url
            && (!(url.starts_with("http://") || url.starts_with("https://")) || url.len() > 256)
        {
            return Err(TradeError::InvalidParameter(format!(
                "{name} must be an http(s) URL of at most 256 characters"
            )));
        }
    }
    let warning = notify_url
        .as_deref()
        .filter(|u| u.contains('?'))
        .map(|url| {
            format!(
                "notify_url {url} has its own query string: frameworks that merge URL and form \
             parameters (Java getParameterMap, PHP $_REQUEST) will add them to the notification \
             and its signature will not verify; put that information in the path or in \
             passback_params"
            )
        });
    if let Some(warning) = &warning {
        tracing::warn!(app.id = %checked.app.app_id, "{warning}");
    }
    Ok((
        Order {
            origin,
            out_trade_no,
            total_amount,
            subject,
            body,
            product_code,
            passback_params,
            notify_url,
            return_url,
            quit_url: biz.string("quit_url")?,
            timeout_express: biz.string("timeout_express")?,
            time_expire: biz.string("time_expire")?,
        },
        warning,
    ))
}

async fn page_pay(shared: &Shared, checked: &Checked) -> Response {
    let origin = match checked.method {
        GatewayMethod::WapPay => Origin::Wap,
        GatewayMethod::AppPay => Origin::App,
        _ => Origin::Page,
    };
    let result = match order(checked, origin) {
        Ok((order, warning)) => shared.open_web_pay(&checked.app, &order, warning).await,
        Err(error) => Err(error.into()),
    };
    match result {
        Ok(trade) => crate::pages::cashier::cashier_page(
            shared,
            &checked.app.display_name(),
            &trade,
            "",
            None,
        ),
        Err(error) => crate::pages::cashier::refusal_page(shared, &error_node(error), None),
    }
}

/// The `alipay.trade.query` node of a visible trade (spec §7.5, §15.2).
#[must_use]
pub fn query_node(trade: &Trade) -> Node {
    let paid_amount = if trade.is_paid() {
        trade.total_amount
    } else {
        Money::ZERO
    };
    let mut node = Node::success()
        .field("out_trade_no", &trade.out_trade_no)
        .field("trade_no", &trade.trade_no)
        .field_opt("trade_status", trade.state.wire())
        .money("total_amount", trade.total_amount)
        .money("buyer_pay_amount", paid_amount)
        .money("invoice_amount", paid_amount)
        .money("receipt_amount", paid_amount)
        .money("point_amount", Money::ZERO);
    if let (Some(payer), Some(paid_at)) = (&trade.payer, trade.gmt_payment) {
        node = node
            .field("buyer_logon_id", crate::ids::mask_logon_id(&payer.logon_id))
            .field("buyer_user_id", &payer.user_id)
            .field("send_pay_date", alipay::time::format(paid_at))
            .value(
                "fund_bill_list",
                json!([{"amount": trade.total_amount.to_string(), "fund_channel": crate::messages::FUND_CHANNEL}]),
            );
    }
    node
}

async fn query(shared: &Shared, app: &App, biz: &Biz<'_>) -> Result<Node, SandboxError> {
    let trade = shared.query(app, &biz.trade_ref()?).await?;
    Ok(query_node(&trade))
}

async fn close(shared: &Shared, checked: &Checked, biz: &Biz<'_>) -> Result<Node, SandboxError> {
    let notify_url = checked.params.get("notify_url").map(String::as_str);
    let trade = shared
        .close(&checked.app, &biz.trade_ref()?, notify_url)
        .await?;
    Ok(Node::success()
        .field("out_trade_no", &trade.out_trade_no)
        .field("trade_no", &trade.trade_no))
}

async fn cancel(shared: &Shared, app: &App, biz: &Biz<'_>) -> Result<Node, SandboxError> {
    let (trade, outcome) = shared.cancel(app, &biz.trade_ref()?).await?;
    Ok(Node::success()
        .field("action", outcome.action)
        .field("out_trade_no", &trade.out_trade_no)
        .field("retry_flag", "N")
        .field("trade_no", &trade.trade_no))
}

/// The `alipay.trade.refund` node.
#[must_use]
pub fn refund_node(trade: &Trade, refund: &Refund, fund_change: bool) -> Node {
    Node::success()
        .field_opt(
            "buyer_logon_id",
            trade
                .payer
                .as_ref()
                .map(|p| crate::ids::mask_logon_id(&p.logon_id)),
        )
        .field_opt(
            "buyer_user_id",
            trade.payer.as_ref().map(|p| p.user_id.clone()),
        )
        .field("fund_change", if fund_change { "Y" } else { "N" })
        .field("gmt_refund_pay", alipay::time::format(refund.gmt_refund))
        .field("out_trade_no", &trade.out_trade_no)
        .money("refund_fee", trade.refund_fee)
        .money("send_back_fee", refund.amount)
        .field("trade_no", &trade.trade_no)
}

async fn refund(shared: &Shared, app: &App, biz: &Biz<'_>) -> Result<Node, SandboxError> {
    let trade = biz.trade_ref()?;
    let amount = biz
        .money("refund_amount")?
        .ok_or_else(|| TradeError::InvalidParameter("refund_amount 不能为空 (required)".into()))?;
    if amount > Money::MAX_TRADE {
        return Err(TradeError::InvalidParameter("refund_amount is above the limit".into()).into());
    }
    let out_request_no = biz.string("out_request_no")?;
    if out_request_no.as_ref().is_some_and(|no| no.len() > 64) {
        return Err(TradeError::InvalidParameter("out_request_no 超过 64 个字符".into()).into());
    }
    let request = RefundRequest {
        out_request_no,
        amount,
        reason: biz.string("refund_reason")?,
    };
    let (trade, outcome) = shared.refund(app, &trade, &request).await?;
    Ok(refund_node(&trade, &outcome.refund, outcome.fund_change))
}

async fn refund_query(shared: &Shared, app: &App, biz: &Biz<'_>) -> Result<Node, SandboxError> {
    let trade = biz.trade_ref()?;
    let out_request_no = biz.required("out_request_no")?;
    let (trade, refund) = shared.refund_query(app, &trade, &out_request_no).await?;
    let node = Node::success()
        .field("out_request_no", &out_request_no)
        .field("out_trade_no", &trade.out_trade_no)
        .field("trade_no", &trade.trade_no);
    let Some(refund) = refund else {
        // Queried fine, nothing refunded under that number.
        return Ok(node);
    };
    let node = node
        .money("refund_amount", refund.amount)
        .field("refund_status", "REFUND_SUCCESS")
        .field_opt("refund_reason", refund.reason.clone())
        .money("total_amount", trade.total_amount);
    Ok(if biz.has_option("gmt_refund_pay") {
        node.field("gmt_refund_pay", alipay::time::format(refund.gmt_refund))
    } else {
        node
    })
}

async fn precreate(
    shared: &Shared,
    checked: &Checked,
    _biz: &Biz<'_>,
    base_url: &str,
) -> Result<Node, SandboxError> {
    let (order, _warning) = order(checked, Origin::Precreate)?;
    let trade = shared.precreate(&checked.app, &order).await?;
    let token = trade
        .qr_token
        .as_deref()
        .ok_or(TradeError::ContextInconsistent)?;
    Ok(Node::success()
        .field("out_trade_no", &trade.out_trade_no)
        .field("qr_code", format!("{base_url}qr/{token}")))
}

/// `alipay.trade.create`: the trade a mini program or JSAPI page then pays (the buyer pays it at
/// the cashier or through the test API). Needs the buyer: `buyer_id` (2088…) or `buyer_open_id`.
async fn create(shared: &Shared, checked: &Checked, biz: &Biz<'_>) -> Result<Node, SandboxError> {
    let buyer_id = biz.string("buyer_id")?;
    let buyer_open_id = biz.string("buyer_open_id")?;
    match (&buyer_id, &buyer_open_id) {
        (None, None) => {
            return Err(TradeError::InvalidParameter(
                "buyer_id 和 buyer_open_id 不能同时为空".into(),
            )
            .into());
        }
        (Some(id), _) if !alipay::api::is_user_id(id) => {
            return Err(TradeError::InvalidParameter(format!(
                "buyer_id {id} is not an Alipay user id (2088 and 12 digits)"
            ))
            .into());
        }
        _ => {}
    }
    let (order, _warning) = order(checked, Origin::Create)?;
    let trade = shared.create(&checked.app, &order).await?;
    Ok(Node::success()
        .field("out_trade_no", &trade.out_trade_no)
        .field("trade_no", &trade.trade_no))
}

/// `alipay.trade.pay` (付款码): pays at once (`10000`, with the payment's details) or waits for
/// the buyer (`10003`, codes starting `29`); the merchant then queries, and cancels what stays
/// unpaid.
async fn barcode_pay(
    shared: &Shared,
    checked: &Checked,
    biz: &Biz<'_>,
) -> Result<Node, SandboxError> {
    match biz.required("scene")?.as_str() {
        "bar_code" | "wave_code" => {}
        other => {
            return Err(TradeError::InvalidParameter(format!(
                "scene {other} must be bar_code or wave_code"
            ))
            .into());
        }
    }
    let outcome = crate::trades::read_auth_code(&biz.required("auth_code")?)?;
    let (order, _warning) = order(checked, Origin::Barcode)?;
    let trade = shared.barcode_pay(&checked.app, &order, outcome).await?;
    let paid = trade.is_paid();
    let node = if paid {
        query_node(&trade).remove("trade_status")
    } else {
        Node::in_process()
            .field("out_trade_no", &trade.out_trade_no)
            .field("trade_no", &trade.trade_no)
            .money("total_amount", trade.total_amount)
            .money("buyer_pay_amount", Money::ZERO)
            .money("invoice_amount", Money::ZERO)
            .money("receipt_amount", Money::ZERO)
            .money("point_amount", Money::ZERO)
    };
    Ok(match (paid, trade.gmt_payment) {
        (true, Some(at)) => node
            .remove("send_pay_date")
            .field("gmt_payment", alipay::time::format(at)),
        _ => node,
    })
}

/// `alipay.data.dataservice.bill.downloadurl.query`: a short-lived link to a day's trade bill
/// (served at `downloadBillFile.resource` on the sandbox itself). Daily bills only; today's is
/// served too, unlike Alipay.
async fn bill_download_url(
    shared: &Shared,
    app: &App,
    biz: &Biz<'_>,
    base_url: &str,
) -> Result<Node, SandboxError> {
    let invalid = |msg: &str| {
        Ok(Node::error(
            Code::InvalidArguments,
            "isv.invalid_arguments",
            msg.to_owned(),
        ))
    };
    let not_exist = || {
        Ok(Node::error(
            Code::BusinessFailed,
            "isp.bill_not_exist",
            "账单不存在",
        ))
    };
    let bill_type = biz.lenient("bill_type").unwrap_or_default();
    let bill_date = biz.lenient("bill_date").unwrap_or_default();
    match bill_type.as_str() {
        "trade" => {}
        "signcustomer" => return not_exist(),
        _ => return invalid("bill_type 应为 trade 或 signcustomer"),
    }
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let Ok(date) = time::Date::parse(&bill_date, &format) else {
        return invalid("bill_date 格式应为 yyyy-MM-dd (the sandbox serves daily bills)");
    };
    if date > alipay::time::now().date() {
        return not_exist();
    }
    let Some(token) = shared.bill_link(app, date).await? else {
        return not_exist();
    };
    let compact = bill_date.replace('-', "");
    Ok(Node::success().field(
        "bill_download_url",
        format!(
            "{base_url}downloadBillFile.resource?bizType=trade&userId={}&fileType=csv.zip&bizDates={compact}&downloadFileName={}_{compact}.csv.zip&token={token}",
            app.seller_id, app.seller_id
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trades::{Payer, TradeState};
    use alipay::keys::encode_signature;
    use alipay::{PrivateKey, SignType};
    use time::macros::datetime;

    fn test_alipay_key() -> PrivateKey {
        PrivateKey::from_file(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../alipay/tests/data/real/test_alipay_pkcs8.pem"
        ))
        .unwrap()
    }

    fn envelope(method: &str, node: &Node) -> String {
        let text = node.to_json();
        let sign = encode_signature(&test_alipay_key().sign_bytes(SignType::Rsa2, text.as_bytes()));
        crate::json::signed_envelope(&alipay::response::node_name(method), &text, None, &sign)
    }

    /// Spec §15.2: the emulator-signed query response, byte for byte.
    #[test]
    fn reproduces_the_spec_query_response() {
        let trade = Trade {
            app_id: "2021000000000001".into(),
            out_trade_no: "ORDER_20240501_0001".into(),
            trade_no: "2024050122001446880500012345".into(),
            origin: Origin::Page,
            state: TradeState::TradeSuccess,
            total_amount: "88.88".parse().unwrap(),
            subject: "测试商品 Test+1".into(),
            body: None,
            product_code: None,
            passback_params: None,
            notify_url: None,
            return_url: None,
            quit_url: None,
            timeout_express: None,
            time_expire: None,
            qr_token: None,
            expires_at: datetime!(2024-05-16 12:01:20 +8),
            gmt_create: datetime!(2024-05-01 12:01:20 +8),
            gmt_payment: Some(datetime!(2024-05-01 12:01:30 +8)),
            gmt_close: None,
            close_reason: None,
            payer: Some(Payer {
                user_id: "2088102177846880".into(),
                logon_id: "test@example.com".into(),
            }),
            refund_fee: Money::ZERO,
            warning: None,
        };
        assert_eq!(
            envelope("alipay.trade.query", &query_node(&trade)),
            r#"{"alipay_trade_query_response":{"code":"10000","msg":"Success","buyer_logon_id":"tes***@example.com","buyer_pay_amount":"88.88","buyer_user_id":"2088102177846880","fund_bill_list":[{"amount":"88.88","fund_channel":"ALIPAYACCOUNT"}],"invoice_amount":"88.88","out_trade_no":"ORDER_20240501_0001","point_amount":"0.00","receipt_amount":"88.88","send_pay_date":"2024-05-01 12:01:30","total_amount":"88.88","trade_no":"2024050122001446880500012345","trade_status":"TRADE_SUCCESS"},"sign":"loI2uZ1ZMZHeU5KsCqxkGLMYYIIBde9N1heqeeFvl/MoMYntUg+ZZrRG2WiXJxYkRiOXCL26cyI/BGhR3P2AkUgLgYcjcqDTXRxY1L4jm7XeDFeY572Y9l30yutQ61k88nEY0TFbhgidxGg8tZ1ltSMaRI17rbEEpr+CHUbXGpxIDTEtsL6Za8LauitCeEH+kK225+GXSIswXXNCDOZbu83q9rJVCEfJ0CtkZaJxrMLNlGEr5rvGBaG0m8LbkDExJhaUcXd1MBRR9UE2E+clP6RhJJoy+Yyr0+yXHqubgwrQyCy4waRiBa9jCI/5rIFj0bHDBTWYsI0VHSCf6pSoIA=="}"#
        );
    }

    /// Spec §15.2: the emulator-signed `ACQ.TRADE_NOT_EXIST` answer, byte for byte.
    #[test]
    fn reproduces_the_spec_not_exist_response() {
        let map: Map<String, Value> =
            serde_json::from_str(r#"{"out_trade_no":"ORDER_X"}"#).unwrap();
        let node = decorate_error(
            GatewayMethod::Query,
            &Biz(&map),
            error_node(TradeError::NotExist.into()),
        );
        assert_eq!(
            envelope("alipay.trade.query", &node),
            r#"{"alipay_trade_query_response":{"code":"40004","msg":"Business Failed","sub_code":"ACQ.TRADE_NOT_EXIST","sub_msg":"交易不存在","buyer_pay_amount":"0.00","invoice_amount":"0.00","out_trade_no":"ORDER_X","point_amount":"0.00","receipt_amount":"0.00"},"sign":"IRlQbodmC+0wEREDkfNE2f2xlfaynPCwW3sqBt+tFxKxq5To43m5Jh30qtoNzg6sSJ72ArWV9YCARCSCbjmeJmBZvWY75ffvEIWDVw3JXlaZ2Xz9lzPLJIg+z1DrzV3g//phbPjNkzvGCsJAmvYF6VQ2ZFLT1pN/fhOVNm6gLjUhiAmFVqoua8UcQLKkfLWhUmgOvpBTjJ5pZk6vuVwZ8Ce7pdRnL56UhSbzUF1rCjNe/vYDxHcE1nNptPXnlux7vCWlcs370n9lo2WCn2ILKBk8XjmIDkeMxQtu0xbSMbsHhBRjLdcAEnF8pWpzo1sSG5JWLuiIPFz4/kHIq76XkA=="}"#
        );
    }

    #[test]
    fn amounts_may_be_numbers_but_not_floats_with_three_decimals() {
        let map: Map<String, Value> =
            serde_json::from_str(r#"{"a":"88.88","b":100,"c":0.1,"d":1.001,"e":[1]}"#).unwrap();
        let biz = Biz(&map);
        assert_eq!(biz.money("a").unwrap(), Some(Money::from_fen(8888)));
        assert_eq!(biz.money("b").unwrap(), Some(Money::from_yuan(100)));
        assert_eq!(biz.money("c").unwrap(), Some(Money::from_fen(10)));
        assert!(biz.money("d").is_err());
        assert!(biz.money("e").is_err());
        assert_eq!(biz.money("missing").unwrap(), None);
    }
}
