//! The legacy `mapi` gateway (deprecated at Alipay), so that shops still on the MD5 "即时到账"
//! interface can be run, tested and migrated (spec §13).
//!
//! It shares `/gateway.do` with the OpenAPI gateway: a request that names a `service` and no
//! `method` comes here.
//!
//! * `service=create_direct_pay_by_user`: partner, `_input_charset` (utf-8), `sign_type=MD5` and
//!   the MD5 signature (`md5(prestr + key)`, [`alipay::legacy`]), `payment_type=1`, the seller
//!   (`seller_id`, `seller_email` or `seller_account_name`, which must be the partner's), the
//!   order; then the same cashier as page pay. Refusals are an HTML page with Alipay's legacy
//!   codes (`ILLEGAL_PARTNER`, `ILLEGAL_SIGN`, `ILLEGAL_ARGUMENT`...).
//! * After payment: a GET to `return_url` (`is_success=T`, `exterface`, `trade_status`,
//!   `notify_id`...) and a POST to `notify_url` on Alipay's retry schedule, both MD5-signed with
//!   the partner's key. No notification for closed trades (the interface's default).
//! * `service=notify_verify` (and the old `/trade/notify_query.do`): `true` only for a `notify_id`
//!   the sandbox really sent to that partner, not yet acknowledged with `success`, sent at most
//!   [`NOTIFY_ID_TTL`] ago; `false` for anything else.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use alipay::Money;
use alipay::content::{self, Params};
use alipay::legacy::{self, Md5Key};
use axum::extract::{RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use minijinja::context;
use time::OffsetDateTime;

use crate::Shared;
use crate::apps::Partner;
use crate::error::SandboxError;
use crate::store;
use crate::trades::{Order, Origin, Trade, TradeState};

/// The `sign_type` of legacy notifications (and of their rows in the notifications table).
pub(crate) const SIGN_TYPE: &str = "MD5";

/// How long after it was sent a `notify_id` stays verifiable (the old documentation's minute,
/// made generous for slow test machines).
pub const NOTIFY_ID_TTL: Duration = Duration::from_secs(5 * 60);

/// A refusal: one of the legacy error codes and a reason.
struct Refusal {
    code: &'static str,
    reason: String,
    content: Option<String>,
}

fn refuse(code: &'static str, reason: impl Into<String>) -> Refusal {
    Refusal {
        code,
        reason: reason.into(),
        content: None,
    }
}

/// `/gateway.do` with a `service`.
pub(crate) async fn gateway(shared: &Shared, params: Params) -> Response {
    match params.get("service").map(String::as_str) {
        Some("create_direct_pay_by_user") => match direct_pay(shared, &params).await {
            Ok(response) => response,
            Err(refusal) => refusal_page(shared, &refusal),
        },
        Some("notify_verify") => notify_verify(shared, &params).await,
        other => refusal_page(
            shared,
            &refuse(
                "ILLEGAL_SERVICE",
                format!(
                    "服务接口名称无效 Service {:?} is not offered by this sandbox (create_direct_pay_by_user, notify_verify)",
                    other.unwrap_or_default()
                ),
            ),
        ),
    }
}

fn refusal_page(shared: &Shared, refusal: &Refusal) -> Response {
    tracing::info!(
        code = refusal.code,
        "mapi request refused: {}",
        refusal.reason
    );
    crate::cashier::render(
        shared,
        "message.html",
        context! {
            title => "支付请求有误 Payment request refused",
            tone => "bad",
            lead => "商户的即时到账请求未通过网关校验。The merchant's create_direct_pay_by_user request did not pass the gateway's checks.",
            code => refusal.code,
            sub_msg => refusal.reason,
            content => refusal.content,
        },
    )
}

fn non_empty<'a>(params: &'a Params, key: &str) -> Option<&'a str> {
    params
        .get(key)
        .map(String::as_str)
        .filter(|v| !v.trim().is_empty())
}

async fn partner_of(shared: &Shared, params: &Params) -> Result<Partner, Refusal> {
    let id = non_empty(params, "partner")
        .ok_or_else(|| refuse("ILLEGAL_PARTNER", "合作伙伴ID不能为空 partner is missing"))?;
    let found = async {
        let mut conn = shared.store.conn().await?;
        store::partner(&mut conn, id).await
    }
    .await
    .map_err(|error| {
        tracing::error!(%error, "looking up a partner failed");
        refuse("SYSTEM_ERROR", "系统繁忙")
    })?;
    found.ok_or_else(|| {
        refuse(
            "ILLEGAL_PARTNER",
            format!(
                "合作伙伴没有开通接口访问权限 partner {id} is not registered (POST /api/partners)"
            ),
        )
    })
}

