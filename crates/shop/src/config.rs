//! The shop's configuration: one typed struct, layered by [`figment`]: defaults, then a TOML
//! file, then `SHOP_*` environment variables (environment wins). Every field has a variable:
//! `SHOP_<FIELD>` at the top level, `SHOP_ALIPAY__<FIELD>` (double underscore) inside
//! `[alipay]`. `DATABASE_URL` is read too, as most hosting platforms set it. With nothing configured, the defaults run a complete
//! demo on the built-in sandbox.
//!
//! ```toml
//! listen = "0.0.0.0:8000"
//! public_url = "https://shop.example.com"      # where Alipay sends notify/return
//! database_url = "postgres://shop@db/shop"      # default: SQLite in data_dir
//! jwt_secret = "..."                            # default: generated once into data_dir
//! seller_id = "2088..."
//! metrics_token = "..."
//!
//! [alipay]                                      # absent: the built-in sandbox at /sandbox
//! app_id = "2021..."
//! app_private_key_file = "keys/app_private_key.pem"
//! alipay_public_key = "MIIBIjANBg..."
//! gateway = "production"
//! ```
//!
//! [`Config::check_safe_to_serve`] refuses settings that are unsafe with real money.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use alipay::config::AlipayConfig;
use figment::Figment;
use figment::providers::{Format, Toml};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

/// Everything the shop can be told.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Folder for the SQLite database, generated keys and secrets.
    pub data_dir: PathBuf,
    /// `sqlite://…` or `postgres://…`; default: `sqlite://<data_dir>/shop.db`. Shown redacted.
    pub database_url: Option<String>,
    /// The shop's public base URL (for notify/return URLs and links); default `http://<listen>`.
    /// Must be `https://` with Alipay's production gateway.
    pub public_url: Option<String>,
    /// Where the browser is sent after paying; default: the shop's own pages at `public_url`.
    pub frontend_url: Option<String>,
    /// HS256 secret for login tokens, at least 32 bytes in production; default: generated once
    /// into `data_dir/jwt_secret` (one instance only: set it when running several).
    pub jwt_secret: Option<SecretString>,
    /// Login token lifetime in seconds.
    pub jwt_ttl_secs: u64,
    /// Unpaid orders are closed after this many seconds (also sent as `timeout_express`).
    pub order_ttl_secs: u64,
    /// An order with a pay link still unpaid after this many seconds is checked with Alipay.
    pub reconcile_after_secs: u64,
    /// The first retry delay of a reconciliation check or refund that could not decide
    /// (doubling, capped at 60×), in seconds.
    pub reconcile_backoff_secs: u64,
    /// A returning browser makes the shop ask Alipay about an unpaid order at most once per this
    /// many seconds.
    pub return_check_secs: u64,
    /// How often the background jobs look for work, in milliseconds.
    pub jobs_interval_ms: u64,
    /// Whether this instance runs the background jobs (reconciliation, timeouts, outbox,
    /// settlement).
    pub run_jobs: bool,
    /// Whether the jobs settle each day against Alipay's trade bill.
    pub settle_daily: bool,
    /// When (`HH:MM`, Beijing time) the jobs settle the day before: Alipay publishes a day's
    /// bill the next morning.
    pub settle_at: String,
    /// Login attempts allowed per client address per minute.
    pub login_per_minute: u32,
    /// Registrations allowed per client address per minute.
    pub register_per_minute: u32,
    /// Failing notifications stored per sender address per minute; beyond it they are answered
    /// 429 and not stored. 0: no limit.
    pub notify_failures_per_minute: u32,
    /// Rejected notifications are deleted after this many days (verified ones are kept).
    pub rejected_retention_days: u64,
    /// Addresses of reverse proxies whose `X-Forwarded-For` is believed (the client address for
    /// rate limits). Empty: the peer address is the client.
    pub trusted_proxies: Vec<IpAddr>,
    /// `/metrics` answers only with `Authorization: Bearer <metrics_token>`.
    pub metrics_token: Option<SecretString>,
    /// Serve `/metrics` (without a token) on this separate address instead, e.g. a private
    /// interface only the scraper reaches.
    pub metrics_listen: Option<SocketAddr>,
    /// Seed the demo catalog and the demo user (`demo` / `demo123456`) on an empty database.
    /// Default: off with Alipay's production gateway (where it is refused), on otherwise.
    pub seed_demo_data: Option<bool>,
    /// Allow demo mode (the built-in sandbox, whose test API can pay any order) on a
    /// non-loopback address. Set by `shop serve --demo`.
    pub demo: bool,
    /// Real Alipay (or any gateway). Absent: the built-in sandbox, mounted at `/sandbox`.
    pub alipay: Option<AlipayConfig>,
    /// The Alipay user id of the merchant (`2088…`), checked against notifications. Required in
    /// production.
    pub seller_id: Option<String>,
    /// Directory with the web pages; default: the repository's `web/` next to the binary's source.
    pub web_dir: Option<PathBuf>,
    /// Demo mode: multiplies the built-in sandbox's notification retry delays (tests use 0.001).
    pub sandbox_time_scale: f64,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8000)),
            data_dir: PathBuf::from("data"),
            database_url: None,
            public_url: None,
            frontend_url: None,
            jwt_secret: None,
            jwt_ttl_secs: 24 * 3600,
            order_ttl_secs: 15 * 60,
            reconcile_after_secs: 60,
            reconcile_backoff_secs: 30,
            return_check_secs: 3,
            jobs_interval_ms: 1000,
            run_jobs: true,
            settle_daily: true,
            settle_at: "10:00".into(),
            login_per_minute: 20,
            register_per_minute: 10,
            notify_failures_per_minute: 60,
            rejected_retention_days: 7,
            trusted_proxies: Vec::new(),
            metrics_token: None,
            metrics_listen: None,
            seed_demo_data: None,
            demo: false,
            alipay: None,
            seller_id: None,
            web_dir: None,
            sandbox_time_scale: 1.0,
        }
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("listen", &self.listen)
            .field("data_dir", &self.data_dir)
            .field("database", &self.database_url.as_deref().map(redact_url))
            .field("public_url", &self.public_url)
            .field("jwt_secret", &self.jwt_secret.as_ref().map(|_| ".."))
            .field("metrics_token", &self.metrics_token.as_ref().map(|_| ".."))
            .field("alipay", &self.alipay)
            .finish_non_exhaustive()
    }
}

