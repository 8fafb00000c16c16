//! `alipay_cli::doctor` against a live sandbox: a configuration made from what the sandbox publishes
//! (its public key, or its certificates) has no errors, and the gateway checks answer "ok".

use std::path::Path;

use alipay::PrivateKey;
use alipay::config::AlipayConfig;
use alipay_cli::doctor::{self, Options, Severity};
use serde_json::json;

use crate::helpers::*;

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[tokio::test]
async fn a_public_key_configuration_for_the_sandbox_is_healthy() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    let config = AlipayConfig {
        app_id: APP_ID.into(),
        app_private_key_file: Some(write(
            dir.path(),
            "app.pem",
            &app_private_key().to_pkcs8_pem(),
        )),
        app_public_key: Some(app_public_key().to_base64()),
        alipay_public_key: Some(app.sandbox.alipay_public_key().to_base64()),
        gateway: Some(app.sandbox.gateway_url()),
        notify_url: Some(app.receiver.url.clone()),
        ..AlipayConfig::default()
    };
    let report = doctor::diagnose(&config, &Options::default()).await;
    assert!(!report.has_errors(), "{report:#?}");
    assert_eq!(report.worst("gateway"), Some(Severity::Ok), "{report:#?}");
    assert!(
        report
            .of("gateway")
            .any(|f| f.message.contains("answers like an Alipay gateway"))
    );
    // A local gateway with a local notify_url: works here, a warning for the real thing.
    assert_eq!(report.worst("notify_url"), Some(Severity::Warning));
}

#[tokio::test]
async fn a_certificate_configuration_for_the_sandbox_is_healthy() {
    let app = spawn_app().await;
    let key = PrivateKey::generate().unwrap();
    let (status, issued) = app
        .post_json(
            "/api/apps",
            json!({"app_id": "2021000000000020", "public_key": key.public_key().to_base64(), "issue_cert": true}),
        )
        .await;
    assert_eq!(status, 201, "{issued}");
    let (_, certs) = app.get_json("/api/certs").await;
    let dir = tempfile::tempdir().unwrap();
    let config = AlipayConfig {
        app_id: "2021000000000020".into(),
        app_private_key_file: Some(write(dir.path(), "app.pem", &key.to_pkcs8_pem())),
        app_cert_file: Some(write(
            dir.path(),
            "app.crt",
            issued["app_cert"].as_str().unwrap(),
        )),
        alipay_cert_file: Some(write(
            dir.path(),
            "alipay.crt",
            certs["alipay_cert"].as_str().unwrap(),
        )),
        alipay_root_cert_file: Some(write(
            dir.path(),
            "root.crt",
            certs["alipay_root_cert"].as_str().unwrap(),
        )),
        gateway: Some(app.sandbox.gateway_url()),
        notify_url: Some(app.receiver.url.clone()),
        ..AlipayConfig::default()
    };
    let report = doctor::diagnose(&config, &Options::default()).await;
    assert!(!report.has_errors(), "{report:#?}");
    for check in [
        "app_cert",
        "alipay_cert",
        "alipay_cert_chain",
        "alipay_root_cert",
        "gateway",
    ] {
        assert_eq!(
            report.worst(check),
            Some(Severity::Ok),
            "{check}: {report:#?}"
        );
    }
    let sn = certs["alipay_root_cert_sn"].as_str().unwrap();
    assert!(
        report
            .of("alipay_root_cert")
            .any(|f| f.message.contains(sn))
    );
    // And the configuration works: the client it builds talks to the sandbox in certificate mode.
    let client = config.client().unwrap();
    let error = client
        .execute(&alipay::api::TradeQuery::by_out_trade_no("NONE"))
        .await
        .unwrap_err();
    assert_eq!(error.sub_code(), Some("ACQ.TRADE_NOT_EXIST"));
}

#[tokio::test]
async fn a_legacy_configuration_for_the_sandbox_reaches_its_mapi_gateway() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "md5.txt", "0123456789abcdefghijklmnopqrstuv");
    let file = write(
        dir.path(),
        "shop.toml",
        &format!(
            "[alipay.legacy]\npartner = \"2088101122136241\"\nmd5_key_file = \"md5.txt\"\ngateway = \"{}\"\nnotify_url = \"{}\"\n",
            app.sandbox.gateway_url(),
            app.receiver.url
        ),
    );
    let config = AlipayConfig::from_file(&file).unwrap();
    let report = doctor::diagnose(&config, &Options::default()).await;
    assert!(!report.has_errors(), "{report:#?}");
    assert_eq!(
        report.worst("legacy_gateway"),
        Some(Severity::Ok),
        "{report:#?}"
    );
    assert_eq!(report.worst("legacy"), Some(Severity::Warning));
    assert!(report.of("app_id").next().is_none());
}
