//! Abuse limits: what a stranger can make the shop store, compute or ask Alipay, and that a
//! genuine notification is never limited.

use std::sync::Arc;

use reqwest::StatusCode;
use serde_json::json;
use tokio::sync::Semaphore;

use crate::helpers::{TestApp, eventually, paid_fields, spawn_with};

/// Bytes the shop keeps for its data: the data dir on SQLite, the notifications table on
/// PostgreSQL.
async fn stored_bytes(app: &TestApp) -> u64 {
    if app.database_url.starts_with("postgres") {
        let size: i64 = sqlx::query_scalar("SELECT pg_total_relation_size('notifications')")
            .fetch_one(app.ctx.db.reader())
            .await
            .unwrap();
        return size.unsigned_abs();
    }
    fn walk(dir: &std::path::Path) -> u64 {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|entry| {
                let entry = entry.unwrap();
                let meta = entry.metadata().unwrap();
                if meta.is_dir() {
                    walk(&entry.path())
                } else {
                    meta.len()
                }
            })
            .sum()
    }
    walk(&app.data_dir)
}

#[tokio::test]
async fn a_flood_of_large_forged_notifications_stays_small_and_genuine_ones_pass() {
    let app = spawn_with(|config| config.notify_failures_per_minute = 60).await;
    let buyer = app.buyer("alice").await;
    let mut orders = Vec::new();
    for course in 1..=5 {
        let order = app.order(&buyer, &[course]).await;
        app.open_cashier(&order).await;
        orders.push(order);
    }
    let before = stored_bytes(&app).await;

    let forged = Arc::new(format!(
        "out_trade_no={}&total_amount=138.00&trade_status=TRADE_SUCCESS&sign=AAAA&junk={}",
        orders[0]["out_trade_no"].as_str().unwrap(),
        "A".repeat(500 * 1024)
    ));
    let started = std::time::Instant::now();
    let limit = Arc::new(Semaphore::new(16));
    let mut tasks = Vec::new();
    for _ in 0..2000 {
        let (client, url, limit, body) = (
            app.http.clone(),
            app.url("/alipay/notify"),
            limit.clone(),
            forged.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let _permit = limit.acquire().await.unwrap();
            client
                .post(url)
                .body(body.as_str().to_owned())
                .send()
                .await
                .unwrap()
                .status()
        }));
    }
    // Genuine notifications in the middle of the flood, from the same address.
    for order in &orders {
        let no = order["out_trade_no"].as_str().unwrap();
        let amount = order["total_amount"].as_str().unwrap();
        let body = app.signed_notification(
            &app.alipay_key(),
            &paid_fields(no, amount, &format!("2026120622001400000000{}", &no[2..8])),
        );
        let (status, answer) = app.notify(&body).await;
        assert_eq!((status, answer.as_str()), (StatusCode::OK, "success"));
    }
    let mut limited = 0;
    for task in tasks {
        match task.await.unwrap() {
            StatusCode::OK => {}
            StatusCode::TOO_MANY_REQUESTS => limited += 1,
            other => panic!("unexpected {other}"),
        }
    }
    let seconds = started.elapsed().as_secs();
    let grown = stored_bytes(&app).await.saturating_sub(before);
    eprintln!(
        "2000 forged notifications of 500 KiB: {limited} refused with 429, storage grew {} KiB",
        grown / 1024
    );
    // A burst of 60, then one more per second.
    assert!(
        2000 - limited <= 60 + seconds + 1,
        "{} stored in {seconds} s",
        2000 - limited
    );
    assert!(grown < 20 * 1024 * 1024, "grew {grown} bytes");
    let longest: i64 = app
        .count("SELECT CAST(COALESCE(MAX(LENGTH(body)), 0) AS BIGINT) FROM notifications WHERE verdict <> 'accepted'")
        .await;
    assert!(
        longest <= 8 * 1024,
        "kept at most 8 KiB of a body, not {longest}"
    );
    let (len, digest): (i64, String) = sqlx::query_as(
        "SELECT body_len, body_sha256 FROM notifications WHERE verdict = 'bad_signature' LIMIT 1",
    )
    .fetch_one(app.ctx.db.reader())
    .await
    .unwrap();
    assert_eq!(len, forged.len() as i64, "the whole length is on record");
    assert_eq!(digest.len(), 64, "with its SHA-256");
    for order in &orders {
        app.wait_for_status(&buyer, order["out_trade_no"].as_str().unwrap(), "paid")
            .await;
    }
}

