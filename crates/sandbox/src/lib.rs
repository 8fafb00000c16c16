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
//! * [`config`]: [`SandboxConfig`], [`AppConfig`], the TOML file of the binary.
//! * `gateway`: protocol checks and dispatch; `methods`: the APIs' response nodes; `json`: the
//!   node writer in Alipay's exact style (key order, `\/` escaping).
//! * `trades`: the trade state machine, pure; `service`: use cases, one transaction each;
//!   `store`: all SQL (SQLite, one connection).
//! * `messages`: notification and return parameters and their signatures; `notify`: the
//!   delivery schedule; [`faults`]: injected misbehaviour; `cashier`, `dashboard`, `api`: pages
//!   and test control.
//! * `ca`: the sandbox's certificate authority (certificate mode, rotation); `mapi`: the legacy
//!   MD5 gateway and `notify_verify`.

mod api;
mod apps;
mod ca;
mod cashier;
pub mod config;
mod dashboard;
mod error;
pub mod faults;
mod gateway;
mod ids;
mod json;
mod mapi;
mod messages;
mod methods;
mod notify;
mod service;
mod store;
mod trades;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use alipay::{PrivateKey, PublicKey};
use axum::Router;
use axum::http::{HeaderValue, header};
use axum::routing::get;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

pub use apps::{App, AppView, Partner, PartnerView};
pub use ca::{CertsView, dir_for as certificate_dir};
pub use config::{AppConfig, BuyerConfig, PartnerConfig, SandboxConfig};
pub use error::SandboxError;
pub use faults::{Fault, FaultKind, FaultRequest};

/// A running emulator: state, key, background tasks. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Sandbox {
    shared: Arc<Shared>,
}

/// What every handler and task shares.
pub(crate) struct Shared {
    pub(crate) config: SandboxConfig,
    pub(crate) store: store::Store,
    /// The emulator's "Alipay" private key: signs responses, notifications and returns (for
    /// certificate-mode apps, until the Alipay certificate is rotated).
    pub(crate) key: Arc<PrivateKey>,
    /// The certificate authority of certificate mode, made on first use (see [`ca`]).
    pub(crate) ca: tokio::sync::OnceCell<Arc<ca::CertAuthority>>,
    pub(crate) key_path: Option<PathBuf>,
    pub(crate) faults: faults::Faults,
    pub(crate) http: reqwest::Client,
    pub(crate) templates: minijinja::Environment<'static>,
    pub(crate) dispatch: notify::DispatchState,
    pub(crate) expiry_wake: Notify,
    pub(crate) shutdown: watch::Sender<bool>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The private key never appears in logs; its public half identifies it.
        f.debug_struct("Shared")
            .field("alipay_public_key", self.key.public_key())
            .field("key_path", &self.key_path)
            .field("database", &self.config.database)
            .finish_non_exhaustive()
    }
}

/// Loads the emulator's key from `path`, creating it (mode 0600) on first run.
fn load_or_create_key(path: Option<&Path>) -> Result<PrivateKey, SandboxError> {
    let Some(path) = path else {
        return PrivateKey::generate().map_err(SandboxError::Key);
    };
    if path.exists() {
        return PrivateKey::from_file(path).map_err(SandboxError::Key);
    }
    let key = PrivateKey::generate().map_err(SandboxError::Key)?;
    let io = |source| SandboxError::Io {
        path: path.to_path_buf(),
        source,
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(io)?;
    }
    write_secret(path, key.to_pkcs8_pem().as_bytes()).map_err(io)?;
    tracing::info!(path = %path.display(), "created the sandbox's Alipay key");
    Ok(key)
}

#[cfg(unix)]
pub(crate) fn write_secret(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes)
}

#[cfg(not(unix))]
pub(crate) fn write_secret(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}

impl Sandbox {
    /// Opens the database, loads (or creates) the key, registers the configured apps and starts
    /// the background tasks, resuming any notification deliveries a previous run left pending.
    pub async fn start(config: SandboxConfig) -> Result<Sandbox, SandboxError> {
        config.validate()?;
        let key = load_or_create_key(config.key_file.as_deref())?;
        let store = store::Store::open(config.database.as_deref()).await?;
        {
            let mut conn = store.conn().await?;
            store::seed_buyers(&mut conn, &config.buyers).await?;
            for app in &config.apps {
                app.validate()?;
                store::upsert_app(&mut conn, &App::from_config(app.clone(), true)).await?;
            }
        }
        let http = reqwest::Client::builder()
            .timeout(config.notify_timeout)
            .connect_timeout(config.notify_timeout)
            // A redirect is a failed delivery at Alipay (spec §9.1), not something to follow.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("alipay-sandbox/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| SandboxError::Config(format!("HTTP client: {e}")))?;
        // Made at start only when an app needs it; otherwise on first use (GET /api/certs, a
        // certificate-mode registration), so that embedding the sandbox costs nothing extra.
        let eager_ca = config.apps.iter().any(|app| app.app_cert.is_some());
        for partner in &config.partners {
            partner.validate()?;
        }
        {
            let mut conn = store.conn().await?;
            for partner in &config.partners {
                store::upsert_partner(
                    &mut conn,
                    &apps::Partner::from_config(partner.clone(), true),
                )
                .await?;
            }
        }
        let shared = Arc::new(Shared {
            key_path: config.key_file.clone(),
            config,
            store,
            key: Arc::new(key),
            ca: tokio::sync::OnceCell::new(),
            faults: faults::Faults::default(),
            http,
            templates: cashier::templates(),
            dispatch: notify::DispatchState::new(),
            expiry_wake: Notify::new(),
            shutdown: watch::channel(false).0,
            tasks: Mutex::new(Vec::new()),
        });
        if eager_ca {
            shared.ca().await?;
        }
        let tasks = vec![
            tokio::spawn(notify::run(Arc::clone(&shared))),
            tokio::spawn(service::run_expiry(Arc::clone(&shared))),
        ];
        shared.tasks_mut().extend(tasks);
        Ok(Sandbox { shared })
    }

