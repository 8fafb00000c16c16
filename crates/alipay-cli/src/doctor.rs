//! `alipay doctor`: everything that is commonly wrong with an Alipay configuration, found before
//! the first payment fails, each finding with a one-line fix in Chinese and English.
//!
//! Merchants lose days to a handful of mistakes that all end in the same opaque
//! `isv.invalid-signature` or in notifications that never arrive: a key in the wrong form, the
//! app public key pasted where the Alipay public key belongs (the classic swap), a key pair that
//! is not a pair, certificate files that do not belong together, a `notify_url` on `localhost`.
//! [`diagnose`] checks them all and reports [`Finding`]s; the CLI prints them, the shop may run the
//! same checks at start.
//!
//! Network use is limited to one request to the configured gateway (skipped with
//! [`Options::offline`]) and name resolution of the callback URLs' hosts.

use std::net::IpAddr;
use std::time::Duration;

use serde::Serialize;
use time::OffsetDateTime;

use alipay::Error;
use alipay::cert::{self, Certificate};
use alipay::config::AlipayConfig;
use alipay::keys::{PrivateKey, PublicKey, SignType};
use alipay::legacy::{self, LegacyConfig, LegacyGateway};
use alipay::request::Gateway;

/// How bad a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Checked, fine.
    Ok,
    /// Not checked, or worth knowing.
    Info,
    /// Works here, but not everywhere (a sandbox-only setting, a certificate about to expire).
    Warning,
    /// Payments will fail (or be unsafe) until fixed.
    Error,
}

impl Severity {
    /// `ok`, `info`, `warning`, `error`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Severity::Ok => "ok",
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// One result of one check.
#[derive(Clone, Debug, Serialize)]
pub struct Finding {
    /// Which check (`app_private_key`, `alipay_public_key`, `notify_url`...).
    pub check: &'static str,
    /// How bad.
    pub severity: Severity,
    /// What was found.
    pub message: String,
    /// What to do, in Chinese (empty when nothing is to be done).
    pub fix_zh: String,
    /// What to do, in English (empty when nothing is to be done).
    pub fix_en: String,
}

/// Every finding of a run, in check order.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Report {
    /// The findings.
    pub findings: Vec<Finding>,
}

impl Report {
    /// Whether anything will make payments fail.
    #[must_use]
    pub fn has_errors(&self) -> bool {
        self.count(Severity::Error) > 0
    }

    /// How many findings have this severity.
    #[must_use]
    pub fn count(&self, severity: Severity) -> usize {
        self.findings
            .iter()
            .filter(|f| f.severity == severity)
            .count()
    }

    /// The findings of one check.
    pub fn of<'a>(&'a self, check: &'a str) -> impl Iterator<Item = &'a Finding> + 'a {
        self.findings.iter().filter(move |f| f.check == check)
    }

    /// The worst severity a check reported, if it ran.
    #[must_use]
    pub fn worst(&self, check: &str) -> Option<Severity> {
        self.of(check).map(|f| f.severity).max()
    }

    fn ok(&mut self, check: &'static str, message: impl Into<String>) {
        self.push(check, Severity::Ok, message, "", "");
    }

    fn info(&mut self, check: &'static str, message: impl Into<String>) {
        self.push(check, Severity::Info, message, "", "");
    }

    fn push(
        &mut self,
        check: &'static str,
        severity: Severity,
        message: impl Into<String>,
        fix_zh: impl Into<String>,
        fix_en: impl Into<String>,
    ) {
        self.findings.push(Finding {
            check,
            severity,
            message: message.into(),
            fix_zh: fix_zh.into(),
            fix_en: fix_en.into(),
        });
    }
}

/// How to run the checks.
#[derive(Clone, Debug)]
pub struct Options {
    /// Skip everything that uses the network (the gateway request, name resolution).
    pub offline: bool,
    /// How long the gateway may take to answer.
    pub timeout: Duration,
    /// The instant certificates are checked at (now, by default).
    pub now: OffsetDateTime,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            offline: false,
            timeout: Duration::from_secs(5),
            now: alipay::time::now(),
        }
    }
}

