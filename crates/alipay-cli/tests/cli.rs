//! The `alipay` binary, run as a user would: exit codes, output, and one-line errors.

#![allow(clippy::unwrap_used)] // Tests and benches fail loudly on purpose.

#[path = "../../alipay/tests/support/mod.rs"]
mod support;

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

fn data(path: &str) -> String {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../alipay"))
        .join("tests/data")
        .join(path)
        .display()
        .to_string()
}

fn alipay(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_alipay"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The command may exit before reading its input (a bad argument); that is not a test failure.
    let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
    child.wait_with_output().unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

/// A failure is one line on stderr, no panic, a non-zero exit.
fn assert_clean_failure(output: &Output, code: i32, needle: &str) {
    assert_eq!(
        output.status.code(),
        Some(code),
        "stderr: {}",
        stderr(output)
    );
    let err = stderr(output);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains(needle), "{err:?} lacks {needle:?}");
    assert!(!err.contains("panicked"));
}

#[test]
fn sign_prints_the_content_then_the_python_sdk_signature() {
    let vectors: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(data("vectors/page_pay.json")).unwrap())
            .unwrap();
    let case = &vectors["cases"][0];
    let params = serde_json::to_string(&case["python"]["params"]).unwrap();
    let out = alipay(
        &["sign", "--private-key", &data("keys/app_private_pkcs1.pem")],
        &params,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        case["python"]["unsigned_content"].as_str().unwrap()
    );
    assert_eq!(lines[1], case["python"]["sign"].as_str().unwrap());
}

#[test]
fn sign_accepts_a_key_given_inline() {
    let key = std::fs::read_to_string(data("keys/app_private_pkcs8.b64")).unwrap();
    let out = alipay(
        &["sign", "--private-key", key.trim()],
        r#"{"app_id":"1","biz_content":{"a":1,"b":"x"}}"#,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).starts_with(r#"app_id=1&biz_content={"a":1,"b":"x"}&sign_type=RSA2"#));
}

#[test]
fn verify_accepts_a_genuine_notification_and_rejects_a_tampered_one() {
    let vectors: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(data("vectors/notify.json")).unwrap())
            .unwrap();
    let genuine = vectors["cases"][0]["form_body"].as_str().unwrap();
    let key = data("keys/alipay_public_spki.pem");
    let out = alipay(
        &["verify", "--public-key", &key, "--kind", "notify"],
        genuine,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let params: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(params["out_trade_no"], "ORD000001");

    let tampered = genuine.replace("total_amount=0.01", "total_amount=100.00");
    let out = alipay(
        &["verify", "--public-key", &key, "--kind", "notify"],
        &tampered,
    );
    assert_clean_failure(&out, 1, "signature does not verify");
}

#[test]
fn verify_handles_responses_and_returns() {
    let vectors: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(data("vectors/response.json")).unwrap())
            .unwrap();
    let body = vectors["cases"][2]["raw_body"].as_str().unwrap();
    let key = data("keys/alipay_public_spki.pem");
    let out = alipay(
        &["verify", "--public-key", &key, "--kind", "response"],
        body,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("qr_code"));

    let real: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(data("real/vectors.json")).unwrap()).unwrap();
    let url = real["return_url"].as_str().unwrap();
    let out = alipay(
        &[
            "verify",
            "--public-key",
            &data("real/alipay_sandbox_public_cert_from_yansongda.crt"),
            "--kind",
            "return",
        ],
        url,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("1703141270"));
}

#[test]
fn check_keys_tells_a_pair_from_a_swap() {
    let out = alipay(
        &[
            "check-keys",
            "--private-key",
            &data("keys/app_private_pkcs8.pem"),
            "--public-key",
            &data("keys/app_public_spki.b64"),
        ],
        "",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("never configure it as the Alipay public key"));

    let out = alipay(
        &[
            "check-keys",
            "--private-key",
            &data("keys/app_private_pkcs8.pem"),
            "--public-key",
            &data("keys/alipay_public_spki.pem"),
        ],
        "",
    );
    assert_clean_failure(&out, 1, "do not form a pair");
}

