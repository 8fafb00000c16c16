//! Sign and verify throughput, to compare with `openssl speed rsa2048` on the same machine
//! (`bench/sdk.sh` runs both and prints the ratio).

#![allow(clippy::unwrap_used)] // Tests and benches fail loudly on purpose.

use std::hint::black_box;

use alipay::content::{self, EmptyValues};
use alipay::{PrivateKey, PublicKey, SignType};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const APP_KEY: &str = include_str!("../tests/data/keys/app_private_pkcs8.pem");
const APP_PUBLIC: &str = include_str!("../tests/data/keys/app_public_spki.pem");
const NOTIFY: &str = "gmt_create=2024-05-20+12%3A35%3A01&charset=utf-8&gmt_payment=2024-05-20+12%3A35%3A10&notify_time=2024-05-20+12%3A35%3A11&subject=Test+order&buyer_id=2088102177846880&invoice_amount=0.01&version=1.0&notify_id=2024052000222123510093661455000001&fund_bill_list=%5B%7B%22amount%22%3A%220.01%22%2C%22fundChannel%22%3A%22ALIPAYACCOUNT%22%7D%5D&notify_type=trade_status_sync&out_trade_no=ORD000001&total_amount=0.01&trade_status=TRADE_SUCCESS&trade_no=2024052022001493661455000001&auth_app_id=2021000000000001&receipt_amount=0.01&point_amount=0.00&app_id=2021000000000001&buyer_pay_amount=0.01&sign_type=RSA2&seller_id=2088102177649450";

fn bench(c: &mut Criterion) {
    let key = PrivateKey::parse(APP_KEY).unwrap();
    let public = PublicKey::parse(APP_PUBLIC).unwrap();
    let message = b"app_id=2021000000000001&biz_content={\"subject\":\"Rust\",\"out_trade_no\":\"ORDER_42\",\"total_amount\":\"138.00\",\"product_code\":\"FAST_INSTANT_TRADE_PAY\"}&charset=utf-8&method=alipay.trade.page.pay&sign_type=RSA2&timestamp=2024-05-01 12:00:00&version=1.0";
    let signature = key.sign_bytes(SignType::Rsa2, message);

    let mut group = c.benchmark_group("rsa2048");
    group.throughput(Throughput::Elements(1));
    group.bench_function("sign_rsa2", |b| {
        b.iter(|| key.sign_bytes(SignType::Rsa2, black_box(message)))
    });
    group.bench_function("verify_rsa2", |b| {
        b.iter(|| {
            public
                .verify(SignType::Rsa2, black_box(message), black_box(&signature))
                .unwrap()
        })
    });
    group.finish();

    // A whole notification: parse the form, build the content, verify.
    let mut fields = content::parse_form(NOTIFY.as_bytes()).unwrap();
    let sign = alipay::keys::encode_signature(&key.sign_bytes(
        SignType::Rsa2,
        content::notify_content(&fields, EmptyValues::Keep).as_bytes(),
    ));
    fields.insert("sign".into(), sign);
    let body = content::query_string(&fields);
    let mut group = c.benchmark_group("notify");
    group.throughput(Throughput::Elements(1));
    group.bench_function("verify_notification", |b| {
        b.iter(|| {
            alipay::notify::verify_notification(black_box(body.as_bytes()), &public, SignType::Rsa2)
                .unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
