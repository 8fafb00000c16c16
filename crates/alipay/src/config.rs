//! One typed description of an Alipay app, shared by the CLI (`alipay pay-url --config`,
//! `alipay doctor`) and the shop's configuration file (its `[alipay]` table).
//!
//! ```toml
//! app_id = "2021000000000001"
//! app_private_key_file = "keys/app_private_key.pem"   # or app_private_key = "MIIEv..."
//! alipay_public_key = "MIIBIjANBgkqh..."              # or alipay_public_key_file = "..."
//! sign_type = "RSA2"
//! gateway = "production"                              # production | sandbox | https://...
//! notify_url = "https://shop.example.com/alipay/notify"
//! return_url = "https://shop.example.com/alipay/return"
//! timeout_secs = 15
//! ```
//!
//! Certificate mode (公钥证书模式) replaces `alipay_public_key` with the three files from the
//! Alipay console:
//!
//! ```toml
//! app_cert_file = "certs/appCertPublicKey_2021000000000001.crt"
//! alipay_cert_file = "certs/alipayCertPublicKey_RSA2.crt"
//! alipay_root_cert_file = "certs/alipayRootCert.crt"
//! ```
//!
//! A shop still on the retired MD5 interface adds `[alipay.legacy]` (`LegacyConfig`, with the
//! `legacy` feature). `AlipayConfig` deserializes from any serde format; the `toml` feature adds
//! [`AlipayConfig::from_file`]. Keys given inline are [`SecretString`]s: they never show in
//! `Debug` output or logs.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::cert_mode::CertMode;
use crate::client::Client;
use crate::error::Error;
use crate::keys::{PrivateKey, PublicKey, SignType};
use crate::request::Gateway;

#[cfg(feature = "legacy")]
pub use crate::legacy::LegacyConfig;

/// An Alipay app's settings. Relative key paths are resolved against the config file's folder.
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlipayConfig {
    /// The app id (`2021…`, sandbox `9021…`). May be left out when only `[alipay.legacy]` is used.
    #[serde(default)]
    pub app_id: String,
    /// The app private key, inline (any form [`PrivateKey::parse`] takes).
    pub app_private_key: Option<SecretString>,
    /// The app private key, as a file.
    pub app_private_key_file: Option<PathBuf>,
    /// The Alipay public key (支付宝公钥), inline.
    pub alipay_public_key: Option<String>,
    /// The Alipay public key, as a file.
    pub alipay_public_key_file: Option<PathBuf>,
    /// The app's own public key as uploaded to Alipay, inline; only used to check for mistakes.
    pub app_public_key: Option<String>,
    /// The app's own public key, as a file.
    pub app_public_key_file: Option<PathBuf>,
    /// `RSA2` (default) or `RSA`.
    pub sign_type: Option<String>,
    /// `production` (default), `sandbox`, or a gateway URL.
    pub gateway: Option<String>,
    /// Default `notify_url`.
    pub notify_url: Option<String>,
    /// Default `return_url`.
    pub return_url: Option<String>,
    /// The merchant's own Alipay user id (`2088…`), checked against notifications when set.
    pub seller_id: Option<String>,
    /// API call timeout in seconds (default 15).
    pub timeout_secs: Option<u64>,
    /// The AES content-encryption key (接口内容加密密钥, base64), when the app has one set:
    /// API requests and answers are then encrypted.
    pub aes_key: Option<SecretString>,
    /// Certificate mode: the app certificate (`appCertPublicKey_<app_id>.crt`).
    pub app_cert_file: Option<PathBuf>,
    /// Certificate mode: the Alipay certificate (`alipayCertPublicKey_RSA2.crt`); replaces
    /// `alipay_public_key`.
    pub alipay_cert_file: Option<PathBuf>,
    /// Certificate mode: Alipay's root bundle (`alipayRootCert.crt`).
    pub alipay_root_cert_file: Option<PathBuf>,
    /// The retired MD5 interface (`[alipay.legacy]`), deprecated.
    #[cfg(feature = "legacy")]
    pub legacy: Option<LegacyConfig>,
}

impl fmt::Debug for AlipayConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AlipayConfig")
            .field("app_id", &self.app_id)
            .field(
                "app_private_key",
                &self.app_private_key.as_ref().map(|_| ".."),
            )
            .field("app_private_key_file", &self.app_private_key_file)
            .field("alipay_public_key_file", &self.alipay_public_key_file)
            .field("app_cert_file", &self.app_cert_file)
            .field("alipay_cert_file", &self.alipay_cert_file)
            .field("alipay_root_cert_file", &self.alipay_root_cert_file)
            .field("sign_type", &self.sign_type)
            .field("gateway", &self.gateway)
            .field("notify_url", &self.notify_url)
            .field("return_url", &self.return_url)
            .finish_non_exhaustive()
    }
}

