//! An offline, faithful emulator of Alipay's `gateway.do`: the cashier, the trade APIs, signed
//! responses and notifications, byte for byte as Alipay writes them, plus the controls a test
//! needs (pay without a browser, expire, redeliver, inject faults, reset).
//!
//! Real merchant clients (this workspace's `alipay` SDK, python-alipay-sdk, the official Node
//! `alipay-sdk`) cannot tell it from the real gateway: point their gateway URL at
//! [`RunningSandbox::gateway_url`] and give them [`Sandbox::alipay_public_key`].
//!
//! ```no_run
//! use alipay_sandbox::{AppConfig, SandboxConfig};
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! # let app_public_key_pem = String::new();
//! // An in-memory sandbox on 127.0.0.1 and a random port, retries 1000 times faster.
//! let sandbox = alipay_sandbox::spawn(SandboxConfig {
//!     time_scale: 0.001,
//!     apps: vec![AppConfig::parse("2021000000000001", &app_public_key_pem)?],
//!     ..SandboxConfig::default()
//! })
//! .await?;
//! let gateway = sandbox.gateway_url(); // http://127.0.0.1:PORT/gateway.do
//! let alipay_public_key = sandbox.alipay_public_key().clone();
//! // ... a shop signs pay links for `gateway`, a test pays them:
//! reqwest::Client::new()
//!     .post(sandbox.url("/api/trades/ORDER_42/pay"))
//!     .send()
//!     .await?;
//! sandbox.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! Mounting it in another axum app (the shop's demo mode) keeps every link working, as all pages
//! use relative links: `Router::new().nest("/sandbox", sandbox.router())`.
//!
//! # Routes (relative to the base URL)
//! * `GET|POST /gateway.do`: the gateway; page methods (`alipay.trade.page.pay`,
//!   `alipay.trade.wap.pay`) answer with the cashier page or an HTML error page, the APIs
//!   (`query`, `close`, `cancel`, `refund`, `fastpay.refund.query`, `precreate`,
//!   `alipay.open.app.alipaycert.download`) with signed JSON (with `alipay_cert_sn` for apps in
//!   certificate mode). Requests naming a `service` go to the legacy MD5 interface
//!   (`create_direct_pay_by_user`, `notify_verify`; also `GET /trade/notify_query.do`).
//! * `GET /cashier/{trade_no}`, `POST /cashier/{trade_no}/pay`, `POST /cashier/{trade_no}/cancel`,
//!   `GET /qr/{token}`: the buyer's side.
//! * `GET /`: a dashboard of apps, trades and deliveries.
//! * Test control (JSON): `GET /api/alipay-public-key` (PEM), `GET|POST /api/apps`,
//!   `GET /api/certs`, `POST /api/certs/rotate`, `GET|POST /api/partners`,
//!   `GET /api/buyers`, `GET /api/trades`, `GET /api/trades/{out_trade_no}`,
//!   `POST /api/trades/{out_trade_no}/pay` (`{"buyer"?}`), `.../cancel`, `.../expire`,
//!   `GET /api/notifications` (one object per delivery attempt), `GET /api/notifications/queue`,
//!   `POST /api/notifications/{id}/deliver`, `GET|POST|DELETE /api/faults`, `POST /api/reset`.
//!
//! # Layout
//! Layers, each using only those above it in this list (checked by a test, `layering.rs`):
//! * leaves: `trades` (the pure trade state machine), `ids`, `json` (the node writer in Alipay's
//!   exact style: key order, `\/` escaping), `files`, `error`, [`config`], [`faults`], `ca` (the
//!   certificate authority of certificate mode), `apps`;
//! * `store`: all SQL (SQLite, one connection), one module per group of tables;
//! * `messages`: what is signed and sent (notification and return parameters, open API and
//!   legacy MD5);
//! * `service`: every use case, one transaction each, and the notification dispatcher;
//! * `views`: the state as the test API and the dashboard show it;
//! * `pages`: the cashier and the dashboard;
//! * `protocol`: the gateway's request checks, answers, the API methods and the legacy `mapi`;
//! * `gateway` (`/gateway.do`: check and dispatch) and `api` (test control): HTTP.

