use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{ApiRequest, FundBill};
use crate::error::Error;
use crate::money::Money;

/// How the buyer's payment code was read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub enum Scene {
    /// A barcode or QR code scanned from the buyer's phone (付款码).
    #[serde(rename = "bar_code")]
    BarCode,
    /// A sound wave.
    #[serde(rename = "wave_code")]
    WaveCode,
}

/// `alipay.trade.pay` (当面付, 付款码): the merchant scans the payment code on the buyer's phone
/// and charges it. Alipay answers paid (`10000`), waiting for the buyer to confirm (`10003`,
/// which arrives as [`Error::Api`] with [`crate::ApiError::is_in_process`]), or refused; for the
/// query-then-cancel loop Alipay prescribes after anything but "paid", use
/// [`Client::barcode_pay`](crate::Client::barcode_pay).
#[derive(Clone, Serialize)]
pub struct TradePay {
    out_trade_no: String,
    scene: Scene,
    auth_code: String,
    subject: String,
    total_amount: Money,
    #[serde(skip_serializing_if = "Option::is_none")]
    product_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    body: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    timeout_express: Option<String>,
    #[serde(skip)]
    notify_url: Option<String>,
}

/// The payment code can charge the buyer until it expires: `Debug` leaves it out.
impl std::fmt::Debug for TradePay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TradePay")
            .field("out_trade_no", &self.out_trade_no)
            .field("scene", &self.scene)
            .field("auth_code", &"redacted")
            .field("total_amount", &self.total_amount)
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

impl TradePay {
    /// Charges the payment code `auth_code` (scene `bar_code`) for an order.
    pub fn new(
        out_trade_no: impl Into<String>,
        auth_code: impl Into<String>,
        total_amount: Money,
        subject: impl Into<String>,
    ) -> TradePay {
        TradePay {
            out_trade_no: out_trade_no.into(),
            scene: Scene::BarCode,
            auth_code: auth_code.into(),
            subject: subject.into(),
            total_amount,
            product_code: None,
            body: None,
            timeout_express: None,
            notify_url: None,
        }
    }

    /// The merchant's order number.
    #[must_use]
    pub fn out_trade_no(&self) -> &str {
        &self.out_trade_no
    }

    /// How the code was read (default `bar_code`).
    #[must_use]
    pub fn scene(mut self, scene: Scene) -> TradePay {
        self.scene = scene;
        self
    }

    /// The product code, `FACE_TO_FACE_PAYMENT` when not given.
    #[must_use]
    pub fn product_code(mut self, code: impl Into<String>) -> TradePay {
        self.product_code = Some(code.into());
        self
    }

    /// Order description.
    #[must_use]
    pub fn body(mut self, body: impl Into<String>) -> TradePay {
        self.body = Some(body.into());
        self
    }

    /// How long the buyer may take to confirm, e.g. `5m`.
    #[must_use]
    pub fn timeout_express(mut self, window: impl Into<String>) -> TradePay {
        self.timeout_express = Some(window.into());
        self
    }

    /// Where to send the payment notification (useful when the answer is `10003`).
    #[must_use]
    pub fn notify_url(mut self, url: impl Into<String>) -> TradePay {
        self.notify_url = Some(url.into());
        self
    }
}

impl ApiRequest for TradePay {
    const METHOD: &'static str = "alipay.trade.pay";
    type Response = TradePayResponse;

    fn validate(&self) -> Result<(), Error> {
        super::check_order(&self.out_trade_no, self.total_amount, &self.subject)?;
        if self.auth_code.is_empty()
            || self.auth_code.len() > 32
            || !self.auth_code.bytes().all(|b| b.is_ascii_alphanumeric())
        {
            return Err(Error::InvalidRequest(
                "auth_code must be the payment code as scanned: 1 to 32 letters or digits".into(),
            ));
        }
        Ok(())
    }

    fn notify_url(&self) -> Option<&str> {
        self.notify_url.as_deref()
    }
}

