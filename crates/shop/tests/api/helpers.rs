//! `spawn_app()` and the requests tests make.

use std::time::Duration;

use alipay::content::{self, Params};
use alipay::keys::encode_signature;
use alipay::{PrivateKey, SignType};
use reqwest::StatusCode;
use serde_json::{Value, json};
use shop::context::Context;
use shop::{Application, Config};
use tokio_util::sync::CancellationToken;

/// A running shop (demo mode: SQLite in a temp dir, the sandbox at /sandbox).
pub struct TestApp {
    pub base: String,
    pub http: reqwest::Client,
    pub ctx: Context,
    pub data_dir: std::path::PathBuf,
    /// The database it runs on (SQLite in `data_dir`, or a fresh PostgreSQL database).
    pub database_url: String,
    /// The bound address (the base URL may be a configured public URL).
    pub address: std::net::SocketAddr,
    /// The separate metrics address, when `metrics_listen` is set.
    pub metrics_address: Option<std::net::SocketAddr>,
    shutdown: CancellationToken,
    _dir: tempfile::TempDir,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_with(|_| {}).await
}

/// A shop with test-friendly settings (no background jobs: tests run them explicitly; sandbox
/// retries a thousand times faster), adjusted by `tweak`.
pub async fn spawn_with(tweak: impl FnOnce(&mut Config)) -> TestApp {
    // The shop's warnings and errors, shown with a failing test's output.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_test_writer()
        .try_init();
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.path().to_owned(),
        run_jobs: false,
        login_per_minute: 10_000,
        reconcile_after_secs: 0,
        sandbox_time_scale: 0.001,
        ..Config::default()
    };
    if let Some(url) = fresh_postgres_database().await {
        config.database_url = Some(url);
    }
    tweak(&mut config);
    let database_url = config.database_url();
    let app = Application::build(config).await.unwrap();
    let base = app.base_url();
    let metrics_address = app.metrics_address();
    let address = app.address();
    let ctx = app.context();
    let shutdown = app.shutdown_token();
    tokio::spawn(app.run());
    TestApp {
        base,
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        ctx,
        data_dir: dir.path().to_owned(),
        database_url,
        metrics_address,
        address,
        shutdown,
        _dir: dir,
    }
}

/// With `TEST_POSTGRES_URL` set (e.g. `postgres://postgres@127.0.0.1:55432/postgres`), every test
/// gets its own fresh PostgreSQL database instead of SQLite.
pub async fn fresh_postgres_database() -> Option<String> {
    std::env::var_os("TEST_POSTGRES_URL")?;
    Some(postgres_database().await)
}

/// A fresh PostgreSQL database for a test that cannot run without one: it fails, loudly, when
/// `TEST_POSTGRES_URL` is not set, unless `SKIP_POSTGRES_TESTS=1` says to skip it (`None`).
pub async fn required_postgres_database(test: &str) -> Option<String> {
    if std::env::var_os("TEST_POSTGRES_URL").is_some() {
        return Some(postgres_database().await);
    }
    if std::env::var("SKIP_POSTGRES_TESTS").is_ok_and(|v| v == "1") {
        eprintln!("{test}: skipped (SKIP_POSTGRES_TESTS=1)");
        return None;
    }
    panic!(
        "{test} needs PostgreSQL: set TEST_POSTGRES_URL (scripts/postgres.sh start prints one), or SKIP_POSTGRES_TESTS=1 to skip it"
    );
}

async fn postgres_database() -> String {
    use sqlx::Connection;
    let admin = std::env::var("TEST_POSTGRES_URL").expect("TEST_POSTGRES_URL is set");
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(&admin)
        .await
        .expect("TEST_POSTGRES_URL answers");
    let name = format!("shop_test_{}", shop::domain::ids::token().to_lowercase());
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .unwrap();
    let (base, _) = admin
        .rsplit_once('/')
        .expect("a database URL ends with /<database>");
    format!("{base}/{name}")
}

