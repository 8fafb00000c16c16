//! What the use cases need: the database, the Alipay client, the settings that shape payments,
//! and the limits that keep a burst of requests from taking the machine.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::hashers::Hashers;
use crate::payments::notify::batch::Batches;
use crate::store::Db;
use crate::store::order_writer::OrderWriter;

/// Settings the payment logic reads, taken from [`crate::config::Config`] once at start.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Unpaid orders close after this long.
    pub order_ttl: Duration,
    /// First reconciliation check this long after a pay link is issued.
    pub reconcile_after: Duration,
    /// First retry delay of an undecided reconciliation check (and of an undecided refund).
    pub reconcile_backoff: Duration,
    /// A returning browser makes the shop ask Alipay at most once per order per this long, so
    /// reloading the return page cannot turn the shop into a query cannon.
    pub return_check_interval: Duration,
    /// Rejected notifications (bad signature, malformed, not ours) are deleted after this long.
    pub rejected_retention: Duration,
    /// The merchant's Alipay user id, checked against notifications when set.
    pub seller_id: Option<String>,
    /// Where the browser lands after paying (`…/pay/success`).
    pub frontend_url: String,
    /// The shop's own public URL.
    pub public_url: String,
    /// When the jobs settle the day before against Alipay's bill (`None`: they do not).
    pub settle: Option<crate::payments::settlement::Schedule>,
}

/// Bounds on work a stranger can cause.
#[derive(Debug)]
pub struct Limits {
    /// The threads that hash passwords (argon2id, ~19 MiB each), about one per core.
    pub password_hashing: Hashers,
    /// Rejected notifications stored per sender address per minute (`None`: unlimited).
    pub rejected_notifications: Option<DefaultKeyedRateLimiter<IpAddr>>,
}

impl Limits {
    /// `hashers` concurrent password hashes; `rejected_per_minute` rejected notifications kept
    /// per sender address per minute (0: no limit).
    #[must_use]
    pub fn new(hashers: usize, rejected_per_minute: u32) -> Limits {
        Limits {
            password_hashing: Hashers::new(hashers),
            rejected_notifications: NonZeroU32::new(rejected_per_minute)
                .map(|n| RateLimiter::keyed(Quota::per_minute(n))),
        }
    }
}

impl Default for Limits {
    fn default() -> Limits {
        let cores = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
        Limits::new(cores, 60)
    }
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
    /// Verified notifications, committed in batches (SQLite; `None` on PostgreSQL, where each
    /// commits alone).
    pub notification_batches: Option<Batches>,
    /// Payment settings.
    pub settings: Arc<Settings>,
    /// Bounds on work.
    pub limits: Arc<Limits>,
}