#[test]
fn keygen_writes_a_usable_pair_and_refuses_to_overwrite() {
    let dir = std::env::temp_dir().join(format!("alipay-keygen-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let out = alipay(&["keygen", "--out", dir.to_str().unwrap()], "");
    assert!(out.status.success(), "{}", stderr(&out));
    let one_line = std::fs::read_to_string(dir.join("app_public_key.txt")).unwrap();
    assert!(stdout(&out).contains(one_line.trim()));
    let pair = alipay(
        &[
            "check-keys",
            "--private-key",
            dir.join("app_private_key.txt").to_str().unwrap(),
            "--public-key",
            one_line.trim(),
        ],
        "",
    );
    assert!(pair.status.success(), "{}", stderr(&pair));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join("app_private_key.pem"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "private key readable by others");
    }
    let again = alipay(&["keygen", "--out", dir.to_str().unwrap()], "");
    assert_clean_failure(&again, 2, "already exists");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn pay_url_signs_with_the_config_file() {
    let dir = std::env::temp_dir().join(format!("alipay-payurl-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("shop.toml");
    std::fs::write(
        &config,
        format!(
            "[alipay]\napp_id = \"2021000000000001\"\napp_private_key_file = \"{}\"\nalipay_public_key_file = \"{}\"\ngateway = \"sandbox\"\nnotify_url = \"https://shop.example.com/alipay/notify\"\n",
            data("keys/app_private_pkcs1.pem"),
            data("keys/alipay_public_spki.pem")
        ),
    )
    .unwrap();
    let config = config.to_str().unwrap();
    let out = alipay(
        &[
            "pay-url",
            "--config",
            config,
            "--out-trade-no",
            "ORDER_1",
            "--amount",
            "138.00",
            "--subject",
            "课程",
        ],
        "",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let url = stdout(&out);
    assert!(url.starts_with(
        "https://openapi-sandbox.dl.alipaydev.com/gateway.do?app_id=2021000000000001"
    ));
    assert!(url.contains("%22total_amount%22%3A%22138.00%22"));

    let out = alipay(
        &[
            "pay-url",
            "--config",
            config,
            "--out-trade-no",
            "ORDER_1",
            "--amount",
            "1.001",
            "--subject",
            "x",
        ],
        "",
    );
    assert_clean_failure(&out, 2, "--amount");
    let out = alipay(
        &[
            "pay-url",
            "--config",
            config,
            "--out-trade-no",
            "订单",
            "--amount",
            "1",
            "--subject",
            "x",
        ],
        "",
    );
    assert_clean_failure(&out, 2, "out_trade_no");

    // An app payment: the order string, reproducible at a given time.
    let app_pay_at = |timestamp: &str, extra: &[&str]| {
        let mut args = vec![
            "pay-url",
            "--app",
            "--config",
            config,
            "--out-trade-no",
            "ORDER_APP",
            "--amount",
            "9.90",
            "--subject",
            "课程",
            "--timestamp",
            timestamp,
        ];
        args.extend_from_slice(extra);
        alipay(&args, "")
    };
    let app_pay = |extra: &[&str]| app_pay_at("2026-12-07 10:00:00", extra);
    let out = app_pay(&[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let order = stdout(&out);
    assert!(
        order.starts_with("app_id=2021000000000001&biz_content="),
        "{order}"
    );
    assert!(order.contains("method=alipay.trade.app.pay"));
    assert!(order.contains("QUICK_MSECURITY_PAY"));
    assert!(order.contains("timestamp=2026-12-07+10%3A00%3A00"));
    assert!(order.contains("&sign="));
    assert_eq!(
        stdout(&app_pay(&[])),
        order,
        "the same time, the same string"
    );
    let ascii = stdout(&app_pay(&["--ascii-json"]));
    assert!(ascii.contains("%5Cu8bfe%5Cu7a0b"), "{ascii}");
    let conflict = app_pay(&["--form"]);
    assert_eq!(conflict.status.code(), Some(2));
    assert!(stderr(&conflict).contains("cannot be used with '--form'"));
    assert_clean_failure(&app_pay_at("yesterday", &[]), 2, "--timestamp");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_input_is_one_line_never_a_panic() {
    let out = alipay(
        &["sign", "--private-key", &data("keys/app_public_spki.pem")],
        "{}",
    );
    assert_clean_failure(&out, 2, "public key, but a private key belongs here");
    let out = alipay(
        &["sign", "--private-key", &data("keys/app_private_pkcs1.pem")],
        "not json",
    );
    assert_clean_failure(&out, 2, "not JSON");
    let out = alipay(&["sign", "--private-key", "no-such-file.pem"], "{}");
    assert_clean_failure(&out, 2, "no file named");
    let out = alipay(
        &[
            "verify",
            "--public-key",
            &data("keys/alipay_public_spki.pem"),
        ],
        "a=1&a=2",
    );
    assert_clean_failure(&out, 1, "more than once");
    let out = alipay(
        &[
            "verify",
            "--public-key",
            &data("keys/alipay_public_spki.pem"),
            "--kind",
            "response",
        ],
        "<html>",
    );
    assert_clean_failure(&out, 1, "response rejected");
    let out = alipay(
        &[
            "pay-url",
            "--config",
            "/nonexistent.toml",
            "--out-trade-no",
            "a",
            "--amount",
            "1",
            "--subject",
            "x",
        ],
        "",
    );
    assert_clean_failure(&out, 2, "cannot read");
}

#[test]
fn pay_url_in_certificate_mode_carries_both_sns() {
    let pki = support::alipay_pki();
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
    write("app.pem", &pki.app_key.to_pkcs8_pem());
    write("app.crt", &pki.app_cert);
    write("alipay.crt", &pki.alipay_cert);
    write("root.crt", &pki.root_bundle);
    write(
        "shop.toml",
        "[alipay]\napp_id = \"2021000000000001\"\napp_private_key_file = \"app.pem\"\napp_cert_file = \"app.crt\"\nalipay_cert_file = \"alipay.crt\"\nalipay_root_cert_file = \"root.crt\"\ngateway = \"sandbox\"\n",
    );
    let config = dir.path().join("shop.toml");
    let args = [
        "pay-url",
        "--config",
        config.to_str().unwrap(),
        "--out-trade-no",
        "ORDER_1",
        "--amount",
        "1.00",
        "--subject",
        "课程",
    ];
    let out = alipay(&args, "");
    assert!(out.status.success(), "{}", stderr(&out));
    let url = stdout(&out);
    let app_cert_sn = alipay::cert::cert_sn(pki.app_cert.as_bytes()).unwrap();
    let root_sn = alipay::cert::root_cert_sn(pki.root_bundle.as_bytes()).unwrap();
    assert!(url.contains(&format!("app_cert_sn={app_cert_sn}")), "{url}");
    assert!(
        url.contains(&format!("alipay_root_cert_sn={root_sn}")),
        "{url}"
    );

    // A missing certificate file is one clear line.
    std::fs::remove_file(dir.path().join("root.crt")).unwrap();
    let out = alipay(&args, "");
    assert_clean_failure(
        &out,
        2,
        "cannot read Alipay root certificate (alipay_root_cert_file)",
    );
}
