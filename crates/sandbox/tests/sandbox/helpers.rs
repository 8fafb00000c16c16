//! A sandbox on 127.0.0.1:0, a merchant (`alipay::Client`) pointed at it, and a small notify
//! receiver that records what it gets and answers as told.

use std::collections::VecDeque;
use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use alipay::content::Params;
use alipay::{Client, Gateway, Money, PrivateKey, PublicKey, SignType, SignedRequest, WebPay};
use alipay_sandbox::{AppConfig, RunningSandbox, SandboxConfig};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use serde_json::Value;

pub const APP_ID: &str = "2021000000000001";
pub const RETURN_URL: &str = "https://shop.example/alipay/return";

pub fn data(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../alipay/tests/data")
        .join(path)
}

pub fn app_private_key() -> PrivateKey {
    PrivateKey::from_file(data("keys/app_private_pkcs8.pem")).unwrap()
}

pub fn app_public_key() -> PublicKey {
    PublicKey::from_file(data("keys/app_public_spki.pem")).unwrap()
}

pub fn rogue_private_key() -> PrivateKey {
    PrivateKey::from_file(data("keys/rogue_private_pkcs8.pem")).unwrap()
}

pub fn money(text: &str) -> Money {
    text.parse().unwrap()
}

/// Submits the cashier's form at `path` as a buyer would.
pub async fn submit(app: &TestApp, path: &str, buyer: &str, password: &str) -> reqwest::Response {
    let form = format!(
        "buyer={}&password={}",
        alipay::content::encode_value(buyer),
        alipay::content::encode_value(password)
    );
    app.http
        .post(app.url(path))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .unwrap()
}

/// Polls `check` until it gives a value, for at most 10 seconds.
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// One notification as the merchant received it.
#[derive(Clone, Debug)]
pub struct Received {
    pub body: String,
    pub at: Instant,
}

#[derive(Default)]
struct ReceiverState {
    received: Mutex<Vec<Received>>,
    answers: Mutex<VecDeque<(u16, String)>>,
    default: Mutex<Option<(u16, String)>>,
}

/// A merchant's notify endpoint.
pub struct Receiver {
    pub url: String,
    state: Arc<ReceiverState>,
}

async fn receive(State(state): State<Arc<ReceiverState>>, body: Bytes) -> (StatusCode, String) {
    state.received.lock().unwrap().push(Received {
        body: String::from_utf8(body.to_vec()).unwrap(),
        at: Instant::now(),
    });
    let scripted = state.answers.lock().unwrap().pop_front();
    let (status, text) = scripted
        .or_else(|| state.default.lock().unwrap().clone())
        .unwrap_or((200, "success".into()));
    (StatusCode::from_u16(status).unwrap(), text)
}

impl Receiver {
    pub async fn start() -> Receiver {
        let state = Arc::new(ReceiverState::default());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/alipay/notify", listener.local_addr().unwrap());
        let router = Router::new()
            .route("/alipay/notify", post(receive))
            .with_state(Arc::clone(&state));
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        Receiver { url, state }
    }

    /// The next answers, in order; after them the default.
    pub fn answer(&self, status: u16, body: &str) {
        self.state
            .answers
            .lock()
            .unwrap()
            .push_back((status, body.into()));
    }

    /// The answer once the scripted ones are used up (initially 200 `success`).
    pub fn answer_always(&self, status: u16, body: &str) {
        *self.state.default.lock().unwrap() = Some((status, body.into()));
    }

    pub fn received(&self) -> Vec<Received> {
        self.state.received.lock().unwrap().clone()
    }

    /// Waits until at least `count` notifications have arrived.
    pub async fn wait_for(&self, count: usize) -> Vec<Received> {
        eventually(&format!("{count} notifications"), || async {
            let received = self.received();
            (received.len() >= count).then_some(received)
        })
        .await
    }
}

/// A form body's fields.
pub fn fields(body: &str) -> Params {
    alipay::content::parse_form(body.as_bytes()).unwrap()
}

pub struct TestApp {
    pub sandbox: RunningSandbox,
    pub client: Client,
    pub http: reqwest::Client,
    pub receiver: Receiver,
}

