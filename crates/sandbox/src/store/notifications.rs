//! Notifications, their delivery attempts, and the `notify_id`s `notify_verify` confirms.

use alipay::SignType;
use sqlx::{FromRow, SqliteConnection};

use crate::error::SandboxError;

// ---------------------------------------------------------------------------------------------
// notify_verify

/// Records that a notification is going out now.
pub async fn mark_sent(
    conn: &mut SqliteConnection,
    notification_id: i64,
    at_ms: i64,
) -> Result<(), SandboxError> {
    sqlx::query("UPDATE notifications SET sent_ms = $2 WHERE id = $1")
        .bind(notification_id)
        .bind(at_ms)
        .execute(conn)
        .await?;
    Ok(())
}

/// Records a `notify_id` handed to the browser with a legacy return.
pub async fn insert_return_notify_id(
    conn: &mut SqliteConnection,
    notify_id: &str,
    partner: &str,
    out_trade_no: &str,
    at_ms: i64,
) -> Result<(), SandboxError> {
    sqlx::query(
        "INSERT INTO return_notify_ids (notify_id, partner, out_trade_no, issued_ms)
         VALUES ($1, $2, $3, $4)",
    )
    .bind(notify_id)
    .bind(partner)
    .bind(out_trade_no)
    .bind(at_ms)
    .execute(conn)
    .await?;
    Ok(())
}

/// `notify_verify`: whether `notify_id` is one the sandbox sent `partner` (a notification really
/// sent and not yet acknowledged, or a return), at most `ttl_ms` ago.
pub async fn notify_id_is_genuine(
    conn: &mut SqliteConnection,
    partner: &str,
    notify_id: &str,
    now_ms: i64,
    ttl_ms: i64,
) -> Result<bool, SandboxError> {
    let (count,): (i64,) = sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM notifications
                  WHERE notify_id = $2 AND app_id = $1 AND sign_type = 'MD5'
                    AND sent_ms IS NOT NULL AND state != 'acknowledged' AND sent_ms >= $3)
              + (SELECT COUNT(*) FROM return_notify_ids
                  WHERE notify_id = $2 AND partner = $1 AND issued_ms >= $3)",
    )
    .bind(partner)
    .bind(notify_id)
    .bind(now_ms - ttl_ms)
    .fetch_one(conn)
    .await?;
    Ok(count > 0)
}

// ---------------------------------------------------------------------------------------------
// Notifications

/// A notification waiting to be (or already) delivered.
#[derive(Clone, Debug, FromRow)]
pub struct NotificationRow {
    /// Row id (what `POST /api/notifications/{id}/deliver` takes).
    pub id: i64,
    /// Constant across attempts.
    pub notify_id: String,
    /// The app.
    pub app_id: String,
    /// The order.
    pub out_trade_no: String,
    /// The `trade_status` it reports.
    pub trade_status: String,
    /// Where it goes.
    pub notify_url: String,
    /// The fields, JSON.
    pub fields: String,
    /// `RSA2` or `RSA`.
    pub sign_type: String,
    /// `pending`, `acknowledged` or `exhausted`.
    pub state: String,
    /// Scheduled attempts made.
    pub attempts: i64,
    /// When the next scheduled attempt is due.
    pub next_attempt_ms: Option<i64>,
    /// Creation.
    pub created_ms: i64,
}

impl NotificationRow {
    /// The signature algorithm.
    pub fn sign_type(&self) -> Result<SignType, SandboxError> {
        self.sign_type
            .parse()
            .map_err(|e: alipay::keys::UnknownSignType| SandboxError::Corrupt(e.to_string()))
    }
}

/// What a new notification is made of.
#[derive(Clone, Debug)]
pub struct NewNotification {
    /// Constant across attempts.
    pub notify_id: String,
    /// The app.
    pub app_id: String,
    /// The order.
    pub out_trade_no: String,
    /// The reported status.
    pub trade_status: String,
    /// Where to.
    pub notify_url: String,
    /// Fields as JSON.
    pub fields: String,
    /// `RSA2` / `RSA`, or `MD5` for the legacy interface.
    pub sign_type: String,
    /// Creation (and first attempt).
    pub created_ms: i64,
}

