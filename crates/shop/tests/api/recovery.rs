use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{eventually, paid_fields, spawn_app, spawn_with};

fn location(response: &reqwest::Response) -> String {
    response.headers()["location"].to_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_lost_notification_is_recovered_through_the_return_and_a_query() {
    let app = spawn_app().await;
    let buyer = app.buyer("alice").await;
    let order = app.order(&buyer, &[1]).await;
    let no = order["out_trade_no"].as_str().unwrap();
    app.fault("drop_notifications", 10).await;
    let paid = app.pay(&order).await;
    eventually("the sandbox dropped the notification", || async {
        app.deliveries()
            .await
            .iter()
            .any(|d| d["out_trade_no"] == no && d["fault"] == "dropped")
            .then_some(())
    })
    .await;
    assert_eq!(
        app.order_status(&buyer, no).await,
        "unpaid",
        "the notification was lost"
    );

    // The browser comes back with the signed return parameters.
    let return_url = paid["return_url"].as_str().unwrap();
    assert!(return_url.starts_with(&app.url("/alipay/return?")));
    let response = app.http.get(return_url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let to = location(&response);
    assert!(to.starts_with(&app.url("/pay/success?")), "{to}");
    assert!(
        to.contains(&format!("out_trade_no={no}")) && to.contains("status=paid"),
        "{to}"
    );

    assert_eq!(app.order_status(&buyer, no).await, "paid");
    assert_eq!(app.owned_courses(&buyer).await, vec![1]);
    let source: String =
        sqlx::query_scalar("SELECT source FROM payment_events WHERE kind = 'paid'")
            .fetch_one(app.ctx.db.reader())
            .await
            .unwrap();
    assert_eq!(source, "return");
}

#[tokio::test]
async fn a_return_alone_never_marks_an_order_paid() {
    let app = spawn_app().await;
    let buyer = app.buyer("alice").await;
    let order = app.order(&buyer, &[1]).await;
    let no = order["out_trade_no"].as_str().unwrap();
    app.open_cashier(&order).await;
    // A correctly signed return for a trade that is not paid at Alipay.
    let fields = paid_fields(no, "138.00", "2026112622001400000000000009");
    let query = app.signed_notification(&app.alipay_key(), &fields);
    let response = app
        .http
        .get(app.url(&format!("/alipay/return?{query}")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(location(&response).contains("status=unpaid"));
    assert_eq!(app.order_status(&buyer, no).await, "unpaid");

    // A return with a bad signature goes to the result page with an error.
    let forged = query.replace("138.00", "0.01");
    let response = app
        .http
        .get(app.url(&format!("/alipay/return?{forged}")))
        .send()
        .await
        .unwrap();
    let to = location(&response);
    assert!(
        to.starts_with(&app.url("/pay/success?")) && to.contains("error=invalid_signature"),
        "{to}"
    );
    assert_eq!(app.order_status(&buyer, no).await, "unpaid");
}

#[tokio::test]
async fn reconciliation_finds_payments_whose_notifications_were_all_lost() {
    let app = spawn_app().await;
    let buyer = app.buyer("alice").await;
    app.fault("drop_notifications", 1_000_000).await;
    // `RECONCILE_ORDERS` scales it up (bench/soak.sh); one course per order.
    let n: usize = std::env::var("RECONCILE_ORDERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    app.add_courses(n).await;
    let mut numbers = Vec::new();
    for i in 0..n {
        let order = app.order(&buyer, &[1000 + i as i64]).await;
        app.pay(&order).await;
        numbers.push(order["out_trade_no"].as_str().unwrap().to_owned());
    }
    let unpaid = app.order(&buyer, &[1]).await;
    app.open_cashier(&unpaid).await;

    // One pass takes at most a batch; more orders need more passes.
    let mut paid = 0;
    while paid < n {
        let pass = shop::jobs::reconcile_once(&app.ctx).await.unwrap();
        assert!(pass.paid > 0, "reconciliation stalled at {paid} of {n}");
        paid += pass.paid;
    }
    assert_eq!(paid, n);
    for no in &numbers {
        assert_eq!(app.order_status(&buyer, no).await, "paid");
    }
    let unpaid_no = unpaid["out_trade_no"].as_str().unwrap();
    assert_eq!(app.order_status(&buyer, unpaid_no).await, "unpaid");
    assert_eq!(app.owned_courses(&buyer).await.len(), n);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM payment_events WHERE kind = 'paid'")
            .await,
        n as i64
    );
    eprintln!("reconciliation found {n} of {n} payments whose notifications were all dropped");
}

#[tokio::test]
async fn reconciliation_backs_off_when_alipay_fails() {
    let app = spawn_app().await;
    let buyer = app.buyer("alice").await;
    app.fault("drop_notifications", 10).await;
    let order = app.order(&buyer, &[1]).await;
    let no = order["out_trade_no"].as_str().unwrap().to_owned();
    app.pay(&order).await;
    let (status, _) = app
        .post(
            "/sandbox/api/faults",
            None,
            json!({"kind": "fail_api", "count": 1, "method": "alipay.trade.query"}),
        )
        .await;
    assert!(status.is_success());

    let pass = shop::jobs::reconcile_once(&app.ctx).await.unwrap();
    assert_eq!((pass.paid, pass.undecided), (0, 1));
    assert_eq!(app.order_status(&buyer, &no).await, "unpaid");
    // The next check is scheduled later, not immediately.
    let pass = shop::jobs::reconcile_once(&app.ctx).await.unwrap();
    assert_eq!(pass.paid, 0);
    let next: i64 = sqlx::query_scalar("SELECT next_check_at FROM orders")
        .fetch_one(app.ctx.db.reader())
        .await
        .unwrap();
    assert!(next > shop::store::now_ms());
    sqlx::query("UPDATE orders SET next_check_at = 0")
        .execute(app.ctx.db.reader())
        .await
        .unwrap();
    let pass = shop::jobs::reconcile_once(&app.ctx).await.unwrap();
    assert_eq!(pass.paid, 1);
}

#[tokio::test]
async fn a_payment_after_the_timeout_close_is_kept() {
    let app = spawn_with(|config| config.order_ttl_secs = 1).await;
    let buyer = app.buyer("alice").await;
    let order = app.order(&buyer, &[1]).await;
    let no = order["out_trade_no"].as_str().unwrap();
    app.open_cashier(&order).await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;

    let pass = shop::jobs::expire_once(&app.ctx).await.unwrap();
    assert_eq!(pass.timed_out, 1);
    assert_eq!(app.order_status(&buyer, no).await, "timeout_cancelled");

    // The buyer had the cashier open and pays anyway (before the close reached Alipay).
    app.pay(&order).await;
    app.wait_for_status(&buyer, no, "paid").await;
    assert_eq!(app.owned_courses(&buyer).await, vec![1]);
    // The close job then finds the trade paid, and keeps the payment.
    let pass = shop::jobs::outbox_once(&app.ctx).await.unwrap();
    assert_eq!(pass.jobs_done, 1);
    assert_eq!(app.order_status(&buyer, no).await, "paid");
    let detail: String =
        sqlx::query_scalar("SELECT detail FROM payment_events WHERE kind = 'paid'")
            .fetch_one(app.ctx.db.reader())
            .await
            .unwrap();
    assert!(detail.contains("timeout_cancelled"), "{detail}");
}

#[tokio::test]
async fn timed_out_orders_are_closed_at_alipay() {
    let app = spawn_with(|config| config.order_ttl_secs = 1).await;
    let buyer = app.buyer("alice").await;
    let opened = app.order(&buyer, &[1]).await;
    app.open_cashier(&opened).await;
    let never_opened = app.order(&buyer, &[2]).await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;

    let pass = shop::jobs::run_all_once(&app.ctx).await.unwrap();
    assert_eq!(pass.timed_out, 2);
    assert_eq!(
        pass.jobs_done, 2,
        "close succeeded, or there was no trade to close"
    );
    let no = opened["out_trade_no"].as_str().unwrap();
    let (_, trade) = app.get(&format!("/sandbox/api/trades/{no}"), None).await;
    assert_eq!(trade["trade_status"], "TRADE_CLOSED");
    assert_eq!(
        app.order_status(&buyer, never_opened["out_trade_no"].as_str().unwrap())
            .await,
        "timeout_cancelled"
    );
}
