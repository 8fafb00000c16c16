//! Barcode payment (当面付, 付款码) as Alipay prescribes it: charge the code; if the answer is
//! "waiting for the buyer" (`10003`) or unknown, query until the trade is paid or the wait is
//! over; then cancel what is still not known to be paid, repeating the cancel while Alipay asks
//! for it (`retry_flag`). A cashier never leaves a trade that might still be paid behind.

use std::time::Duration;

use crate::api::{TradeCancel, TradePay, TradeQuery};
use crate::client::Client;
use crate::error::Error;
use crate::money::Money;
use crate::notify::TradeStatus;

/// The shortest wait between two queries, whatever the policy says.
const MIN_POLL: Duration = Duration::from_millis(10);
/// The longest wait for the buyer, whatever the policy says (Alipay's trades expire anyway).
const MAX_WAIT: Duration = Duration::from_secs(24 * 60 * 60);

/// How long [`Client::barcode_pay`] waits for the buyer, and how often it asks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BarcodePolicy {
    /// Time between queries (and between cancel attempts). Alipay's demo: 5 s.
    pub poll_every: Duration,
    /// How long to wait for the buyer before cancelling. Alipay's demo: 30 s.
    pub wait_at_most: Duration,
    /// Cancel attempts while Alipay answers `retry_flag = Y` or cannot be reached.
    pub cancel_attempts: u32,
}

impl Default for BarcodePolicy {
    fn default() -> BarcodePolicy {
        BarcodePolicy {
            poll_every: Duration::from_secs(5),
            wait_at_most: Duration::from_secs(30),
            cancel_attempts: 5,
        }
    }
}

/// How a barcode payment ended.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BarcodeOutcome {
    /// Paid: hand over the goods.
    Paid {
        /// Alipay's trade number.
        trade_no: String,
        /// The amount paid.
        total_amount: Money,
    },
    /// Not paid in time (or never known to be): the trade was cancelled, so the buyer owes
    /// nothing and keeps nothing. `action` is `close` (nothing was paid) or `refund` (a payment
    /// that arrived meanwhile was returned); `None` when there was nothing to cancel: the trade
    /// was closed already, or Alipay has no trade of this number (the charge never arrived;
    /// should it arrive later after all, the day's bill shows it, see `Client::fetch_bill`).
    Cancelled {
        /// What the cancel did, as Alipay reports it.
        action: Option<String>,
    },
    /// Alipay kept asking for the cancel to be repeated (`retry_flag = Y`) beyond
    /// [`BarcodePolicy::cancel_attempts`]: cancel it again later (within 24 hours) or look at it
    /// in the merchant console. Never hand over the goods on this.
    Unresolved,
}

impl Client {
    /// Charges a payment code and sees it through: `Paid`, or `Cancelled` after the buyer did
    /// not confirm within [`BarcodePolicy::wait_at_most`] (or `Unresolved`). Charging an
    /// `out_trade_no` that is already paid (a retry after a crash) finds it `Paid`. An `Err` is
    /// a request refused before sending ([`Error::InvalidRequest`]), or a verified refusal
    /// ([`Error::is_verified_refusal`], e.g. an expired code or an insufficient balance: nothing
    /// was charged) or a cancel whose outcome could not be learnt: then the trade needs a person.
    ///
    /// ```no_run
    /// # async fn run(client: alipay::Client) -> Result<(), alipay::Error> {
    /// use alipay::api::TradePay;
    /// use alipay::barcode::{BarcodeOutcome, BarcodePolicy};
    /// let price = alipay::Money::from_fen(990);
    /// let charge = TradePay::new("POS_1_0042", "284612345678901234", price, "latte");
    /// match client.barcode_pay(&charge, BarcodePolicy::default()).await? {
    ///     BarcodeOutcome::Paid { trade_no, .. } => println!("paid: {trade_no}"),
    ///     _ => println!("not paid; ask for another code"),
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn barcode_pay(
        &self,
        charge: &TradePay,
        policy: BarcodePolicy,
    ) -> Result<BarcodeOutcome, Error> {
        match self.execute(charge).await {
            Ok(paid) => {
                return Ok(BarcodeOutcome::Paid {
                    trade_no: paid.trade_no,
                    total_amount: paid.total_amount,
                });
            }
            Err(Error::Api { error, .. }) if error.is_in_process() => {}
            Err(error) if error.is_outcome_unknown() => {}
            // The same out_trade_no charged again (a till that crashed and retried): the trade
            // says what happened.
            Err(error) if error.verified_sub_code() == Some("ACQ.TRADE_HAS_SUCCESS") => {}
            Err(refused) => return Err(refused),
        }
        let query = TradeQuery::by_out_trade_no(charge.out_trade_no());
        let poll_every = policy.poll_every.max(MIN_POLL);
        let start = tokio::time::Instant::now();
        let deadline = start
            .checked_add(policy.wait_at_most)
            .unwrap_or(start + MAX_WAIT);
        loop {
            match self.execute(&query).await {
                Ok(trade) if trade.trade_status.is_paid() => {
                    return Ok(BarcodeOutcome::Paid {
                        trade_no: trade.trade_no,
                        total_amount: trade.total_amount,
                    });
                }
                // Closed already (unpaid, or refunded in full): nothing to cancel.
                Ok(trade) if trade.trade_status == TradeStatus::TradeClosed => {
                    return Ok(BarcodeOutcome::Cancelled { action: None });
                }
                // Waiting, not visible yet, or unknown: ask again until the deadline.
                Ok(_) | Err(_) => {}
            }
            if tokio::time::Instant::now() + poll_every > deadline {
                break;
            }
            tokio::time::sleep(poll_every).await;
        }
        self.cancel_until_done(charge.out_trade_no(), poll_every, policy.cancel_attempts)
            .await
    }

    /// `alipay.trade.cancel`, repeated while Alipay answers `retry_flag = Y` or the answer is
    /// lost (a cancel is safe to repeat: it closes or refunds the trade once).
    async fn cancel_until_done(
        &self,
        out_trade_no: &str,
        poll_every: Duration,
        attempts: u32,
    ) -> Result<BarcodeOutcome, Error> {
        let cancel = TradeCancel::by_out_trade_no(out_trade_no);
        let mut attempt = 1;
        loop {
            let result = self.execute(&cancel).await;
            let again = match &result {
                Ok(done) => done.retry_flag == Some(true),
                Err(error) => error.is_outcome_unknown(),
            };
            if !again || attempt >= attempts.max(1) {
                return match result {
                    Ok(done) if done.retry_flag == Some(true) => Ok(BarcodeOutcome::Unresolved),
                    Ok(done) => Ok(BarcodeOutcome::Cancelled {
                        action: done.action,
                    }),
                    // The charge never became a trade: nothing to undo.
                    Err(error) if error.verified_sub_code() == Some("ACQ.TRADE_NOT_EXIST") => {
                        Ok(BarcodeOutcome::Cancelled { action: None })
                    }
                    Err(error) => Err(error),
                };
            }
            attempt += 1;
            tokio::time::sleep(poll_every).await;
        }
    }
}
