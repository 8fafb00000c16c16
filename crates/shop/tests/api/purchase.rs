use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::spawn_app;

#[tokio::test]
async fn a_buyer_registers_orders_pays_and_owns_the_course() {
    // Arrange
    let app = spawn_app().await;
    let (status, courses) = app.get("/api/courses", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(courses.as_array().unwrap().len() >= 3);
    assert_eq!(courses[0]["price"], "138.00");
    let buyer = app.buyer("alice").await;

    // Act
    let order = app.order(&buyer, &[1, 2]).await;
    let no = order["out_trade_no"].as_str().unwrap();
    assert_eq!(order["status"], "unpaid");
    assert_eq!(order["total_amount"], "337.00");
    assert!(
        order["pay_url"]
            .as_str()
            .unwrap()
            .contains("/sandbox/gateway.do?")
    );
    let paid = app.pay(&order).await;

    // Assert: the notification makes it paid, the courses are owned, once.
    app.wait_for_status(&buyer, no, "paid").await;
    let (_, detail) = app
        .get(&format!("/api/orders/{no}"), Some(&buyer.token))
        .await;
    assert_eq!(detail["trade_no"], paid["trade"]["trade_no"]);
    assert!(detail["paid_at"].as_str().unwrap().ends_with("+08:00"));
    assert_eq!(detail["items"].as_array().unwrap().len(), 2);
    assert_eq!(app.owned_courses(&buyer).await, vec![1, 2]);
    let (_, orders) = app.get("/api/orders", Some(&buyer.token)).await;
    assert_eq!(orders.as_array().unwrap().len(), 1);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM payment_events WHERE kind = 'paid'")
            .await,
        1
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM notifications WHERE verdict = 'accepted'")
            .await,
        1
    );
}