#[tokio::test]
async fn old_rejected_notifications_are_pruned_and_verified_ones_kept() {
    let app = spawn_with(|config| config.rejected_retention_days = 0).await;
    let buyer = app.buyer("alice").await;
    let order = app.order(&buyer, &[1]).await;
    app.pay(&order).await;
    app.wait_for_status(&buyer, order["out_trade_no"].as_str().unwrap(), "paid")
        .await;
    for _ in 0..3 {
        let (_, answer) = app.notify("forged=1&sign=AAAA").await;
        assert_eq!(answer, "failure");
    }
    // Retention 0 days: each is pruned once its millisecond has passed.
    let gone = std::sync::atomic::AtomicU64::new(0);
    eventually("the three rejected notifications pruned", || async {
        let pruned = shop::payments::notify::prune_rejected(&app.ctx)
            .await
            .unwrap();
        let total = gone.fetch_add(pruned, std::sync::atomic::Ordering::Relaxed) + pruned;
        (total == 3).then_some(())
    })
    .await;
    assert_eq!(
        app.count("SELECT COUNT(*) FROM notifications WHERE verdict = 'accepted'")
            .await,
        1
    );
}

/// Peak resident memory of this process, in KiB (Linux).
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches(" kB").trim().parse().ok())
}

#[tokio::test]
async fn sixty_four_concurrent_registrations_keep_memory_bounded() {
    let app = spawn_with(|config| config.register_per_minute = 1000).await;
    let before = peak_rss_kib();
    let mut tasks = Vec::new();
    for i in 0..64 {
        let (client, url) = (app.http.clone(), app.url("/api/users"));
        tasks.push(tokio::spawn(async move {
            client
                .post(url)
                .json(&json!({"username": format!("user{i:02}"), "password": "password123"}))
                .send()
                .await
                .unwrap()
                .status()
        }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap(), StatusCode::CREATED);
    }
    if let (Some(before), Some(after)) = (before, peak_rss_kib()) {
        let grown = after.saturating_sub(before);
        eprintln!(
            "64 concurrent registrations: peak RSS {} MiB -> {} MiB (+{} MiB)",
            before / 1024,
            after / 1024,
            grown / 1024
        );
        // argon2id takes ~19 MiB per hash: 64 at once would be ~1.2 GiB.
        assert!(grown < 128 * 1024, "peak RSS grew {grown} KiB");
    }
}

#[tokio::test]
async fn registration_is_rate_limited_per_address_whatever_it_claims() {
    let app = spawn_with(|config| config.register_per_minute = 3).await;
    let mut statuses = Vec::new();
    for i in 0..5 {
        let response = app
            .http
            .post(app.url("/api/users"))
            // A stranger's own X-Forwarded-For is not believed (no trusted proxies).
            .header("x-forwarded-for", format!("198.51.100.{i}"))
            .json(&json!({"username": format!("spam{i}"), "password": "password123"}))
            .send()
            .await
            .unwrap();
        statuses.push(response.status());
    }
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
            .count(),
        2,
        "{statuses:?}"
    );
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_client_has_its_own_limit() {
    let app = spawn_with(|config| {
        config.register_per_minute = 1;
        config.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    })
    .await;
    for i in 0..3 {
        let response = app
            .http
            .post(app.url("/api/users"))
            .header("x-forwarded-for", format!("198.51.100.{i}"))
            .json(&json!({"username": format!("client{i}"), "password": "password123"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED, "client {i}");
    }
    let response = app
        .http
        .post(app.url("/api/users"))
        .header("x-forwarded-for", "198.51.100.0")
        .json(&json!({"username": "client0b", "password": "password123"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn a_reloaded_return_page_asks_alipay_once() {
    let app = spawn_with(|config| config.return_check_secs = 3600).await;
    let buyer = app.buyer("alice").await;
    let order = app.order(&buyer, &[1]).await;
    let no = order["out_trade_no"].as_str().unwrap();
    app.open_cashier(&order).await;
    // Each trade query Alipay answers uses up one of these: what is left counts the queries.
    let (status, _) = app
        .post(
            "/sandbox/api/faults",
            None,
            json!({"kind": "slow_api", "method": "alipay.trade.query", "count": 10, "delay_ms": 1}),
        )
        .await;
    assert!(status.is_success());
    let fields = paid_fields(no, "138.00", "2026112622001400000000000009");
    let query = app.signed_notification(&app.alipay_key(), &fields);
    for _ in 0..5 {
        let response = app
            .http
            .get(app.url(&format!("/alipay/return?{query}")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
    }
    let (_, faults) = app.get("/sandbox/api/faults", None).await;
    assert_eq!(
        faults[0]["remaining"], 9,
        "one query for five returns: {faults}"
    );
    assert_eq!(app.order_status(&buyer, no).await, "unpaid");
}
