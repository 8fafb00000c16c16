//! The shop killed with SIGKILL in the middle of a payment storm, then restarted: every order
//! Alipay (the sandbox, in this test process) says is paid ends paid, none twice.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use alipay::PrivateKey;
use alipay_sandbox::{AppConfig, SandboxConfig};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::eventually_within;

const APP_ID: &str = "2021000000000077";
const SELLER_ID: &str = "2088000000000077";

struct Shop {
    child: Child,
    base: String,
}

impl Drop for Shop {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `shop serve` on `listen` (`127.0.0.1:0` picks a port) and waits until it is ready.
/// The address comes from the line the shop prints, so no port is guessed in advance.
async fn start_shop(
    listen: &str,
    dir: &std::path::Path,
    key_file: &std::path::Path,
    gateway: &str,
    alipay_public_key: &str,
) -> Shop {
    use std::io::BufRead;
    let mut child = Command::new(env!("CARGO_BIN_EXE_shop"))
        .args([
            "serve",
            "--listen",
            listen,
            "--data-dir",
            dir.to_str().unwrap(),
        ])
        .env("SHOP_ALIPAY__APP_ID", APP_ID)
        .env("SHOP_ALIPAY__APP_PRIVATE_KEY_FILE", key_file)
        .env("SHOP_ALIPAY__ALIPAY_PUBLIC_KEY", alipay_public_key)
        .env("SHOP_ALIPAY__GATEWAY", gateway)
        .env("SHOP_SELLER_ID", SELLER_ID)
        .env("SHOP_RECONCILE_AFTER_SECS", "1")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let mut lines = std::io::BufReader::new(stdout).lines();
        let mut tx = Some(tx);
        // The first line names the address; the rest is drained so the pipe never fills.
        for line in lines.by_ref().map_while(Result::ok) {
            if let Some(base) = line.strip_prefix("alipay-shop is running at ")
                && let Some(tx) = tx.take()
            {
                let _ = tx.send(base.trim_end_matches('/').to_owned());
            }
        }
    });
    let base = tokio::time::timeout(Duration::from_secs(20), rx)
        .await
        .expect("the shop printed its address")
        .expect("the shop started");
    eventually_within(Duration::from_secs(20), "the shop to be ready", || async {
        let ready = reqwest::get(format!("{base}/readyz")).await;
        ready
            .is_ok_and(|r| r.status() == StatusCode::OK)
            .then_some(())
    })
    .await;
    Shop { child, base }
}

