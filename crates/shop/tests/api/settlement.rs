//! Settlement against the sandbox's daily bill: what a real bill shows (a payment whose
//! notifications were all lost, a refund made in the merchant console, a payment the bill does
//! not have), each handled through the usual paths, once.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Buyer, TestApp, eventually, paid_fields, run_shop, spawn_app, spawn_with};

fn today() -> String {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    alipay::time::now().date().format(&format).unwrap()
}

async fn settle(app: &TestApp, operator: &Buyer, day: &str) -> (StatusCode, Value) {
    app.post(
        &format!("/api/admin/settlements/{day}"),
        Some(&operator.token),
        json!({}),
    )
    .await
}

fn differences(report: &Value) -> Vec<(String, String)> {
    report["differences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["kind"].as_str().unwrap().to_owned(),
                d["out_trade_no"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn todays_bill_settles_a_lost_payment_and_a_console_refund_once() {
    let app =
        spawn_with(|config| config.metrics_listen = Some("127.0.0.1:0".parse().unwrap())).await;
    let operator = app.operator("ops").await;
    let buyer = app.buyer("alice").await;

    // An ordinary payment: on the bill and in the books.
    let normal = app.order(&buyer, &[1]).await;
    let normal_no = normal["out_trade_no"].as_str().unwrap().to_owned();
    app.pay(&normal).await;
    app.wait_for_status(&buyer, &normal_no, "paid").await;

    // Refunded in the merchant console; its notification lost with every retry.
    app.fault("drop_notifications", 8).await;
    let (status, _) = app
        .post(
            &format!("/sandbox/api/trades/{normal_no}/refund"),
            None,
            json!({"refund_amount": "38.00", "out_request_no": "CONSOLE-9"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    // Paid at Alipay; every notification lost, the buyer never came back.
    app.fault("drop_notifications", 8).await;
    let lost = app.order(&buyer, &[2]).await;
    let lost_no = lost["out_trade_no"].as_str().unwrap().to_owned();
    app.pay(&lost).await;
    eventually("the payment's notification dropped", || async {
        app.deliveries()
            .await
            .iter()
            .any(|d| d["out_trade_no"] == lost_no.as_str() && d["fault"] == "dropped")
            .then_some(())
    })
    .await;
    assert_eq!(app.order_status(&buyer, &lost_no).await, "unpaid");

    // Not for buyers.
    let (status, _) = settle(&app, &buyer, &today()).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let (status, report) = settle(&app, &operator, &today()).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["status"], "completed");
    assert_eq!(
        report["alipay"]["count"], 3,
        "two payments and a refund: {report}"
    );
    assert_eq!(
        report["alipay"]["total"], "299.00",
        "138.00 + 199.00 - 38.00"
    );
    assert_eq!(report["shop"]["count"], 1, "the books knew one payment");
    assert_eq!(report["shop"]["total"], "138.00");
    let mut found = differences(&report);
    found.sort();
    let mut expected = vec![
        ("paid_at_alipay_only".to_owned(), lost_no.clone()),
        ("refund_unknown_here".to_owned(), normal_no.clone()),
    ];
    expected.sort();
    assert_eq!(found, expected, "{report}");

    // The lost payment is paid, through the one path, with the bill as its source.
    assert_eq!(app.order_status(&buyer, &lost_no).await, "paid");
    assert_eq!(app.owned_courses(&buyer).await, vec![1, 2]);
    let (_, record) = app
        .get(
            &format!("/api/admin/orders/{lost_no}"),
            Some(&operator.token),
        )
        .await;
    assert!(
        record["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "paid" && e["source"] == "bill"),
        "{record}"
    );
    // The console refund is on record, with its anomaly; nothing revoked for an amount.
    let (_, detail) = app
        .get(&format!("/api/orders/{normal_no}"), Some(&buyer.token))
        .await;
    assert_eq!(detail["refunded_amount"], "38.00");
    assert_eq!(detail["refunds"][0]["origin"], "external");
    let (_, anomalies) = app
        .get(
            "/api/admin/anomalies?kind=external_refund",
            Some(&operator.token),
        )
        .await;
    assert_eq!(anomalies.as_array().unwrap().len(), 1);

    // A second run changes nothing.
    let events = app.count("SELECT COUNT(*) FROM payment_events").await;
    let (status, again) = settle(&app, &operator, &today()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        differences(&again).len(),
        2,
        "the same two, still on record"
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM payment_events").await,
        events
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM refunds").await, 1);
    assert_eq!(app.count("SELECT COUNT(*) FROM anomalies").await, 1);

    // The list, and the CSV report.
    let (_, days) = app
        .get("/api/admin/settlements", Some(&operator.token))
        .await;
    assert_eq!(days[0]["date"], today().as_str());
    assert_eq!(days[0]["difference_count"], 2);
    let response = app
        .http
        .get(app.url(&format!("/api/admin/settlements/{}.csv", today())))
        .bearer_auth(&operator.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let text = response.text().await.unwrap();
    let text = text.trim_start_matches('\u{feff}');
    let mut lines = text.lines();
    assert!(
        lines
            .next()
            .unwrap()
            .starts_with("date,status,alipay_count")
    );
    assert_eq!(lines.count(), 2);
    assert!(text.contains("paid_at_alipay_only") && text.contains("CONSOLE-9"));

    // Both runs counted; the differences once, as the second run found the books in order.
    let metrics = reqwest::get(format!("http://{}/metrics", app.metrics_address.unwrap()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for line in [
        r#"shop_settlement_runs_total{status="completed"} 2"#,
        r#"shop_settlement_differences_total{kind="paid_at_alipay_only"} 1"#,
        r#"shop_settlement_differences_total{kind="refund_unknown_here"} 1"#,
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line} in\n{metrics}");
    }
}

#[tokio::test]
async fn a_payment_missing_from_the_bill_is_an_anomaly_and_a_quiet_day_has_no_bill() {
    let app = spawn_app().await;
    let operator = app.operator("ops").await;
    let buyer = app.buyer("alice").await;

    // Nothing happened at the sandbox today: no bill.
    let (status, report) = settle(&app, &operator, &today()).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["status"], "no_bill");
    assert!(differences(&report).is_empty());

    // A payment the shop recorded today that Alipay never saw (a genuine-looking notification
    // for a trade the sandbox has not been paid for).
    let order = app.order(&buyer, &[3]).await;
    let no = order["out_trade_no"].as_str().unwrap().to_owned();
    let now = alipay::time::format(alipay::time::now());
    let mut fields = paid_fields(&no, "99.00", "2026120622001400000000000077");
    for (key, value) in fields.iter_mut() {
        if *key == "gmt_payment" || *key == "notify_time" {
            *value = &now;
        }
    }
    let (_, answer) = app
        .notify(&app.signed_notification(&app.alipay_key(), &fields))
        .await;
    assert_eq!(answer, "success");
    let (_, report) = settle(&app, &operator, &today()).await;
    assert_eq!(report["status"], "no_bill");
    assert_eq!(
        differences(&report),
        vec![("missing_from_bill".to_owned(), no.clone())]
    );
    let (_, anomalies) = app
        .get(
            "/api/admin/anomalies?kind=missing_from_bill",
            Some(&operator.token),
        )
        .await;
    assert_eq!(anomalies[0]["out_trade_no"], no.as_str());

    for bad in ["2026-13-01", "tomorrow", "2999-01-01"] {
        let (status, body) = settle(&app, &operator, bad).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_date")),
            "{bad}"
        );
    }
    let (status, _) = app
        .get("/api/admin/settlements/2020-01-01", Some(&operator.token))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn shop_settle_runs_the_same_day_from_the_command_line() {
    let app = spawn_app().await;
    let buyer = app.buyer("alice").await;
    let order = app.order(&buyer, &[1]).await;
    app.pay(&order).await;
    app.wait_for_status(&buyer, order["out_trade_no"].as_str().unwrap(), "paid")
        .await;
    let data_dir = app.data_dir.to_str().unwrap().to_owned();
    let (database_url, base) = (app.database_url.clone(), app.base.clone());
    // On a blocking thread: the shop (this test's runtime) must answer the command meanwhile.
    let ran = tokio::task::spawn_blocking(move || {
        run_shop(
            &["settle", "--date", &today(), "--data-dir", &data_dir],
            "",
            &[
                ("SHOP_DATABASE_URL", &database_url),
                ("SHOP_PUBLIC_URL", &base),
            ],
        )
    })
    .await
    .unwrap();
    let data_dir = app.data_dir.to_str().unwrap();
    assert_eq!(ran.code, Some(0), "{ran:?}");
    assert_eq!(ran.stdout.lines().count(), 1, "{ran:?}");
    assert!(
        ran.stdout.contains("completed") && ran.stdout.contains("0 difference"),
        "{ran:?}"
    );
    let bad = run_shop(
        &["settle", "--date", "someday", "--data-dir", data_dir],
        "",
        &[("SHOP_DATABASE_URL", &app.database_url)],
    );
    assert_eq!(bad.code, Some(1), "{bad:?}");
}
