use alipay::PrivateKey;
use reqwest::StatusCode;

use crate::helpers::{paid_fields, spawn_app};

#[tokio::test]
async fn a_forged_notification_is_refused_and_kept() {
    let app = spawn_app().await;
    let buyer = app.buyer("alice").await;
    let order = app.order(&buyer, &[1]).await;
    let no = order["out_trade_no"].as_str().unwrap();
    // Signed, but by someone other than Alipay.
    let rogue = PrivateKey::generate().unwrap();
    let body = app.signed_notification(
        &rogue,
        &paid_fields(no, "138.00", "2026112622001400000000000001"),
    );
    let (status, answer) = app.notify(&body).await;
    assert_eq!((status, answer.as_str()), (StatusCode::OK, "failure"));
    assert_eq!(app.order_status(&buyer, no).await, "unpaid");
    assert!(app.owned_courses(&buyer).await.is_empty());
    let stored: Vec<u8> =
        sqlx::query_scalar("SELECT body FROM notifications WHERE verdict = 'bad_signature'")
            .fetch_one(app.ctx.db.reader())
            .await
            .unwrap();
    assert_eq!(stored, body.as_bytes(), "kept raw, byte for byte");
}

#[tokio::test]
async fn garbage_bodies_get_failure_never_a_server_error() {
    let app = spawn_app().await;
    for body in [
        "",
        "not a form",
        "a=1&a=2",
        "sign=&out_trade_no=X",
        "%ZZ=%FF",
        &"x".repeat(60_000),
        // NUL, raw and encoded: PostgreSQL TEXT cannot hold it, the raw body is kept as bytes.
        "\0raw=\0",
        "out_trade_no=%00&notify_id=%00&sign=AAAA",
    ] {
        let (status, answer) = app.notify(body).await;
        assert_eq!(
            (status, answer.as_str()),
            (StatusCode::OK, "failure"),
            "{}",
            &body[..body.len().min(40)]
        );
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM notifications").await, 8);
    let response = app
        .http
        .post(app.url("/alipay/notify"))
        .body("x".repeat(2 * 1024 * 1024))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn a_genuine_notification_with_the_wrong_amount_is_an_anomaly_not_a_payment() {
    let app = spawn_app().await;
    let buyer = app.buyer("alice").await;
    let order = app.order(&buyer, &[1]).await;
    let no = order["out_trade_no"].as_str().unwrap();
    let body = app.signed_notification(
        &app.alipay_key(),
        &paid_fields(no, "1.38", "2026112622001400000000000002"),
    );
    let (_, answer) = app.notify(&body).await;
    assert_eq!(answer, "success", "recorded; retrying would not change it");
    assert_eq!(app.order_status(&buyer, no).await, "unpaid");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM payment_events WHERE kind = 'anomaly'")
            .await,
        1
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM notifications WHERE verdict = 'amount_mismatch'")
            .await,
        1
    );
}

#[tokio::test]
async fn notifications_for_another_app_seller_or_an_unknown_order_change_nothing() {
    let app = spawn_app().await;
    let buyer = app.buyer("alice").await;
    let order = app.order(&buyer, &[1]).await;
    let no = order["out_trade_no"].as_str().unwrap();
    let key = app.alipay_key();
    let mut other_app = paid_fields(no, "138.00", "2026112622001400000000000003");
    other_app[0].1 = "2021009999999999";
    let mut other_seller = paid_fields(no, "138.00", "2026112622001400000000000003");
    other_seller[8].1 = "2088000000000009";
    for (fields, verdict) in [
        (other_app, "wrong_app"),
        (other_seller, "wrong_seller"),
        (
            paid_fields("CSNOSUCHORDER", "138.00", "2026112622001400000000000004"),
            "unknown_order",
        ),
    ] {
        let (_, answer) = app.notify(&app.signed_notification(&key, &fields)).await;
        assert_eq!(answer, "failure", "{verdict}");
        assert_eq!(
            app.count(&format!(
                "SELECT COUNT(*) FROM notifications WHERE verdict = '{verdict}'"
            ))
            .await,
            1
        );
    }
    assert_eq!(app.order_status(&buyer, no).await, "unpaid");
}

#[tokio::test]
async fn duplicate_notifications_fulfil_once() {
    let app = spawn_app().await;
    let buyer = app.buyer("alice").await;
    let order = app.order(&buyer, &[1, 2]).await;
    let no = order["out_trade_no"].as_str().unwrap();
    app.pay(&order).await;
    app.wait_for_status(&buyer, no, "paid").await;
    let body = app.deliveries().await[0]["body"]
        .as_str()
        .unwrap()
        .to_owned();

    // The same notification, 30 times at once.
    let replies = futures_util::future::join_all((0..30).map(|_| app.notify(&body))).await;
    for (status, answer) in replies {
        assert_eq!((status, answer.as_str()), (StatusCode::OK, "success"));
    }
    // And through the sandbox's redelivery.
    let id = app.deliveries().await[0]["notify_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, _) = app
        .post(
            &format!("/sandbox/api/notifications/{id}/deliver"),
            None,
            serde_json::json!({}),
        )
        .await;
    assert!(status.is_success());

    assert_eq!(app.order_status(&buyer, no).await, "paid");
    assert_eq!(app.owned_courses(&buyer).await, vec![1, 2]);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM payment_events WHERE kind = 'paid'")
            .await,
        1
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM enrollments").await, 2);
    assert!(
        app.count("SELECT COUNT(*) FROM notifications WHERE verdict = 'duplicate'")
            .await
            >= 30
    );
}