async fn direct_pay(shared: &Shared, params: &Params) -> Result<Response, Refusal> {
    let partner = partner_of(shared, params).await?;
    if let Some(charset) = params.get("_input_charset")
        && !matches!(charset.to_ascii_lowercase().as_str(), "utf-8" | "utf8")
    {
        return Err(refuse(
            "ILLEGAL_CHARSET",
            format!("字符集不合法 _input_charset {charset} (the sandbox speaks utf-8 only)"),
        ));
    }
    match non_empty(params, "sign_type") {
        Some(sign_type) if sign_type.eq_ignore_ascii_case(SIGN_TYPE) => {}
        Some(other) => {
            return Err(refuse(
                "ILLEGAL_SIGN_TYPE",
                format!("签名类型不正确 sign_type {other}: this sandbox verifies MD5 only"),
            ));
        }
        None => {
            return Err(refuse(
                "ILLEGAL_SIGN_TYPE",
                "签名类型不能为空 sign_type is missing",
            ));
        }
    }
    if let Err(error) = legacy::verify_md5(params, &partner.md5_key) {
        return Err(Refusal {
            code: "ILLEGAL_SIGN",
            reason: format!("签名不正确 {error}: md5(prestr + key) differs; prestr is shown below"),
            content: Some(legacy::sign_content(params)),
        });
    }
    if non_empty(params, "payment_type") != Some("1") {
        return Err(refuse(
            "ILLEGAL_ARGUMENT",
            "参数payment_type不正确 payment_type must be 1",
        ));
    }
    let sellers = [
        non_empty(params, "seller_id"),
        non_empty(params, "seller_email"),
        non_empty(params, "seller_account_name"),
    ];
    if sellers.iter().all(Option::is_none) {
        return Err(refuse(
            "ILLEGAL_ARGUMENT",
            "seller_id、seller_email、seller_account_name 不能同时为空",
        ));
    }
    if let Some(seller) = sellers
        .iter()
        .flatten()
        .find(|s| **s != partner.partner && **s != partner.seller_email)
    {
        return Err(refuse(
            "ILLEGAL_ARGUMENT",
            format!(
                "卖家信息与合作伙伴不一致 seller {seller} is not partner {} ({})",
                partner.partner, partner.seller_email
            ),
        ));
    }
    let order = order(params)?;
    match shared.open_direct_pay(&partner, &order).await {
        Ok(trade) => Ok(crate::cashier::cashier_page(
            shared,
            &partner.display_name(),
            &trade,
            "",
            None,
        )),
        Err(SandboxError::Trade(error)) => Err(refuse(
            "ILLEGAL_ARGUMENT",
            format!(
                "{} ({})",
                error.sub_msg(),
                error.sub_code().trim_start_matches("ACQ.")
            ),
        )),
        Err(error) => {
            tracing::error!(%error, "create_direct_pay_by_user failed");
            Err(refuse("SYSTEM_ERROR", "系统繁忙"))
        }
    }
}

