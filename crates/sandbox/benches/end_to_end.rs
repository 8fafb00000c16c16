//! Trades paid end to end per second: the merchant signs a pay link, the browser opens it (the
//! gateway verifies it and shows the cashier), the buyer pays (test API), the notification is
//! signed, delivered to a local merchant endpoint and acknowledged with `success`.
//!
//! `one_at_a_time` measures latency-bound throughput; `16_in_flight` keeps 16 trades going at
//! once, which is what a load test of a shop would do. Everything is on 127.0.0.1.
//!
//! Run: `CARGO_TARGET_DIR=/work/target-sandbox cargo bench -p alipay-sandbox --bench end_to_end`
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use alipay::{Client, Gateway, Money, PrivateKey, PublicKey, WebPay};
use alipay_sandbox::{AppConfig, BuyerConfig, RunningSandbox, SandboxConfig};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tokio::sync::oneshot;

const APP_ID: &str = "2021000000000001";

type Waiters = Arc<Mutex<HashMap<String, oneshot::Sender<()>>>>;

async fn receive(State(waiters): State<Waiters>, body: Bytes) -> &'static str {
    let params = alipay::content::parse_form(&body).unwrap();
    if let Some(waiter) = waiters.lock().unwrap().remove(&params["out_trade_no"]) {
        let _ = waiter.send(());
    }
    "success"
}

struct Bench {
    sandbox: RunningSandbox,
    client: Client,
    http: reqwest::Client,
    waiters: Waiters,
    counter: AtomicU64,
}

fn data(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../alipay/tests/data/keys")
        .join(path)
}

async fn setup() -> Bench {
    let public = PublicKey::from_file(data("app_public_spki.pem")).unwrap();
    // A buyer rich enough for every iteration criterion decides to run.
    let buyer = BuyerConfig {
        logon_id: "bench@sandbox.com".into(),
        password: "111111".into(),
        balance: Money::from_yuan(1_000_000_000_000),
        user_id: "2088102177849999".into(),
    };
    let sandbox = alipay_sandbox::spawn(SandboxConfig {
        apps: vec![AppConfig::new(APP_ID, public)],
        buyers: vec![buyer],
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let waiters: Waiters = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let notify_url = format!("http://{}/notify", listener.local_addr().unwrap());
    let router = Router::new()
        .route("/notify", post(receive))
        .with_state(Arc::clone(&waiters));
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let client = Client::builder(
        APP_ID,
        PrivateKey::from_file(data("app_private_pkcs8.pem")).unwrap(),
        sandbox.alipay_public_key().clone(),
    )
    .gateway(Gateway::Url(sandbox.gateway_url()))
    .notify_url(notify_url)
    .return_url("https://shop.example/return")
    .build()
    .unwrap();
    Bench {
        sandbox,
        client,
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(64)
            .build()
            .unwrap(),
        waiters,
        counter: AtomicU64::new(0),
    }
}

impl Bench {
    /// One trade, from pay link to acknowledged notification.
    async fn trade(&self) {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let out_trade_no = format!("BENCH_{n}");
        let (acknowledged, wait) = oneshot::channel();
        self.waiters
            .lock()
            .unwrap()
            .insert(out_trade_no.clone(), acknowledged);
        let link = self
            .client
            .web_pay(&WebPay::page(
                &out_trade_no,
                Money::from_fen(13_800),
                "Rust 入门课",
            ))
            .unwrap();
        let cashier = self.http.get(link.url()).send().await.unwrap();
        assert_eq!(cashier.status(), 200);
        let _page = cashier.bytes().await.unwrap();
        let paid = self
            .http
            .post(self.sandbox.url(&format!("/api/trades/{out_trade_no}/pay")))
            .send()
            .await
            .unwrap();
        assert_eq!(paid.status(), 200);
        tokio::time::timeout(Duration::from_secs(10), wait)
            .await
            .expect("notification within 10 s")
            .unwrap();
    }
}

fn end_to_end(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let bench = Arc::new(runtime.block_on(setup()));
    let mut group = c.benchmark_group("trades_paid_end_to_end");
    group.sample_size(30);
    group.measurement_time(Duration::from_secs(10));

    group.throughput(Throughput::Elements(1));
    group.bench_function("one_at_a_time", |b| {
        b.to_async(&runtime).iter(|| bench.trade());
    });

    const IN_FLIGHT: u64 = 16;
    group.throughput(Throughput::Elements(IN_FLIGHT));
    group.bench_function("16_in_flight", |b| {
        b.to_async(&runtime).iter(|| {
            let bench = Arc::clone(&bench);
            async move {
                let tasks: Vec<_> = (0..IN_FLIGHT)
                    .map(|_| {
                        let bench = Arc::clone(&bench);
                        tokio::spawn(async move { bench.trade().await })
                    })
                    .collect();
                for task in tasks {
                    task.await.unwrap();
                }
            }
        });
    });
    group.finish();
}

criterion_group!(benches, end_to_end);
criterion_main!(benches);
