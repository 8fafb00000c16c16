//! The seeds' front ends keep working.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::spawn_app;

#[tokio::test]
async fn luffy_pays_and_confirms_through_its_own_routes() {
    let app = spawn_app().await;
    let buyer = app.buyer("luffy").await;
    let response = app
        .http
        .post(app.url("/order/pay"))
        .header("authorization", format!("jwt {}", buyer.token))
        .json(&json!({"subject": "路飞学城", "total_amount": 337.00, "goods_pks": "1,2"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let pay_url: String = response.json().await.unwrap();
    assert!(pay_url.contains("/sandbox/gateway.do?"));
    // The same price check.
    let tampered = app
        .http
        .post(app.url("/order/pay"))
        .header("authorization", format!("jwt {}", buyer.token))
        .json(&json!({"subject": "路飞学城", "total_amount": "0.01", "goods_pks": "1,2"}))
        .send()
        .await
        .unwrap();
    assert_eq!(tampered.status(), StatusCode::BAD_REQUEST);

    let (_, orders) = app.get("/api/orders", Some(&buyer.token)).await;
    let order = orders[0].clone();
    let no = order["out_trade_no"].as_str().unwrap();
    app.fault("drop_notifications", 10).await;
    let paid = app
        .pay(&json!({"out_trade_no": no, "pay_url": pay_url}))
        .await;
    let query = paid["return_url"]
        .as_str()
        .unwrap()
        .split_once('?')
        .unwrap()
        .1
        .to_owned();
    let response = app
        .http
        .patch(app.url(&format!("/order/success?{query}")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["status"], "paid");
    assert_eq!(body["course_list"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn meiduo_gets_its_link_and_status() {
    let app = spawn_app().await;
    let buyer = app.buyer("meiduo").await;
    let order = app.order(&buyer, &[3]).await;
    let no = order["out_trade_no"].as_str().unwrap();
    let response = app
        .http
        .get(app.url(&format!("/orders/{no}/payment/")))
        .header("authorization", format!("JWT {}", buyer.token))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: serde_json::Value = response.json().await.unwrap();
    let url = body["alipay_url"].as_str().unwrap();
    let paid = app.pay(&json!({"out_trade_no": no, "pay_url": url})).await;
    let query = paid["return_url"]
        .as_str()
        .unwrap()
        .split_once('?')
        .unwrap()
        .1
        .to_owned();

    let bad = app
        .http
        .put(app.url(&format!(
            "/payment/status/?{}",
            query.replace("sign=", "sign=x")
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::FORBIDDEN);
    let good = app
        .http
        .put(app.url(&format!("/payment/status/?{query}")))
        .send()
        .await
        .unwrap();
    assert_eq!(good.status(), StatusCode::OK);
    let body: serde_json::Value = good.json().await.unwrap();
    assert_eq!(body["trade_id"], paid["trade"]["trade_no"]);
}
