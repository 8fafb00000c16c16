//! What the use cases need: the database, the Alipay client, and the settings that shape payments.

use std::sync::Arc;
use std::time::Duration;

use crate::store::Db;
use crate::store::order_writer::OrderWriter;

/// Settings the payment logic reads, taken from [`crate::config::Config`] once at start.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Unpaid orders close after this long.
    pub order_ttl: Duration,
    /// First reconciliation check this long after a pay link is issued.
    pub reconcile_after: Duration,
    /// First retry delay of an undecided reconciliation check.
    pub reconcile_backoff: Duration,
    /// The merchant's Alipay user id, checked against notifications when set.
    pub seller_id: Option<String>,
    /// Where the browser lands after paying (`…/pay/success`).
    pub frontend_url: String,
    /// The shop's own public URL.
    pub public_url: String,
}

/// Shared by handlers and jobs. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Context {
    /// The database.
    pub db: Db,
    /// Alipay (or the sandbox standing in for it).
    pub alipay: alipay::Client,
    /// New orders, stored in batches.
    pub order_writer: OrderWriter,
    /// Payment settings.
    pub settings: Arc<Settings>,
}
