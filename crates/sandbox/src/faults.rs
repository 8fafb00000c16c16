//! Injected faults: the sandbox misbehaves on purpose, the way the real network and gateway do,
//! so merchants can test their retries, idempotency and reconciliation.
//!
//! Each fault applies to the next `count` matching events and is then used up:
//!
//! | kind | event | effect |
//! |---|---|---|
//! | `drop_notifications` | a notification attempt | not sent; counts as a failed attempt, retried on schedule |
//! | `delay_notifications` | a notification attempt | sent after `delay_ms` |
//! | `duplicate_notifications` | a notification attempt | sent twice (same `notify_id`) |
//! | `reorder_notifications` | a notification attempt | held back until the next notification has been delivered (or `delay_ms` passed) |
//! | `fail_api` | an API call (optionally one `method`) | answered `ACQ.SYSTEM_ERROR` without doing anything |
//! | `slow_api` | an API call (optionally one `method`) | answered after `delay_ms` |
//! | `bad_signature` | an API call (optionally one `method`) | the call takes effect, but the answer is signed with a key that is not the sandbox's |
//! | `garbled` | an API call (optionally one `method`) | the call takes effect, but the answer is HTTP 200 with an HTML body (a proxy's error page) |
//!
//! `bad_signature` and `garbled` are what a network fault *after* Alipay acted looks like to a
//! merchant: something happened, and the answer cannot be trusted. A client must treat both as
//! "outcome unknown" and ask again, never as a refusal. They apply to the trade APIs, not to the
//! page-pay redirects.
//!
//! Faults live in memory: they are test scaffolding, not state worth surviving a restart.

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::SandboxError;

/// What goes wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum FaultKind {
    /// Notification attempts are lost.
    DropNotifications,
    /// Notification attempts are late.
    DelayNotifications,
    /// Notification attempts are sent twice.
    DuplicateNotifications,
    /// Notification attempts overtake each other.
    ReorderNotifications,
    /// API calls fail with `ACQ.SYSTEM_ERROR`.
    FailApi,
    /// API calls are slow.
    SlowApi,
    /// API calls take effect but are answered with a signature that does not verify.
    BadSignature,
    /// API calls take effect but are answered with an HTML page.
    Garbled,
}

impl FaultKind {
    /// Whether the fault applies to notification attempts (rather than API calls).
    #[must_use]
    pub const fn is_notification(self) -> bool {
        matches!(
            self,
            FaultKind::DropNotifications
                | FaultKind::DelayNotifications
                | FaultKind::DuplicateNotifications
                | FaultKind::ReorderNotifications
        )
    }

    /// The wire name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            FaultKind::DropNotifications => "drop_notifications",
            FaultKind::DelayNotifications => "delay_notifications",
            FaultKind::DuplicateNotifications => "duplicate_notifications",
            FaultKind::ReorderNotifications => "reorder_notifications",
            FaultKind::FailApi => "fail_api",
            FaultKind::SlowApi => "slow_api",
            FaultKind::BadSignature => "bad_signature",
            FaultKind::Garbled => "garbled",
        }
    }
}

/// `POST /api/faults` body.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultRequest {
    /// What goes wrong.
    pub kind: FaultKind,
    /// For how many events (default 1).
    pub count: Option<u32>,
    /// Delay for `delay_notifications`, `slow_api` and the `reorder_notifications` fallback.
    pub delay_ms: Option<u64>,
    /// Limits an API fault to one method, e.g. `alipay.trade.refund`.
    pub method: Option<String>,
}

/// An active fault.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Fault {
    /// Identifier.
    pub id: u64,
    /// What goes wrong.
    pub kind: FaultKind,
    /// Events left.
    pub remaining: u32,
    /// Delay, where it applies.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<u64>,
    /// Method filter.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
}

/// The default delay of `delay_notifications` and `slow_api`, and how long a reordered
/// notification waits for another one to overtake it.
pub const DEFAULT_DELAY: Duration = Duration::from_millis(1000);

/// The faults in force.
#[derive(Debug, Default)]
pub struct Faults {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    next_id: u64,
    active: Vec<Fault>,
}

