//! What operations ask of a running shop: readiness and the gauges `/metrics` reports.

use crate::context::Context;
use crate::domain::OrderStatus;
use crate::store::{StoreError, anomalies, jobs, notifications, orders};

/// The database answers.
pub async fn ready(ctx: &Context) -> Result<(), StoreError> {
    ctx.db.ping().await
}

/// Sets the gauges read from the database at scrape time, so every instance reports the same
/// totals. A failing read leaves its gauges as they were (the scrape still answers).
pub async fn refresh_gauges(ctx: &Context) {
    if let Ok(counts) = orders::count_by_status(&ctx.db).await {
        for status in OrderStatus::ALL {
            let n = counts
                .iter()
                .find(|(s, _)| s == status.as_str())
                .map_or(0, |(_, n)| *n);
            metrics::gauge!("shop_orders", "status" => status.as_str()).set(n as f64);
        }
    }
    if let Ok(counts) = notifications::count_by_verdict(&ctx.db).await {
        for (verdict, n) in counts {
            metrics::gauge!("shop_notifications_stored", "verdict" => verdict).set(n as f64);
        }
    }
    if let Ok(pending) = jobs::pending(&ctx.db).await {
        metrics::gauge!("shop_jobs_pending").set(pending as f64);
    }
    if let Ok(open) = anomalies::count_open(&ctx.db).await {
        metrics::gauge!("shop_anomalies_open").set(open as f64);
    }
}
