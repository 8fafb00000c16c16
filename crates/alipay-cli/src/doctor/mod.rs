//! `alipay doctor`: everything that is commonly wrong with an Alipay configuration, found before
//! the first payment fails, each finding with a one-line fix in Chinese and English.
//!
//! Merchants lose days to a handful of mistakes that all end in the same opaque
//! `isv.invalid-signature` or in notifications that never arrive: a key in the wrong form, the
//! app public key pasted where the Alipay public key belongs (the classic swap), a key pair that
//! is not a pair, certificate files that do not belong together, a `notify_url` on `localhost`.
//! [`diagnose`] checks them all and reports [`Finding`]s; the CLI prints them, the shop may run the
//! same checks at start.
//!
//! Network use is limited to one request to the configured gateway (skipped with
//! [`Options::offline`]) and name resolution of the callback URLs' hosts.

use std::time::Duration;

use serde::Serialize;
use time::OffsetDateTime;

mod certificates;
mod legacy_checks;
mod network;
mod open_api;

use legacy_checks::legacy_checks;
use open_api::open_api;

use alipay::Error;
use alipay::config::AlipayConfig;
use alipay::request::Gateway;

/// How bad a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Checked, fine.
    Ok,
    /// Not checked, or worth knowing.
    Info,
    /// Works here, but not everywhere (a sandbox-only setting, a certificate about to expire).
    Warning,
    /// Payments will fail (or be unsafe) until fixed.
    Error,
}

impl Severity {
    /// `ok`, `info`, `warning`, `error`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Severity::Ok => "ok",
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// One result of one check.
#[derive(Clone, Debug, Serialize)]
pub struct Finding {
    /// Which check (`app_private_key`, `alipay_public_key`, `notify_url`...).
    pub check: &'static str,
    /// How bad.
    pub severity: Severity,
    /// What was found.
    pub message: String,
    /// What to do, in Chinese (empty when nothing is to be done).
    pub fix_zh: String,
    /// What to do, in English (empty when nothing is to be done).
    pub fix_en: String,
}

/// Every finding of a run, in check order.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Report {
    /// The findings.
    pub findings: Vec<Finding>,
}

impl Report {
    /// Whether anything will make payments fail.
    #[must_use]
    pub fn has_errors(&self) -> bool {
        self.count(Severity::Error) > 0
    }

    /// How many findings have this severity.
    #[must_use]
    pub fn count(&self, severity: Severity) -> usize {
        self.findings
            .iter()
            .filter(|f| f.severity == severity)
            .count()
    }

    /// The findings of one check.
    pub fn of<'a>(&'a self, check: &'a str) -> impl Iterator<Item = &'a Finding> + 'a {
        self.findings.iter().filter(move |f| f.check == check)
    }

    /// The worst severity a check reported, if it ran.
    #[must_use]
    pub fn worst(&self, check: &str) -> Option<Severity> {
        self.of(check).map(|f| f.severity).max()
    }

    fn ok(&mut self, check: &'static str, message: impl Into<String>) {
        self.push(check, Severity::Ok, message, "", "");
    }

    fn info(&mut self, check: &'static str, message: impl Into<String>) {
        self.push(check, Severity::Info, message, "", "");
    }

    fn push(
        &mut self,
        check: &'static str,
        severity: Severity,
        message: impl Into<String>,
        fix_zh: impl Into<String>,
        fix_en: impl Into<String>,
    ) {
        self.findings.push(Finding {
            check,
            severity,
            message: message.into(),
            fix_zh: fix_zh.into(),
            fix_en: fix_en.into(),
        });
    }
}

/// How to run the checks.
#[derive(Clone, Debug)]
pub struct Options {
    /// Skip everything that uses the network (the gateway request, name resolution).
    pub offline: bool,
    /// How long the gateway may take to answer.
    pub timeout: Duration,
    /// The instant certificates are checked at (now, by default).
    pub now: OffsetDateTime,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            offline: false,
            timeout: Duration::from_secs(5),
            now: alipay::time::now(),
        }
    }
}

/// Where the configuration points: decides whether an unreachable callback is an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Environment {
    Production,
    Sandbox,
    Local,
}

impl Environment {
    fn of_url(url: &str) -> Environment {
        let host = url::Url::parse(url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_ascii_lowercase))
            .unwrap_or_default();
        if host.ends_with("alipaydev.com") {
            Environment::Sandbox
        } else if host == "alipay.com" || host.ends_with(".alipay.com") {
            Environment::Production
        } else {
            Environment::Local
        }
    }

    fn of(gateway: &Gateway) -> Environment {
        match gateway {
            Gateway::Production => Environment::Production,
            Gateway::Sandbox => Environment::Sandbox,
            Gateway::Url(url) => Environment::of_url(url),
            other => Environment::of_url(other.url()),
        }
    }

    /// The severity of a callback Alipay cannot reach.
    fn unreachable(self) -> Severity {
        if self == Environment::Production {
            Severity::Error
        } else {
            Severity::Warning
        }
    }
}

/// Runs every check on `config`.
pub async fn diagnose(config: &AlipayConfig, options: &Options) -> Report {
    let mut report = Report::default();
    let legacy_only = config.app_id.is_empty() && config.legacy.is_some();
    if !legacy_only {
        open_api(config, options, &mut report).await;
    }
    if let Some(legacy) = &config.legacy {
        legacy_checks(legacy, options, &mut report).await;
    }
    report
}

pub(super) fn key_error(error: Error) -> String {
    match error {
        Error::Key { source, .. } => source.to_string(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environments() {
        assert_eq!(
            Environment::of(&Gateway::Production),
            Environment::Production
        );
        assert_eq!(Environment::of(&Gateway::Sandbox), Environment::Sandbox);
        assert_eq!(
            Environment::of_url("https://mapi.alipay.com/gateway.do"),
            Environment::Production
        );
        assert_eq!(
            Environment::of_url("http://127.0.0.1:8090/gateway.do"),
            Environment::Local
        );
    }
}
