//! What the emulator signs and sends to merchants: notification fields (spec §9.3), return URL
//! parameters (§10) and the signature over them (§9.4: every field but `sign` and `sign_type`,
//! empty values never sent, sorted, raw values). Pure functions, reproducible byte for byte.
//! The retired MD5 interface's are in [`legacy`].

pub mod bill;
pub mod legacy;

use alipay::content::{self, EmptyValues, Params};
use alipay::keys::encode_signature;
use alipay::{Money, PrivateKey, SignType};
use time::OffsetDateTime;

use crate::apps::App;
use crate::trades::{Refund, Trade, TradeState};

/// What happened to a trade, as far as notifications go (spec §9.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// The buyer paid (`TRADE_SUCCESS`).
    Paid,
    /// A refund; `TRADE_SUCCESS` while partial, `TRADE_CLOSED` once the total is refunded.
    Refunded(Refund),
    /// An unpaid trade closed (timeout, close, cancel).
    Closed,
}

/// The payment channel of every sandbox payment: the balance.
pub const FUND_CHANNEL: &str = "ALIPAYACCOUNT";

/// `gmt_refund` carries milliseconds in notifications (`2015-04-28 15:45:57.320`).
#[must_use]
pub fn format_millis(at: OffsetDateTime) -> String {
    let at = at.to_offset(alipay::time::BEIJING);
    format!("{}.{:03}", alipay::time::format(at), at.millisecond())
}

/// The fields of a notification about `event`, all but `notify_time`, `sign_type` and `sign`
/// (which each attempt adds). Fields without a value are left out, as Alipay does.
#[must_use]
pub fn notification_fields(app: &App, trade: &Trade, event: &Event, notify_id: &str) -> Params {
    let mut params = Params::new();
    let mut put = |key: &str, value: String| {
        if !value.is_empty() {
            params.insert(key.to_owned(), value);
        }
    };
    put("notify_type", "trade_status_sync".into());
    put("notify_id", notify_id.into());
    put("app_id", app.app_id.clone());
    put("auth_app_id", app.app_id.clone());
    put("charset", "utf-8".into());
    put("version", "1.0".into());
    put("trade_no", trade.trade_no.clone());
    put("out_trade_no", trade.out_trade_no.clone());
    put("seller_id", app.seller_id.clone());
    put(
        "trade_status",
        trade.state.wire().unwrap_or("WAIT_BUYER_PAY").into(),
    );
    put("total_amount", trade.total_amount.to_string());
    put("subject", trade.subject.clone());
    put("body", trade.body.clone().unwrap_or_default());
    put(
        "passback_params",
        trade.passback_params.clone().unwrap_or_default(),
    );
    put("gmt_create", alipay::time::format(trade.gmt_create));
    if let (Some(paid_at), Some(payer)) = (trade.gmt_payment, &trade.payer) {
        put("gmt_payment", alipay::time::format(paid_at));
        put("buyer_id", payer.user_id.clone());
        for key in ["buyer_pay_amount", "invoice_amount", "receipt_amount"] {
            put(key, trade.total_amount.to_string());
        }
        put("point_amount", Money::ZERO.to_string());
        put(
            "fund_bill_list",
            fund_bill_list(trade.total_amount, "fundChannel"),
        );
    }
    if let Event::Refunded(refund) = event {
        put("refund_fee", trade.refund_fee.to_string());
        put("gmt_refund", format_millis(refund.gmt_refund));
        put("out_biz_no", refund.out_request_no.clone());
    }
    if trade.state == TradeState::TradeClosed
        && let Some(closed_at) = trade.gmt_close
    {
        put("gmt_close", alipay::time::format(closed_at));
    }
    params
}

