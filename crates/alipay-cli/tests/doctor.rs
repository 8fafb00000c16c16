//! `alipay doctor`, run as a user would, one test per finding: configurations written to temp
//! folders, keys and certificate chains made by the tests. The gateway is only ever a closed port
//! on 127.0.0.1 here (the sandbox crate's tests run the doctor against a live sandbox); production
//! configurations are checked with `--offline`.

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

#[path = "../../alipay/tests/support/mod.rs"]
mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use alipay::PrivateKey;
use serde_json::Value;
use support::{alipay_pki, ecdsa_root, leaf_between, name, rsa_root};
use tempfile::TempDir;
use time::OffsetDateTime;

fn data(path: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../alipay"))
        .join("tests/data")
        .join(path)
}

/// A folder with an app key pair and an Alipay public key.
struct Setup {
    dir: TempDir,
}

impl Setup {
    fn new() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let app = PrivateKey::from_file(data("keys/app_private_pkcs8.pem")).unwrap();
        let alipay = PrivateKey::from_file(data("keys/alipay_private_pkcs8.pem")).unwrap();
        let setup = Setup { dir };
        setup.write("app_private.pem", &app.to_pkcs8_pem());
        setup.write("app_public.pem", &app.public_key().to_pem());
        setup.write("alipay_public.pem", &alipay.public_key().to_pem());
        setup.write(
            "rogue_public.pem",
            &std::fs::read_to_string(data("keys/rogue_public_spki.pem")).unwrap(),
        );
        setup
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    fn config(&self, toml: &str) -> PathBuf {
        self.write("shop.toml", toml)
    }

    /// Writes the certificate-mode files of `pki`.
    fn certs(&self, pki: &support::AlipayPki) {
        self.write("app_private.pem", &pki.app_key.to_pkcs8_pem());
        self.write("app.crt", &pki.app_cert);
        self.write("alipay.crt", &pki.alipay_cert);
        self.write("root.crt", &pki.root_bundle);
    }
}

const KEY_MODE: &str = r#"
app_id = "2021000000000001"
app_private_key_file = "app_private.pem"
app_public_key_file = "app_public.pem"
alipay_public_key_file = "alipay_public.pem"
gateway = "production"
notify_url = "https://shop.example.com/alipay/notify"
return_url = "https://shop.example.com/alipay/return"
"#;

const CERT_MODE: &str = r#"
app_id = "2021000000000001"
app_private_key_file = "app_private.pem"
app_cert_file = "app.crt"
alipay_cert_file = "alipay.crt"
alipay_root_cert_file = "root.crt"
gateway = "production"
notify_url = "https://shop.example.com/alipay/notify"
"#;

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_alipay"))
        .args(args)
        .output()
        .unwrap()
}

/// Runs `alipay doctor --json` (plus `extra`) and returns the exit code and the report.
fn doctor(config: &Path, extra: &[&str]) -> (i32, Value) {
    let mut args = vec!["doctor", "--config", config.to_str().unwrap(), "--json"];
    args.extend_from_slice(extra);
    let out = run(&args);
    let stderr = String::from_utf8(out.stderr.clone()).unwrap();
    assert!(!stderr.contains("panicked"), "{stderr}");
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{stderr}", String::from_utf8_lossy(&out.stdout)));
    (out.status.code().unwrap(), report)
}

fn offline(config: &Path) -> (i32, Value) {
    doctor(config, &["--offline"])
}

