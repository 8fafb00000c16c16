//! The legacy MD5 "即时到账" interface end to end: a partner registered through the test API, a
//! shop on `alipay::legacy::LegacyClient` whose notify endpoint verifies the MD5 signature and asks
//! the sandbox's `notify_verify` before answering `success`, the cashier, the signed return.

use std::sync::{Arc, Mutex};

use alipay::TradeStatus;
use alipay::legacy::{DirectPay, LegacyClient, LegacyError, LegacyGateway, Md5Key};
use alipay_sandbox::PartnerConfig;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use serde_json::{Value, json};

use crate::helpers::*;

const PARTNER: &str = "2088101122136241";
const KEY: &str = "0123456789abcdefghijklmnopqrstuv";

/// What the shop concluded about each notification.
type Verdicts = Arc<Mutex<Vec<Result<String, String>>>>;

/// A legacy shop's notify endpoint: verifies (MD5, then notify_verify), records the verdict,
/// answers `success` only for a genuine notification.
struct LegacyShop {
    url: String,
    verdicts: Verdicts,
}

async fn legacy_notify(
    State((client, verdicts)): State<(LegacyClient, Verdicts)>,
    body: Bytes,
) -> &'static str {
    let verdict = client.verify_notification(&body).await;
    let answer = if verdict.is_ok() { "success" } else { "fail" };
    verdicts.lock().unwrap().push(
        verdict
            .map(|n| {
                format!(
                    "{} {}",
                    n.out_trade_no,
                    n.trade_status.map(|s| s.to_string()).unwrap_or_default()
                )
            })
            .map_err(|e| e.to_string()),
    );
    answer
}

impl LegacyShop {
    async fn start(gateway: &str) -> LegacyShop {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!(
            "http://{}/alipay/legacy/notify",
            listener.local_addr().unwrap()
        );
        let verdicts = Arc::new(Mutex::new(Vec::new()));
        let client = client(gateway, &url);
        let router = Router::new()
            .route("/alipay/legacy/notify", post(legacy_notify))
            .with_state((client, Arc::clone(&verdicts)));
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        LegacyShop { url, verdicts }
    }

    fn verdicts(&self) -> Vec<Result<String, String>> {
        self.verdicts.lock().unwrap().clone()
    }
}

fn client(gateway: &str, notify_url: &str) -> LegacyClient {
    LegacyClient::builder(PARTNER, Md5Key::new(KEY).unwrap())
        .gateway(LegacyGateway::Url(gateway.to_owned()))
        .notify_url(notify_url)
        .return_url("https://shop.example/alipay/legacy/return")
        .build()
        .unwrap()
}

