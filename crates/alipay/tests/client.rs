//! `Client::execute` over real HTTP against a small local gateway stand-in: what is sent, and how
//! each kind of answer (signed, unsigned, tampered, error, slow, absent) comes back.

#![allow(clippy::unwrap_used)] // Tests and benches fail loudly on purpose.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use alipay::api::{TradeQuery, TradeRef, TradeRefund};
use alipay::content;
use alipay::keys::{decode_signature, encode_signature};
use alipay::{
    Client, Error, Gateway, Money, PrivateKey, PublicKey, SignType, SignatureError, TransportError,
};
use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::post;

fn key(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/keys")
        .join(name)
}

/// What the stand-in received: the `charset` query parameter and the form body.
type Received = Arc<Mutex<Vec<(Option<String>, String)>>>;

/// What the stand-in answers next, and what it received.
#[derive(Clone, Default)]
struct Gate {
    answer: Arc<Mutex<Answer>>,
    received: Received,
}

#[derive(Clone, Default)]
enum Answer {
    #[default]
    Signed,
    Node(String),
    Unsigned,
    Tampered,
    Status(u16),
    Slow,
    ErrorResponse,
}

fn alipay_key() -> PrivateKey {
    PrivateKey::from_file(key("alipay_private_pkcs8.pem")).unwrap()
}

fn signed_body(method: &str, node: &str) -> String {
    let sign = encode_signature(&alipay_key().sign_bytes(SignType::Rsa2, node.as_bytes()));
    format!(
        r#"{{"{}":{node},"sign":"{sign}"}}"#,
        alipay::response::node_name(method)
    )
}

const PAID: &str = r#"{"code":"10000","msg":"Success","buyer_pay_amount":"138.00","out_trade_no":"ORDER_1","send_pay_date":"2024-05-01 12:01:30","total_amount":"138.00","trade_no":"2024050122001446880500012345","trade_status":"TRADE_SUCCESS"}"#;

