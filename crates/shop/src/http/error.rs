//! Errors at the HTTP edge: one enum, one mapping to status + `{"error":{"code","message"}}`.

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::accounts::AccountError;
use crate::domain::checkout::CheckoutError;
use crate::domain::refund::RefundError;
use crate::payments::PaymentError;

/// Everything a handler can answer with instead of success.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400 with a specific code.
    #[error("{message}")]
    Invalid {
        /// Machine-readable code.
        code: &'static str,
        /// Human message.
        message: String,
        /// Structured facts a client can show (e.g. the real price).
        details: Option<serde_json::Value>,
    },
    /// 401.
    #[error("{0}")]
    Unauthorized(&'static str),
    /// 403.
    #[error("{0}")]
    Forbidden(&'static str),
    /// 404.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// 409 with a specific code.
    #[error("{message}")]
    Conflict {
        /// Machine-readable code.
        code: &'static str,
        /// Human message.
        message: String,
    },
    /// 429.
    #[error("too many requests; try again later")]
    RateLimited,
    /// 502: Alipay did not answer usefully.
    #[error("the payment service is unavailable; try again")]
    Upstream(String),
    /// 500: logged with its cause, never shown.
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    /// A 400 with `code`.
    pub fn invalid(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::Invalid {
            code,
            message: message.into(),
            details: None,
        }
    }

    fn parts(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::Invalid { code, .. } => (StatusCode::BAD_REQUEST, code),
            ApiError::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::Conflict { code, .. } => (StatusCode::CONFLICT, code),
            ApiError::RateLimited => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            ApiError::Upstream(_) => (StatusCode::BAD_GATEWAY, "payment_service_unavailable"),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

/// The error body.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// What went wrong.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable machine-readable code, e.g. `price_mismatch`.
    pub code: String,
    /// Human-readable explanation.
    pub message: String,
    /// Structured facts for some codes: `price_mismatch` gives `{"expected": "199.00", "claimed": "1.00"}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub details: Option<serde_json::Value>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.parts();
        match &self {
            ApiError::Internal(cause) => {
                tracing::error!(cause = %crate::log::cut(cause), "internal error")
            }
            ApiError::Upstream(cause) => {
                tracing::warn!(cause = %crate::log::cut(cause), "upstream error")
            }
            _ => {}
        }
        let details = match &self {
            ApiError::Invalid { details, .. } => details.clone(),
            _ => None,
        };
        let body = ErrorBody {
            error: ErrorDetail {
                code: code.to_owned(),
                message: self.to_string(),
                details,
            },
        };
        (status, Json(body)).into_response()
    }
}

impl ApiError {
    /// A failure of ours (the database...): logged with its cause, shown as `internal`.
    pub fn internal(cause: impl std::fmt::Display) -> ApiError {
        ApiError::Internal(cause.to_string())
    }
}

impl From<crate::catalog::CatalogError> for ApiError {
    fn from(error: crate::catalog::CatalogError) -> ApiError {
        use crate::catalog::CatalogError;
        match error {
            CatalogError::NotFound => ApiError::NotFound("course"),
            CatalogError::NotOwned => ApiError::Forbidden("buy the course to study its lessons"),
            CatalogError::Invalid(e) => ApiError::invalid("invalid_course", e.to_string()),
            CatalogError::Store(e) => ApiError::internal(e),
        }
    }
}

impl From<CheckoutError> for ApiError {
    fn from(error: CheckoutError) -> ApiError {
        let code = match error {
            CheckoutError::Empty => "empty_order",
            CheckoutError::TooMany(_) => "too_many_courses",
            CheckoutError::Duplicate(_) => "duplicate_course",
            CheckoutError::UnknownCourse(_) => "unknown_course",
            CheckoutError::AlreadyOwned(_) => "already_owned",
            CheckoutError::PriceMismatch { .. } => "price_mismatch",
            CheckoutError::AmountOutOfRange(_) => "amount_out_of_range",
            CheckoutError::Subject => "invalid_subject",
        };
        let details = match error {
            CheckoutError::PriceMismatch { expected, claimed } => {
                Some(serde_json::json!({ "expected": expected, "claimed": claimed }))
            }
            _ => None,
        };
        ApiError::Invalid {
            code,
            message: error.to_string(),
            details,
        }
    }
}

impl From<PaymentError> for ApiError {
    fn from(error: PaymentError) -> ApiError {
        match error {
            PaymentError::OrderNotFound => ApiError::NotFound("order"),
            PaymentError::RefundNotFound => ApiError::NotFound("refund"),
            PaymentError::Checkout(e) => e.into(),
            PaymentError::WrongStatus(status) => ApiError::Conflict {
                code: "invalid_order_status",
                message: format!("the order is {status}"),
            },
            PaymentError::IdempotencyMismatch => ApiError::Conflict {
                code: "idempotency_key_reused",
                message: error.to_string(),
            },
            PaymentError::Refund(e) => e.into(),
            PaymentError::Store(e) => ApiError::internal(e),
            PaymentError::Alipay(e @ alipay::Error::InvalidRequest(_)) => {
                ApiError::Internal(e.to_string())
            }
            PaymentError::Alipay(e) => ApiError::Upstream(e.to_string()),
        }
    }
}

impl From<RefundError> for ApiError {
    fn from(error: RefundError) -> ApiError {
        let code = match error {
            RefundError::Empty => "empty_refund",
            RefundError::NotInOrder(_) => "course_not_in_order",
            RefundError::Duplicate(_) => "duplicate_course",
            RefundError::AlreadyRefunded(_) => "already_refunded",
            RefundError::TooLarge { .. } => "refund_too_large",
        };
        let details = match error {
            RefundError::TooLarge {
                requested,
                refundable,
            } => Some(serde_json::json!({ "requested": requested, "refundable": refundable })),
            _ => None,
        };
        ApiError::Invalid {
            code,
            message: error.to_string(),
            details,
        }
    }
}

impl From<AccountError> for ApiError {
    fn from(error: AccountError) -> ApiError {
        match error {
            AccountError::InvalidUsername(e) => {
                ApiError::invalid("invalid_username", e.to_string())
            }
            AccountError::InvalidPassword(e) => {
                ApiError::invalid("invalid_password", e.to_string())
            }
            AccountError::UsernameTaken => ApiError::Conflict {
                code: "username_taken",
                message: error.to_string(),
            },
            AccountError::WrongCredentials => ApiError::Unauthorized("wrong username or password"),
            AccountError::UnknownUser(_) => {
                ApiError::Unauthorized("the token is invalid or expired; log in again")
            }
            AccountError::NotOperator => ApiError::Forbidden("operators only"),
            AccountError::Hashing(cause) => ApiError::Internal(cause),
            AccountError::Store(e) => ApiError::internal(e),
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> ApiError {
        ApiError::invalid("invalid_request", rejection.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> ApiError {
        ApiError::invalid("invalid_request", rejection.body_text())
    }
}