/// Queues a notification for immediate delivery.
pub async fn insert_notification(
    conn: &mut SqliteConnection,
    new: &NewNotification,
) -> Result<i64, SandboxError> {
    let result = sqlx::query(
        "INSERT INTO notifications (notify_id, app_id, out_trade_no, trade_status, notify_url,
             fields, sign_type, state, attempts, next_attempt_ms, created_ms)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', 0, $8, $8)",
    )
    .bind(&new.notify_id)
    .bind(&new.app_id)
    .bind(&new.out_trade_no)
    .bind(&new.trade_status)
    .bind(&new.notify_url)
    .bind(&new.fields)
    .bind(&new.sign_type)
    .bind(new.created_ms)
    .execute(conn)
    .await?;
    Ok(result.last_insert_rowid())
}

/// Pending notifications due by `now_ms`, oldest first.
pub async fn due_notifications(
    conn: &mut SqliteConnection,
    now_ms: i64,
    limit: i64,
) -> Result<Vec<NotificationRow>, SandboxError> {
    Ok(sqlx::query_as::<_, NotificationRow>(
        "SELECT * FROM notifications WHERE state = 'pending' AND next_attempt_ms <= $1
         ORDER BY next_attempt_ms, id LIMIT $2",
    )
    .bind(now_ms)
    .bind(limit)
    .fetch_all(conn)
    .await?)
}

/// Pending notifications in order (the dispatcher filters those in flight).
pub async fn pending_schedule(
    conn: &mut SqliteConnection,
) -> Result<Vec<(i64, i64)>, SandboxError> {
    Ok(sqlx::query_as::<_, (i64, i64)>(
        "SELECT id, next_attempt_ms FROM notifications
         WHERE state = 'pending' AND next_attempt_ms IS NOT NULL ORDER BY next_attempt_ms",
    )
    .fetch_all(conn)
    .await?)
}

/// One notification by row id or by `notify_id`.
pub async fn notification(
    conn: &mut SqliteConnection,
    id_or_notify_id: &str,
) -> Result<Option<NotificationRow>, SandboxError> {
    let by_notify_id =
        sqlx::query_as::<_, NotificationRow>("SELECT * FROM notifications WHERE notify_id = $1")
            .bind(id_or_notify_id)
            .fetch_optional(&mut *conn)
            .await?;
    if by_notify_id.is_some() {
        return Ok(by_notify_id);
    }
    let Ok(id) = id_or_notify_id.parse::<i64>() else {
        return Ok(None);
    };
    Ok(
        sqlx::query_as::<_, NotificationRow>("SELECT * FROM notifications WHERE id = $1")
            .bind(id)
            .fetch_optional(conn)
            .await?,
    )
}

/// One delivery attempt, as logged.
#[derive(Clone, Debug)]
pub struct NewDelivery {
    /// The notification.
    pub notification_id: i64,
    /// 1..=8 on the schedule, 0 for a manual redelivery.
    pub attempt: i64,
    /// The exact form body sent.
    pub body: String,
    /// HTTP status received.
    pub status: Option<u16>,
    /// Body received.
    pub response: Option<String>,
    /// Transport error.
    pub error: Option<String>,
    /// The injected fault that shaped this attempt.
    pub fault: Option<String>,
    /// Whether the merchant answered `success`.
    pub acknowledged: bool,
    /// When.
    pub attempted_ms: i64,
}

/// Logs one attempt.
pub async fn insert_delivery(
    conn: &mut SqliteConnection,
    delivery: &NewDelivery,
) -> Result<(), SandboxError> {
    sqlx::query(
        "INSERT INTO deliveries (notification_id, attempt, body, status, response, error, fault,
             acknowledged, attempted_ms)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(delivery.notification_id)
    .bind(delivery.attempt)
    .bind(&delivery.body)
    .bind(delivery.status)
    .bind(&delivery.response)
    .bind(&delivery.error)
    .bind(&delivery.fault)
    .bind(delivery.acknowledged)
    .bind(delivery.attempted_ms)
    .execute(conn)
    .await?;
    Ok(())
}

