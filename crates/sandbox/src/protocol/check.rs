//! What the real gateway checks, in its order, with its codes (spec §2, §6, §16).
//!
//! 1. Query string and form body are decoded once and merged (the query wins a conflict).
//! 2. `method` missing or unknown, `app_id` missing or unknown, `sign` missing: an unsigned
//!    `error_response` (the gateway cannot tie the request to an app it can sign for).
//! 3. From there on every refusal is a signed `<method>_response`: charset, format, sign_type,
//!    timestamp (format and skew), version, the merchant's signature (its `sub_msg` shows the
//!    content string the gateway computed, HTML-escaped as Alipay does), then `biz_content`.

use alipay::SignType;
use alipay::content::{self, Params};
use alipay::keys::decode_signature;
use serde_json::{Map, Value};

use crate::apps::App;
use crate::json::{Code, Node, system_busy};
use crate::service::Shared;

/// The methods the emulator implements.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GatewayMethod {
    /// `alipay.trade.page.pay`
    PagePay,
    /// `alipay.trade.wap.pay`
    WapPay,
    /// `alipay.trade.query`
    Query,
    /// `alipay.trade.close`
    Close,
    /// `alipay.trade.cancel`
    Cancel,
    /// `alipay.trade.refund`
    Refund,
    /// `alipay.trade.fastpay.refund.query`
    RefundQuery,
    /// `alipay.trade.precreate`
    Precreate,
    /// `alipay.trade.app.pay`: the order string, as the Alipay app submits it
    AppPay,
    /// `alipay.trade.create`
    Create,
    /// `alipay.trade.pay` (barcode)
    Pay,
    /// `alipay.open.app.alipaycert.download` (certificate mode)
    AlipayCertDownload,
    /// `alipay.data.dataservice.bill.downloadurl.query`
    BillDownloadUrl,
    /// A real Alipay method this sandbox does not offer: answered `40006`, as for an app that
    /// has not signed the product.
    Unsupported(&'static str),
}

/// Real methods a merchant might call that the sandbox does not implement.
const UNSUPPORTED: &[&str] = &[
    "alipay.trade.orderinfo.sync",
    "alipay.trade.refund.depositback.completed",
];

impl GatewayMethod {
    /// Recognises a `method` value.
    #[must_use]
    pub fn parse(name: &str) -> Option<GatewayMethod> {
        Some(match name {
            "alipay.trade.page.pay" => GatewayMethod::PagePay,
            "alipay.trade.wap.pay" => GatewayMethod::WapPay,
            "alipay.trade.query" => GatewayMethod::Query,
            "alipay.trade.close" => GatewayMethod::Close,
            "alipay.trade.cancel" => GatewayMethod::Cancel,
            "alipay.trade.refund" => GatewayMethod::Refund,
            "alipay.trade.fastpay.refund.query" => GatewayMethod::RefundQuery,
            "alipay.trade.precreate" => GatewayMethod::Precreate,
            "alipay.trade.app.pay" => GatewayMethod::AppPay,
            "alipay.trade.create" => GatewayMethod::Create,
            "alipay.trade.pay" => GatewayMethod::Pay,
            "alipay.open.app.alipaycert.download" => GatewayMethod::AlipayCertDownload,
            "alipay.data.dataservice.bill.downloadurl.query" => GatewayMethod::BillDownloadUrl,
            other => GatewayMethod::Unsupported(UNSUPPORTED.iter().find(|m| **m == other)?),
        })
    }

