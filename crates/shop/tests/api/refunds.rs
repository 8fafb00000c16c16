use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::spawn_app;

#[tokio::test]
async fn partial_then_full_refunds_and_the_courses_are_no_longer_owned() {
    let app = spawn_app().await;
    let buyer = app.buyer("alice").await;
    let admin = app.operator("admin").await;
    let order = app.order(&buyer, &[1, 2]).await;
    let no = order["out_trade_no"].as_str().unwrap();
    app.pay(&order).await;
    app.wait_for_status(&buyer, no, "paid").await;
    let path = format!("/api/admin/orders/{no}/refunds");

    // Not for buyers.
    let (status, _) = app
        .post(&path, Some(&buyer.token), json!({"amount": "1.00"}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Never above what was paid.
    let (status, body) = app
        .post(&path, Some(&admin.token), json!({"amount": "337.01"}))
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("refund_too_large"))
    );

    let (status, first) = app
        .post(
            &path,
            Some(&admin.token),
            json!({"amount": "100.00", "reason": "partial"}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{first}");
    assert_eq!(first["status"], "pending");
    shop::jobs::outbox_once(&app.ctx).await.unwrap();
    let (_, detail) = app
        .get(&format!("/api/orders/{no}"), Some(&buyer.token))
        .await;
    assert_eq!(detail["status"], "paid");
    assert_eq!(detail["refunded_amount"], "100.00");
    assert_eq!(detail["refunds"][0]["status"], "succeeded");

    let (status, body) = app
        .post(&path, Some(&admin.token), json!({"amount": "237.01"}))
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("refund_too_large"))
    );
    let (status, _) = app
        .post(
            &path,
            Some(&admin.token),
            json!({"amount": "237.00", "reason": "rest"}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    shop::jobs::outbox_once(&app.ctx).await.unwrap();

    assert_eq!(app.order_status(&buyer, no).await, "refunded");
    assert!(app.owned_courses(&buyer).await.is_empty());
    let (_, trade) = app.get(&format!("/sandbox/api/trades/{no}"), None).await;
    assert_eq!(
        trade["trade_status"], "TRADE_CLOSED",
        "fully refunded at Alipay too"
    );
    // Refund notifications from Alipay find the refunds already settled: nothing changes twice.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(
        app.count("SELECT COUNT(*) FROM payment_events WHERE kind = 'refunded'")
            .await,
        1
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM payment_events WHERE kind = 'refund_succeeded'")
            .await,
        2
    );
}

#[tokio::test]
async fn a_retried_refund_request_is_the_same_refund() {
    let app = spawn_app().await;
    let buyer = app.buyer("alice").await;
    let admin = app.operator("admin").await;
    let order = app.order(&buyer, &[1]).await;
    let no = order["out_trade_no"].as_str().unwrap();
    app.pay(&order).await;
    app.wait_for_status(&buyer, no, "paid").await;
    let send = || {
        app.http
            .post(app.url(&format!("/api/admin/orders/{no}/refunds")))
            .bearer_auth(&admin.token)
            .header("idempotency-key", "refund-1")
            .json(&json!({"amount": "38.00", "reason": "sorry"}))
            .send()
    };
    let a: serde_json::Value = send().await.unwrap().json().await.unwrap();
    let b: serde_json::Value = send().await.unwrap().json().await.unwrap();
    assert_eq!(a["out_request_no"], b["out_request_no"]);
    assert_eq!(app.count("SELECT COUNT(*) FROM refunds").await, 1);
}

#[tokio::test]
async fn an_ambiguous_refund_is_retried_with_the_same_request_number() {
    let app = spawn_app().await;
    let buyer = app.buyer("alice").await;
    let admin = app.operator("admin").await;
    let order = app.order(&buyer, &[1]).await;
    let no = order["out_trade_no"].as_str().unwrap();
    app.pay(&order).await;
    app.wait_for_status(&buyer, no, "paid").await;
    let (status, _) = app
        .post(
            "/sandbox/api/faults",
            None,
            json!({"kind": "fail_api", "count": 2}),
        )
        .await;
    assert!(status.is_success());
    let (_, refund) = app
        .post(
            &format!("/api/admin/orders/{no}/refunds"),
            Some(&admin.token),
            json!({"amount": "138.00"}),
        )
        .await;

    let pass = shop::jobs::outbox_once(&app.ctx).await.unwrap();
    assert_eq!(pass.jobs_retried, 1);
    assert_eq!(app.order_status(&buyer, no).await, "paid");
    sqlx::query("UPDATE jobs SET run_at = 0")
        .execute(app.ctx.db.reader())
        .await
        .unwrap();
    let pass = shop::jobs::outbox_once(&app.ctx).await.unwrap();
    assert_eq!(pass.jobs_done, 1);
    assert_eq!(app.order_status(&buyer, no).await, "refunded");
    let (_, trade) = app.get(&format!("/sandbox/api/trades/{no}"), None).await;
    let refunds = trade["refunds"].as_array().unwrap();
    assert_eq!(refunds.len(), 1, "one refund at Alipay: {trade}");
    assert_eq!(refunds[0]["out_request_no"], refund["out_request_no"]);
}