#[tokio::test]
async fn a_tampered_price_is_refused_and_nothing_is_stored() {
    let app = spawn_app().await;
    let buyer = app.buyer("mallory").await;
    let (status, body) = app
        .post(
            "/api/orders",
            Some(&buyer.token),
            json!({"course_ids": [1], "total_amount": "0.01"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["code"], "price_mismatch");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("138.00")
    );
    assert_eq!(
        body["error"]["details"],
        serde_json::json!({"expected": "138.00", "claimed": "0.01"})
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM orders").await, 0);
}

#[tokio::test]
async fn bad_selections_get_clear_errors() {
    let app = spawn_app().await;
    let buyer = app.buyer("bob").await;
    for (body, code) in [
        (
            json!({"course_ids": [], "total_amount": "0.00"}),
            "empty_order",
        ),
        (
            json!({"course_ids": [1, 1], "total_amount": "276.00"}),
            "duplicate_course",
        ),
        (
            json!({"course_ids": [999], "total_amount": "1.00"}),
            "unknown_course",
        ),
        (
            json!({"course_ids": [1], "total_amount": 138.0}),
            "invalid_request",
        ),
        (
            json!({"course_ids": [1], "total_amount": "138.001"}),
            "invalid_request",
        ),
        (
            json!({"course_ids": "1", "total_amount": "138.00"}),
            "invalid_request",
        ),
    ] {
        let (status, answer) = app
            .post("/api/orders", Some(&buyer.token), body.clone())
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
        assert_eq!(answer["error"]["code"], code, "{body}: {answer}");
    }
    // Owning a course already.
    let order = app.order(&buyer, &[3]).await;
    app.pay(&order).await;
    app.wait_for_status(&buyer, order["out_trade_no"].as_str().unwrap(), "paid")
        .await;
    let (status, answer) = app
        .post(
            "/api/orders",
            Some(&buyer.token),
            json!({"course_ids": [3], "total_amount": "99.00"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(answer["error"]["code"], "already_owned");
    // Garbage JSON.
    let response = app
        .http
        .post(app.url("/api/orders"))
        .bearer_auth(&buyer.token)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_request");
}

#[tokio::test]
async fn another_users_order_is_invisible() {
    let app = spawn_app().await;
    let alice = app.buyer("alice").await;
    let eve = app.buyer("eve").await;
    let order = app.order(&alice, &[1]).await;
    let no = order["out_trade_no"].as_str().unwrap();
    for path in [format!("/api/orders/{no}")] {
        let (status, body) = app.get(&path, Some(&eve.token)).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(body["error"]["code"], "not_found");
    }
    let (status, _) = app
        .post(
            &format!("/api/orders/{no}/pay"),
            Some(&eve.token),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, list) = app.get("/api/orders", Some(&eve.token)).await;
    assert!(list.as_array().unwrap().is_empty());
}

#[tokio::test]
async fn an_idempotency_key_returns_the_same_order() {
    let app = spawn_app().await;
    let buyer = app.buyer("carol").await;
    let send = |total: &'static str| {
        app.http
            .post(app.url("/api/orders"))
            .bearer_auth(&buyer.token)
            .header("idempotency-key", "checkout-42")
            .json(&json!({"course_ids": [2], "total_amount": total}))
            .send()
    };
    let first = send("199.00").await.unwrap();
    assert_eq!(first.status(), StatusCode::CREATED);
    let first: serde_json::Value = first.json().await.unwrap();
    let second = send("199.00").await.unwrap();
    assert_eq!(second.status(), StatusCode::CREATED);
    assert_eq!(second.headers()["idempotent-replayed"], "true");
    let second: serde_json::Value = second.json().await.unwrap();
    assert_eq!(first["out_trade_no"], second["out_trade_no"]);
    assert_eq!(app.count("SELECT COUNT(*) FROM orders").await, 1);
    // The same key for a different request is a conflict, not a second order.
    let third = app
        .http
        .post(app.url("/api/orders"))
        .bearer_auth(&buyer.token)
        .header("idempotency-key", "checkout-42")
        .json(&json!({"course_ids": [1], "total_amount": "138.00"}))
        .send()
        .await
        .unwrap();
    assert_eq!(third.status(), StatusCode::CONFLICT);
    assert_eq!(app.count("SELECT COUNT(*) FROM orders").await, 1);
}

#[tokio::test]
async fn concurrent_retries_with_one_key_create_one_order() {
    let app = spawn_app().await;
    let buyer = app.buyer("dave").await;
    let requests = (0..8).map(|_| {
        app.http
            .post(app.url("/api/orders"))
            .bearer_auth(&buyer.token)
            .header("idempotency-key", "double-click")
            .json(&json!({"course_ids": [4], "total_amount": "168.00"}))
            .send()
    });
    let answers = futures_util::future::join_all(requests).await;
    let mut numbers = std::collections::HashSet::new();
    for answer in answers {
        let answer = answer.unwrap();
        assert_eq!(answer.status(), StatusCode::CREATED);
        let body: serde_json::Value = answer.json().await.unwrap();
        numbers.insert(body["out_trade_no"].as_str().unwrap().to_owned());
    }
    assert_eq!(numbers.len(), 1);
    assert_eq!(app.count("SELECT COUNT(*) FROM orders").await, 1);
}

#[tokio::test]
async fn a_fresh_pay_link_and_cancelling() {
    let app = spawn_app().await;
    let buyer = app.buyer("erin").await;
    let order = app.order(&buyer, &[5]).await;
    let no = order["out_trade_no"].as_str().unwrap();
    let (status, link) = app
        .post(
            &format!("/api/orders/{no}/pay"),
            Some(&buyer.token),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(link["pay_url"].as_str().unwrap().contains("sign="));
    let (status, cancelled) = app
        .post(
            &format!("/api/orders/{no}/cancel"),
            Some(&buyer.token),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(cancelled["status"], "cancelled");
    let (status, body) = app
        .post(
            &format!("/api/orders/{no}/pay"),
            Some(&buyer.token),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["error"]["code"], "invalid_order_status");
}

#[tokio::test]
async fn the_openapi_description_lists_the_routes() {
    let app = spawn_app().await;
    let (status, doc) = app.get("/api/openapi.json", None).await;
    assert_eq!(status, StatusCode::OK);
    let paths = doc["paths"].as_object().unwrap();
    for path in [
        "/api/orders",
        "/api/orders/{out_trade_no}",
        "/api/courses",
        "/api/login",
        "/alipay/notify",
        "/api/admin/orders/{out_trade_no}/refunds",
        "/api/me/courses",
    ] {
        assert!(paths.contains_key(path), "{path} missing");
    }
    assert!(doc["components"]["schemas"]["CreateOrder"].is_object());
}
