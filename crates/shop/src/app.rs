//! Putting the shop together: configuration → database → Alipay (real, or the built-in sandbox)
//! → router → background jobs; and serving it until shutdown.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use alipay::{Client, Gateway, PrivateKey};
use alipay_sandbox::{AppConfig, Sandbox, SandboxConfig};
use anyhow::Context as _;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use secrecy::ExposeSecret;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::context::{Context, Limits, Settings};
use crate::http::{self, AppState};
use crate::payments::notify::batch;
use crate::store::{self, Db};

/// The app id the shop uses with its built-in sandbox.
pub const DEMO_APP_ID: &str = "9021000000000001";
/// The seller id the built-in sandbox reports for the demo app.
pub const DEMO_SELLER_ID: &str = "2088721000000001";

/// A built shop, bound to its address, ready to serve.
pub struct Application {
    listener: TcpListener,
    metrics_listener: Option<TcpListener>,
    router: axum::Router,
    state: AppState,
    sandbox: Option<Sandbox>,
    shutdown: CancellationToken,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application")
            .field("address", &self.listener.local_addr().ok())
            .finish_non_exhaustive()
    }
}

/// One Prometheus recorder per process (the `metrics` macros write to a global).
fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets(&[
                    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
                ])
                .expect("static buckets are valid")
                .build_recorder();
            let handle = recorder.handle();
            // Another recorder may already be installed (several shops in one test process);
            // the handle still renders what this recorder would have.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

impl Application {
    /// Builds everything and binds the listener (port 0 picks a free port). Refuses, before
    /// binding anything, a configuration that is unsafe to serve
    /// ([`Config::check_safe_to_serve`]).
    pub async fn build(mut config: Config) -> anyhow::Result<Application> {
        config.check_safe_to_serve()?;
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("cannot create data dir {}", config.data_dir.display()))?;
        let listener = TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("cannot listen on {}", config.listen))?;
        config.listen = listener.local_addr()?;
        let metrics_listener = match config.metrics_listen {
            Some(address) => {
                let metrics = TcpListener::bind(address)
                    .await
                    .with_context(|| format!("cannot listen on {address} (metrics_listen)"))?;
                config.metrics_listen = Some(metrics.local_addr()?);
                Some(metrics)
            }
            None => None,
        };

        let db = open_database(&config).await?;
        if config.seed_demo_data() {
            seed(&db).await?;
        }
        let jwt_secret = match &config.jwt_secret {
            Some(secret) => secret.expose_secret().as_bytes().to_vec(),
            None => {
                if db.backend() == store::Backend::Postgres {
                    tracing::warn!(
                        "jwt_secret is not configured: this instance signs logins with its own secret, so other instances will not accept them"
                    );
                }
                load_or_create_secret(&config.data_dir.join("jwt_secret"))?
            }
        };

        let (alipay, sandbox, seller_id) = match &config.alipay {
            Some(alipay_config) => {
                let (client, seller_id) = real_alipay(&config, alipay_config)?;
                (client, None, seller_id)
            }
            None => {
                let (client, sandbox) = demo_alipay(&config, &config.public_url()).await?;
                (client, Some(sandbox), Some(demo_seller_id(&config)))
            }
        };
        let state = AppState {
            ctx: context(&config, db, alipay, seller_id),
            jwt: Arc::new(http::auth::Jwt::new(&jwt_secret, config.jwt_ttl_secs)),
            metrics: metrics_handle(),
            jobs_wakeup: Arc::new(tokio::sync::Notify::new()),
            config: Arc::new(config),
        };
        let web_dir = state.config.web_dir.clone().unwrap_or_else(default_web_dir);
        let router = http::router(
            state.clone(),
            &web_dir,
            sandbox.as_ref().map(Sandbox::router),
        );
        Ok(Application {
            listener,
            metrics_listener,
            router,
            state,
            sandbox,
            shutdown: CancellationToken::new(),
        })
    }

    /// The bound address.
    #[must_use]
    pub fn address(&self) -> SocketAddr {
        self.state.config.listen
    }

    /// The bound address of the separate metrics listener (`metrics_listen`), if any.
    #[must_use]
    pub fn metrics_address(&self) -> Option<SocketAddr> {
        self.state.config.metrics_listen
    }

    /// The shop's base URL.
    #[must_use]
    pub fn base_url(&self) -> String {
        self.state.ctx.settings.public_url.clone()
    }

    /// The use-case context (tests drive jobs with it).
    #[must_use]
    pub fn context(&self) -> Context {
        self.state.ctx.clone()
    }

    /// A token that stops the server and the jobs when cancelled.
    #[must_use]
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Serves until the shutdown token is cancelled, running the background jobs if configured.
    pub async fn run(self) -> anyhow::Result<()> {
        let Application {
            listener,
            metrics_listener,
            router,
            state,
            sandbox,
            shutdown,
        } = self;
        let metrics = metrics_listener.map(|metrics_listener| {
            let router = http::ops::metrics_router(state.clone());
            let stop = shutdown.clone();
            tokio::spawn(async move {
                axum::serve(metrics_listener, router)
                    .with_graceful_shutdown(async move { stop.cancelled().await })
                    .await
            })
        });
        let jobs = state.config.run_jobs.then(|| {
            let ctx = state.ctx.clone();
            let interval = Duration::from_millis(state.config.jobs_interval_ms.max(10));
            let wakeup = state.jobs_wakeup.clone();
            tokio::spawn(crate::jobs::run_until_stopped(
                ctx,
                interval,
                wakeup,
                shutdown.clone(),
            ))
        });
        let stop = shutdown.clone();
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move { stop.cancelled().await })
        .await?;
        shutdown.cancel();
        if let Some(jobs) = jobs {
            let _ = jobs.await;
        }
        if let Some(metrics) = metrics {
            let _ = metrics.await;
        }
        if let Some(sandbox) = sandbox {
            sandbox.shutdown().await;
        }
        state.ctx.db.close().await;
        Ok(())
    }
}

