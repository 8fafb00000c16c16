//! Two shop instances on one PostgreSQL database (SQLite is single-instance by design; without
//! `TEST_POSTGRES_URL` this fails unless `SKIP_POSTGRES_TESTS=1`): notifications for the same
//! orders arrive at both, both run the jobs, and every order is paid exactly once.

use std::sync::Arc;
use std::time::Duration;

use alipay::PrivateKey;
use alipay::config::AlipayConfig;
use alipay_sandbox::{AppConfig, SandboxConfig};
use serde_json::{Value, json};
use shop::{Application, Config};
use tokio::sync::Semaphore;

use crate::helpers::{eventually_within, required_postgres_database};

const APP_ID: &str = "2021000000000088";
const SELLER_ID: &str = "2088000000000088";

#[tokio::test]
async fn two_instances_on_one_postgres_pay_every_order_exactly_once() {
    let Some(database_url) = required_postgres_database("two_instances_on_one_postgres").await
    else {
        return;
    };
    let app_key = PrivateKey::generate().unwrap();
    let sandbox = alipay_sandbox::spawn(SandboxConfig {
        time_scale: 0.001,
        apps: vec![AppConfig::new(APP_ID, app_key.public_key().clone()).seller_id(SELLER_ID)],
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("app_key.pem");
    std::fs::write(&key_file, app_key.to_pkcs8_pem()).unwrap();

    let mut instances = Vec::new();
    for name in ["a", "b"] {
        let config = Config {
            listen: "127.0.0.1:0".parse().unwrap(),
            data_dir: dir.path().join(name),
            database_url: Some(database_url.clone()),
            // Instances behind one load balancer must accept each other's tokens.
            jwt_secret: Some("one secret shared by every instance".into()),
            jobs_interval_ms: 50,
            // Late enough that the notifications below arrive first for their half.
            reconcile_after_secs: 3,
            reconcile_backoff_secs: 1,
            login_per_minute: 10_000,
            seller_id: Some(SELLER_ID.into()),
            alipay: Some(AlipayConfig {
                app_id: APP_ID.into(),
                app_private_key_file: Some(key_file.clone()),
                alipay_public_key: Some(sandbox.alipay_public_key().to_base64()),
                gateway: Some(sandbox.gateway_url()),
                ..AlipayConfig::default()
            }),
            ..Config::default()
        };
        let app = Application::build(config).await.unwrap();
        let (base, ctx, stop) = (app.base_url(), app.context(), app.shutdown_token());
        tokio::spawn(app.run());
        instances.push((base, ctx, stop));
    }
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let (a, b) = (&instances[0], &instances[1]);

    // One buyer, 30 orders placed alternately on both instances, every notification "lost".
    let n = 30;
    let mut tx = a.1.db.begin().await.unwrap();
    for id in 0..n {
        sqlx::query(
            "INSERT INTO courses (id, name, description, price_fen) VALUES ($1, 'c', 'd', 100)",
        )
        .bind(5000 + id)
        .execute(&mut *tx)
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
    let credentials = json!({"username": "twin", "password": "password123"});
    http.post(format!("{}/api/users", a.0))
        .json(&credentials)
        .send()
        .await
        .unwrap();
    let login: Value = http
        .post(format!("{}/api/login", b.0))
        .json(&credentials)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["token"].as_str().unwrap().to_owned();
    http.post(sandbox.url("/api/faults"))
        .json(&json!({"kind": "drop_notifications", "count": 100_000}))
        .send()
        .await
        .unwrap();
    let mut numbers = Vec::new();
    for i in 0..n {
        let base = &instances[i as usize % 2].0;
        let order: Value = http
            .post(format!("{base}/api/orders"))
            .bearer_auth(&token)
            .json(&json!({"course_ids": [5000 + i], "total_amount": "1.00"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let no = order["out_trade_no"]
            .as_str()
            .unwrap_or_else(|| panic!("order refused: {order}"))
            .to_owned();
        http.get(order["pay_url"].as_str().unwrap())
            .send()
            .await
            .unwrap();
        http.post(sandbox.url(&format!("/api/trades/{no}/pay")))
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        numbers.push(no);
    }

    // Half the orders: their notification, 10 copies to each instance at once. The other half is
    // left to the reconciliation jobs, which run on both instances.
    // Each payment's (dropped) delivery is attempted asynchronously: wait until all exist.
    let deliveries: Value = eventually_within(
        Duration::from_secs(30),
        "every payment notified",
        || async {
            let deliveries: Value = http
                .get(sandbox.url("/api/notifications"))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let attempted: std::collections::HashSet<&str> = deliveries
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|d| d["out_trade_no"].as_str())
                .collect();
            let all = numbers.iter().all(|no| attempted.contains(no.as_str()));
            all.then_some(deliveries.clone())
        },
    )
    .await;
    let limit = Arc::new(Semaphore::new(32));
    let mut tasks = Vec::new();
    for no in numbers.iter().step_by(2) {
        let body = deliveries
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["out_trade_no"] == no.as_str())
            .unwrap()["body"]
            .as_str()
            .unwrap()
            .to_owned();
        for copy in 0..20 {
            let (http, url, body, limit) = (
                http.clone(),
                format!("{}/alipay/notify", instances[copy % 2].0),
                body.clone(),
                limit.clone(),
            );
            tasks.push(tokio::spawn(async move {
                let _permit = limit.acquire().await.unwrap();
                let response = http.post(url).body(body).send().await.unwrap();
                (response.status(), response.text().await.unwrap())
            }));
        }
    }
    for task in tasks {
        let (status, answer) = task.await.unwrap();
        assert_eq!((status.as_u16(), answer.as_str()), (200, "success"));
    }

    let db = &a.1.db;
    eventually_within(Duration::from_secs(30), "every order paid", || async {
        let paid: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM orders WHERE status = 'paid'")
            .fetch_one(db.reader())
            .await
            .unwrap();
        (paid == n).then_some(())
    })
    .await;
    let count = |sql: &'static str| async move {
        sqlx::query_scalar::<_, i64>(sql)
            .fetch_one(db.reader())
            .await
            .unwrap()
    };
    assert_eq!(
        count("SELECT COUNT(*) FROM payment_events WHERE kind = 'paid'").await,
        n,
        "each order paid exactly once"
    );
    assert_eq!(count("SELECT COUNT(*) FROM enrollments").await, n);
    let sources: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT source FROM payment_events WHERE kind = 'paid' ORDER BY source",
    )
    .fetch_all(db.reader())
    .await
    .unwrap();
    // Which path won each race varies with timing; both are the same exactly-once path.
    assert!(
        sources.iter().all(|s| s == "notify" || s == "reconcile"),
        "{sources:?}"
    );
    eprintln!("paid through: {sources:?}");
    for (_, _, stop) in &instances {
        stop.cancel();
    }
    sandbox.shutdown().await;
}
