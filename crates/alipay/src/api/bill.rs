use serde::{Deserialize, Serialize};

use super::ApiRequest;
use crate::error::Error;

/// `alipay.data.dataservice.bill.downloadurl.query`: where to download a statement (对账单).
///
/// The answer is a short-lived URL (about 30 seconds at Alipay) of a zip of GBK CSV files;
/// [`crate::Client::fetch_bill`] (feature `bill`) downloads and parses it in one go. A day without
/// any business is `isp.bill_not_exist`. Alipay serves a day's bill from the next morning
/// (Beijing time) on, a month's from the next month.
#[derive(Clone, Debug, Serialize)]
pub struct BillDownloadUrlQuery {
    bill_type: BillType,
    bill_date: String,
}

/// Which statement.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum BillType {
    /// The merchant's trades (`trade`): payments and refunds, the one to reconcile orders with.
    Trade,
    /// Account movements of a signed customer (`signcustomer`).
    Signcustomer,
}

impl BillDownloadUrlQuery {
    /// The trade bill of one day (`yyyy-MM-dd`, Beijing time) or month (`yyyy-MM`).
    pub fn trade(bill_date: impl Into<String>) -> BillDownloadUrlQuery {
        BillDownloadUrlQuery {
            bill_type: BillType::Trade,
            bill_date: bill_date.into(),
        }
    }

    /// Another kind of bill.
    pub fn new(bill_type: BillType, bill_date: impl Into<String>) -> BillDownloadUrlQuery {
        BillDownloadUrlQuery {
            bill_type,
            bill_date: bill_date.into(),
        }
    }

    /// The requested date.
    #[must_use]
    pub fn bill_date(&self) -> &str {
        &self.bill_date
    }
}

/// Whether `date` is `yyyy-MM-dd` or `yyyy-MM` with plausible numbers.
fn is_bill_date(date: &str) -> bool {
    let parts: Vec<&str> = date.split('-').collect();
    let number = |s: &str, len: usize, max: u32| {
        s.len() == len
            && s.bytes().all(|b| b.is_ascii_digit())
            && s.parse::<u32>().is_ok_and(|n| (1..=max).contains(&n))
    };
    match parts.as_slice() {
        [y, m] => number(y, 4, 9999) && number(m, 2, 12),
        [y, m, d] => number(y, 4, 9999) && number(m, 2, 12) && number(d, 2, 31),
        _ => false,
    }
}

impl ApiRequest for BillDownloadUrlQuery {
    const METHOD: &'static str = "alipay.data.dataservice.bill.downloadurl.query";
    type Response = BillDownloadUrlResponse;
    const SAFE_TO_REPEAT: bool = true;

    fn validate(&self) -> Result<(), Error> {
        if is_bill_date(&self.bill_date) {
            Ok(())
        } else {
            Err(Error::InvalidRequest(format!(
                "bill_date {:?} is neither yyyy-MM-dd nor yyyy-MM",
                self.bill_date
            )))
        }
    }
}

/// Where the bill is.
#[derive(Clone, Debug, Deserialize)]
#[non_exhaustive]
pub struct BillDownloadUrlResponse {
    /// The download URL; valid for a short time only.
    pub bill_download_url: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_days_or_months() {
        for good in ["2026-12-06", "2026-12"] {
            assert!(
                BillDownloadUrlQuery::trade(good).validate().is_ok(),
                "{good}"
            );
        }
        for bad in ["2026-13-01", "20261206", "2026-12-6", "", "2026-00"] {
            assert!(
                BillDownloadUrlQuery::trade(bad).validate().is_err(),
                "{bad}"
            );
        }
        let json = serde_json::to_string(&BillDownloadUrlQuery::trade("2026-12-06")).unwrap();
        assert_eq!(json, r#"{"bill_type":"trade","bill_date":"2026-12-06"}"#);
    }
}