/// Where the configuration points: decides whether an unreachable callback is an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Environment {
    Production,
    Sandbox,
    Local,
}

impl Environment {
    fn of_url(url: &str) -> Environment {
        let host = url::Url::parse(url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_ascii_lowercase))
            .unwrap_or_default();
        if host.ends_with("alipaydev.com") {
            Environment::Sandbox
        } else if host == "alipay.com" || host.ends_with(".alipay.com") {
            Environment::Production
        } else {
            Environment::Local
        }
    }

    fn of(gateway: &Gateway) -> Environment {
        match gateway {
            Gateway::Production => Environment::Production,
            Gateway::Sandbox => Environment::Sandbox,
            Gateway::Url(url) => Environment::of_url(url),
        }
    }

    /// The severity of a callback Alipay cannot reach.
    fn unreachable(self) -> Severity {
        if self == Environment::Production {
            Severity::Error
        } else {
            Severity::Warning
        }
    }
}

/// Runs every check on `config`.
pub async fn diagnose(config: &AlipayConfig, options: &Options) -> Report {
    let mut report = Report::default();
    let legacy_only = config.app_id.is_empty() && config.legacy.is_some();
    if !legacy_only {
        open_api(config, options, &mut report).await;
    }
    if let Some(legacy) = &config.legacy {
        legacy_checks(legacy, options, &mut report).await;
    }
    report
}

fn key_error(error: Error) -> String {
    match error {
        Error::Key { source, .. } => source.to_string(),
        other => other.to_string(),
    }
}

