//! Server-to-server APIs (trades, and the bill's download URL): one request type per method, each
//! naming its response type.
//!
//! ```no_run
//! # async fn run(client: alipay::Client) -> Result<(), alipay::Error> {
//! use alipay::api::TradeQuery;
//! let trade = client.execute(&TradeQuery::by_out_trade_no("ORDER_42")).await?;
//! if trade.trade_status.is_paid() { /* fulfil */ }
//! # Ok(()) }
//! ```

mod barcode;
mod bill;
mod cancel;
mod cert_download;
mod close;
mod precreate;
mod query;
mod refund;

pub use barcode::{Scene, TradeCreate, TradeCreateResponse, TradePay, TradePayResponse};
pub use bill::{BillDownloadUrlQuery, BillDownloadUrlResponse, BillType};
pub use cancel::{TradeCancel, TradeCancelResponse};
pub use cert_download::{AlipayCertDownload, AlipayCertDownloadResponse};
pub use close::{TradeClose, TradeCloseResponse};
pub use precreate::{TradePrecreate, TradePrecreateResponse};
pub use query::{FundBill, TradeQuery, TradeQueryResponse};
pub use refund::{RefundQuery, RefundQueryResponse, TradeRefund, TradeRefundResponse};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::Error;
use crate::money::Money;

/// An Alipay API method: its name, its `biz_content` (the `Serialize` impl) and its response.
pub trait ApiRequest: Serialize {
    /// The `method` parameter, e.g. `alipay.trade.query`.
    const METHOD: &'static str;
    /// The typed response node.
    type Response: DeserializeOwned;

    /// Whether sending the request again has no effect beyond the first time (reads): only
    /// such requests are retried by [`crate::ClientBuilder::retry_reads`].
    const SAFE_TO_REPEAT: bool = false;

    /// Whether the content may be AES-encrypted when the client has an AES key
    /// ([`crate::ClientBuilder::aes_key`]).
    const ENCRYPTABLE: bool = true;

    /// Checks the request before it is signed and sent.
    fn validate(&self) -> Result<(), Error> {
        Ok(())
    }

    /// A `notify_url` to send with this request (close, precreate).
    fn notify_url(&self) -> Option<&str> {
        None
    }
}

/// Which trade: by the merchant's `out_trade_no` or Alipay's `trade_no` (which wins if both).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct TradeRef {
    /// The merchant's order number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub out_trade_no: Option<String>,
    /// Alipay's trade number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trade_no: Option<String>,
}

impl TradeRef {
    /// By the merchant's order number.
    pub fn out_trade_no(out_trade_no: impl Into<String>) -> TradeRef {
        TradeRef {
            out_trade_no: Some(out_trade_no.into()),
            trade_no: None,
        }
    }

    /// By Alipay's trade number.
    pub fn trade_no(trade_no: impl Into<String>) -> TradeRef {
        TradeRef {
            out_trade_no: None,
            trade_no: Some(trade_no.into()),
        }
    }

    fn validate(&self) -> Result<(), Error> {
        if self.out_trade_no.is_none() && self.trade_no.is_none() {
            return Err(Error::InvalidRequest(
                "out_trade_no or trade_no is required".into(),
            ));
        }
        if let Some(out_trade_no) = &self.out_trade_no {
            crate::pay::check_out_trade_no(out_trade_no).map_err(Error::InvalidRequest)?;
        }
        Ok(())
    }
}

/// Whether `id` is an Alipay user id (`2088` and 12 more digits): a buyer's `buyer_id`, a
/// seller's `seller_id`, a legacy partner id.
#[must_use]
pub fn is_user_id(id: &str) -> bool {
    id.len() == 16 && id.starts_with("2088") && id.bytes().all(|b| b.is_ascii_digit())
}

/// What every request that opens a trade checks before it is signed: the order number's shape,
/// an amount Alipay accepts, a subject.
fn check_order(out_trade_no: &str, total_amount: Money, subject: &str) -> Result<(), Error> {
    crate::pay::check_out_trade_no(out_trade_no).map_err(Error::InvalidRequest)?;
    if !total_amount.is_valid_trade_amount() {
        return Err(Error::InvalidRequest(format!(
            "total_amount {total_amount} is outside 0.01..100000000.00"
        )));
    }
    if subject.trim().is_empty() {
        return Err(Error::InvalidRequest("subject is required".into()));
    }
    Ok(())
}

/// Optional `"Y"`/`"N"` flags as booleans.
pub(crate) mod yes_no_opt {
    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
        let text = Option::<std::borrow::Cow<'de, str>>::deserialize(d)?;
        match text.as_deref() {
            None | Some("") => Ok(None),
            Some("Y") => Ok(Some(true)),
            Some("N") => Ok(Some(false)),
            Some(other) => Err(serde::de::Error::custom(format!(
                "expected Y or N, got {other:?}"
            ))),
        }
    }
}
