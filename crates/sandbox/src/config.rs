//! The sandbox's one typed configuration, and the TOML file the binary reads it from.
//!
//! ```toml
//! database = "sandbox.db"                  # omit for an in-memory sandbox
//! key_file = "alipay_private_key.pem"      # created on first run; omit for an ephemeral key
//! time_scale = 1.0                         # 0.001 makes the 4-minute retry take 240 ms
//! timestamp_skew_secs = 86400              # 0 turns the request timestamp window off
//!
//! [[apps]]
//! app_id = "2021000000000001"
//! public_key_file = "app_public_key.pem"   # or public_key = "MIIBIjANBgkqh..."
//! sign_type = "RSA2"
//! name = "Rust 课程商店"
//!
//! [[apps]]                                 # certificate mode: the app's certificate
//! app_id = "2021000000000002"
//! app_cert_file = "appCertPublicKey_2021000000000002.crt"
//!
//! [[partners]]                             # the legacy MD5 interface (create_direct_pay_by_user)
//! partner = "2088101122136241"
//! md5_key_file = "md5_key.txt"             # or md5_key = "..."
//! seller_email = "seller@sandbox.com"
//! ```

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use alipay::aes::AesKey;
use alipay::cert::Certificate;
use alipay::legacy::Md5Key;
use alipay::{Money, PublicKey, SignType};
use serde::Deserialize;

use crate::error::SandboxError;

/// Everything the sandbox can be told at start. `Default` is an in-memory sandbox with an
/// ephemeral key, real-time retries and the two seeded buyers: what tests want.
#[derive(Clone, Debug)]
pub struct SandboxConfig {
    /// SQLite file holding apps, trades, refunds and notifications; `None` keeps them in memory.
    pub database: Option<PathBuf>,
    /// The emulator's own "Alipay" private key (PEM); created on first run. `None` = a fresh
    /// key on every start.
    pub key_file: Option<PathBuf>,
    /// Multiplies the notification retry delays (1.0 = Alipay's real schedule).
    pub time_scale: f64,
    /// Apps registered at start (kept across `POST /api/reset`).
    pub apps: Vec<AppConfig>,
    /// Partners of the legacy MD5 interface registered at start.
    pub partners: Vec<PartnerConfig>,
    /// Buyers who can log in to the cashier.
    pub buyers: Vec<BuyerConfig>,
    /// How far a request `timestamp` may be from now; `None` accepts any well-formed time.
    pub timestamp_skew: Option<Duration>,
    /// How long a merchant has to answer one notification attempt.
    pub notify_timeout: Duration,
    /// The sandbox's public base URL (used in precreate QR codes). `None` derives it from each
    /// request's `Host` and path, which works behind a prefix such as `/sandbox`.
    pub public_url: Option<String>,
}

impl Default for SandboxConfig {
    fn default() -> SandboxConfig {
        SandboxConfig {
            database: None,
            key_file: None,
            time_scale: 1.0,
            apps: Vec::new(),
            partners: Vec::new(),
            buyers: BuyerConfig::seeded(),
            timestamp_skew: Some(Duration::from_secs(24 * 60 * 60)),
            notify_timeout: Duration::from_secs(10),
            public_url: None,
        }
    }
}

impl SandboxConfig {
    /// Checks values that would make the sandbox misbehave rather than fail.
    pub fn validate(&self) -> Result<(), SandboxError> {
        if !(self.time_scale.is_finite() && self.time_scale >= 0.0) {
            return Err(SandboxError::Config(format!(
                "time_scale must be a finite number >= 0, got {}",
                self.time_scale
            )));
        }
        for buyer in &self.buyers {
            if buyer.logon_id.trim().is_empty() {
                return Err(SandboxError::Config("a buyer has an empty logon id".into()));
            }
        }
        Ok(())
    }
}

/// A merchant app the gateway knows: requests from it are verified with `public_key`.
#[derive(Clone, Debug)]
pub struct AppConfig {
    /// The app id, digits (`2021…`, sandbox `9021…`).
    pub app_id: String,
    /// The app public key the merchant "uploaded" to Alipay (in certificate mode, the key of
    /// `app_cert`).
    pub public_key: PublicKey,
    /// Certificate mode: the app certificate. Requests must then carry its SN as `app_cert_sn`
    /// and `alipay_root_cert_sn`, and answers carry `alipay_cert_sn`.
    pub app_cert: Option<Certificate>,
    /// `RSA2` (SHA256withRSA, default) or legacy `RSA` (SHA1withRSA). Responses and
    /// notifications to this app are signed with the same algorithm.
    pub sign_type: SignType,
    /// The merchant name shown on the cashier.
    pub name: Option<String>,
    /// The merchant's Alipay user id (`2088…`); derived from the app id when `None`.
    pub seller_id: Option<String>,
    /// The app's AES content-encryption key: requests with `encrypt_type=AES` are decrypted
    /// with it and answered encrypted.
    pub aes_key: Option<AesKey>,
}

