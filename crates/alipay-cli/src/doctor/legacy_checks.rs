//! The retired MD5 interface's table, `[alipay.legacy]`.

use alipay::legacy::{self, LegacyConfig, LegacyGateway};

use super::network::*;
use super::*;

pub(super) async fn legacy_checks(legacy: &LegacyConfig, options: &Options, report: &mut Report) {
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
        other => Environment::of_url(other.url()),
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