/// A configuration problem, said so the operator can fix it.
#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(pub String);

/// The top-level settings, as `SHOP_*` names them (lowercased).
const FIELDS: &[&str] = &[
    "listen",
    "data_dir",
    "database_url",
    "public_url",
    "frontend_url",
    "jwt_secret",
    "jwt_ttl_secs",
    "order_ttl_secs",
    "reconcile_after_secs",
    "reconcile_backoff_secs",
    "return_check_secs",
    "jobs_interval_ms",
    "run_jobs",
    "settle_daily",
    "settle_at",
    "login_per_minute",
    "register_per_minute",
    "notify_failures_per_minute",
    "rejected_retention_days",
    "trusted_proxies",
    "metrics_token",
    "metrics_listen",
    "seed_demo_data",
    "demo",
    "alipay",
    "seller_id",
    "web_dir",
    "sandbox_time_scale",
];

impl Config {
    /// Defaults, then the TOML file (if any), then `SHOP_*` variables from `env`.
    ///
    /// Unknown `SHOP_*` names are warned about and ignored rather than refused: harnesses set
    /// their own (`SHOP_BIN`, `SHOP_URL`); unknown keys in the file are refused.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let mut figment = Figment::new();
        if let Some(path) = file {
            if !path.is_file() {
                return Err(ConfigError(format!("cannot read {}", path.display())));
            }
            figment = figment.merge(Toml::file_exact(path));
        }
        let mut platform = Vec::new();
        let mut ours = Vec::new();
        for (name, value) in env {
            if name == "DATABASE_URL" {
                platform.push(("database_url".to_owned(), value));
                continue;
            }
            let Some(mut key) = name.strip_prefix("SHOP_").map(str::to_ascii_lowercase) else {
                continue;
            };
            if let Some(current) = renamed(&name) {
                tracing::warn!(
                    variable = %name,
                    "deprecated name: use SHOP_{} (settings inside [alipay] are SHOP_ALIPAY__<NAME>)",
                    current.to_ascii_uppercase()
                );
                key = current.to_owned();
            }
            let top = key.split("__").next().unwrap_or_default();
            if FIELDS.contains(&top) {
                ours.push((key, value));
            } else {
                tracing::warn!(
                    variable = %name,
                    "unknown SHOP_* setting ignored (settings inside [alipay] are SHOP_ALIPAY__<NAME>, with two underscores)"
                );
            }
        }
        // `DATABASE_URL` (what hosting platforms set) first, so `SHOP_DATABASE_URL` wins over it.
        figment = figment
            .merge(env_provider(platform))
            .merge(env_provider(ours));
        // Lossy: a variable's text becomes the number or boolean its field wants.
        let mut config: Config = figment
            .extract_lossy()
            .map_err(|e| ConfigError(one_line(&e)))?;
        if let (Some(alipay), Some(dir)) = (config.alipay.as_mut(), file.and_then(Path::parent)) {
            alipay.resolve_paths(dir);
        }
        Ok(config)
    }

    /// Whether `[alipay]` talks to Alipay's production gateway (real money).
    #[must_use]
    pub fn is_production(&self) -> bool {
        // An unparsable gateway counts as production: the stricter rules apply to it.
        self.alipay
            .as_ref()
            .is_some_and(|alipay| match alipay.gateway() {
                Ok(gateway) => gateway.url() == alipay::Gateway::PRODUCTION_URL,
                Err(_) => true,
            })
    }

    /// Refuses what is unsafe: with Alipay's production gateway, a short `jwt_secret`, a
    /// `public_url` that is missing or not `https://`, no `seller_id`, or demo data; and demo mode
    /// on a non-loopback address without `demo` (the sandbox's test API can pay any order).
    /// The error is one line naming the setting and the fix.
    pub fn check_safe_to_serve(&self) -> Result<(), ConfigError> {
        if crate::payments::settlement::Schedule::parse(&self.settle_at).is_none() {
            return Err(ConfigError(format!(
                "settle_at {:?} is not a time of day: write it as HH:MM, e.g. \"10:00\" (SHOP_SETTLE_AT)",
                self.settle_at
            )));
        }
        if self.demo_mode() {
            if !self.listen.ip().is_loopback() && !self.demo {
                return Err(ConfigError(format!(
                    "listen = {} with the built-in sandbox: its test API can pay any order, so demo mode listens on loopback only; pass --demo (SHOP_DEMO=true) to serve it on {} anyway, or configure [alipay]",
                    self.listen,
                    self.listen.ip()
                )));
            }
            return Ok(());
        }
        if !self.is_production() {
            return Ok(());
        }
        if let Some(secret) = &self.jwt_secret
            && secret.expose_secret().len() < 32
        {
            return Err(ConfigError(
                "jwt_secret is shorter than 32 bytes: set SHOP_JWT_SECRET to a random value of 32 bytes or more (e.g. `openssl rand -base64 48`)".into(),
            ));
        }
        match self.public_url.as_deref() {
            None => {
                return Err(ConfigError(
                    "public_url is not set: set SHOP_PUBLIC_URL to the shop's https:// address, where Alipay sends notifications".into(),
                ));
            }
            Some(url) if !url.starts_with("https://") => {
                return Err(ConfigError(format!(
                    "public_url {url:?} is not https://: Alipay's production gateway needs the shop's https:// address (SHOP_PUBLIC_URL)"
                )));
            }
            Some(_) => {}
        }
        let seller = self
            .seller_id
            .as_deref()
            .or(self.alipay.as_ref().and_then(|a| a.seller_id.as_deref()));
        if seller.is_none_or(|s| s.trim().is_empty()) {
            return Err(ConfigError(
                "seller_id is not set: set SHOP_SELLER_ID to the merchant's Alipay user id (2088…), so notifications for another merchant are refused".into(),
            ));
        }
        if self.seed_demo_data == Some(true) {
            return Err(ConfigError(
                "seed_demo_data = true with Alipay's production gateway: the demo user's password is public; remove it (SHOP_SEED_DEMO_DATA=false)".into(),
            ));
        }
        Ok(())
    }

    /// Whether to seed the demo catalog and user: as configured, else everywhere but with
    /// Alipay's production gateway (a shop pointed at a sandbox is still a test shop).
    #[must_use]
    pub fn seed_demo_data(&self) -> bool {
        self.seed_demo_data.unwrap_or_else(|| !self.is_production())
    }

    /// The public base URL without a trailing slash.
    #[must_use]
    pub fn public_url(&self) -> String {
        self.public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.listen))
            .trim_end_matches('/')
            .to_owned()
    }

    /// Where the pay-result page lives.
    #[must_use]
    pub fn frontend_url(&self) -> String {
        self.frontend_url
            .clone()
            .unwrap_or_else(|| self.public_url())
            .trim_end_matches('/')
            .to_owned()
    }

    /// The database URL.
    #[must_use]
    pub fn database_url(&self) -> String {
        self.database_url.clone().unwrap_or_else(|| {
            format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("shop.db").display()
            )
        })
    }

    /// Order lifetime.
    #[must_use]
    pub fn order_ttl(&self) -> Duration {
        Duration::from_secs(self.order_ttl_secs)
    }

    /// Whether the built-in sandbox stands in for Alipay.
    #[must_use]
    pub fn demo_mode(&self) -> bool {
        self.alipay.is_none()
    }
}