impl AppConfig {
    /// An RSA2 app.
    #[must_use]
    pub fn new(app_id: impl Into<String>, public_key: PublicKey) -> AppConfig {
        AppConfig {
            app_id: app_id.into(),
            public_key,
            app_cert: None,
            sign_type: SignType::Rsa2,
            name: None,
            seller_id: None,
            aes_key: None,
        }
    }

    /// An app in certificate mode (RSA2), verified with the key of its certificate.
    pub fn with_certificate(
        app_id: impl Into<String>,
        app_cert: Certificate,
    ) -> Result<AppConfig, SandboxError> {
        let public_key = app_cert.public_key().map_err(SandboxError::AppKey)?;
        Ok(AppConfig {
            app_cert: Some(app_cert),
            ..AppConfig::new(app_id, public_key)
        })
    }

    /// An app in certificate mode from its certificate file's text (the first certificate).
    pub fn parse_certificate(
        app_id: impl Into<String>,
        pem: &str,
    ) -> Result<AppConfig, SandboxError> {
        let cert = alipay::cert::parse_pem(pem.as_bytes())
            .map_err(|e| SandboxError::InvalidApp(format!("app certificate: {e}")))?
            .remove(0);
        AppConfig::with_certificate(app_id, cert)
    }

    /// An RSA2 app from a public key in any form the SDK accepts (PEM, PKCS#1, bare base64,
    /// certificate).
    pub fn parse(app_id: impl Into<String>, public_key: &str) -> Result<AppConfig, SandboxError> {
        let public_key = PublicKey::parse(public_key).map_err(SandboxError::AppKey)?;
        Ok(AppConfig::new(app_id, public_key))
    }

    /// Sets the signature algorithm.
    #[must_use]
    pub fn sign_type(mut self, sign_type: SignType) -> AppConfig {
        self.sign_type = sign_type;
        self
    }

    /// Gives the app an AES content-encryption key (接口内容加密).
    #[must_use]
    pub fn aes_key(mut self, key: AesKey) -> AppConfig {
        self.aes_key = Some(key);
        self
    }

    /// Sets the merchant name shown on the cashier.
    #[must_use]
    pub fn name(mut self, name: impl Into<String>) -> AppConfig {
        self.name = Some(name.into());
        self
    }

    /// Fixes the seller id (`2088` + 12 digits).
    #[must_use]
    pub fn seller_id(mut self, seller_id: impl Into<String>) -> AppConfig {
        self.seller_id = Some(seller_id.into());
        self
    }

    /// Checks the app id and seller id shapes.
    pub fn validate(&self) -> Result<(), SandboxError> {
        if self.app_id.is_empty()
            || self.app_id.len() > 32
            || !self.app_id.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(SandboxError::InvalidApp(format!(
                "app_id {:?} must be 1 to 32 digits, like 2021000000000001",
                self.app_id
            )));
        }
        if let Some(seller_id) = &self.seller_id
            && !alipay::api::is_user_id(seller_id)
        {
            return Err(SandboxError::InvalidApp(format!(
                "seller_id {seller_id:?} must be 2088 followed by 12 digits"
            )));
        }
        if let Some(cert) = &self.app_cert {
            if self.sign_type != SignType::Rsa2 {
                return Err(SandboxError::InvalidApp(
                    "certificate mode is RSA2 only".into(),
                ));
            }
            if cert.public_key().ok().as_ref() != Some(&self.public_key) {
                return Err(SandboxError::InvalidApp(
                    "public_key is not the key of app_cert".into(),
                ));
            }
        }
        if self.sign_type == SignType::Rsa2 && self.public_key.bits() < 2048 {
            return Err(SandboxError::InvalidApp(format!(
                "RSA2 needs a key of at least 2048 bits, this one has {}",
                self.public_key.bits()
            )));
        }
        Ok(())
    }
}

/// A partner of the legacy MD5 interface (`create_direct_pay_by_user`), deprecated at Alipay.
#[derive(Clone, Debug)]
pub struct PartnerConfig {
    /// The partner id (PID): `2088` + 12 digits; also the seller id.
    pub partner: String,
    /// The shared MD5 key (never shown by the sandbox).
    pub md5_key: Md5Key,
    /// The seller's account (`seller_email`); derived from the partner id when `None`.
    pub seller_email: Option<String>,
    /// The merchant name shown on the cashier.
    pub name: Option<String>,
}