/// The use-case context: the database, Alipay, the settings and limits.
fn context(config: &Config, db: Db, alipay: Client, seller_id: Option<String>) -> Context {
    let settings = Settings {
        order_ttl: config.order_ttl(),
        reconcile_after: Duration::from_secs(config.reconcile_after_secs),
        reconcile_backoff: Duration::from_secs(config.reconcile_backoff_secs.max(1)),
        return_check_interval: Duration::from_secs(config.return_check_secs),
        rejected_retention: Duration::from_secs(
            config.rejected_retention_days.saturating_mul(24 * 3600),
        ),
        seller_id,
        settle: config
            .settle_daily
            .then(|| crate::payments::settlement::Schedule::parse(&config.settle_at))
            .flatten(),
        frontend_url: config.frontend_url(),
        public_url: config.public_url(),
    };
    let mut ctx = Context {
        order_writer: crate::store::order_writer::OrderWriter::spawn(db.clone()),
        notification_batches: None,
        db,
        alipay,
        settings: Arc::new(settings),
        limits: Arc::new(Limits::new(
            std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get),
            config.notify_failures_per_minute,
        )),
    };
    if ctx.db.backend() == store::Backend::Sqlite {
        // The committer's own context holds no handle to its queue, so the queue closes (and
        // the committer ends) when the last handler's context is dropped.
        let committer = ctx.clone();
        let (batches, incoming) = batch::Batches::channel();
        tokio::spawn(batch::run(committer, incoming));
        ctx.notification_batches = Some(batches);
    }
    ctx
}

/// The context the command-line tools (`shop settle`) work with: the same database and Alipay
/// as `shop serve` on the same configuration. In demo mode Alipay is the built-in sandbox of
/// the running shop (its keys are in the data dir), so the shop must be serving.
pub async fn tool_context(config: &Config) -> anyhow::Result<Context> {
    config.check_safe_to_serve()?;
    let db = open_database(config).await?;
    let (alipay, seller_id) = match &config.alipay {
        Some(alipay_config) => real_alipay(config, alipay_config)?,
        None => {
            let dir = &config.data_dir;
            let missing = |what: &str| {
                anyhow::anyhow!(
                    "{what} is missing from {}: in demo mode, run `shop serve` on this data dir first (the built-in sandbox is Alipay here)",
                    dir.display()
                )
            };
            let app_key = PrivateKey::from_file(dir.join("app_private_key.pem"))
                .map_err(|_| missing("the demo app key"))?;
            let sandbox_key = PrivateKey::from_file(dir.join("sandbox_alipay_key.pem"))
                .map_err(|_| missing("the sandbox's key"))?;
            let public_url = config.public_url();
            let client = Client::builder(DEMO_APP_ID, app_key, sandbox_key.public_key().clone())
                .gateway(Gateway::Url(format!("{public_url}/sandbox/gateway.do")))
                .notify_url(format!("{public_url}/alipay/notify"))
                .return_url(format!("{public_url}/alipay/return"))
                .build()?;
            (client, Some(demo_seller_id(config)))
        }
    };
    Ok(context(config, db, alipay, seller_id))
}

