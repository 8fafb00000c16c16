//! `alipay-sandbox`: the Alipay gateway emulator as a program.
//!
//! ```text
//! alipay-sandbox --listen 127.0.0.1:8090                 # state in ./.alipay-sandbox/
//! alipay-sandbox --listen 127.0.0.1:0 --in-memory        # a test run: prints the port it got
//! alipay-sandbox --app 2021000000000001=app_public.pem   # register an app at start
//! alipay-sandbox --app-cert 2021000000000002=appCertPublicKey.crt   # certificate mode
//! alipay-sandbox --partner 2088101122136241=md5_key.txt   # legacy MD5 interface
//! ```

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use alipay_sandbox::config::FileConfig;
use alipay_sandbox::{AppConfig, PartnerConfig, SandboxConfig, SandboxError};
use clap::Parser;

/// An offline, faithful emulator of the Alipay gateway (gateway.do).
#[derive(Debug, Parser)]
#[command(name = "alipay-sandbox", version)]
struct Args {
    /// Address to listen on; port 0 picks a free port (printed at start).
    #[arg(long, env = "ALIPAY_SANDBOX_LISTEN", default_value = "127.0.0.1:8090")]
    listen: SocketAddr,
    /// Folder for the database and the key when they are not given explicitly.
    #[arg(
        long,
        env = "ALIPAY_SANDBOX_DATA_DIR",
        default_value = ".alipay-sandbox"
    )]
    data_dir: PathBuf,
    /// SQLite database file (default: DATA_DIR/sandbox.db).
    #[arg(long, env = "ALIPAY_SANDBOX_DATABASE", conflicts_with = "in_memory")]
    database: Option<PathBuf>,
    /// Keep all state in memory (and use an ephemeral key unless --key-file is given).
    #[arg(long)]
    in_memory: bool,
    /// The emulator's Alipay private key, PEM; created on first run
    /// (default: DATA_DIR/alipay_private_key.pem).
    #[arg(long, env = "ALIPAY_SANDBOX_KEY_FILE")]
    key_file: Option<PathBuf>,
    /// Multiplies the notification retry delays (0.001: the 4-minute retry after 240 ms).
    #[arg(long, env = "ALIPAY_SANDBOX_TIME_SCALE")]
    time_scale: Option<f64>,
    /// How far (seconds) a request timestamp may be from now; 0 turns the check off.
    #[arg(long)]
    timestamp_skew: Option<u64>,
    /// Public base URL, when the sandbox is reached through a proxy.
    #[arg(long)]
    public_url: Option<String>,
    /// TOML configuration file (apps, paths, time scale); flags override it.
    #[arg(long, short, env = "ALIPAY_SANDBOX_CONFIG")]
    config: Option<PathBuf>,
    /// Registers an app: APP_ID=PUBLIC_KEY, the key as a file path or inline (PEM, base64).
    #[arg(long = "app", value_name = "APP_ID=KEY")]
    apps: Vec<String>,
    /// Registers an app in certificate mode: APP_ID=CERT_FILE (its appCertPublicKey_*.crt).
    #[arg(long = "app-cert", value_name = "APP_ID=CERT_FILE")]
    app_certs: Vec<String>,
    /// Registers a partner of the legacy MD5 interface: PARTNER=MD5_KEY, the key as a file path
    /// or inline.
    #[arg(long = "partner", value_name = "PARTNER=MD5_KEY")]
    partners: Vec<String>,
}

fn parse_app_cert(spec: &str) -> Result<AppConfig, SandboxError> {
    let (app_id, file) = spec.split_once('=').ok_or_else(|| {
        SandboxError::Config(format!("--app-cert {spec:?}: expected APP_ID=CERT_FILE"))
    })?;
    let pem = std::fs::read_to_string(file).map_err(|source| SandboxError::Io {
        path: file.into(),
        source,
    })?;
    AppConfig::parse_certificate(app_id, &pem)
}

