//! The buyer's side: paying, failing to pay and leaving, in a browser's shoes.

use alipay::api::TradeQuery;
use alipay::{TradeStatus, WebPay};
use axum::Router;

use crate::helpers::*;

#[tokio::test]
async fn paying_on_the_cashier_returns_the_browser_with_signed_params_and_notifies() {
    // Arrange
    let app = spawn_app().await;
    let trade_no = app.open_trade("ORDER_C1", "88.88").await;
    // Act
    let response = submit(
        &app,
        &format!("/cashier/{trade_no}/pay"),
        "buyer@sandbox.com",
        "111111",
    )
    .await;
    // Assert: a redirect to return_url the merchant can verify.
    assert_eq!(response.status(), 303);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        location.starts_with(&format!("{RETURN_URL}?")),
        "{location}"
    );
    let returned = app.client.verify_return(&location).unwrap();
    assert_eq!(returned.out_trade_no, "ORDER_C1");
    assert_eq!(returned.trade_no.as_deref(), Some(trade_no.as_str()));
    assert_eq!(
        returned.method.as_deref(),
        Some("alipay.trade.page.pay.return")
    );
    assert_eq!(returned.total_amount, Some(money("88.88")));
    assert!(!returned.params.contains_key("trade_status"));
    // The trade is paid, and says so to the SDK.
    let trade = app
        .client
        .execute(&TradeQuery::by_out_trade_no("ORDER_C1"))
        .await
        .unwrap();
    assert_eq!(trade.trade_status, TradeStatus::TradeSuccess);
    assert_eq!(trade.buyer_logon_id.as_deref(), Some("buy***@sandbox.com"));
    // And the notification arrived and verifies.
    let received = app.receiver.wait_for(1).await;
    let notification = app
        .client
        .verify_notification(received[0].body.as_bytes())
        .unwrap();
    assert_eq!(notification.trade_status, Some(TradeStatus::TradeSuccess));
    assert_eq!(notification.total_amount, Some(money("88.88")));
    assert_eq!(notification.trade_no.as_deref(), Some(trade_no.as_str()));
    let seller_id = app.get_json("/api/apps").await.1[0]["seller_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(notification.seller_id.as_deref(), Some(seller_id.as_str()));
    assert_eq!(returned.seller_id.as_deref(), Some(seller_id.as_str()));
}

