//! What can go wrong talking to Alipay, sorted by what the caller should do about it.
//!
//! * [`Error::Transport`]: the request may or may not have reached Alipay. For anything that moves
//!   money the outcome is *unknown*: query, or retry with the same idempotency key
//!   (`out_request_no`), never assume failure.
//! * [`Error::Signature`]: the answer did not come from Alipay (or was altered). Never act on it.
//! * [`Error::Api`]: Alipay answered, signed, with a business or parameter error; see
//!   [`ApiError::sub_code`].
//! * [`Error::Gateway`]: the gateway refused the request before reaching the API (an unsigned
//!   `error_response`); usually configuration.

use std::fmt;

use crate::content::FormError;
use crate::keys::{KeyError, SignError};

/// Everything the SDK can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A key could not be loaded.
    #[error("{which}: {source}")]
    Key {
        /// Which key ("app private key", "Alipay public key"...).
        which: &'static str,
        /// What is wrong with it.
        #[source]
        source: KeyError,
    },
    /// The client is misconfigured.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// Certificate-mode files could not be used.
    #[error(transparent)]
    Certificate(#[from] crate::cert_mode::CertModeError),
    /// The request is invalid and was not sent.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// The signer failed.
    #[error(transparent)]
    Sign(#[from] SignError),
    /// The HTTP exchange failed: the outcome at Alipay is unknown.
    #[error("{method}: {kind}")]
    Transport {
        /// The API method.
        method: String,
        /// What happened.
        kind: TransportError,
    },
    /// The response's signature is missing or wrong: it must not be trusted.
    #[error("{method}: {kind}")]
    Signature {
        /// The API method.
        method: String,
        /// What is wrong.
        kind: SignatureError,
    },
    /// Alipay answered with an error inside the method's (signed) response node.
    #[error("{method}: {error}")]
    Api {
        /// The API method.
        method: String,
        /// Alipay's codes and messages.
        error: Box<ApiError>,
    },
    /// The gateway answered with an (unsigned) `error_response`.
    #[error("{method}: gateway refused the request: {error}")]
    Gateway {
        /// The API method.
        method: String,
        /// Alipay's codes and messages.
        error: Box<ApiError>,
    },
    /// The response verified but could not be understood.
    #[error("{method}: unexpected response: {detail}")]
    Decode {
        /// The API method.
        method: String,
        /// What was wrong.
        detail: String,
    },
}

impl Error {
    /// Whether the outcome at Alipay is unknown: the request was sent, and nothing trustworthy
    /// came back to say what Alipay did. That is a transport failure, an answer whose
    /// signature does not verify (or is missing, or whose certificate cannot be had), a body
    /// that is not Alipay's envelope (a proxy's HTML page), a verified answer that cannot be
    /// understood, an unsigned gateway error, or a system error (`20000`, `ACQ.SYSTEM_ERROR`).
    /// Query the trade, or retry with the same idempotency key, before deciding anything:
    /// never read such an error as a "no".
    #[must_use]
    pub fn is_outcome_unknown(&self) -> bool {
        match self {
            Error::Transport { .. }
            | Error::Signature { .. }
            | Error::Decode { .. }
            | Error::Gateway { .. } => true,
            Error::Api { error, .. } => error.is_system_error(),
            _ => false,
        }
    }

    /// Whether Alipay said "no" in a way that can be trusted: a business error (`code` other
    /// than `10000`, with a `sub_code`) inside a response node whose signature verified, and
    /// not a system error. The only kind of failure after which a merchant may record an
    /// operation as refused.
    #[must_use]
    pub fn is_verified_refusal(&self) -> bool {
        matches!(self, Error::Api { error, .. } if error.sub_code.is_some() && !error.is_system_error())
    }

    /// The `sub_code` of a business error whose signature verified (see
    /// [`Error::is_verified_refusal`]); `None` for anything else, an unsigned gateway error
    /// included. Decide on this, not on [`Error::sub_code`], when money depends on it.
    #[must_use]
    pub fn verified_sub_code(&self) -> Option<&str> {
        match self {
            Error::Api { error, .. } => error.sub_code.as_deref(),
            _ => None,
        }
    }

    /// The Alipay error, when Alipay answered with one.
    #[must_use]
    pub fn api_error(&self) -> Option<&ApiError> {
        match self {
            Error::Api { error, .. } | Error::Gateway { error, .. } => Some(error),
            _ => None,
        }
    }

    /// The `sub_code` of an Alipay error (`ACQ.TRADE_NOT_EXIST`, ...).
    #[must_use]
    pub fn sub_code(&self) -> Option<&str> {
        self.api_error().and_then(|e| e.sub_code.as_deref())
    }
}

/// How an HTTP exchange failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// No answer within the configured timeout.
    #[error("timed out")]
    Timeout,
    /// The gateway could not be reached.
    #[error("cannot connect: {0}")]
    Connect(String),
    /// The gateway answered with an HTTP status other than 200.
    #[error("HTTP status {0}")]
    Status(u16),
    /// Anything else in the HTTP layer.
    #[error("{0}")]
    Other(String),
}