async fn open_api(config: &AlipayConfig, options: &Options, report: &mut Report) {
    // app_id
    if config.app_id.is_empty() || !config.app_id.bytes().all(|b| b.is_ascii_digit()) {
        report.push(
            "app_id",
            Severity::Error,
            format!("app_id {:?} is not an Alipay app id", config.app_id),
            "在 app_id 填写开放平台应用的 APPID（16 位数字，如 2021…，沙箱 9021…）",
            "set app_id to the APPID of your app on the Alipay open platform (16 digits, 2021…, sandbox 9021…)",
        );
    } else {
        report.ok("app_id", format!("app_id {}", config.app_id));
    }

    // sign_type
    let sign_type_ok = config.sign_type().is_ok();
    let sign_type = match config.sign_type() {
        Ok(sign_type) => sign_type,
        Err(error) => {
            report.push(
                "sign_type",
                Severity::Error,
                error.to_string(),
                "把 sign_type 设为 RSA2",
                "set sign_type to RSA2",
            );
            SignType::Rsa2
        }
    };
    if sign_type == SignType::Rsa {
        let severity = if config.is_cert_mode() {
            Severity::Error
        } else {
            Severity::Warning
        };
        report.push(
            "sign_type",
            severity,
            "sign_type RSA is SHA1withRSA: legacy, and refused in certificate mode",
            "在开放平台把接口加签方式改为 RSA2（SHA256），并把 sign_type 设为 RSA2",
            "switch the app to RSA2 (SHA256) in the Alipay console and set sign_type = \"RSA2\"",
        );
    } else if sign_type_ok {
        report.ok("sign_type", format!("sign_type {sign_type}"));
    }

    // The app private key.
    let private_key = match config.app_private_key() {
        Ok(key) => {
            report.ok(
                "app_private_key",
                format!(
                    "app private key: RSA-{}, its public key has fingerprint {}",
                    key.bits(),
                    key.public_key().fingerprint()
                ),
            );
            Some(key)
        }
        Err(error) => {
            report.push(
                "app_private_key",
                Severity::Error,
                format!("app private key: {}", key_error(error)),
                "app_private_key(_file) 应为应用私钥（支付宝密钥工具生成的“应用私钥”，PKCS#1 或 PKCS#8）",
                "point app_private_key(_file) at the app private key (the one Alipay's key tool calls 应用私钥, PKCS#1 or PKCS#8)",
            );
            None
        }
    };
    let own_public = private_key.as_ref().map(|k| k.public_key().clone());

    // The app public key, when the user says which one was uploaded.
    if config.app_public_key.is_some() || config.app_public_key_file.is_some() {
        match config.app_public_key() {
            Ok(Some(public)) => match &own_public {
                Some(own) if own == &public => report.ok(
                    "app_public_key",
                    format!(
                        "the app private key matches the app public key you uploaded ({})",
                        public.fingerprint()
                    ),
                ),
                Some(own) => report.push(
                    "app_public_key",
                    Severity::Error,
                    format!(
                        "the app private key ({}) does not match the app public key you uploaded ({}): every request will fail with isv.invalid-signature",
                        own.fingerprint(),
                        public.fingerprint()
                    ),
                    "用 `alipay keygen` 重新生成密钥对并上传新的应用公钥，或找回与所上传公钥配对的私钥",
                    "find the private key that belongs to the uploaded public key, or run `alipay keygen` and upload the new app public key",
                ),
                None => report.info(
                    "app_public_key",
                    "the app public key parses; the pair cannot be checked without a usable private key",
                ),
            },
            Ok(None) => {}
            Err(error) => report.push(
                "app_public_key",
                Severity::Error,
                format!("app public key: {}", key_error(error)),
                "app_public_key(_file) 应为上传到开放平台的应用公钥",
                "point app_public_key(_file) at the app public key you uploaded to the Alipay console",
            ),
        }
    } else {
        report.info(
            "app_public_key",
            "app_public_key(_file) is not set, so the key pair was not compared with what you uploaded",
        );
    }
    let uploaded = config.app_public_key().ok().flatten();

    // How Alipay is verified: a public key, or certificates.
    let has_key = config.alipay_public_key.is_some() || config.alipay_public_key_file.is_some();
    let mut alipay_keys: Vec<(&'static str, PublicKey)> = Vec::new();
    if has_key && config.is_cert_mode() {
        report.push(
            "mode",
            Severity::Error,
            "both alipay_public_key(_file) and certificate files are set",
            "公钥模式只配 alipay_public_key；证书模式只配三个证书文件，二者选一",
            "use either alipay_public_key (public-key mode) or the three certificate files (certificate mode), not both",
        );
    } else if !has_key && !config.is_cert_mode() {
        report.push(
            "mode",
            Severity::Error,
            "nothing to verify Alipay's signatures with",
            "配置 alipay_public_key（开放平台“支付宝公钥”），或证书模式的三个证书文件",
            "set alipay_public_key (the 支付宝公钥 from the Alipay console), or the three certificate files of certificate mode",
        );
    } else if has_key {
        report.ok("mode", "public-key mode (公钥模式)");
        match config.alipay_public_key() {
            Ok(key) => {
                if own_public.as_ref() == Some(&key) || uploaded.as_ref() == Some(&key) {
                    report.push(
                        "alipay_public_key",
                        Severity::Error,
                        format!(
                            "the Alipay public key ({}) is your app's own public key: responses and notifications would verify against your key, and Alipay's will all be refused",
                            key.fingerprint()
                        ),
                        "alipay_public_key 应填开放平台“支付宝公钥”，不是你上传的“应用公钥”",
                        "set alipay_public_key to the Alipay public key (支付宝公钥) the console shows, not the app public key (应用公钥) you uploaded",
                    );
                } else {
                    report.ok(
                        "alipay_public_key",
                        format!(
                            "Alipay public key: RSA-{} ({})",
                            key.bits(),
                            key.fingerprint()
                        ),
                    );
                }
                alipay_keys.push(("Alipay public key", key));
            }
            Err(error) => report.push(
                "alipay_public_key",
                Severity::Error,
                format!("Alipay public key: {}", key_error(error)),
                "alipay_public_key 应填开放平台“支付宝公钥”（一行 base64 或 PEM）",
                "set alipay_public_key to the 支付宝公钥 from the Alipay console (one base64 line or PEM)",
            ),
        }
    } else {
        report.ok("mode", "certificate mode (公钥证书模式)");
        certificates(
            config,
            private_key.as_ref(),
            options,
            report,
            &mut alipay_keys,
        );
    }

    // RSA2 needs 2048-bit keys.
    if sign_type == SignType::Rsa2 {
        let mut sizes: Vec<(&str, usize)> = alipay_keys
            .iter()
            .map(|(which, key)| (*which, key.bits()))
            .collect();
        if let Some(key) = &uploaded {
            sizes.push(("app public key", key.bits()));
        }
        if let Some(key) = &private_key {
            sizes.push(("app private key", key.bits()));
        }
        let short: Vec<String> = sizes
            .iter()
            .filter(|(_, bits)| *bits < 2048)
            .map(|(which, bits)| format!("{which} has {bits} bits"))
            .collect();
        if short.is_empty() {
            report.ok(
                "key_size",
                "every key has at least 2048 bits, as RSA2 requires",
            );
        } else {
            report.push(
                "key_size",
                Severity::Error,
                format!("RSA2 needs keys of at least 2048 bits: {}", short.join(", ")),
                "用 `alipay keygen` 生成 RSA-2048 密钥并重新上传应用公钥",
                "generate an RSA-2048 key pair with `alipay keygen` and upload the new app public key",
            );
        }
    }

    // The gateway.
    let gateway = match config.gateway() {
        Ok(gateway) => gateway,
        Err(error) => {
            report.push(
                "gateway",
                Severity::Error,
                error.to_string(),
                "gateway 填 production、sandbox，或完整的网关地址（…/gateway.do）",
                "set gateway to production, sandbox, or a full gateway URL ending in /gateway.do",
            );
            return;
        }
    };
    let environment = Environment::of(&gateway);
    probe_gateway("gateway", gateway.url(), None, options, environment, report).await;

    // The callbacks.
    match &config.notify_url {
        Some(url) => callback_url("notify_url", url, environment, options, report).await,
        None => report.push(
            "notify_url",
            Severity::Warning,
            "notify_url is not set: Alipay will not tell the shop about payments",
            "设置 notify_url（公网可访问的 https 地址），支付结果以异步通知为准",
            "set notify_url to a public https URL; payments are confirmed by the notification",
        ),
    }
    match &config.return_url {
        Some(url) => callback_url("return_url", url, environment, options, report).await,
        None => report.info(
            "return_url",
            "return_url is not set: the buyer stays on Alipay's page after paying",
        ),
    }
}

fn certificates(
    config: &AlipayConfig,
    private_key: Option<&PrivateKey>,
    options: &Options,
    report: &mut Report,
    alipay_keys: &mut Vec<(&'static str, PublicKey)>,
) {
    let files = [
        ("app_cert", "app_cert_file", &config.app_cert_file),
        ("alipay_cert", "alipay_cert_file", &config.alipay_cert_file),
        (
            "alipay_root_cert",
            "alipay_root_cert_file",
            &config.alipay_root_cert_file,
        ),
    ];
    let mut loaded: Vec<Option<Vec<Certificate>>> = Vec::new();
    for (check, field, path) in files {
        let Some(path) = path else {
            report.push(
                check,
                Severity::Error,
                format!("{field} is not set; certificate mode needs all three files"),
                format!("设置 {field}（开放平台下载的证书文件）"),
                format!("set {field} to the certificate file downloaded from the Alipay console"),
            );
            loaded.push(None);
            continue;
        };
        let parsed = std::fs::read(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))
            .and_then(|pem| cert::parse_pem(&pem).map_err(|e| e.to_string()));
        match parsed {
            Ok(certs) => loaded.push(Some(certs)),
            Err(error) => {
                report.push(
                    check,
                    Severity::Error,
                    format!("{field}: {error}"),
                    format!("{field} 应指向开放平台下载的 .crt 证书文件（PEM）"),
                    format!(
                        "point {field} at the .crt file (PEM) downloaded from the Alipay console"
                    ),
                );
                loaded.push(None);
            }
        }
    }
    let own_key = private_key.map(|k| k.public_key().clone());
    let mut app_key = None;

    // The app certificate: its key is the app private key's.
    if let Some(Some(app)) = loaded.first() {
        let leaf = &app[0];
        match leaf.public_key() {
            Ok(key) if own_key.as_ref().is_some_and(|own| own != &key) => report.push(
                "app_cert",
                Severity::Error,
                format!(
                    "the app certificate certifies key {}, not the app private key's ({}): the gateway will refuse every signature",
                    key.fingerprint(),
                    own_key.as_ref().map(PublicKey::fingerprint).unwrap_or_default()
                ),
                "用与应用私钥同一次生成的 CSR 在开放平台重新申请应用公钥证书，或换回对应的私钥",
                "apply for the app certificate again with a CSR made from this private key, or use the private key the certificate was made for",
            ),
            Ok(key) => {
                report.ok(
                    "app_cert",
                    format!(
                        "app certificate {}: app_cert_sn {}{}",
                        leaf.subject(),
                        leaf.sn(),
                        if own_key.is_some() { ", matches the app private key" } else { "" }
                    ),
                );
                app_key = Some(key);
            }
            Err(error) => report.push(
                "app_cert",
                Severity::Error,
                format!("app certificate: {error}"),
                "应用公钥证书必须是 RSA2 密钥的证书",
                "the app certificate must certify an RSA (RSA2) key",
            ),
        }
        validity("app_cert", leaf, options.now, report);
    }

    // The root bundle.
    let roots = loaded.get(2).cloned().flatten();
    if let Some(roots) = &roots {
        let sn = roots
            .iter()
            .filter(|c| c.is_rsa_signed())
            .map(Certificate::sn)
            .collect::<Vec<_>>()
            .join("_");
        if sn.is_empty() {
            report.push(
                "alipay_root_cert",
                Severity::Error,
                "the root bundle has no RSA-signed root, so alipay_root_cert_sn would be empty",
                "从开放平台重新下载支付宝根证书 alipayRootCert.crt",
                "download alipayRootCert.crt again from the Alipay console",
            );
        } else {
            report.ok(
                "alipay_root_cert",
                format!(
                    "root bundle: {} certificates, alipay_root_cert_sn {sn}",
                    roots.len()
                ),
            );
        }
    }

    // The Alipay certificate: not the app's, valid, chained to the roots.
    if let Some(Some(alipay)) = loaded.get(1) {
        let leaf = &alipay[0];
        match leaf.public_key() {
            Ok(key)
                if own_key.as_ref() == Some(&key)
                    || app_key.as_ref() == Some(&key)
                    || loaded
                        .first()
                        .and_then(Option::as_ref)
                        .is_some_and(|app| app[0] == *leaf) =>
            {
                report.push(
                    "alipay_cert",
                    Severity::Error,
                    "alipay_cert_file is your app's own certificate: Alipay's responses would never verify",
                    "alipay_cert_file 应为“支付宝公钥证书” alipayCertPublicKey_RSA2.crt，不是应用公钥证书",
                    "set alipay_cert_file to Alipay's certificate (alipayCertPublicKey_RSA2.crt), not the app certificate",
                );
            }
            Ok(key) => {
                report.ok(
                    "alipay_cert",
                    format!(
                        "Alipay certificate {}: alipay_cert_sn {}",
                        leaf.subject(),
                        leaf.sn()
                    ),
                );
                alipay_keys.push(("Alipay certificate key", key));
            }
            Err(error) => report.push(
                "alipay_cert",
                Severity::Error,
                format!("Alipay certificate: {error}"),
                "从开放平台重新下载支付宝公钥证书",
                "download the Alipay certificate again from the Alipay console",
            ),
        }
        validity("alipay_cert", leaf, options.now, report);
        if let Some(roots) = &roots {
            match cert::verify_chain(alipay, roots, options.now) {
                Ok(()) => report.ok(
                    "alipay_cert_chain",
                    "the Alipay certificate chains to the root bundle",
                ),
                Err(error) => report.push(
                    "alipay_cert_chain",
                    Severity::Error,
                    format!("the Alipay certificate does not chain to the root bundle: {error}"),
                    "支付宝公钥证书与根证书须来自同一环境（正式/沙箱），请一起重新下载",
                    "download the Alipay certificate and the root certificate again, from the same environment (production or sandbox)",
                ),
            }
        }
    }
}

/// Validity dates: expired or not yet valid is an error, expiring within 30 days a warning.
fn validity(check: &'static str, cert: &Certificate, now: OffsetDateTime, report: &mut Report) {
    match cert.check_validity(now) {
        Err(error) => report.push(
            check,
            Severity::Error,
            error.to_string(),
            "在开放平台更新证书并下载新证书文件",
            "renew the certificate in the Alipay console and download the new file",
        ),
        Ok(()) if cert.not_after() - now < time::Duration::days(30) => report.push(
            check,
            Severity::Warning,
            format!(
                "certificate {} expires on {}",
                cert.subject(),
                alipay::time::format(cert.not_after())
            ),
            "证书 30 天内到期，请尽快在开放平台更新",
            "the certificate expires within 30 days: renew it in the Alipay console",
        ),
        Ok(()) => report.ok(
            check,
            format!("valid until {}", alipay::time::format(cert.not_after())),
        ),
    }
}

/// One request to the gateway: an empty POST (OpenAPI) or a `notify_verify` GET (mapi).
async fn probe_gateway(
    check: &'static str,
    url: &str,
    legacy_partner: Option<&str>,
    options: &Options,
    environment: Environment,
    report: &mut Report,
) {
    if options.offline {
        report.info(check, format!("{url}: not contacted (offline)"));
        return;
    }
    let http = match reqwest::Client::builder()
        .timeout(options.timeout)
        .connect_timeout(options.timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("alipay-doctor/", env!("CARGO_PKG_VERSION")))
        .build()
    {
        Ok(http) => http,
        Err(error) => {
            report.info(check, format!("cannot make an HTTP client: {error}"));
            return;
        }
    };
    let separator = if url.contains('?') { '&' } else { '?' };
    let request = match legacy_partner {
        Some(partner) => http.get(format!(
            "{url}{separator}service=notify_verify&partner={partner}&notify_id=alipay-doctor-probe"
        )),
        None => http
            .post(format!("{url}{separator}charset=utf-8"))
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded;charset=utf-8",
            )
            .body(""),
    };
    match request.send().await {
        Ok(response) => {
            let status = response.status().as_u16();
            let body = response.text().await.unwrap_or_default();
            let looks_right = match legacy_partner {
                Some(_) => matches!(body.trim(), "true" | "false"),
                None => {
                    status == 200
                        && serde_json::from_str::<serde_json::Value>(&body)
                            .is_ok_and(|v| v.get("error_response").is_some())
                }
            };
            if looks_right {
                report.ok(check, format!("{url} answers like an Alipay gateway"));
            } else {
                report.push(
                    check,
                    Severity::Warning,
                    format!("{url} answered HTTP {status}, but not the way Alipay's gateway does"),
                    "检查网关地址是否完整（以 /gateway.do 结尾）",
                    "check the gateway URL (it ends in /gateway.do)",
                );
            }
        }
        Err(error) => {
            let what = if error.is_timeout() {
                format!("no answer within {} s", options.timeout.as_secs_f32())
            } else {
                format!("cannot connect ({})", root_cause(&error))
            };
            let (zh, en) = if environment == Environment::Local {
                (
                    "启动本地沙箱（alipay-sandbox）或改正 gateway 地址",
                    "start the local sandbox (alipay-sandbox) or correct the gateway URL",
                )
            } else {
                (
                    "在部署服务器上检查 DNS、防火墙与出网代理；仅在离线环境检查时可加 --offline",
                    "check DNS, firewall and outbound proxy on the server that runs the shop; pass --offline when checking on a machine without internet",
                )
            };
            report.push(check, Severity::Error, format!("{url}: {what}"), zh, en);
        }
    }
}

