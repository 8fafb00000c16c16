//! `alipay`: keys, signatures and pay links from the command line.
//!
//! Every subcommand prints one clear line on bad input and exits non-zero; it never panics.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use alipay::config::AlipayConfig;
use alipay::content::{self, EmptyValues, Params};
use alipay::json::JsonText;
use alipay::keys::encode_signature;
use alipay::{Money, PayKind, PrivateKey, PublicKey, SignType, WebPay};
use clap::{Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(
    name = "alipay",
    version,
    about = "Alipay keys, signatures and pay links"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate an RSA-2048 app key pair in the forms Alipay's console and the SDKs want.
    Keygen {
        /// Folder to write the keys to (created if missing).
        #[arg(long)]
        out: PathBuf,
        /// Overwrite existing key files.
        #[arg(long)]
        force: bool,
    },
    /// Sign request parameters read as a JSON object on stdin; prints the content string, then the
    /// signature on the last line.
    Sign {
        /// The app private key: a file, or the key itself.
        #[arg(long)]
        private_key: String,
        #[arg(long, value_enum, default_value_t = SignTypeArg::Rsa2)]
        sign_type: SignTypeArg,
        /// `request`: what a merchant signs (sign_type included, empty values dropped);
        /// `notify`: what Alipay signs in notifications and returns (sign_type excluded).
        #[arg(long, value_enum, default_value_t = Rule::Request)]
        rule: Rule,
    },
    /// Verify a notification body, a return query string or an API response read on stdin;
    /// prints the verified parameters as JSON.
    Verify {
        /// The Alipay public key: a file, or the key itself.
        #[arg(long)]
        public_key: String,
        #[arg(long, value_enum, default_value_t = Kind::Notify)]
        kind: Kind,
        #[arg(long, value_enum, default_value_t = SignTypeArg::Rsa2)]
        sign_type: SignTypeArg,
        /// For responses: the API method (default: taken from the response's node name).
        #[arg(long)]
        method: Option<String>,
    },
    /// Print a signed page-pay URL (or the auto-submit form, or an app's order string) for an
    /// order.
    PayUrl {
        /// A TOML file with the app's settings (an `[alipay]` table, as in the shop's config).
        #[arg(long)]
        config: PathBuf,
        #[arg(long)]
        out_trade_no: String,
        /// Amount in yuan, e.g. 138.00.
        #[arg(long)]
        amount: String,
        #[arg(long)]
        subject: String,
        #[arg(long)]
        body: Option<String>,
        /// Mobile web cashier (alipay.trade.wap.pay) instead of the PC one.
        #[arg(long, conflicts_with = "app")]
        wap: bool,
        /// An app payment (alipay.trade.app.pay): print the signed order string the merchant's
        /// mobile app hands to the Alipay app SDK.
        #[arg(long, conflicts_with = "form")]
        app: bool,
        /// Print the auto-submitting HTML form instead of the URL.
        #[arg(long)]
        form: bool,
        /// Payment window, e.g. 15m, 2h, 1c.
        #[arg(long)]
        timeout_express: Option<String>,
        /// Sign as of this Beijing time (yyyy-MM-dd HH:mm:ss) instead of now, to reproduce an
        /// order signed elsewhere.
        #[arg(long)]
        timestamp: Option<String>,
        /// Write biz_content's non-ASCII characters as \uXXXX, as python-alipay-sdk does.
        #[arg(long)]
        ascii_json: bool,
    },
    /// Check an Alipay configuration (the shop's config file): keys, certificates, gateway and
    /// callback URLs, each finding with a fix in Chinese and English. Exits 1 when a finding is an
    /// error.
    Doctor {
        /// The configuration file (its `[alipay]` table, or the whole file).
        #[arg(long)]
        config: PathBuf,
        /// Do not contact the gateway or resolve host names.
        #[arg(long)]
        offline: bool,
        /// Seconds to wait for the gateway's answer.
        #[arg(long, default_value_t = 5)]
        timeout: u64,
        /// Print the findings as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Check that a private key and a public key form a pair.
    CheckKeys {
        /// The app private key: a file, or the key itself.
        #[arg(long)]
        private_key: String,
        /// A public key: a file, or the key itself.
        #[arg(long)]
        public_key: String,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum SignTypeArg {
    #[value(name = "RSA2")]
    Rsa2,
    #[value(name = "RSA")]
    Rsa,
}

impl From<SignTypeArg> for SignType {
    fn from(arg: SignTypeArg) -> SignType {
        match arg {
            SignTypeArg::Rsa2 => SignType::Rsa2,
            SignTypeArg::Rsa => SignType::Rsa,
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum Rule {
    Request,
    Notify,
}

#[derive(Clone, Copy, ValueEnum)]
enum Kind {
    Notify,
    Return,
    Response,
}

/// A failure with the exit code to leave with.
struct Failure {
    code: u8,
    message: String,
}

fn fail(message: impl Into<String>) -> Failure {
    Failure {
        code: 2,
        message: message.into(),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("alipay: {}", failure.message);
            ExitCode::from(failure.code)
        }
    }
}

fn run(command: Command) -> Result<(), Failure> {
    match command {
        Command::Keygen { out, force } => keygen(&out, force),
        Command::Sign {
            private_key,
            sign_type,
            rule,
        } => sign(&private_key, sign_type.into(), rule),
        Command::Verify {
            public_key,
            kind,
            sign_type,
            method,
        } => verify(&public_key, kind, sign_type.into(), method),
        Command::PayUrl {
            config,
            out_trade_no,
            amount,
            subject,
            body,
            wap,
            app,
            form,
            timeout_express,
            timestamp,
            ascii_json,
        } => {
            let kind = match (wap, app) {
                (true, _) => PayKind::Wap,
                (_, true) => PayKind::App,
                _ => PayKind::Page,
            };
            let order = PayOrder {
                out_trade_no,
                amount,
                subject,
                body,
                timeout_express,
            };
            let output = if form { Output::Form } else { Output::Default };
            pay_url(&config, kind, order, output, timestamp, ascii_json)
        }
        Command::Doctor {
            config,
            offline,
            timeout,
            json,
        } => doctor(&config, offline, timeout, json),
        Command::CheckKeys {
            private_key,
            public_key,
        } => check_keys(&private_key, &public_key),
    }
}

fn doctor(path: &Path, offline: bool, timeout: u64, json: bool) -> Result<(), Failure> {
    use alipay_cli::doctor::{self, Finding, Options, Severity};
    let mut config = AlipayConfig::from_file(path).map_err(|e| fail(e.to_string()))?;
    // The shop derives its callback URLs from its top-level `public_url`; so does the check.
    let mut derived = Vec::new();
    let public_url = std::fs::read_to_string(path)
        .ok()
        .and_then(|text| toml::from_str::<toml::Table>(&text).ok())
        .and_then(|table| match table.get("public_url") {
            Some(toml::Value::String(url)) if table.contains_key("alipay") => Some(url.clone()),
            _ => None,
        });
    if let Some(public_url) = public_url {
        let base = public_url.trim_end_matches('/');
        for (field, path) in [
            (&mut config.notify_url, "/alipay/notify"),
            (&mut config.return_url, "/alipay/return"),
        ] {
            if field.is_none() {
                let url = format!("{base}{path}");
                derived.push(Finding {
                    check: "public_url",
                    severity: Severity::Info,
                    message: format!("{url} derived from public_url, as the shop does"),
                    fix_zh: String::new(),
                    fix_en: String::new(),
                });
                *field = Some(url);
            }
        }
    }
    let options = Options {
        offline,
        timeout: std::time::Duration::from_secs(timeout.max(1)),
        ..Options::default()
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| fail(format!("cannot start the runtime: {e}")))?;
    let mut report = runtime.block_on(doctor::diagnose(&config, &options));
    report.findings.splice(0..0, derived);
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).map_err(|e| fail(e.to_string()))?
        );
    } else {
        println!("alipay doctor: {}", path.display());
        for finding in &report.findings {
            let tag = format!("[{}]", finding.severity.as_str());
            println!("{tag:<10}{:<20}{}", finding.check, finding.message);
            if !finding.fix_zh.is_empty() {
                println!("{:<30}修复: {}", "", finding.fix_zh);
                println!("{:<30}fix:  {}", "", finding.fix_en);
            }
        }
        println!(
            "{} errors, {} warnings",
            report.count(Severity::Error),
            report.count(Severity::Warning)
        );
    }
    if report.has_errors() {
        return Err(Failure {
            code: 1,
            message: format!(
                "{} error(s) in {}: fix them before taking payments",
                report.count(Severity::Error),
                path.display()
            ),
        });
    }
    Ok(())
}

/// A key argument: a path to a file when one exists there, the key text otherwise.
fn load_key<K>(
    which: &str,
    arg: &str,
    parse: impl Fn(&str) -> Result<K, alipay::KeyError>,
    read: impl Fn(&Path) -> Result<K, alipay::KeyError>,
) -> Result<K, Failure> {
    let path = Path::new(arg);
    let result = if path.is_file() {
        read(path)
    } else {
        parse(arg)
    };
    result.map_err(|e| {
        let hint = if !path.is_file() && arg.len() < 100 && !arg.contains("BEGIN") {
            format!(" (no file named {arg:?} either)")
        } else {
            String::new()
        };
        fail(format!("{which}: {e}{hint}"))
    })
}

fn private_key(arg: &str) -> Result<PrivateKey, Failure> {
    load_key("private key", arg, PrivateKey::parse, |p| {
        PrivateKey::from_file(p)
    })
}

fn public_key(arg: &str) -> Result<PublicKey, Failure> {
    load_key("public key", arg, PublicKey::parse, |p| {
        PublicKey::from_file(p)
    })
}

fn stdin() -> Result<String, Failure> {
    let mut input = String::new();
    std::io::stdin()
        .read_to_string(&mut input)
        .map_err(|e| fail(format!("cannot read stdin: {e}")))?;
    Ok(input)
}

fn keygen(out: &Path, force: bool) -> Result<(), Failure> {
    let key = alipay::keys::generate().map_err(|e| fail(e.to_string()))?;
    let public = key.public_key();
    let files: [(&str, String, bool); 5] = [
        ("app_private_key.pem", key.to_pkcs8_pem(), true),
        ("app_private_key_pkcs1.pem", key.to_pkcs1_pem(), true),
        ("app_private_key.txt", key.to_pkcs8_base64() + "\n", true),
        ("app_public_key.pem", public.to_pem(), false),
        ("app_public_key.txt", public.to_base64() + "\n", false),
    ];
    std::fs::create_dir_all(out)
        .map_err(|e| fail(format!("cannot create {}: {e}", out.display())))?;
    if !force && let Some((name, _, _)) = files.iter().find(|(name, _, _)| out.join(name).exists())
    {
        return Err(fail(format!(
            "{} already exists; pass --force to replace the key pair",
            out.join(name).display()
        )));
    }
    for (name, text, secret) in &files {
        write_file(&out.join(name), text, *secret)?;
    }
    println!("Wrote an RSA-2048 app key pair to {}:", out.display());
    println!("  app_private_key.pem        private key, PKCS#8 (Java, this SDK); keep it secret");
    println!("  app_private_key_pkcs1.pem  the same key as PKCS#1 (Node alipay-sdk, PHP)");
    println!(
        "  app_private_key.txt        the same key as one base64 line (Alipay key tool format)"
    );
    println!("  app_public_key.pem         app public key");
    println!("  app_public_key.txt         app public key as one line");
    println!();
    println!(
        "Paste this app public key (应用公钥) into the Alipay console (开发设置 → 接口加签方式 → 公钥):"
    );
    println!("{}", public.to_base64());
    println!();
    println!(
        "Then copy the Alipay public key (支付宝公钥) the console shows into your configuration."
    );
    Ok(())
}

fn write_file(path: &Path, text: &str, secret: bool) -> Result<(), Failure> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if secret {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = secret;
    let mut file = options
        .open(path)
        .map_err(|e| fail(format!("cannot write {}: {e}", path.display())))?;
    std::io::Write::write_all(&mut file, text.as_bytes())
        .map_err(|e| fail(format!("cannot write {}: {e}", path.display())))
}

/// Reads a JSON object of parameters; non-string values (a `biz_content` object, numbers) are
/// written as compact JSON text in their given key order.
fn read_params(input: &str) -> Result<Params, Failure> {
    let value: serde_json::Value =
        serde_json::from_str(input).map_err(|e| fail(format!("stdin is not JSON: {e}")))?;
    let object = value
        .as_object()
        .ok_or_else(|| fail("stdin must be a JSON object of parameters"))?;
    Ok(object
        .iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| {
            let text = match v {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (k.clone(), text)
        })
        .collect())
}

fn sign(key: &str, sign_type: SignType, rule: Rule) -> Result<(), Failure> {
    let key = private_key(key)?;
    let mut params = read_params(&stdin()?)?;
    let content = match rule {
        Rule::Request => {
            params.insert("sign_type".into(), sign_type.as_str().into());
            content::request_content(&params)
        }
        Rule::Notify => content::notify_content(&params, EmptyValues::Drop),
    };
    let signature = key.sign_bytes(sign_type, content.as_bytes());
    println!("{content}");
    println!("{}", encode_signature(&signature));
    Ok(())
}

fn verify(
    key: &str,
    kind: Kind,
    sign_type: SignType,
    method: Option<String>,
) -> Result<(), Failure> {
    let key = public_key(key)?;
    let input = stdin()?;
    let rejected = |reason: String| Failure {
        code: 1,
        message: reason,
    };
    let verified: serde_json::Value = match kind {
        Kind::Notify => {
            let notification = alipay::notify::verify_notification(
                input.trim_end_matches(['\r', '\n']).as_bytes(),
                &key,
                sign_type,
            )
            .map_err(|e| rejected(format!("notification rejected: {e}")))?;
            serde_json::to_value(&notification.params).map_err(|e| fail(e.to_string()))?
        }
        Kind::Return => {
            let params = alipay::notify::verify_return(input.trim(), &key, sign_type)
                .map_err(|e| rejected(format!("return rejected: {e}")))?;
            serde_json::to_value(&params.params).map_err(|e| fail(e.to_string()))?
        }
        Kind::Response => {
            let body = input.trim();
            let method = match method {
                Some(method) => method,
                None => method_of(body)
                    .ok_or_else(|| rejected("response rejected: no *_response node".into()))?,
            };
            let envelope = alipay::response::envelope(body, &method)
                .map_err(|e| rejected(format!("response rejected: {e}")))?;
            if envelope.is_error_response {
                return Err(rejected(format!(
                    "response rejected: the gateway answered with error_response {}",
                    envelope.node
                )));
            }
            alipay::response::verify_node(&envelope, &key, sign_type)
                .map_err(|e| rejected(format!("response rejected: {e}")))?;
            serde_json::from_str(envelope.node)
                .map_err(|e| rejected(format!("response rejected: {e}")))?
        }
    };
    println!(
        "{}",
        serde_json::to_string_pretty(&verified).map_err(|e| fail(e.to_string()))?
    );
    Ok(())
}

/// `alipay_trade_query_response` → `alipay.trade.query`.
fn method_of(body: &str) -> Option<String> {
    let top: serde_json::Map<String, serde_json::Value> = serde_json::from_str(body).ok()?;
    top.keys()
        .find(|k| k.ends_with("_response") && k.as_str() != "error_response")
        .map(|k| k.trim_end_matches("_response").replace('_', "."))
}

/// The order options of `pay-url`.
struct PayOrder {
    out_trade_no: String,
    amount: String,
    subject: String,
    body: Option<String>,
    timeout_express: Option<String>,
}

enum Output {
    /// The URL for web payments, the order string for app payments.
    Default,
    Form,
}

fn pay_url(
    config: &Path,
    kind: PayKind,
    options: PayOrder,
    output: Output,
    timestamp: Option<String>,
    ascii_json: bool,
) -> Result<(), Failure> {
    let config = AlipayConfig::from_file(config).map_err(|e| fail(e.to_string()))?;
    let text = if ascii_json {
        JsonText::Ascii
    } else {
        JsonText::Utf8
    };
    let client = config
        .client_builder()
        .and_then(|builder| builder.json_text(text).build())
        .map_err(|e| fail(e.to_string()))?;
    let amount: Money = options
        .amount
        .parse()
        .map_err(|e| fail(format!("--amount: {e}")))?;
    let (out_trade_no, subject) = (options.out_trade_no, options.subject);
    let mut order = match kind {
        PayKind::Wap => WebPay::wap(out_trade_no, amount, subject),
        PayKind::App => WebPay::app(out_trade_no, amount, subject),
        _ => WebPay::page(out_trade_no, amount, subject),
    };
    if let Some(body) = options.body {
        order = order.body(body);
    }
    if let Some(window) = options.timeout_express {
        order = order.timeout_express(window);
    }
    let timestamp = match timestamp {
        Some(text) => alipay::time::parse_strict(&text)
            .map_err(|_| fail("--timestamp must be yyyy-MM-dd HH:mm:ss (Beijing time)"))?,
        None => alipay::time::now(),
    };
    let signed = match kind {
        PayKind::App => client.app_pay_at(&order, timestamp),
        _ => client
            .web_pay_params(&order, timestamp)
            .and_then(|params| client.sign(params)),
    }
    .map_err(|e| fail(e.to_string()))?;
    match (kind, output) {
        (_, Output::Form) => println!("{}", signed.form_html()),
        (PayKind::App, Output::Default) => println!("{}", signed.order_string()),
        (_, Output::Default) => println!("{}", signed.url()),
    }
    Ok(())
}

fn check_keys(private: &str, public: &str) -> Result<(), Failure> {
    let private = private_key(private)?;
    let public = public_key(public)?;
    // Sign and verify rather than only compare: proves the pair works end to end.
    let probe = b"alipay check-keys";
    let signature = private.sign_bytes(SignType::Rsa2, probe);
    if public.verify(SignType::Rsa2, probe, &signature).is_ok() && private.public_key() == &public {
        println!(
            "ok: the keys form a pair (public key {}). This public key is your app's own (应用公钥): upload it to Alipay, and never configure it as the Alipay public key (支付宝公钥).",
            public.fingerprint()
        );
        return Ok(());
    }
    Err(Failure {
        code: 1,
        message: format!(
            "the keys do not form a pair: the public key ({}) is not the public key of this private key ({}). If it is the Alipay public key, that is expected; to check the app key pair, pass the app public key you uploaded.",
            public.fingerprint(),
            private.public_key().fingerprint()
        ),
    })
}
