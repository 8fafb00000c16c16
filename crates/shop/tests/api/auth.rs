use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{spawn_app, spawn_with};

#[tokio::test]
async fn registration_and_login() {
    let app = spawn_app().await;
    let (status, body) = app
        .post(
            "/api/users",
            None,
            json!({"username": "alice", "password": "password123"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(body["username"], "alice");
    let (status, body) = app
        .post(
            "/api/users",
            None,
            json!({"username": "alice", "password": "password456"}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["error"]["code"], "username_taken");
    let (status, body) = app
        .post(
            "/api/users",
            None,
            json!({"username": "a", "password": "password123"}),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_username"))
    );
    let (status, body) = app
        .post(
            "/api/users",
            None,
            json!({"username": "bob", "password": "short"}),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_password"))
    );

    let (status, body) = app
        .post(
            "/api/login",
            None,
            json!({"username": "alice", "password": "wrong-password"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "unauthorized");
    let (status, body) = app
        .post(
            "/api/login",
            None,
            json!({"username": "nobody", "password": "password123"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let (status, body) = app
        .post(
            "/api/login",
            None,
            json!({"username": "alice", "password": "password123"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let token = body["token"].as_str().unwrap();
    let (status, me) = app.get("/api/me", Some(token)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["username"], "alice");
}

#[tokio::test]
async fn tokens_are_required_and_checked() {
    let app = spawn_app().await;
    let (status, body) = app.get("/api/orders", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "unauthorized");
    let (status, _) = app.get("/api/orders", Some("not-a-token")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // The seeds' "jwt <token>" scheme works too.
    let buyer = app.buyer("seedy").await;
    let response = app
        .http
        .get(app.url("/api/orders"))
        .header("authorization", format!("jwt {}", buyer.token))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    // The demo user is seeded.
    let (status, _) = app
        .post(
            "/api/login",
            None,
            json!({"username": "demo", "password": "demo123456"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn login_is_rate_limited_per_address() {
    let app = spawn_with(|config| config.login_per_minute = 3).await;
    let mut statuses = Vec::new();
    for _ in 0..5 {
        let (status, body) = app
            .post(
                "/api/login",
                None,
                json!({"username": "x", "password": "password123"}),
            )
            .await;
        if status == StatusCode::TOO_MANY_REQUESTS {
            assert_eq!(body["error"]["code"], "rate_limited");
        }
        statuses.push(status);
    }
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
            .count(),
        2,
        "{statuses:?}"
    );
}