async fn spawn_legacy() -> (TestApp, LegacyShop, LegacyClient) {
    let app = spawn_app().await;
    let (status, body) = app
        .post_json(
            "/api/partners",
            json!({"partner": PARTNER, "md5_key": KEY, "seller_email": "seller@sandbox.com", "name": "老商户"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert!(!body.to_string().contains(KEY), "the key is never shown");
    let shop = LegacyShop::start(&app.sandbox.gateway_url()).await;
    let client = client(&app.sandbox.gateway_url(), &shop.url);
    (app, shop, client)
}

async fn submit_pay(app: &TestApp, trade_no: &str) -> reqwest::Response {
    app.http
        .post(app.url(&format!("/cashier/{trade_no}/pay")))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("buyer=buyer%40sandbox.com&password=111111")
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_legacy_shop_is_paid_notified_and_returned_with_md5_and_notify_verify() {
    let (app, shop, client) = spawn_legacy().await;
    let link = client
        .direct_pay(
            &DirectPay::new("LEGACY_1", money("12.34"), "老接口课程 a+b")
                .body("desc")
                .extra_common_param("order=1&x=2")
                .it_b_pay("30m"),
        )
        .unwrap();
    let url = link.url();
    assert!(
        url.starts_with(&format!(
            "{}?_input_charset=utf-8&",
            app.sandbox.gateway_url()
        )),
        "{url}"
    );
    let page = app
        .http
        .get(&url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("id=\"pay\""), "{page}");
    assert!(page.contains("老商户"));
    assert!(page.contains("12.34"));
    let trade = app.trade("LEGACY_1").await;
    assert_eq!(trade["method"], "create_direct_pay_by_user");
    assert_eq!(trade["app_id"], PARTNER);
    let trade_no = trade["trade_no"].as_str().unwrap().to_owned();

    // Pay on the cashier: back to return_url with MD5-signed parameters.
    let response = submit_pay(&app, &trade_no).await;
    assert_eq!(response.status(), 303);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        location.starts_with("https://shop.example/alipay/legacy/return?"),
        "{location}"
    );
    let returned = client.verify_return(&location).await.unwrap();
    assert!(returned.is_success);
    assert_eq!(returned.out_trade_no, "LEGACY_1");
    assert_eq!(returned.trade_no.as_deref(), Some(trade_no.as_str()));
    assert_eq!(returned.trade_status, Some(TradeStatus::TradeSuccess));
    assert_eq!(returned.total_fee, Some(money("12.34")));
    assert_eq!(returned.extra_common_param.as_deref(), Some("order=1&x=2"));
    assert_eq!(returned.params["exterface"], "create_direct_pay_by_user");
    assert_eq!(returned.params["sign_type"], "MD5");
    // A tampered return is refused.
    let tampered = location.replace("total_fee=12.34", "total_fee=0.01");
    assert!(matches!(
        client.verify_return(&tampered).await,
        Err(LegacyError::BadSignature)
    ));

    // The notification: the shop verified it (MD5 and notify_verify) and answered success.
    let deliveries = eventually("an acknowledged legacy notification", || async {
        let deliveries = app.deliveries("LEGACY_1").await;
        deliveries
            .iter()
            .any(|d| d["acknowledged"] == true)
            .then_some(deliveries)
    })
    .await;
    assert_eq!(
        shop.verdicts(),
        vec![Ok("LEGACY_1 TRADE_SUCCESS".to_owned())]
    );
    let body = deliveries[0]["body"].as_str().unwrap();
    let notification = client
        .verify_notification_signature(body.as_bytes())
        .unwrap();
    assert_eq!(notification.total_fee, Some(money("12.34")));
    assert_eq!(notification.seller_id.as_deref(), Some(PARTNER));
    assert_eq!(
        notification.seller_email.as_deref(),
        Some("seller@sandbox.com")
    );
    assert_eq!(
        notification.buyer_email.as_deref(),
        Some("buyer@sandbox.com")
    );
    assert_eq!(notification.params["subject"], "老接口课程 a+b");
    assert_eq!(notification.params["notify_type"], "trade_status_sync");
    // Acknowledged, the notify_id is no longer confirmed: a replay is refused.
    assert!(!client.notify_verify(&notification.notify_id).await.unwrap());
    assert!(matches!(
        client.verify_notification(body.as_bytes()).await,
        Err(LegacyError::NotGenuine(_))
    ));
    app.sandbox.shutdown().await;
}

#[tokio::test]
async fn notify_verify_confirms_only_what_the_sandbox_sent_that_partner() {
    let (app, _shop, client) = spawn_legacy().await;
    let other = LegacyClient::builder("2088000000000001", Md5Key::new(KEY).unwrap())
        .gateway(LegacyGateway::Url(app.sandbox.gateway_url()))
        .build()
        .unwrap();
    app.sandbox
        .sandbox()
        .register_partner(PartnerConfig::new(
            "2088000000000001",
            Md5Key::new(KEY).unwrap(),
        ))
        .await
        .unwrap();
    // A notify endpoint that keeps failing, so the notification stays pending.
    let receiver = Receiver::start().await;
    receiver.answer_always(500, "fail");
    let link = client
        .direct_pay(&DirectPay::new("LEGACY_2", money("1.00"), "t").notify_url(&receiver.url))
        .unwrap();
    app.http.get(link.url()).send().await.unwrap();
    let paid = app.pay("LEGACY_2").await;
    let received = receiver.wait_for(1).await;
    let notification = client
        .verify_notification_signature(received[0].body.as_bytes())
        .unwrap();
    assert!(client.notify_verify(&notification.notify_id).await.unwrap());
    // Another partner asking about it, a made-up id, an unknown partner: false.
    assert!(!other.notify_verify(&notification.notify_id).await.unwrap());
    assert!(
        !client
            .notify_verify("2024050100222120130046880512345678")
            .await
            .unwrap()
    );
    let unknown = reqwest::get(app.url(&format!(
        "/gateway.do?service=notify_verify&partner=2088999999999999&notify_id={}",
        notification.notify_id
    )))
    .await
    .unwrap();
    assert_eq!(
        unknown.headers()["content-type"],
        "text/plain;charset=utf-8"
    );
    assert_eq!(unknown.text().await.unwrap(), "false");
    // The old http variant answers the same.
    let old = reqwest::get(app.url(&format!(
        "/trade/notify_query.do?partner={PARTNER}&notify_id={}",
        notification.notify_id
    )))
    .await
    .unwrap();
    assert_eq!(old.text().await.unwrap(), "true");
    // A return's notify_id is confirmed too (the legacy demo's verifyReturn asks).
    let returned = client
        .verify_return(paid["return_url"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(returned.out_trade_no, "LEGACY_2");
    assert!(
        client
            .notify_verify(returned.notify_id.as_deref().unwrap())
            .await
            .unwrap()
    );
    app.sandbox.shutdown().await;
}

/// The cashier's answer to a refused request: the legacy error code and the reason.
async fn refused(app: &TestApp, url: &str) -> String {
    let response = app.http.get(url).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let page = response.text().await.unwrap();
    assert!(!page.contains("id=\"pay\""), "{page}");
    page
}

#[tokio::test]
async fn the_mapi_gateway_refuses_what_alipay_refuses() {
    let (app, _shop, client) = spawn_legacy().await;
    let order = DirectPay::new("LEGACY_3", money("1.00"), "t");
    let params = client.direct_pay_params(&order).unwrap();
    let gateway = app.sandbox.gateway_url();
    let url_of = |params: alipay::content::Params| {
        format!("{gateway}?{}", alipay::content::query_string(&params))
    };

    // A wrong key: ILLEGAL_SIGN, with the prestr the gateway computed.
    let wrong = LegacyClient::builder(
        PARTNER,
        Md5Key::new("vutsrqponmlkjihgfedcba9876543210").unwrap(),
    )
    .gateway(LegacyGateway::Url(gateway.clone()))
    .build()
    .unwrap();
    let page = refused(&app, &wrong.direct_pay(&order).unwrap().url()).await;
    assert!(page.contains("ILLEGAL_SIGN"), "{page}");
    assert!(
        page.contains("_input_charset=utf-8&amp;out_trade_no=LEGACY_3"),
        "{page}"
    );

    let signed = |params: alipay::content::Params| client.sign(params).params().clone();
    let mut unknown = params.clone();
    unknown.insert("partner".into(), "2088999999999999".into());
    unknown.insert("seller_id".into(), "2088999999999999".into());
    assert!(
        refused(&app, &url_of(signed(unknown)))
            .await
            .contains("ILLEGAL_PARTNER")
    );

    let mut rsa = signed(params.clone());
    rsa.insert("sign_type".into(), "RSA".into());
    assert!(
        refused(&app, &url_of(rsa))
            .await
            .contains("ILLEGAL_SIGN_TYPE")
    );

    let mut gbk = params.clone();
    gbk.insert("_input_charset".into(), "gbk".into());
    assert!(
        refused(&app, &url_of(signed(gbk)))
            .await
            .contains("ILLEGAL_CHARSET")
    );

    let mut seller = params.clone();
    seller.insert("seller_id".into(), "2088000000000002".into());
    let page = refused(&app, &url_of(signed(seller))).await;
    assert!(
        page.contains("ILLEGAL_ARGUMENT") && page.contains("2088000000000002"),
        "{page}"
    );

    let mut payment_type = params.clone();
    payment_type.insert("payment_type".into(), "2".into());
    assert!(
        refused(&app, &url_of(signed(payment_type)))
            .await
            .contains("payment_type")
    );

    let mut service = params;
    service.insert("service".into(), "refund_fastpay_by_platform_pwd".into());
    assert!(
        refused(&app, &url_of(signed(service)))
            .await
            .contains("ILLEGAL_SERVICE")
    );
    app.sandbox.shutdown().await;
}

#[tokio::test]
async fn the_spec_example_request_is_accepted_as_signed() {
    // Spec §13's worked example, byte for byte, through the gateway: md5 1609679e….
    let (app, _shop, _client) = spawn_legacy().await;
    let query = "_input_charset=utf-8&notify_url=https%3A%2F%2Fmerchant.example.com%2Fnotify&out_trade_no=ORDER_20240501_0001&partner=2088101122136241&payment_type=1&return_url=https%3A%2F%2Fmerchant.example.com%2Freturn&seller_id=2088101122136241&service=create_direct_pay_by_user&subject=%E6%B5%8B%E8%AF%95&total_fee=0.01&sign=1609679ee8d6a6a5dad03b275b4e8993&sign_type=MD5";
    let page = app
        .http
        .get(format!("{}?{query}", app.sandbox.gateway_url()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("id=\"pay\""), "{page}");
    // The same as an auto-submitted form (POST), the way the PHP demo sends it.
    app.sandbox.sandbox().reset(false).await.unwrap();
    let response = app
        .http
        .post(format!(
            "{}?_input_charset=utf-8",
            app.sandbox.gateway_url()
        ))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(query)
        .send()
        .await
        .unwrap();
    assert!(response.text().await.unwrap().contains("id=\"pay\""));
    let (_, partners) = app.get_json("/api/partners").await;
    assert_eq!(partners[0]["partner"], PARTNER);
    let (status, body): (u16, Value) = app
        .post_json("/api/partners", json!({"partner": "2021", "md5_key": KEY}))
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "invalid_partner");
    app.sandbox.shutdown().await;
}