async fn json_post(
    http: &reqwest::Client,
    url: String,
    token: Option<&str>,
    body: Value,
) -> (StatusCode, Value) {
    let mut request = http.post(url).json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    (
        response.status(),
        response.json().await.unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn a_shop_killed_mid_storm_loses_no_payment_and_pays_none_twice() {
    // Alipay stands apart from the shop, so it survives the crash.
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
    let data = dir.path().join("data");
    let alipay_public_key = sandbox.alipay_public_key().to_base64();
    let shop = start_shop(
        "127.0.0.1:0",
        &data,
        &key_file,
        &sandbox.gateway_url(),
        &alipay_public_key,
    )
    .await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();

    // 8 buyers × 6 courses = 48 orders, each opened at the cashier.
    let mut orders = Vec::new();
    for b in 0..8 {
        let name = format!("buyer{b}");
        let (status, _) = json_post(
            &http,
            format!("{}/api/users", shop.base),
            None,
            json!({"username": name, "password": "password123"}),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED);
        let (_, login) = json_post(
            &http,
            format!("{}/api/login", shop.base),
            None,
            json!({"username": name, "password": "password123"}),
        )
        .await;
        let token = login["token"].as_str().unwrap().to_owned();
        let (_, courses) = {
            let response = http
                .get(format!("{}/api/courses", shop.base))
                .send()
                .await
                .unwrap();
            (response.status(), response.json::<Value>().await.unwrap())
        };
        for course in courses.as_array().unwrap() {
            let (status, order) = json_post(
                &http,
                format!("{}/api/orders", shop.base),
                Some(&token),
                json!({"course_ids": [course["id"]], "total_amount": course["price"]}),
            )
            .await;
            assert_eq!(status, StatusCode::CREATED, "{order}");
            let cashier = http
                .get(order["pay_url"].as_str().unwrap())
                .send()
                .await
                .unwrap();
            assert_eq!(cashier.status(), StatusCode::OK);
            orders.push((
                token.clone(),
                order["out_trade_no"].as_str().unwrap().to_owned(),
            ));
        }
    }

    // The storm: payments eight at a time; the shop dies while the third batch's notifications
    // are arriving, and the rest are paid while it is down.
    let mut shop = shop;
    let mut paid_when_killed = None;
    for (batch, chunk) in orders.chunks(8).enumerate() {
        let payments = chunk.iter().map(|(_, no)| {
            http.post(sandbox.url(&format!("/api/trades/{no}/pay")))
                .json(&json!({}))
                .send()
        });
        let answers = futures_util::future::join_all(payments).await;
        if batch == 2 {
            shop.child.kill().unwrap(); // SIGKILL: no graceful anything.
            shop.child.wait().unwrap();
            let db = shop::store::Db::connect(&format!(
                "sqlite://{}?mode=rw",
                data.join("shop.db").display()
            ))
            .await
            .unwrap();
            let paid: Vec<String> =
                sqlx::query_scalar("SELECT out_trade_no FROM orders WHERE status = 'paid'")
                    .fetch_all(db.reader())
                    .await
                    .unwrap();
            db.close().await;
            // Every notification the shop answered `success` before it died was committed
            // first (notifications commit in groups: the answer waits for its group's commit).
            let deliveries: Value = http
                .get(sandbox.url("/api/notifications"))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let acknowledged: Vec<&str> = deliveries
                .as_array()
                .unwrap()
                .iter()
                .filter(|d| d["acknowledged"] == true)
                .map(|d| d["out_trade_no"].as_str().unwrap())
                .collect();
            for no in &acknowledged {
                assert!(
                    paid.iter().any(|p| p == no),
                    "order {no} was acknowledged to Alipay but is not paid in the database"
                );
            }
            eprintln!(
                "at the kill: {} notifications acknowledged, {} orders paid",
                acknowledged.len(),
                paid.len()
            );
            paid_when_killed = Some(paid.len() as i64);
        }
        for answer in answers {
            assert_eq!(answer.unwrap().status(), StatusCode::OK);
        }
    }
    let paid_when_killed = paid_when_killed.unwrap();
    assert!(
        paid_when_killed < orders.len() as i64,
        "the kill came mid-storm ({paid_when_killed} paid)"
    );
    eprintln!(
        "killed with {paid_when_killed} of {} orders paid",
        orders.len()
    );

    // Restart on the same data and address (its own, just released: Alipay's notify_url names
    // it); Alipay's retries and reconciliation do the rest.
    let address = shop.base.trim_start_matches("http://").to_owned();
    let shop = start_shop(
        &address,
        &data,
        &key_file,
        &sandbox.gateway_url(),
        &alipay_public_key,
    )
    .await;
    let trades: Value = http
        .get(sandbox.url("/api/trades"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let paid_at_alipay: Vec<String> = trades
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["trade_status"] == "TRADE_SUCCESS")
        .map(|t| t["out_trade_no"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(paid_at_alipay.len(), orders.len());
    for (token, no) in &orders {
        let what = format!("order {no} to be paid");
        eventually_within(Duration::from_secs(60), &what, || async {
            let order: Value = http
                .get(format!("{}/api/orders/{no}", shop.base))
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            (order["status"] == "paid").then_some(())
        })
        .await;
    }

    // None twice: one `paid` event per order, one enrolment per order.
    drop(shop);
    let db = shop::store::Db::connect(&format!(
        "sqlite://{}?mode=rw",
        data.join("shop.db").display()
    ))
    .await
    .unwrap();
    let count = |sql: &'static str| {
        let db = db.clone();
        async move {
            sqlx::query_scalar::<_, i64>(sql)
                .fetch_one(db.reader())
                .await
                .unwrap()
        }
    };
    let n = orders.len() as i64;
    assert_eq!(
        count("SELECT COUNT(*) FROM orders WHERE status = 'paid'").await,
        n
    );
    assert_eq!(
        count("SELECT COUNT(*) FROM payment_events WHERE kind = 'paid'").await,
        n
    );
    assert_eq!(count("SELECT COUNT(*) FROM enrollments").await, n);
    assert_eq!(count("SELECT COUNT(*) FROM (SELECT order_id FROM payment_events WHERE kind = 'paid' GROUP BY order_id HAVING COUNT(*) > 1) AS twice").await, 0);
    sandbox.shutdown().await;
}