fn order(params: &Params) -> Result<Order, Refusal> {
    let invalid = |reason: String| refuse("ILLEGAL_ARGUMENT", reason);
    let out_trade_no = non_empty(params, "out_trade_no")
        .ok_or_else(|| invalid("参数out_trade_no不能为空".into()))?;
    alipay::pay::check_out_trade_no(out_trade_no).map_err(invalid)?;
    let subject =
        non_empty(params, "subject").ok_or_else(|| invalid("参数subject不能为空".into()))?;
    if subject.chars().count() > 256 {
        return Err(invalid("subject 超过 256 个字符".into()));
    }
    let money = |key: &str| -> Result<Option<Money>, Refusal> {
        non_empty(params, key)
            .map(|text| {
                text.parse::<Money>()
                    .map_err(|e| invalid(format!("参数{key}格式错误: {e}")))
            })
            .transpose()
    };
    let total = match (
        money("total_fee")?,
        money("price")?,
        non_empty(params, "quantity"),
    ) {
        (Some(total), _, _) => total,
        (None, Some(price), Some(quantity)) => {
            let quantity: i64 = quantity
                .parse()
                .ok()
                .filter(|q| *q > 0)
                .ok_or_else(|| invalid(format!("参数quantity不正确: {quantity}")))?;
            price
                .fen()
                .checked_mul(quantity)
                .and_then(|fen| Money::try_from_fen(fen).ok())
                .ok_or_else(|| invalid("price × quantity is too large".into()))?
        }
        _ => return Err(invalid("total_fee（或 price 与 quantity）不能为空".into())),
    };
    if !total.is_valid_trade_amount() {
        return Err(refuse(
            "TOTAL_FEE_EXCEED",
            format!("total_fee {total} must be between 0.01 and 100000000.00"),
        ));
    }
    let url = |key: &str| -> Result<Option<String>, Refusal> {
        match non_empty(params, key) {
            None => Ok(None),
            Some(url)
                if (url.starts_with("http://") || url.starts_with("https://"))
                    && url.len() <= 256 =>
            {
                Ok(Some(url.to_owned()))
            }
            Some(_) => Err(invalid(format!(
                "{key} must be an http(s) URL of at most 256 characters"
            ))),
        }
    };
    Ok(Order {
        origin: Origin::Legacy,
        out_trade_no: out_trade_no.to_owned(),
        total_amount: total,
        subject: subject.to_owned(),
        body: non_empty(params, "body").map(str::to_owned),
        product_code: None,
        passback_params: non_empty(params, "extra_common_param").map(str::to_owned),
        notify_url: url("notify_url")?,
        return_url: url("return_url")?,
        quit_url: None,
        timeout_express: non_empty(params, "it_b_pay").map(str::to_owned),
        time_expire: None,
    })
}

/// `service=notify_verify`: `true` or `false`, plain text.
async fn notify_verify(shared: &Shared, params: &Params) -> Response {
    let genuine = match (non_empty(params, "partner"), non_empty(params, "notify_id")) {
        (Some(partner), Some(notify_id)) => {
            let now = store::to_ms(alipay::time::now());
            let ttl = i64::try_from(NOTIFY_ID_TTL.as_millis()).unwrap_or(i64::MAX);
            let result = async {
                let mut conn = shared.store.conn().await?;
                store::notify_id_is_genuine(&mut conn, partner, notify_id, now, ttl).await
            }
            .await;
            match result {
                Ok(genuine) => genuine,
                Err(error) => {
                    tracing::error!(%error, "notify_verify failed");
                    false
                }
            }
        }
        _ => false,
    };
    (
        [(header::CONTENT_TYPE, "text/plain;charset=utf-8")],
        if genuine { "true" } else { "false" },
    )
        .into_response()
}

/// `GET /trade/notify_query.do?partner=…&notify_id=…`, the old http variant of notify_verify.
pub(crate) async fn notify_query(
    State(shared): State<Arc<Shared>>,
    RawQuery(query): RawQuery,
) -> Response {
    let params = content::parse_form(query.unwrap_or_default().as_bytes()).unwrap_or_default();
    notify_verify(&shared, &params).await
}

/// The fields of a legacy payment notification, all but `notify_time`, `sign_type` and `sign`.
#[must_use]
pub(crate) fn notification_fields(partner: &Partner, trade: &Trade, notify_id: &str) -> Params {
    let mut params = common_fields(partner, trade);
    params.insert("notify_type".into(), "trade_status_sync".into());
    params.insert("notify_id".into(), notify_id.into());
    params.insert("quantity".into(), "1".into());
    params.insert("price".into(), trade.total_amount.to_string());
    params.insert("discount".into(), "0.00".into());
    params.insert("is_total_fee_adjust".into(), "N".into());
    params.insert("use_coupon".into(), "N".into());
    params.insert("gmt_create".into(), alipay::time::format(trade.gmt_create));
    if let Some(paid_at) = trade.gmt_payment {
        params.insert("gmt_payment".into(), alipay::time::format(paid_at));
    }
    if trade.state == TradeState::TradeClosed
        && let Some(closed_at) = trade.gmt_close
    {
        params.insert("gmt_close".into(), alipay::time::format(closed_at));
    }
    params
}

