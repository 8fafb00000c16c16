//! What the retired MD5 interface (`mapi`, spec §13) signs and sends: the fields of its
//! notifications and returns, MD5-signed with the partner's key ([`alipay::legacy`]). Pure
//! functions, like the open API's in the parent module.

use std::collections::BTreeMap;

use alipay::content::{self, Params};
use alipay::legacy::{self, Md5Key};
use time::OffsetDateTime;

use crate::apps::Partner;
use crate::trades::{Trade, TradeState};

/// The `sign_type` of legacy notifications (and of their rows in the notifications table).
pub const SIGN_TYPE: &str = "MD5";

/// The fields of a legacy payment notification, all but `notify_time`, `sign_type` and `sign`.
#[must_use]
pub fn notification_fields(partner: &Partner, trade: &Trade, notify_id: &str) -> Params {
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
pub fn sign(params: &mut Params, key: &Md5Key) {
    params.remove("sign");
    params.remove("sign_type");
    let sign = legacy::md5_sign(params, key);
    params.insert("sign".into(), sign);
    params.insert("sign_type".into(), SIGN_TYPE.into());
}

/// The form body of one legacy notification attempt at `notify_time`.
#[must_use]
pub fn notification_body(fields: &Params, notify_time: OffsetDateTime, key: &Md5Key) -> String {
    let mut params = fields.clone();
    params.insert("notify_time".into(), alipay::time::format(notify_time));
    sign(&mut params, key);
    content::query_string(&params)
}

/// The signed parameters of a legacy return (`is_success=T`, `exterface`, `notify_id`...) at
/// `now`.
#[must_use]
pub fn return_params(
    partner: &Partner,
    trade: &Trade,
    notify_id: &str,
    now: OffsetDateTime,
) -> Params {
    let mut params = common_fields(partner, trade);
    params.insert("is_success".into(), "T".into());
    params.insert("exterface".into(), "create_direct_pay_by_user".into());
    params.insert("notify_id".into(), notify_id.to_owned());
    params.insert("notify_type".into(), "trade_status_sync".into());
    params.insert("notify_time".into(), alipay::time::format(now));
    sign(&mut params, &partner.md5_key);
    params
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trades::{Origin, Payer};
    use alipay::Money;
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