fn root_cause(error: &dyn std::error::Error) -> String {
    let mut cause = error;
    while let Some(inner) = cause.source() {
        cause = inner;
    }
    cause.to_string()
}

/// Whether Alipay's servers could reach an address.
fn is_unreachable_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || (a == 100 && (64..128).contains(&b)) // carrier-grade NAT
                || (a == 192 && b == 0 && c == 2)
                || (a == 198 && b == 51 && c == 100)
                || (a == 203 && b == 0 && c == 113) // documentation ranges
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_unreachable_ip(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || (first & 0xfe00) == 0xfc00 // unique local fc00::/7
                || (first & 0xffc0) == 0xfe80 // link-local fe80::/10
                || first == 0x2001 && v6.segments()[1] == 0x0db8 // documentation
        }
    }
}

/// `notify_url` / `return_url`: an absolute URL without a query, https and reachable from the
/// internet in production.
async fn callback_url(
    check: &'static str,
    url: &str,
    environment: Environment,
    options: &Options,
    report: &mut Report,
) {
    let parsed = match url::Url::parse(url) {
        Ok(parsed) if matches!(parsed.scheme(), "http" | "https") => parsed,
        _ => {
            report.push(
                check,
                Severity::Error,
                format!("{check} {url:?} is not an absolute http(s) URL"),
                format!("{check} 填完整地址，如 https://shop.example.com/alipay/notify"),
                format!("give {check} as a full URL, like https://shop.example.com/alipay/notify"),
            );
            return;
        }
    };
    let mut clean = true;
    if parsed.query().is_some() || parsed.fragment().is_some() {
        clean = false;
        report.push(
            check,
            Severity::Error,
            format!("{check} {url} has its own query string: its parameters get mixed with Alipay's and verification fails"),
            "去掉 URL 中的 ?… 参数，把信息放进路径或 passback_params",
            "remove the ?… part; put that information in the path or in passback_params",
        );
    }
    if parsed.scheme() == "http" && environment == Environment::Production {
        clean = false;
        report.push(
            check,
            Severity::Error,
            format!("{check} {url} is plain http in production"),
            "生产环境使用 https 地址",
            "use an https URL in production",
        );
    }
    let host = parsed
        .host_str()
        .unwrap_or_default()
        .trim_matches(['[', ']'])
        .to_ascii_lowercase();
    // Alipay's servers post notifications; the buyer's browser follows the return.
    let who = if check.ends_with("return_url") {
        "buyers' browsers"
    } else {
        "Alipay's servers"
    };
    let unreachable = |report: &mut Report, why: String| {
        let severity = environment.unreachable();
        report.push(
            check,
            severity,
            format!("{check} {url}: {why}; {who} cannot reach it"),
            if severity == Severity::Error {
                "改用公网可访问的域名（生产环境必须如此）"
            } else {
                "仅适用于本地沙箱；接入支付宝（含在线沙箱）时请换成公网地址"
            },
            if severity == Severity::Error {
                "use a host name reachable from the internet (production requires it)"
            } else {
                "fine for a local sandbox only; use a public host name with Alipay (its online sandbox included)"
            },
        );
    };
    if let Ok(ip) = host.parse::<IpAddr>() {
        if is_unreachable_ip(ip) {
            unreachable(
                report,
                format!("{ip} is a loopback, private or link-local address"),
            );
            return;
        }
    } else if host == "localhost"
        || host.ends_with(".localhost")
        || host.ends_with(".local")
        || !host.contains('.')
    {
        unreachable(report, format!("{host} is a local name"));
        return;
    } else if options.offline {
        report.info(check, format!("{host} was not resolved (offline)"));
    } else {
        let port = parsed.port_or_known_default().unwrap_or(443);
        match tokio::time::timeout(
            options.timeout,
            tokio::net::lookup_host((host.as_str(), port)),
        )
        .await
        {
            Ok(Ok(addresses)) => {
                let addresses: Vec<IpAddr> = addresses.map(|a| a.ip()).collect();
                if let Some(ip) = addresses.iter().find(|ip| is_unreachable_ip(**ip)) {
                    unreachable(
                        report,
                        format!("{host} resolves to {ip}, a loopback or private address"),
                    );
                    return;
                }
            }
            Ok(Err(_)) | Err(_) => {
                unreachable(report, format!("{host} does not resolve"));
                return;
            }
        }
    }
    if clean {
        report.ok(check, format!("{check} {url}"));
    }
}

