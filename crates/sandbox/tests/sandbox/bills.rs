//! The daily trade bill: `alipay.data.dataservice.bill.downloadurl.query`, the file behind the
//! link, and the SDK reading it.

use alipay::api::{BillDownloadUrlQuery, TradeRef, TradeRefund};
use alipay::bill::Business;

use crate::helpers::*;

fn today() -> String {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    alipay::time::now().date().format(&format).unwrap()
}

#[tokio::test]
async fn todays_bill_has_every_payment_and_refund() {
    let app = spawn_app().await;
    app.open_trade("ORDER_B1", "138.00").await;
    app.pay("ORDER_B1").await;
    app.open_trade("ORDER_B2", "9.90").await;
    app.pay("ORDER_B2").await;
    app.open_trade("ORDER_B3", "1.00").await; // never paid: not on the bill
    let refund = TradeRefund::new(TradeRef::out_trade_no("ORDER_B1"), money("38.00"), "RF-B1");
    app.client.execute(&refund).await.unwrap();

    let bill = app.client.fetch_bill(&today()).await.unwrap().unwrap();
    assert_eq!(bill.lines.len(), 3, "{bill:?}");
    let paid: Vec<_> = bill
        .lines
        .iter()
        .filter(|l| l.business == Business::Payment)
        .map(|l| (l.out_trade_no.as_str(), l.received.to_string()))
        .collect();
    assert_eq!(
        paid,
        [("ORDER_B1", "138.00".into()), ("ORDER_B2", "9.90".into())]
    );
    let refunded = bill
        .lines
        .iter()
        .find(|l| l.business == Business::Refund)
        .unwrap();
    assert_eq!(refunded.out_trade_no, "ORDER_B1");
    assert_eq!(refunded.out_request_no.as_deref(), Some("RF-B1"));
    assert_eq!(refunded.received.to_string(), "-38.00");
    assert_eq!(bill.payments.unwrap().count, 2);
    assert_eq!(bill.payments.unwrap().received.to_string(), "147.90");
    assert_eq!(bill.refunds.unwrap().received.to_string(), "-38.00");
    assert!(bill.account.unwrap().starts_with("2088"));
}

#[tokio::test]
async fn a_day_without_business_has_no_bill_and_bad_dates_are_refused() {
    let app = spawn_app().await;
    assert!(app.client.fetch_bill(&today()).await.unwrap().is_none());
    let error = app
        .client
        .execute(&BillDownloadUrlQuery::trade("2026-12"))
        .await
        .unwrap_err();
    assert_eq!(error.verified_sub_code(), Some("isv.invalid_arguments"));
    let error = app
        .client
        .execute(&BillDownloadUrlQuery::trade("2999-01-01"))
        .await
        .unwrap_err();
    assert_eq!(error.verified_sub_code(), Some("isp.bill_not_exist"));
}

#[tokio::test]
async fn the_link_is_a_zip_and_an_unknown_link_is_not_found() {
    let app = spawn_app().await;
    app.open_trade("ORDER_B4", "5.00").await;
    app.pay("ORDER_B4").await;
    let answer = app
        .client
        .execute(&BillDownloadUrlQuery::trade(today()))
        .await
        .unwrap();
    assert!(
        answer
            .bill_download_url
            .starts_with(&app.url("/downloadBillFile.resource?")),
        "{}",
        answer.bill_download_url
    );
    let response = app
        .http
        .get(&answer.bill_download_url)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let disposition = response.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(disposition.contains(".csv.zip"), "{disposition}");
    let bytes = response.bytes().await.unwrap();
    assert_eq!(alipay::bill::parse_zip(&bytes).unwrap().lines.len(), 1);
    let response = app
        .http
        .get(app.url("/downloadBillFile.resource?token=forged"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
}
