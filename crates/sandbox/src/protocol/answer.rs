//! How the gateway answers: signed JSON nodes in Alipay's envelope (with `alipay_cert_sn` in
//! certificate mode), unsigned `error_response`s, and the untrustworthy answers the
//! `bad_signature` and `garbled` faults make.

use alipay::PrivateKey;
use alipay::keys::encode_signature;
use alipay::response::node_name;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use crate::apps::App;
use crate::faults::Answer;
use crate::json::{self, Node, system_busy};
use crate::service::Shared;

/// How a node is written: in clear, or (the request was AES-encrypted) as a JSON string of its
/// ciphertext, which is what gets signed (spec §12).
fn node_text(app: &App, node: &Node, encrypted: bool) -> String {
    let json = node.to_json();
    match (&app.aes_key, encrypted) {
        (Some(key), true) => {
            let mut quoted = String::new();
            json::write_string(&mut quoted, &key.encrypt(&json));
            quoted
        }
        _ => json,
    }
}

/// A signed JSON answer for `app`; in certificate mode with `alipay_cert_sn` between the node
/// and `sign` (spec §6.1), signed by the current Alipay certificate's key. `encrypted`: the
/// request was AES-encrypted, so is the node.
pub async fn signed_json(
    shared: &Shared,
    app: &App,
    method: &str,
    node: &Node,
    encrypted: bool,
) -> Response {
    let (key, cert_sn) = match shared.signer_for(app).await {
        Ok(signer) => signer,
        Err(error) => {
            tracing::error!(%error, "no signing key for app {}", app.app_id);
            return unbound_json(&system_busy());
        }
    };
    envelope(&key, cert_sn.as_deref(), app, method, node, encrypted)
}

/// `node` in Alipay's envelope, signed with `key`.
fn envelope(
    key: &PrivateKey,
    cert_sn: Option<&str>,
    app: &App,
    method: &str,
    node: &Node,
    encrypted: bool,
) -> Response {
    let node_json = node_text(app, node, encrypted);
    let signature = key.sign_bytes(app.sign_type, node_json.as_bytes());
    json_response(json::signed_envelope(
        &node_name(method),
        &node_json,
        cert_sn,
        &encode_signature(&signature),
    ))
}

/// The answer to a request that ran, as the fault in effect has it: genuine, signed by an
/// impostor, or garbled by a proxy.
pub async fn answer(
    shared: &Shared,
    app: &App,
    method: &str,
    node: &Node,
    encrypted: bool,
    kind: Answer,
) -> Response {
    match kind {
        Answer::Genuine => signed_json(shared, app, method, node, encrypted).await,
        Answer::BadSignature => impostor_signed_json(shared, app, method, node, encrypted).await,
        Answer::Garbled => garbled_answer(),
    }
}

/// An unsigned `error_response`.
#[must_use]
pub fn unbound_json(node: &Node) -> Response {
    json_response(json::error_envelope(&node.to_json()))
}

fn json_response(body: String) -> Response {
    // HTTP 200 even for errors, as at Alipay: clients treat any other status as transport failure.
    (
        [(header::CONTENT_TYPE, "application/json;charset=utf-8")],
        body,
    )
        .into_response()
}

/// A key that is not the sandbox's, for the `bad_signature` fault (made once per process).
fn impostor_key() -> Option<&'static PrivateKey> {
    static KEY: std::sync::OnceLock<Option<PrivateKey>> = std::sync::OnceLock::new();
    KEY.get_or_init(|| PrivateKey::generate().ok()).as_ref()
}

/// An answer signed with [`impostor_key`]: well-formed, but its signature does not verify.
async fn impostor_signed_json(
    shared: &Shared,
    app: &App,
    method: &str,
    node: &Node,
    encrypted: bool,
) -> Response {
    let (Some(key), Ok((_, cert_sn))) = (impostor_key(), shared.signer_for(app).await) else {
        return unbound_json(&system_busy());
    };
    envelope(key, cert_sn.as_deref(), app, method, node, encrypted)
}

/// What a merchant sees when a proxy between it and Alipay fails after Alipay acted: HTTP 200
/// with an HTML error page instead of the signed answer.
#[must_use]
fn garbled_answer() -> Response {
    (
        [(header::CONTENT_TYPE, "text/html;charset=utf-8")],
        "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center><hr><center>Tengine</center></body></html>",
    )
        .into_response()
}