impl AlipayConfig {
    /// Reads a TOML file: its `[alipay]` table if there is one, else the whole file. Relative key
    /// paths become relative to the file's folder.
    #[cfg(feature = "toml")]
    pub fn from_file(path: impl AsRef<Path>) -> Result<AlipayConfig, Error> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::Config(format!("cannot read {}: {e}", path.display())))?;
        let table: toml::Table =
            toml::from_str(&text).map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
        let section = match table.get("alipay") {
            Some(toml::Value::Table(section)) => section.clone(),
            _ => table,
        };
        let mut config: AlipayConfig = section
            .try_into()
            .map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
        if let Some(dir) = path.parent() {
            config.resolve_paths(dir);
        }
        Ok(config)
    }

    /// Makes relative key file paths relative to `dir`.
    pub fn resolve_paths(&mut self, dir: &Path) {
        for file in [
            &mut self.app_private_key_file,
            &mut self.alipay_public_key_file,
            &mut self.app_public_key_file,
            &mut self.app_cert_file,
            &mut self.alipay_cert_file,
            &mut self.alipay_root_cert_file,
        ]
        .into_iter()
        .flatten()
        {
            if file.is_relative() {
                *file = dir.join(&*file);
            }
        }
        #[cfg(feature = "legacy")]
        if let Some(legacy) = &mut self.legacy {
            legacy.resolve_paths(dir);
        }
    }

    /// Whether any certificate-mode file is configured.
    #[must_use]
    pub fn is_cert_mode(&self) -> bool {
        self.app_cert_file.is_some()
            || self.alipay_cert_file.is_some()
            || self.alipay_root_cert_file.is_some()
    }

    /// Loads the certificates of certificate mode; `None` in public-key mode. All three files or
    /// none, and never together with `alipay_public_key(_file)`.
    pub fn cert_mode(&self) -> Result<Option<CertMode>, Error> {
        if !self.is_cert_mode() {
            return Ok(None);
        }
        if self.alipay_public_key.is_some() || self.alipay_public_key_file.is_some() {
            return Err(Error::Config(
                "alipay_public_key(_file) and the certificate files exclude each other: certificate mode verifies with alipay_cert_file, public-key mode with alipay_public_key".into(),
            ));
        }
        let (Some(app), Some(alipay), Some(root)) = (
            &self.app_cert_file,
            &self.alipay_cert_file,
            &self.alipay_root_cert_file,
        ) else {
            let missing: Vec<&str> = [
                ("app_cert_file", self.app_cert_file.is_none()),
                ("alipay_cert_file", self.alipay_cert_file.is_none()),
                (
                    "alipay_root_cert_file",
                    self.alipay_root_cert_file.is_none(),
                ),
            ]
            .into_iter()
            .filter(|(_, missing)| *missing)
            .map(|(name, _)| name)
            .collect();
            return Err(Error::Config(format!(
                "certificate mode needs app_cert_file, alipay_cert_file and alipay_root_cert_file; missing: {}",
                missing.join(", ")
            )));
        };
        Ok(Some(CertMode::from_files(app, alipay, root)?))
    }

    /// The configured sign type.
    pub fn sign_type(&self) -> Result<SignType, Error> {
        self.sign_type.as_deref().map_or(Ok(SignType::Rsa2), |s| {
            s.parse()
                .map_err(|e| Error::Config(format!("sign_type: {e}")))
        })
    }

    /// The configured gateway.
    pub fn gateway(&self) -> Result<Gateway, Error> {
        self.gateway
            .as_deref()
            .map_or(Ok(Gateway::Production), str::parse)
    }

    /// Loads the app private key.
    pub fn app_private_key(&self) -> Result<PrivateKey, Error> {
        let which = "app private key";
        load(
            which,
            self.app_private_key
                .as_ref()
                .map(ExposeSecret::expose_secret),
            self.app_private_key_file.as_deref(),
            PrivateKey::parse,
            |p| PrivateKey::from_file(p),
        )?
        .ok_or_else(|| {
            Error::Config(format!(
                "{which}: set app_private_key or app_private_key_file"
            ))
        })
    }

    /// Loads the Alipay public key.
    pub fn alipay_public_key(&self) -> Result<PublicKey, Error> {
        let which = "Alipay public key";
        load(
            which,
            self.alipay_public_key.as_deref(),
            self.alipay_public_key_file.as_deref(),
            PublicKey::parse,
            |p| PublicKey::from_file(p),
        )?
        .ok_or_else(|| {
            Error::Config(format!(
                "{which}: set alipay_public_key or alipay_public_key_file"
            ))
        })
    }

    /// Loads the app's own public key, if configured.
    pub fn app_public_key(&self) -> Result<Option<PublicKey>, Error> {
        load(
            "app public key",
            self.app_public_key.as_deref(),
            self.app_public_key_file.as_deref(),
            PublicKey::parse,
            |p| PublicKey::from_file(p),
        )
    }

    /// Builds a client (in certificate mode when the certificate files are configured).
    pub fn client(&self) -> Result<Client, Error> {
        self.client_builder()?.build()
    }

    /// A client builder with every setting of this configuration, for the caller to add to
    /// (an HTTP client, retries, the JSON spelling).
    pub fn client_builder(&self) -> Result<crate::ClientBuilder, Error> {
        if self.app_id.is_empty() {
            return Err(Error::Config("app_id is not set".into()));
        }
        let builder = match self.cert_mode()? {
            Some(certs) => {
                Client::builder_with_certificates(&self.app_id, self.app_private_key()?, certs)
            }
            None => Client::builder(
                &self.app_id,
                self.app_private_key()?,
                self.alipay_public_key()?,
            ),
        };
        let mut builder = builder
            .sign_type(self.sign_type()?)
            .gateway(self.gateway()?)
            .timeout(Duration::from_secs(self.timeout_secs.unwrap_or(15)));
        if let Some(url) = &self.notify_url {
            builder = builder.notify_url(url);
        }
        if let Some(url) = &self.return_url {
            builder = builder.return_url(url);
        }
        if let Some(key) = &self.aes_key {
            use secrecy::ExposeSecret as _;
            let key = crate::aes::AesKey::from_base64(key.expose_secret())
                .map_err(|e| Error::Config(format!("aes_key: {e}")))?;
            builder = builder.aes_key(key);
        }
        Ok(builder)
    }
}