impl PartnerConfig {
    /// A partner with its key.
    #[must_use]
    pub fn new(partner: impl Into<String>, md5_key: Md5Key) -> PartnerConfig {
        PartnerConfig {
            partner: partner.into(),
            md5_key,
            seller_email: None,
            name: None,
        }
    }

    /// Sets the seller's account.
    #[must_use]
    pub fn seller_email(mut self, email: impl Into<String>) -> PartnerConfig {
        self.seller_email = Some(email.into());
        self
    }

    /// Sets the merchant name.
    #[must_use]
    pub fn name(mut self, name: impl Into<String>) -> PartnerConfig {
        self.name = Some(name.into());
        self
    }

    /// Checks the partner id.
    pub fn validate(&self) -> Result<(), SandboxError> {
        alipay::legacy::check_partner(&self.partner)
            .map_err(|e| SandboxError::InvalidPartner(e.to_string()))?;
        if self
            .seller_email
            .as_ref()
            .is_some_and(|e| e.trim().is_empty())
        {
            return Err(SandboxError::InvalidPartner("seller_email is empty".into()));
        }
        Ok(())
    }
}

/// A sandbox buyer who can log in to the cashier.
#[derive(Clone)]
pub struct BuyerConfig {
    /// The login (`buyer@sandbox.com`).
    pub logon_id: String,
    /// The login and payment password.
    pub password: String,
    /// The balance at start and after a reset.
    pub balance: Money,
    /// The buyer's Alipay user id (`2088…`), reported as `buyer_id`.
    pub user_id: String,
}

impl fmt::Debug for BuyerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BuyerConfig")
            .field("logon_id", &self.logon_id)
            .field("balance", &self.balance)
            .field("user_id", &self.user_id)
            .finish_non_exhaustive()
    }
}

impl BuyerConfig {
    /// The default buyers: `buyer@sandbox.com` with 1,000,000.00 and `poor@sandbox.com` with
    /// 1.00 (to see the cashier refuse for lack of balance), both with password `111111`.
    #[must_use]
    pub fn seeded() -> Vec<BuyerConfig> {
        vec![
            BuyerConfig {
                logon_id: "buyer@sandbox.com".into(),
                password: DEFAULT_PASSWORD.into(),
                balance: Money::from_yuan(1_000_000),
                user_id: "2088102177846880".into(),
            },
            BuyerConfig {
                logon_id: "poor@sandbox.com".into(),
                password: DEFAULT_PASSWORD.into(),
                balance: Money::from_yuan(1),
                user_id: "2088102177846881".into(),
            },
        ]
    }
}

/// The password of the seeded buyers, as in Alipay's own sandbox.
pub const DEFAULT_PASSWORD: &str = "111111";

/// The TOML configuration file of the binary. Relative paths are resolved against its folder.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// SQLite file.
    pub database: Option<PathBuf>,
    /// The emulator's private key file.
    pub key_file: Option<PathBuf>,
    /// Retry delay multiplier.
    pub time_scale: Option<f64>,
    /// Request timestamp window in seconds; 0 turns the check off.
    pub timestamp_skew_secs: Option<u64>,
    /// Notification answer timeout in seconds.
    pub notify_timeout_secs: Option<u64>,
    /// Public base URL.
    pub public_url: Option<String>,
    /// Apps to register.
    #[serde(default)]
    pub apps: Vec<FileApp>,
    /// Legacy MD5 partners to register.
    #[serde(default)]
    pub partners: Vec<FilePartner>,
}

/// One `[[partners]]` entry.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilePartner {
    /// The partner id.
    pub partner: String,
    /// The MD5 key, inline.
    pub md5_key: Option<String>,
    /// The MD5 key, as a file.
    pub md5_key_file: Option<PathBuf>,
    /// The seller's account.
    pub seller_email: Option<String>,
    /// Merchant name.
    pub name: Option<String>,
}

impl fmt::Debug for FilePartner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FilePartner")
            .field("partner", &self.partner)
            .field("md5_key_file", &self.md5_key_file)
            .finish_non_exhaustive()
    }
}

impl FilePartner {
    fn into_partner_config(self) -> Result<PartnerConfig, SandboxError> {
        let key = match (&self.md5_key, &self.md5_key_file) {
            (Some(text), None) => Md5Key::new(text),
            (None, Some(path)) => Md5Key::from_file(path),
            _ => {
                return Err(SandboxError::Config(format!(
                    "partner {}: give exactly one of md5_key and md5_key_file",
                    self.partner
                )));
            }
        }
        .map_err(|e| SandboxError::Config(format!("partner {}: {e}", self.partner)))?;
        let mut partner = PartnerConfig::new(self.partner, key);
        partner.seller_email = self.seller_email;
        partner.name = self.name;
        Ok(partner)
    }
}

