use serde::{Deserialize, Serialize};

use super::ApiRequest;
use crate::error::Error;
use crate::money::Money;

/// `alipay.trade.precreate`: a QR code the buyer scans with the Alipay app (当面付).
#[derive(Clone, Debug, Serialize)]
pub struct TradePrecreate {
    out_trade_no: String,
    total_amount: Money,
    subject: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    body: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    timeout_express: Option<String>,
    #[serde(skip)]
    notify_url: Option<String>,
}

impl TradePrecreate {
    /// A QR payment for an order.
    pub fn new(
        out_trade_no: impl Into<String>,
        total_amount: Money,
        subject: impl Into<String>,
    ) -> TradePrecreate {
        TradePrecreate {
            out_trade_no: out_trade_no.into(),
            total_amount,
            subject: subject.into(),
            body: None,
            timeout_express: None,
            notify_url: None,
        }
    }

    /// Order description.
    #[must_use]
    pub fn body(mut self, body: impl Into<String>) -> TradePrecreate {
        self.body = Some(body.into());
        self
    }

    /// Payment window, e.g. `15m`.
    #[must_use]
    pub fn timeout_express(mut self, window: impl Into<String>) -> TradePrecreate {
        self.timeout_express = Some(window.into());
        self
    }

    /// Where to send the payment notification.
    #[must_use]
    pub fn notify_url(mut self, url: impl Into<String>) -> TradePrecreate {
        self.notify_url = Some(url.into());
        self
    }
}

impl ApiRequest for TradePrecreate {
    const METHOD: &'static str = "alipay.trade.precreate";
    type Response = TradePrecreateResponse;

    fn validate(&self) -> Result<(), Error> {
        super::check_order(&self.out_trade_no, self.total_amount, &self.subject)?;
        Ok(())
    }

    fn notify_url(&self) -> Option<&str> {
        self.notify_url.as_deref()
    }
}

/// The QR code to show.
#[derive(Clone, Debug, Deserialize)]
#[non_exhaustive]
pub struct TradePrecreateResponse {
    /// The merchant's order number.
    pub out_trade_no: String,
    /// The QR code's content (a `https://qr.alipay.com/…` URL).
    pub qr_code: String,
}