fn load<K>(
    which: &'static str,
    inline: Option<&str>,
    file: Option<&Path>,
    parse: fn(&str) -> Result<K, crate::KeyError>,
    read: fn(&Path) -> Result<K, crate::KeyError>,
) -> Result<Option<K>, Error> {
    let key = match (inline, file) {
        (Some(_), Some(_)) => {
            return Err(Error::Config(format!(
                "{which}: set the key inline or as a file, not both"
            )));
        }
        (Some(text), None) => parse(text),
        (None, Some(path)) => read(path),
        (None, None) => return Ok(None),
    };
    key.map(Some).map_err(|source| Error::Key { which, source })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(json: serde_json::Value) -> AlipayConfig {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn certificate_mode_needs_all_three_files_and_no_public_key() {
        let partial = parse(json!({"app_id": "2021000000000001", "app_cert_file": "a.crt"}));
        let error = partial.cert_mode().unwrap_err().to_string();
        assert!(
            error.contains("missing: alipay_cert_file, alipay_root_cert_file"),
            "{error}"
        );
        let both = parse(json!({
            "app_id": "1", "alipay_public_key": "x", "app_cert_file": "a",
            "alipay_cert_file": "b", "alipay_root_cert_file": "c"
        }));
        assert!(
            both.cert_mode()
                .unwrap_err()
                .to_string()
                .contains("exclude each other")
        );
        assert!(parse(json!({"app_id": "1"})).cert_mode().unwrap().is_none());
    }

    #[test]
    fn relative_paths_follow_the_file_and_secrets_stay_out_of_debug() {
        let mut config = parse(json!({
            "app_id": "1", "app_private_key": "secret-key-text", "app_cert_file": "certs/app.crt"
        }));
        config.resolve_paths(Path::new("/etc/shop"));
        assert_eq!(
            config.app_cert_file.as_deref(),
            Some(Path::new("/etc/shop/certs/app.crt"))
        );
        let debug = format!("{config:?}");
        assert!(!debug.contains("secret-key-text"), "{debug}");
    }

    #[cfg(feature = "legacy")]
    #[test]
    fn the_legacy_table_follows_the_file_and_keeps_its_key_out_of_debug() {
        let mut config = parse(json!({
            "app_id": "1",
            "legacy": {
                "partner": "2088101122136241",
                "md5_key": "0123456789abcdefghijklmnopqrstuv",
                "md5_key_file": "k.txt"
            }
        }));
        config.resolve_paths(Path::new("/etc/shop"));
        let legacy = config.legacy.as_ref().unwrap();
        assert_eq!(
            legacy.md5_key_file.as_deref(),
            Some(Path::new("/etc/shop/k.txt"))
        );
        assert!(!format!("{config:?}").contains("0123456789"));
        // A legacy-only configuration has no app id, and says so when asked for a client.
        let legacy_only = parse(json!({"legacy": {"partner": "2088101122136241"}}));
        assert!(
            legacy_only
                .client()
                .unwrap_err()
                .to_string()
                .contains("app_id is not set")
        );
    }
}
