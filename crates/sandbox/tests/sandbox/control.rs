//! The test-control API, the dashboard and the binary.

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};

use alipay::PublicKey;
use serde_json::{Value, json};

use crate::helpers::*;

#[tokio::test]
async fn apps_register_with_a_key_in_any_form_and_get_a_seller_id() {
    let app = spawn_app().await;
    for (app_id, key) in [
        (
            "2021000000000011",
            std::fs::read_to_string(data("keys/app_public_spki.pem")).unwrap(),
        ),
        (
            "2021000000000012",
            std::fs::read_to_string(data("keys/app_public_pkcs1.pem")).unwrap(),
        ),
        (
            "2021000000000013",
            std::fs::read_to_string(data("keys/app_public_spki.b64")).unwrap(),
        ),
    ] {
        let (status, body) = app
            .post_json(
                "/api/apps",
                json!({"app_id": app_id, "public_key": key, "name": "商户"}),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        assert_eq!(body["sign_type"], "RSA2");
        let seller_id = body["seller_id"].as_str().unwrap();
        assert!(seller_id.starts_with("2088") && seller_id.len() == 16);
    }
    let (_, apps) = app.get_json("/api/apps").await;
    assert_eq!(apps.as_array().unwrap().len(), 4);
    for (bad, error) in [
        (
            json!({"app_id": "x1", "public_key": app_public_key().to_pem()}),
            "invalid_app",
        ),
        (
            json!({"app_id": "2021", "public_key": "not a key"}),
            "invalid_public_key",
        ),
        (
            json!({"app_id": "2021", "public_key": std::fs::read_to_string(data("keys/app_private_pkcs8.pem")).unwrap()}),
            "invalid_public_key",
        ),
        (json!({"app_id": "2021"}), "bad_request"),
    ] {
        let (status, body) = app.post_json("/api/apps", bad).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some(error)),
            "{body}"
        );
    }
}

#[tokio::test]
async fn the_library_registers_apps_too() {
    let app = spawn_app().await;
    let registered = app
        .sandbox
        .sandbox()
        .register_app(
            alipay_sandbox::AppConfig::new("2021000000000099", app_public_key())
                .seller_id("2088000000000099"),
        )
        .await
        .unwrap();
    assert_eq!(registered.seller_id, "2088000000000099");
    assert_eq!(app.sandbox.sandbox().apps().await.unwrap().len(), 2);
}