/// The `[alipay]` variables of earlier releases (one underscore), and what they are now.
fn renamed(variable: &str) -> Option<&'static str> {
    Some(match variable {
        "SHOP_ALIPAY_APP_ID" => "alipay__app_id",
        "SHOP_ALIPAY_APP_PRIVATE_KEY" => "alipay__app_private_key",
        "SHOP_ALIPAY_APP_PRIVATE_KEY_FILE" => "alipay__app_private_key_file",
        "SHOP_ALIPAY_PUBLIC_KEY" => "alipay__alipay_public_key",
        "SHOP_ALIPAY_PUBLIC_KEY_FILE" => "alipay__alipay_public_key_file",
        "SHOP_ALIPAY_SIGN_TYPE" => "alipay__sign_type",
        "SHOP_ALIPAY_GATEWAY" => "alipay__gateway",
        _ => return None,
    })
}

/// The variables as a figment provider: `alipay__app_id` → `alipay.app_id`. Values are typed
/// by the fields they land in (an all-digit app id stays a string).
fn env_provider(
    vars: Vec<(String, String)>,
) -> figment::providers::Serialized<figment::value::Dict> {
    let mut root = figment::value::Dict::new();
    for (key, value) in vars {
        let path: Vec<&str> = key.split("__").collect();
        insert(&mut root, &path, typed(&value));
    }
    figment::providers::Serialized::defaults(root)
}

