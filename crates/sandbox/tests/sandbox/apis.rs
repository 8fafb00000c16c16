//! The trade APIs through the SDK: query, close, cancel, refund, refund query, precreate,
//! and trades that expire.

use alipay::api::{
    RefundQuery, TradeCancel, TradeClose, TradePrecreate, TradeQuery, TradeRef, TradeRefund,
};
use alipay::{SignType, TradeStatus, WebPay};
use serde_json::Value;

use crate::helpers::*;

fn refund(out_trade_no: &str, amount: &str, out_request_no: &str) -> TradeRefund {
    TradeRefund::new(
        TradeRef::out_trade_no(out_trade_no),
        money(amount),
        out_request_no,
    )
}

#[tokio::test]
async fn a_paid_trade_is_queried_refunded_in_parts_and_closed_by_the_last_refund() {
    let app = spawn_app().await;
    let trade_no = app.open_trade("ORDER_R", "100.00").await;
    app.pay("ORDER_R").await;

    let trade = app
        .client
        .execute(&TradeQuery::by_trade_no(&trade_no))
        .await
        .unwrap();
    assert_eq!(trade.trade_status, TradeStatus::TradeSuccess);
    assert_eq!(trade.total_amount, money("100.00"));
    assert_eq!(trade.buyer_pay_amount, Some(money("100.00")));
    assert_eq!(trade.buyer_user_id.as_deref(), Some("2088102177846880"));
    assert!(trade.send_pay_date.is_some());
    assert_eq!(trade.fund_bill_list[0].fund_channel, "ALIPAYACCOUNT");

    let first = app
        .client
        .execute(&refund("ORDER_R", "30.00", "R1").reason("坏了"))
        .await
        .unwrap();
    assert_eq!(first.fund_change, Some(true));
    assert_eq!(first.refund_fee, money("30.00"));
    // The same request again: idempotent, no money moves.
    let again = app
        .client
        .execute(&refund("ORDER_R", "30.00", "R1"))
        .await
        .unwrap();
    assert_eq!(again.fund_change, Some(false));
    assert_eq!(again.refund_fee, money("30.00"));
    for (amount, no, sub_code) in [
        ("31.00", "R1", "ACQ.DISCORDANT_REPEAT_REQUEST"),
        ("70.01", "R2", "ACQ.REASON_TRADE_REFUND_FEE_ERR"),
    ] {
        let error = app
            .client
            .execute(&refund("ORDER_R", amount, no))
            .await
            .unwrap_err();
        assert_eq!(error.sub_code(), Some(sub_code));
    }
    assert_eq!(
        app.client
            .execute(&TradeQuery::by_out_trade_no("ORDER_R"))
            .await
            .unwrap()
            .trade_status,
        TradeStatus::TradeSuccess
    );
    let last = app
        .client
        .execute(&refund("ORDER_R", "70.00", "R2"))
        .await
        .unwrap();
    assert_eq!(last.refund_fee, money("100.00"));
    assert_eq!(
        app.client
            .execute(&TradeQuery::by_out_trade_no("ORDER_R"))
            .await
            .unwrap()
            .trade_status,
        TradeStatus::TradeClosed
    );
    let error = app
        .client
        .execute(&refund("ORDER_R", "0.01", "R3"))
        .await
        .unwrap_err();
    assert_eq!(error.sub_code(), Some("ACQ.TRADE_STATUS_ERROR"));

    let r1 = app
        .client
        .execute(&RefundQuery::new(TradeRef::out_trade_no("ORDER_R"), "R1"))
        .await
        .unwrap();
    assert!(r1.is_refunded());
    assert_eq!(r1.refund_amount, Some(money("30.00")));
    assert_eq!(r1.total_amount, Some(money("100.00")));
    let unknown = app
        .client
        .execute(&RefundQuery::new(TradeRef::out_trade_no("ORDER_R"), "R9"))
        .await
        .unwrap();
    assert!(!unknown.is_refunded());
    assert_eq!(unknown.out_request_no.as_deref(), Some("R9"));

    let error = app
        .client
        .execute(&TradeClose::by_out_trade_no("ORDER_R"))
        .await
        .unwrap_err();
    assert_eq!(error.sub_code(), Some("ACQ.TRADE_STATUS_ERROR"));
    let detail = app.trade("ORDER_R").await;
    assert_eq!(detail["refunds"].as_array().unwrap().len(), 2);
    assert_eq!(detail["close_reason"], "refunded");
    // The buyer got the money back.
    assert_eq!(
        app.get_json("/api/buyers").await.1[0]["balance"],
        "1000000.00"
    );
}

