//! Data Alipay really signed (sandbox and production, taken from public SDK test suites), and the
//! worked examples of the protocol notes, reproduced bit for bit. `tests/data/real/vectors.json`
//! holds the values; the keys and certificates sit beside it.

#![allow(clippy::unwrap_used)] // Tests and benches fail loudly on purpose.

use std::path::PathBuf;

use alipay::content::{self, EmptyValues, Params};
use alipay::keys::{decode_signature, encode_signature};
use alipay::{Client, PrivateKey, PublicKey, SignType, SignedRequest, cert};
use serde_json::Value;

fn real(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/real")
        .join(name)
}

fn vectors() -> Value {
    serde_json::from_str(&std::fs::read_to_string(real("vectors.json")).unwrap()).unwrap()
}

fn params(value: &Value) -> Params {
    value
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
        .collect()
}

/// The sandbox Alipay public key, taken from yansongda/pay's sandbox Alipay certificate.
fn sandbox_alipay_key() -> PublicKey {
    PublicKey::from_file(real("alipay_sandbox_public_cert_from_yansongda.crt")).unwrap()
}

fn verifies(key: &PublicKey, content: &str, sign: &str) -> bool {
    key.verify(
        SignType::Rsa2,
        content.as_bytes(),
        &decode_signature(sign).unwrap(),
    )
    .is_ok()
}