/// What the faults make of one notification attempt.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NotificationFaults {
    /// Do not send.
    pub drop: bool,
    /// Wait this long first.
    pub delay: Option<Duration>,
    /// Send twice.
    pub duplicate: bool,
    /// Wait for another notification to go first (at most this long).
    pub reorder: Option<Duration>,
}

impl NotificationFaults {
    /// The names of the faults that applied, for the delivery log.
    #[must_use]
    pub fn label(&self) -> Option<String> {
        let mut names = Vec::new();
        if self.drop {
            names.push("dropped");
        }
        if self.delay.is_some() {
            names.push("delayed");
        }
        if self.duplicate {
            names.push("duplicated");
        }
        if self.reorder.is_some() {
            names.push("reordered");
        }
        (!names.is_empty()).then(|| names.join(","))
    }
}

/// What the faults make of one API call.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ApiFaults {
    /// Answer `ACQ.SYSTEM_ERROR`.
    pub fail: bool,
    /// Wait this long first.
    pub delay: Option<Duration>,
    /// What becomes of the answer after the call took effect.
    pub answer: Answer,
}

/// How the answer to an API call that took effect is delivered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Answer {
    /// Signed by the sandbox, as it should be.
    #[default]
    Genuine,
    /// Signed with a key that is not the sandbox's.
    BadSignature,
    /// Replaced by an HTML page.
    Garbled,
}