/// Waits (up to 10 s) until `check` gives a value, and returns it: tests wait for the event
/// they need, never for a fixed time. The one polling helper of these tests.
pub async fn eventually<T, F, Fut>(what: &str, check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    eventually_within(Duration::from_secs(10), what, check).await
}

/// [`eventually`] with another patience, for storms and restarts.
pub async fn eventually_within<T, F, Fut>(patience: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + patience;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "gave up waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// What a run of the `shop` binary printed.
#[derive(Debug)]
pub struct Ran {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// Runs the `shop` binary with `args`, `stdin` as its input and `env` added to a clean set of
/// `SHOP_*` variables (a test's own environment never leaks in).
pub fn run_shop(args: &[&str], stdin: &str, env: &[(&str, &str)]) -> Ran {
    use std::io::Write;
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_shop"));
    command
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .env("RUST_LOG", "warn");
    for (name, _) in std::env::vars() {
        if name.starts_with("SHOP_") || name == "DATABASE_URL" {
            command.env_remove(name);
        }
    }
    for (name, value) in env {
        command.env(name, value);
    }
    let mut child = command.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    Ran {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// A logged-in buyer.
pub struct Buyer {
    pub token: String,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> (StatusCode, Value) {
        let mut request = self.http.get(self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> (StatusCode, Value) {
        let mut request = self.http.post(self.url(path)).json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Registers and logs in a fresh buyer.
    pub async fn buyer(&self, name: &str) -> Buyer {
        let (status, _) = self
            .post(
                "/api/users",
                None,
                json!({"username": name, "password": "password123"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);
        let (status, body) = self
            .post(
                "/api/login",
                None,
                json!({"username": name, "password": "password123"}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        Buyer {
            token: body["token"].as_str().unwrap().to_owned(),
        }
    }

    /// `shop admin <args>` on this shop's database, as an operator would run it.
    pub fn admin_cli(&self, args: &[&str], stdin: &str) -> Ran {
        let mut all = vec!["admin"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--data-dir", self.data_dir.to_str().unwrap()]);
        run_shop(&all, stdin, &[("SHOP_DATABASE_URL", &self.database_url)])
    }

    /// Registers a user, makes them an operator the way an operator would (`shop admin grant`,
    /// here through the same use case), and logs in.
    pub async fn operator(&self, name: &str) -> Buyer {
        let user = self.buyer(name).await;
        shop::accounts::grant_operator(&self.ctx.db, name)
            .await
            .unwrap();
        user
    }

    /// Places an order for `course_ids` at the catalog price.
    pub async fn order(&self, buyer: &Buyer, course_ids: &[i64]) -> Value {
        let (_, courses) = self.get("/api/courses", None).await;
        let fen: i64 = courses
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| course_ids.contains(&c["id"].as_i64().unwrap()))
            .map(|c| {
                c["price"]
                    .as_str()
                    .unwrap()
                    .parse::<alipay::Money>()
                    .unwrap()
                    .fen()
            })
            .sum();
        let total = alipay::Money::from_fen(fen).to_string();
        let (status, body) = self
            .post(
                "/api/orders",
                Some(&buyer.token),
                json!({"course_ids": course_ids, "total_amount": total}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body
    }

    /// The buyer opens the cashier (this creates the trade at Alipay, as the real one does).
    pub async fn open_cashier(&self, order: &Value) {
        let response = self
            .http
            .get(order["pay_url"].as_str().unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let page = response.text().await.unwrap();
        assert!(
            page.contains("name=\"buyer\""),
            "not the cashier: {}",
            &page[..page.len().min(400)]
        );
    }

    /// Opens the cashier and pays; returns the sandbox's answer (with the signed `return_url`).
    pub async fn pay(&self, order: &Value) -> Value {
        self.open_cashier(order).await;
        let no = order["out_trade_no"].as_str().unwrap();
        let (status, body) = self
            .post(&format!("/sandbox/api/trades/{no}/pay"), None, json!({}))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    pub async fn order_status(&self, buyer: &Buyer, out_trade_no: &str) -> String {
        let (status, body) = self
            .get(&format!("/api/orders/{out_trade_no}"), Some(&buyer.token))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["status"].as_str().unwrap().to_owned()
    }

    /// Waits (up to 10 s) until the order has `expected` status.
    pub async fn wait_for_status(&self, buyer: &Buyer, out_trade_no: &str, expected: &str) {
        let what = format!("order {out_trade_no} to be {expected}");
        eventually(&what, || async {
            (self.order_status(buyer, out_trade_no).await == expected).then_some(())
        })
        .await;
    }

    /// The notification deliveries the sandbox made.
    pub async fn deliveries(&self) -> Vec<Value> {
        let (_, body) = self.get("/sandbox/api/notifications", None).await;
        body.as_array().cloned().unwrap_or_default()
    }

    pub async fn fault(&self, kind: &str, count: u32) {
        let (status, body) = self
            .post(
                "/sandbox/api/faults",
                None,
                json!({"kind": kind, "count": count}),
            )
            .await;
        assert!(status.is_success(), "{body}");
    }

    pub async fn owned_courses(&self, buyer: &Buyer) -> Vec<i64> {
        let (_, body) = self.get("/api/me/courses", Some(&buyer.token)).await;
        let mut ids: Vec<i64> = body
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["course_id"].as_i64().unwrap())
            .collect();
        ids.sort_unstable();
        ids
    }

    /// Posts a raw notification body; returns (status, body text).
    pub async fn notify(&self, body: &str) -> (StatusCode, String) {
        let response = self
            .http
            .post(self.url("/alipay/notify"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.to_owned())
            .send()
            .await
            .unwrap();
        (response.status(), response.text().await.unwrap())
    }

    /// The sandbox's "Alipay" private key (demo mode keeps it in the data dir).
    pub fn alipay_key(&self) -> PrivateKey {
        PrivateKey::from_file(self.data_dir.join("sandbox_alipay_key.pem")).unwrap()
    }

    /// A notification body signed with `key` as Alipay would sign it.
    pub fn signed_notification(&self, key: &PrivateKey, fields: &[(&str, &str)]) -> String {
        let mut params: Params = fields
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let unsigned = content::notify_content(&params, content::EmptyValues::Drop);
        params.insert(
            "sign".into(),
            encode_signature(&key.sign_bytes(SignType::Rsa2, unsigned.as_bytes())),
        );
        params.insert("sign_type".into(), "RSA2".into());
        content::query_string(&params)
    }

    /// Adds `n` courses with ids 1000.. (one yuan and up), for tests that need many orders.
    pub async fn add_courses(&self, n: usize) {
        let mut tx = self.ctx.db.begin().await.unwrap();
        for i in 0..n as i64 {
            sqlx::query("INSERT INTO courses (id, name, description, price_fen) VALUES ($1, $2, 'test course', $3)")
                .bind(1000 + i)
                .bind(format!("Test course {i}"))
                .bind(100 + i)
                .execute(&mut *tx)
                .await
                .unwrap();
        }
        tx.commit().await.unwrap();
    }

    /// Rows of a table matching a condition (for assertions on what was stored).
    pub async fn count(&self, sql: &str) -> i64 {
        sqlx::query_scalar(sql)
            .fetch_one(self.ctx.db.reader())
            .await
            .unwrap()
    }
}

/// A genuine-looking TRADE_SUCCESS notification for an order.
pub fn paid_fields<'a>(
    out_trade_no: &'a str,
    amount: &'a str,
    trade_no: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("app_id", shop::app::DEMO_APP_ID),
        ("auth_app_id", shop::app::DEMO_APP_ID),
        ("charset", "utf-8"),
        ("gmt_payment", "2026-11-26 12:00:01"),
        ("notify_id", "2026112600222120000000000000000001"),
        ("notify_time", "2026-11-26 12:00:02"),
        ("notify_type", "trade_status_sync"),
        ("out_trade_no", out_trade_no),
        ("seller_id", shop::app::DEMO_SELLER_ID),
        ("total_amount", amount),
        ("trade_no", trade_no),
        ("trade_status", "TRADE_SUCCESS"),
        ("version", "1.0"),
    ]
}
