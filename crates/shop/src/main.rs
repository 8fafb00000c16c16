//! `shop`: run the course shop.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use shop::{Application, Config};
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
#[command(name = "shop", version, about = "The course shop with Alipay checkout")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the shop (API, pages, and in demo mode the built-in Alipay sandbox at /sandbox).
    Serve {
        /// Address to listen on (default 127.0.0.1:8000).
        #[arg(long)]
        listen: Option<std::net::SocketAddr>,
        /// Folder for the SQLite database, generated keys and secrets (default ./data).
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// A TOML configuration file.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Log as JSON lines.
        #[arg(long)]
        json_logs: bool,
    },
    /// Print the OpenAPI description of the API.
    Openapi,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match run(cli.command).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("shop: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Openapi => {
            let config = Config::default();
            println!(
                "{}",
                serde_json::to_string_pretty(&shop::http::openapi(&config))?
            );
            Ok(())
        }
        Command::Serve {
            listen,
            data_dir,
            config,
            json_logs,
        } => {
            init_tracing(json_logs);
            let mut config = Config::load(config.as_deref(), std::env::vars())?;
            if let Some(listen) = listen {
                config.listen = listen;
            }
            if let Some(dir) = data_dir {
                config.data_dir = dir;
            }
            let demo = config.demo_mode();
            let app = Application::build(config).await?;
            let base = app.base_url();
            println!("alipay-shop is running at {base}/");
            println!("  API description  {base}/api/openapi.json");
            if demo {
                println!(
                    "  Alipay sandbox   {base}/sandbox/  (built in; buyer login buyer@sandbox.com / 111111)"
                );
                println!("  demo user        demo / demo123456");
            }
            let stop = app.shutdown_token();
            tokio::spawn(async move {
                shutdown_signal().await;
                tracing::info!("shutting down");
                stop.cancel();
            });
            app.run().await
        }
    }
}

fn init_tracing(json: bool) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        if let Ok(mut signal) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            signal.recv().await;
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}