fn common_fields(partner: &Partner, trade: &Trade) -> Params {
    let mut params = BTreeMap::new();
    let mut put = |k: &str, v: Option<String>| {
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            params.insert(k.to_owned(), v);
        }
    };
    put("out_trade_no", Some(trade.out_trade_no.clone()));
    put("trade_no", Some(trade.trade_no.clone()));
    put("subject", Some(trade.subject.clone()));
    put("body", trade.body.clone());
    put("payment_type", Some("1".into()));
    put(
        "trade_status",
        Some(trade.state.wire().unwrap_or("WAIT_BUYER_PAY").into()),
    );
    put("total_fee", Some(trade.total_amount.to_string()));
    put("seller_id", Some(partner.partner.clone()));
    put("seller_email", Some(partner.seller_email.clone()));
    put("buyer_id", trade.payer.as_ref().map(|p| p.user_id.clone()));
    put(
        "buyer_email",
        trade.payer.as_ref().map(|p| p.logon_id.clone()),
    );
    put("extra_common_param", trade.passback_params.clone());
    params
}

/// Signs legacy parameters in place: `sign` (MD5) and `sign_type=MD5`.
fn sign(params: &mut Params, key: &Md5Key) {
    params.remove("sign");
    params.remove("sign_type");
    let sign = legacy::md5_sign(params, key);
    params.insert("sign".into(), sign);
    params.insert("sign_type".into(), SIGN_TYPE.into());
}

/// The form body of one legacy notification attempt at `notify_time`.
#[must_use]
pub(crate) fn notification_body(
    fields: &Params,
    notify_time: OffsetDateTime,
    key: &Md5Key,
) -> String {
    let mut params = fields.clone();
    params.insert("notify_time".into(), alipay::time::format(notify_time));
    sign(&mut params, key);
    content::query_string(&params)
}

/// `return_url` with the signed legacy return parameters; their `notify_id` is recorded so that
/// `notify_verify` confirms it.
pub(crate) async fn return_location(
    shared: &Shared,
    partner: &Partner,
    trade: &Trade,
    return_url: &str,
) -> Result<String, SandboxError> {
    let now = alipay::time::now();
    let notify_id = crate::ids::notify_id(now);
    let mut params = common_fields(partner, trade);
    params.insert("is_success".into(), "T".into());
    params.insert("exterface".into(), "create_direct_pay_by_user".into());
    params.insert("notify_id".into(), notify_id.clone());
    params.insert("notify_type".into(), "trade_status_sync".into());
    params.insert("notify_time".into(), alipay::time::format(now));
    sign(&mut params, &partner.md5_key);
    let mut conn = shared.store.conn().await?;
    store::insert_return_notify_id(
        &mut conn,
        &notify_id,
        &partner.partner,
        &trade.out_trade_no,
        store::to_ms(now),
    )
    .await?;
    Ok(crate::messages::return_location(return_url, &params))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trades::Payer;
    use time::macros::datetime;

    fn partner() -> Partner {
        Partner {
            partner: "2088101122136241".into(),
            md5_key: Md5Key::new("0123456789abcdefghijklmnopqrstuv").unwrap(),
            seller_email: "seller@sandbox.com".into(),
            name: None,
            configured: true,
        }
    }

    #[test]
    fn notifications_verify_with_the_sdk_and_carry_the_legacy_fields() {
        let trade = Trade {
            app_id: "2088101122136241".into(),
            out_trade_no: "ORDER_1".into(),
            trade_no: "2024050122001446880500012345".into(),
            origin: Origin::Legacy,
            state: TradeState::TradeSuccess,
            total_amount: Money::from_fen(1),
            subject: "测试 a+b".into(),
            body: None,
            product_code: None,
            passback_params: Some("x=1&y=2".into()),
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
                logon_id: "buyer@sandbox.com".into(),
            }),
            refund_fee: Money::ZERO,
            warning: None,
        };
        let fields = notification_fields(&partner(), &trade, "N1");
        let body = notification_body(
            &fields,
            datetime!(2024-05-01 12:01:31 +8),
            &partner().md5_key,
        );
        let client = alipay::legacy::LegacyClient::builder(
            "2088101122136241",
            Md5Key::new("0123456789abcdefghijklmnopqrstuv").unwrap(),
        )
        .build()
        .unwrap();
        let notification = client
            .verify_notification_signature(body.as_bytes())
            .unwrap();
        assert_eq!(notification.notify_id, "N1");
        assert_eq!(notification.total_fee, Some(Money::from_fen(1)));
        assert_eq!(notification.extra_common_param.as_deref(), Some("x=1&y=2"));
        assert_eq!(notification.params["subject"], "测试 a+b");
        assert_eq!(notification.params["seller_id"], "2088101122136241");
        assert_eq!(notification.params["sign_type"], "MD5");
        assert!(!notification.params.contains_key("gmt_close"));
    }
}
