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

use std::sync::Arc;
use std::time::Duration;

use alipay::Money;
use alipay::content::{self, Params};
use alipay::legacy::{self};
use axum::extract::{RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use minijinja::context;

use crate::apps::Partner;
use crate::error::SandboxError;
use crate::service::Shared;
use crate::store;
use crate::trades::{Order, Origin};

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

fn refusal_page(_shared: &Shared, refusal: &Refusal) -> Response {
    tracing::info!(
        code = refusal.code,
        "mapi request refused: {}",
        refusal.reason
    );
    crate::pages::render(
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
        Some(sign_type) if sign_type.eq_ignore_ascii_case(crate::messages::legacy::SIGN_TYPE) => {}
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
        Ok(trade) => Ok(crate::pages::cashier::cashier_page(
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
