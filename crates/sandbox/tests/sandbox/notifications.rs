//! Notifications: the field set, the retry schedule, redelivery, and surviving a restart.

use std::time::Duration;

use alipay::TradeStatus;
use alipay::api::{TradeQuery, TradeRef, TradeRefund};
use alipay_sandbox::SandboxConfig;

use crate::helpers::*;

#[tokio::test]
async fn a_payment_notification_has_alipays_field_set() {
    let app = spawn_app().await;
    app.open_trade("ORDER_N1", "88.88").await;
    app.pay("ORDER_N1").await;
    let received = app.receiver.wait_for(1).await;
    let params = fields(&received[0].body);
    let mut keys: Vec<&str> = params.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "app_id",
            "auth_app_id",
            "buyer_id",
            "buyer_pay_amount",
            "charset",
            "fund_bill_list",
            "gmt_create",
            "gmt_payment",
            "invoice_amount",
            "notify_id",
            "notify_time",
            "notify_type",
            "out_trade_no",
            "point_amount",
            "receipt_amount",
            "seller_id",
            "sign",
            "sign_type",
            "subject",
            "total_amount",
            "trade_no",
            "trade_status",
            "version"
        ]
    );
    assert_eq!(
        params["fund_bill_list"],
        r#"[{"amount":"88.88","fundChannel":"ALIPAYACCOUNT"}]"#
    );
    assert_eq!(params["notify_id"].len(), 34);
    assert_eq!(params["subject"], "Rust 入门课 a/b+c");
    let notification = app
        .client
        .verify_notification(received[0].body.as_bytes())
        .unwrap();
    assert_eq!(notification.app_id, APP_ID);
    assert_eq!(notification.buyer_id.as_deref(), Some("2088102177846880"));
}

