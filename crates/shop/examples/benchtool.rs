//! Helpers for `bench/shop.sh` and `bench/side-by-side.sh`: prepare a demo-mode shop for load
//! tests, drive end-to-end payments, and measure the machine's durable commit rate. Not part of
//! the shop; the load itself comes from wrk and oha.

#![allow(clippy::unwrap_used, clippy::expect_used)] // A benchmark tool: fail loudly.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use alipay::content::{self, Params};
use alipay::keys::encode_signature;
use alipay::{PrivateKey, SignType};
use clap::{Parser, Subcommand};
use serde_json::{Value, json};
use shop::store::Db;

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Registers (or reuses) a user, adds `courses` extra courses, prints a login token.
    Setup {
        #[arg(long)]
        base: String,
        #[arg(long)]
        database_url: String,
        #[arg(long, default_value = "bench")]
        user: String,
        #[arg(long, default_value_t = 0)]
        courses: i64,
    },
    /// Stores `count` new unpaid orders, each for two courses nobody owns yet (so that paying
    /// it is an ordinary first payment: two enrolments, no double payment), with a pay link
    /// issued, and writes one signed TRADE_SUCCESS notification body per order, one per line.
    Notifications {
        #[arg(long)]
        database_url: String,
        /// The shop's data dir (for the built-in sandbox's Alipay key).
        #[arg(long)]
        data_dir: std::path::PathBuf,
        #[arg(long)]
        out: std::path::PathBuf,
        #[arg(long, default_value_t = 20_000)]
        count: i64,
        /// The buyer (made by `setup`).
        #[arg(long, default_value = "bench")]
        user: String,
    },
    /// Complete payments end to end: order, cashier, pay, notification, paid.
    Payments {
        #[arg(long)]
        base: String,
        #[arg(long)]
        token: String,
        /// First course id to buy (one course per payment, ids first..first+count).
        #[arg(long, default_value_t = 100_000)]
        first_course: i64,
        #[arg(long, default_value_t = 1000)]
        count: usize,
        #[arg(long, default_value_t = 16)]
        concurrency: usize,
    },
    /// The machine's limit for durable writes: one-row transactions, one after another, on a
    /// SQLite file in WAL mode with `synchronous = FULL` (what the shop uses), through the same
    /// driver; prints `commits_per_s=N`.
    CommitLimit {
        /// The database file to make (deleted first).
        #[arg(long)]
        path: std::path::PathBuf,
        #[arg(long, default_value_t = 5)]
        seconds: u64,
    },
}

#[tokio::main]
async fn main() {
    match Cli::parse().command {
        Command::Setup {
            base,
            database_url,
            user,
            courses,
        } => setup(&base, &database_url, &user, courses).await,
        Command::Notifications {
            database_url,
            data_dir,
            out,
            count,
            user,
        } => notifications(&database_url, &data_dir, &out, count, &user).await,
        Command::Payments {
            base,
            token,
            first_course,
            count,
            concurrency,
        } => payments(&base, &token, first_course, count, concurrency).await,
        Command::CommitLimit { path, seconds } => commit_limit(&path, seconds).await,
    }
}

async fn commit_limit(path: &std::path::Path, seconds: u64) {
    use sqlx::Connection as _;
    use sqlx::sqlite::{
        SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqliteSynchronous,
    };
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    let options = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full);
    let mut conn = SqliteConnection::connect_with(&options).await.unwrap();
    sqlx::query("CREATE TABLE t (id INTEGER PRIMARY KEY, at INTEGER NOT NULL)")
        .execute(&mut conn)
        .await
        .unwrap();
    let until = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut commits: u64 = 0;
    while Instant::now() < until {
        let mut tx = conn.begin().await.unwrap();
        sqlx::query("INSERT INTO t (at) VALUES ($1)")
            .bind(commits as i64)
            .execute(&mut *tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        commits += 1;
    }
    println!(
        "commits_per_s={:.0}",
        commits as f64 / started.elapsed().as_secs_f64()
    );
}

