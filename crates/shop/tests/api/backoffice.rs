//! The back office's API: the dashboard, finding orders, an order's whole record, asking Alipay,
//! closing, the notifications log, the catalog, and lessons for owners only.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::spawn_app;

#[tokio::test]
async fn operators_find_orders_and_see_their_whole_record() {
    let app = spawn_app().await;
    let operator = app.operator("ops").await;
    let alice = app.buyer("alice").await;
    let bob = app.buyer("bobby").await;
    let paid = app.order(&alice, &[1]).await;
    let paid_no = paid["out_trade_no"].as_str().unwrap().to_owned();
    let sandbox = app.pay(&paid).await;
    app.wait_for_status(&alice, &paid_no, "paid").await;
    let unpaid = app.order(&bob, &[2]).await;
    let unpaid_no = unpaid["out_trade_no"].as_str().unwrap().to_owned();

    let (status, board) = app.get("/api/admin/dashboard", Some(&operator.token)).await;
    assert_eq!(status, StatusCode::OK, "{board}");
    assert_eq!(board["paid_today"], 1);
    assert_eq!(board["paid_today_total"], "138.00");
    assert_eq!(board["orders_by_status"]["unpaid"], 1);
    assert_eq!(board["open_anomalies"], 0);
    let (status, _) = app.get("/api/admin/dashboard", Some(&alice.token)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let list = |query: &'static str| {
        let app = &app;
        let token = operator.token.clone();
        async move {
            app.get(&format!("/api/admin/orders{query}"), Some(&token))
                .await
                .1
        }
    };
    assert_eq!(list("").await["total"], 2);
    assert_eq!(
        list("?status=paid").await["orders"][0]["out_trade_no"],
        paid_no.as_str()
    );
    assert_eq!(
        list("?buyer=bobby").await["orders"][0]["out_trade_no"],
        unpaid_no.as_str()
    );
    let trade_no = sandbox["trade"]["trade_no"].as_str().unwrap();
    let by_trade = app
        .get(
            &format!("/api/admin/orders?q={trade_no}"),
            Some(&operator.token),
        )
        .await
        .1;
    assert_eq!(by_trade["orders"][0]["out_trade_no"], paid_no.as_str());
    assert_eq!(by_trade["orders"][0]["buyer"], "alice");
    assert_eq!(list("?from=2000-01-01&to=2000-01-02").await["total"], 0);
    assert_eq!(
        list("?per_page=1&page=2").await["orders"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let (status, _) = app
        .get("/api/admin/orders?from=yesterday", Some(&operator.token))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let (_, record) = app
        .get(
            &format!("/api/admin/orders/{paid_no}"),
            Some(&operator.token),
        )
        .await;
    assert_eq!(record["buyer"], "alice");
    assert_eq!(record["notifications"][0]["verdict"], "accepted");
    assert!(
        record["notifications"][0]["body"]
            .as_str()
            .unwrap()
            .contains("sign=")
    );

    // Ask Alipay about the unpaid one: still waiting; the question is on record.
    app.open_cashier(&unpaid).await;
    let (status, checked) = app
        .post(
            &format!("/api/admin/orders/{unpaid_no}/check"),
            Some(&operator.token),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{checked}");
    assert_eq!(checked["result"], "waiting");
    // Close it; a paid one cannot be closed.
    let (status, closed) = app
        .post(
            &format!("/api/admin/orders/{unpaid_no}/close"),
            Some(&operator.token),
            json!({"reason": "the buyer asked by phone"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{closed}");
    assert_eq!(closed["status"], "cancelled");
    let (status, body) = app
        .post(
            &format!("/api/admin/orders/{paid_no}/close"),
            Some(&operator.token),
            json!({}),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("invalid_order_status"))
    );
    let operator_id = app.get("/api/me", Some(&operator.token)).await.1["id"].clone();
    let (_, record) = app
        .get(
            &format!("/api/admin/orders/{unpaid_no}"),
            Some(&operator.token),
        )
        .await;
    let kinds: Vec<(&str, &serde_json::Value)> = record["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["kind"].as_str().unwrap(), &e["actor_id"]))
        .collect();
    assert!(kinds.contains(&("asked_alipay", &operator_id)), "{kinds:?}");
    assert!(kinds.contains(&("cancelled", &operator_id)), "{kinds:?}");
    shop::jobs::outbox_once(&app.ctx).await.unwrap();
    let (_, trade) = app
        .get(&format!("/sandbox/api/trades/{unpaid_no}"), None)
        .await;
    assert_eq!(
        trade["trade_status"], "TRADE_CLOSED",
        "closed at Alipay too"
    );

    // The notifications log, by verdict.
    let (_, answer) = app.notify("forged=1&sign=AAAA").await;
    assert_eq!(answer, "failure");
    let (_, log) = app
        .get(
            "/api/admin/notifications?verdict=bad_signature",
            Some(&operator.token),
        )
        .await;
    assert_eq!(log.as_array().unwrap().len(), 1);
    assert_eq!(log[0]["body"], "forged=1&sign=AAAA");
}

#[tokio::test]
async fn the_catalog_is_edited_and_prices_change_for_new_orders_only() {
    let app = spawn_app().await;
    let operator = app.operator("ops").await;
    let buyer = app.buyer("alice").await;
    let placed = app.order(&buyer, &[1]).await;
    assert_eq!(placed["total_amount"], "138.00");

    let (status, course) = app
        .post(
            "/api/admin/courses",
            Some(&operator.token),
            json!({"name": "Go 并发编程", "description": "goroutine 与 channel", "teacher": "孙老师", "level": "进阶", "lessons": 30, "price": "88.00", "published": false}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{course}");
    let id = course["id"].as_i64().unwrap();
    let (status, _) = app.get(&format!("/api/courses/{id}"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "unpublished");
    let client = reqwest::Client::new();
    let response = client
        .put(app.url(&format!("/api/admin/courses/{id}")))
        .bearer_auth(&operator.token)
        .json(&json!({"name": "Go 并发编程", "price": "99.00", "published": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let (_, shown) = app.get(&format!("/api/courses/{id}"), None).await;
    assert_eq!(shown["price"], "99.00");

    // A new price for course 1: the placed order keeps 138.00, a new one pays the new price.
    let response = client
        .put(app.url("/api/admin/courses/1"))
        .bearer_auth(&operator.token)
        .json(&json!({"name": "Python 全栈开发实战", "description": "新版", "teacher": "李老师", "level": "入门", "lessons": 86, "price": "120.00", "published": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let no = placed["out_trade_no"].as_str().unwrap();
    let (_, detail) = app
        .get(&format!("/api/orders/{no}"), Some(&buyer.token))
        .await;
    assert_eq!(detail["total_amount"], "138.00");
    let fresh = app.order(&buyer, &[1]).await;
    assert_eq!(fresh["total_amount"], "120.00");

    for bad in [
        json!({"name": "", "price": "1.00", "published": true}),
        json!({"name": "x", "price": "0.00", "published": true}),
        json!({"name": "x", "price": "1.00", "published": true, "lessons": -3}),
    ] {
        let (status, body) = app
            .post("/api/admin/courses", Some(&operator.token), bad)
            .await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_course"))
        );
    }
    let (status, _) = app
        .post(
            "/api/admin/courses",
            Some(&buyer.token),
            json!({"name": "x", "price": "1.00", "published": true}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, all) = app.get("/api/admin/courses", Some(&operator.token)).await;
    assert_eq!(all.as_array().unwrap().len(), 7);
}

#[tokio::test]
async fn lessons_are_for_owners_and_the_outline_for_everyone() {
    let app = spawn_app().await;
    let buyer = app.buyer("alice").await;
    let (_, course) = app.get("/api/courses/2", None).await;
    let outline = course["outline"].as_array().unwrap();
    assert!(outline.len() >= 3, "{course}");
    assert!(outline[0]["title"].is_string());
    assert!(
        outline[0].get("content").is_none(),
        "no content in the outline"
    );

    let (status, _) = app.get("/api/courses/2/lessons", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, body) = app.get("/api/courses/2/lessons", Some(&buyer.token)).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("forbidden"))
    );
    let order = app.order(&buyer, &[2]).await;
    app.pay(&order).await;
    app.wait_for_status(&buyer, order["out_trade_no"].as_str().unwrap(), "paid")
        .await;
    let (status, lessons) = app.get("/api/courses/2/lessons", Some(&buyer.token)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!lessons[0]["content"].as_str().unwrap().is_empty());
    let (status, _) = app
        .get("/api/courses/999/lessons", Some(&buyer.token))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
