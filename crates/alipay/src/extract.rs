//! An axum extractor for Alipay's asynchronous notifications (feature `axum`).
//!
//! [`VerifiedNotification`] reads the raw body, verifies its signature over the exact bytes
//! Alipay signed with the [`Client`] in the handler's state, and checks that it is for this
//! client's app. A handler only ever sees a genuine notification; anything else is answered
//! `failure` (HTTP 400) before the handler runs, so Alipay, should it be the sender, tries
//! again later and nothing is lost.
//!
//! ```no_run
//! use alipay::extract::VerifiedNotification;
//! use axum::Router;
//! use axum::routing::post;
//!
//! async fn notify(VerifiedNotification(paid): VerifiedNotification) -> &'static str {
//!     // Genuine and for this app. Still the handler's to check, in one transaction: that
//!     // `paid.out_trade_no` is an order of ours, that `paid.total_amount` is its total, that
//!     // `paid.seller_id` is our merchant; then mark it paid once (a retry finds it paid) and
//!     // keep the notification. Answer `success` only after that commit.
//!     if paid.trade_status.as_ref().is_some_and(|s| s.is_paid()) {
//!         // ... fulfil ...
//!     }
//!     alipay::ack()
//! }
//!
//! # fn app(client: alipay::Client) -> Router {
//! // The client is the state (or anything it can be taken from: `FromRef`).
//! Router::new().route("/alipay/notify", post(notify)).with_state(client)
//! # }
//! ```

use axum_core::extract::{FromRef, FromRequest, Request};
use axum_core::response::{IntoResponse, Response};
use bytes::Bytes;
use http::StatusCode;

use crate::client::Client;
use crate::error::VerifyError;
use crate::notify::{NACK, Notification};

/// A notification that verified with the state's [`Client`] and names its app.
#[derive(Clone, Debug)]
pub struct VerifiedNotification(pub Notification);

/// Why a request was not taken as a notification. Answered `failure` with HTTP 400.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NotificationRejection {
    /// The body could not be read (too large, or the connection failed).
    #[error("the notification's body could not be read: {0}")]
    Body(String),
    /// Not signed by Alipay, or not a notification at all.
    #[error("the notification did not verify: {0}")]
    Unverified(#[from] VerifyError),
    /// Signed by Alipay, but for another app than this client's.
    #[error("the notification is for app {0}, not this one")]
    OtherApp(String),
}

impl IntoResponse for NotificationRejection {
    fn into_response(self) -> Response {
        (StatusCode::BAD_REQUEST, NACK).into_response()
    }
}

impl<S> FromRequest<S> for VerifiedNotification
where
    S: Send + Sync,
    Client: FromRef<S>,
{
    type Rejection = NotificationRejection;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let client = Client::from_ref(state);
        let body = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| NotificationRejection::Body(rejection.body_text()))?;
        let notification = client.verify_notification(&body)?;
        if notification.app_id != client.app_id() {
            return Err(NotificationRejection::OtherApp(notification.app_id));
        }
        Ok(VerifiedNotification(notification))
    }
}
