//! Receiving Alipay's asynchronous notifications: verify, keep, act, answer.
//!
//! Every notification is kept with its verdict. One that verifies is stored whole, in the same
//! transaction as what it caused, and answered `success` only after that commit is durable. On
//! SQLite that transaction is shared: verified notifications are committed in groups
//! ([`batch`]), so one fsync answers many, and a failing one does not fail the others. One that does not verify changes nothing; it is kept for the
//! record, but bounded: at most [`REJECTED_BODY_LIMIT`] bytes of it (with the length and SHA-256
//! of the whole), at most `notify_failures_per_minute` per sender address (beyond that it is
//! answered 429 and not stored), and only for `rejected_retention_days`.

pub mod batch;

use std::net::IpAddr;

use aws_lc_rs::digest;

use super::confirm::{self, Outcome, Report};
use super::{Source, refunds, retry_on_conflict};
use crate::context::Context;
use crate::log::cut;
use crate::store::notifications::{self, Received};
use crate::store::{StoreError, Tx, now_ms};

/// How to answer Alipay.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reply {
    /// `success`: handled (and committed); stop sending it.
    Success,
    /// `failure`: not accepted; Alipay will send it again.
    Failure,
    /// Too many failing notifications from this address: refused unread, not stored.
    TooMany,
}

/// How much of a rejected notification is kept.
pub const REJECTED_BODY_LIMIT: usize = 8 * 1024;

/// The verdicts of notifications that did not verify as ours (kept truncated, pruned after the
/// retention period).
pub const REJECTED_VERDICTS: [&str; 4] =
    ["bad_signature", "malformed", "wrong_app", "wrong_seller"];

/// Handles an asynchronous notification's raw body from `peer`.
pub async fn receive_notification(
    ctx: &Context,
    body: &[u8],
    peer: Option<IpAddr>,
) -> Result<Reply, StoreError> {
    let notification = match ctx.alipay.verify_notification(body) {
        Ok(notification) => notification,
        Err(
            error @ (alipay::VerifyError::BadSignature
            | alipay::VerifyError::MissingSign
            | alipay::VerifyError::SignTypeMismatch { .. }),
        ) => {
            return reject(ctx, body, peer, "bad_signature", error.to_string()).await;
        }
        Err(error) => return reject(ctx, body, peer, "malformed", error.to_string()).await,
    };
    if notification.app_id != ctx.alipay.app_id() {
        let detail = format!("app_id {} is not ours", cut(&notification.app_id));
        return reject(ctx, body, peer, "wrong_app", detail).await;
    }
    if let Some(seller_id) = &ctx.settings.seller_id
        && notification.seller_id.as_ref() != Some(seller_id)
    {
        let detail = format!(
            "seller_id {} is not ours",
            cut(notification.seller_id.as_deref().unwrap_or("(none)"))
        );
        return reject(ctx, body, peer, "wrong_seller", detail).await;
    }

    let peer = peer.map(|ip| ip.to_string());
    let batched = match &ctx.notification_batches {
        Some(batches) => batches.commit(&notification, body, peer.as_deref()).await,
        None => None,
    };
    let Handled { verdict, reply } = match batched {
        Some(handled) => handled,
        // Not committed in a batch (none on this database, or it failed in its batch): alone.
        None => {
            retry_on_conflict(|| async {
                let mut tx = ctx.db.begin().await?;
                let handled = handle(&mut tx, ctx, &notification, body, peer.as_deref()).await?;
                tx.commit().await?;
                Ok(handled)
            })
            .await?
        }
    };
    metrics::counter!("shop_notifications_total", "verdict" => verdict).increment(1);
    Ok(reply)
}

/// What a verified notification led to.
#[derive(Clone, Copy, Debug)]
pub struct Handled {
    /// Stored with the notification.
    pub verdict: &'static str,
    /// The answer, once the transaction has committed.
    pub reply: Reply,
}

