//! Issue 6's proofs at test size (`bench/soak.sh` runs them at full size): duplicate storms,
//! forged and malformed floods, and a shop killed mid-storm.

use std::sync::Arc;

use alipay::PrivateKey;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::sync::Semaphore;

use crate::helpers::{Buyer, TestApp, eventually_within, paid_fields, spawn_app, spawn_with};

/// Orders, one course each (extra courses are added so one buyer can place them all).
pub async fn many_orders(app: &TestApp, buyer: &Buyer, n: usize) -> Vec<Value> {
    app.add_courses(n).await;
    let mut orders = Vec::with_capacity(n);
    for i in 0..n {
        orders.push(app.order(buyer, &[1000 + i as i64]).await);
    }
    orders
}

#[tokio::test]
async fn fifty_concurrent_duplicates_of_each_notification_fulfil_each_order_once() {
    let orders_n = std::env::var("STORM_ORDERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(40);
    let copies = std::env::var("STORM_COPIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    let app = spawn_app().await;
    let buyer = app.buyer("stormy").await;
    let orders = many_orders(&app, &buyer, orders_n).await;
    // Payments whose notifications the sandbox "loses", so the storm is the first delivery.
    app.fault("drop_notifications", 100 * orders_n as u32).await;
    for order in &orders {
        app.pay(order).await;
    }
    // One body per order (the sandbox's retries were dropped too). Deliveries are attempted
    // asynchronously after each payment, so wait until every order has one.
    let bodies = eventually_within(
        std::time::Duration::from_secs(30),
        "a notification attempted for every order",
        || async {
            let mut bodies = std::collections::BTreeMap::new();
            for delivery in app.deliveries().await {
                bodies
                    .entry(delivery["out_trade_no"].as_str().unwrap().to_owned())
                    .or_insert_with(|| delivery["body"].as_str().unwrap().to_owned());
            }
            (bodies.len() >= orders_n).then_some(bodies)
        },
    )
    .await;
    let bodies: Vec<String> = bodies.into_values().collect();
    assert_eq!(bodies.len(), orders_n);

    let limit = Arc::new(Semaphore::new(64));
    let mut tasks = Vec::new();
    for copy in 0..copies {
        for body in &bodies {
            let (client, url, body, limit) = (
                app.http.clone(),
                app.url("/alipay/notify"),
                body.clone(),
                limit.clone(),
            );
            tasks.push(tokio::spawn(async move {
                let _permit = limit.acquire().await.unwrap();
                let response = client.post(url).body(body).send().await.unwrap();
                (copy, response.status(), response.text().await.unwrap())
            }));
        }
    }
    for task in tasks {
        let (_, status, answer) = task.await.unwrap();
        assert_eq!((status, answer.as_str()), (StatusCode::OK, "success"));
    }

    let n = orders_n as i64;
    eprintln!(
        "storm: {} notifications ({orders_n} orders × {copies} copies), all answered success",
        orders_n * copies
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM orders WHERE status = 'paid'")
            .await,
        n
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM payment_events WHERE kind = 'paid'")
            .await,
        n,
        "each paid once"
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM enrollments").await,
        n,
        "each fulfilled once"
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM notifications WHERE verdict = 'accepted'")
            .await,
        n
    );
    assert!(app.count("SELECT COUNT(*) FROM notifications").await >= n * copies as i64);
}

/// A tiny deterministic generator, so a failure can be replayed.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[tokio::test]
async fn a_thousand_forged_or_malformed_notifications_change_nothing() {
    // Every rejected body is kept here: the per-address limit of failures is a separate test.
    let app = spawn_with(|config| config.notify_failures_per_minute = 0).await;
    let buyer = app.buyer("target").await;
    let orders = many_orders(&app, &buyer, 5).await;
    for order in &orders {
        app.open_cashier(order).await;
    }
    let alipay = app.alipay_key();
    let rogue = PrivateKey::generate().unwrap();
    let mut rng = Lcg(20_261_126);
    let mut bodies = Vec::new();
    for i in 0..1000 {
        let order = &orders[i % orders.len()];
        let no = order["out_trade_no"].as_str().unwrap();
        let amount = order["total_amount"].as_str().unwrap();
        let trade_no = format!("20261126220014{:014}", i);
        let genuine = app.signed_notification(&alipay, &paid_fields(no, amount, &trade_no));
        let body = match i % 8 {
            // Signed by someone else.
            0 => app.signed_notification(&rogue, &paid_fields(no, amount, &trade_no)),
            // A genuine body with characters flipped.
            // (Flips that decode to the same parameters, such as `%2B` to `%2b`, are the same
            // notification: flipped again until the decoded form differs.)
            1 => {
                let decoded = |body: &[u8]| {
                    alipay::content::parse_form(body).ok().map(|mut p| {
                        p.remove("sign_type");
                        p
                    })
                };
                let mut bytes = genuine.clone().into_bytes();
                while decoded(&bytes) == decoded(genuine.as_bytes()) {
                    for _ in 0..1 + rng.below(5) {
                        let at = rng.below(bytes.len());
                        let original = bytes[at];
                        bytes[at] = b"0123456789abcdefXYZ%&=+"[rng.below(23)];
                        if bytes[at] == original {
                            bytes[at] = if original == b'Q' { b'R' } else { b'Q' };
                        }
                    }
                }
                String::from_utf8_lossy(&bytes).into_owned()
            }
            // Genuine signatures, wrong facts.
            2 => {
                let mut fields = paid_fields(no, amount, &trade_no);
                fields[0].1 = "2021009999999999";
                app.signed_notification(&alipay, &fields)
            }
            3 => app.signed_notification(&alipay, &paid_fields(no, "0.01", &trade_no)),
            4 => app.signed_notification(
                &alipay,
                &paid_fields("CSUNKNOWN0000000000000000001", amount, &trade_no),
            ),
            // Fields dropped, duplicated, or garbage.
            5 => {
                let fields: Vec<&str> = genuine.split('&').collect();
                // `sign_type` is optional: dropping only it leaves a genuine notification.
                let signed = |body: &str| {
                    alipay::content::parse_form(body.as_bytes())
                        .ok()
                        .map(|mut p| {
                            p.remove("sign_type");
                            p
                        })
                };
                loop {
                    let dropped = rng.below(fields.len());
                    let body = fields
                        .iter()
                        .enumerate()
                        .filter(|(i, _)| *i != dropped && rng.below(4) > 0)
                        .map(|(_, f)| *f)
                        .collect::<Vec<_>>()
                        .join("&");
                    if signed(&body) != signed(&genuine) {
                        break body;
                    }
                }
            }
            6 => format!("{genuine}&out_trade_no={no}"),
            // Huge.
            _ => format!("{genuine}&junk={}", "A".repeat(1000 + rng.below(300_000))),
        };
        bodies.push(body);
    }
    let limit = Arc::new(Semaphore::new(32));
    let mut tasks = Vec::new();
    for body in bodies {
        let (client, url, limit) = (app.http.clone(), app.url("/alipay/notify"), limit.clone());
        tasks.push(tokio::spawn(async move {
            let _permit = limit.acquire().await.unwrap();
            let response = client.post(url).body(body).send().await.unwrap();
            (response.status(), response.text().await.unwrap())
        }));
    }
    let mut answers = std::collections::HashMap::new();
    for task in tasks {
        let (status, answer) = task.await.unwrap();
        assert_eq!(status, StatusCode::OK, "never a server error");
        *answers.entry(answer).or_insert(0) += 1;
    }
    // Only the amount mismatches (recorded anomalies) are acknowledged.
    assert_eq!(
        answers.get("success").copied().unwrap_or(0),
        125,
        "{answers:?}"
    );
    assert_eq!(
        answers.get("failure").copied().unwrap_or(0),
        875,
        "{answers:?}"
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM notifications").await,
        1000,
        "each one kept"
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM orders WHERE status <> 'unpaid'")
            .await,
        0,
        "no state change"
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM enrollments").await, 0);
    let (status, _) = app.get("/api/courses", None).await;
    assert_eq!(status, StatusCode::OK, "still serving");
}

#[tokio::test]
async fn health_readiness_and_metrics() {
    let app = spawn_with(|config| {
        config.metrics_token = Some("metrics-token-for-the-scraper".to_owned().into());
    })
    .await;
    let buyer = app.buyer("metrics").await;
    let order = app.order(&buyer, &[1]).await;
    app.pay(&order).await;
    app.wait_for_status(&buyer, order["out_trade_no"].as_str().unwrap(), "paid")
        .await;
    for path in ["/healthz", "/readyz"] {
        let response = app.http.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
    }
    // An unpaid order for the jobs to ask Alipay about.
    let unpaid = app.order(&buyer, &[2]).await;
    app.open_cashier(&unpaid).await;
    shop::jobs::run_all_once(&app.ctx).await.unwrap();

    // Not public: the token, and nothing else, opens it.
    let (status, body) = app.get("/metrics", None).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("unauthorized"))
    );
    let (status, _) = app.get("/metrics", Some("a-guess")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let response = app
        .http
        .get(app.url("/metrics"))
        .bearer_auth("metrics-token-for-the-scraper")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers().contains_key("x-request-id"));
    let text = response.text().await.unwrap();
    for needle in [
        "shop_orders{status=\"paid\"} 1",
        "shop_orders{status=\"unpaid\"} 1",
        "shop_notifications_total{verdict=\"accepted\"}",
        "shop_alipay_request_seconds_bucket{method=\"alipay.trade.query\"",
        "shop_alipay_requests_total{method=\"alipay.trade.query\",outcome=\"ok\"}",
        "shop_job_runs_total{job=\"reconcile\"}",
        "shop_jobs_pending 0",
    ] {
        assert!(text.contains(needle), "{needle} missing from\n{text}");
    }
    let (status, _) = app.post("/api/orders", Some(&buyer.token), json!({})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}
