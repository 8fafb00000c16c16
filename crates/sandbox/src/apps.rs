//! Registered merchants: apps (who may call the gateway, and with which key or certificate), and
//! partners of the legacy MD5 interface.

use alipay::aes::AesKey;
use alipay::cert::Certificate;
use alipay::legacy::Md5Key;
use alipay::{PublicKey, SignType};
use serde::Serialize;

use crate::config::{AppConfig, PartnerConfig};

/// A merchant app as the gateway knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct App {
    /// The app id.
    pub app_id: String,
    /// The app public key requests are verified with.
    pub public_key: PublicKey,
    /// Certificate mode: the app certificate requests must name (`app_cert_sn`).
    pub app_cert: Option<Certificate>,
    /// `RSA2` or `RSA`; also the algorithm of responses and notifications to this app.
    pub sign_type: SignType,
    /// The merchant's Alipay user id (`2088…`), reported as `seller_id`.
    pub seller_id: String,
    /// Merchant name on the cashier.
    pub name: Option<String>,
    /// Registered from the configuration (kept by `POST /api/reset`).
    pub configured: bool,
    /// The AES content-encryption key, when the app has one.
    pub aes_key: Option<AesKey>,
}

impl App {
    /// The app described by `config`.
    #[must_use]
    pub fn from_config(config: AppConfig, configured: bool) -> App {
        App {
            seller_id: config
                .seller_id
                .unwrap_or_else(|| crate::ids::seller_id_for(&config.app_id)),
            app_id: config.app_id,
            public_key: config.public_key,
            app_cert: config.app_cert,
            sign_type: config.sign_type,
            name: config.name,
            aes_key: config.aes_key,
            configured,
        }
    }

    /// The merchant name the cashier shows.
    #[must_use]
    pub fn display_name(&self) -> String {
        self.name
            .clone()
            .unwrap_or_else(|| format!("沙箱商户 Sandbox merchant {}", self.app_id))
    }

    /// The JSON the test-control API shows.
    #[must_use]
    pub fn view(&self) -> AppView {
        AppView {
            app_id: self.app_id.clone(),
            sign_type: self.sign_type.as_str(),
            seller_id: self.seller_id.clone(),
            name: self.display_name(),
            public_key: self.public_key.to_base64(),
            app_cert_sn: self.app_cert.as_ref().map(|c| c.sn().to_owned()),
            app_cert: self.app_cert.as_ref().map(Certificate::to_pem),
            aes: self.aes_key.is_some(),
            configured: self.configured,
        }
    }
}

/// An app in the test-control API.
#[derive(Clone, Debug, Serialize)]
pub struct AppView {
    /// The app id.
    pub app_id: String,
    /// `RSA2` / `RSA`.
    pub sign_type: &'static str,
    /// The seller id reported in notifications and returns.
    pub seller_id: String,
    /// Merchant name.
    pub name: String,
    /// The app public key, bare base64 SPKI.
    pub public_key: String,
    /// Certificate mode: the SN requests must send as `app_cert_sn`.
    pub app_cert_sn: Option<String>,
    /// Certificate mode: the app certificate (PEM), `appCertPublicKey_<app_id>.crt`.
    pub app_cert: Option<String>,
    /// From the configuration.
    pub configured: bool,
    /// Whether the app encrypts content with AES (the key itself is never shown).
    pub aes: bool,
}

/// A partner of the legacy MD5 interface (`create_direct_pay_by_user`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Partner {
    /// The partner id (PID), `2088…`; also its seller id.
    pub partner: String,
    /// The shared MD5 key.
    pub md5_key: Md5Key,
    /// The seller's account.
    pub seller_email: String,
    /// Merchant name on the cashier.
    pub name: Option<String>,
    /// Registered from the configuration (kept by `POST /api/reset?apps=true`).
    pub configured: bool,
}

impl Partner {
    /// The partner described by `config`.
    #[must_use]
    pub fn from_config(config: PartnerConfig, configured: bool) -> Partner {
        Partner {
            seller_email: config
                .seller_email
                .unwrap_or_else(|| format!("seller-{}@sandbox.com", config.partner)),
            partner: config.partner,
            md5_key: config.md5_key,
            name: config.name,
            configured,
        }
    }

    /// The merchant name the cashier shows.
    #[must_use]
    pub fn display_name(&self) -> String {
        self.name
            .clone()
            .unwrap_or_else(|| format!("即时到账商户 Legacy merchant {}", self.partner))
    }

    /// The JSON the test-control API shows (never the key).
    #[must_use]
    pub fn view(&self) -> PartnerView {
        PartnerView {
            partner: self.partner.clone(),
            seller_id: self.partner.clone(),
            seller_email: self.seller_email.clone(),
            name: self.display_name(),
            configured: self.configured,
        }
    }
}

/// A legacy partner in the test-control API.
#[derive(Clone, Debug, Serialize)]
pub struct PartnerView {
    /// The partner id.
    pub partner: String,
    /// The seller id (the partner id).
    pub seller_id: String,
    /// The seller's account.
    pub seller_email: String,
    /// Merchant name.
    pub name: String,
    /// From the configuration.
    pub configured: bool,
}

/// Whoever a trade belongs to: an app (OpenAPI) or a legacy partner.
#[derive(Clone, Debug)]
pub(crate) enum Merchant {
    /// An app.
    App(Box<App>),
    /// A legacy MD5 partner.
    Partner(Partner),
}

impl Merchant {
    /// The merchant name the cashier shows.
    pub(crate) fn display_name(&self) -> String {
        match self {
            Merchant::App(app) => app.display_name(),
            Merchant::Partner(partner) => partner.display_name(),
        }
    }
}
