//! Registered merchant apps: who may call the gateway, and with which key.

use alipay::{PublicKey, SignType};
use serde::Serialize;

use crate::config::AppConfig;

/// A merchant app as the gateway knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct App {
    /// The app id.
    pub app_id: String,
    /// The app public key requests are verified with.
    pub public_key: PublicKey,
    /// `RSA2` or `RSA`; also the algorithm of responses and notifications to this app.
    pub sign_type: SignType,
    /// The merchant's Alipay user id (`2088…`), reported as `seller_id`.
    pub seller_id: String,
    /// Merchant name on the cashier.
    pub name: Option<String>,
    /// Registered from the configuration (kept by `POST /api/reset`).
    pub configured: bool,
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
            sign_type: config.sign_type,
            name: config.name,
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
    /// From the configuration.
    pub configured: bool,
}