#[tokio::test]
async fn the_cashier_refuses_a_wrong_password_an_unknown_buyer_and_a_poor_one() {
    let app = spawn_app().await;
    let trade_no = app.open_trade("ORDER_C2", "5.00").await;
    let path = format!("/cashier/{trade_no}/pay");
    for (buyer, password, text) in [
        ("buyer@sandbox.com", "000000", "Wrong payment password"),
        ("nobody@sandbox.com", "111111", "No sandbox buyer"),
        ("poor@sandbox.com", "111111", "Insufficient balance"),
    ] {
        let response = submit(&app, &path, buyer, password).await;
        assert_eq!(response.status(), 422);
        let page = response.text().await.unwrap();
        assert!(page.contains(text), "{page}");
        // The page is served at cashier/{no}/pay, so its form posts two levels up.
        assert!(
            page.contains(&format!(r#"action="../../cashier/{trade_no}/pay""#)),
            "{page}"
        );
    }
    assert_eq!(
        app.trade("ORDER_C2").await["trade_status"],
        "WAIT_BUYER_PAY"
    );
    // Paying twice is refused.
    assert_eq!(
        submit(&app, &path, "buyer@sandbox.com", "111111")
            .await
            .status(),
        303
    );
    let page = submit(&app, &path, "buyer@sandbox.com", "111111")
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("ACQ.TRADE_HAS_SUCCESS"), "{page}");
    let buyers = app.get_json("/api/buyers").await.1;
    assert_eq!(buyers[0]["balance"], "999995.00");
}

#[tokio::test]
async fn cancelling_on_the_cashier_leaves_the_trade_waiting() {
    let app = spawn_app().await;
    let trade_no = app.open_trade("ORDER_C3", "5.00").await;
    let response = submit(&app, &format!("/cashier/{trade_no}/cancel"), "", "").await;
    assert_eq!(response.status(), 200);
    let page = response.text().await.unwrap();
    assert!(page.contains("Payment cancelled"));
    assert!(page.contains(r#"href="https://shop.example/""#), "{page}");
    assert_eq!(
        app.trade("ORDER_C3").await["trade_status"],
        "WAIT_BUYER_PAY"
    );
    assert!(app.receiver.received().is_empty());
}

#[tokio::test]
async fn the_mobile_cashier_returns_with_the_wap_method_and_quits_to_quit_url() {
    let app = spawn_app().await;
    let link = app
        .client
        .web_pay(
            &WebPay::wap("ORDER_W", money("3.00"), "手机课程")
                .quit_url("https://shop.example/orders/W"),
        )
        .unwrap();
    assert!(app.open(&link).await.contains(r#"id="pay""#));
    let trade_no = app.trade("ORDER_W").await["trade_no"]
        .as_str()
        .unwrap()
        .to_owned();
    let page = submit(&app, &format!("/cashier/{trade_no}/cancel"), "", "")
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("https://shop.example/orders/W"));
    let response = submit(
        &app,
        &format!("/cashier/{trade_no}/pay"),
        "buyer@sandbox.com",
        "111111",
    )
    .await;
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let returned = app.client.verify_return(&location).unwrap();
    assert_eq!(
        returned.method.as_deref(),
        Some("alipay.trade.wap.pay.return")
    );
}

#[tokio::test]
async fn everything_works_under_a_prefix() {
    // The shop nests the sandbox at /sandbox: the gateway, cashier links and dashboard must all
    // keep working there.
    let sandbox = alipay_sandbox::Sandbox::start(test_config()).await.unwrap();
    let router = Router::new().nest("/sandbox", sandbox.router());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let client = alipay::Client::builder(
        APP_ID,
        app_private_key(),
        sandbox.alipay_public_key().clone(),
    )
    .gateway(alipay::Gateway::Url(format!("{base}/sandbox/gateway.do")))
    .return_url(RETURN_URL)
    .build()
    .unwrap();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();

    let link = client
        .web_pay(&WebPay::page("ORDER_P", money("9.90"), "prefixed"))
        .unwrap();
    let page_url = reqwest::Url::parse(&link.url()).unwrap();
    let page = http
        .get(page_url.clone())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let action = page
        .split(r#"<form method="post" action=""#)
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    // Resolve the form's relative action the way a browser does.
    let pay_url = page_url.join(action).unwrap();
    assert!(pay_url.path().starts_with("/sandbox/cashier/"), "{pay_url}");
    let response = http
        .post(pay_url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("buyer=buyer%40sandbox.com&password=111111")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    // axum serves a nested "/" at "/sandbox"; the page's links must resolve below it.
    let dashboard = http
        .get(format!("{base}/sandbox"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(dashboard.contains("ORDER_P"), "{dashboard}");
    assert!(
        dashboard.contains(r#"href="sandbox/api/trades""#),
        "{dashboard}"
    );
    let key = http
        .get(format!("{base}/sandbox/api/alipay-public-key"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(key, sandbox.alipay_public_key().to_pem());
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_trade_page_shows_where_the_trade_stands() {
    let app = spawn_app().await;
    let trade_no = app.open_trade("ORDER_S", "7.00").await;
    let page = app
        .http
        .get(app.url(&format!("/cashier/{trade_no}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains(&format!(r#"action="../cashier/{trade_no}/pay""#)),
        "{page}"
    );
    app.pay("ORDER_S").await;
    let page = app
        .http
        .get(app.url(&format!("/cashier/{trade_no}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("Already paid") && !page.contains(r#"id="pay""#),
        "{page}"
    );
    let missing = app
        .http
        .get(app.url("/cashier/123"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(missing.contains("ACQ.TRADE_NOT_EXIST"));
}

#[tokio::test]
async fn python_alipay_sdks_wap_product_code_is_accepted() {
    let app = spawn_app().await;
    let biz = r#"{"subject":"s","out_trade_no":"ORDER_PYW","total_amount":"1.00","product_code":"QUICK_WAP_PAY"}"#;
    let signed = app.signed("alipay.trade.wap.pay", biz, &[]);
    let page = app
        .http
        .get(signed.url())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains(r#"id="pay""#), "{page}");
    assert_eq!(
        app.trade("ORDER_PYW").await["method"],
        "alipay.trade.wap.pay"
    );
}