/// One `[[apps]]` entry.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileApp {
    /// The app id.
    pub app_id: String,
    /// The app public key, inline.
    pub public_key: Option<String>,
    /// The app public key, as a file.
    pub public_key_file: Option<PathBuf>,
    /// Certificate mode: the app certificate file (instead of a public key).
    pub app_cert_file: Option<PathBuf>,
    /// `RSA2` (default) or `RSA`.
    pub sign_type: Option<String>,
    /// Merchant name.
    pub name: Option<String>,
    /// Seller id.
    pub seller_id: Option<String>,
    /// AES content-encryption key (base64).
    pub aes_key: Option<String>,
}

impl FileConfig {
    /// Reads and parses a configuration file.
    pub fn load(path: &Path) -> Result<FileConfig, SandboxError> {
        let text = std::fs::read_to_string(path).map_err(|source| SandboxError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let mut config: FileConfig = toml::from_str(&text)
            .map_err(|e| SandboxError::Config(format!("{}: {e}", path.display())))?;
        let base = path.parent().unwrap_or(Path::new("."));
        let resolve = |p: &mut Option<PathBuf>| {
            if let Some(p) = p
                && p.is_relative()
            {
                *p = base.join(&*p);
            }
        };
        resolve(&mut config.database);
        resolve(&mut config.key_file);
        for app in &mut config.apps {
            resolve(&mut app.public_key_file);
            resolve(&mut app.app_cert_file);
        }
        for partner in &mut config.partners {
            resolve(&mut partner.md5_key_file);
        }
        Ok(config)
    }

    /// Applies the file's settings on top of `config`.
    pub fn apply(self, config: &mut SandboxConfig) -> Result<(), SandboxError> {
        if self.database.is_some() {
            config.database = self.database;
        }
        if self.key_file.is_some() {
            config.key_file = self.key_file;
        }
        if let Some(scale) = self.time_scale {
            config.time_scale = scale;
        }
        if let Some(secs) = self.timestamp_skew_secs {
            config.timestamp_skew = (secs > 0).then(|| Duration::from_secs(secs));
        }
        if let Some(secs) = self.notify_timeout_secs {
            config.notify_timeout = Duration::from_secs(secs);
        }
        if self.public_url.is_some() {
            config.public_url = self.public_url;
        }
        for app in self.apps {
            config.apps.push(app.into_app_config()?);
        }
        for partner in self.partners {
            config.partners.push(partner.into_partner_config()?);
        }
        Ok(())
    }
}

impl fmt::Debug for FileApp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileApp")
            .field("app_id", &self.app_id)
            .field("public_key_file", &self.public_key_file)
            .field("app_cert_file", &self.app_cert_file)
            .field("sign_type", &self.sign_type)
            .field("aes_key", &self.aes_key.as_ref().map(|_| "redacted"))
            .finish_non_exhaustive()
    }
}

impl FileApp {
    fn into_app_config(self) -> Result<AppConfig, SandboxError> {
        let cert = match &self.app_cert_file {
            Some(path) => {
                let pem = std::fs::read_to_string(path).map_err(|source| SandboxError::Io {
                    path: path.clone(),
                    source,
                })?;
                Some(AppConfig::parse_certificate(self.app_id.clone(), &pem)?)
            }
            None => None,
        };
        let public_key = match (&self.public_key, &self.public_key_file, &cert) {
            (Some(text), None, None) => PublicKey::parse(text).map_err(SandboxError::AppKey)?,
            (None, Some(path), None) => PublicKey::from_file(path).map_err(SandboxError::AppKey)?,
            (None, None, Some(cert)) => cert.public_key.clone(),
            _ => {
                return Err(SandboxError::Config(format!(
                    "app {}: give exactly one of public_key, public_key_file and app_cert_file",
                    self.app_id
                )));
            }
        };
        let sign_type = match self.sign_type.as_deref() {
            None => SignType::Rsa2,
            Some(text) => text
                .parse()
                .map_err(|e| SandboxError::Config(format!("app {}: {e}", self.app_id)))?,
        };
        let aes_key = self
            .aes_key
            .as_deref()
            .map(AesKey::from_base64)
            .transpose()
            .map_err(|e| SandboxError::Config(format!("app {}: aes_key: {e}", self.app_id)))?;
        let mut app = AppConfig::new(self.app_id, public_key).sign_type(sign_type);
        app.aes_key = aes_key;
        app.app_cert = cert.and_then(|c| c.app_cert);
        app.name = self.name;
        app.seller_id = self.seller_id;
        Ok(app)
    }
}
