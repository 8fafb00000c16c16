//! Settling a day of 100,000 payments against Alipay's bill: reading the bill, and the whole
//! run (`settle_day`: the signed download-URL query, the download, the parse, the books, the
//! matching, the record of the day), each beside a baseline measured in the same run:
//!
//! * `bill_100k/parse_zip` against `bill_100k/baseline_generic_crates`: the same zip opened, the
//!   same GBK decoded and the same CSV records read by the generic crates (zip, encoding_rs,
//!   csv) with nothing done with them;
//! * `settle_100k/all_matched` against `settle_100k/baseline_read_books`: the one `SELECT` of
//!   the day's 100,000 paid orders that settling needs, through the shop's own database pool,
//!   its rows only fetched;
//! * `settle_100k/1000_lost_payments`: the same day with 1,000 of its orders unpaid in the shop
//!   (their notifications lost), each paid through the one state-change path.
//!
//! Peak heap (a counting global allocator) is printed first, for one parse and one settlement.
//! Alipay here is a gateway on 127.0.0.1 that answers the bill query, signed, and serves the zip.

#![allow(clippy::unwrap_used)] // Benchmarks fail loudly on purpose.

use std::io::{Read as _, Write as _};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use alipay::{PrivateKey, SignType};
use axum::Router;
use axum::extract::State;
use axum::routing::get;
use criterion::Criterion;
use peak_alloc::PeakAlloc;
use shop::payments::settlement::settle_day;
use shop::{Application, Config};
use sqlx::Row as _;
use time::{Date, OffsetDateTime};

#[global_allocator]
static PEAK: PeakAlloc = PeakAlloc;

/// Lines on the bill, and paid orders in the shop.
const LINES: usize = 100_000;
/// Orders whose payments the shop never heard of, in the third benchmark.
const LOST: usize = 1_000;
const APP_ID: &str = "2021000000000001";
const ACCOUNT: &str = "2088102177649450";

/// The day being settled: yesterday in Beijing, as the daily job does.
fn yesterday() -> Date {
    alipay::time::now().date().previous_day().unwrap()
}

fn out_trade_no(i: usize) -> String {
    format!("B{i:08}")
}

fn trade_no(day: Date, i: usize) -> String {
    format!(
        "{}{:02}{:02}22001{i:011}",
        day.year(),
        u8::from(day.month()),
        day.day()
    )
}

/// Between 1.00 and 500.00, deterministic.
fn fen(i: usize) -> i64 {
    100 + (i as i64 * 7_919) % 49_900
}

/// When order `i` was paid: spread over the day.
fn paid_at(day: Date, i: usize) -> OffsetDateTime {
    let start = day.midnight().assume_offset(alipay::time::BEIJING);
    start + time::Duration::milliseconds((i as i64 * 86_399_000) / LINES as i64)
}

fn yuan(fen: i64) -> String {
    let amount = alipay::SignedMoney::from(alipay::Money::from_fen(fen.abs()));
    if fen < 0 { -amount } else { amount }.to_string()
}

/// The day's bill in Alipay's layout: `#` header lines, the detail's start line, the column
/// header, one padded row per payment, the end line and the totals; GBK, zipped with the
/// summary beside it.
fn bill_zip(day: Date) -> Vec<u8> {
    let compact = format!("{}{:02}{:02}", day.year(), u8::from(day.month()), day.day());
    let mut text = format!(
        "#支付宝业务明细查询\r\n#账号：[{ACCOUNT}]\r\n#起始日期：[{d} 00:00:00]   终止日期：[{n} 00:00:00]\r\n#-----------------------------------------业务明细列表----------------------------------------\r\n",
        d = chinese(day),
        n = chinese(day.next_day().unwrap())
    );
    let mut rows = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    rows.write_record(alipay_sandbox::BILL_DETAIL_HEADER)
        .unwrap();
    let mut total = 0;
    for i in 0..LINES {
        let at = alipay::time::format(paid_at(day, i));
        let amount = yuan(fen(i));
        total += fen(i);
        let row = [
            trade_no(day, i),
            out_trade_no(i),
            "交易".into(),
            format!("Rust 课程, 第 {} 期", i % 40),
            at.clone(),
            at,
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            "abc***@example.com".into(),
            amount.clone(),
            amount,
            "0.00".into(),
            "0.00".into(),
            "0.00".into(),
            "0.00".into(),
            "0.00".into(),
            String::new(),
            "0.00".into(),
            "0.00".into(),
            String::new(),
            yuan(-((fen(i) * 6 + 500) / 1000)),
            "0.00".into(),
            String::new(),
        ];
        rows.write_record(row.iter().map(|v| format!("{v}\t")))
            .unwrap();
    }
    text.push_str(&String::from_utf8(rows.into_inner().unwrap()).unwrap());
    text.push_str("#-----------------------------------------业务明细列表结束------------------------------------\r\n");
    text.push_str(&format!(
        "#交易合计：{LINES}笔，商家实收共{}元，商家优惠共0.00元\r\n#退款合计：0笔，商家实收退款共0.00元，商家优惠退款共0.00元\r\n#导出时间：[{} 09:00:00]\r\n",
        yuan(total),
        chinese(day.next_day().unwrap())
    ));
    let (detail, _, _) = encoding_rs::GBK.encode(&text);
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default();
    zip.start_file(format!("{ACCOUNT}_{compact}_业务明细.csv"), options)
        .unwrap();
    zip.write_all(&detail).unwrap();
    zip.start_file(format!("{ACCOUNT}_{compact}_业务明细(汇总).csv"), options)
        .unwrap();
    zip.write_all(&encoding_rs::GBK.encode("#支付宝业务汇总查询\r\n").0)
        .unwrap();
    zip.finish().unwrap().into_inner()
}