#![deny(missing_docs)]

// Leaves: no module of the crate below them.
mod apps;
mod ca;
pub mod config;
mod error;
pub mod faults;
mod files;
mod ids;
mod json;
mod trades;
// Then, each layer using only those before it.
mod api;
mod downloads;
mod gateway;
#[cfg(test)]
mod layering;
mod messages;
mod pages;
mod protocol;
mod service;
mod store;
mod views;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use alipay::PublicKey;
use axum::Router;
use axum::http::{HeaderValue, header};
use axum::routing::get;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

pub use apps::{App, AppView, Partner, PartnerView};
pub use ca::{CertsView, dir_for as certificate_dir};
pub use config::{AppConfig, BuyerConfig, PartnerConfig, SandboxConfig};
pub use error::SandboxError;
pub use faults::{Fault, FaultKind, FaultRequest};
/// The 25 columns of a trade bill's business detail (业务明细), as Alipay writes them: for
/// tests and benchmarks that make bills of their own.
pub use messages::bill::DETAIL_HEADER as BILL_DETAIL_HEADER;
use service::Shared;

/// A running emulator: state, key, background tasks. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Sandbox {
    shared: Arc<Shared>,
}

impl Sandbox {
    /// Opens the database, loads (or creates) the key, registers the configured apps and starts
    /// the background tasks, resuming any notification deliveries a previous run left pending.
    pub async fn start(config: SandboxConfig) -> Result<Sandbox, SandboxError> {
        Ok(Sandbox {
            shared: Shared::start(config).await?,
        })
    }

    /// The emulator's routes with their state applied, relative (`/gateway.do`, `/api/...`,
    /// `/cashier/...`, `/`), ready to be served or nested under a prefix.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/gateway.do", get(gateway::gateway).post(gateway::gateway))
            .route("/trade/notify_query.do", get(protocol::mapi::notify_query))
            .route("/downloadBillFile.resource", get(downloads::bill))
            .merge(pages::router())
            .merge(api::router())
            .layer(TraceLayer::new_for_http())
            .layer(SetResponseHeaderLayer::if_not_present(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_str(&pages::content_security_policy())
                    .unwrap_or_else(|_| HeaderValue::from_static("default-src 'self'")),
            ))
            .layer(SetResponseHeaderLayer::if_not_present(
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ))
            .layer(SetResponseHeaderLayer::if_not_present(
                header::REFERRER_POLICY,
                HeaderValue::from_static("same-origin"),
            ))
            .with_state(Arc::clone(&self.shared))
    }

    /// The public key merchants configure as "支付宝公钥" to verify the emulator.
    #[must_use]
    pub fn alipay_public_key(&self) -> &PublicKey {
        self.shared.key.public_key()
    }

    /// Where the emulator's private key is kept (`None`: ephemeral).
    #[must_use]
    pub fn key_file(&self) -> Option<&Path> {
        self.shared.key_path.as_deref()
    }

    /// Certificate mode: the Alipay certificate, the root bundle and their SNs, as a merchant
    /// configures them (what `GET /api/certs` shows). Makes the certificate authority on first use.
    pub async fn certificates(&self) -> Result<CertsView, SandboxError> {
        self.shared.certs_view().await
    }

    /// Certificate mode: issues a new Alipay certificate with a new key, which signs for
    /// certificate-mode apps from now on (as `POST /api/certs/rotate`). Returns its SN.
    pub async fn rotate_alipay_cert(&self) -> Result<String, SandboxError> {
        self.shared.rotate_alipay_cert().await
    }

    /// Issues an app certificate for `public_key` from the sandbox's authority, as Alipay's
    /// console does from a CSR; register it with [`AppConfig::with_certificate`].
    pub async fn issue_app_cert(
        &self,
        app_id: &str,
        public_key: &PublicKey,
    ) -> Result<alipay::cert::Certificate, SandboxError> {
        let ca = self.shared.ca().await?;
        ca.issue_app_cert(app_id, &crate::ids::seller_id_for(app_id), public_key)
    }

    /// Registers (or re-registers) a partner of the legacy MD5 interface.
    pub async fn register_partner(&self, partner: PartnerConfig) -> Result<Partner, SandboxError> {
        self.shared.register_partner(partner, true).await
    }

    /// Registers (or re-registers, replacing its key) a merchant app; the answer includes the
    /// seller id the emulator reports for it.
    pub async fn register_app(&self, app: AppConfig) -> Result<App, SandboxError> {
        self.shared.register_app(app, true).await
    }

    /// The registered apps.
    pub async fn apps(&self) -> Result<Vec<App>, SandboxError> {
        let mut conn = self.shared.store.conn().await?;
        store::apps(&mut conn).await
    }

    /// Forgets trades, refunds, notifications and faults and restores buyer balances, as
    /// `POST /api/reset` does; apps stay registered unless `forget_apps`.
    pub async fn reset(&self, forget_apps: bool) -> Result<(), SandboxError> {
        self.shared.reset(forget_apps).await
    }

    /// Stops the background tasks (notification deliveries, expiry) and closes the database.
    pub async fn shutdown(&self) {
        let _ = self.shared.shutdown.send(true);
        let tasks: Vec<_> = self.shared.tasks_mut().drain(..).collect();
        for task in tasks {
            if tokio::time::timeout(Duration::from_secs(5), task)
                .await
                .is_err()
            {
                tracing::warn!("a background task did not stop in time");
            }
        }
        self.shared.store.close().await;
    }
}

