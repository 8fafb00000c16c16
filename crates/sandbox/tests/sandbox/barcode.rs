//! App pay, `alipay.trade.create` and barcode pay (`alipay.trade.pay`) through the SDK: the app's
//! order string opens the Alipay app's cashier, a created trade is paid by its buyer, and a
//! barcode charge is paid at once, waited for, or cancelled, as Alipay prescribes.

use std::time::Duration;

use alipay::api::{TradeCreate, TradePay, TradeQuery};
use alipay::barcode::{BarcodeOutcome, BarcodePolicy};
use alipay::{TradeStatus, WebPay};
use serde_json::json;

use crate::helpers::*;

/// Codes starting 28 pay at once in the sandbox; 29 wait for the buyer.
const PAYS_AT_ONCE: &str = "281234567890123456";
const BUYER_MUST_CONFIRM: &str = "291234567890123456";

fn quick(wait: Duration) -> BarcodePolicy {
    BarcodePolicy {
        poll_every: Duration::from_millis(50),
        wait_at_most: wait,
        cancel_attempts: 3,
    }
}

#[tokio::test]
async fn an_app_order_string_opens_the_app_cashier_and_the_payment_notifies() {
    let app = spawn_app().await;
    let order = app
        .client
        .app_pay(&WebPay::app("ORDER_APP", money("9.90"), "手机课程 a&b"))
        .unwrap();
    let order_string = order.order_string();
    assert!(order_string.contains("method=alipay.trade.app.pay"));
    assert!(order_string.contains("QUICK_MSECURITY_PAY"));
    // The client's return_url belongs to web payments only.
    assert!(!order_string.contains("return_url"), "{order_string}");
    assert!(order_string.ends_with(&format!(
        "&sign={}",
        alipay::content::encode_value(order.signature())
    )));
    assert!(
        app.client
            .web_pay(&WebPay::app("X", money("1.00"), "s"))
            .is_err()
    );

    // The Alipay app submits the order string to the gateway and shows its cashier.
    let gateway = app.sandbox.gateway_url();
    let page = app
        .http
        .get(format!("{gateway}?{order_string}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains(r#"id="pay""#) && page.contains("9.90"),
        "{page}"
    );
    let trade = app
        .client
        .execute(&TradeQuery::by_out_trade_no("ORDER_APP"))
        .await
        .unwrap();
    assert_eq!(trade.trade_status, TradeStatus::WaitBuyerPay);

    app.pay("ORDER_APP").await;
    let received = app.receiver.wait_for(1).await;
    let notification = app
        .client
        .verify_notification(received[0].body.as_bytes())
        .unwrap();
    assert_eq!(notification.out_trade_no, "ORDER_APP");
    assert!(notification.trade_status.is_some_and(|s| s.is_paid()));
}

#[tokio::test]
async fn a_created_trade_is_paid_by_its_buyer() {
    let app = spawn_app().await;
    let created = app
        .client
        .execute(
            &TradeCreate::for_buyer_id("ORDER_MP", money("3.00"), "小程序课程", "2088102177846880")
                .product_code("JSAPI_PAY")
                .notify_url(&app.receiver.url),
        )
        .await
        .unwrap();
    assert_eq!(created.out_trade_no, "ORDER_MP");
    let trade = app
        .client
        .execute(&TradeQuery::by_trade_no(&created.trade_no))
        .await
        .unwrap();
    assert_eq!(trade.trade_status, TradeStatus::WaitBuyerPay);
    app.pay("ORDER_MP").await;
    let received = app.receiver.wait_for(1).await;
    assert_eq!(fields(&received[0].body)["trade_no"], created.trade_no);

    // Without a buyer the gateway refuses, and the SDK checks buyer_id's shape first.
    let signed = app.signed(
        "alipay.trade.create",
        r#"{"out_trade_no":"ORDER_MP2","total_amount":"1.00","subject":"s"}"#,
        &[],
    );
    let node = app.node("alipay.trade.create", &app.post_gateway(&signed).await);
    assert_eq!(node["sub_code"], "ACQ.INVALID_PARAMETER", "{node}");
    let error = app
        .client
        .execute(&TradeCreate::for_buyer_id(
            "ORDER_MP3",
            money("1.00"),
            "s",
            "12345",
        ))
        .await
        .unwrap_err();
    assert!(matches!(error, alipay::Error::InvalidRequest(_)), "{error}");
}

#[tokio::test]
async fn a_barcode_charge_goes_through_at_once_and_notifies() {
    let app = spawn_app().await;
    let charge =
        TradePay::new("POS_1", PAYS_AT_ONCE, money("18.00"), "拿铁").notify_url(&app.receiver.url);
    let paid = app.client.execute(&charge).await.unwrap();
    assert_eq!(paid.total_amount, money("18.00"));
    assert!(paid.gmt_payment.is_some());
    assert_eq!(paid.buyer_user_id.as_deref(), Some("2088102177846880"));
    let received = app.receiver.wait_for(1).await;
    assert_eq!(fields(&received[0].body)["trade_status"], "TRADE_SUCCESS");

    let outcome = app
        .client
        .barcode_pay(
            &TradePay::new("POS_2", PAYS_AT_ONCE, money("6.00"), "s"),
            quick(Duration::from_secs(5)),
        )
        .await
        .unwrap();
    assert!(
        matches!(&outcome, BarcodeOutcome::Paid { total_amount, .. } if *total_amount == money("6.00")),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn a_barcode_charge_waits_while_the_buyer_confirms() {
    let app = spawn_app().await;
    let charge = TradePay::new("POS_W", BUYER_MUST_CONFIRM, money("888.00"), "大额");
    // The raw answer: 10003, signed, and not a refusal.
    let error = app.client.execute(&charge).await.unwrap_err();
    let api = error.api_error().expect("an Alipay answer");
    assert!(api.is_in_process(), "{error}");
    assert!(!error.is_verified_refusal() && !error.is_outcome_unknown());

    let client = app.client.clone();
    let waiting = tokio::spawn(async move {
        client
            .barcode_pay(&charge, quick(Duration::from_secs(20)))
            .await
    });
    // The buyer confirms on the phone: the sandbox's scan page is the cashier of the trade.
    let trade_no = eventually("the waiting trade", || async {
        let (_, trade) = app.get_json("/api/trades/POS_W").await;
        (trade["trade_status"] == "WAIT_BUYER_PAY")
            .then(|| trade["trade_no"].as_str().unwrap().to_owned())
    })
    .await;
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
        page.contains("888.00") && page.contains(r#"id="pay""#),
        "{page}"
    );
    let confirmed = submit(
        &app,
        &format!("/cashier/{trade_no}/pay"),
        "buyer@sandbox.com",
        "111111",
    )
    .await;
    assert!(confirmed.status().is_success(), "{}", confirmed.status());
    let outcome = waiting.await.unwrap().unwrap();
    assert!(
        matches!(&outcome, BarcodeOutcome::Paid { .. }),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn a_barcode_charge_nobody_confirms_is_cancelled() {
    let app = spawn_app().await;
    let charge = TradePay::new("POS_C", BUYER_MUST_CONFIRM, money("500.00"), "s");
    let outcome = app
        .client
        .barcode_pay(&charge, quick(Duration::from_millis(300)))
        .await
        .unwrap();
    assert_eq!(
        outcome,
        BarcodeOutcome::Cancelled {
            action: Some("close".into())
        }
    );
    assert_eq!(app.trade("POS_C").await["trade_status"], "TRADE_CLOSED");
    // Seen through again: closed already, nothing to cancel.
    let again = app
        .client
        .barcode_pay(&charge, quick(Duration::from_millis(300)))
        .await;
    assert!(
        again.is_err(),
        "a closed trade is not charged again: {again:?}"
    );
    // The buyer can no longer pay it.
    let (status, _) = app.post_json("/api/trades/POS_C/pay", json!({})).await;
    assert_ne!(status, 200);
}

#[tokio::test]
async fn an_untrustworthy_answer_is_settled_by_a_query() {
    let app = spawn_app().await;
    // The charge goes through, but its answer's signature is forged.
    app.fault(json!({"kind": "bad_signature", "count": 1, "method": "alipay.trade.pay"}))
        .await;
    let outcome = app
        .client
        .barcode_pay(
            &TradePay::new("POS_U", PAYS_AT_ONCE, money("2.00"), "s"),
            quick(Duration::from_secs(5)),
        )
        .await
        .unwrap();
    assert!(
        matches!(&outcome, BarcodeOutcome::Paid { .. }),
        "{outcome:?}"
    );

    // A charge lost before it became a trade: queried until the wait is over, then cancelled.
    app.fault(json!({"kind": "fail_api", "count": 1, "method": "alipay.trade.pay"}))
        .await;
    let outcome = app
        .client
        .barcode_pay(
            &TradePay::new("POS_L", PAYS_AT_ONCE, money("2.00"), "s"),
            quick(Duration::from_millis(200)),
        )
        .await
        .unwrap();
    assert_eq!(outcome, BarcodeOutcome::Cancelled { action: None });
}

#[tokio::test]
async fn a_code_that_is_not_a_payment_code_is_refused() {
    let app = spawn_app().await;
    let error = app
        .client
        .barcode_pay(
            &TradePay::new("POS_X", "1234567890123456", money("2.00"), "s"),
            quick(Duration::from_secs(1)),
        )
        .await
        .unwrap_err();
    assert!(error.is_verified_refusal(), "{error}");
    assert_eq!(
        error.verified_sub_code(),
        Some("ACQ.PAYMENT_AUTH_CODE_INVALID")
    );
    // A refused charge leaves nothing payable behind.
    let error = app
        .client
        .barcode_pay(
            &TradePay::new("POS_POOR", PAYS_AT_ONCE, money("99999999.00"), "s"),
            quick(Duration::from_secs(1)),
        )
        .await
        .unwrap_err();
    assert_eq!(
        error.verified_sub_code(),
        Some("ACQ.BUYER_BALANCE_NOT_ENOUGH")
    );
    assert_eq!(app.trade("POS_POOR").await["trade_status"], "TRADE_CLOSED");
    // A paid order number charged again (a till retrying after a crash) is found paid.
    app.client
        .execute(&TradePay::new(
            "POS_AGAIN",
            PAYS_AT_ONCE,
            money("3.00"),
            "s",
        ))
        .await
        .unwrap();
    let outcome = app
        .client
        .barcode_pay(
            &TradePay::new("POS_AGAIN", PAYS_AT_ONCE, money("3.00"), "s"),
            quick(Duration::from_secs(1)),
        )
        .await
        .unwrap();
    assert!(
        matches!(outcome, BarcodeOutcome::Paid { .. }),
        "{outcome:?}"
    );
    // The order number of a web payment cannot be charged by barcode.
    app.open_trade("WEB_1", "3.00").await;
    let error = app
        .client
        .execute(&TradePay::new(
            "WEB_1",
            PAYS_AT_ONCE,
            money("3.00"),
            "Rust 入门课 a/b+c",
        ))
        .await
        .unwrap_err();
    assert_eq!(error.verified_sub_code(), Some("ACQ.CONTEXT_INCONSISTENT"));
}

#[tokio::test]
async fn a_cancel_alipay_cannot_finish_is_sent_again() {
    let app = spawn_app().await;
    // The first cancel fails at Alipay (ACQ.SYSTEM_ERROR with retry_flag Y): sent again.
    app.fault(json!({"kind": "fail_api", "count": 1, "method": "alipay.trade.cancel"}))
        .await;
    let charge = TradePay::new("POS_R", BUYER_MUST_CONFIRM, money("300.00"), "s");
    let outcome = app
        .client
        .barcode_pay(&charge, quick(Duration::from_millis(200)))
        .await
        .unwrap();
    assert_eq!(
        outcome,
        BarcodeOutcome::Cancelled {
            action: Some("close".into())
        }
    );
    // Failing every time: after the policy's attempts the error is reported, never a success.
    app.fault(json!({"kind": "fail_api", "count": 10, "method": "alipay.trade.cancel"}))
        .await;
    let charge = TradePay::new("POS_R2", BUYER_MUST_CONFIRM, money("300.00"), "s");
    let error = app
        .client
        .barcode_pay(&charge, quick(Duration::from_millis(200)))
        .await
        .unwrap_err();
    assert!(error.is_outcome_unknown(), "{error}");
    assert_eq!(app.trade("POS_R2").await["trade_status"], "WAIT_BUYER_PAY");
}
