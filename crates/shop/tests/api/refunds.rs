use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Buyer, TestApp, eventually, spawn_app};

/// Alipay's refund notifications that the shop acknowledged, for `out_trade_no`.
async fn acknowledged_refund_notices(app: &TestApp, out_trade_no: &str) -> usize {
    app.deliveries()
        .await
        .iter()
        .filter(|d| {
            d["out_trade_no"] == out_trade_no
                && d["acknowledged"] == true
                && d["body"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("out_biz_no=")
        })
        .count()
}

/// A paid order of `courses` for a fresh buyer.
async fn paid_order(app: &TestApp, name: &str, courses: &[i64]) -> (Buyer, String) {
    let buyer = app.buyer(name).await;
    let order = app.order(&buyer, courses).await;
    let no = order["out_trade_no"].as_str().unwrap().to_owned();
    app.pay(&order).await;
    app.wait_for_status(&buyer, &no, "paid").await;
    (buyer, no)
}

async fn refund(app: &TestApp, operator: &Buyer, no: &str, body: Value) -> (StatusCode, Value) {
    app.post(
        &format!("/api/admin/orders/{no}/refunds"),
        Some(&operator.token),
        body,
    )
    .await
}

async fn refund_status(app: &TestApp, buyer: &Buyer, no: &str, out_request_no: &Value) -> String {
    let (_, detail) = app
        .get(&format!("/api/orders/{no}"), Some(&buyer.token))
        .await;
    detail["refunds"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["out_request_no"] == *out_request_no)
        .map(|r| r["status"].as_str().unwrap().to_owned())
        .unwrap_or_else(|| panic!("no refund {out_request_no} in {detail}"))
}

async fn sandbox_fault(app: &TestApp, kind: &str, method: &str, count: u32) {
    let (status, body) = app
        .post(
            "/sandbox/api/faults",
            None,
            json!({"kind": kind, "method": method, "count": count}),
        )
        .await;
    assert!(status.is_success(), "{body}");
}

/// Makes every due outbox job due now (the backoff is the job's business, not the test's).
async fn jobs_due_now(app: &TestApp) {
    sqlx::query("UPDATE jobs SET run_at = 0 WHERE done_at IS NULL")
        .execute(app.ctx.db.reader())
        .await
        .unwrap();
}

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
    eventually("both refund notifications acknowledged", || async {
        (acknowledged_refund_notices(&app, no).await == 2).then_some(())
    })
    .await;
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

/// An answer that cannot be trusted is "outcome unknown": the refund stays pending, is asked
/// about with the same number, and ends as Alipay says, never `failed` for want of a trusted
/// answer.
async fn untrusted_answers_end_in_success(kind: &str) {
    let app = spawn_app().await;
    let operator = app.operator("ops").await;
    let (buyer, no) = paid_order(&app, "alice", &[1]).await;
    // Alipay's refund notification would settle it too; without it, only the answers can.
    app.fault("drop_notifications", 100).await;
    // The refund takes effect at Alipay, but neither its answer nor the follow-up query's can
    // be trusted.
    sandbox_fault(&app, kind, "alipay.trade.refund", 1).await;
    sandbox_fault(&app, kind, "alipay.trade.fastpay.refund.query", 1).await;
    let (status, requested) = refund(&app, &operator, &no, json!({"amount": "138.00"})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{requested}");
    let request_no = &requested["out_request_no"];

    let pass = shop::jobs::outbox_once(&app.ctx).await.unwrap();
    assert_eq!(pass.jobs_retried, 1, "{kind}: undecided, so retried");
    assert_eq!(
        refund_status(&app, &buyer, &no, request_no).await,
        "pending"
    );

    // The faults are used up: the next pass hears Alipay's verified word.
    jobs_due_now(&app).await;
    let pass = shop::jobs::outbox_once(&app.ctx).await.unwrap();
    assert_eq!(pass.jobs_done, 1, "{kind}");
    assert_eq!(
        refund_status(&app, &buyer, &no, request_no).await,
        "succeeded"
    );
    assert_eq!(app.order_status(&buyer, &no).await, "refunded");
    let (_, trade) = app.get(&format!("/sandbox/api/trades/{no}"), None).await;
    assert_eq!(
        trade["refunds"].as_array().unwrap().len(),
        1,
        "{kind}: refunded once at Alipay: {trade}"
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM refunds WHERE status = 'failed'")
            .await,
        0
    );
}

#[tokio::test]
async fn a_refund_answered_with_a_bad_signature_ends_succeeded() {
    untrusted_answers_end_in_success("bad_signature").await;
}

#[tokio::test]
async fn a_refund_answered_with_an_html_page_ends_succeeded() {
    untrusted_answers_end_in_success("garbled").await;
}

#[tokio::test]
async fn only_a_verified_refusal_fails_a_refund() {
    let app = spawn_app().await;
    let operator = app.operator("ops").await;
    let (buyer, no) = paid_order(&app, "alice", &[1]).await;
    // Refunded in full in the merchant console, and the notification of it lost: the shop
    // still believes the order paid, Alipay will refuse another refund.
    app.fault("drop_notifications", 100).await;
    let (status, _) = app
        .post(
            &format!("/sandbox/api/trades/{no}/refund"),
            None,
            json!({"refund_amount": "138.00"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, requested) = refund(&app, &operator, &no, json!({"amount": "138.00"})).await;
    let pass = shop::jobs::outbox_once(&app.ctx).await.unwrap();
    assert_eq!(pass.jobs_done, 1);
    assert_eq!(
        refund_status(&app, &buyer, &no, &requested["out_request_no"]).await,
        "failed"
    );
    let (_, record) = app
        .get(&format!("/api/admin/orders/{no}"), Some(&operator.token))
        .await;
    let failed = record["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "refund_failed")
        .unwrap_or_else(|| panic!("{record}"));
    assert!(
        failed["detail"].as_str().unwrap().contains("ACQ."),
        "the refusal's sub_code is on record: {failed}"
    );
}

#[tokio::test]
async fn a_refund_of_chosen_courses_revokes_exactly_those() {
    let app = spawn_app().await;
    let operator = app.operator("ops").await;
    let (buyer, no) = paid_order(&app, "alice", &[1, 2, 3]).await;

    let (status, body) = refund(&app, &operator, &no, json!({"course_ids": [2, 9]})).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("course_not_in_order"))
    );
    let (status, body) = refund(
        &app,
        &operator,
        &no,
        json!({"course_ids": [2], "amount": "1.00"}),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_refund"))
    );

    let (status, requested) = refund(&app, &operator, &no, json!({"course_ids": [2]})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{requested}");
    assert_eq!(requested["amount"], "199.00", "the price paid for course 2");
    assert_eq!(requested["course_ids"], json!([2]));
    shop::jobs::outbox_once(&app.ctx).await.unwrap();
    assert_eq!(app.owned_courses(&buyer).await, vec![1, 3]);
    let (_, detail) = app
        .get(&format!("/api/orders/{no}"), Some(&buyer.token))
        .await;
    assert_eq!(detail["status"], "paid");
    assert_eq!(detail["refunded_amount"], "199.00");

    let (status, body) = refund(&app, &operator, &no, json!({"course_ids": [2]})).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("already_refunded"))
    );
    // A goodwill amount revokes nothing...
    let (status, _) = refund(&app, &operator, &no, json!({"amount": "10.00"})).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    shop::jobs::outbox_once(&app.ctx).await.unwrap();
    assert_eq!(app.owned_courses(&buyer).await, vec![1, 3]);
    // ...until the order ends fully refunded: 138.00 + 99.00 - 10.00 left.
    let (status, body) = refund(&app, &operator, &no, json!({"amount": "227.01"})).await;
    assert_eq!(
        (status, body["error"]["details"]["refundable"].as_str()),
        (StatusCode::BAD_REQUEST, Some("227.00"))
    );
    let (status, _) = refund(&app, &operator, &no, json!({"amount": "227.00"})).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    shop::jobs::outbox_once(&app.ctx).await.unwrap();
    assert_eq!(app.order_status(&buyer, &no).await, "refunded");
    assert!(app.owned_courses(&buyer).await.is_empty());
}

#[tokio::test]
async fn a_course_paid_twice_is_granted_once_and_the_later_order_refunded() {
    let app = spawn_app().await;
    let operator = app.operator("ops").await;
    let buyer = app.buyer("alice").await;
    // Two tabs, two orders for the same course, both paid.
    let first = app.order(&buyer, &[1]).await;
    let second = app.order(&buyer, &[1]).await;
    let first_no = first["out_trade_no"].as_str().unwrap();
    let second_no = second["out_trade_no"].as_str().unwrap();
    app.pay(&first).await;
    app.wait_for_status(&buyer, first_no, "paid").await;
    app.pay(&second).await;
    app.wait_for_status(&buyer, second_no, "paid").await;
    assert_eq!(app.owned_courses(&buyer).await, vec![1], "granted once");

    let (_, anomalies) = app
        .get(
            &format!("/api/admin/anomalies?kind=double_payment&out_trade_no={second_no}"),
            Some(&operator.token),
        )
        .await;
    assert_eq!(anomalies.as_array().unwrap().len(), 1, "{anomalies}");
    assert_eq!(anomalies[0]["amount"], "138.00");

    shop::jobs::outbox_once(&app.ctx).await.unwrap();
    app.wait_for_status(&buyer, second_no, "refunded").await;
    assert_eq!(app.order_status(&buyer, first_no).await, "paid");
    assert_eq!(
        app.owned_courses(&buyer).await,
        vec![1],
        "the first order still grants it"
    );
    let (_, record) = app
        .get(
            &format!("/api/admin/orders/{second_no}"),
            Some(&operator.token),
        )
        .await;
    assert_eq!(record["refunds"][0]["origin"], "double_payment");
    assert_eq!(record["refunds"][0]["amount"], "138.00");
    let (_, trade) = app
        .get(&format!("/sandbox/api/trades/{second_no}"), None)
        .await;
    assert_eq!(
        trade["refund_fee"], "138.00",
        "given back at Alipay: {trade}"
    );
}

#[tokio::test]
async fn a_refund_made_in_the_merchant_console_becomes_an_anomaly() {
    let app = spawn_app().await;
    let operator = app.operator("ops").await;
    let (buyer, no) = paid_order(&app, "alice", &[1]).await;
    let (status, trade) = app
        .post(
            &format!("/sandbox/api/trades/{no}/refund"),
            None,
            json!({"refund_amount": "38.00", "out_request_no": "CONSOLE-1", "refund_reason": "客服退款"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{trade}");
    eventually("the console refund's notification acknowledged", || async {
        (acknowledged_refund_notices(&app, &no).await == 1).then_some(())
    })
    .await;

    let (_, anomalies) = app
        .get("/api/admin/anomalies?open=true", Some(&operator.token))
        .await;
    let anomaly = anomalies
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["kind"] == "external_refund")
        .unwrap_or_else(|| panic!("{anomalies}"));
    assert_eq!(anomaly["amount"], "38.00");
    assert_eq!(anomaly["out_trade_no"], no.as_str());
    let (_, detail) = app
        .get(&format!("/api/orders/{no}"), Some(&buyer.token))
        .await;
    assert_eq!(detail["refunded_amount"], "38.00");
    assert_eq!(detail["refunds"][0]["origin"], "external");
    assert_eq!(detail["status"], "paid");
    assert_eq!(
        app.owned_courses(&buyer).await,
        vec![1],
        "an amount revokes nothing"
    );
    let (_, stored) = app
        .get(&format!("/api/admin/orders/{no}"), Some(&operator.token))
        .await;
    assert_eq!(stored["anomalies"].as_array().unwrap().len(), 1);

    // An operator resolves it, on record.
    let id = anomaly["id"].as_i64().unwrap();
    let (status, resolved) = app
        .post(
            &format!("/api/admin/anomalies/{id}/resolve"),
            Some(&operator.token),
            json!({"note": "goodwill refund by customer service"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{resolved}");
    assert!(resolved["resolved_at"].is_string());
    let (status, _) = app
        .post(
            &format!("/api/admin/anomalies/{id}/resolve"),
            Some(&operator.token),
            json!({"note": "again"}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
}