/// Puts `value` at `path` inside `dict`, making the tables on the way.
fn insert(dict: &mut figment::value::Dict, path: &[&str], value: figment::value::Value) {
    use figment::value::{Dict, Value};
    match path {
        [] => {}
        [last] => {
            dict.insert((*last).to_owned(), value);
        }
        [first, rest @ ..] => {
            let entry = dict
                .entry((*first).to_owned())
                .or_insert_with(|| Value::from(Dict::new()));
            if entry.as_dict().is_none() {
                *entry = Value::from(Dict::new());
            }
            if let Value::Dict(_, inner) = entry {
                insert(inner, rest, value);
            }
        }
    }
}

/// A variable's text as a figment value: `[…]` and `{…}` are parsed as lists and tables (e.g.
/// `SHOP_TRUSTED_PROXIES='["10.0.0.1"]'`); everything else stays text, and extraction turns it
/// into the number or boolean its field wants (an all-digit app id stays text).
fn typed(value: &str) -> figment::value::Value {
    use figment::value::Value;
    let trimmed = value.trim();
    if trimmed.starts_with('[') || trimmed.starts_with('{') {
        trimmed
            .parse::<Value>()
            .unwrap_or_else(|never| match never {})
    } else {
        Value::from(value.to_owned())
    }
}

/// Figment's error (possibly several) as one line.
fn one_line(error: &figment::Error) -> String {
    error
        .clone()
        .into_iter()
        .map(|e| e.to_string())
        .collect::<Vec<_>>()
        .join("; ")
}