#[tokio::test]
async fn the_alipay_public_key_is_served_as_pem() {
    let app = spawn_app().await;
    let pem = app
        .http
        .get(app.url("/api/alipay-public-key"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----"));
    assert_eq!(
        &PublicKey::parse(&pem).unwrap(),
        app.sandbox.alipay_public_key()
    );
}

#[tokio::test]
async fn the_test_api_pays_lists_and_refuses_clearly() {
    let app = spawn_app().await;
    let (status, body) = app.post_json("/api/trades/GHOST/pay", json!({})).await;
    assert_eq!(status, 404);
    assert!(body["message"].as_str().unwrap().contains("pay link"));
    app.open_trade("ORDER_A1", "2.00").await;
    let (status, body) = app
        .post_json(
            "/api/trades/ORDER_A1/pay",
            json!({"buyer": "poor@sandbox.com"}),
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (409, Some("insufficient_balance"))
    );
    let paid = app.pay("ORDER_A1").await;
    assert_eq!(paid["trade"]["trade_status"], "TRADE_SUCCESS");
    let return_url = paid["return_url"].as_str().unwrap();
    app.client.verify_return(return_url).unwrap();
    let (status, body) = app.post_json("/api/trades/ORDER_A1/pay", Value::Null).await;
    assert_eq!(
        (status, body["sub_code"].as_str()),
        (409, Some("ACQ.TRADE_HAS_SUCCESS"))
    );
    let (status, body) = app
        .post_json("/api/trades/ORDER_A1/pay", json!({"buyer": "nobody"}))
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (409, Some("trade_has_success")),
        "{body}"
    );
    app.open_trade("ORDER_A2", "3.00").await;
    let (status, abandoned) = app
        .post_json("/api/trades/ORDER_A2/cancel", Value::Null)
        .await;
    assert_eq!(status, 200);
    assert_eq!(abandoned["trade"]["trade_status"], "WAIT_BUYER_PAY");
    assert_eq!(abandoned["back_url"], "https://shop.example/");
    let (_, trades) = app.get_json("/api/trades").await;
    let numbers: Vec<&str> = trades
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["out_trade_no"].as_str().unwrap())
        .collect();
    assert_eq!(numbers, ["ORDER_A2", "ORDER_A1"]);
    let (status, _) = app
        .post_json("/api/trades/ORDER_A1/pay", json!({"bogus": 1}))
        .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn reset_forgets_trades_and_notifications_but_keeps_apps() {
    let app = spawn_app().await;
    app.open_trade("ORDER_Z", "2.00").await;
    app.pay("ORDER_Z").await;
    app.receiver.wait_for(1).await;
    app.post_json("/api/faults", json!({"kind": "fail_api"}))
        .await;
    let response = app.http.post(app.url("/api/reset")).send().await.unwrap();
    assert_eq!(response.status(), 204);
    assert!(
        app.get_json("/api/trades")
            .await
            .1
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert!(
        app.get_json("/api/notifications")
            .await
            .1
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert!(
        app.get_json("/api/faults")
            .await
            .1
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        app.get_json("/api/buyers").await.1[0]["balance"],
        "1000000.00"
    );
    // The app still works.
    app.open_trade("ORDER_Z", "2.00").await;
}

#[tokio::test]
async fn the_dashboard_lists_trades_and_deliveries() {
    let app = spawn_app().await;
    app.open_trade("ORDER_D", "2.00").await;
    app.pay("ORDER_D").await;
    app.receiver.wait_for(1).await;
    eventually("the delivery logged", || async {
        (!app.deliveries("ORDER_D").await.is_empty()).then_some(())
    })
    .await;
    let page = app
        .http
        .get(app.url("/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("ORDER_D"));
    assert!(page.contains("TRADE_SUCCESS"));
    assert!(page.contains(&app.receiver.url));
    assert!(page.contains("1/8"));
}

/// Runs the binary, returns it and the base URL from its first line.
fn start_binary(args: &[&str]) -> (std::process::Child, String, Vec<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_alipay-sandbox"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut printed = Vec::new();
    for _ in 0..5 {
        printed.push(lines.next().unwrap().unwrap());
    }
    let base = printed[0].rsplit(' ').next().unwrap().to_owned();
    (child, base, printed)
}

#[tokio::test]
async fn the_binary_prints_its_port_and_key_and_persists_them() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("state");
    let args = [
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        data_dir.to_str().unwrap(),
    ];
    let (mut child, base, printed) = start_binary(&args);
    assert!(base.starts_with("http://127.0.0.1:"), "{printed:?}");
    assert_eq!(printed[1], format!("gateway: {base}/gateway.do"));
    let key_line = printed[2].rsplit(' ').next().unwrap().to_owned();
    let served = reqwest::get(format!("{base}/api/alipay-public-key"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        PublicKey::parse(&served).unwrap(),
        PublicKey::parse(&key_line).unwrap()
    );
    assert!(data_dir.join("alipay_private_key.pem").exists());
    assert!(data_dir.join("sandbox.db").exists());
    child.kill().unwrap();
    child.wait().unwrap();
    // Same key on the next start.
    let (mut again, _, printed_again) = start_binary(&args);
    assert_eq!(printed_again[2], printed[2]);
    again.kill().unwrap();
    again.wait().unwrap();
}

#[tokio::test]
async fn the_binary_registers_apps_from_flags_and_a_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("sandbox.toml");
    std::fs::write(
        &config,
        format!(
            "time_scale = 0.5\n[[apps]]\napp_id = \"2021000000000077\"\npublic_key_file = \"{}\"\nsign_type = \"RSA\"\nname = \"配置商户\"\n",
            data("keys/app_public_pkcs1.pem").display()
        ),
    )
    .unwrap();
    let app_flag = format!(
        "2021000000000078={}",
        data("keys/app_public_spki.pem").display()
    );
    let (mut child, base, _) = start_binary(&[
        "--listen",
        "127.0.0.1:0",
        "--in-memory",
        "--config",
        config.to_str().unwrap(),
        "--app",
        &app_flag,
    ]);
    let apps: Value = serde_json::from_str(
        &reqwest::get(format!("{base}/api/apps"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    )
    .unwrap();
    let ids: Vec<(&str, &str)> = apps
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["app_id"].as_str().unwrap(),
                a["sign_type"].as_str().unwrap(),
            )
        })
        .collect();
    assert!(ids.contains(&("2021000000000077", "RSA")), "{ids:?}");
    assert!(ids.contains(&("2021000000000078", "RSA2")), "{ids:?}");
    child.kill().unwrap();
    child.wait().unwrap();
}

#[tokio::test]
async fn the_binary_registers_certificate_apps_and_legacy_partners() {
    let dir = tempfile::tempdir().unwrap();
    let key = alipay::PrivateKey::generate().unwrap();
    let cert = crate::certmode::test_app_cert(&key);
    std::fs::write(dir.path().join("app.crt"), cert.to_pem()).unwrap();
    std::fs::write(
        dir.path().join("md5.txt"),
        "0123456789abcdefghijklmnopqrstuv\n",
    )
    .unwrap();
    let config = dir.path().join("sandbox.toml");
    std::fs::write(
        &config,
        "[[apps]]\napp_id = \"2021000000000079\"\napp_cert_file = \"app.crt\"\n[[partners]]\npartner = \"2088101122136241\"\nmd5_key_file = \"md5.txt\"\nseller_email = \"old@sandbox.com\"\n",
    )
    .unwrap();
    let cert_flag = format!(
        "{}={}",
        crate::certmode::CERT_APP,
        dir.path().join("app.crt").display()
    );
    let (mut child, base, _) = start_binary(&[
        "--listen",
        "127.0.0.1:0",
        "--in-memory",
        "--config",
        config.to_str().unwrap(),
        "--app-cert",
        &cert_flag,
        "--partner",
        "2088000000000007=vutsrqponmlkjihgfedcba9876543210",
    ]);
    let get = |path: &str| {
        let url = format!("{base}{path}");
        async move {
            serde_json::from_str::<Value>(&reqwest::get(url).await.unwrap().text().await.unwrap())
                .unwrap()
        }
    };
    let apps = get("/api/apps").await;
    for app_id in ["2021000000000079", crate::certmode::CERT_APP] {
        let app = apps
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["app_id"] == app_id)
            .unwrap();
        assert_eq!(app["app_cert_sn"], cert.sn(), "{app}");
    }
    let partners = get("/api/partners").await;
    let partners = partners.as_array().unwrap();
    assert_eq!(partners.len(), 2, "{partners:?}");
    assert!(
        partners
            .iter()
            .any(|p| p["seller_email"] == "old@sandbox.com")
    );
    assert!(
        !Value::Array(partners.clone())
            .to_string()
            .contains("0123456789")
    );
    child.kill().unwrap();
    child.wait().unwrap();
}

#[tokio::test]
async fn nonsense_configuration_is_refused_at_start() {
    let negative = alipay_sandbox::SandboxConfig {
        time_scale: -1.0,
        ..alipay_sandbox::SandboxConfig::default()
    };
    let error = alipay_sandbox::Sandbox::start(negative).await.unwrap_err();
    assert!(error.to_string().contains("time_scale"), "{error}");
    let bad_app = alipay_sandbox::SandboxConfig {
        apps: vec![alipay_sandbox::AppConfig::new(
            "not digits",
            app_public_key(),
        )],
        ..alipay_sandbox::SandboxConfig::default()
    };
    let error = alipay_sandbox::Sandbox::start(bad_app).await.unwrap_err();
    assert!(error.to_string().contains("app_id"), "{error}");
}