/// A barcode payment that went through.
#[derive(Clone, Debug, Deserialize)]
#[non_exhaustive]
pub struct TradePayResponse {
    /// Alipay's trade number.
    pub trade_no: String,
    /// The merchant's order number.
    pub out_trade_no: String,
    /// The order amount.
    pub total_amount: Money,
    /// What the merchant receives.
    pub receipt_amount: Option<Money>,
    /// What the buyer paid.
    pub buyer_pay_amount: Option<Money>,
    /// Payment time.
    #[serde(default, with = "crate::time::serde_opt")]
    pub gmt_payment: Option<OffsetDateTime>,
    /// Masked buyer login.
    pub buyer_logon_id: Option<String>,
    /// Buyer's user id (`2088…`).
    pub buyer_user_id: Option<String>,
    /// Funding sources.
    #[serde(default)]
    pub fund_bill_list: Vec<FundBill>,
    /// Every other field of the node.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

/// `alipay.trade.create`: a trade for a buyer the merchant already knows (a mini program or a
/// JSAPI page in the Alipay app); the returned `trade_no` is what the front end passes to
/// `my.tradePay`. The outcome arrives as a notification, as for every other payment.
#[derive(Clone, Debug, Serialize)]
pub struct TradeCreate {
    out_trade_no: String,
    total_amount: Money,
    subject: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    buyer_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    buyer_open_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    product_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    body: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    timeout_express: Option<String>,
    #[serde(skip)]
    notify_url: Option<String>,
}

impl TradeCreate {
    /// A trade for the buyer with Alipay user id `buyer_id` (`2088…`).
    pub fn for_buyer_id(
        out_trade_no: impl Into<String>,
        total_amount: Money,
        subject: impl Into<String>,
        buyer_id: impl Into<String>,
    ) -> TradeCreate {
        TradeCreate {
            buyer_id: Some(buyer_id.into()),
            ..TradeCreate::new(out_trade_no.into(), total_amount, subject.into())
        }
    }

    /// A trade for the buyer with this app's `open_id` (apps created since 2023).
    pub fn for_buyer_open_id(
        out_trade_no: impl Into<String>,
        total_amount: Money,
        subject: impl Into<String>,
        buyer_open_id: impl Into<String>,
    ) -> TradeCreate {
        TradeCreate {
            buyer_open_id: Some(buyer_open_id.into()),
            ..TradeCreate::new(out_trade_no.into(), total_amount, subject.into())
        }
    }

    fn new(out_trade_no: String, total_amount: Money, subject: String) -> TradeCreate {
        TradeCreate {
            out_trade_no,
            total_amount,
            subject,
            buyer_id: None,
            buyer_open_id: None,
            product_code: None,
            body: None,
            timeout_express: None,
            notify_url: None,
        }
    }

    /// The product code (`JSAPI_PAY` for mini programs).
    #[must_use]
    pub fn product_code(mut self, code: impl Into<String>) -> TradeCreate {
        self.product_code = Some(code.into());
        self
    }

    /// Order description.
    #[must_use]
    pub fn body(mut self, body: impl Into<String>) -> TradeCreate {
        self.body = Some(body.into());
        self
    }

    /// Payment window, e.g. `15m`.
    #[must_use]
    pub fn timeout_express(mut self, window: impl Into<String>) -> TradeCreate {
        self.timeout_express = Some(window.into());
        self
    }

    /// Where to send the payment notification.
    #[must_use]
    pub fn notify_url(mut self, url: impl Into<String>) -> TradeCreate {
        self.notify_url = Some(url.into());
        self
    }
}

impl ApiRequest for TradeCreate {
    const METHOD: &'static str = "alipay.trade.create";
    type Response = TradeCreateResponse;

    fn validate(&self) -> Result<(), Error> {
        super::check_order(&self.out_trade_no, self.total_amount, &self.subject)?;
        if self
            .buyer_id
            .as_deref()
            .is_some_and(|id| !super::is_user_id(id))
        {
            return Err(Error::InvalidRequest(
                "buyer_id must be an Alipay user id: 2088 and 12 digits".into(),
            ));
        }
        Ok(())
    }

    fn notify_url(&self) -> Option<&str> {
        self.notify_url.as_deref()
    }
}

/// The created trade.
#[derive(Clone, Debug, Deserialize)]
#[non_exhaustive]
pub struct TradeCreateResponse {
    /// The merchant's order number.
    pub out_trade_no: String,
    /// Alipay's trade number: what the mini program passes to `my.tradePay`.
    pub trade_no: String,
}