    /// The `method` value.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            GatewayMethod::PagePay => "alipay.trade.page.pay",
            GatewayMethod::WapPay => "alipay.trade.wap.pay",
            GatewayMethod::Query => "alipay.trade.query",
            GatewayMethod::Close => "alipay.trade.close",
            GatewayMethod::Cancel => "alipay.trade.cancel",
            GatewayMethod::Refund => "alipay.trade.refund",
            GatewayMethod::RefundQuery => "alipay.trade.fastpay.refund.query",
            GatewayMethod::Precreate => "alipay.trade.precreate",
            GatewayMethod::AppPay => "alipay.trade.app.pay",
            GatewayMethod::Create => "alipay.trade.create",
            GatewayMethod::Pay => "alipay.trade.pay",
            GatewayMethod::AlipayCertDownload => "alipay.open.app.alipaycert.download",
            GatewayMethod::BillDownloadUrl => "alipay.data.dataservice.bill.downloadurl.query",
            GatewayMethod::Unsupported(name) => name,
        }
    }

    /// Whether a browser (or the Alipay app's cashier) is on the other end: HTML answers.
    #[must_use]
    pub const fn is_page(self) -> bool {
        matches!(
            self,
            GatewayMethod::PagePay | GatewayMethod::WapPay | GatewayMethod::AppPay
        )
    }
}

/// A request that passed every protocol check.
#[derive(Debug)]
pub struct Checked {
    /// The app.
    pub app: App,
    /// The method.
    pub method: GatewayMethod,
    /// Every parameter received.
    pub params: Params,
    /// `biz_content`, parsed (decrypted first when it came encrypted).
    pub biz: Map<String, Value>,
    /// The request was AES-encrypted (`encrypt_type=AES`): so is the answer.
    pub encrypted: bool,
}

/// A request refused before its method runs.
#[derive(Debug)]
pub struct Refusal {
    /// The method, when it was recognised.
    pub method: Option<GatewayMethod>,
    /// The app, once identified: then the answer is a signed `<method>_response`; before that an
    /// unsigned `error_response`.
    pub app: Option<App>,
    /// Why.
    pub node: Node,
    /// The content string the gateway verified, for signature errors (shown on error pages).
    pub content: Option<String>,
}

fn missing(sub_code: &str, sub_msg: &str) -> Node {
    Node::error(Code::MissingArguments, sub_code, sub_msg)
}

fn invalid(sub_code: &str, sub_msg: impl Into<String>) -> Node {
    Node::error(Code::InvalidArguments, sub_code, sub_msg)
}

/// HTML-escapes the content string for `sub_msg`, as the real gateway does (`&amp;`, `&quot;`).
fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Decodes and merges the query string and a form body.
pub fn merge_params(query: Option<&str>, body: &[u8]) -> Result<Params, Node> {
    let bad_form =
        |e: content::FormError| invalid("isv.invalid-parameter", format!("参数格式错误: {e}"));
    let mut params = content::parse_form(query.unwrap_or_default().as_bytes()).map_err(bad_form)?;
    for (key, value) in content::parse_form(body).map_err(bad_form)? {
        // The real gateway uses the URL's copy when both are present (spec §4.4).
        params.entry(key).or_insert(value);
    }
    Ok(params)
}

