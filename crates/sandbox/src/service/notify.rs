//! Delivering notifications on Alipay's schedule (spec §9.1).
//!
//! A notification is delivered until the merchant answers HTTP 200 with the body `success`:
//! immediately, then after 4m, 10m, 10m, 1h, 2h, 6h and 15h (8 attempts in all), every delay
//! multiplied by `time_scale`. Each attempt carries the same `notify_id` and a fresh
//! `notify_time`, re-signed. The schedule is in the database, so a restarted sandbox resumes
//! pending deliveries where it stopped; every attempt is logged with the answer received.
//!
//! Attempts for the same trade are not sent concurrently, so a payment notification is never
//! overtaken by the refund that follows it, unless a `reorder_notifications` fault says so.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use alipay::content::Params;
use reqwest::header::CONTENT_TYPE;
use tokio::sync::{Notify, watch};

use crate::error::SandboxError;
use crate::faults::NotificationFaults;
use crate::messages;
use crate::service::Shared;
use crate::store::{self, AttemptResult, NewDelivery, NotificationRow};

/// The waits between attempts at Alipay's real pace (before `time_scale`).
pub const RETRY_DELAYS: [Duration; 7] = [
    Duration::from_secs(4 * 60),
    Duration::from_secs(10 * 60),
    Duration::from_secs(10 * 60),
    Duration::from_secs(60 * 60),
    Duration::from_secs(2 * 60 * 60),
    Duration::from_secs(6 * 60 * 60),
    Duration::from_secs(15 * 60 * 60),
];

/// Attempts per notification: the first, plus one per retry delay.
pub const ATTEMPTS: i64 = RETRY_DELAYS.len() as i64 + 1;

/// The longest part of a merchant's answer that is kept in the log.
const MAX_LOGGED_RESPONSE: usize = 4096;

/// The longest the dispatcher sleeps without looking at the schedule again.
const DISPATCH_POLL: Duration = Duration::from_secs(60);

/// The dispatcher's in-memory bookkeeping.
#[derive(Debug)]
pub(crate) struct DispatchState {
    /// Wakes the dispatcher (a notification was queued or an attempt finished).
    pub wake: Notify,
    in_flight: Mutex<HashMap<i64, InFlight>>,
    /// Counts notifications sent, so a reordered one knows when another has overtaken it.
    sent: watch::Sender<u64>,
}

#[derive(Debug)]
struct InFlight {
    trade: (String, String),
    /// Whether later notifications of the same trade must wait for this one.
    blocking: bool,
}

impl DispatchState {
    pub(crate) fn new() -> DispatchState {
        DispatchState {
            wake: Notify::new(),
            in_flight: Mutex::new(HashMap::new()),
            sent: watch::channel(0).0,
        }
    }

    fn in_flight(&self) -> MutexGuard<'_, HashMap<i64, InFlight>> {
        // Entries are inserted and removed whole; a poisoned map is still consistent.
        self.in_flight
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Claims a notification for delivery unless it, or an earlier one of its trade, is on its way.
    fn claim(&self, row: &NotificationRow) -> bool {
        let trade = (row.app_id.clone(), row.out_trade_no.clone());
        let mut in_flight = self.in_flight();
        if in_flight.contains_key(&row.id)
            || in_flight
                .values()
                .any(|other| other.blocking && other.trade == trade)
        {
            return false;
        }
        in_flight.insert(
            row.id,
            InFlight {
                trade,
                blocking: true,
            },
        );
        true
    }

    fn unblock(&self, id: i64) {
        if let Some(entry) = self.in_flight().get_mut(&id) {
            entry.blocking = false;
        }
    }

    fn release(&self, id: i64) {
        self.in_flight().remove(&id);
        self.wake.notify_one();
    }

    fn is_in_flight(&self, id: i64) -> bool {
        self.in_flight().contains_key(&id)
    }
}

/// The delay before attempt `attempt + 1`, scaled; `None` after the last attempt.
#[must_use]
pub fn delay_after(attempt: i64, time_scale: f64) -> Option<Duration> {
    let index = usize::try_from(attempt).ok()?.checked_sub(1)?;
    RETRY_DELAYS
        .get(index)
        .map(|delay| delay.mul_f64(time_scale))
}