async fn legacy_checks(legacy: &LegacyConfig, options: &Options, report: &mut Report) {
    report.push(
        "legacy",
        Severity::Warning,
        "the MD5 即时到账 interface (create_direct_pay_by_user) is retired by Alipay",
        "迁移到电脑网站支付 alipay.trade.page.pay（RSA2），迁移完成后删除 [alipay.legacy]",
        "migrate to alipay.trade.page.pay (RSA2), then remove [alipay.legacy]",
    );
    match legacy::check_partner(&legacy.partner) {
        Ok(()) => report.ok("legacy_partner", format!("partner {}", legacy.partner)),
        Err(error) => report.push(
            "legacy_partner",
            Severity::Error,
            error.to_string(),
            "partner 填合作伙伴身份（PID），2088 开头的 16 位数字",
            "set partner to your PID: 16 digits starting with 2088",
        ),
    }
    match legacy.md5_key() {
        Ok(key) if key.len() == 32 => report.ok("legacy_md5_key", "MD5 key: 32 characters"),
        Ok(key) => report.push(
            "legacy_md5_key",
            Severity::Warning,
            format!("the MD5 key has {} characters; Alipay's have 32", key.len()),
            "从商家平台重新复制 MD5 密钥（32 位）",
            "copy the MD5 key (32 characters) again from the merchant console",
        ),
        Err(error) => report.push(
            "legacy_md5_key",
            Severity::Error,
            error.to_string(),
            "设置 md5_key_file（只含 32 位 MD5 密钥的文件）",
            "set md5_key_file to a file holding the 32-character MD5 key",
        ),
    }
    let gateway = match legacy.gateway() {
        Ok(gateway) => gateway,
        Err(error) => {
            report.push(
                "legacy_gateway",
                Severity::Error,
                error.to_string(),
                "gateway 填 production、sandbox 或完整的 mapi 网关地址",
                "set gateway to production, sandbox, or a full mapi gateway URL",
            );
            return;
        }
    };
    let environment = match &gateway {
        LegacyGateway::Production => Environment::Production,
        LegacyGateway::Sandbox => Environment::Sandbox,
        LegacyGateway::Url(url) => Environment::of_url(url),
    };
    probe_gateway(
        "legacy_gateway",
        gateway.url(),
        Some(&legacy.partner),
        options,
        environment,
        report,
    )
    .await;
    match &legacy.notify_url {
        Some(url) => callback_url("legacy_notify_url", url, environment, options, report).await,
        None => report.push(
            "legacy_notify_url",
            Severity::Warning,
            "notify_url is not set for the legacy interface",
            "在 [alipay.legacy] 设置 notify_url",
            "set notify_url in [alipay.legacy]",
        ),
    }
    if let Some(url) = &legacy.return_url {
        callback_url("legacy_return_url", url, environment, options, report).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_ranges() {
        for unreachable in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.1.1",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "fc00::1",
            "fd12::1",
            "fe80::1",
            "::ffff:10.0.0.1",
        ] {
            assert!(
                is_unreachable_ip(unreachable.parse().unwrap()),
                "{unreachable}"
            );
        }
        for reachable in ["1.2.3.4", "172.32.0.1", "110.75.1.1", "2400:da00::1"] {
            assert!(
                !is_unreachable_ip(reachable.parse().unwrap()),
                "{reachable}"
            );
        }
    }

    #[test]
    fn environments() {
        assert_eq!(
            Environment::of(&Gateway::Production),
            Environment::Production
        );
        assert_eq!(Environment::of(&Gateway::Sandbox), Environment::Sandbox);
        assert_eq!(
            Environment::of_url("https://mapi.alipay.com/gateway.do"),
            Environment::Production
        );
        assert_eq!(
            Environment::of_url("http://127.0.0.1:8090/gateway.do"),
            Environment::Local
        );
    }
}
