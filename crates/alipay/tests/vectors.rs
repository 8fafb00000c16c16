//! The cross-implementation vectors made with python-alipay-sdk 3.4.0 and the official Node
//! `alipay-sdk` 4.14.0 (`tests/data/vectors`, format in its README): same content string, same
//! signature, same verdict.

#![allow(clippy::unwrap_used)] // Tests and benches fail loudly on purpose.

use std::path::PathBuf;

use alipay::content::{self, EmptyValues, Params};
use alipay::keys::encode_signature;
use alipay::{
    Client, Error, GoodsDetail, Money, PrivateKey, PublicKey, SignType, SignedRequest, WebPay,
};
use serde_json::Value;

fn data(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(path)
}

fn vectors(name: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(data(&format!("vectors/{name}"))).unwrap();
    let file: Value = serde_json::from_str(&text).unwrap();
    file["cases"].as_array().unwrap().clone()
}

fn params(value: &Value) -> Params {
    value
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
        .collect()
}

fn str_of<'a>(case: &'a Value, key: &str) -> &'a str {
    case[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} in {}", case["id"]))
}

fn alipay_public() -> PublicKey {
    PublicKey::from_file(data("keys/alipay_public_spki.pem")).unwrap()
}

#[test]
fn page_pay_signatures_match_python_alipay_sdk_byte_for_byte() {
    let cases = vectors("page_pay.json");
    assert!(cases.len() >= 30);
    for case in &cases {
        let id = str_of(case, "id");
        let key = PrivateKey::from_file(data(&format!(
            "keys/{}",
            str_of(case, "app_private_key_file")
        )))
        .unwrap();
        let sign_type: SignType = str_of(case, "sign_type").parse().unwrap();
        let python = &case["python"];
        let params = params(&python["params"]);
        assert_eq!(
            content::request_content(&params),
            str_of(python, "unsigned_content"),
            "{id}: content"
        );
        let signed = SignedRequest::sign(
            params,
            &key,
            sign_type,
            "https://openapi.alipay.com/gateway.do",
        )
        .unwrap();
        assert_eq!(signed.signature(), str_of(python, "sign"), "{id}: sign");
        assert_eq!(
            signed.query_string(),
            str_of(python, "order_string"),
            "{id}: order string"
        );
        assert_eq!(signed.url(), str_of(python, "url"), "{id}: url");
    }
}

#[test]
fn page_pay_signatures_match_the_official_node_sdk() {
    let mut typed = 0;
    for case in &vectors("page_pay.json") {
        let id = str_of(case, "id");
        let key = PrivateKey::from_file(data(&format!(
            "keys/{}",
            str_of(case, "app_private_key_file")
        )))
        .unwrap();
        let sign_type: SignType = str_of(case, "sign_type").parse().unwrap();
        let node = &case["node"];
        // Signing exactly what Node signed gives Node's signature.
        let signed = SignedRequest::sign(
            params(&node["params"]),
            &key,
            sign_type,
            "https://openapi.alipay.com/gateway.do",
        )
        .unwrap();
        assert_eq!(
            signed.content(),
            str_of(node, "unsigned_content"),
            "{id}: content"
        );
        assert_eq!(signed.signature(), str_of(node, "sign"), "{id}: sign");

        // And the typed builder writes the same biz_content Node does, where the inputs are typed
        // (a string amount, no caller-supplied return URL with its own query string).
        let canonical_amount = str_of(case, "total_amount")
            .parse::<Money>()
            .ok()
            .map(|m| m.to_string());
        if case["total_amount_type"] != "str"
            || canonical_amount.as_deref() != Some(str_of(case, "total_amount"))
        {
            continue;
        }
        let Some(order) = typed_order(case) else {
            continue;
        };
        let return_url = case["return_url"].as_str().filter(|u| !u.is_empty());
        if let Some(url) = return_url
            && url.contains('?')
        {
            let error = order.clone().return_url(url).validate().unwrap_err();
            assert!(error.to_string().contains("query string"), "{id}");
            continue;
        }
        let client = Client::builder(
            str_of(case, "app_id"),
            PrivateKey::from_file(data(&format!(
                "keys/{}",
                str_of(case, "app_private_key_file")
            )))
            .unwrap(),
            alipay_public(),
        )
        .sign_type(sign_type)
        .common_param("alipay_sdk", "alipay-sdk-nodejs-4.0.0")
        .build()
        .unwrap();
        let mut order = order;
        if let Some(url) = return_url {
            order = order.return_url(url);
        }
        if let Some(url) = case["notify_url"]
            .as_str()
            .or(case["app_notify_url"].as_str())
            .filter(|u| !u.is_empty())
        {
            order = order.notify_url(url);
        }
        let timestamp = alipay::time::parse(str_of(case, "timestamp")).unwrap();
        let signed = client
            .sign(client.web_pay_params(&order, timestamp).unwrap())
            .unwrap();
        assert_eq!(
            signed.params()["biz_content"],
            str_of(node, "biz_content"),
            "{id}: biz_content"
        );
        assert_eq!(signed.signature(), str_of(node, "sign"), "{id}: typed sign");
        typed += 1;
    }
    assert!(
        typed >= 20,
        "only {typed} cases went through the typed builder"
    );
}