pub fn test_config() -> SandboxConfig {
    SandboxConfig {
        time_scale: 0.001,
        apps: vec![AppConfig::new(APP_ID, app_public_key()).name("Rust 课程商店")],
        ..SandboxConfig::default()
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_with(test_config()).await
}

pub async fn spawn_with(config: SandboxConfig) -> TestApp {
    let sandbox = alipay_sandbox::spawn(config).await.unwrap();
    let receiver = Receiver::start().await;
    let client = merchant(
        &sandbox,
        APP_ID,
        app_private_key(),
        SignType::Rsa2,
        &receiver.url,
    );
    TestApp {
        sandbox,
        client,
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        receiver,
    }
}

pub fn merchant(
    sandbox: &RunningSandbox,
    app_id: &str,
    key: PrivateKey,
    sign_type: SignType,
    notify_url: &str,
) -> Client {
    Client::builder(app_id, key, sandbox.alipay_public_key().clone())
        .gateway(Gateway::Url(sandbox.gateway_url()))
        .sign_type(sign_type)
        .notify_url(notify_url)
        .return_url(RETURN_URL)
        .build()
        .unwrap()
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        self.sandbox.url(path)
    }

    pub fn pay_link(&self, out_trade_no: &str, amount: &str) -> SignedRequest {
        self.client
            .web_pay(&WebPay::page(
                out_trade_no,
                money(amount),
                "Rust 入门课 a/b+c",
            ))
            .unwrap()
    }

    /// Opens a pay link as a browser would; returns the page.
    pub async fn open(&self, link: &SignedRequest) -> String {
        let response = self.http.get(link.url()).send().await.unwrap();
        assert_eq!(response.status(), 200);
        response.text().await.unwrap()
    }

    /// Creates a page-pay trade by opening its link; returns its `trade_no`.
    pub async fn open_trade(&self, out_trade_no: &str, amount: &str) -> String {
        let page = self.open(&self.pay_link(out_trade_no, amount)).await;
        assert!(page.contains("id=\"pay\""), "not a cashier: {page}");
        self.trade(out_trade_no).await["trade_no"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    pub async fn get_json(&self, path: &str) -> (u16, Value) {
        let response = self.http.get(self.url(path)).send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    pub async fn post_json(&self, path: &str, body: Value) -> (u16, Value) {
        let response = self
            .http
            .post(self.url(path))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// Injects a fault (`POST /api/faults`), which must be accepted.
    pub async fn fault(&self, body: Value) -> Value {
        let (status, fault) = self.post_json("/api/faults", body).await;
        assert_eq!(status, 201, "{fault}");
        fault
    }

    pub async fn trade(&self, out_trade_no: &str) -> Value {
        let (status, trade) = self.get_json(&format!("/api/trades/{out_trade_no}")).await;
        assert_eq!(status, 200, "{trade}");
        trade
    }

    /// Pays through the test API as the default buyer.
    pub async fn pay(&self, out_trade_no: &str) -> Value {
        let (status, body) = self
            .post_json(
                &format!("/api/trades/{out_trade_no}/pay"),
                serde_json::json!({}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body
    }

    pub async fn deliveries(&self, out_trade_no: &str) -> Vec<Value> {
        let (status, body) = self
            .get_json(&format!("/api/notifications?out_trade_no={out_trade_no}"))
            .await;
        assert_eq!(status, 200);
        body.as_array().unwrap().clone()
    }

    /// Signs arbitrary parameters on top of the common ones, as a hand-rolled client would.
    pub fn signed(&self, method: &str, biz_content: &str, extra: &[(&str, &str)]) -> SignedRequest {
        let mut params = self.client.common_params(method, alipay::time::now());
        params.insert("biz_content".into(), biz_content.into());
        for (k, v) in extra {
            params.insert((*k).into(), (*v).into());
        }
        self.client.sign(params).unwrap()
    }

    /// POSTs a signed request's parameters as a form body; returns the raw answer.
    pub async fn post_gateway(&self, request: &SignedRequest) -> String {
        self.post_form(&request.query_string()).await
    }

    pub async fn post_form(&self, body: &str) -> String {
        let response = self
            .http
            .post(self.sandbox.gateway_url())
            .header(
                "content-type",
                "application/x-www-form-urlencoded;charset=utf-8",
            )
            .body(body.to_owned())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.text().await.unwrap()
    }

    /// The response node of a raw answer, parsed, after checking the envelope.
    pub fn node(&self, method: &str, body: &str) -> Value {
        let top: Value = serde_json::from_str(body).unwrap();
        top[alipay::response::node_name(method)].clone()
    }
}