    /// The emulator's routes with their state applied, relative (`/gateway.do`, `/api/...`,
    /// `/cashier/...`, `/`), ready to be served or nested under a prefix.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/gateway.do", get(gateway::gateway).post(gateway::gateway))
            .route("/trade/notify_query.do", get(mapi::notify_query))
            .route("/", get(dashboard::dashboard))
            .merge(cashier::router())
            .merge(api::router())
            .layer(TraceLayer::new_for_http())
            .layer(SetResponseHeaderLayer::if_not_present(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_str(&cashier::content_security_policy())
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

impl Shared {
    /// The certificate authority, made (or loaded) on first use, with the rotated certificates
    /// the database keeps.
    pub(crate) async fn ca(&self) -> Result<&Arc<ca::CertAuthority>, SandboxError> {
        self.ca
            .get_or_try_init(|| async {
                let key_path = self.key_path.clone();
                let key = Arc::clone(&self.key);
                let authority = tokio::task::spawn_blocking(move || {
                    ca::CertAuthority::load_or_create(key_path.as_deref(), &key)
                })
                .await
                .map_err(|e| SandboxError::Config(format!("certificate authority: {e}")))??;
                let mut conn = self.store.conn().await?;
                for (chain_pem, key_pem) in store::alipay_certs(&mut conn).await? {
                    authority.restore(chain_pem, &key_pem)?;
                }
                Ok(Arc::new(authority))
            })
            .await
    }

    /// The key that signs for `app`, and the SN of its certificate in certificate mode.
    pub(crate) async fn signer_for(
        &self,
        app: &App,
    ) -> Result<(Arc<PrivateKey>, Option<String>), SandboxError> {
        if app.app_cert.is_none() {
            return Ok((Arc::clone(&self.key), None));
        }
        let current = self.ca().await?.current();
        Ok((Arc::clone(&current.key), Some(current.sn.clone())))
    }

    pub(crate) async fn certs_view(&self) -> Result<CertsView, SandboxError> {
        let ca = self.ca().await?;
        let mut sns = vec![ca.first_sn().to_owned()];
        let mut conn = self.store.conn().await?;
        for (chain_pem, _) in store::alipay_certs(&mut conn).await? {
            if let Ok(sn) = alipay::cert::cert_sn(chain_pem.as_bytes()) {
                sns.push(sn);
            }
        }
        Ok(ca.view(&sns))
    }

    pub(crate) async fn rotate_alipay_cert(&self) -> Result<String, SandboxError> {
        let ca = Arc::clone(self.ca().await?);
        let (signer, key_pem) = tokio::task::spawn_blocking(move || ca.rotate())
            .await
            .map_err(|e| SandboxError::Config(format!("certificate authority: {e}")))??;
        let mut conn = self.store.conn().await?;
        store::insert_alipay_cert(&mut conn, &signer.sn, &signer.chain_pem, &key_pem).await?;
        tracing::info!(alipay_cert_sn = %signer.sn, "Alipay certificate rotated");
        Ok(signer.sn.clone())
    }

    pub(crate) async fn register_partner(
        &self,
        config: PartnerConfig,
        configured: bool,
    ) -> Result<Partner, SandboxError> {
        config.validate()?;
        let partner = Partner::from_config(config, configured);
        let mut conn = self.store.conn().await?;
        store::upsert_partner(&mut conn, &partner).await?;
        tracing::info!(partner = %partner.partner, "legacy partner registered");
        Ok(partner)
    }

    fn tasks_mut(&self) -> std::sync::MutexGuard<'_, Vec<JoinHandle<()>>> {
        // Only pushes and drains happen under this lock; a poisoned list is still usable.
        self.tasks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) async fn register_app(
        &self,
        config: AppConfig,
        configured: bool,
    ) -> Result<App, SandboxError> {
        config.validate()?;
        if config.app_cert.is_some() {
            // Responses to it carry alipay_cert_sn from now on.
            self.ca().await?;
        }
        let app = App::from_config(config, configured);
        let mut conn = self.store.conn().await?;
        store::upsert_app(&mut conn, &app).await?;
        tracing::info!(app.id = %app.app_id, key = %app.public_key.fingerprint(), "app registered");
        Ok(app)
    }

    pub(crate) async fn reset(&self, forget_apps: bool) -> Result<(), SandboxError> {
        self.faults.clear();
        let mut tx = self.store.begin().await?;
        store::reset(&mut tx, forget_apps).await?;
        tx.commit().await?;
        tracing::info!("sandbox reset");
        Ok(())
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
