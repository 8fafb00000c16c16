//! The shop's configuration: one typed struct, read from a TOML file and `SHOP_*` environment
//! variables (environment wins), with defaults that run a complete demo with nothing configured.
//!
//! ```toml
//! listen = "0.0.0.0:8000"
//! public_url = "https://shop.example.com"      # where Alipay sends notify/return
//! database_url = "postgres://shop@db/shop"      # default: SQLite in data_dir
//! jwt_secret = "..."                            # default: generated once into data_dir
//!
//! [alipay]                                      # absent: the built-in sandbox at /sandbox
//! app_id = "2021..."
//! app_private_key_file = "keys/app_private_key.pem"
//! alipay_public_key = "MIIBIjANBg..."
//! gateway = "production"
//! ```

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use alipay::config::AlipayConfig;
use serde::Deserialize;

/// Everything the shop can be told.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Folder for the SQLite database, generated keys and secrets.
    pub data_dir: PathBuf,
    /// `sqlite://…` or `postgres://…`; default: `sqlite://<data_dir>/shop.db`.
    pub database_url: Option<String>,
    /// The shop's public base URL (for notify/return URLs and links); default `http://<listen>`.
    pub public_url: Option<String>,
    /// Where the browser is sent after paying; default: the shop's own pages at `public_url`.
    pub frontend_url: Option<String>,
    /// HS256 secret for login tokens; default: generated once into `data_dir/jwt_secret`.
    pub jwt_secret: Option<String>,
    /// Login token lifetime in seconds.
    pub jwt_ttl_secs: u64,
    /// Unpaid orders are closed after this many seconds (also sent as `timeout_express`).
    pub order_ttl_secs: u64,
    /// An order with a pay link still unpaid after this many seconds is checked with Alipay.
    pub reconcile_after_secs: u64,
    /// The first retry delay of a reconciliation check that could not decide (doubling, capped at
    /// 60×), in seconds.
    pub reconcile_backoff_secs: u64,
    /// How often the background jobs look for work, in milliseconds.
    pub jobs_interval_ms: u64,
    /// Whether this instance runs the background jobs (reconciliation, timeouts, outbox).
    pub run_jobs: bool,
    /// Login attempts allowed per client address per minute.
    pub login_per_minute: u32,
    /// Seed the demo catalog and the demo user (`demo` / `demo123456`) on an empty database.
    pub seed_demo_data: bool,
    /// Real Alipay (or any gateway). Absent: the built-in sandbox, mounted at `/sandbox`.
    pub alipay: Option<AlipayConfig>,
    /// The Alipay user id of the merchant (`2088…`), checked against notifications.
    pub seller_id: Option<String>,
    /// Users with these names get the admin role when they register (refunds).
    pub admins: Vec<String>,
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
            jobs_interval_ms: 1000,
            run_jobs: true,
            login_per_minute: 20,
            seed_demo_data: true,
            alipay: None,
            seller_id: None,
            admins: vec!["admin".into()],
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
            .field("alipay", &self.alipay)
            .finish_non_exhaustive()
    }
}

/// A configuration problem, said so the operator can fix it.
#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(pub String);

