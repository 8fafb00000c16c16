//! Injected faults: lost, late, doubled and reordered notifications; failing and slow APIs.

use std::time::{Duration, Instant};

use alipay::TradeStatus;
use alipay::api::{TradeQuery, TradeRef, TradeRefund};
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn a_dropped_notification_is_retried_on_schedule() {
    let app = spawn_app().await;
    app.fault(json!({"kind": "drop_notifications", "count": 1}))
        .await;
    app.open_trade("ORDER_F1", "1.00").await;
    app.pay("ORDER_F1").await;
    let received = app.receiver.wait_for(1).await;
    let deliveries = eventually("two attempts logged", || async {
        let d = app.deliveries("ORDER_F1").await;
        (d.len() == 2).then_some(d)
    })
    .await;
    assert_eq!(deliveries[0]["fault"], "dropped");
    assert!(deliveries[0]["status"].is_null());
    assert_eq!(deliveries[1]["attempt"], 2);
    assert_eq!(deliveries[1]["acknowledged"], true);
    assert_eq!(received.len(), 1);
    assert!(
        app.get_json("/api/faults")
            .await
            .1
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_delayed_notification_arrives_late() {
    let app = spawn_app().await;
    app.fault(json!({"kind": "delay_notifications", "count": 1, "delay_ms": 400}))
        .await;
    app.open_trade("ORDER_F2", "1.00").await;
    let paid_at = Instant::now();
    app.pay("ORDER_F2").await;
    let received = app.receiver.wait_for(1).await;
    assert!(received[0].at - paid_at >= Duration::from_millis(400));
}

#[tokio::test]
async fn a_duplicated_notification_arrives_twice_with_one_notify_id() {
    let app = spawn_app().await;
    app.fault(json!({"kind": "duplicate_notifications"})).await;
    app.open_trade("ORDER_F3", "1.00").await;
    app.pay("ORDER_F3").await;
    let received = app.receiver.wait_for(2).await;
    assert_eq!(
        fields(&received[0].body)["notify_id"],
        fields(&received[1].body)["notify_id"]
    );
    for r in &received {
        app.client.verify_notification(r.body.as_bytes()).unwrap();
    }
}

#[tokio::test]
async fn a_reordered_notification_is_overtaken_by_the_next_one() {
    let app = spawn_app().await;
    app.fault(json!({"kind": "reorder_notifications", "count": 1, "delay_ms": 5000}))
        .await;
    app.open_trade("ORDER_F4", "5.00").await;
    app.pay("ORDER_F4").await;
    let full = TradeRefund::new(TradeRef::out_trade_no("ORDER_F4"), money("5.00"), "R1");
    app.client.execute(&full).await.unwrap();
    let received = app.receiver.wait_for(2).await;
    let statuses: Vec<String> = received
        .iter()
        .map(|r| fields(&r.body)["trade_status"].clone())
        .collect();
    assert_eq!(statuses, ["TRADE_CLOSED", "TRADE_SUCCESS"]);
}

#[tokio::test]
async fn fail_api_answers_system_error_for_one_method_and_changes_nothing() {
    let app = spawn_app().await;
    app.open_trade("ORDER_F5", "5.00").await;
    app.pay("ORDER_F5").await;
    app.fault(json!({"kind": "fail_api", "count": 1, "method": "alipay.trade.refund"}))
        .await;
    // Other methods are untouched.
    app.client
        .execute(&TradeQuery::by_out_trade_no("ORDER_F5"))
        .await
        .unwrap();
    let refund = TradeRefund::new(TradeRef::out_trade_no("ORDER_F5"), money("5.00"), "R1");
    let error = app.client.execute(&refund).await.unwrap_err();
    assert_eq!(error.sub_code(), Some("ACQ.SYSTEM_ERROR"));
    assert!(error.is_outcome_unknown());
    let trade = app
        .client
        .execute(&TradeQuery::by_out_trade_no("ORDER_F5"))
        .await
        .unwrap();
    assert_eq!(trade.trade_status, TradeStatus::TradeSuccess);
    // The retry with the same out_request_no goes through.
    let done = app.client.execute(&refund).await.unwrap();
    assert_eq!(done.fund_change, Some(true));
}

#[tokio::test]
async fn fail_api_on_a_page_method_shows_an_error_page() {
    let app = spawn_app().await;
    app.fault(json!({"kind": "fail_api", "method": "alipay.trade.page.pay"}))
        .await;
    let page = app.open(&app.pay_link("ORDER_F6", "1.00")).await;
    assert!(page.contains("ACQ.SYSTEM_ERROR"), "{page}");
    let (status, _) = app.get_json("/api/trades/ORDER_F6").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn slow_api_answers_after_the_delay() {
    let app = spawn_app().await;
    app.fault(json!({"kind": "slow_api", "count": 1, "delay_ms": 300}))
        .await;
    let started = Instant::now();
    let _ = app
        .client
        .execute(&TradeQuery::by_out_trade_no("NOPE"))
        .await;
    assert!(started.elapsed() >= Duration::from_millis(300));
}

#[tokio::test]
async fn faults_are_listed_cleared_and_validated() {
    let app = spawn_app().await;
    app.fault(
        json!({"kind": "slow_api", "count": 3, "delay_ms": 10, "method": "alipay.trade.query"}),
    )
    .await;
    app.fault(json!({"kind": "drop_notifications", "count": 2}))
        .await;
    let (_, faults) = app.get_json("/api/faults").await;
    assert_eq!(faults.as_array().unwrap().len(), 2);
    assert_eq!(faults[0]["remaining"], 3);
    assert_eq!(faults[0]["method"], "alipay.trade.query");
    let response = app
        .http
        .delete(app.url("/api/faults"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    assert!(
        app.get_json("/api/faults")
            .await
            .1
            .as_array()
            .unwrap()
            .is_empty()
    );
    for bad in [
        json!({"kind": "explode"}),
        json!({"kind": "fail_api", "count": 0}),
        json!({"kind": "drop_notifications", "method": "alipay.trade.query"}),
        json!({"count": 1}),
    ] {
        let (status, body) = app.post_json("/api/faults", bad.clone()).await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert_eq!(body["error"], "bad_request");
    }
}

#[tokio::test]
async fn untrustworthy_answers_come_after_the_call_took_effect() {
    let app = spawn_app().await;
    app.open_trade("ORDER_F7", "7.00").await;
    app.pay("ORDER_F7").await;
    app.fault(json!({"kind": "bad_signature", "count": 1, "method": "alipay.trade.refund"}))
        .await;
    app.fault(json!({"kind": "garbled", "count": 1, "method": "alipay.trade.refund"}))
        .await;
    let refund = |no: &str| TradeRefund::new(TradeRef::out_trade_no("ORDER_F7"), money("1.00"), no);

    // Garbled first (it is checked before bad_signature): an HTML page, and the refund made.
    let error = app.client.execute(&refund("R1")).await.unwrap_err();
    assert!(error.is_outcome_unknown(), "{error:?}");
    assert!(!error.is_verified_refusal());
    assert!(
        error.to_string().contains("not an Alipay envelope"),
        "{error}"
    );
    let error = app.client.execute(&refund("R2")).await.unwrap_err();
    assert!(
        matches!(
            error,
            alipay::Error::Signature {
                kind: alipay::SignatureError::Invalid,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error.is_outcome_unknown());
    let trade = app.trade("ORDER_F7").await;
    assert_eq!(
        trade["refund_fee"], "2.00",
        "both refunds took effect: {trade}"
    );
    // Faults used up: retrying R2 with the same number is answered truthfully, once.
    let done = app.client.execute(&refund("R2")).await.unwrap();
    assert_eq!(done.fund_change, Some(false), "already refunded under R2");
    assert_eq!(app.trade("ORDER_F7").await["refund_fee"], "2.00");
}

#[tokio::test]
async fn a_refund_made_in_the_merchant_console_is_notified() {
    let app = spawn_app().await;
    app.open_trade("ORDER_F8", "8.00").await;
    app.pay("ORDER_F8").await;
    app.receiver.wait_for(1).await;
    let (status, trade) = app
        .post_json(
            "/api/trades/ORDER_F8/refund",
            json!({"refund_amount": "3.00", "out_request_no": "CONSOLE-7", "refund_reason": "客服"}),
        )
        .await;
    assert_eq!(status, 200, "{trade}");
    assert_eq!(trade["refund_fee"], "3.00");
    assert_eq!(trade["refunds"][0]["out_request_no"], "CONSOLE-7");
    let received = app.receiver.wait_for(2).await;
    let notice = fields(&received[1].body);
    assert_eq!(notice["out_biz_no"], "CONSOLE-7");
    assert_eq!(notice["refund_fee"], "3.00");
    let (status, body) = app
        .post_json(
            "/api/trades/ORDER_F8/refund",
            json!({"refund_amount": "99.00"}),
        )
        .await;
    assert!((400..500).contains(&status), "more than is left: {body}");
    let (status, _) = app
        .post_json(
            "/api/trades/NO_SUCH/refund",
            json!({"refund_amount": "1.00"}),
        )
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn reads_are_retried_when_asked_and_writes_never() {
    let app = spawn_app().await;
    app.open_trade("ORDER_F9", "9.00").await;
    app.pay("ORDER_F9").await;
    let retrying = alipay::Client::builder(
        APP_ID,
        app_private_key(),
        app.sandbox.alipay_public_key().clone(),
    )
    .gateway(alipay::Gateway::Url(app.sandbox.gateway_url()))
    .retry_reads(alipay::Retry::new(3, Duration::from_millis(5)))
    .build()
    .unwrap();

    // Two system errors in a row, then the answer: a query gets through on its third attempt.
    app.fault(json!({"kind": "fail_api", "count": 2, "method": "alipay.trade.query"}))
        .await;
    let trade = retrying
        .execute(&TradeQuery::by_out_trade_no("ORDER_F9"))
        .await
        .unwrap();
    assert_eq!(trade.trade_status, TradeStatus::TradeSuccess);

    // Without retries the same faults reach the caller, as outcome unknown.
    app.fault(json!({"kind": "fail_api", "count": 1, "method": "alipay.trade.query"}))
        .await;
    let error = app
        .client
        .execute(&TradeQuery::by_out_trade_no("ORDER_F9"))
        .await
        .unwrap_err();
    assert!(error.is_outcome_unknown());

    // A refund is sent once whatever the policy: its lost answer is for a query to settle.
    app.fault(json!({"kind": "fail_api", "count": 2, "method": "alipay.trade.refund"}))
        .await;
    let refund = TradeRefund::new(TradeRef::out_trade_no("ORDER_F9"), money("1.00"), "R9");
    let error = retrying.execute(&refund).await.unwrap_err();
    assert_eq!(error.sub_code(), Some("ACQ.SYSTEM_ERROR"));
    let (_, faults) = app.get_json("/api/faults").await;
    assert_eq!(faults[0]["remaining"], 1, "one attempt only: {faults}");
}