fn parse_partner(spec: &str) -> Result<PartnerConfig, SandboxError> {
    let (partner, key) = spec.split_once('=').ok_or_else(|| {
        SandboxError::Config(format!("--partner {spec:?}: expected PARTNER=MD5_KEY"))
    })?;
    let path = std::path::Path::new(key);
    let key = if path.is_file() {
        alipay::legacy::Md5Key::from_file(path)
    } else {
        alipay::legacy::Md5Key::new(key)
    }
    .map_err(|e| SandboxError::Config(format!("--partner {partner}: {e}")))?;
    Ok(PartnerConfig::new(partner, key))
}

fn parse_app(spec: &str) -> Result<AppConfig, SandboxError> {
    let (app_id, key) = spec.split_once('=').ok_or_else(|| {
        SandboxError::Config(format!("--app {spec:?}: expected APP_ID=PUBLIC_KEY"))
    })?;
    let path = std::path::Path::new(key);
    let public_key = if path.is_file() {
        alipay::PublicKey::from_file(path)
    } else {
        alipay::PublicKey::parse(key)
    }
    .map_err(SandboxError::AppKey)?;
    Ok(AppConfig::new(app_id, public_key))
}

fn config(args: &Args) -> Result<SandboxConfig, SandboxError> {
    let mut config = SandboxConfig::default();
    if let Some(path) = &args.config {
        FileConfig::load(path)?.apply(&mut config)?;
    }
    if args.in_memory {
        config.database = None;
        config.key_file = args.key_file.clone();
    } else {
        config.database = args
            .database
            .clone()
            .or(config.database)
            .or_else(|| Some(args.data_dir.join("sandbox.db")));
        config.key_file = args
            .key_file
            .clone()
            .or(config.key_file)
            .or_else(|| Some(args.data_dir.join("alipay_private_key.pem")));
        if let Some(parent) = config.database.as_deref().and_then(|p| p.parent())
            && !parent.as_os_str().is_empty()
        {
            std::fs::create_dir_all(parent).map_err(|source| SandboxError::Io {
                path: parent.to_path_buf(),
                source,
            })?;
        }
    }
    if let Some(scale) = args.time_scale {
        config.time_scale = scale;
    }
    if let Some(secs) = args.timestamp_skew {
        config.timestamp_skew = (secs > 0).then(|| Duration::from_secs(secs));
    }
    if args.public_url.is_some() {
        config.public_url = args.public_url.clone();
    }
    for spec in &args.apps {
        config.apps.push(parse_app(spec)?);
    }
    for spec in &args.app_certs {
        config.apps.push(parse_app_cert(spec)?);
    }
    for spec in &args.partners {
        config.partners.push(parse_partner(spec)?);
    }
    Ok(config)
}

async fn run(args: Args) -> Result<(), SandboxError> {
    let config = config(&args)?;
    let database = config.database.clone();
    let running = alipay_sandbox::spawn_on(config, args.listen).await?;
    let key_file = running.sandbox().key_file().map_or_else(
        || "ephemeral (in memory)".to_owned(),
        |p| p.display().to_string(),
    );
    let mut out = std::io::stdout().lock();
    // Scripts read the port from the first line.
    let _ = writeln!(out, "alipay-sandbox listening on {}", running.base_url());
    let _ = writeln!(out, "gateway: {}", running.gateway_url());
    let _ = writeln!(
        out,
        "alipay public key (支付宝公钥): {}",
        running.alipay_public_key().to_base64()
    );
    let _ = writeln!(out, "key file: {key_file}");
    if let Some(dir) = running
        .sandbox()
        .key_file()
        .map(alipay_sandbox::certificate_dir)
    {
        // Persistent: make the certificate files now, for merchants to configure from.
        running.sandbox().certificates().await?;
        let _ = writeln!(
            out,
            "certificates (公钥证书模式): {} (alipayRootCert.crt, alipayCertPublicKey_RSA2.crt; GET /api/certs)",
            dir.display()
        );
    }
    let _ = writeln!(
        out,
        "database: {}",
        database.map_or_else(|| "in memory".to_owned(), |p| p.display().to_string())
    );
    let _ = out.flush();
    drop(out);
    shutdown_signal().await;
    tracing::info!("shutting down");
    running.shutdown().await;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "alipay_sandbox=info,warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("alipay-sandbox: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("alipay-sandbox: {error}");
            ExitCode::FAILURE
        }
    }
}