/// A sandbox serving on a local port, for tests and the binary.
#[derive(Debug)]
pub struct RunningSandbox {
    sandbox: Sandbox,
    addr: SocketAddr,
    server: JoinHandle<()>,
    stop: watch::Sender<bool>,
}

/// Starts a sandbox and serves it on `127.0.0.1` with a port the system picks.
pub async fn spawn(config: SandboxConfig) -> Result<RunningSandbox, SandboxError> {
    spawn_on(config, SocketAddr::from(([127, 0, 0, 1], 0))).await
}

/// Starts a sandbox and serves it on `addr` (port 0 picks a free port).
pub async fn spawn_on(
    config: SandboxConfig,
    addr: SocketAddr,
) -> Result<RunningSandbox, SandboxError> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(SandboxError::Serve)?;
    let addr = listener.local_addr().map_err(SandboxError::Serve)?;
    let sandbox = Sandbox::start(config).await?;
    let router = sandbox.router();
    let (stop, mut stopped) = watch::channel(false);
    let server = tokio::spawn(async move {
        let shutdown = async move {
            let _ = stopped.wait_for(|stop| *stop).await;
        };
        if let Err(error) = axum::serve(listener, router)
            .with_graceful_shutdown(shutdown)
            .await
        {
            tracing::error!(%error, "sandbox server failed");
        }
    });
    Ok(RunningSandbox {
        sandbox,
        addr,
        server,
        stop,
    })
}

impl RunningSandbox {
    /// The sandbox.
    #[must_use]
    pub fn sandbox(&self) -> &Sandbox {
        &self.sandbox
    }

    /// The address it listens on.
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT` (no trailing slash).
    #[must_use]
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `http://127.0.0.1:PORT/gateway.do`, the URL to configure as the Alipay gateway.
    #[must_use]
    pub fn gateway_url(&self) -> String {
        format!("{}/gateway.do", self.base_url())
    }

    /// An absolute URL for `path` (which starts with `/`).
    #[must_use]
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url())
    }

    /// The emulator's Alipay public key.
    #[must_use]
    pub fn alipay_public_key(&self) -> &PublicKey {
        self.sandbox.alipay_public_key()
    }

    /// Stops serving and stops the sandbox.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = tokio::time::timeout(Duration::from_secs(5), self.server).await;
        self.sandbox.shutdown().await;
    }
}
