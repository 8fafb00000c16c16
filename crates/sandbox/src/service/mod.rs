//! The use cases, every one of them: the emulator's state ([`Shared`]) and everything done to it,
//! each in one transaction. HTTP (the gateway, the pages, the test API) calls in here; nothing
//! here knows HTTP.
//!
//! * this module: start-up, the certificate authority, apps and partners, reset;
//! * [`trades`]: placing, paying, querying, closing, cancelling, refunding and expiring trades,
//!   and where the browser goes after paying;
//! * [`notify`]: delivering notifications on Alipay's retry schedule;
//! * [`bills`]: the daily trade bill and its download links.

pub(crate) mod bills;
pub(crate) mod notify;
pub(crate) mod trades;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use alipay::PrivateKey;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

use crate::apps::{App, Partner};
use crate::ca::{self, CertsView};
use crate::config::{AppConfig, PartnerConfig, SandboxConfig};
use crate::error::SandboxError;
use crate::faults;
use crate::store;

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
    pub(crate) dispatch: notify::DispatchState,
    pub(crate) bill_links: bills::BillLinks,
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
    crate::files::write_secret(path, key.to_pkcs8_pem().as_bytes()).map_err(io)?;
    tracing::info!(path = %path.display(), "created the sandbox's Alipay key");
    Ok(key)
}

impl Shared {
    /// Opens the database, loads (or creates) the key, registers the configured apps and starts
    /// the background tasks, resuming any notification deliveries a previous run left pending.
    pub(crate) async fn start(config: SandboxConfig) -> Result<Arc<Shared>, SandboxError> {
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
                store::upsert_partner(&mut conn, &Partner::from_config(partner.clone(), true))
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
            dispatch: notify::DispatchState::new(),
            bill_links: bills::BillLinks::default(),
            expiry_wake: Notify::new(),
            shutdown: watch::channel(false).0,
            tasks: Mutex::new(Vec::new()),
        });
        if eager_ca {
            shared.ca().await?;
        }
        let tasks = vec![
            tokio::spawn(notify::run(Arc::clone(&shared))),
            tokio::spawn(trades::run_expiry(Arc::clone(&shared))),
        ];
        shared.tasks_mut().extend(tasks);
        Ok(shared)
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

    pub(crate) fn tasks_mut(&self) -> std::sync::MutexGuard<'_, Vec<JoinHandle<()>>> {
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
