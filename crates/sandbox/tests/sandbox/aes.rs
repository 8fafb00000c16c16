//! AES content encryption (接口内容加密): an app with an AES key, a client with the same key;
//! requests encrypted then signed, answers verified over the quoted ciphertext then decrypted.

use alipay::aes::AesKey;
use alipay::api::{TradeQuery, TradeRef, TradeRefund};
use alipay::{Client, Gateway, TradeStatus};

use crate::helpers::*;

const KEY: &str = "iotxR/d99T9Awom/UaSqiQ==";

fn client(app: &TestApp, key: Option<&str>) -> Client {
    let mut builder = Client::builder(
        APP_ID,
        app_private_key(),
        app.sandbox.alipay_public_key().clone(),
    )
    .gateway(Gateway::Url(app.sandbox.gateway_url()))
    .notify_url(&app.receiver.url);
    if let Some(key) = key {
        builder = builder.aes_key(AesKey::from_base64(key).unwrap());
    }
    builder.build().unwrap()
}

async fn spawn_aes_app() -> TestApp {
    let mut config = test_config();
    config.apps[0].aes_key = Some(AesKey::from_base64(KEY).unwrap());
    spawn_with(config).await
}

#[tokio::test]
async fn encrypted_requests_and_answers_round_trip() {
    let app = spawn_aes_app().await;
    let aes = client(&app, Some(KEY));
    app.open_trade("ORDER_AES", "20.00").await;
    app.pay("ORDER_AES").await;

    let query = TradeQuery::by_out_trade_no("ORDER_AES");
    let trade = aes.execute(&query).await.unwrap();
    assert_eq!(trade.trade_status, TradeStatus::TradeSuccess);
    let refund = aes
        .execute(&TradeRefund::new(
            TradeRef::out_trade_no("ORDER_AES"),
            money("5.00"),
            "R1",
        ))
        .await
        .unwrap();
    assert_eq!(refund.refund_fee, money("5.00"));

    // On the wire: the content is ciphertext (signed as such), and so is the answer's node.
    let signed = aes.sign_api_request(&query, alipay::time::now()).unwrap();
    assert_eq!(signed.params()["encrypt_type"], "AES");
    let ciphertext = &signed.params()["biz_content"];
    assert!(!ciphertext.contains("ORDER_AES"));
    assert_eq!(
        AesKey::from_base64(KEY)
            .unwrap()
            .decrypt(ciphertext)
            .unwrap(),
        r#"{"out_trade_no":"ORDER_AES"}"#
    );
    assert!(
        signed
            .content()
            .contains(&format!("biz_content={ciphertext}"))
    );
    let body = app.post_gateway(&signed).await;
    assert!(
        body.starts_with(r#"{"alipay_trade_query_response":""#),
        "{body}"
    );
    let node: serde_json::Value = aes.read_response("alipay.trade.query", &body).unwrap();
    assert_eq!(node["trade_status"], "TRADE_SUCCESS");
    // A client without the key cannot read it, and says why.
    let error = client(&app, None)
        .read_response::<serde_json::Value>("alipay.trade.query", &body)
        .unwrap_err();
    assert!(error.to_string().contains("AES key"), "{error}");
    // Tampering with the ciphertext breaks the signature before anything is decrypted.
    let tampered = body.replacen(r#"_response":""#, r#"_response":"A"#, 1);
    let error = aes
        .read_response::<serde_json::Value>("alipay.trade.query", &tampered)
        .unwrap_err();
    assert!(matches!(error, alipay::Error::Signature { .. }), "{error}");
}

#[tokio::test]
async fn a_wrong_key_or_an_app_without_one_is_refused_in_clear() {
    let app = spawn_aes_app().await;
    app.open_trade("ORDER_AES2", "1.00").await;
    let wrong = client(&app, Some("AAAAAAAAAAAAAAAAAAAAAA=="));
    let error = wrong
        .execute(&TradeQuery::by_out_trade_no("ORDER_AES2"))
        .await
        .unwrap_err();
    assert!(error.is_verified_refusal(), "{error}");
    assert_eq!(
        error.verified_sub_code(),
        Some("isv.decryption-error-unknown")
    );
    // Unencrypted requests still work for an app that has a key.
    let trade = client(&app, None)
        .execute(&TradeQuery::by_out_trade_no("ORDER_AES2"))
        .await
        .unwrap();
    assert_eq!(trade.trade_status, TradeStatus::WaitBuyerPay);

    let plain = spawn_app().await;
    plain.open_trade("ORDER_AES3", "1.00").await;
    let error = client(&plain, Some(KEY))
        .execute(&TradeQuery::by_out_trade_no("ORDER_AES3"))
        .await
        .unwrap_err();
    assert_eq!(error.verified_sub_code(), Some("isv.invalid-encrypt"));
}