/// The findings of one check: (severity, message).
fn findings(report: &Value, check: &str) -> Vec<(String, String)> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["check"] == check)
        .map(|f| {
            (
                f["severity"].as_str().unwrap().to_owned(),
                f["message"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// Asserts that `check` reported `severity` with a message containing `needle`, with both fixes.
fn assert_finding(report: &Value, check: &str, severity: &str, needle: &str) {
    let all = report["findings"].as_array().unwrap();
    let found = all.iter().find(|f| {
        f["check"] == check
            && f["severity"] == severity
            && f["message"].as_str().unwrap().contains(needle)
    });
    let Some(found) = found else {
        panic!(
            "no {severity} {check} finding containing {needle:?} in {:#?}",
            findings(report, check)
        );
    };
    if severity == "error" || severity == "warning" {
        assert!(!found["fix_zh"].as_str().unwrap().is_empty(), "{found}");
        assert!(!found["fix_en"].as_str().unwrap().is_empty(), "{found}");
    }
}

fn errors(report: &Value) -> Vec<String> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["severity"] == "error")
        .map(|f| format!("{}: {}", f["check"], f["message"]))
        .collect()
}

#[test]
fn a_good_configuration_passes_and_prints_fixes_in_two_languages() {
    let setup = Setup::new();
    let config = setup.config(KEY_MODE);
    let (code, report) = offline(&config);
    assert_eq!(code, 0, "{:?}", errors(&report));
    for check in [
        "app_id",
        "sign_type",
        "app_private_key",
        "app_public_key",
        "mode",
        "alipay_public_key",
        "key_size",
    ] {
        assert_finding(&report, check, "ok", "");
    }
    assert_finding(
        &report,
        "app_public_key",
        "ok",
        "matches the app public key you uploaded",
    );
    assert_finding(&report, "gateway", "info", "not contacted (offline)");
    assert_finding(&report, "notify_url", "info", "not resolved (offline)");

    // The human form: one line per finding, fixes in Chinese and English under problems.
    setup.config(&KEY_MODE.replace("sign_type", "").replace(
        "gateway = \"production\"",
        "gateway = \"production\"\nsign_type = \"RSA\"",
    ));
    let out = run(&["doctor", "--config", config.to_str().unwrap(), "--offline"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("[warning] sign_type"), "{text}");
    assert!(
        text.contains("修复: 在开放平台把接口加签方式改为 RSA2"),
        "{text}"
    );
    assert!(text.contains("fix:  switch the app to RSA2"), "{text}");
    assert!(text.trim_end().ends_with("0 errors, 1 warnings"), "{text}");
}

#[test]
fn an_app_private_key_that_is_not_one_is_named() {
    let setup = Setup::new();
    let config = setup.config(&KEY_MODE.replace(
        "app_private_key_file = \"app_private.pem\"",
        "app_private_key_file = \"app_public.pem\"",
    ));
    let (code, report) = offline(&config);
    assert_eq!(code, 1);
    assert_finding(
        &report,
        "app_private_key",
        "error",
        "app private key: this is a public key, but a private key belongs here",
    );
    // A file that is not there.
    let config = setup.config(&KEY_MODE.replace("app_private.pem", "nowhere.pem"));
    let (_, report) = offline(&config);
    assert_finding(&report, "app_private_key", "error", "cannot read key file");
}

#[test]
fn a_private_key_that_is_not_the_uploaded_public_key_is_found() {
    let setup = Setup::new();
    let config = setup.config(&KEY_MODE.replace(
        "app_public_key_file = \"app_public.pem\"",
        "app_public_key_file = \"rogue_public.pem\"",
    ));
    let (code, report) = offline(&config);
    assert_eq!(code, 1);
    assert_finding(
        &report,
        "app_public_key",
        "error",
        "does not match the app public key you uploaded",
    );
    // Not configured: said, not guessed.
    let config = setup.config(&KEY_MODE.replace("app_public_key_file = \"app_public.pem\"", ""));
    let (code, report) = offline(&config);
    assert_eq!(code, 0);
    assert_finding(&report, "app_public_key", "info", "not set");
}

#[test]
fn the_app_public_key_configured_as_the_alipay_public_key_is_the_classic_swap() {
    let setup = Setup::new();
    let config = setup.config(&KEY_MODE.replace(
        "alipay_public_key_file = \"alipay_public.pem\"",
        "alipay_public_key_file = \"app_public.pem\"",
    ));
    let (code, report) = offline(&config);
    assert_eq!(code, 1);
    assert_finding(
        &report,
        "alipay_public_key",
        "error",
        "is your app's own public key",
    );
    // Also when only the private key says so.
    let config = setup.config(
        &KEY_MODE
            .replace("app_public_key_file = \"app_public.pem\"", "")
            .replace(
                "alipay_public_key_file = \"alipay_public.pem\"",
                "alipay_public_key_file = \"app_public.pem\"",
            ),
    );
    let (_, report) = offline(&config);
    assert_finding(
        &report,
        "alipay_public_key",
        "error",
        "is your app's own public key",
    );
}

#[test]
fn a_private_key_pasted_as_the_alipay_public_key_is_named() {
    let setup = Setup::new();
    let config = setup.config(&KEY_MODE.replace(
        "alipay_public_key_file = \"alipay_public.pem\"",
        "alipay_public_key_file = \"app_private.pem\"",
    ));
    let (code, report) = offline(&config);
    assert_eq!(code, 1);
    assert_finding(
        &report,
        "alipay_public_key",
        "error",
        "this is a private key, but a public key belongs here",
    );
}

#[test]
fn rsa2_needs_2048_bit_keys() {
    let setup = Setup::new();
    setup.write(
        "short.pem",
        &std::fs::read_to_string(data("keys/odd/rsa1024_public.pem")).unwrap(),
    );
    let config = setup.config(&KEY_MODE.replace(
        "alipay_public_key_file = \"alipay_public.pem\"",
        "alipay_public_key_file = \"short.pem\"",
    ));
    let (code, report) = offline(&config);
    assert_eq!(code, 1);
    assert_finding(
        &report,
        "key_size",
        "error",
        "Alipay public key has 1024 bits",
    );
    // A 1024-bit app private key cannot even be loaded, and says why.
    setup.write(
        "short_private.pem",
        &std::fs::read_to_string(data("keys/odd/rsa1024_private_pkcs8.pem")).unwrap(),
    );
    let config = setup.config(&KEY_MODE.replace("app_private.pem", "short_private.pem"));
    let (_, report) = offline(&config);
    assert_finding(&report, "app_private_key", "error", "1024 bits");
}

#[test]
fn sign_type_rsa_is_a_warning_and_nonsense_an_error() {
    let setup = Setup::new();
    let config = setup.config(&format!("{KEY_MODE}sign_type = \"RSA\"\n"));
    let (code, report) = offline(&config);
    assert_eq!(code, 0);
    assert_finding(&report, "sign_type", "warning", "SHA1withRSA");
    let config = setup.config(&format!("{KEY_MODE}sign_type = \"SHA256\"\n"));
    let (code, report) = offline(&config);
    assert_eq!(code, 1);
    assert_finding(
        &report,
        "sign_type",
        "error",
        "unsupported sign_type \"SHA256\"",
    );
}

#[test]
fn public_key_and_certificates_exclude_each_other_and_one_is_needed() {
    let setup = Setup::new();
    let pki = alipay_pki();
    setup.certs(&pki);
    let config = setup.config(&format!(
        "{CERT_MODE}alipay_public_key_file = \"alipay_public.pem\"\n"
    ));
    let (code, report) = offline(&config);
    assert_eq!(code, 1);
    assert_finding(
        &report,
        "mode",
        "error",
        "both alipay_public_key(_file) and certificate files",
    );
    let config =
        setup.config(&KEY_MODE.replace("alipay_public_key_file = \"alipay_public.pem\"", ""));
    let (code, report) = offline(&config);
    assert_eq!(code, 1);
    assert_finding(
        &report,
        "mode",
        "error",
        "nothing to verify Alipay's signatures with",
    );
    // Certificate mode with a file missing.
    let config = setup.config(&CERT_MODE.replace("alipay_root_cert_file = \"root.crt\"", ""));
    let (_, report) = offline(&config);
    assert_finding(
        &report,
        "alipay_root_cert",
        "error",
        "alipay_root_cert_file is not set",
    );
}

#[test]
fn certificate_mode_shows_the_sns_and_checks_the_chain() {
    let setup = Setup::new();
    let pki = alipay_pki();
    setup.certs(&pki);
    let config = setup.config(CERT_MODE);
    let (code, report) = offline(&config);
    assert_eq!(code, 0, "{:?}", errors(&report));
    let app_sn = alipay::cert::cert_sn(pki.app_cert.as_bytes()).unwrap();
    let alipay_sn = alipay::cert::cert_sn(pki.alipay_cert.as_bytes()).unwrap();
    let root_sn = alipay::cert::root_cert_sn(pki.root_bundle.as_bytes()).unwrap();
    assert_finding(&report, "mode", "ok", "certificate mode");
    assert_finding(
        &report,
        "app_cert",
        "ok",
        &format!("app_cert_sn {app_sn}, matches the app private key"),
    );
    assert_finding(&report, "app_cert", "ok", "valid until");
    assert_finding(
        &report,
        "alipay_cert",
        "ok",
        &format!("alipay_cert_sn {alipay_sn}"),
    );
    assert_finding(
        &report,
        "alipay_root_cert",
        "ok",
        &format!("alipay_root_cert_sn {root_sn}"),
    );
    assert_finding(
        &report,
        "alipay_cert_chain",
        "ok",
        "chains to the root bundle",
    );
    // Certificate mode is RSA2 only.
    let config = setup.config(&format!("{CERT_MODE}sign_type = \"RSA\"\n"));
    let (code, report) = offline(&config);
    assert_eq!(code, 1);
    assert_finding(&report, "sign_type", "error", "refused in certificate mode");
}

#[test]
fn an_app_certificate_for_another_key_is_found() {
    let setup = Setup::new();
    let pki = alipay_pki();
    setup.certs(&pki);
    setup.write(
        "app_private.pem",
        &PrivateKey::generate().unwrap().to_pkcs8_pem(),
    );
    let (code, report) = offline(&setup.config(CERT_MODE));
    assert_eq!(code, 1);
    assert_finding(&report, "app_cert", "error", "not the app private key's");
}

#[test]
fn the_app_certificate_configured_as_alipays_is_found() {
    let setup = Setup::new();
    let pki = alipay_pki();
    setup.certs(&pki);
    let (code, report) = offline(&setup.config(&CERT_MODE.replace(
        "alipay_cert_file = \"alipay.crt\"",
        "alipay_cert_file = \"app.crt\"",
    )));
    assert_eq!(code, 1);
    assert_finding(
        &report,
        "alipay_cert",
        "error",
        "your app's own certificate",
    );
}

#[test]
fn an_alipay_certificate_from_another_root_does_not_chain() {
    let setup = Setup::new();
    let pki = alipay_pki();
    setup.certs(&pki);
    let other = rsa_root(name("CN", "Other", "CA", "Other Root"), &[0x03]);
    setup.write("root.crt", &other.pem);
    let (code, report) = offline(&setup.config(CERT_MODE));
    assert_eq!(code, 1);
    assert_finding(
        &report,
        "alipay_cert_chain",
        "error",
        "does not chain to the root bundle",
    );
    assert_finding(&report, "alipay_cert_chain", "error", "Test Root R1");
}

#[test]
fn expired_and_expiring_certificates_are_reported() {
    let setup = Setup::new();
    let pki = alipay_pki();
    setup.certs(&pki);
    let now = OffsetDateTime::now_utc();
    let expired = leaf_between(
        &pki.app_key,
        name("CN", "shop", "Alipay", "old app cert"),
        &[0x31],
        &pki.class2,
        now - time::Duration::days(800),
        now - time::Duration::days(3),
    );
    setup.write("app.crt", &expired);
    let (code, report) = offline(&setup.config(CERT_MODE));
    assert_eq!(code, 1);
    assert_finding(&report, "app_cert", "error", "expired on");
    let expiring = leaf_between(
        &pki.app_key,
        name("CN", "shop", "Alipay", "app cert"),
        &[0x32],
        &pki.class2,
        now - time::Duration::days(300),
        now + time::Duration::days(10),
    );
    setup.write("app.crt", &expiring);
    let (code, report) = offline(&setup.config(CERT_MODE));
    assert_eq!(code, 0);
    assert_finding(&report, "app_cert", "warning", "expires on");
}

#[test]
fn a_root_bundle_without_an_rsa_root_is_an_error() {
    let setup = Setup::new();
    let pki = alipay_pki();
    setup.certs(&pki);
    setup.write(
        "root.crt",
        &ecdsa_root(name("CN", "Test", "CA", "E1 only")).pem,
    );
    let (code, report) = offline(&setup.config(CERT_MODE));
    assert_eq!(code, 1);
    assert_finding(&report, "alipay_root_cert", "error", "no RSA-signed root");
    // Not a certificate at all.
    setup.write("root.crt", "hello");
    let (_, report) = offline(&setup.config(CERT_MODE));
    assert_finding(
        &report,
        "alipay_root_cert",
        "error",
        "alipay_root_cert_file: no certificate found",
    );
}

#[test]
fn an_unreachable_gateway_is_an_error() {
    let setup = Setup::new();
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let config = setup.config(
        &KEY_MODE
            .replace(
                "gateway = \"production\"",
                &format!("gateway = \"http://127.0.0.1:{port}/gateway.do\""),
            )
            .replace("https://shop.example.com", "http://127.0.0.1:9"),
    );
    let (code, report) = doctor(&config, &["--timeout", "2"]);
    assert_eq!(code, 1);
    assert_finding(&report, "gateway", "error", "cannot connect");
    // Against a local gateway, callbacks on 127.0.0.1 are only a warning.
    assert_finding(
        &report,
        "notify_url",
        "warning",
        "127.0.0.1 is a loopback, private or link-local address",
    );
}

#[test]
fn callback_urls_must_be_reachable_https_without_a_query_in_production() {
    let setup = Setup::new();
    let with_notify =
        |url: &str| setup.config(&KEY_MODE.replace("https://shop.example.com/alipay/notify", url));
    let (code, report) = offline(&with_notify("https://localhost/alipay/notify"));
    assert_eq!(code, 1);
    assert_finding(&report, "notify_url", "error", "localhost is a local name");
    for private in [
        "https://10.1.2.3/n",
        "https://192.168.1.20/n",
        "https://172.20.0.5/n",
        "https://[::1]/n",
        "https://[fd00::5]/n",
        "https://169.254.0.9/n",
    ] {
        let (code, report) = offline(&with_notify(private));
        assert_eq!(code, 1, "{private}");
        assert_finding(
            &report,
            "notify_url",
            "error",
            "loopback, private or link-local",
        );
    }
    let (code, report) = offline(&with_notify("http://shop.example.com/alipay/notify"));
    assert_eq!(code, 1);
    assert_finding(&report, "notify_url", "error", "plain http in production");
    let (code, report) = offline(&with_notify(
        "https://shop.example.com/alipay/notify?order=1",
    ));
    assert_eq!(code, 1);
    assert_finding(&report, "notify_url", "error", "has its own query string");
    let (code, report) = offline(&with_notify("https://8.8.8.8/alipay/notify"));
    assert_eq!(code, 0, "{:?}", errors(&report));
    assert_finding(&report, "notify_url", "ok", "https://8.8.8.8/alipay/notify");
    // The sandbox gateway: the same problems are warnings.
    let config = setup.config(
        &KEY_MODE
            .replace("gateway = \"production\"", "gateway = \"sandbox\"")
            .replace(
                "https://shop.example.com/alipay/notify",
                "https://localhost/n",
            ),
    );
    let (code, report) = offline(&config);
    assert_eq!(code, 0);
    assert_finding(
        &report,
        "notify_url",
        "warning",
        "localhost is a local name",
    );
    // Missing notify_url: a warning.
    let config = setup.config(&KEY_MODE.replace(
        "notify_url = \"https://shop.example.com/alipay/notify\"",
        "",
    ));
    let (code, report) = offline(&config);
    assert_eq!(code, 0);
    assert_finding(&report, "notify_url", "warning", "notify_url is not set");
}

#[test]
fn the_shops_public_url_gives_the_callbacks() {
    let setup = Setup::new();
    let alipay_table = KEY_MODE
        .replace(
            "notify_url = \"https://shop.example.com/alipay/notify\"",
            "",
        )
        .replace(
            "return_url = \"https://shop.example.com/alipay/return\"",
            "",
        );
    let config = setup.config(&format!("public_url = \"https://courses.example.com/\"\nlisten = \"0.0.0.0:8000\"\n[alipay]\n{alipay_table}"));
    let (code, report) = offline(&config);
    assert_eq!(code, 0, "{:?}", errors(&report));
    assert_finding(
        &report,
        "public_url",
        "info",
        "https://courses.example.com/alipay/notify derived from public_url",
    );
    assert_finding(
        &report,
        "notify_url",
        "info",
        "courses.example.com was not resolved",
    );
}

#[test]
fn the_legacy_md5_interface_is_checked_and_marked_deprecated() {
    let setup = Setup::new();
    setup.write("md5.txt", "0123456789abcdefghijklmnopqrstuv\n");
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let legacy_only = format!(
        "[legacy]\npartner = \"2088101122136241\"\nmd5_key_file = \"md5.txt\"\ngateway = \"http://127.0.0.1:{port}/gateway.do\"\nnotify_url = \"http://127.0.0.1:9/legacy/notify\"\n"
    );
    let (code, report) = doctor(&setup.config(&legacy_only), &["--timeout", "2"]);
    assert_eq!(code, 1);
    assert!(
        findings(&report, "app_id").is_empty(),
        "no OpenAPI checks without an app_id"
    );
    assert_finding(&report, "legacy", "warning", "retired by Alipay");
    assert_finding(&report, "legacy_partner", "ok", "2088101122136241");
    assert_finding(&report, "legacy_md5_key", "ok", "32 characters");
    assert_finding(&report, "legacy_gateway", "error", "cannot connect");
    assert_finding(&report, "legacy_notify_url", "warning", "127.0.0.1");

    let bad = legacy_only
        .replace("2088101122136241", "2021000000000001")
        .replace("md5_key_file = \"md5.txt\"", "md5_key = \"short\"");
    let (code, report) = offline(&setup.config(&bad));
    assert_eq!(code, 1);
    assert_finding(
        &report,
        "legacy_partner",
        "error",
        "2088 followed by 12 digits",
    );
    assert_finding(&report, "legacy_md5_key", "warning", "5 characters");
    let missing = legacy_only.replace("md5_key_file = \"md5.txt\"", "");
    let (_, report) = offline(&setup.config(&missing));
    assert_finding(
        &report,
        "legacy_md5_key",
        "error",
        "set md5_key or md5_key_file",
    );
}

#[test]
fn an_unreadable_configuration_is_one_line_and_exit_2() {
    let setup = Setup::new();
    let config = setup.config("app_id = \"1\"\nnot_a_setting = 1\n");
    let out = run(&["doctor", "--config", config.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains("unknown field `not_a_setting`"), "{err}");
    let out = run(&["doctor", "--config", "/nonexistent/shop.toml"]);
    assert_eq!(out.status.code(), Some(2));
}