impl Faults {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding this lock cannot leave the list inconsistent (every update is a
        // single push, retain or decrement), so a poisoned lock is still usable.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Adds a fault.
    pub fn add(&self, request: FaultRequest) -> Result<Fault, SandboxError> {
        let count = request.count.unwrap_or(1);
        if count == 0 {
            return Err(SandboxError::BadRequest("count must be at least 1".into()));
        }
        if request.method.is_some() && request.kind.is_notification() {
            return Err(SandboxError::BadRequest(format!(
                "method applies to API faults only, not {}",
                request.kind.as_str()
            )));
        }
        if request.delay_ms.is_some()
            && matches!(
                request.kind,
                FaultKind::DropNotifications
                    | FaultKind::DuplicateNotifications
                    | FaultKind::FailApi
                    | FaultKind::BadSignature
                    | FaultKind::Garbled
            )
        {
            return Err(SandboxError::BadRequest(format!(
                "delay_ms does not apply to {}",
                request.kind.as_str()
            )));
        }
        let mut inner = self.lock();
        inner.next_id += 1;
        let fault = Fault {
            id: inner.next_id,
            kind: request.kind,
            remaining: count,
            delay_ms: request.delay_ms,
            method: request.method,
        };
        inner.active.push(fault.clone());
        Ok(fault)
    }

    /// The faults in force.
    #[must_use]
    pub fn list(&self) -> Vec<Fault> {
        self.lock().active.clone()
    }

    /// Removes every fault.
    pub fn clear(&self) {
        self.lock().active.clear();
    }

    /// Uses up one count of the first active fault of `kind` matching `method`.
    fn take(inner: &mut Inner, kind: FaultKind, method: Option<&str>) -> Option<Fault> {
        let index = inner.active.iter().position(|fault| {
            fault.kind == kind
                && match (&fault.method, method) {
                    (Some(wanted), Some(method)) => wanted == method,
                    (Some(_), None) => false,
                    (None, _) => true,
                }
        })?;
        let fault = &mut inner.active[index];
        fault.remaining -= 1;
        let taken = fault.clone();
        if fault.remaining == 0 {
            inner.active.remove(index);
        }
        Some(taken)
    }

    /// Decides the fate of one scheduled notification attempt.
    #[must_use]
    pub fn for_notification(&self) -> NotificationFaults {
        let mut inner = self.lock();
        let delay = |fault: Fault| fault.delay_ms.map_or(DEFAULT_DELAY, Duration::from_millis);
        NotificationFaults {
            drop: Self::take(&mut inner, FaultKind::DropNotifications, None).is_some(),
            delay: Self::take(&mut inner, FaultKind::DelayNotifications, None).map(delay),
            duplicate: Self::take(&mut inner, FaultKind::DuplicateNotifications, None).is_some(),
            reorder: Self::take(&mut inner, FaultKind::ReorderNotifications, None).map(delay),
        }
    }

    /// Decides the fate of one API call to `method`; `answers_json` tells whether the method
    /// answers with a signed JSON body (the trade APIs) rather than a page (page pay), which
    /// is what `bad_signature` and `garbled` alter.
    #[must_use]
    pub fn for_api(&self, method: &str, answers_json: bool) -> ApiFaults {
        let mut inner = self.lock();
        let fail = Self::take(&mut inner, FaultKind::FailApi, Some(method)).is_some();
        let delay = Self::take(&mut inner, FaultKind::SlowApi, Some(method))
            .map(|fault| fault.delay_ms.map_or(DEFAULT_DELAY, Duration::from_millis));
        let answer = if !answers_json || fail {
            Answer::Genuine
        } else if Self::take(&mut inner, FaultKind::Garbled, Some(method)).is_some() {
            Answer::Garbled
        } else if Self::take(&mut inner, FaultKind::BadSignature, Some(method)).is_some() {
            Answer::BadSignature
        } else {
            Answer::Genuine
        };
        ApiFaults {
            fail,
            delay,
            answer,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(kind: FaultKind, count: u32, method: Option<&str>) -> FaultRequest {
        FaultRequest {
            kind,
            count: Some(count),
            delay_ms: None,
            method: method.map(str::to_owned),
        }
    }

    #[test]
    fn faults_are_used_up_count_by_count() {
        let faults = Faults::default();
        faults
            .add(request(FaultKind::DropNotifications, 2, None))
            .unwrap();
        assert!(faults.for_notification().drop);
        assert_eq!(faults.list()[0].remaining, 1);
        assert!(faults.for_notification().drop);
        assert!(!faults.for_notification().drop);
        assert!(faults.list().is_empty());
    }

    #[test]
    fn api_faults_can_target_one_method() {
        let faults = Faults::default();
        faults
            .add(request(FaultKind::FailApi, 1, Some("alipay.trade.refund")))
            .unwrap();
        assert!(!faults.for_api("alipay.trade.query", true).fail);
        assert!(faults.for_api("alipay.trade.refund", true).fail);
        assert!(!faults.for_api("alipay.trade.refund", true).fail);
        faults.add(request(FaultKind::SlowApi, 1, None)).unwrap();
        assert_eq!(
            faults.for_api("alipay.trade.query", true).delay,
            Some(DEFAULT_DELAY)
        );
    }

    #[test]
    fn untrustworthy_answers_apply_to_json_answers_only() {
        let faults = Faults::default();
        faults.add(request(FaultKind::Garbled, 1, None)).unwrap();
        faults
            .add(request(
                FaultKind::BadSignature,
                2,
                Some("alipay.trade.refund"),
            ))
            .unwrap();
        assert_eq!(
            faults.for_api("alipay.trade.page.pay", false).answer,
            Answer::Genuine,
            "a page is not a signed answer"
        );
        assert_eq!(
            faults.for_api("alipay.trade.query", true).answer,
            Answer::Garbled
        );
        assert_eq!(
            faults.for_api("alipay.trade.query", true).answer,
            Answer::Genuine
        );
        assert_eq!(
            faults.for_api("alipay.trade.refund", true).answer,
            Answer::BadSignature
        );
        assert_eq!(
            faults.for_api("alipay.trade.refund", true).answer,
            Answer::BadSignature
        );
        assert!(faults.list().is_empty());
    }

    #[test]
    fn nonsense_is_refused() {
        let faults = Faults::default();
        assert!(faults.add(request(FaultKind::FailApi, 0, None)).is_err());
        assert!(
            faults
                .add(request(FaultKind::DropNotifications, 1, Some("x")))
                .is_err()
        );
        let mut delayed_drop = request(FaultKind::DropNotifications, 1, None);
        delayed_drop.delay_ms = Some(5);
        assert!(faults.add(delayed_drop).is_err());
        assert!(serde_json::from_str::<FaultRequest>(r#"{"kind":"explode","count":1}"#).is_err());
    }
}