fn chinese(day: Date) -> String {
    format!(
        "{:04}年{:02}月{:02}日",
        day.year(),
        u8::from(day.month()),
        day.day()
    )
}

/// What the generic crates alone cost: unzip, decode, read every record.
fn baseline_read(zip: &[u8]) -> usize {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip)).unwrap();
    let mut bytes = Vec::new();
    archive
        .by_index(0)
        .unwrap()
        .read_to_end(&mut bytes)
        .unwrap();
    let (text, _, _) = encoding_rs::GBK.decode(&bytes);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    reader.records().filter(|r| r.is_ok()).count()
}

/// Alipay, as far as a settlement sees it: the bill query answered and signed, and the file.
struct Gateway {
    key: PrivateKey,
    zip: Vec<u8>,
    base: String,
}

async fn gateway(State(gateway): State<Arc<Gateway>>) -> String {
    let node = format!(
        r#"{{"code":"10000","msg":"Success","bill_download_url":"{}/bill.zip"}}"#,
        gateway.base.replace('/', "\\/")
    );
    let sign =
        alipay::keys::encode_signature(&gateway.key.sign_bytes(SignType::Rsa2, node.as_bytes()));
    format!(
        r#"{{"{}":{node},"sign":"{sign}"}}"#,
        alipay::response::node_name("alipay.data.dataservice.bill.downloadurl.query")
    )
}

async fn bill(State(gateway): State<Arc<Gateway>>) -> Vec<u8> {
    gateway.zip.clone()
}

async fn serve_gateway(key: PrivateKey, zip: Vec<u8>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address: SocketAddr = listener.local_addr().unwrap();
    let base = format!("http://{address}");
    let state = Arc::new(Gateway {
        key,
        zip,
        base: base.clone(),
    });
    let app = Router::new()
        .route("/gateway.do", get(gateway).post(gateway))
        .route("/bill.zip", get(bill))
        .with_state(state);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    base
}

