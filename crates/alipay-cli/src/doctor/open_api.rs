//! The open API's checks: app id, keys (the classic swap of the app and Alipay public keys),
//! sign type, certificate mode, gateway and callback URLs.

use alipay::config::AlipayConfig;
use alipay::keys::{PublicKey, SignType};

use super::certificates::*;
use super::network::*;
use super::*;

pub(super) async fn open_api(config: &AlipayConfig, options: &Options, report: &mut Report) {
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