#[test]
fn worked_example_15_1_page_pay_reproduces_bit_for_bit() {
    let v = vectors();
    let key = PrivateKey::from_file(real("test_app_pkcs8.pem")).unwrap();
    let params: Params = [
        ("app_id", "2021000000000001"),
        ("method", "alipay.trade.page.pay"),
        ("format", "JSON"),
        ("charset", "utf-8"),
        ("sign_type", "RSA2"),
        ("timestamp", "2024-05-01 12:00:00"),
        ("version", "1.0"),
        ("notify_url", "https://merchant.example.com/alipay/notify"),
        ("return_url", "https://merchant.example.com/alipay/return"),
        (
            "biz_content",
            r#"{"out_trade_no":"ORDER_20240501_0001","total_amount":"88.88","subject":"测试商品 Test+1","product_code":"FAST_INSTANT_TRADE_PAY"}"#,
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let signed = SignedRequest::sign(
        params,
        &key,
        SignType::Rsa2,
        "https://openapi.alipay.com/gateway.do",
    )
    .unwrap();
    assert_eq!(
        signed.content(),
        r#"app_id=2021000000000001&biz_content={"out_trade_no":"ORDER_20240501_0001","total_amount":"88.88","subject":"测试商品 Test+1","product_code":"FAST_INSTANT_TRADE_PAY"}&charset=utf-8&format=JSON&method=alipay.trade.page.pay&notify_url=https://merchant.example.com/alipay/notify&return_url=https://merchant.example.com/alipay/return&sign_type=RSA2&timestamp=2024-05-01 12:00:00&version=1.0"#
    );
    assert_eq!(
        signed.signature(),
        v["page_pay_151"]["sign"].as_str().unwrap()
    );
    // The spec's URL sorts `sign` among the others where python-alipay-sdk (and we) put it last;
    // the gateway reads parameters, not positions, so compare them decoded.
    let published = v["page_pay_151"]["url"].as_str().unwrap();
    let (published_gateway, published_query) = published.split_once('?').unwrap();
    let url = signed.url();
    let (gateway, query) = url.split_once('?').unwrap();
    assert_eq!(gateway, published_gateway);
    assert_eq!(
        content::parse_form(query.as_bytes()).unwrap(),
        content::parse_form(published_query.as_bytes()).unwrap()
    );
}

#[test]
fn worked_example_15_2_emulator_responses_reproduce_and_verify() {
    let v = vectors();
    let alipay_private = PrivateKey::from_file(real("test_alipay_pkcs8.pem")).unwrap();
    let alipay_public = PublicKey::from_file(real("test_alipay_pub.pem")).unwrap();
    let client = Client::builder(
        "2021000000000001",
        PrivateKey::from_file(real("test_app_pkcs8.pem")).unwrap(),
        alipay_public,
    )
    .build()
    .unwrap();
    for (name, expect_ok) in [("query_ok", true), ("query_err", false)] {
        let body = v[name].as_str().unwrap();
        let envelope = alipay::response::envelope(body, "alipay.trade.query").unwrap();
        // Signing the node again with the emulator key gives the published signature.
        let resigned =
            encode_signature(&alipay_private.sign_bytes(SignType::Rsa2, envelope.node.as_bytes()));
        assert_eq!(Some(resigned), envelope.sign, "{name}");
        let result =
            client.read_response::<alipay::api::TradeQueryResponse>("alipay.trade.query", body);
        assert_eq!(result.is_ok(), expect_ok, "{name}: {result:?}");
        if let Ok(trade) = result {
            assert_eq!(trade.total_amount.to_string(), "88.88");
            assert!(trade.trade_status.is_paid());
            assert_eq!(trade.fund_bill_list[0].fund_channel, "ALIPAYACCOUNT");
            assert_eq!(
                alipay::time::format(trade.send_pay_date.unwrap()),
                "2024-05-01 12:01:30"
            );
        } else {
            assert_eq!(result.unwrap_err().sub_code(), Some("ACQ.TRADE_NOT_EXIST"));
        }
    }
}

#[test]
fn real_sandbox_responses_verify_over_the_escaped_text() {
    let v = vectors();
    let key = sandbox_alipay_key();
    // precreate: the node contains `https:\/\/qr.alipay.com\/...`; Alipay signed the escaped text.
    let body = v["precreate_real"].as_str().unwrap();
    let envelope = alipay::response::envelope(body, "alipay.trade.precreate").unwrap();
    assert!(envelope.node.contains(r"https:\/\/qr.alipay.com"));
    assert!(alipay::response::verify_node(&envelope, &key, SignType::Rsa2).is_ok());
    let unescaped = envelope.node.replace(r"\/", "/");
    assert!(!verifies(
        &key,
        &unescaped,
        envelope.sign.as_deref().unwrap()
    ));
    let client = Client::builder(
        "9021000122682882",
        PrivateKey::generate().unwrap(),
        key.clone(),
    )
    .build()
    .unwrap();
    let qr: alipay::api::TradePrecreateResponse = client
        .read_response("alipay.trade.precreate", body)
        .unwrap();
    assert_eq!(qr.qr_code, "https://qr.alipay.com/bax07651xvtprxfkmxyf00a9");

    // The real sandbox trade.query node.
    let query = &v["sandbox_query"];
    assert!(verifies(
        &key,
        query["node"].as_str().unwrap(),
        query["sign"].as_str().unwrap()
    ));

    // A production-key trade.pay node from gopay's tests.
    let gopay = &v["gopay"];
    let gopay_key = PublicKey::parse(gopay["public_key"].as_str().unwrap()).unwrap();
    assert!(verifies(
        &gopay_key,
        gopay["node"].as_str().unwrap(),
        gopay["sign"].as_str().unwrap()
    ));
}

#[test]
fn real_notifications_verify_without_sign_type() {
    let v = vectors();
    // Sandbox, 2023: the subject holds a literal '+', sent as %2B.
    let sandbox = params(&v["sandbox_notify"]);
    let key = sandbox_alipay_key();
    assert!(alipay::notify::verify_params(&sandbox, &key, SignType::Rsa2).is_ok());
    let body = content::query_string(&sandbox);
    let notification =
        alipay::notify::verify_notification(body.as_bytes(), &key, SignType::Rsa2).unwrap();
    assert_eq!(notification.out_trade_no, "1703147160");
    assert_eq!(notification.total_amount.unwrap().fen(), 1);
    assert_eq!(notification.params["subject"], "yansongda+测试 - 1");
    assert_eq!(
        alipay::time::format(notification.gmt_payment.unwrap()),
        "2023-12-21 16:26:43"
    );
    // Including sign_type in the content (the request rule) does not verify: Alipay excludes it.
    let with_sign_type = content::request_content(&sandbox);
    assert!(!verifies(&key, &with_sign_type, &sandbox["sign"]));

    // Production, 2019 (the Node SDK's test suite).
    let production = &v["production_notify"];
    let production_key = PublicKey::parse(production["public_key"].as_str().unwrap()).unwrap();
    let mut fields = params(&production["params"]);
    fields.insert("sign".into(), production["sign"].as_str().unwrap().into());
    let verified = alipay::notify::verify_params(&fields, &production_key, SignType::Rsa2);
    assert!(verified.is_ok(), "{verified:?}");

    // A tampered amount is refused.
    fields.insert("total_amount".into(), "1000.00".into());
    assert!(alipay::notify::verify_params(&fields, &production_key, SignType::Rsa2).is_err());
}

#[test]
fn worked_example_15_3_emulator_notification_reproduces() {
    let v = vectors();
    let emulator = &v["emulator_notify"];
    let alipay_private = PrivateKey::from_file(real("test_alipay_pkcs8.pem")).unwrap();
    let alipay_public = PublicKey::from_file(real("test_alipay_pub.pem")).unwrap();
    let body = emulator["body"].as_str().unwrap();
    let fields = content::parse_form(body.as_bytes()).unwrap();
    let unsigned = content::notify_content(&fields, EmptyValues::Drop);
    assert_eq!(unsigned, emulator["content"].as_str().unwrap());
    assert_eq!(
        encode_signature(&alipay_private.sign_bytes(SignType::Rsa2, unsigned.as_bytes())),
        emulator["sign"].as_str().unwrap()
    );
    let notification =
        alipay::notify::verify_notification(body.as_bytes(), &alipay_public, SignType::Rsa2)
            .unwrap();
    assert_eq!(notification.params["subject"], "测试商品 Test+1");
}

#[test]
fn real_return_url_verifies() {
    let v = vectors();
    let url = v["return_url"].as_str().unwrap();
    let back = alipay::notify::verify_return(url, &sandbox_alipay_key(), SignType::Rsa2).unwrap();
    assert_eq!(back.out_trade_no, "1703141270");
    assert_eq!(back.method.as_deref(), Some("alipay.trade.page.pay.return"));
    assert_eq!(
        back.trade_no.as_deref(),
        Some("2023122122001499160501586202")
    );
    assert_eq!(back.total_amount.unwrap().to_string(), "0.01");
    // Changing one character of the query string breaks it.
    let tampered = url.replace("total_amount=0.01", "total_amount=0.02");
    assert!(
        alipay::notify::verify_return(&tampered, &sandbox_alipay_key(), SignType::Rsa2).is_err()
    );
}

#[test]
fn service_market_messages_are_the_v2_rule_and_not_trade_notifications() {
    let v = vectors();
    let message = &v["servicemarket_v2"];
    let key =
        PublicKey::from_file(real("alipay_notify_sign_public_key_v2_from_node_sdk.pem")).unwrap();
    let fields = params(&message["params"]);
    let sign = message["sign"].as_str().unwrap();
    // These "应用网关" messages include sign_type in the content (rsaCheckV2) ...
    assert!(verifies(&key, &content::request_content(&fields), sign));
    // ... so the trade-notification rule refuses them.
    assert!(!verifies(
        &key,
        &content::notify_content(&fields, EmptyValues::Drop),
        sign
    ));
}

#[test]
fn certificate_sns_match_the_published_values() {
    let sn = |name: &str| cert::cert_sn(&std::fs::read(real(name)).unwrap()).unwrap();
    assert_eq!(
        sn("app_public_cert_from_yansongda.crt"),
        "e90dd23a37c5c7b616e003970817ff82"
    );
    assert_eq!(
        sn("alipay_sandbox_public_cert_from_yansongda.crt"),
        "6f1e366a31d9575cd546914add04f4af"
    );
    let bundle = std::fs::read(real("alipay_root_cert_prod_bundle.crt")).unwrap();
    assert_eq!(
        cert::root_cert_sn(&bundle).unwrap(),
        "687b59193f3f462dd5336e5abf83c5d8_02941eef3187dddf3d3b83462e1dfcf6"
    );
    // The bundle holds four roots; only the two RSA-signed ones count.
    let roots = cert::parse_pem(&bundle).unwrap();
    assert_eq!(roots.len(), 4);
    assert_eq!(roots.iter().filter(|c| c.is_rsa_signed()).count(), 2);
    // The Alipay certificate file is leaf first, then its intermediate.
    let chain = cert::parse_pem(
        &std::fs::read(real("alipay_sandbox_public_cert_from_yansongda.crt")).unwrap(),
    )
    .unwrap();
    assert_eq!(chain.len(), 2);
    assert!(chain[0].subject().contains("2088721003899159"));
    assert_eq!(chain[0].public_key().unwrap(), sandbox_alipay_key());
}