/// `fund_bill_list` as JSON text; camelCase (`fundChannel`) in notifications, snake_case
/// (`fund_channel`) in API responses (spec §17.6).
#[must_use]
pub fn fund_bill_list(amount: Money, channel_key: &str) -> String {
    format!(r#"[{{"amount":"{amount}","{channel_key}":"{FUND_CHANNEL}"}}]"#)
}

/// The parameters Alipay appends to `return_url` after a payment (no `trade_status`: the return
/// proves nothing, spec §10), signed.
#[must_use]
pub fn return_params(
    app: &App,
    trade: &Trade,
    method: &str,
    now: OffsetDateTime,
    key: &PrivateKey,
) -> Params {
    let mut params = Params::new();
    for (k, v) in [
        ("app_id", app.app_id.clone()),
        ("auth_app_id", app.app_id.clone()),
        ("charset", "utf-8".to_owned()),
        ("method", method.to_owned()),
        ("out_trade_no", trade.out_trade_no.clone()),
        ("seller_id", app.seller_id.clone()),
        ("timestamp", alipay::time::format(now)),
        ("total_amount", trade.total_amount.to_string()),
        ("trade_no", trade.trade_no.clone()),
        ("version", "1.0".to_owned()),
    ] {
        params.insert(k.to_owned(), v);
    }
    sign(&mut params, key, app.sign_type);
    params
}

/// `return_url` with the signed parameters appended (after `&` when it has a query already; the
/// merchant's own parameters are then not covered by the signature, as at Alipay).
#[must_use]
pub fn return_location(return_url: &str, params: &Params) -> String {
    let separator = if return_url.contains('?') { '&' } else { '?' };
    format!("{return_url}{separator}{}", content::query_string(params))
}

/// Signs notification or return parameters in place: `sign_type` and `sign` are (re)set, the
/// signature covering every other non-empty field (rsaCheckV1).
pub fn sign(params: &mut Params, key: &PrivateKey, sign_type: SignType) {
    params.remove("sign");
    params.remove("sign_type");
    let content = content::notify_content(params, EmptyValues::Drop);
    let signature = key.sign_bytes(sign_type, content.as_bytes());
    params.insert("sign_type".into(), sign_type.as_str().into());
    params.insert("sign".into(), encode_signature(&signature));
}

/// The form body of one notification attempt at `notify_time`.
#[must_use]
pub fn notification_body(
    fields: &Params,
    notify_time: OffsetDateTime,
    key: &PrivateKey,
    sign_type: SignType,
) -> String {
    let mut params = fields.clone();
    params.insert("notify_time".into(), alipay::time::format(notify_time));
    sign(&mut params, key, sign_type);
    content::query_string(&params)
}

/// Where "back to the merchant" goes: the wap `quit_url`, else the site of `return_url`.
pub fn merchant_link(trade: &Trade) -> Option<String> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trades::{Origin, Payer};
    use time::macros::datetime;

    fn test_alipay_key() -> PrivateKey {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../alipay/tests/data/real/test_alipay_pkcs8.pem"
        );
        PrivateKey::from_file(path).unwrap()
    }

    fn spec_app() -> App {
        App {
            app_id: "2021000000000001".into(),
            public_key: test_alipay_key().public_key().clone(),
            app_cert: None,
            sign_type: SignType::Rsa2,
            seller_id: "2088102177840000".into(),
            name: None,
            configured: false,
            aes_key: None,
        }
    }

    fn spec_trade() -> Trade {
        Trade {
            app_id: "2021000000000001".into(),
            out_trade_no: "ORDER_20240501_0001".into(),
            trade_no: "2024050122001446880500012345".into(),
            origin: Origin::Page,
            state: TradeState::TradeSuccess,
            total_amount: "88.88".parse().unwrap(),
            subject: "测试商品 Test+1".into(),
            body: None,
            product_code: Some("FAST_INSTANT_TRADE_PAY".into()),
            passback_params: None,
            notify_url: Some("https://merchant.example.com/alipay/notify".into()),
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
        }
    }

    /// Spec §15.3: the emulator-generated notification, content and signature byte for byte.
    #[test]
    fn reproduces_the_spec_notification() {
        let fields = notification_fields(
            &spec_app(),
            &spec_trade(),
            &Event::Paid,
            "2024050100222120130046880512345678",
        );
        let body = notification_body(
            &fields,
            datetime!(2024-05-01 12:01:31 +8),
            &test_alipay_key(),
            SignType::Rsa2,
        );
        let params = content::parse_form(body.as_bytes()).unwrap();
        assert_eq!(
            content::notify_content(&params, EmptyValues::Drop),
            r#"app_id=2021000000000001&auth_app_id=2021000000000001&buyer_id=2088102177846880&buyer_pay_amount=88.88&charset=utf-8&fund_bill_list=[{"amount":"88.88","fundChannel":"ALIPAYACCOUNT"}]&gmt_create=2024-05-01 12:01:20&gmt_payment=2024-05-01 12:01:30&invoice_amount=88.88&notify_id=2024050100222120130046880512345678&notify_time=2024-05-01 12:01:31&notify_type=trade_status_sync&out_trade_no=ORDER_20240501_0001&point_amount=0.00&receipt_amount=88.88&seller_id=2088102177840000&subject=测试商品 Test+1&total_amount=88.88&trade_no=2024050122001446880500012345&trade_status=TRADE_SUCCESS&version=1.0"#
        );
        assert_eq!(params["sign_type"], "RSA2");
        assert_eq!(
            params["sign"],
            "ZTnAvLn+751GmPpVwk2pmpgdhXPSzRJqx02/ClXvWi0ZGB5lZ+dFkziBW6+ie89oJ6q1GOalBRo3/JyYqVPSMhE3hGeBw9ZMyRB8KCzqgkYBTfG9gJF6F1TtKVvmjzIyhSgY9H0d7yC76Q52ITNE64A3xtwhwBKSg/1ujV1sC4Z4nySp07nKp1L5QS+9I8jQCW8GHyXecGByzhfnakr4ykWjW/MhM5kSDy2FCFgYrGmkw/rQKjMoOBcFh97uEh+HVSfPLGow818IyzlaJOPTT9UnHicHbtlLZ8gg0aMACY71XE8DNHF74x4yHq+fRPsGT3h6xSRF4o+ia3GPQNiORg=="
        );
        // The literal `+` of the subject travels as %2B, the space as `+`.
        assert!(body.contains("subject=%E6%B5%8B%E8%AF%95%E5%95%86%E5%93%81+Test%2B1"));
    }

    #[test]
    fn refund_notifications_carry_refund_fields() {
        let mut trade = spec_trade();
        trade.refund_fee = "88.88".parse().unwrap();
        trade.state = TradeState::TradeClosed;
        trade.gmt_close = Some(datetime!(2024-05-02 08:00:00.125 +8));
        let refund = Refund {
            out_request_no: "R1".into(),
            amount: "88.88".parse().unwrap(),
            reason: None,
            gmt_refund: datetime!(2024-05-02 08:00:00.125 +8),
        };
        let fields = notification_fields(&spec_app(), &trade, &Event::Refunded(refund), "N");
        assert_eq!(fields["trade_status"], "TRADE_CLOSED");
        assert_eq!(fields["refund_fee"], "88.88");
        assert_eq!(fields["gmt_refund"], "2024-05-02 08:00:00.125");
        assert_eq!(fields["gmt_close"], "2024-05-02 08:00:00");
        assert_eq!(fields["out_biz_no"], "R1");
    }

    #[test]
    fn return_params_verify_with_the_sdk() {
        let key = test_alipay_key();
        let params = return_params(
            &spec_app(),
            &spec_trade(),
            "alipay.trade.page.pay.return",
            datetime!(2024-05-01 12:01:32 +8),
            &key,
        );
        let location = return_location("https://shop.example/return", &params);
        let verified =
            alipay::notify::verify_return(&location, key.public_key(), SignType::Rsa2).unwrap();
        assert_eq!(verified.out_trade_no, "ORDER_20240501_0001");
        assert_eq!(verified.seller_id.as_deref(), Some("2088102177840000"));
        assert!(!params.contains_key("trade_status"));
    }
}