/// Where a notification goes after an attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttemptResult {
    /// The merchant answered `success`: no more attempts.
    Acknowledged,
    /// Failed; try again at this instant (ms).
    RetryAt(i64),
    /// Failed, and that was the last attempt of the schedule.
    Exhausted,
}

/// Moves a notification on after an attempt; `scheduled` attempts count towards the schedule,
/// manual redeliveries do not (but their `success` still stops the retries).
pub async fn finish_attempt(
    conn: &mut SqliteConnection,
    notification_id: i64,
    scheduled: bool,
    result: AttemptResult,
) -> Result<(), SandboxError> {
    let counted = i64::from(scheduled);
    match result {
        AttemptResult::Acknowledged => {
            sqlx::query(
                "UPDATE notifications SET state = 'acknowledged', next_attempt_ms = NULL,
                     attempts = attempts + $2 WHERE id = $1",
            )
            .bind(notification_id)
            .bind(counted)
            .execute(conn)
            .await?;
        }
        AttemptResult::RetryAt(_) | AttemptResult::Exhausted if !scheduled => {}
        AttemptResult::RetryAt(at) => {
            sqlx::query(
                "UPDATE notifications SET attempts = attempts + 1, next_attempt_ms = $2
                 WHERE id = $1 AND state = 'pending'",
            )
            .bind(notification_id)
            .bind(at)
            .execute(conn)
            .await?;
        }
        AttemptResult::Exhausted => {
            sqlx::query(
                "UPDATE notifications SET attempts = attempts + 1, next_attempt_ms = NULL,
                     state = 'exhausted' WHERE id = $1 AND state = 'pending'",
            )
            .bind(notification_id)
            .execute(conn)
            .await?;
        }
    }
    Ok(())
}

/// A logged attempt with its notification's identity.
#[derive(Clone, Debug, FromRow)]
pub struct DeliveryRow {
    /// Attempt row id.
    pub id: i64,
    /// The notification's row id.
    pub notification_id: i64,
    /// The notification's `notify_id`.
    pub notify_id: String,
    /// The app.
    pub app_id: String,
    /// The order.
    pub out_trade_no: String,
    /// Reported status.
    pub trade_status: String,
    /// Where it went.
    pub notify_url: String,
    /// Attempt number (0 = manual).
    pub attempt: i64,
    /// Exact body.
    pub body: String,
    /// HTTP status.
    pub status: Option<i64>,
    /// Body received.
    pub response: Option<String>,
    /// Transport error.
    pub error: Option<String>,
    /// Injected fault.
    pub fault: Option<String>,
    /// `success` received.
    pub acknowledged: bool,
    /// When.
    pub attempted_ms: i64,
}

/// Logged attempts, oldest first, optionally for one order only.
pub async fn deliveries(
    conn: &mut SqliteConnection,
    out_trade_no: Option<&str>,
    limit: i64,
) -> Result<Vec<DeliveryRow>, SandboxError> {
    Ok(sqlx::query_as::<_, DeliveryRow>(
        "SELECT d.id, d.notification_id, n.notify_id, n.app_id, n.out_trade_no, n.trade_status,
             n.notify_url, d.attempt, d.body, d.status, d.response, d.error, d.fault,
             d.acknowledged, d.attempted_ms
         FROM deliveries d JOIN notifications n ON n.id = d.notification_id
         WHERE $1 IS NULL OR n.out_trade_no = $1
         ORDER BY d.id LIMIT $2",
    )
    .bind(out_trade_no)
    .bind(limit)
    .fetch_all(conn)
    .await?)
}

/// Every notification, oldest first, optionally for one order only.
pub async fn notifications(
    conn: &mut SqliteConnection,
    out_trade_no: Option<&str>,
) -> Result<Vec<NotificationRow>, SandboxError> {
    Ok(sqlx::query_as::<_, NotificationRow>(
        "SELECT * FROM notifications WHERE $1 IS NULL OR out_trade_no = $1 ORDER BY id",
    )
    .bind(out_trade_no)
    .fetch_all(conn)
    .await?)
}