/// The shop's books: one buyer and the day's paid orders, written straight into its database.
async fn fill_books(database_url: &str, day: Date) -> sqlx::SqlitePool {
    let pool = sqlx::SqlitePool::connect(database_url).await.unwrap();
    let now = shop::store::now_ms();
    let mut tx = pool.begin().await.unwrap();
    let user: i64 = sqlx::query(
        "INSERT INTO users (username, password_hash, created_at) VALUES ('bench', 'x', $1) RETURNING id",
    )
    .bind(now)
    .fetch_one(&mut *tx)
    .await
    .unwrap()
    .get(0);
    for i in 0..LINES {
        let paid = shop::store::to_ms(paid_at(day, i));
        sqlx::query(
            "INSERT INTO orders (out_trade_no, user_id, subject, total_fen, status, trade_no, paid_at, created_at, updated_at, expires_at) \
             VALUES ($1, $2, 'Rust 课程', $3, 'paid', $4, $5, $6, $5, $7)",
        )
        .bind(out_trade_no(i))
        .bind(user)
        .bind(fen(i))
        .bind(trade_no(day, i))
        .bind(paid)
        .bind(paid - 60_000)
        .bind(paid + 1_800_000)
        .execute(&mut *tx)
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
    pool
}

/// Makes `LOST` of the day's orders unpaid again, as if their notifications had all been lost.
async fn lose_payments(pool: &sqlx::SqlitePool) {
    sqlx::query(
        "UPDATE orders SET status = 'unpaid', trade_no = NULL, paid_at = NULL WHERE id % $1 = 0",
    )
    .bind((LINES / LOST) as i64)
    .execute(pool)
    .await
    .unwrap();
}

fn mib(bytes: usize) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn main() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let day = yesterday();
    let zip = bill_zip(day);
    let alipay_key = PrivateKey::generate().unwrap();
    let app_key = PrivateKey::generate().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let alipay_public_key = alipay_key.public_key().to_pem();
    let (ctx, pool, _app) = runtime.block_on(async {
        let base = serve_gateway(alipay_key, zip.clone()).await;
        let config = Config {
            listen: "127.0.0.1:0".parse().unwrap(),
            data_dir: dir.path().to_owned(),
            run_jobs: false,
            alipay: Some(alipay::config::AlipayConfig {
                app_id: APP_ID.into(),
                app_private_key: Some(app_key.to_pkcs8_pem().into()),
                alipay_public_key: Some(alipay_public_key),
                gateway: Some(format!("{base}/gateway.do")),
                seller_id: Some(ACCOUNT.into()),
                ..Default::default()
            }),
            ..Config::default()
        };
        let database_url = config.database_url();
        let app = Application::build(config).await.unwrap();
        let ctx = app.context();
        let pool = fill_books(&database_url, day).await;
        (ctx, pool, app)
    });

    // Correctness first: every line matched, then the lost payments found and paid.
    let settled = runtime.block_on(settle_day(&ctx, day, None)).unwrap();
    assert_eq!(settled.status, "completed");
    assert_eq!(settled.alipay.count, LINES as u64);
    assert_eq!(settled.differences, 0, "a fully matched day");

    println!("bill: {LINES} lines, zip {:.1} MiB", mib(zip.len()),);
    PEAK.reset_peak_usage();
    let before = PEAK.current_usage();
    let parsed = alipay::bill::parse_zip(&zip).unwrap();
    println!(
        "peak heap, parse_zip: {:.1} MiB above the start ({} lines)",
        mib(PEAK.peak_usage() - before),
        parsed.lines.len()
    );
    drop(parsed);
    PEAK.reset_peak_usage();
    let before = PEAK.current_usage();
    runtime.block_on(settle_day(&ctx, day, None)).unwrap();
    println!(
        "peak heap, settle_day (all matched): {:.1} MiB above the start",
        mib(PEAK.peak_usage() - before)
    );
    runtime.block_on(lose_payments(&pool));
    PEAK.reset_peak_usage();
    let before = PEAK.current_usage();
    let settled = runtime.block_on(settle_day(&ctx, day, None)).unwrap();
    println!(
        "peak heap, settle_day ({LOST} lost payments): {:.1} MiB above the start",
        mib(PEAK.peak_usage() - before)
    );
    assert_eq!(settled.differences, LOST as i64, "each lost payment found");

    let mut criterion = Criterion::default().sample_size(10).configure_from_args();
    let mut group = criterion.benchmark_group("bill_100k");
    group.bench_function("parse_zip", |b| {
        b.iter(|| alipay::bill::parse_zip(std::hint::black_box(&zip)).unwrap())
    });
    group.bench_function("baseline_generic_crates", |b| {
        b.iter(|| baseline_read(std::hint::black_box(&zip)))
    });
    group.finish();

    let mut group = criterion.benchmark_group("settle_100k");
    group.bench_function("all_matched", |b| {
        b.to_async(&runtime)
            .iter(|| async { settle_day(&ctx, day, None).await.unwrap() })
    });
    group.bench_function("baseline_read_books", |b| {
        let (from, until) = (
            shop::store::to_ms(paid_at(day, 0)),
            shop::store::to_ms(paid_at(day, LINES - 1)) + 1,
        );
        b.to_async(&runtime).iter(|| async {
            // The rows `settle_day` reads (the columns of an order), through the shop's own pool.
            sqlx::query(
                "SELECT id, out_trade_no, user_id, subject, total_fen, status, trade_no, paid_at, refunded_fen, created_at, expires_at, pay_link_at, check_attempts \
                 FROM orders WHERE paid_at >= $1 AND paid_at < $2 AND status IN ('paid', 'refunded') ORDER BY paid_at, id",
            )
            .bind(from)
            .bind(until)
            .fetch_all(ctx.db.reader())
            .await
            .unwrap()
            .len()
        })
    });
    group.bench_function("1000_lost_payments", |b| {
        b.to_async(&runtime).iter_custom(|iters| {
            let (ctx, pool) = (&ctx, &pool);
            async move {
                let mut spent = Duration::ZERO;
                for _ in 0..iters {
                    lose_payments(pool).await;
                    let start = Instant::now();
                    settle_day(ctx, day, None).await.unwrap();
                    spent += start.elapsed();
                }
                spent
            }
        })
    });
    group.finish();
    criterion.final_summary();
}