async fn gateway(
    State(gate): State<Gate>,
    Query(query): Query<std::collections::HashMap<String, String>>,
    body: String,
) -> impl IntoResponse {
    let method = content::parse_form(body.as_bytes()).unwrap()["method"].clone();
    gate.received
        .lock()
        .unwrap()
        .push((query.get("charset").cloned(), body));
    let answer = gate.answer.lock().unwrap().clone();
    let signed_body = |node: &str| signed_body(&method, node);
    match answer {
        Answer::Signed => (StatusCode::OK, signed_body(PAID)),
        Answer::Node(node) => (StatusCode::OK, signed_body(&node)),
        Answer::Unsigned => (StatusCode::OK, format!(r#"{{"alipay_trade_query_response":{PAID}}}"#)),
        Answer::Tampered => (StatusCode::OK, signed_body(PAID).replace("138.00", "0.01")),
        Answer::Status(code) => (StatusCode::from_u16(code).unwrap(), "busy".into()),
        Answer::Slow => {
            tokio::time::sleep(Duration::from_secs(5)).await;
            (StatusCode::OK, signed_body(PAID))
        }
        Answer::ErrorResponse => (
            StatusCode::OK,
            r#"{"error_response":{"code":"40002","msg":"Invalid Arguments","sub_code":"isv.invalid-app-id","sub_msg":"无效的AppID参数"}}"#.into(),
        ),
    }
}

async fn start() -> (Client, Gate) {
    let gate = Gate::default();
    let app = Router::new()
        .route("/gateway.do", post(gateway))
        .with_state(gate.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let client = Client::builder(
        "2021000000000001",
        PrivateKey::from_file(key("app_private_pkcs1.pem")).unwrap(),
        PublicKey::from_file(key("alipay_public_spki.pem")).unwrap(),
    )
    .gateway(Gateway::Url(format!("http://{addr}/gateway.do")))
    .timeout(Duration::from_millis(500))
    .build()
    .unwrap();
    (client, gate)
}

fn set(gate: &Gate, answer: Answer) {
    *gate.answer.lock().unwrap() = answer;
}

#[tokio::test]
async fn a_signed_answer_comes_back_typed_and_the_request_was_signed() {
    let (client, gate) = start().await;
    let trade = client
        .execute(&TradeQuery::by_out_trade_no("ORDER_1"))
        .await
        .unwrap();
    assert!(trade.trade_status.is_paid());
    assert_eq!(trade.total_amount, Money::from_fen(13_800));
    assert_eq!(trade.trade_no, "2024050122001446880500012345");

    // The gateway would accept what was sent: a form body signed with the app key.
    let (charset, body) = gate.received.lock().unwrap()[0].clone();
    assert_eq!(charset.as_deref(), Some("utf-8"));
    let params = content::parse_form(body.as_bytes()).unwrap();
    assert_eq!(params["method"], "alipay.trade.query");
    assert_eq!(params["biz_content"], r#"{"out_trade_no":"ORDER_1"}"#);
    let app_public = PublicKey::from_file(key("app_public_spki.pem")).unwrap();
    let signature = decode_signature(&params["sign"]).unwrap();
    assert!(
        app_public
            .verify(
                SignType::Rsa2,
                content::request_content(&params).as_bytes(),
                &signature
            )
            .is_ok()
    );
    assert!(alipay::time::parse_strict(&params["timestamp"]).is_ok());
}

#[tokio::test]
async fn unsigned_and_tampered_answers_are_refused() {
    let (client, gate) = start().await;
    set(&gate, Answer::Unsigned);
    let error = client
        .execute(&TradeQuery::by_out_trade_no("ORDER_1"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            Error::Signature {
                kind: SignatureError::Missing,
                ..
            }
        ),
        "{error:?}"
    );
    set(&gate, Answer::Tampered);
    let error = client
        .execute(&TradeQuery::by_out_trade_no("ORDER_1"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            Error::Signature {
                kind: SignatureError::Invalid,
                ..
            }
        ),
        "{error:?}"
    );
    // Something came back that cannot be trusted: not a "no", an unknown.
    assert!(error.is_outcome_unknown());
    assert!(!error.is_verified_refusal());
}

#[tokio::test]
async fn business_errors_carry_the_sub_code() {
    let (client, gate) = start().await;
    set(&gate, Answer::Node(r#"{"code":"40004","msg":"Business Failed","sub_code":"ACQ.TRADE_NOT_EXIST","sub_msg":"交易不存在","out_trade_no":"ORDER_1"}"#.into()));
    let error = client
        .execute(&TradeQuery::by_out_trade_no("ORDER_1"))
        .await
        .unwrap_err();
    assert_eq!(error.sub_code(), Some("ACQ.TRADE_NOT_EXIST"));
    assert_eq!(error.verified_sub_code(), Some("ACQ.TRADE_NOT_EXIST"));
    assert!(!error.is_outcome_unknown());
    assert!(error.is_verified_refusal());

    set(&gate, Answer::Node(r#"{"code":"20000","msg":"Service Currently Unavailable","sub_code":"isp.unknow-error","sub_msg":"系统繁忙"}"#.into()));
    let error = client
        .execute(&TradeRefund::new(
            TradeRef::out_trade_no("ORDER_1"),
            Money::from_fen(100),
            "R1",
        ))
        .await
        .unwrap_err();
    assert!(error.is_outcome_unknown(), "{error:?}");

    set(&gate, Answer::ErrorResponse);
    let error = client
        .execute(&TradeQuery::by_out_trade_no("ORDER_1"))
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Gateway { .. }), "{error:?}");
    assert_eq!(error.sub_code(), Some("isv.invalid-app-id"));
}

#[tokio::test]
async fn transport_failures_mean_the_outcome_is_unknown() {
    let (client, gate) = start().await;
    set(&gate, Answer::Status(502));
    let error = client
        .execute(&TradeQuery::by_out_trade_no("ORDER_1"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            Error::Transport {
                kind: TransportError::Status(502),
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error.is_outcome_unknown());

    set(&gate, Answer::Slow);
    let error = client
        .execute(&TradeQuery::by_out_trade_no("ORDER_1"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            Error::Transport {
                kind: TransportError::Timeout,
                ..
            }
        ),
        "{error:?}"
    );

    // Nothing listens on a port that was just released.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let closed = Client::builder(
        "2021000000000001",
        PrivateKey::from_file(key("app_private_pkcs1.pem")).unwrap(),
        PublicKey::from_file(key("alipay_public_spki.pem")).unwrap(),
    )
    .gateway(Gateway::Url(format!("http://127.0.0.1:{port}/gateway.do")))
    .build()
    .unwrap();
    let error = closed
        .execute(&TradeQuery::by_out_trade_no("ORDER_1"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            Error::Transport {
                kind: TransportError::Connect(_),
                ..
            }
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn invalid_requests_are_refused_before_sending() {
    let (client, gate) = start().await;
    let error = client
        .execute(&TradeQuery::new(TradeRef::default()))
        .await
        .unwrap_err();
    assert!(matches!(error, Error::InvalidRequest(_)));
    let error = client
        .execute(&TradeRefund::new(
            TradeRef::out_trade_no("ORDER_1"),
            Money::ZERO,
            "R1",
        ))
        .await
        .unwrap_err();
    assert!(matches!(error, Error::InvalidRequest(_)));
    assert!(gate.received.lock().unwrap().is_empty());
}

#[test]
fn configuration_mistakes_are_caught_at_build_time() {
    let build = |app_id: &str, notify: &str| {
        Client::builder(
            app_id,
            PrivateKey::from_file(key("app_private_pkcs1.pem")).unwrap(),
            PublicKey::from_file(key("alipay_public_spki.pem")).unwrap(),
        )
        .notify_url(notify)
        .build()
    };
    assert!(build("2021000000000001", "https://shop.example.com/alipay/notify").is_ok());
    assert!(matches!(
        build("my-app", "https://shop.example.com/n"),
        Err(Error::Config(_))
    ));
    let error = build("2021000000000001", "https://shop.example.com/n?order=1").unwrap_err();
    assert!(error.to_string().contains("query string"), "{error}");
}