/// The case's order through [`WebPay`]'s setters, or `None` when its extra fields cannot be
/// expressed in the same order.
fn typed_order(case: &Value) -> Option<WebPay> {
    let amount: Money = str_of(case, "total_amount").parse().unwrap();
    let mut order = WebPay::page(
        str_of(case, "out_trade_no"),
        amount,
        str_of(case, "subject"),
    );
    let extras = case["extra_biz_fields"].as_array().unwrap();
    const TYPED: [&str; 6] = [
        "body",
        "timeout_express",
        "time_expire",
        "passback_params",
        "extend_params",
        "goods_detail",
    ];
    let all_typed = extras
        .iter()
        .all(|f| TYPED.contains(&f[0].as_str().unwrap()));
    let none_typed = extras
        .iter()
        .all(|f| !TYPED.contains(&f[0].as_str().unwrap()));
    let positions: Vec<usize> = extras
        .iter()
        .filter_map(|f| TYPED.iter().position(|t| *t == f[0].as_str().unwrap()))
        .collect();
    if !(none_typed || (all_typed && positions.windows(2).all(|w| w[0] < w[1]))) {
        return None;
    }
    for field in extras {
        let (key, value) = (field[0].as_str().unwrap(), &field[1]);
        order = match key {
            "body" => order.body(value.as_str()?),
            "timeout_express" => order.timeout_express(value.as_str()?),
            "time_expire" => order.time_expire(alipay::time::parse(value.as_str()?).ok()?),
            "passback_params" => order.passback_params(value.as_str()?),
            "extend_params" => order.extend_params(value.clone()),
            "goods_detail" => value.as_array()?.iter().fold(order, |order, line| {
                order.goods(GoodsDetail {
                    goods_id: line["goods_id"].as_str().unwrap().into(),
                    goods_name: line["goods_name"].as_str().unwrap().into(),
                    quantity: line["quantity"].as_u64().unwrap() as u32,
                    price: line["price"].as_str().unwrap().parse().unwrap(),
                })
            }),
            other => order.biz_param(other, value.clone()),
        };
    }
    Some(order)
}

#[test]
fn notification_verdicts_match_the_expected_rule() {
    let cases = vectors("notify.json");
    assert!(cases.len() >= 25);
    let key = alipay_public();
    for case in &cases {
        let id = str_of(case, "id");
        let sign_type: SignType = str_of(case, "merchant_sign_type").parse().unwrap();
        let expected = case["expected_verdict"].as_bool().unwrap();
        let result = alipay::notify::verify_notification(
            str_of(case, "form_body").as_bytes(),
            &key,
            sign_type,
        );
        assert_eq!(result.is_ok(), expected, "{id}: {result:?}");
        if let Ok(fields) = content::parse_form(str_of(case, "form_body").as_bytes())
            && let Some(canonical) = case["canonical_content"].as_str()
        {
            assert_eq!(
                content::notify_content(&fields, EmptyValues::Keep),
                canonical,
                "{id}: canonical content"
            );
        }
        if let Ok(notification) = result {
            assert_eq!(
                notification.params["out_trade_no"],
                notification.out_trade_no
            );
        }
    }
}

#[test]
fn response_verdicts_match_the_expected_rule() {
    let cases = vectors("response.json");
    assert!(cases.len() >= 10);
    for case in &cases {
        let id = str_of(case, "id");
        let client = Client::builder(
            "2021000000000001",
            PrivateKey::generate().unwrap(),
            alipay_public(),
        )
        .build()
        .unwrap();
        let method = str_of(case, "method");
        let body = str_of(case, "raw_body");
        let expected = case["expected_verdict"].as_bool().unwrap();
        let result = client.read_response::<Value>(method, body);
        let verified = matches!(result, Ok(_) | Err(Error::Api { .. }));
        assert_eq!(verified, expected, "{id}: {result:?}");
        if expected {
            let envelope = alipay::response::envelope(body, method).unwrap();
            assert_eq!(
                envelope.node,
                str_of(case, "signed_content"),
                "{id}: node slice"
            );
        }
    }
}

#[test]
fn tampered_page_pay_is_not_the_same_signature() {
    // A sanity check on the harness: any change to the content changes the signature.
    let key = PrivateKey::from_file(data("keys/app_private_pkcs1.pem")).unwrap();
    let a = encode_signature(&key.sign_bytes(SignType::Rsa2, b"total_amount=1.00"));
    let b = encode_signature(&key.sign_bytes(SignType::Rsa2, b"total_amount=1.01"));
    assert_ne!(a, b);
}
