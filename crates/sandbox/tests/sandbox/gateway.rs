//! Gateway checks, in the real gateway's order and shapes.

use alipay::api::TradeQuery;
use alipay::{Client, Gateway, SignType};
use serde_json::Value;

use crate::helpers::*;

#[tokio::test]
async fn a_page_pay_link_opens_the_cashier() {
    // Arrange
    let app = spawn_app().await;
    // Act
    let page = app.open(&app.pay_link("ORDER_1", "138.00")).await;
    // Assert
    assert!(page.contains("Rust 入门课 a/b+c"));
    assert!(page.contains("138.00"));
    assert!(page.contains("Rust 课程商店"));
    assert!(page.contains(r#"name="buyer""#) && page.contains(r#"name="password""#));
    assert!(page.contains(r#"id="pay""#) && page.contains(r#"id="cancel""#));
    let trade = app.trade("ORDER_1").await;
    assert_eq!(trade["trade_status"], "WAIT_BUYER_PAY");
    assert_eq!(trade["total_amount"], "138.00");
    let trade_no = trade["trade_no"].as_str().unwrap();
    assert_eq!(trade_no.len(), 28);
    assert!(page.contains(&format!(r#"action="cashier/{trade_no}/pay""#)));
}

#[tokio::test]
async fn the_auto_submit_form_variant_is_accepted() {
    let app = spawn_app().await;
    let link = app.pay_link("ORDER_FORM", "1.00");
    // What the browser sends when it submits `form_html`: every field in the body, charset in
    // the URL.
    let response = app
        .http
        .post(format!("{}?charset=utf-8", app.sandbox.gateway_url()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(link.query_string())
        .send()
        .await
        .unwrap();
    let page = response.text().await.unwrap();
    assert!(page.contains(r#"id="pay""#), "{page}");
}

#[tokio::test]
async fn query_answers_trade_not_exist_before_the_cashier_is_opened() {
    let app = spawn_app().await;
    let _link = app.pay_link("ORDER_2", "1.00");
    let error = app
        .client
        .execute(&TradeQuery::by_out_trade_no("ORDER_2"))
        .await
        .unwrap_err();
    // The SDK verified the signature of the error node before reporting it.
    assert_eq!(error.sub_code(), Some("ACQ.TRADE_NOT_EXIST"));
    assert!(matches!(error, alipay::Error::Api { .. }));
}

#[tokio::test]
async fn a_bad_signature_shows_the_content_string_the_gateway_computed() {
    let app = spawn_app().await;
    let rogue = Client::builder(
        APP_ID,
        rogue_private_key(),
        app.sandbox.alipay_public_key().clone(),
    )
    .gateway(Gateway::Url(app.sandbox.gateway_url()))
    .build()
    .unwrap();
    let signed = rogue
        .sign_api_request(&TradeQuery::by_out_trade_no("ORDER_3"), alipay::time::now())
        .unwrap();
    let body = app.post_gateway(&signed).await;
    // Signed by the sandbox all the same, and the SDK accepts that signature.
    let error = app
        .client
        .read_response::<Value>("alipay.trade.query", &body)
        .unwrap_err();
    assert_eq!(error.sub_code(), Some("isv.invalid-signature"));
    let node = app.node("alipay.trade.query", &body);
    assert_eq!(node["code"], "40002");
    assert_eq!(node["msg"], "Invalid Arguments");
    let escaped = signed
        .content()
        .replace('&', "&amp;")
        .replace('"', "&quot;");
    assert!(
        node["sub_msg"].as_str().unwrap().ends_with(&escaped),
        "{}",
        node["sub_msg"]
    );
}

#[tokio::test]
async fn a_page_pay_link_with_a_bad_signature_shows_an_error_page() {
    let app = spawn_app().await;
    let rogue = Client::builder(
        APP_ID,
        rogue_private_key(),
        app.sandbox.alipay_public_key().clone(),
    )
    .gateway(Gateway::Url(app.sandbox.gateway_url()))
    .build()
    .unwrap();
    let link = rogue
        .web_pay(&alipay::WebPay::page("ORDER_4", money("1.00"), "x"))
        .unwrap();
    let page = app.open(&link).await;
    assert!(page.contains("isv.invalid-signature"), "{page}");
    assert!(page.contains(r#"id="signed-content""#));
    assert!(page.contains("app_id=2021000000000001&amp;biz_content="));
    assert!(!page.contains(r#"id="pay""#));
}

#[tokio::test]
async fn requests_that_cannot_be_tied_to_an_app_get_an_unsigned_error_response() {
    let app = spawn_app().await;
    for (body, sub_code) in [
        ("app_id=2021000000000001", "isv.missing-method"),
        ("method=alipay.trade.nope&app_id=1", "isv.invalid-method"),
        ("method=alipay.trade.query", "isv.missing-app-id"),
        ("method=alipay.trade.query&app_id=999", "isv.invalid-app-id"),
        (
            "method=alipay.trade.query&app_id=2021000000000001",
            "isv.missing-signature",
        ),
    ] {
        let answer = app.post_form(body).await;
        let top: Value = serde_json::from_str(&answer).unwrap();
        assert_eq!(top["error_response"]["sub_code"], sub_code, "{answer}");
        assert!(top.get("sign").is_none(), "{answer}");
    }
}

#[tokio::test]
async fn protocol_parameters_are_checked_and_refused_in_signed_nodes() {
    let app = spawn_app().await;
    let biz = r#"{"out_trade_no":"X"}"#;
    let old = alipay::time::format(alipay::time::now() - std::time::Duration::from_secs(3 * 86400));
    // (extra or replaced parameters, code, sub_code)
    type Case<'a> = (Vec<(&'a str, &'a str)>, &'a str, &'a str);
    let cases: Vec<Case<'_>> = vec![
        (vec![("charset", "gbk")], "40002", "isv.invalid-charset"),
        (vec![("format", "xml")], "40002", "isv.invalid-format"),
        (
            vec![("timestamp", "2024/05/01 12:00:00")],
            "40002",
            "isv.invalid-timestamp",
        ),
        (vec![("timestamp", &old)], "40002", "isv.invalid-timestamp"),
        (vec![("version", "2.0")], "40002", "isv.invalid-parameter"),
        (
            vec![("biz_content", "{not json")],
            "40002",
            "isv.invalid-parameter",
        ),
        (vec![("biz_content", "")], "40004", "ACQ.INVALID_PARAMETER"),
        (
            vec![("biz_content", "{}")],
            "40004",
            "ACQ.INVALID_PARAMETER",
        ),
    ];
    for (extra, code, sub_code) in cases {
        let signed = app.signed("alipay.trade.query", biz, &extra);
        let body = app.post_gateway(&signed).await;
        let node = app.node("alipay.trade.query", &body);
        assert_eq!(
            (node["code"].as_str(), node["sub_code"].as_str()),
            (Some(code), Some(sub_code)),
            "{extra:?}: {body}"
        );
        // Signed: the SDK verifies the signature before it reads the error.
        let error = app
            .client
            .read_response::<Value>("alipay.trade.query", &body)
            .unwrap_err();
        assert_eq!(error.sub_code(), Some(sub_code));
    }
    // Missing timestamp / version / sign_type: signed by hand without them.
    for (drop, sub_code) in [
        ("timestamp", "isv.missing-timestamp"),
        ("version", "isv.missing-version"),
        ("sign_type", "isv.missing-signature-type"),
    ] {
        let mut params = app.signed("alipay.trade.query", biz, &[]).params().clone();
        params.remove(drop);
        let content = alipay::content::request_content(&params);
        let sign = alipay::keys::encode_signature(
            &app_private_key().sign_bytes(SignType::Rsa2, content.as_bytes()),
        );
        params.insert("sign".into(), sign);
        let body = app.post_form(&alipay::content::query_string(&params)).await;
        assert_eq!(
            app.node("alipay.trade.query", &body)["sub_code"],
            sub_code,
            "{body}"
        );
    }
}

#[tokio::test]
async fn an_rsa_request_to_an_rsa2_app_is_refused() {
    let app = spawn_app().await;
    let legacy = merchant(
        &app.sandbox,
        APP_ID,
        app_private_key(),
        SignType::Rsa,
        &app.receiver.url,
    );
    let error = legacy
        .execute(&TradeQuery::by_out_trade_no("X"))
        .await
        .unwrap_err();
    // The node is signed with SHA256 (the app's type), which this RSA client cannot verify: what
    // matters is the refusal itself.
    let signed = legacy
        .sign_api_request(&TradeQuery::by_out_trade_no("X"), alipay::time::now())
        .unwrap();
    let body = app.post_gateway(&signed).await;
    assert_eq!(
        app.node("alipay.trade.query", &body)["sub_code"],
        "isv.invalid-signature-type"
    );
    assert!(matches!(error, alipay::Error::Signature { .. }));
}

#[tokio::test]
async fn get_requests_with_everything_in_the_query_work_like_python_alipay_sdk() {
    let app = spawn_app().await;
    app.open_trade("ORDER_GET", "2.00").await;
    let signed = app
        .client
        .sign_api_request(
            &TradeQuery::by_out_trade_no("ORDER_GET"),
            alipay::time::now(),
        )
        .unwrap();
    let body = app
        .http
        .get(signed.url())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let trade: alipay::api::TradeQueryResponse = app
        .client
        .read_response("alipay.trade.query", &body)
        .unwrap();
    assert_eq!(trade.trade_status, alipay::TradeStatus::WaitBuyerPay);
}

/// Builds a page-pay request by hand (the SDK refuses to make most of these).
fn page_pay_biz(out_trade_no: &str, amount: &str, subject: &str, product_code: &str) -> String {
    serde_json::json!({
        "out_trade_no": out_trade_no, "total_amount": amount, "subject": subject, "product_code": product_code
    })
    .to_string()
}

async fn open_raw(app: &TestApp, biz: &str, extra: &[(&str, &str)]) -> String {
    let signed = app.signed("alipay.trade.page.pay", biz, extra);
    app.http
        .get(signed.url())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[tokio::test]
async fn page_pay_orders_are_checked() {
    let app = spawn_app().await;
    let long = "L".repeat(65);
    for (biz, sub_code) in [
        (
            page_pay_biz("A1", "0.00", "s", "FAST_INSTANT_TRADE_PAY"),
            "ACQ.INVALID_PARAMETER",
        ),
        (
            page_pay_biz("A1", "1.001", "s", "FAST_INSTANT_TRADE_PAY"),
            "ACQ.INVALID_PARAMETER",
        ),
        (
            page_pay_biz("A1", "-1", "s", "FAST_INSTANT_TRADE_PAY"),
            "ACQ.INVALID_PARAMETER",
        ),
        (
            page_pay_biz("A1", "100000000.01", "s", "FAST_INSTANT_TRADE_PAY"),
            "ACQ.TOTAL_FEE_EXCEED",
        ),
        (
            page_pay_biz(&long, "1.00", "s", "FAST_INSTANT_TRADE_PAY"),
            "ACQ.INVALID_PARAMETER",
        ),
        (
            page_pay_biz("A1", "1.00", "s", "QUICK_WAP_WAY"),
            "ACQ.INVALID_PARAMETER",
        ),
        (
            page_pay_biz("A1", "1.00", "", "FAST_INSTANT_TRADE_PAY"),
            "ACQ.INVALID_PARAMETER",
        ),
    ] {
        let page = open_raw(&app, &biz, &[]).await;
        assert!(page.contains(sub_code), "{biz}: {page}");
        assert!(!page.contains(r#"id="pay""#));
    }
    // Amounts at both ends of the range, and as a JSON number, are fine.
    for (no, amount) in [
        ("MIN", "\"0.01\""),
        ("MAX", "\"100000000.00\""),
        ("NUM", "100"),
    ] {
        let biz = format!(
            r#"{{"out_trade_no":"{no}","total_amount":{amount},"subject":"s","product_code":"FAST_INSTANT_TRADE_PAY"}}"#
        );
        let page = open_raw(&app, &biz, &[]).await;
        assert!(page.contains(r#"id="pay""#), "{amount}: {page}");
    }
    assert_eq!(app.trade("NUM").await["total_amount"], "100.00");
}

#[tokio::test]
async fn reopening_an_order_reuses_its_trade_unless_the_details_changed() {
    let app = spawn_app().await;
    let first = app.open_trade("ORDER_5", "10.00").await;
    let second = app.open_trade("ORDER_5", "10.00").await;
    assert_eq!(first, second);
    let page = app.open(&app.pay_link("ORDER_5", "11.00")).await;
    assert!(page.contains("ACQ.CONTEXT_INCONSISTENT"), "{page}");
    app.pay("ORDER_5").await;
    let page = app.open(&app.pay_link("ORDER_5", "10.00")).await;
    assert!(page.contains("ACQ.TRADE_HAS_SUCCESS"), "{page}");
}

#[tokio::test]
async fn a_notify_url_with_its_own_query_string_is_warned_about() {
    let app = spawn_app().await;
    let notify_url = format!("{}?order=7", app.receiver.url);
    let biz = page_pay_biz("ORDER_7", "1.00", "s", "FAST_INSTANT_TRADE_PAY");
    let page = open_raw(&app, &biz, &[("notify_url", &notify_url)]).await;
    assert!(page.contains(r#"id="pay""#));
    assert!(page.contains("query string"), "{page}");
    let trade = app.trade("ORDER_7").await;
    assert!(trade["warning"].as_str().unwrap().contains("query string"));
}

#[tokio::test]
async fn methods_the_sandbox_does_not_offer_are_refused_like_unsigned_products() {
    let app = spawn_app().await;
    let signed = app.signed(
        "alipay.trade.orderinfo.sync",
        r#"{"out_trade_no":"X"}"#,
        &[],
    );
    let body = app.post_gateway(&signed).await;
    let node = app.node("alipay.trade.orderinfo.sync", &body);
    assert_eq!(node["code"], "40006");
    assert_eq!(node["sub_code"], "isv.insufficient-isv-permissions");
}
