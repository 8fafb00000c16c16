//! The SDK's axum extractor (`alipay::extract::VerifiedNotification`) as a merchant's notify
//! route: the sandbox's genuine notification reaches the handler; a forged one and one for
//! another app are answered `failure` before it.

use std::sync::{Arc, Mutex};

use alipay::extract::VerifiedNotification;
use alipay::{Notification, SignType};
use alipay_sandbox::AppConfig;
use axum::Router;
use axum::extract::FromRef;
use axum::routing::post;

use crate::helpers::*;

const OTHER_APP: &str = "2021000000000009";

#[derive(Clone)]
struct Merchant {
    client: alipay::Client,
    handled: Arc<Mutex<Vec<Notification>>>,
}

impl FromRef<Merchant> for alipay::Client {
    fn from_ref(merchant: &Merchant) -> alipay::Client {
        merchant.client.clone()
    }
}

async fn notify(
    axum::extract::State(merchant): axum::extract::State<Merchant>,
    VerifiedNotification(notification): VerifiedNotification,
) -> &'static str {
    merchant.handled.lock().unwrap().push(notification);
    alipay::ack()
}

/// Serves the notify route on 127.0.0.1; returns its URL.
async fn serve(merchant: Merchant) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/alipay/notify", listener.local_addr().unwrap());
    let app = Router::new()
        .route("/alipay/notify", post(notify))
        .with_state(merchant);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

#[tokio::test]
async fn the_extractor_takes_genuine_notifications_and_refuses_the_rest() {
    let mut config = test_config();
    config
        .apps
        .push(AppConfig::new(OTHER_APP, app_public_key()));
    let app = spawn_with(config).await;
    let handled = Arc::new(Mutex::new(Vec::new()));
    let notify_url = serve(Merchant {
        client: app.client.clone(),
        handled: handled.clone(),
    })
    .await;
    let merchant = merchant(
        &app.sandbox,
        APP_ID,
        app_private_key(),
        SignType::Rsa2,
        &notify_url,
    );

    // A genuine payment notification: verified, handed to the handler, acknowledged.
    let link = merchant
        .web_pay(&alipay::WebPay::page(
            "EXTRACT_1",
            money("12.30"),
            "extractor",
        ))
        .unwrap();
    app.open(&link).await;
    app.pay("EXTRACT_1").await;
    let delivered = eventually("the notification acknowledged", || async {
        let deliveries = app.deliveries("EXTRACT_1").await;
        deliveries
            .iter()
            .any(|d| d["acknowledged"] == true)
            .then_some(deliveries)
    })
    .await;
    {
        let handled = handled.lock().unwrap();
        assert_eq!(handled.len(), 1);
        assert_eq!(handled[0].out_trade_no, "EXTRACT_1");
        assert_eq!(handled[0].total_amount, Some(money("12.30")));
    }

    // The same body with its amount changed, and one signed by another key: 400 `failure`,
    // and the handler never runs.
    let body = delivered[0]["body"].as_str().unwrap();
    let http = reqwest::Client::new();
    let tampered = body.replace("total_amount=12.30", "total_amount=0.01");
    assert_ne!(tampered, body);
    let mut fields = fields(body);
    fields.remove("sign");
    fields.remove("sign_type");
    let unsigned = alipay::content::notify_content(&fields, alipay::content::EmptyValues::Drop);
    fields.insert(
        "sign".into(),
        alipay::keys::encode_signature(
            &rogue_private_key().sign_bytes(SignType::Rsa2, unsigned.as_bytes()),
        ),
    );
    fields.insert("sign_type".into(), "RSA2".into());
    let forged = alipay::content::query_string(&fields);
    for body in [tampered, forged, "not a notification".to_owned()] {
        let response = http
            .post(&notify_url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400);
        assert_eq!(response.text().await.unwrap(), "failure");
    }

    // Genuine, signed by the sandbox, but for another app: refused too (Alipay keeps trying).
    let other = crate::helpers::merchant(
        &app.sandbox,
        OTHER_APP,
        app_private_key(),
        SignType::Rsa2,
        &notify_url,
    );
    app.open(
        &other
            .web_pay(&alipay::WebPay::page(
                "EXTRACT_2",
                money("1.00"),
                "other app",
            ))
            .unwrap(),
    )
    .await;
    app.pay("EXTRACT_2").await;
    eventually("the other app's notification refused", || async {
        app.deliveries("EXTRACT_2")
            .await
            .iter()
            .any(|d| d["status"] == 400 && d["acknowledged"] == false)
            .then_some(())
    })
    .await;
    assert_eq!(
        handled.lock().unwrap().len(),
        1,
        "the handler saw only the genuine one"
    );
}