async fn setup(base: &str, database_url: &str, user: &str, courses: i64) {
    let http = reqwest::Client::new();
    let credentials = json!({"username": user, "password": "bench-password"});
    let _ = http
        .post(format!("{base}/api/users"))
        .json(&credentials)
        .send()
        .await
        .unwrap();
    let login: Value = http
        .post(format!("{base}/api/login"))
        .json(&credentials)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    if courses > 0 {
        let db = Db::connect(database_url).await.unwrap();
        let mut tx = db.begin().await.unwrap();
        for id in 100_000..100_000 + courses {
            sqlx::query("INSERT INTO courses (id, name, description, price_fen) VALUES ($1, $2, 'bench', 100) ON CONFLICT DO NOTHING")
                .bind(id)
                .bind(format!("Bench course {id}"))
                .execute(&mut *tx)
                .await
                .unwrap();
        }
        tx.commit().await.unwrap();
    }
    println!("{}", login["token"].as_str().expect("login works"));
}

async fn notifications(
    database_url: &str,
    data_dir: &std::path::Path,
    out: &std::path::Path,
    count: i64,
    user: &str,
) {
    let db = Db::connect(database_url).await.unwrap();
    let key = PrivateKey::from_file(data_dir.join("sandbox_alipay_key.pem")).unwrap();
    let user_id: i64 = sqlx::query_scalar("SELECT id FROM users WHERE username = $1")
        .bind(user)
        .fetch_one(db.reader())
        .await
        .expect("the bench user (run `benchtool setup` first)");
    let stamp = shop::store::now_ms();
    let first_course: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) + 1 FROM courses")
        .fetch_one(db.reader())
        .await
        .unwrap();
    let mut tx = db.begin().await.unwrap();
    let mut rows: Vec<(String, i64)> = Vec::new();
    // Many rows per statement: 60,000 orders take seconds, not a minute.
    for chunk_start in (0..count).step_by(200) {
        let chunk: Vec<i64> = (chunk_start..count.min(chunk_start + 200)).collect();
        let courses: Vec<i64> = chunk
            .iter()
            .flat_map(|i| [first_course + 2 * i, first_course + 2 * i + 1])
            .collect();
        let sql = dollars(&format!(
            "INSERT INTO courses (id, name, description, price_fen) VALUES {}",
            vec!["(?, 'Bench course', 'bench', 9900)"; courses.len()].join(", ")
        ));
        let mut query = sqlx::query(&sql);
        for course in &courses {
            query = query.bind(*course);
        }
        query.execute(&mut *tx).await.unwrap();
        let numbers: Vec<String> = chunk.iter().map(|i| format!("BN{stamp}{i:08}")).collect();
        let sql = dollars(&format!(
            "INSERT INTO orders (out_trade_no, user_id, subject, total_fen, status, created_at, updated_at, expires_at, pay_link_at, next_check_at) VALUES {} RETURNING id, out_trade_no",
            vec!["(?, ?, 'bench', 19800, 'unpaid', ?, ?, ?, ?, ?)"; chunk.len()].join(", ")
        ));
        let mut query = sqlx::query_as::<_, (i64, String)>(&sql);
        for no in &numbers {
            query = query
                .bind(no)
                .bind(user_id)
                .bind(stamp)
                .bind(stamp)
                .bind(stamp + 3_600_000)
                .bind(stamp)
                .bind(stamp + 3_600_000);
        }
        let ids: std::collections::HashMap<String, i64> = query
            .fetch_all(&mut *tx)
            .await
            .unwrap()
            .into_iter()
            .map(|(id, no)| (no, id))
            .collect();
        let sql = dollars(&format!(
            "INSERT INTO order_items (order_id, course_id, course_name, price_fen, real_price_fen) VALUES {}",
            vec!["(?, ?, 'Bench course', 9900, 9900)"; courses.len()].join(", ")
        ));
        let mut query = sqlx::query(&sql);
        for (no, i) in numbers.iter().zip(&chunk) {
            for course in [first_course + 2 * i, first_course + 2 * i + 1] {
                query = query.bind(ids[no]).bind(course);
            }
        }
        query.execute(&mut *tx).await.unwrap();
        rows.extend(numbers.into_iter().map(|no| (no, 19800)));
    }
    tx.commit().await.unwrap();
    // Signed on every core: a hundred thousand signatures take a while on one.
    let threads = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
    let per_thread = rows.len().div_ceil(threads).max(1);
    let key = &key;
    let lines: String = std::thread::scope(|scope| {
        let parts: Vec<_> = rows
            .chunks(per_thread)
            .enumerate()
            .map(|(part, chunk)| {
                scope.spawn(move || {
                    let mut lines = String::new();
                    for (n, (out_trade_no, total_fen)) in chunk.iter().enumerate() {
                        let i = part * per_thread + n;
                        lines.push_str(&notification_body(key, i, out_trade_no, *total_fen));
                        lines.push('\n');
                    }
                    lines
                })
            })
            .collect();
        parts.into_iter().map(|part| part.join().unwrap()).collect()
    });
    std::fs::write(out, lines).unwrap();
    eprintln!(
        "{} notification bodies written to {}",
        rows.len(),
        out.display()
    );
}