/// The Alipay client of a real `[alipay]` section, with the shop's callback URLs by default, and
/// the merchant's seller id.
fn real_alipay(
    config: &Config,
    alipay_config: &alipay::config::AlipayConfig,
) -> anyhow::Result<(Client, Option<String>)> {
    let public_url = config.public_url();
    let mut alipay_config = alipay_config.clone();
    alipay_config
        .notify_url
        .get_or_insert_with(|| format!("{public_url}/alipay/notify"));
    alipay_config
        .return_url
        .get_or_insert_with(|| format!("{public_url}/alipay/return"));
    let client = alipay_config.client().context("Alipay configuration")?;
    let seller_id = config.seller_id.clone().or(alipay_config.seller_id.clone());
    Ok((client, seller_id))
}

fn demo_seller_id(config: &Config) -> String {
    config
        .seller_id
        .clone()
        .unwrap_or_else(|| DEMO_SELLER_ID.to_owned())
}

/// The built-in sandbox standing in for Alipay: its own key and state in the data dir, the shop's
/// app key generated once and registered with it, mounted at `/sandbox`.
async fn demo_alipay(config: &Config, public_url: &str) -> anyhow::Result<(Client, Sandbox)> {
    let dir = &config.data_dir;
    let app_key_file = dir.join("app_private_key.pem");
    let app_key = if app_key_file.exists() {
        PrivateKey::from_file(&app_key_file).context("demo app key")?
    } else {
        let key = PrivateKey::generate()?;
        write_secret(&app_key_file, key.to_pkcs8_pem().as_bytes())?;
        key
    };
    let sandbox = Sandbox::start(SandboxConfig {
        database: Some(dir.join("sandbox.db")),
        key_file: Some(dir.join("sandbox_alipay_key.pem")),
        time_scale: config.sandbox_time_scale,
        apps: vec![AppConfig {
            name: Some("alipay-shop 课程商城".into()),
            seller_id: Some(DEMO_SELLER_ID.into()),
            ..AppConfig::new(DEMO_APP_ID, app_key.public_key().clone())
        }],
        ..SandboxConfig::default()
    })
    .await
    .context("cannot start the built-in sandbox")?;
    let client = Client::builder(DEMO_APP_ID, app_key, sandbox.alipay_public_key().clone())
        .gateway(Gateway::Url(format!("{public_url}/sandbox/gateway.do")))
        .notify_url(format!("{public_url}/alipay/notify"))
        .return_url(format!("{public_url}/alipay/return"))
        .build()?;
    Ok((client, sandbox))
}

/// Opens the configured database and brings its schema up to date (`serve` and the
/// command-line tools share it).
pub async fn open_database(config: &Config) -> anyhow::Result<Db> {
    if config.database_url.is_none() {
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("cannot create data dir {}", config.data_dir.display()))?;
    }
    Db::connect(&config.database_url())
        .await
        .context("cannot open the database")
}

/// Demo catalog and the demo user.
async fn seed(db: &Db) -> anyhow::Result<()> {
    crate::catalog::seed_demo(db).await?;
    crate::accounts::ensure_demo_user(db).await?;
    Ok(())
}

fn load_or_create_secret(path: &Path) -> anyhow::Result<Vec<u8>> {
    if let Ok(secret) = std::fs::read(path) {
        return Ok(secret);
    }
    let mut bytes = [0u8; 32];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| anyhow::anyhow!("no random source"))?;
    let secret =
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, bytes).into_bytes();
    write_secret(path, &secret)?;
    Ok(secret)
}

fn write_secret(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(bytes)?;
    Ok(())
}

/// `web/` in the source tree this binary was built from.
fn default_web_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../web"))
}