/// A database URL with its password hidden, for logs.
#[must_use]
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn defaults_run_a_demo() {
        let config = Config::load(None, Vec::new()).unwrap();
        assert!(config.demo_mode());
        assert!(config.seed_demo_data());
        assert_eq!(config.public_url(), "http://127.0.0.1:8000");
        assert!(config.database_url().starts_with("sqlite://"));
        config.check_safe_to_serve().unwrap();
    }

    #[test]
    fn every_field_including_nested_ones_comes_from_the_environment() {
        let config = Config::load(
            None,
            vars(&[
                ("SHOP_LISTEN", "0.0.0.0:9000"),
                ("DATABASE_URL", "postgres://u:hunter2@db/shop"),
                ("SHOP_ALIPAY__APP_ID", "2021000000000001"),
                ("SHOP_ALIPAY__APP_CERT_FILE", "certs/app.crt"),
                ("SHOP_ALIPAY__TIMEOUT_SECS", "20"),
                ("SHOP_JOBS_INTERVAL_MS", "250"),
                ("SHOP_RUN_JOBS", "false"),
                ("SHOP_TRUSTED_PROXIES", "[\"10.0.0.1\"]"),
                ("SHOP_JWT_SECRET", "0123456789"),
                ("SHOP_BIN", "/usr/bin/shop"),
                ("PATH", "/bin"),
            ]),
        )
        .unwrap();
        assert_eq!(config.listen.port(), 9000);
        assert!(!config.demo_mode());
        assert!(config.is_production(), "no gateway given is production");
        assert!(!config.seed_demo_data());
        let alipay = config.alipay.as_ref().unwrap();
        assert_eq!(alipay.app_id, "2021000000000001");
        assert_eq!(
            alipay.app_cert_file.as_deref(),
            Some(Path::new("certs/app.crt"))
        );
        assert_eq!(alipay.timeout_secs, Some(20));
        assert_eq!(config.jobs_interval_ms, 250);
        assert!(!config.run_jobs);
        assert_eq!(config.trusted_proxies, vec![IpAddr::from([10, 0, 0, 1])]);
        let shown = format!("{config:?}");
        assert!(
            !shown.contains("hunter2") && !shown.contains("0123456789"),
            "{shown}"
        );
        assert!(Config::load(None, vars(&[("SHOP_LISTEN", "x")])).is_err());
    }

    #[test]
    fn the_earlier_alipay_variable_names_still_work() {
        let config = Config::load(
            None,
            vars(&[
                ("SHOP_ALIPAY_APP_ID", "2021000000000001"),
                ("SHOP_ALIPAY_PUBLIC_KEY", "MIIB"),
            ]),
        )
        .unwrap();
        let alipay = config.alipay.unwrap();
        assert_eq!(alipay.app_id, "2021000000000001");
        assert_eq!(alipay.alipay_public_key.as_deref(), Some("MIIB"));
    }

    fn production(extra: &[(&str, &str)]) -> Config {
        let mut pairs = vec![
            ("SHOP_ALIPAY__APP_ID", "2021000000000001"),
            ("SHOP_ALIPAY__GATEWAY", "production"),
            ("SHOP_PUBLIC_URL", "https://shop.example.com"),
            ("SHOP_SELLER_ID", "2088000000000001"),
            ("SHOP_JWT_SECRET", "0123456789abcdef0123456789abcdef"),
        ];
        pairs.extend_from_slice(extra);
        Config::load(None, vars(&pairs)).unwrap()
    }

    #[test]
    fn production_refuses_each_unsafe_setting() {
        production(&[]).check_safe_to_serve().unwrap();
        for (name, value, says) in [
            ("SHOP_JWT_SECRET", "short", "jwt_secret"),
            ("SHOP_PUBLIC_URL", "http://shop.example.com", "public_url"),
            ("SHOP_SELLER_ID", "", "seller_id"),
            ("SHOP_SEED_DEMO_DATA", "true", "seed_demo_data"),
        ] {
            let error = production(&[(name, value)])
                .check_safe_to_serve()
                .unwrap_err();
            assert!(error.to_string().contains(says), "{name}: {error}");
            assert!(!error.to_string().contains('\n'));
        }
    }

    #[test]
    fn demo_mode_stays_on_loopback_unless_asked() {
        let public = Config::load(None, vars(&[("SHOP_LISTEN", "0.0.0.0:8000")])).unwrap();
        assert!(
            public
                .check_safe_to_serve()
                .unwrap_err()
                .to_string()
                .contains("--demo")
        );
        let asked = Config::load(
            None,
            vars(&[("SHOP_LISTEN", "0.0.0.0:8000"), ("SHOP_DEMO", "true")]),
        )
        .unwrap();
        asked.check_safe_to_serve().unwrap();
    }
}
