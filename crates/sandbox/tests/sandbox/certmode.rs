//! Certificate mode (公钥证书模式) end to end: a merchant configured from `GET /api/certs` and an
//! app certificate, `alipay::Client` in certificate mode, requests carrying `app_cert_sn` and
//! `alipay_root_cert_sn`, responses carrying `alipay_cert_sn`, notifications and returns verified
//! with the certificate's key, and rotation of the Alipay certificate.

use alipay::api::{AlipayCertDownload, TradeQuery, TradeRef, TradeRefund};
use alipay::cert::{self, Certificate};
use alipay::cert_mode::CertMode;
use alipay::{Client, Error, Gateway, PrivateKey, SignatureError, TradeStatus, WebPay};
use alipay_sandbox::{AppConfig, RunningSandbox, SandboxConfig};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair,
    SerialNumber,
};
use serde_json::{Value, json};

use crate::helpers::*;

pub(crate) const CERT_APP: &str = "2021000000000009";

/// A certificate chain the test makes: a root and an app certificate for `key`.
pub(crate) fn test_app_cert(key: &PrivateKey) -> Certificate {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CountryName, "CN");
    dn.push(DnType::OrganizationName, "Test CA");
    dn.push(DnType::OrganizationalUnitName, "Certification Authority");
    dn.push(DnType::CommonName, "Test Root");
    let mut root = CertificateParams::default();
    root.distinguished_name = dn;
    root.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    root.serial_number = Some(SerialNumber::from(7u64));
    let root_key =
        KeyPair::try_from(PrivateKey::generate().unwrap().to_pkcs8_der().as_slice()).unwrap();
    let mut leaf = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CountryName, "CN");
    dn.push(DnType::OrganizationName, "shop@example.com");
    dn.push(DnType::OrganizationalUnitName, "Alipay");
    dn.push(DnType::CommonName, format!("2088000000000000-{CERT_APP}"));
    leaf.distinguished_name = dn;
    leaf.serial_number = Some(SerialNumber::from(0x1234_5678u64));
    let app_key = KeyPair::try_from(key.to_pkcs8_der().as_slice()).unwrap();
    let pem = leaf
        .signed_by(&app_key, &Issuer::new(root, &root_key))
        .unwrap()
        .pem();
    cert::parse_pem(pem.as_bytes()).unwrap().remove(0)
}

