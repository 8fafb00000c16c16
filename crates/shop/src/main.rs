//! `shop`: run the course shop.

use std::io::BufRead;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use shop::{Application, Config};
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
#[command(name = "shop", version, about = "The course shop with Alipay checkout")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Where the configuration comes from; `serve` and the tools read the same.
#[derive(Args)]
struct ConfigArgs {
    /// A TOML configuration file (`SHOP_*` variables override it).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Folder for the SQLite database, generated keys and secrets (default ./data).
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
}

impl ConfigArgs {
    fn load(&self) -> anyhow::Result<Config> {
        let mut config = Config::load(self.config.as_deref(), std::env::vars())?;
        if let Some(dir) = &self.data_dir {
            config.data_dir.clone_from(dir);
        }
        Ok(config)
    }
}

#[derive(Subcommand)]
enum Command {
    /// Serve the shop (API, pages, and in demo mode the built-in Alipay sandbox at /sandbox).
    Serve {
        #[command(flatten)]
        config: ConfigArgs,
        /// Address to listen on (default 127.0.0.1:8000).
        #[arg(long)]
        listen: Option<std::net::SocketAddr>,
        /// Serve demo mode (the built-in sandbox, whose test API can pay any order) on a
        /// non-loopback address anyway.
        #[arg(long)]
        demo: bool,
        /// Log as JSON lines.
        #[arg(long)]
        json_logs: bool,
    },
    /// Manage operators (who may refund and see every order).
    Admin {
        #[command(subcommand)]
        action: AdminAction,
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Settle a day against Alipay's trade bill (what the daily job does for yesterday).
    Settle {
        /// The day, `YYYY-MM-DD` (Beijing time).
        #[arg(long)]
        date: String,
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Print the OpenAPI description of the API.
    Openapi,
}

#[derive(Subcommand)]
enum AdminAction {
    /// Make an existing user an operator.
    Grant {
        /// The user's name.
        username: String,
    },
    /// Take the operator role away (the user stays, as a buyer).
    Revoke {
        /// The user's name.
        username: String,
    },
    /// List the operators.
    List,
    /// Create a user who is an operator from the start.
    Create {
        /// The new user's name.
        username: String,
        /// Read the password from the first line of standard input.
        #[arg(long, required = true)]
        password_stdin: bool,
    },
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
        Command::Admin { action, config } => admin(action, &config.load()?).await,
        Command::Settle { date, config } => settle(&date, &config.load()?).await,
        Command::Serve {
            config,
            listen,
            demo,
            json_logs,
        } => {
            init_tracing(json_logs);
            let mut config = config.load()?;
            if let Some(listen) = listen {
                config.listen = listen;
            }
            config.demo |= demo;
            let demo_mode = config.demo_mode();
            let app = Application::build(config).await?;
            let base = app.base_url();
            println!("alipay-shop is running at {base}/");
            println!("  API description  {base}/api/openapi.json");
            if let Some(metrics) = app.metrics_address() {
                println!("  metrics          http://{metrics}/metrics");
            }
            if demo_mode {
                println!(
                    "  Alipay sandbox   {base}/sandbox/  (built in; buyer login buyer@sandbox.com / 111111)"
                );
                println!("  demo user        demo / demo123456");
                println!("  operators        shop admin create NAME --password-stdin");
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

/// `shop settle --date`: one summary line; exit 0 when the day was settled (differences or
/// not), non-zero when the bill could not be had or checked.
async fn settle(date: &str, config: &Config) -> anyhow::Result<()> {
    use shop::payments::settlement;
    let day = settlement::parse_day(date)?;
    let ctx = shop::app::tool_context(config).await?;
    let settled = settlement::settle_day(&ctx, day, None).await;
    ctx.db.close().await;
    let settled = settled?;
    println!(
        "{}: {} — Alipay {} lines, {}; shop {} lines, {}; {} difference(s)",
        settled.bill_date,
        settled.status,
        settled.alipay.count,
        settled.alipay.total,
        settled.shop.count,
        settled.shop.total,
        settled.differences
    );
    Ok(())
}

/// `shop admin …`: operators are made here, never through the API.
async fn admin(action: AdminAction, config: &Config) -> anyhow::Result<()> {
    use shop::accounts;
    let db = shop::app::open_database(config).await?;
    let result = match action {
        AdminAction::Grant { username } => accounts::grant_operator(&db, &username)
            .await
            .map(|()| println!("{username} is now an operator")),
        AdminAction::Revoke { username } => accounts::revoke_operator(&db, &username)
            .await
            .map(|()| println!("{username} is no longer an operator")),
        AdminAction::List => accounts::operators(&db).await.map(|operators| {
            for operator in operators {
                println!("{}", operator.username);
            }
        }),
        AdminAction::Create { username, .. } => {
            let mut password = String::new();
            std::io::stdin().lock().read_line(&mut password)?;
            let password = password.trim_end_matches(['\r', '\n']);
            accounts::create_operator(&db, &username, password)
                .await
                .map(|user| println!("{} created as an operator (id {})", user.username, user.id))
        }
    };
    db.close().await;
    Ok(result?)
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