/// Why a response's signature was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// The body has no `sign`.
    #[error("response is not signed")]
    Missing,
    /// The signature does not verify with the Alipay public key.
    #[error("response signature does not verify with the Alipay public key")]
    Invalid,
    /// The body is not the JSON envelope Alipay sends.
    #[error("response is not an Alipay envelope: {0}")]
    Malformed(String),
    /// Certificate mode: the response was signed by a certificate we do not have.
    #[error("response signed with Alipay certificate {0}, which is not configured")]
    UnknownCertificate(String),
    /// Certificate mode: a downloaded Alipay certificate does not chain to the root bundle (or is
    /// not the one asked for).
    #[error("Alipay certificate {sn} is not trusted: {reason}")]
    UntrustedCertificate {
        /// The SN the response named.
        sn: String,
        /// Why it is refused.
        reason: String,
    },
}

/// `code`, `msg`, `sub_code`, `sub_msg` of an Alipay answer, plus the raw node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// `10000` success, `20000` unknown/system, `40001`..`40006` errors.
    pub code: String,
    /// Text of `code`.
    pub msg: String,
    /// The specific reason, e.g. `ACQ.TRADE_NOT_EXIST`. Key decisions on this.
    pub sub_code: Option<String>,
    /// Human text for `sub_code`; wording varies, never match on it.
    pub sub_msg: Option<String>,
    /// The response node as received (JSON text).
    pub raw: String,
}

impl ApiError {
    /// `10003`: a barcode payment ([`crate::api::TradePay`]) waits for the buyer to confirm it on
    /// the phone. Not a refusal: query until it is paid or the wait is over, then cancel.
    #[must_use]
    pub fn is_in_process(&self) -> bool {
        self.code == "10003"
    }

    /// `20000`, `ACQ.SYSTEM_ERROR` and friends: Alipay does not know either; retry or query.
    #[must_use]
    pub fn is_system_error(&self) -> bool {
        self.code == "20000"
            || matches!(
                self.sub_code.as_deref(),
                Some(
                    "ACQ.SYSTEM_ERROR"
                        | "aop.ACQ.SYSTEM_ERROR"
                        | "isp.unknow-error"
                        | "aop.unknow-error"
                )
            )
    }

    /// Whether `sub_code` is this one.
    #[must_use]
    pub fn is(&self, sub_code: &str) -> bool {
        self.sub_code.as_deref() == Some(sub_code)
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.code, self.msg)?;
        if let Some(sub_code) = &self.sub_code {
            write!(f, " ({sub_code}")?;
            if let Some(sub_msg) = &self.sub_msg {
                write!(f, ": {sub_msg}")?;
            }
            f.write_str(")")?;
        }
        Ok(())
    }
}

/// Why a notification or a return URL was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The body is not a well-formed form.
    #[error("malformed parameters: {0}")]
    Form(#[from] FormError),
    /// No `sign`, or an empty one.
    #[error("the parameters are not signed")]
    MissingSign,
    /// `sign_type` says something other than what this merchant uses.
    #[error("sign_type {posted:?} does not match the configured {configured}")]
    SignTypeMismatch {
        /// What the parameters said.
        posted: String,
        /// What the merchant configured.
        configured: crate::SignType,
    },
    /// The signature does not verify with the Alipay public key.
    #[error("signature does not verify with the Alipay public key")]
    BadSignature,
    /// Genuine, but its fields are not what the typed view needs.
    #[error(transparent)]
    Field(#[from] crate::fields::FieldError),
}
