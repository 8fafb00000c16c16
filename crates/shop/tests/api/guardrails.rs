//! What a shop refuses to run with, what it keeps private, and the headers every response
//! carries.

use reqwest::StatusCode;

use crate::helpers::{run_shop, spawn_app, spawn_with};

/// A production configuration that is safe, as `SHOP_*` variables.
const SAFE: &[(&str, &str)] = &[
    ("SHOP_ALIPAY__APP_ID", "2021000000000001"),
    ("SHOP_ALIPAY__GATEWAY", "production"),
    ("SHOP_PUBLIC_URL", "https://shop.example.com"),
    ("SHOP_SELLER_ID", "2088000000000001"),
    (
        "SHOP_JWT_SECRET",
        "0123456789abcdef0123456789abcdef-and-more",
    ),
];

fn serve_with(changes: &[(&str, &str)], data_dir: &std::path::Path) -> crate::helpers::Ran {
    let mut env: Vec<(&str, &str)> = SAFE
        .iter()
        .filter(|(name, _)| !changes.iter().any(|(changed, _)| changed == name))
        .copied()
        .collect();
    env.extend(changes.iter().filter(|(_, value)| !value.is_empty()));
    run_shop(
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            data_dir.to_str().unwrap(),
        ],
        "",
        &env,
    )
}

#[tokio::test]
async fn production_refuses_to_start_with_each_unsafe_setting() {
    let dir = tempfile::tempdir().unwrap();
    for (name, value, named) in [
        ("SHOP_JWT_SECRET", "too-short", "jwt_secret"),
        ("SHOP_PUBLIC_URL", "", "public_url"),
        ("SHOP_PUBLIC_URL", "http://shop.example.com", "public_url"),
        ("SHOP_SELLER_ID", "", "seller_id"),
        ("SHOP_SEED_DEMO_DATA", "true", "seed_demo_data"),
    ] {
        let ran = serve_with(&[(name, value)], dir.path());
        assert_eq!(ran.code, Some(1), "{name}={value:?}: {ran:?}");
        assert_eq!(
            ran.stderr.trim().lines().count(),
            1,
            "one line: {:?}",
            ran.stderr
        );
        assert!(ran.stderr.contains(named), "{name}: {}", ran.stderr);
        assert!(ran.stdout.is_empty(), "never served: {}", ran.stdout);
    }
    assert!(
        !dir.path().join("shop.db").exists(),
        "refused before touching anything"
    );
}

#[tokio::test]
async fn demo_mode_on_a_public_address_needs_an_explicit_demo_flag() {
    let dir = tempfile::tempdir().unwrap();
    let ran = run_shop(
        &[
            "serve",
            "--listen",
            "0.0.0.0:0",
            "--data-dir",
            dir.path().to_str().unwrap(),
        ],
        "",
        &[],
    );
    assert_eq!(ran.code, Some(1), "{ran:?}");
    assert!(ran.stderr.contains("--demo"), "{}", ran.stderr);
    assert!(ran.stderr.contains("test API"), "says why: {}", ran.stderr);
}

#[tokio::test]
async fn metrics_are_private_unless_on_their_own_address() {
    // Neither a token nor an address: no metrics over HTTP at all.
    let app = spawn_app().await;
    let (status, _) = app.get("/metrics", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    for path in ["/healthz", "/readyz"] {
        let (status, _) = app.get(path, None).await;
        assert_eq!(status, StatusCode::OK, "{path} stays open");
    }

    let app =
        spawn_with(|config| config.metrics_listen = Some("127.0.0.1:0".parse().unwrap())).await;
    let address = app.metrics_address.unwrap();
    let (status, _) = app.get("/metrics", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "not on the public address");
    let response = reqwest::get(format!("http://{address}/metrics"))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.text().await.unwrap().contains("shop_orders"));
}

fn assert_secure(response: &reqwest::Response, what: &str) {
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let csp = header("content-security-policy");
    for directive in [
        "default-src 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "form-action 'self'",
    ] {
        assert!(
            csp.contains(directive),
            "{what}: {directive} missing from {csp:?}"
        );
    }
    assert!(!csp.contains("unsafe-inline"), "{what}: {csp}");
    assert_eq!(header("x-content-type-options"), "nosniff", "{what}");
    assert!(!header("referrer-policy").is_empty(), "{what}");
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let app = spawn_app().await;
    for path in [
        "/",
        "/courses/1",
        "/assets/app.js",
        "/api/courses",
        "/api/orders",
        "/no-such-page",
        "/healthz",
        "/sandbox/",
    ] {
        let response = app.http.get(app.url(path)).send().await.unwrap();
        assert_secure(&response, path);
        assert!(
            !response.headers().contains_key("strict-transport-security"),
            "no HSTS over http"
        );
    }
    let https =
        spawn_with(|config| config.public_url = Some("https://shop.example.com".into())).await;
    // Its base URL is the configured https://shop.example.com: ask the bound address.
    let response = https
        .http
        .get(format!("http://{}/api/courses", https.address))
        .send()
        .await
        .unwrap();
    assert_secure(&response, "https shop");
    assert!(
        response
            .headers()
            .get("strict-transport-security")
            .is_some_and(|v| v.to_str().unwrap().contains("max-age=")),
        "HSTS behind https"
    );
}