/// Runs the dispatcher until shutdown.
pub(crate) async fn run(shared: Arc<Shared>) {
    let mut shutdown = shared.shutdown.subscribe();
    loop {
        let wait = match dispatch_due(&shared).await {
            Ok(Some(next_ms)) => {
                let now_ms = store::to_ms(alipay::time::now());
                Duration::from_millis(u64::try_from(next_ms - now_ms).unwrap_or(0))
                    .min(DISPATCH_POLL)
            }
            Ok(None) => DISPATCH_POLL,
            Err(error) => {
                tracing::error!(%error, "notification dispatcher failed");
                Duration::from_secs(1)
            }
        };
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = shared.dispatch.wake.notified() => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// Starts every due attempt; returns when the next pending one is due.
async fn dispatch_due(shared: &Arc<Shared>) -> Result<Option<i64>, SandboxError> {
    let now_ms = store::to_ms(alipay::time::now());
    let (due, schedule) = {
        let mut conn = shared.store.conn().await?;
        (
            store::due_notifications(&mut conn, now_ms, 256).await?,
            store::pending_schedule(&mut conn).await?,
        )
    };
    for row in due {
        if shared.dispatch.claim(&row) {
            tokio::spawn(deliver_scheduled(Arc::clone(shared), row));
        }
    }
    // Due rows left unclaimed wait for an earlier notification of their trade (or for room in
    // this batch); the release of an attempt wakes the dispatcher for them, so only the future
    // matters here (looking at them would spin).
    Ok(schedule
        .into_iter()
        .filter(|(id, _)| !shared.dispatch.is_in_flight(*id))
        .map(|(_, at)| at)
        .find(|at| *at > now_ms))
}

/// One scheduled attempt, faults and all, then the schedule moves on.
async fn deliver_scheduled(shared: Arc<Shared>, row: NotificationRow) {
    let id = row.id;
    if let Err(error) = attempt_scheduled(&shared, &row).await {
        tracing::error!(%error, notify.id = %row.notify_id, "notification attempt failed");
        // Leave the row as it was; it is due again once the dispatcher looks.
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    shared.dispatch.release(id);
}

async fn attempt_scheduled(shared: &Shared, row: &NotificationRow) -> Result<(), SandboxError> {
    let faults = shared.faults.for_notification();
    let fault = faults.label();
    if let Some(delay) = faults.delay {
        tokio::time::sleep(delay).await;
    }
    if let Some(max_wait) = faults.reorder {
        let mut sent = shared.dispatch.sent.subscribe();
        sent.mark_unchanged();
        shared.dispatch.unblock(row.id);
        shared.dispatch.wake.notify_one();
        // Held back until another notification has gone out, or for at most `max_wait`.
        let _ = tokio::time::timeout(max_wait, sent.changed()).await;
    }
    let attempt = row.attempts + 1;
    let mut acknowledged = false;
    let copies = if faults.duplicate { 2 } else { 1 };
    for _ in 0..copies {
        let exchange = send(shared, row, &faults).await?;
        acknowledged |= exchange.acknowledged;
        log_attempt(shared, row, attempt, exchange, fault.clone()).await?;
    }
    let result = if acknowledged {
        AttemptResult::Acknowledged
    } else {
        match delay_after(attempt, shared.config.time_scale) {
            Some(delay) if attempt < ATTEMPTS => AttemptResult::RetryAt(
                store::to_ms(alipay::time::now())
                    + i64::try_from(delay.as_millis()).unwrap_or(i64::MAX / 2),
            ),
            _ => AttemptResult::Exhausted,
        }
    };
    let mut conn = shared.store.conn().await?;
    store::finish_attempt(&mut conn, row.id, true, result).await?;
    if result == AttemptResult::Exhausted {
        tracing::warn!(
            notify.id = %row.notify_id,
            "notification for {} given up after {ATTEMPTS} attempts",
            row.out_trade_no
        );
    }
    Ok(())
}

/// Redelivers a notification now, outside the schedule and without faults.
pub(crate) async fn deliver_now(
    shared: &Shared,
    id_or_notify_id: &str,
) -> Result<store::DeliveryRow, SandboxError> {
    let row = {
        let mut conn = shared.store.conn().await?;
        store::notification(&mut conn, id_or_notify_id)
            .await?
            .ok_or_else(|| SandboxError::NotFound(format!("no notification {id_or_notify_id}")))?
    };
    let exchange = send(shared, &row, &NotificationFaults::default()).await?;
    let acknowledged = exchange.acknowledged;
    log_attempt(shared, &row, 0, exchange, None).await?;
    let mut conn = shared.store.conn().await?;
    if acknowledged {
        store::finish_attempt(&mut conn, row.id, false, AttemptResult::Acknowledged).await?;
    }
    store::deliveries(&mut conn, Some(&row.out_trade_no), i64::MAX)
        .await?
        .into_iter()
        .rev()
        .find(|d| d.notification_id == row.id)
        .ok_or_else(|| SandboxError::Corrupt("a logged attempt vanished".into()))
}

/// What one HTTP exchange with the merchant gave.
struct Exchange {
    body: String,
    status: Option<u16>,
    response: Option<String>,
    error: Option<String>,
    acknowledged: bool,
    at_ms: i64,
}

async fn send(
    shared: &Shared,
    row: &NotificationRow,
    faults: &NotificationFaults,
) -> Result<Exchange, SandboxError> {
    let fields: Params = serde_json::from_str(&row.fields)
        .map_err(|e| SandboxError::Corrupt(format!("notification {}: {e}", row.id)))?;
    let now = alipay::time::now();
    let body = signed_body(shared, row, &fields, now).await?;
    let at_ms = store::to_ms(now);
    if faults.drop {
        return Ok(Exchange {
            body,
            status: None,
            response: None,
            error: Some("dropped by an injected fault".into()),
            acknowledged: false,
            at_ms,
        });
    }
    {
        // From now on the notify_id is one the sandbox sent (notify_verify).
        let mut conn = shared.store.conn().await?;
        store::mark_sent(&mut conn, row.id, at_ms).await?;
    }
    let answer = shared
        .http
        .post(&row.notify_url)
        .header(
            CONTENT_TYPE,
            "application/x-www-form-urlencoded; charset=utf-8",
        )
        .body(body.clone())
        .send()
        .await;
    let exchange = match answer {
        Ok(response) => {
            let status = response.status().as_u16();
            let text = match response.bytes().await {
                Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
                Err(error) => format!("(body unreadable: {error})"),
            };
            let acknowledged = status == 200 && text.trim() == "success";
            Exchange {
                body,
                status: Some(status),
                response: Some(truncate(text)),
                error: None,
                acknowledged,
                at_ms,
            }
        }
        Err(error) => Exchange {
            body,
            status: None,
            response: None,
            error: Some(error.to_string()),
            acknowledged: false,
            at_ms,
        },
    };
    shared.dispatch.sent.send_modify(|count| *count += 1);
    tracing::info!(
        notify.id = %row.notify_id,
        http.status = exchange.status,
        acknowledged = exchange.acknowledged,
        "notification {} for {} delivered",
        row.trade_status,
        row.out_trade_no
    );
    Ok(exchange)
}

/// The form body of one attempt, signed as its merchant expects: MD5 with the partner's key for
/// the legacy interface, otherwise RSA with the key that signs for the app now (the current
/// Alipay certificate's in certificate mode).
async fn signed_body(
    shared: &Shared,
    row: &NotificationRow,
    fields: &Params,
    now: time::OffsetDateTime,
) -> Result<String, SandboxError> {
    if row.sign_type == crate::messages::legacy::SIGN_TYPE {
        let partner = {
            let mut conn = shared.store.conn().await?;
            store::partner(&mut conn, &row.app_id).await?
        }
        .ok_or_else(|| SandboxError::NotFound(format!("partner {} is gone", row.app_id)))?;
        return Ok(crate::messages::legacy::notification_body(
            fields,
            now,
            &partner.md5_key,
        ));
    }
    let app = {
        let mut conn = shared.store.conn().await?;
        store::app(&mut conn, &row.app_id).await?
    };
    let key = match &app {
        Some(app) => shared.signer_for(app).await?.0,
        None => std::sync::Arc::clone(&shared.key),
    };
    Ok(messages::notification_body(
        fields,
        now,
        &key,
        row.sign_type()?,
    ))
}

fn truncate(mut text: String) -> String {
    if text.len() > MAX_LOGGED_RESPONSE {
        let mut end = MAX_LOGGED_RESPONSE;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push('…');
    }
    text
}

async fn log_attempt(
    shared: &Shared,
    row: &NotificationRow,
    attempt: i64,
    exchange: Exchange,
    fault: Option<String>,
) -> Result<(), SandboxError> {
    let mut conn = shared.store.conn().await?;
    store::insert_delivery(
        &mut conn,
        &NewDelivery {
            notification_id: row.id,
            attempt,
            body: exchange.body,
            status: exchange.status,
            response: exchange.response,
            error: exchange.error,
            fault,
            acknowledged: exchange.acknowledged,
            attempted_ms: exchange.at_ms,
        },
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_is_alipays_scaled() {
        assert_eq!(ATTEMPTS, 8);
        assert_eq!(delay_after(1, 1.0), Some(Duration::from_secs(240)));
        assert_eq!(delay_after(7, 1.0), Some(Duration::from_secs(15 * 3600)));
        assert_eq!(delay_after(8, 1.0), None);
        assert_eq!(delay_after(0, 1.0), None);
        assert_eq!(delay_after(1, 0.001), Some(Duration::from_millis(240)));
        let total: Duration = (1..ATTEMPTS).filter_map(|a| delay_after(a, 1.0)).sum();
        assert_eq!(total, Duration::from_secs(24 * 3600 + 24 * 60));
    }
}
