//! Who may act: registration never grants a role, operators are made on the command line, and
//! the role is read from the database on every request.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::spawn_app;

#[tokio::test]
async fn registering_the_name_admin_gives_an_ordinary_user() {
    let app = spawn_app().await;
    let buyer = app.buyer("alice").await;
    let order = app.order(&buyer, &[1]).await;
    let no = order["out_trade_no"].as_str().unwrap();
    app.pay(&order).await;
    app.wait_for_status(&buyer, no, "paid").await;

    let (status, body) = app
        .post(
            "/api/users",
            None,
            json!({"username": "admin", "password": "password123"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(body["role"], "user");
    let (_, login) = app
        .post(
            "/api/login",
            None,
            json!({"username": "admin", "password": "password123"}),
        )
        .await;
    let token = login["token"].as_str().unwrap();
    assert_eq!(login["user"]["role"], "user");

    let (status, body) = app
        .post(
            &format!("/api/admin/orders/{no}/refunds"),
            Some(token),
            json!({"amount": "137.99"}),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("forbidden"))
    );
    let (status, _) = app
        .get(&format!("/api/admin/orders/{no}"), Some(token))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(app.count("SELECT COUNT(*) FROM refunds").await, 0);
    assert_eq!(
        app.owned_courses(&buyer).await,
        vec![1],
        "the buyer keeps it"
    );
}

#[tokio::test]
async fn operators_are_made_and_unmade_on_the_command_line_and_old_tokens_follow() {
    let app = spawn_app().await;
    let buyer = app.buyer("alice").await;
    let order = app.order(&buyer, &[1]).await;
    let no = order["out_trade_no"].as_str().unwrap();
    app.pay(&order).await;
    app.wait_for_status(&buyer, no, "paid").await;
    let staff = app.buyer("staff").await;
    let record = format!("/api/admin/orders/{no}");

    let (status, _) = app.get(&record, Some(&staff.token)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let granted = app.admin_cli(&["grant", "staff"], "");
    assert_eq!(granted.code, Some(0), "{granted:?}");
    // The same token, issued before the grant: the role comes from the database.
    let (status, body) = app.get(&record, Some(&staff.token)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, me) = app.get("/api/me", Some(&staff.token)).await;
    assert_eq!(me["role"], "admin");
    let listed = app.admin_cli(&["list"], "");
    assert_eq!(listed.code, Some(0));
    assert_eq!(listed.stdout.lines().collect::<Vec<_>>(), vec!["staff"]);

    let revoked = app.admin_cli(&["revoke", "staff"], "");
    assert_eq!(revoked.code, Some(0), "{revoked:?}");
    let (status, _) = app.get(&record, Some(&staff.token)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "revoked on the next request");
    let (status, _) = app
        .post(
            &format!("{record}/refunds"),
            Some(&staff.token),
            json!({"amount": "1.00"}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let unknown = app.admin_cli(&["grant", "nobody"], "");
    assert_eq!(unknown.code, Some(1));
    assert_eq!(unknown.stderr.trim().lines().count(), 1, "{unknown:?}");
    assert!(unknown.stderr.contains("nobody"), "{unknown:?}");
    let unknown = app.admin_cli(&["revoke", "nobody"], "");
    assert_eq!(unknown.code, Some(1));
}

#[tokio::test]
async fn an_operator_created_on_the_command_line_acts_and_is_on_record() {
    let app = spawn_app().await;
    let buyer = app.buyer("alice").await;
    let order = app.order(&buyer, &[1, 2]).await;
    let no = order["out_trade_no"].as_str().unwrap();
    app.pay(&order).await;
    app.wait_for_status(&buyer, no, "paid").await;

    let created = app.admin_cli(&["create", "boss", "--password-stdin"], "a long password\n");
    assert_eq!(created.code, Some(0), "{created:?}");
    let again = app.admin_cli(&["create", "boss", "--password-stdin"], "a long password\n");
    assert_eq!(again.code, Some(1), "{again:?}");
    let short = app.admin_cli(&["create", "tiny", "--password-stdin"], "short\n");
    assert_eq!(short.code, Some(1), "{short:?}");

    let (status, login) = app
        .post(
            "/api/login",
            None,
            json!({"username": "boss", "password": "a long password"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{login}");
    let token = login["token"].as_str().unwrap();
    let boss_id = login["user"]["id"].as_i64().unwrap();
    let (status, refund) = app
        .post(
            &format!("/api/admin/orders/{no}/refunds"),
            Some(token),
            json!({"course_ids": [2], "reason": "wrong course"}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{refund}");
    let (_, record) = app
        .get(&format!("/api/admin/orders/{no}"), Some(token))
        .await;
    let requested = record["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "refund_requested")
        .unwrap_or_else(|| panic!("no refund_requested event in {record}"));
    assert_eq!(requested["actor_id"], boss_id);
    assert_eq!(requested["source"], "admin");
}