/// Acts on a verified notification inside `tx` and keeps it with its verdict: the whole of
/// what a notification does, whatever transaction it shares.
async fn handle(
    tx: &mut Tx,
    ctx: &Context,
    notification: &alipay::Notification,
    body: &[u8],
    peer: Option<&str>,
) -> Result<Handled, StoreError> {
    let (verdict, detail, reply) = if is_refund(notification) {
        let (verdict, detail) = refunds::notified(tx, ctx, notification).await?;
        let reply = if verdict == "unknown_order" {
            Reply::Failure
        } else {
            Reply::Success
        };
        (verdict, detail, reply)
    } else {
        let report = Report {
            status: notification
                .trade_status
                .clone()
                .unwrap_or_else(|| alipay::TradeStatus::parse("")),
            trade_no: notification.trade_no.clone(),
            amount: notification.total_amount,
            paid_at: notification.gmt_payment,
        };
        let outcome =
            confirm::apply_report(tx, ctx, &notification.out_trade_no, &report, Source::Notify)
                .await?;
        let reply = match outcome {
            Outcome::UnknownOrder | Outcome::Incomplete => Reply::Failure,
            _ => Reply::Success,
        };
        let detail = match outcome {
            Outcome::Waiting => format!("trade_status {}", report.status.as_str()),
            Outcome::Incomplete => "no total_amount".to_owned(),
            _ => String::new(),
        };
        (outcome.verdict(), detail, reply)
    };
    notifications::record(
        tx,
        &Received {
            body,
            verdict,
            notify_id: Some(&notification.notify_id),
            out_trade_no: Some(&notification.out_trade_no),
            trade_status: notification
                .trade_status
                .as_ref()
                .map(alipay::TradeStatus::as_str),
            detail: &detail,
            body_len: body.len(),
            body_sha256: None,
            peer,
        },
    )
    .await?;
    Ok(Handled { verdict, reply })
}

/// A refund notification names the refund (`out_biz_no`) or carries a refunded amount.
fn is_refund(notification: &alipay::Notification) -> bool {
    notification.out_biz_no.is_some()
        || notification
            .refund_fee
            .is_some_and(|fee| fee > alipay::Money::ZERO)
}

/// Keeps (a bounded prefix of) a notification that changes nothing, and answers `failure`; or,
/// past the sender's limit, keeps nothing and answers 429.
async fn reject(
    ctx: &Context,
    body: &[u8],
    peer: Option<IpAddr>,
    verdict: &'static str,
    detail: String,
) -> Result<Reply, StoreError> {
    if let (Some(limiter), Some(ip)) = (&ctx.limits.rejected_notifications, peer)
        && limiter.check_key(&ip).is_err()
    {
        metrics::counter!("shop_notifications_total", "verdict" => "rate_limited").increment(1);
        return Ok(Reply::TooMany);
    }
    metrics::counter!("shop_notifications_total", "verdict" => verdict).increment(1);
    tracing::warn!(verdict, detail = %cut(&detail), "notification rejected");
    let kept = &body[..body.len().min(REJECTED_BODY_LIMIT)];
    let digest = hex(digest::digest(&digest::SHA256, body).as_ref());
    let fields = alipay::content::parse_form(kept).unwrap_or_default();
    let field = |name: &str| fields.get(name).map(|v| bounded(v));
    let peer_text = peer.map(|ip| ip.to_string());
    let detail = bounded(&detail);
    notifications::record_alone(
        &ctx.db,
        &Received {
            body: kept,
            verdict,
            notify_id: field("notify_id"),
            out_trade_no: field("out_trade_no"),
            trade_status: field("trade_status"),
            detail,
            body_len: body.len(),
            body_sha256: Some(&digest),
            peer: peer_text.as_deref(),
        },
    )
    .await?;
    Ok(Reply::Failure)
}

/// At most 256 bytes of a value from a rejected body (on a character boundary).
fn bounded(value: &str) -> &str {
    let mut end = value.len().min(256);
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    &value[..end]
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Deletes rejected notifications older than the retention period (verified ones are kept);
/// returns how many went.
pub async fn prune_rejected(ctx: &Context) -> Result<u64, StoreError> {
    let before = now_ms() - super::millis(ctx.settings.rejected_retention);
    let mut gone = 0;
    loop {
        let n = notifications::prune(&ctx.db, &REJECTED_VERDICTS, before, 1000).await?;
        gone += n;
        if n < 1000 {
            break;
        }
    }
    if let Some(limiter) = &ctx.limits.rejected_notifications {
        limiter.retain_recent();
    }
    Ok(gone)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_cuts_on_a_character_boundary() {
        let value = "支".repeat(200);
        let cut = bounded(&value);
        assert!(cut.len() <= 256);
        assert!(value.starts_with(cut));
        assert_eq!(bounded("ok"), "ok");
    }
}