#[tokio::test]
async fn refunds_are_refused_for_unpaid_trades_and_partial_ones_need_an_out_request_no() {
    let app = spawn_app().await;
    app.open_trade("ORDER_U", "10.00").await;
    let error = app
        .client
        .execute(&refund("ORDER_U", "10.00", "R1"))
        .await
        .unwrap_err();
    assert_eq!(error.sub_code(), Some("ACQ.TRADE_STATUS_ERROR"));
    let error = app
        .client
        .execute(&refund("NOPE", "10.00", "R1"))
        .await
        .unwrap_err();
    assert_eq!(error.sub_code(), Some("ACQ.TRADE_NOT_EXIST"));
    app.pay("ORDER_U").await;
    // Without out_request_no, only the full amount (spec §7.8); the node still carries zeros.
    let signed = app.signed(
        "alipay.trade.refund",
        r#"{"out_trade_no":"ORDER_U","refund_amount":"1.00"}"#,
        &[],
    );
    let body = app.post_gateway(&signed).await;
    let node = app.node("alipay.trade.refund", &body);
    assert_eq!(node["sub_code"], "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL");
    assert_eq!(node["refund_fee"], "0.00");
    let signed = app.signed(
        "alipay.trade.refund",
        r#"{"out_trade_no":"ORDER_U","refund_amount":10}"#,
        &[],
    );
    let body = app.post_gateway(&signed).await;
    let answer: alipay::api::TradeRefundResponse = app
        .client
        .read_response("alipay.trade.refund", &body)
        .unwrap();
    assert_eq!(answer.refund_fee, money("10.00"));
    // That refund is known under the out_trade_no.
    let known = app
        .client
        .execute(&RefundQuery::new(
            TradeRef::out_trade_no("ORDER_U"),
            "ORDER_U",
        ))
        .await
        .unwrap();
    assert!(known.is_refunded());
}

#[tokio::test]
async fn closing_an_unpaid_trade_notifies_trade_closed_and_stops_payment() {
    let app = spawn_app().await;
    let error = app
        .client
        .execute(&TradeClose::by_out_trade_no("ORDER_X"))
        .await
        .unwrap_err();
    assert_eq!(error.sub_code(), Some("ACQ.TRADE_NOT_EXIST"));
    let trade_no = app.open_trade("ORDER_X", "10.00").await;
    let closed = app
        .client
        .execute(&TradeClose::by_out_trade_no("ORDER_X").notify_url(&app.receiver.url))
        .await
        .unwrap();
    assert_eq!(closed.trade_no.as_deref(), Some(trade_no.as_str()));
    let received = app.receiver.wait_for(1).await;
    let notification = app
        .client
        .verify_notification(received[0].body.as_bytes())
        .unwrap();
    assert_eq!(notification.trade_status, Some(TradeStatus::TradeClosed));
    assert!(notification.gmt_close.is_some());
    assert!(notification.gmt_payment.is_none());
    let (status, body) = app
        .post_json("/api/trades/ORDER_X/pay", serde_json::json!({}))
        .await;
    assert_eq!(status, 409);
    assert_eq!(body["sub_code"], "ACQ.TRADE_HAS_CLOSE");
    let page = app.open(&app.pay_link("ORDER_X", "10.00")).await;
    assert!(page.contains("ACQ.TRADE_HAS_CLOSE"));
}

#[tokio::test]
async fn cancel_closes_an_unpaid_trade_and_refunds_a_paid_one() {
    let app = spawn_app().await;
    app.open_trade("ORDER_K1", "10.00").await;
    let cancelled = app
        .client
        .execute(&TradeCancel::by_out_trade_no("ORDER_K1"))
        .await
        .unwrap();
    assert_eq!(cancelled.action.as_deref(), Some("close"));
    assert_eq!(cancelled.retry_flag, Some(false));
    app.open_trade("ORDER_K2", "20.00").await;
    app.pay("ORDER_K2").await;
    let cancelled = app
        .client
        .execute(&TradeCancel::by_out_trade_no("ORDER_K2"))
        .await
        .unwrap();
    assert_eq!(cancelled.action.as_deref(), Some("refund"));
    let trade = app
        .client
        .execute(&TradeQuery::by_out_trade_no("ORDER_K2"))
        .await
        .unwrap();
    assert_eq!(trade.trade_status, TradeStatus::TradeClosed);
    // Cancelling again changes nothing and says what was done.
    let again = app
        .client
        .execute(&TradeCancel::by_out_trade_no("ORDER_K2"))
        .await
        .unwrap();
    assert_eq!(again.action.as_deref(), Some("refund"));
    // Close of K1, payment and refund of K2: three notifications.
    let received = app.receiver.wait_for(3).await;
    let statuses: Vec<_> = received
        .iter()
        .map(|r| fields(&r.body)["trade_status"].clone())
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| *s == "TRADE_CLOSED").count(),
        2,
        "{statuses:?}"
    );
}