impl Config {
    /// Defaults, then the TOML file (if any), then `SHOP_*` variables.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let mut config = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| ConfigError(format!("cannot read {}: {e}", path.display())))?;
                let mut config: Config = toml::from_str(&text)
                    .map_err(|e| ConfigError(format!("{}: {e}", path.display())))?;
                if let (Some(alipay), Some(dir)) = (config.alipay.as_mut(), path.parent()) {
                    alipay.resolve_paths(dir);
                }
                config
            }
            None => Config::default(),
        };
        for (name, value) in env {
            config.set_from_env(&name, value)?;
        }
        Ok(config)
    }

    fn set_from_env(&mut self, name: &str, value: String) -> Result<(), ConfigError> {
        let parse = |what: &str| ConfigError(format!("{name}: {value:?} is not a valid {what}"));
        fn alipay(config: &mut Config) -> &mut AlipayConfig {
            config.alipay.get_or_insert_with(AlipayConfig::default)
        }
        match name {
            "SHOP_LISTEN" => self.listen = value.parse().map_err(|_| parse("address"))?,
            "SHOP_DATA_DIR" => self.data_dir = value.into(),
            "SHOP_DATABASE_URL" | "DATABASE_URL" => self.database_url = Some(value),
            "SHOP_PUBLIC_URL" => self.public_url = Some(value),
            "SHOP_FRONTEND_URL" => self.frontend_url = Some(value),
            "SHOP_JWT_SECRET" => self.jwt_secret = Some(value),
            "SHOP_ORDER_TTL_SECS" => {
                self.order_ttl_secs = value.parse().map_err(|_| parse("number"))?
            }
            "SHOP_RECONCILE_AFTER_SECS" => {
                self.reconcile_after_secs = value.parse().map_err(|_| parse("number"))?
            }
            "SHOP_RUN_JOBS" => self.run_jobs = value.parse().map_err(|_| parse("boolean"))?,
            "SHOP_LOGIN_PER_MINUTE" => {
                self.login_per_minute = value.parse().map_err(|_| parse("number"))?
            }
            "SHOP_SEED_DEMO_DATA" => {
                self.seed_demo_data = value.parse().map_err(|_| parse("boolean"))?
            }
            "SHOP_SELLER_ID" => self.seller_id = Some(value),
            "SHOP_ALIPAY_APP_ID" => alipay(self).app_id = value,
            "SHOP_ALIPAY_APP_PRIVATE_KEY" => alipay(self).app_private_key = Some(value),
            "SHOP_ALIPAY_APP_PRIVATE_KEY_FILE" => {
                alipay(self).app_private_key_file = Some(value.into())
            }
            "SHOP_ALIPAY_PUBLIC_KEY" => alipay(self).alipay_public_key = Some(value),
            "SHOP_ALIPAY_PUBLIC_KEY_FILE" => {
                alipay(self).alipay_public_key_file = Some(value.into())
            }
            "SHOP_ALIPAY_SIGN_TYPE" => alipay(self).sign_type = Some(value),
            "SHOP_ALIPAY_GATEWAY" => alipay(self).gateway = Some(value),
            // Probably a typo; but harnesses set their own SHOP_* variables (SHOP_BIN...), so
            // this is a warning, not a refusal to start.
            _ if name.starts_with("SHOP_") => {
                tracing::warn!(variable = name, "unknown SHOP_* setting ignored")
            }
            _ => {}
        }
        Ok(())
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

    #[test]
    fn defaults_run_a_demo() {
        let config = Config::load(None, Vec::new()).unwrap();
        assert!(config.demo_mode());
        assert_eq!(config.public_url(), "http://127.0.0.1:8000");
        assert!(config.database_url().starts_with("sqlite://"));
    }

    #[test]
    fn environment_overrides_and_unknown_settings_are_refused() {
        let env = [
            ("SHOP_LISTEN".to_string(), "0.0.0.0:9000".to_string()),
            (
                "DATABASE_URL".to_string(),
                "postgres://u:hunter2@db/shop".to_string(),
            ),
            (
                "SHOP_ALIPAY_APP_ID".to_string(),
                "2021000000000001".to_string(),
            ),
            ("PATH".to_string(), "/bin".to_string()),
        ];
        let config = Config::load(None, env).unwrap();
        assert_eq!(config.listen.port(), 9000);
        assert!(!config.demo_mode());
        assert!(!format!("{config:?}").contains("hunter2"));
        assert!(Config::load(None, [("SHOP_LISTEN".to_string(), "x".to_string())]).is_err());
        assert!(Config::load(None, [("SHOP_BIN".to_string(), "x".to_string())]).is_ok());
    }
}