/// What `GET /api/certs` gives.
async fn certs(sandbox: &RunningSandbox) -> Value {
    let text = reqwest::get(sandbox.url("/api/certs"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    serde_json::from_str(&text).unwrap()
}

/// POSTs `{}` to a test-control route; returns the JSON answer.
async fn post_empty(http: &reqwest::Client, url: String) -> Value {
    let text = http
        .post(url)
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    serde_json::from_str(&text).unwrap()
}

struct CertApp {
    sandbox: RunningSandbox,
    client: Client,
    app_cert: Certificate,
    receiver: Receiver,
    http: reqwest::Client,
}

async fn cert_client(
    sandbox: &RunningSandbox,
    app_cert_pem: &str,
    key: PrivateKey,
    notify_url: &str,
) -> Client {
    let certs = certs(sandbox).await;
    let mode = CertMode::from_pem(
        app_cert_pem.as_bytes(),
        certs["alipay_cert"].as_str().unwrap().as_bytes(),
        certs["alipay_root_cert"].as_str().unwrap().as_bytes(),
    )
    .unwrap();
    Client::builder_with_certificates(CERT_APP, key, mode)
        .gateway(Gateway::Url(sandbox.gateway_url()))
        .notify_url(notify_url)
        .return_url(RETURN_URL)
        .build()
        .unwrap()
}

/// A sandbox with a public-key app (the helpers' default) and a certificate-mode app whose
/// certificate the test made.
async fn spawn_cert_app() -> CertApp {
    let key = PrivateKey::generate().unwrap();
    let app_cert = test_app_cert(&key);
    let mut config = test_config();
    config.apps.push(
        AppConfig::with_certificate(CERT_APP, app_cert.clone())
            .unwrap()
            .name("证书商户"),
    );
    let sandbox = alipay_sandbox::spawn(config).await.unwrap();
    let receiver = Receiver::start().await;
    let client = cert_client(&sandbox, &app_cert.to_pem(), key, &receiver.url).await;
    CertApp {
        sandbox,
        client,
        app_cert,
        receiver,
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
    }
}

impl CertApp {
    async fn post(&self, params: &alipay::content::Params) -> String {
        let signed = self.client.sign(params.clone()).unwrap();
        self.http
            .post(self.sandbox.gateway_url())
            .header(
                "content-type",
                "application/x-www-form-urlencoded;charset=utf-8",
            )
            .body(signed.query_string())
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    fn query_params(&self, out_trade_no: &str) -> alipay::content::Params {
        let mut params = self
            .client
            .common_params("alipay.trade.query", alipay::time::now());
        params.insert(
            "biz_content".into(),
            json!({"out_trade_no": out_trade_no}).to_string(),
        );
        params
    }
}

#[tokio::test]
async fn a_certificate_mode_app_pays_queries_and_refunds_end_to_end() {
    let app = spawn_cert_app().await;
    let certs = certs(&app.sandbox).await;
    let alipay_cert_sn = certs["alipay_cert_sn"].as_str().unwrap().to_owned();
    // The root bundle holds an RSA and an ECDSA root; only the RSA one counts.
    let roots = cert::parse_pem(certs["alipay_root_cert"].as_str().unwrap().as_bytes()).unwrap();
    assert_eq!(roots.len(), 2);
    assert_eq!(certs["alipay_root_cert_sn"], roots[0].sn());
    assert!(!roots[1].is_rsa_signed());
    // The first Alipay certificate certifies the key public-key apps configure.
    let chain = cert::parse_pem(certs["alipay_cert"].as_str().unwrap().as_bytes()).unwrap();
    assert_eq!(chain.len(), 2);
    assert_eq!(
        chain[0].public_key().unwrap(),
        *app.sandbox.alipay_public_key()
    );
    assert_eq!(
        cert::verify_chain(&chain, &roots, alipay::time::now()),
        Ok(())
    );

    // The pay link carries both SNs (signed like every parameter).
    let link = app
        .client
        .web_pay(&WebPay::page("CERT_1", money("66.00"), "证书模式课程"))
        .unwrap();
    assert_eq!(link.params()["app_cert_sn"], app.app_cert.sn());
    assert_eq!(
        link.params()["alipay_root_cert_sn"],
        certs["alipay_root_cert_sn"]
    );
    assert!(
        link.content()
            .contains(&format!("app_cert_sn={}", app.app_cert.sn()))
    );
    let page = app
        .http
        .get(link.url())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("id=\"pay\""), "{page}");
    assert!(page.contains("证书商户"));

    let paid = post_empty(&app.http, app.sandbox.url("/api/trades/CERT_1/pay")).await;
    let returned = app
        .client
        .verify_return(paid["return_url"].as_str().unwrap())
        .unwrap();
    assert_eq!(returned.out_trade_no, "CERT_1");
    let received = app.receiver.wait_for(1).await;
    let notification = app
        .client
        .verify_notification(received[0].body.as_bytes())
        .unwrap();
    assert_eq!(notification.trade_status, Some(TradeStatus::TradeSuccess));
    assert!(!notification.params.contains_key("alipay_cert_sn"));

    // Responses name the certificate that signed them, between the node and `sign`.
    let raw = app.post(&app.query_params("CERT_1")).await;
    assert!(
        raw.starts_with("{\"alipay_trade_query_response\":{\"code\":\"10000\""),
        "{raw}"
    );
    assert!(
        raw.contains(&format!(
            "}},\"alipay_cert_sn\":\"{alipay_cert_sn}\",\"sign\":\""
        )),
        "{raw}"
    );
    let trade = app
        .client
        .execute(&TradeQuery::by_out_trade_no("CERT_1"))
        .await
        .unwrap();
    assert_eq!(trade.trade_status, TradeStatus::TradeSuccess);
    let refund = app
        .client
        .execute(&TradeRefund::new(
            TradeRef::out_trade_no("CERT_1"),
            money("6.00"),
            "R1",
        ))
        .await
        .unwrap();
    assert_eq!(refund.refund_fee, money("6.00"));
    let refund_notice = app.receiver.wait_for(2).await;
    assert!(
        app.client
            .verify_notification(refund_notice[1].body.as_bytes())
            .is_ok()
    );

    // The public-key app on the same sandbox is untouched: no alipay_cert_sn in its answers.
    let plain = merchant(
        &app.sandbox,
        APP_ID,
        app_private_key(),
        alipay::SignType::Rsa2,
        &app.receiver.url,
    );
    let error = plain
        .execute(&TradeQuery::by_out_trade_no("NONE"))
        .await
        .unwrap_err();
    assert_eq!(error.sub_code(), Some("ACQ.TRADE_NOT_EXIST"));
    app.sandbox.shutdown().await;
}

#[tokio::test]
async fn the_gateway_checks_the_certificate_sns() {
    let app = spawn_cert_app().await;
    let node = |raw: &str| -> Value {
        let top: Value = serde_json::from_str(raw).unwrap();
        assert!(top["alipay_cert_sn"].is_string(), "{raw}");
        top["alipay_trade_query_response"].clone()
    };
    let mut params = app.query_params("X");
    params.remove("app_cert_sn");
    assert_eq!(
        node(&app.post(&params).await)["sub_code"],
        "isv.missing-signature-config"
    );
    let mut params = app.query_params("X");
    params.insert("app_cert_sn".into(), "0".repeat(32));
    let refused = node(&app.post(&params).await);
    assert_eq!(refused["code"], "40002");
    assert_eq!(refused["sub_code"], "isv.app-cert-not-exist");
    let mut params = app.query_params("X");
    params.remove("alipay_root_cert_sn");
    assert_eq!(
        node(&app.post(&params).await)["sub_code"],
        "isv.missing-alipay-root-cert-sn"
    );
    let mut params = app.query_params("X");
    // The production bundle's SN is not this gateway's root.
    params.insert(
        "alipay_root_cert_sn".into(),
        "687b59193f3f462dd5336e5abf83c5d8_02941eef3187dddf3d3b83462e1dfcf6".into(),
    );
    assert_eq!(
        node(&app.post(&params).await)["sub_code"],
        "isv.invalid-alipay-root-cert-sn"
    );
    // All present and right: the method runs.
    let answer = node(&app.post(&app.query_params("X")).await);
    assert_eq!(answer["sub_code"], "ACQ.TRADE_NOT_EXIST");
    // The certificate's key, not any key, signs: a request signed by another key is refused.
    let rogue = cert_client(
        &app.sandbox,
        &app.app_cert.to_pem(),
        rogue_private_key(),
        &app.receiver.url,
    )
    .await;
    let error = rogue
        .execute(&TradeQuery::by_out_trade_no("X"))
        .await
        .unwrap_err();
    assert_eq!(error.sub_code(), Some("isv.invalid-signature"));
    app.sandbox.shutdown().await;
}

#[tokio::test]
async fn a_rotated_alipay_certificate_is_downloaded_checked_and_used() {
    let app = spawn_cert_app().await;
    let first_certs = certs(&app.sandbox).await;
    let first_sn = app.client.cert_mode().unwrap().alipay_cert_sn();
    app.client
        .execute(&TradeQuery::by_out_trade_no("NONE"))
        .await
        .unwrap_err();

    let rotated = post_empty(&app.http, app.sandbox.url("/api/certs/rotate")).await;
    let new_sn = rotated["alipay_cert_sn"].as_str().unwrap().to_owned();
    assert_ne!(new_sn, first_sn);
    assert_eq!(rotated["alipay_cert_sns"], json!([first_sn, new_sn]));
    let new_chain = cert::parse_pem(rotated["alipay_cert"].as_str().unwrap().as_bytes()).unwrap();
    assert_ne!(
        new_chain[0].public_key().unwrap(),
        *app.sandbox.alipay_public_key()
    );

    // The next answer names the new certificate: the client downloads it, checks its chain, and
    // verifies with it.
    let error = app
        .client
        .execute(&TradeQuery::by_out_trade_no("NONE"))
        .await
        .unwrap_err();
    assert_eq!(error.sub_code(), Some("ACQ.TRADE_NOT_EXIST"), "{error}");
    let certs = app.client.cert_mode().unwrap();
    assert_eq!(certs.alipay_cert_sn(), new_sn);
    assert_eq!(certs.known_alipay_cert_sns().len(), 2);
    assert_eq!(
        certs.alipay_public_key(),
        new_chain[0].public_key().unwrap()
    );

    // Notifications are signed with the new key too, and verify.
    let link = app
        .client
        .web_pay(&WebPay::page("CERT_ROT", money("1.00"), "rotation"))
        .unwrap();
    assert_eq!(app.http.get(link.url()).send().await.unwrap().status(), 200);
    post_empty(&app.http, app.sandbox.url("/api/trades/CERT_ROT/pay")).await;
    let received = app.receiver.wait_for(1).await;
    assert!(
        app.client
            .verify_notification(received[0].body.as_bytes())
            .is_ok()
    );
    // A client that only knows the first certificate cannot verify it: the key really changed.
    let stale = Client::builder_with_certificates(
        CERT_APP,
        PrivateKey::generate().unwrap(),
        CertMode::from_pem(
            app.app_cert.to_pem().as_bytes(),
            first_certs["alipay_cert"].as_str().unwrap().as_bytes(),
            first_certs["alipay_root_cert"].as_str().unwrap().as_bytes(),
        )
        .unwrap(),
    )
    .gateway(Gateway::Url(app.sandbox.gateway_url()))
    .build()
    .unwrap();
    assert!(
        stale
            .verify_notification(received[0].body.as_bytes())
            .is_err()
    );

    // Every certificate stays downloadable; an unknown SN is a business error.
    let error = app
        .client
        .download_alipay_cert(&"f".repeat(32))
        .await
        .unwrap_err();
    assert_eq!(error.sub_code(), Some("ALIPAY_CERT_NOT_EXIST"));
    let plain = merchant(
        &app.sandbox,
        APP_ID,
        app_private_key(),
        alipay::SignType::Rsa2,
        &app.receiver.url,
    );
    let first = plain
        .execute(&AlipayCertDownload::new(&first_sn))
        .await
        .unwrap();
    let pem = alipay::keys::decode_signature(&first.alipay_cert_content).unwrap();
    assert_eq!(
        String::from_utf8(pem).unwrap(),
        first_certs["alipay_cert"].as_str().unwrap()
    );
    app.sandbox.shutdown().await;
}

#[tokio::test]
async fn a_downloaded_certificate_that_does_not_chain_to_the_configured_root_is_refused() {
    let app = spawn_cert_app().await;
    let certs = certs(&app.sandbox).await;
    // An impostor root: the sandbox root's name and serial (so the same SN on the wire), another
    // key. SNs identify certificates; they prove nothing.
    let real_root = cert::parse_pem(certs["alipay_root_cert"].as_str().unwrap().as_bytes())
        .unwrap()
        .remove(0);
    let serial: u64 = real_root.serial().parse().unwrap();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CountryName, "CN");
    dn.push(DnType::OrganizationName, "alipay-sandbox");
    dn.push(DnType::OrganizationalUnitName, "Certification Authority");
    dn.push(DnType::CommonName, "Alipay Sandbox Root CA R1");
    let mut params = CertificateParams::default();
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.serial_number = Some(SerialNumber::from(serial));
    let key = KeyPair::try_from(PrivateKey::generate().unwrap().to_pkcs8_der().as_slice()).unwrap();
    let impostor = params.self_signed(&key).unwrap().pem();
    assert_eq!(cert::cert_sn(impostor.as_bytes()).unwrap(), real_root.sn());

    let app_key = PrivateKey::generate().unwrap();
    let app_cert = test_app_cert(&app_key);
    app.sandbox
        .sandbox()
        .register_app(AppConfig::with_certificate("2021000000000010", app_cert.clone()).unwrap())
        .await
        .unwrap();
    let mode = CertMode::from_pem(
        app_cert.to_pem().as_bytes(),
        certs["alipay_cert"].as_str().unwrap().as_bytes(),
        impostor.as_bytes(),
    )
    .unwrap();
    let client = Client::builder_with_certificates("2021000000000010", app_key, mode)
        .gateway(Gateway::Url(app.sandbox.gateway_url()))
        .build()
        .unwrap();
    // The configured Alipay certificate is trusted as configured: calls work.
    let error = client
        .execute(&TradeQuery::by_out_trade_no("X"))
        .await
        .unwrap_err();
    assert_eq!(error.sub_code(), Some("ACQ.TRADE_NOT_EXIST"));
    // A rotated one must chain to the configured root, and does not: refused, never used.
    let rotated_sn = app.sandbox.sandbox().rotate_alipay_cert().await.unwrap();
    let error = client
        .execute(&TradeQuery::by_out_trade_no("X"))
        .await
        .unwrap_err();
    match &error {
        Error::Signature {
            kind: SignatureError::UntrustedCertificate { sn, reason },
            ..
        } => {
            assert_eq!(*sn, rotated_sn);
            assert!(reason.contains("does not verify"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(client.cert_mode().unwrap().known_alipay_cert_sns().len(), 1);
    app.sandbox.shutdown().await;
}

#[tokio::test]
async fn the_authority_and_rotations_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let config = || SandboxConfig {
        database: Some(dir.path().join("sandbox.db")),
        key_file: Some(dir.path().join("alipay_private_key.pem")),
        ..test_config()
    };
    let first = alipay_sandbox::spawn(config()).await.unwrap();
    // Made on first use, then kept beside the key file.
    let before = first.sandbox().certificates().await.unwrap();
    let certs_dir = dir.path().join("alipay_private_key.certs");
    for file in [
        "alipayRootCert.crt",
        "alipayCertPublicKey_RSA2.crt",
        "class2_ca.crt",
        "root_ca_key.pem",
        "class2_ca_key.pem",
    ] {
        assert!(certs_dir.join(file).is_file(), "{file}");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(certs_dir.join("class2_ca_key.pem"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    assert_eq!(before.dir.as_deref(), Some(certs_dir.to_str().unwrap()));
    let rotated_sn = first.sandbox().rotate_alipay_cert().await.unwrap();
    // An app certificate the sandbox issues chains to its root, like Alipay's do.
    let key = PrivateKey::generate().unwrap();
    let issued = first
        .sandbox()
        .issue_app_cert(CERT_APP, key.public_key())
        .await
        .unwrap();
    let roots = cert::parse_pem(before.alipay_root_cert.as_bytes()).unwrap();
    let class2 = cert::parse_pem(before.alipay_cert.as_bytes())
        .unwrap()
        .remove(1);
    assert_eq!(
        cert::verify_chain(&[issued.clone(), class2], &roots, alipay::time::now()),
        Ok(())
    );
    assert!(
        issued
            .subject()
            .ends_with(&format!("-{CERT_APP},OU=Alipay,O=alipay-sandbox,C=CN"))
    );
    first.shutdown().await;

    let second = alipay_sandbox::spawn(config()).await.unwrap();
    let after = second.sandbox().certificates().await.unwrap();
    assert_eq!(after.alipay_root_cert, before.alipay_root_cert);
    assert_eq!(after.alipay_root_cert_sn, before.alipay_root_cert_sn);
    assert_eq!(after.alipay_cert_sn, rotated_sn);
    assert_eq!(
        after.alipay_cert_sns,
        vec![before.alipay_cert_sn.clone(), rotated_sn]
    );
    second.shutdown().await;
}

#[tokio::test]
async fn apps_register_in_certificate_mode_through_the_test_api() {
    let app = spawn_app().await;
    let key = PrivateKey::generate().unwrap();
    // The sandbox issues the certificate, as Alipay's console does.
    let (status, issued) = app
        .post_json(
            "/api/apps",
            json!({"app_id": CERT_APP, "public_key": key.public_key().to_base64(), "issue_cert": true}),
        )
        .await;
    assert_eq!(status, 201, "{issued}");
    let pem = issued["app_cert"].as_str().unwrap();
    assert_eq!(
        issued["app_cert_sn"],
        cert::cert_sn(pem.as_bytes()).unwrap()
    );
    let client = cert_client(&app.sandbox, pem, key, &app.receiver.url).await;
    let error = client
        .execute(&TradeQuery::by_out_trade_no("NONE"))
        .await
        .unwrap_err();
    assert_eq!(error.sub_code(), Some("ACQ.TRADE_NOT_EXIST"));
    // Or with a certificate of its own.
    let key = PrivateKey::generate().unwrap();
    let own = test_app_cert(&key);
    let (status, registered) = app
        .post_json(
            "/api/apps",
            json!({"app_id": "2021000000000011", "app_cert": own.to_pem()}),
        )
        .await;
    assert_eq!(status, 201, "{registered}");
    assert_eq!(registered["app_cert_sn"], own.sn());
    assert_eq!(registered["public_key"], key.public_key().to_base64());
    // Not both ways at once, and certificate mode is RSA2 only.
    let (status, body) = app
        .post_json("/api/apps", json!({"app_id": "2021000000000012", "public_key": key.public_key().to_base64(), "app_cert": own.to_pem()}))
        .await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = app
        .post_json(
            "/api/apps",
            json!({"app_id": "2021000000000012", "app_cert": own.to_pem(), "sign_type": "RSA"}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("RSA2 only"),
        "{body}"
    );
}