/// The protocol checks, in the gateway's order.
pub async fn check(shared: &Shared, params: Params) -> Result<Checked, Box<Refusal>> {
    let unbound = |method, node| {
        Err(Box::new(Refusal {
            method,
            app: None,
            node,
            content: None,
        }))
    };
    let Some(method_name) = params.get("method").filter(|m| !m.trim().is_empty()) else {
        return unbound(None, missing("isv.missing-method", "缺少方法名参数"));
    };
    let Some(method) = GatewayMethod::parse(method_name) else {
        return unbound(None, invalid("isv.invalid-method", "不存在的方法名"));
    };
    let Some(app_id) = params.get("app_id").filter(|a| !a.trim().is_empty()) else {
        return unbound(Some(method), missing("isv.missing-app-id", "缺少AppID参数"));
    };
    let app = match lookup_app(shared, app_id).await {
        Ok(Some(app)) => app,
        Ok(None) => {
            return unbound(
                Some(method),
                invalid("isv.invalid-app-id", "无效的AppID参数"),
            );
        }
        Err(node) => return unbound(Some(method), node),
    };
    let Some(sign) = params.get("sign").filter(|s| !s.trim().is_empty()) else {
        return unbound(
            Some(method),
            missing("isv.missing-signature", "缺少签名参数"),
        );
    };
    let bound = |node| {
        Err(Box::new(Refusal {
            method: Some(method),
            app: Some(app.clone()),
            node,
            content: None,
        }))
    };
    if let Some(charset) = params.get("charset")
        && !matches!(charset.to_ascii_lowercase().as_str(), "utf-8" | "utf8")
    {
        return bound(invalid(
            "isv.invalid-charset",
            format!("无效的字符集参数 {charset} (the sandbox speaks utf-8 only)"),
        ));
    }
    if let Some(format) = params.get("format")
        && !format.eq_ignore_ascii_case("json")
    {
        return bound(invalid("isv.invalid-format", "无效的数据格式参数"));
    }
    let Some(sign_type) = params.get("sign_type").filter(|s| !s.is_empty()) else {
        return bound(missing("isv.missing-signature-type", "缺少签名类型参数"));
    };
    match sign_type.parse::<SignType>() {
        Ok(sign_type) if sign_type == app.sign_type => {}
        Ok(_) | Err(_) => {
            return bound(invalid(
                "isv.invalid-signature-type",
                format!(
                    "无效的签名类型参数 {sign_type} (this app signs with {})",
                    app.sign_type
                ),
            ));
        }
    }
    let Some(timestamp) = params.get("timestamp").filter(|t| !t.trim().is_empty()) else {
        return bound(missing("isv.missing-timestamp", "缺少时间戳参数"));
    };
    let Ok(at) = alipay::time::parse_strict(timestamp) else {
        return bound(invalid(
            "isv.invalid-timestamp",
            "非法的时间戳参数 (expected yyyy-MM-dd HH:mm:ss, Beijing time)",
        ));
    };
    if let Some(window) = shared.config.timestamp_skew {
        let skew = (alipay::time::now() - at).unsigned_abs();
        if skew > window {
            return bound(invalid(
                "isv.invalid-timestamp",
                format!(
                    "非法的时间戳参数: {timestamp} 与网关时间相差超过 {} 秒",
                    window.as_secs()
                ),
            ));
        }
    }
    let Some(version) = params.get("version").filter(|v| !v.trim().is_empty()) else {
        return bound(missing("isv.missing-version", "缺少版本参数"));
    };
    if version != "1.0" {
        return bound(invalid(
            "isv.invalid-parameter",
            format!("版本参数无效: {version}"),
        ));
    }
    if let Some(app_cert) = &app.app_cert {
        // Certificate mode: the gateway finds the app's key by app_cert_sn (spec §11.3).
        match params.get("app_cert_sn").filter(|s| !s.trim().is_empty()) {
            None => {
                return bound(invalid(
                    "isv.missing-signature-config",
                    "验签出错, 未配置对应签名算法的公钥或者证书 (this app is in certificate mode: send app_cert_sn and alipay_root_cert_sn)",
                ));
            }
            Some(sn) if sn != app_cert.sn() => {
                return bound(invalid(
                    "isv.app-cert-not-exist",
                    format!(
                        "应用公钥证书不存在 (app_cert_sn {sn} is not this app's certificate, {})",
                        app_cert.sn()
                    ),
                ));
            }
            Some(_) => {}
        }
        let expected = match shared.ca().await {
            Ok(ca) => ca.root_cert_sn().to_owned(),
            Err(error) => {
                tracing::error!(%error, "certificate authority unavailable");
                return bound(system_busy());
            }
        };
        match params
            .get("alipay_root_cert_sn")
            .filter(|s| !s.trim().is_empty())
        {
            None => {
                return bound(missing(
                    "isv.missing-alipay-root-cert-sn",
                    "缺少支付宝根证书序列号",
                ));
            }
            Some(sn) if !sn.split('_').any(|part| part == expected) => {
                return bound(invalid(
                    "isv.invalid-alipay-root-cert-sn",
                    format!("无效支付宝根证书序列号 (this gateway's root is {expected})"),
                ));
            }
            Some(_) => {}
        }
    }
    let signed_content = content::request_content(&params);
    let verified = decode_signature(sign).is_some_and(|signature| {
        app.public_key
            .verify(app.sign_type, signed_content.as_bytes(), &signature)
            .is_ok()
    });
    if !verified {
        let node = invalid(
            "isv.invalid-signature",
            format!(
                "验签出错，建议检查签名字符串或签名私钥与应用公钥是否匹配，网关生成的验签字符串为：{}",
                escape_html(&signed_content)
            ),
        );
        return Err(Box::new(Refusal {
            method: Some(method),
            app: Some(app.clone()),
            node,
            content: Some(signed_content),
        }));
    }
    // Encrypted content is decrypted after the signature (which covers the ciphertext) checks.
    let mut decrypted = None;
    let encrypted = match params.get("encrypt_type").map(String::as_str) {
        None | Some("") => false,
        Some("AES") => {
            let Some(key) = &app.aes_key else {
                return bound(invalid(
                    "isv.invalid-encrypt",
                    "解密出错, 未知错误 (this app has no AES key: register it with aes_key)",
                ));
            };
            let ciphertext = params.get("biz_content").map(String::as_str).unwrap_or("");
            match key.decrypt(ciphertext) {
                Ok(text) => decrypted = Some(text),
                Err(_) => {
                    return bound(invalid(
                        "isv.decryption-error-unknown",
                        "解密出错, 未知错误",
                    ));
                }
            }
            true
        }
        Some(other) => {
            return bound(invalid(
                "isv.invalid-encrypt-type",
                format!("无效的加密类型参数 {other} (only AES)"),
            ));
        }
    };
    let biz_text = decrypted
        .as_deref()
        .or_else(|| params.get("biz_content").map(String::as_str));
    let biz = match biz_text.map(|b| b.trim()) {
        None | Some("") => {
            return bound(Node::error(
                Code::BusinessFailed,
                "ACQ.INVALID_PARAMETER",
                "参数无效: biz_content 不能为空",
            ));
        }
        Some(text) => match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(map)) => map,
            // A wrong key can still unpad by chance: what comes out is then no JSON.
            Ok(_) | Err(_) if encrypted => {
                return bound(invalid(
                    "isv.decryption-error-unknown",
                    "解密出错, 未知错误",
                ));
            }
            Ok(_) | Err(_) => {
                return bound(invalid(
                    "isv.invalid-parameter",
                    "参数无效: biz_content 不是合法的 JSON 对象",
                ));
            }
        },
    };
    Ok(Checked {
        app,
        method,
        params,
        biz,
        encrypted,
    })
}

