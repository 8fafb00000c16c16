//! Certificate mode: the three files, their chains and SNs, and how long they stay valid.

use alipay::cert::{self, Certificate};
use alipay::config::AlipayConfig;
use alipay::keys::{PrivateKey, PublicKey};
use time::OffsetDateTime;

use super::*;

pub(super) fn certificates(
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
pub(super) fn validity(
    check: &'static str,
    cert: &Certificate,
    now: OffsetDateTime,
    report: &mut Report,
) {
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
