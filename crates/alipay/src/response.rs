//! Gateway responses: find the signed node, verify it byte for byte, only then parse it.
//!
//! Alipay signs the *exact text* of the `<method>_response` member as it appears in the body,
//! escapes (`\/`, `\uXXXX`) and all. Re-serialising the parsed JSON changes that text and breaks
//! verification (or, worse, makes an SDK skip it), so the node is captured as a
//! [`serde_json::value::RawValue`] and both the signature check and the typed parse read that one
//! slice: what was verified is exactly what is used.

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::error::{ApiError, SignatureError};
use crate::keys::{PublicKey, SignType, decode_signature};

/// The name of a method's response node: `alipay.trade.query` → `alipay_trade_query_response`.
#[must_use]
pub fn node_name(method: &str) -> String {
    format!("{}_response", method.replace('.', "_"))
}

/// The pieces of a response envelope, borrowed from the body.
#[derive(Debug)]
pub struct Envelope<'a> {
    /// The raw text of `<method>_response` (or of `error_response` when that is all there is).
    pub node: &'a str,
    /// Whether `node` is the gateway's `error_response`.
    pub is_error_response: bool,
    /// `sign`, if present.
    pub sign: Option<String>,
    /// `alipay_cert_sn` (certificate mode), if present.
    pub alipay_cert_sn: Option<String>,
}

/// Slices a response body into its node, signature and certificate serial number.
pub fn envelope<'a>(body: &'a str, method: &str) -> Result<Envelope<'a>, SignatureError> {
    let top: HashMap<String, &'a RawValue> =
        serde_json::from_str(body).map_err(|e| SignatureError::Malformed(e.to_string()))?;
    let name = node_name(method);
    let (node, is_error_response) = match (top.get(name.as_str()), top.get("error_response")) {
        (Some(node), _) => (*node, false),
        (None, Some(node)) => (*node, true),
        (None, None) => {
            return Err(SignatureError::Malformed(format!(
                "no {name} in the response"
            )));
        }
    };
    let string_member = |key: &str| -> Result<Option<String>, SignatureError> {
        top.get(key)
            .map(|raw| serde_json::from_str::<String>(raw.get()))
            .transpose()
            .map_err(|_| SignatureError::Malformed(format!("{key} is not a string")))
    };
    Ok(Envelope {
        node: node.get(),
        is_error_response,
        sign: string_member("sign")?.filter(|s| !s.is_empty()),
        alipay_cert_sn: string_member("alipay_cert_sn")?.filter(|s| !s.is_empty()),
    })
}

/// Verifies a response node with the Alipay public key. A missing signature is an error.
pub fn verify_node(
    envelope: &Envelope<'_>,
    alipay_public_key: &PublicKey,
    sign_type: SignType,
) -> Result<(), SignatureError> {
    let sign = envelope.sign.as_deref().ok_or(SignatureError::Missing)?;
    let signature = decode_signature(sign).ok_or(SignatureError::Invalid)?;
    alipay_public_key
        .verify(sign_type, envelope.node.as_bytes(), &signature)
        .map_err(|_| SignatureError::Invalid)
}

/// `code`/`msg`/`sub_code`/`sub_msg` of a node.
#[derive(Debug, Deserialize)]
struct Status {
    code: String,
    #[serde(default)]
    msg: String,
    sub_code: Option<String>,
    sub_msg: Option<String>,
}

/// Reads the status fields of a node; `Ok(())` for `10000`, the error otherwise.
pub fn status(node: &str) -> Result<Result<(), ApiError>, serde_json::Error> {
    let status: Status = serde_json::from_str(node)?;
    if status.code == "10000" {
        return Ok(Ok(()));
    }
    Ok(Err(ApiError {
        code: status.code,
        msg: status.msg,
        sub_code: status.sub_code,
        sub_msg: status.sub_msg,
        raw: node.to_owned(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_the_node_verbatim() {
        let body = r#"{"alipay_trade_precreate_response":{"code":"10000","msg":"Success","qr_code":"https:\/\/qr.alipay.com\/x","n":{"a":"}"}},"alipay_cert_sn":"abc","sign":"c2ln"}"#;
        let env = envelope(body, "alipay.trade.precreate").unwrap();
        assert_eq!(
            env.node,
            r#"{"code":"10000","msg":"Success","qr_code":"https:\/\/qr.alipay.com\/x","n":{"a":"}"}}"#
        );
        assert_eq!(env.sign.as_deref(), Some("c2ln"));
        assert_eq!(env.alipay_cert_sn.as_deref(), Some("abc"));
        assert!(!env.is_error_response);
    }

    #[test]
    fn falls_back_to_error_response() {
        let body = r#"{"error_response":{"code":"40001","msg":"Missing Required Arguments","sub_code":"isv.missing-signature"}}"#;
        let env = envelope(body, "alipay.trade.query").unwrap();
        assert!(env.is_error_response);
        assert!(env.sign.is_none());
        let error = status(env.node).unwrap().unwrap_err();
        assert_eq!(error.sub_code.as_deref(), Some("isv.missing-signature"));
    }

    #[test]
    fn refuses_what_is_not_an_envelope() {
        assert!(envelope("<html>", "alipay.trade.query").is_err());
        assert!(envelope(r#"{"other_response":{}}"#, "alipay.trade.query").is_err());
        assert!(
            envelope(
                r#"{"alipay_trade_query_response":{},"sign":5}"#,
                "alipay.trade.query"
            )
            .is_err()
        );
    }
}