async fn lookup_app(shared: &Shared, app_id: &str) -> Result<Option<App>, Node> {
    let result = async {
        let mut conn = shared.store.conn().await?;
        crate::store::app(&mut conn, app_id).await
    }
    .await;
    result.map_err(|error| {
        tracing::error!(%error, "looking up an app failed");
        system_busy()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merging_prefers_the_query() {
        let params = merge_params(Some("charset=UTF-8&a=1"), b"charset=utf-8&b=2").unwrap();
        assert_eq!(params["charset"], "UTF-8");
        assert_eq!(params["a"], "1");
        assert_eq!(params["b"], "2");
        assert!(merge_params(Some("a=1&a=2"), b"").is_err());
    }

    #[test]
    fn methods() {
        assert_eq!(
            GatewayMethod::parse("alipay.trade.page.pay"),
            Some(GatewayMethod::PagePay)
        );
        assert!(GatewayMethod::PagePay.is_page());
        assert!(!GatewayMethod::Query.is_page());
        assert_eq!(
            GatewayMethod::parse("alipay.trade.pay"),
            Some(GatewayMethod::Pay)
        );
        assert_eq!(
            GatewayMethod::parse("alipay.trade.orderinfo.sync"),
            Some(GatewayMethod::Unsupported("alipay.trade.orderinfo.sync"))
        );
        assert_eq!(GatewayMethod::parse("alipay.nope"), None);
    }

    #[test]
    fn content_is_escaped_like_the_real_gateway() {
        assert_eq!(
            escape_html(r#"a=1&biz_content={"k":"<v>"}"#),
            "a=1&amp;biz_content={&quot;k&quot;:&quot;&lt;v&gt;&quot;}"
        );
    }
}