/// A signed TRADE_SUCCESS notification body for order `out_trade_no`, the `i`th of a run.
fn notification_body(key: &PrivateKey, i: usize, out_trade_no: &str, total_fen: i64) -> String {
    let amount = alipay::Money::from_fen(total_fen).to_string();
    let trade_no = format!("20261126220014{i:014}");
    let notify_id = format!("2026112600222{i:021}");
    let mut params: Params = [
        ("app_id", shop::app::DEMO_APP_ID),
        ("auth_app_id", shop::app::DEMO_APP_ID),
        ("charset", "utf-8"),
        ("gmt_payment", "2026-11-26 12:00:01"),
        ("notify_id", &notify_id),
        ("notify_time", "2026-11-26 12:00:02"),
        ("notify_type", "trade_status_sync"),
        ("out_trade_no", out_trade_no),
        ("seller_id", shop::app::DEMO_SELLER_ID),
        ("total_amount", &amount),
        ("trade_no", &trade_no),
        ("trade_status", "TRADE_SUCCESS"),
        ("version", "1.0"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    let unsigned = content::notify_content(&params, content::EmptyValues::Drop);
    params.insert(
        "sign".into(),
        encode_signature(&key.sign_bytes(SignType::Rsa2, unsigned.as_bytes())),
    );
    params.insert("sign_type".into(), "RSA2".into());
    content::query_string(&params)
}

/// `?` placeholders numbered `$1, $2, …` (the dialect both databases take).
fn dollars(sql: &str) -> String {
    let mut numbered = String::with_capacity(sql.len() * 2);
    let mut n = 0;
    for c in sql.chars() {
        if c == '?' {
            n += 1;
            numbered.push_str(&format!("${n}"));
        } else {
            numbered.push(c);
        }
    }
    numbered
}

async fn payments(base: &str, token: &str, first_course: i64, count: usize, concurrency: usize) {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(concurrency)
        .build()
        .unwrap();
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let (http, base, token, next) = (
            http.clone(),
            base.to_owned(),
            token.to_owned(),
            next.clone(),
        );
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= count {
                    return latencies;
                }
                let begun = Instant::now();
                let course = first_course + i as i64;
                let order: Value = http
                    .post(format!("{base}/api/orders"))
                    .bearer_auth(&token)
                    .json(&json!({"course_ids": [course], "total_amount": "1.00"}))
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
                let cashier = http
                    .get(order["pay_url"].as_str().unwrap())
                    .send()
                    .await
                    .unwrap();
                assert!(cashier.status().is_success());
                let paid = http
                    .post(format!("{base}/sandbox/api/trades/{no}/pay"))
                    .json(&json!({}))
                    .send()
                    .await
                    .unwrap();
                assert!(paid.status().is_success());
                // Done when the shop has the notification's verdict: the order is paid.
                loop {
                    let order: Value = http
                        .get(format!("{base}/api/orders/{no}"))
                        .bearer_auth(&token)
                        .send()
                        .await
                        .unwrap()
                        .json()
                        .await
                        .unwrap();
                    if order["status"] == "paid" {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
                latencies.push(begun.elapsed());
            }
        }));
    }
    let mut latencies = Vec::new();
    for worker in workers {
        latencies.extend(worker.await.unwrap());
    }
    let elapsed = started.elapsed();
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
    println!(
        "payments_completed={} seconds={:.2} per_second={:.1} p50_ms={:.1} p99_ms={:.1}",
        latencies.len(),
        elapsed.as_secs_f64(),
        latencies.len() as f64 / elapsed.as_secs_f64(),
        pct(0.50).as_secs_f64() * 1000.0,
        pct(0.99).as_secs_f64() * 1000.0
    );
}