#[tokio::test]
async fn a_precreated_qr_code_exists_once_scanned() {
    let app = spawn_app().await;
    let qr = app
        .client
        .execute(
            &TradePrecreate::new("ORDER_QR", money("12.34"), "扫码课程")
                .notify_url(&app.receiver.url),
        )
        .await
        .unwrap();
    assert!(
        qr.qr_code
            .starts_with(&format!("{}/qr/bax", app.sandbox.base_url())),
        "{}",
        qr.qr_code
    );
    let error = app
        .client
        .execute(&TradeQuery::by_out_trade_no("ORDER_QR"))
        .await
        .unwrap_err();
    assert_eq!(error.sub_code(), Some("ACQ.TRADE_NOT_EXIST"));
    // The same order again gives the same code.
    let again = app
        .client
        .execute(&TradePrecreate::new("ORDER_QR", money("12.34"), "扫码课程"))
        .await
        .unwrap();
    assert_eq!(again.qr_code, qr.qr_code);
    let page = app
        .http
        .get(&qr.qr_code)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains(r#"id="pay""#) && page.contains("12.34"));
    assert!(page.contains(r#"action="../cashier/"#), "{page}");
    let trade = app
        .client
        .execute(&TradeQuery::by_out_trade_no("ORDER_QR"))
        .await
        .unwrap();
    assert_eq!(trade.trade_status, TradeStatus::WaitBuyerPay);
    app.pay("ORDER_QR").await;
    let error = app
        .client
        .execute(&TradePrecreate::new("ORDER_QR", money("12.34"), "扫码课程"))
        .await
        .unwrap_err();
    assert_eq!(error.sub_code(), Some("ACQ.TRADE_HAS_SUCCESS"));
    // The raw response escapes `/` in the QR URL, as Alipay does, and the SDK verified it.
    let signed = app.signed(
        "alipay.trade.precreate",
        r#"{"out_trade_no":"ORDER_QR2","total_amount":"1.00","subject":"s"}"#,
        &[],
    );
    let body = app.post_gateway(&signed).await;
    assert!(body.contains(r#""qr_code":"http:\/\/127.0.0.1:"#), "{body}");
}

#[tokio::test]
async fn unpaid_trades_close_when_their_time_expires() {
    let app = spawn_app().await;
    // Whole seconds on the wire: the trade lives 2 to 3 seconds.
    let expire = alipay::time::now() + std::time::Duration::from_secs(3);
    let link = app
        .client
        .web_pay(&WebPay::page("ORDER_T", money("1.00"), "s").time_expire(expire))
        .unwrap();
    app.open(&link).await;
    assert_eq!(app.trade("ORDER_T").await["trade_status"], "WAIT_BUYER_PAY");
    // The background task closes it without anyone asking, and tells the merchant.
    let received = app.receiver.wait_for(1).await;
    assert_eq!(fields(&received[0].body)["trade_status"], "TRADE_CLOSED");
    let trade = app
        .client
        .execute(&TradeQuery::by_out_trade_no("ORDER_T"))
        .await
        .unwrap();
    assert_eq!(trade.trade_status, TradeStatus::TradeClosed);
    let (status, body) = app
        .post_json("/api/trades/ORDER_T/pay", serde_json::json!({}))
        .await;
    assert_eq!(
        (status, body["sub_code"].as_str()),
        (409, Some("ACQ.TRADE_HAS_CLOSE"))
    );
    // A page-pay order closed by timeout can be paid again by reopening the cashier.
    let again = app
        .client
        .web_pay(&WebPay::page("ORDER_T", money("1.00"), "s"))
        .unwrap();
    assert!(app.open(&again).await.contains(r#"id="pay""#));
    assert_eq!(app.trade("ORDER_T").await["trade_status"], "WAIT_BUYER_PAY");
    app.pay("ORDER_T").await;
}

#[tokio::test]
async fn the_test_api_expires_a_trade_on_demand() {
    let app = spawn_app().await;
    app.open_trade("ORDER_E", "1.00").await;
    let (status, trade) = app
        .post_json("/api/trades/ORDER_E/expire", Value::Null)
        .await;
    assert_eq!(status, 200);
    assert_eq!(trade["trade_status"], "TRADE_CLOSED");
    assert_eq!(trade["close_reason"], "timeout");
    let received = app.receiver.wait_for(1).await;
    assert_eq!(fields(&received[0].body)["trade_status"], "TRADE_CLOSED");
    let (status, _) = app.post_json("/api/trades/ORDER_E/pay", Value::Null).await;
    assert_eq!(status, 409);
}

#[tokio::test]
async fn an_rsa_app_gets_sha1_signatures() {
    let app = spawn_app().await;
    let (status, _) = app
        .post_json(
            "/api/apps",
            serde_json::json!({
                "app_id": "2016000000000002",
                "public_key": app_public_key().to_pkcs1_pem(),
                "sign_type": "RSA"
            }),
        )
        .await;
    assert_eq!(status, 201);
    let legacy = merchant(
        &app.sandbox,
        "2016000000000002",
        app_private_key(),
        SignType::Rsa,
        &app.receiver.url,
    );
    let link = legacy
        .web_pay(&WebPay::page("ORDER_SHA1", money("2.00"), "s"))
        .unwrap();
    assert!(app.open(&link).await.contains(r#"id="pay""#));
    app.pay("ORDER_SHA1").await;
    let trade = legacy
        .execute(&TradeQuery::by_out_trade_no("ORDER_SHA1"))
        .await
        .unwrap();
    assert_eq!(trade.trade_status, TradeStatus::TradeSuccess);
    let received = app.receiver.wait_for(1).await;
    assert_eq!(fields(&received[0].body)["sign_type"], "RSA");
    legacy
        .verify_notification(received[0].body.as_bytes())
        .unwrap();
}