#[tokio::test]
async fn notifications_are_retried_until_success_with_the_same_notify_id() {
    let app = spawn_app().await;
    app.receiver.answer(500, "oops");
    app.receiver.answer(200, "fail");
    app.open_trade("ORDER_N2", "1.00").await;
    app.pay("ORDER_N2").await;
    let received = app.receiver.wait_for(3).await;
    let ids: Vec<String> = received
        .iter()
        .map(|r| fields(&r.body)["notify_id"].clone())
        .collect();
    assert!(ids.iter().all(|id| *id == ids[0]));
    for r in &received {
        app.client.verify_notification(r.body.as_bytes()).unwrap();
    }
    // 4 minutes at time_scale 0.001 is 240 ms, then 10 minutes is 600 ms.
    assert!(received[1].at - received[0].at >= Duration::from_millis(230));
    assert!(received[2].at - received[1].at >= Duration::from_millis(590));
    let deliveries = eventually("the third attempt logged", || async {
        let d = app.deliveries("ORDER_N2").await;
        (d.len() == 3).then_some(d)
    })
    .await;
    let answers: Vec<(u64, &str)> = deliveries
        .iter()
        .map(|d| {
            (
                d["status"].as_u64().unwrap(),
                d["response"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(answers, [(500, "oops"), (200, "fail"), (200, "success")]);
    assert_eq!(deliveries[2]["attempt"], 3);
    assert_eq!(deliveries[2]["body"].as_str().unwrap(), received[2].body);
    for key in ["notify_id", "out_trade_no", "notify_url", "attempted_at"] {
        assert!(deliveries[0][key].is_string(), "{key}");
    }
    let queue = app.get_json("/api/notifications/queue").await.1;
    assert_eq!(queue[0]["state"], "acknowledged");
    assert_eq!(queue[0]["attempts"], 3);
    // Nothing more comes: the dispatcher has nothing scheduled for it.
    assert!(queue[0]["next_attempt_at"].is_null(), "{queue}");
    assert_eq!(app.receiver.received().len(), 3);
}

#[tokio::test]
async fn a_notification_is_given_up_after_eight_attempts() {
    // The whole 24-hour schedule in under a second.
    let app = spawn_with(SandboxConfig {
        time_scale: 0.00001,
        ..test_config()
    })
    .await;
    app.receiver.answer_always(503, "busy");
    app.open_trade("ORDER_N3", "1.00").await;
    app.pay("ORDER_N3").await;
    app.receiver.wait_for(8).await;
    let queue = eventually("the notification given up", || async {
        let queue = app.get_json("/api/notifications/queue").await.1;
        (queue[0]["state"] == "exhausted").then_some(queue)
    })
    .await;
    assert_eq!(queue[0]["attempts"], 8);
    assert!(
        queue[0]["next_attempt_at"].is_null(),
        "nothing scheduled: {queue}"
    );
    assert_eq!(app.receiver.received().len(), 8);
    // A manual redelivery still goes out, and its success is recorded.
    app.receiver.answer_always(200, "success");
    let (status, attempt) = app
        .post_json(
            &format!("/api/notifications/{}/deliver", queue[0]["id"]),
            serde_json::json!({}),
        )
        .await;
    assert_eq!(status, 200, "{attempt}");
    assert_eq!(attempt["attempt"], 0);
    assert_eq!(attempt["acknowledged"], true);
    assert_eq!(
        app.get_json("/api/notifications/queue").await.1[0]["state"],
        "acknowledged"
    );
}

#[tokio::test]
async fn redelivering_sends_the_same_notification_again_now() {
    let app = spawn_app().await;
    app.open_trade("ORDER_N4", "1.00").await;
    app.pay("ORDER_N4").await;
    let first = app.receiver.wait_for(1).await;
    let notify_id = fields(&first[0].body)["notify_id"].clone();
    let (status, attempt) = app
        .post_json(
            &format!("/api/notifications/{notify_id}/deliver"),
            serde_json::json!({}),
        )
        .await;
    assert_eq!(status, 200, "{attempt}");
    assert_eq!(attempt["status"], 200);
    assert_eq!(attempt["response"], "success");
    let received = app.receiver.wait_for(2).await;
    assert_eq!(fields(&received[1].body)["notify_id"], notify_id);
    let (status, _) = app
        .post_json("/api/notifications/424242/deliver", serde_json::json!({}))
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn refunds_notify_with_refund_fields() {
    let app = spawn_app().await;
    app.open_trade("ORDER_N5", "10.00").await;
    app.pay("ORDER_N5").await;
    app.receiver.wait_for(1).await;
    let part = TradeRefund::new(TradeRef::out_trade_no("ORDER_N5"), money("4.00"), "R1");
    app.client.execute(&part).await.unwrap();
    let received = app.receiver.wait_for(2).await;
    let partial = app
        .client
        .verify_notification(received[1].body.as_bytes())
        .unwrap();
    assert_eq!(partial.trade_status, Some(TradeStatus::TradeSuccess));
    assert_eq!(partial.refund_fee, Some(money("4.00")));
    assert_eq!(partial.out_biz_no.as_deref(), Some("R1"));
    assert!(fields(&received[1].body)["gmt_refund"].contains('.'));
    let rest = TradeRefund::new(TradeRef::out_trade_no("ORDER_N5"), money("6.00"), "R2");
    app.client.execute(&rest).await.unwrap();
    let received = app.receiver.wait_for(3).await;
    let full = app
        .client
        .verify_notification(received[2].body.as_bytes())
        .unwrap();
    assert_eq!(full.trade_status, Some(TradeStatus::TradeClosed));
    assert_eq!(full.refund_fee, Some(money("10.00")));
    assert!(full.gmt_close.is_some());
}

#[tokio::test]
async fn a_restarted_sandbox_keeps_its_key_and_state_and_resumes_deliveries() {
    // Arrange: a file database and key, and a merchant that is down at first.
    let dir = tempfile::tempdir().unwrap();
    let config = || SandboxConfig {
        database: Some(dir.path().join("sandbox.db")),
        key_file: Some(dir.path().join("alipay_private_key.pem")),
        time_scale: 0.01,
        ..test_config()
    };
    let app = spawn_with(config()).await;
    let key = app.sandbox.alipay_public_key().clone();
    app.receiver.answer_always(503, "down");
    app.open_trade("ORDER_N6", "1.00").await;
    app.pay("ORDER_N6").await;
    app.receiver.wait_for(1).await;
    let notify_id = fields(&app.receiver.received()[0].body)["notify_id"].clone();
    // Act: stop before the retry (4 minutes at 0.01 = 2.4 s), start again on the same files.
    let TestApp {
        sandbox, receiver, ..
    } = app;
    sandbox.shutdown().await;
    receiver.answer_always(200, "success");
    let restarted = alipay_sandbox::spawn(config()).await.unwrap();
    // Assert
    assert_eq!(restarted.alipay_public_key(), &key);
    let received = receiver.wait_for(2).await;
    assert_eq!(fields(&received[1].body)["notify_id"], notify_id);
    let client = merchant(
        &restarted,
        APP_ID,
        app_private_key(),
        alipay::SignType::Rsa2,
        &receiver.url,
    );
    client
        .verify_notification(received[1].body.as_bytes())
        .unwrap();
    let trade = client
        .execute(&TradeQuery::by_out_trade_no("ORDER_N6"))
        .await
        .unwrap();
    assert_eq!(trade.trade_status, TradeStatus::TradeSuccess);
    restarted.shutdown().await;
}
