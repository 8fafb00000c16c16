//! Signed requests: the common parameters, the signature, and the three ways to send them
//! (a redirect URL, an auto-submitting form, a server-to-server POST body).

use std::fmt;
use std::str::FromStr;

use crate::content::{self, Params};
use crate::error::Error;
use crate::keys::{SignType, Signer, encode_signature};

/// Which Alipay gateway to talk to.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Gateway {
    /// `https://openapi.alipay.com/gateway.do`
    Production,
    /// Alipay's online sandbox, `https://openapi-sandbox.dl.alipaydev.com/gateway.do`.
    Sandbox,
    /// Any other gateway URL, such as this project's offline emulator.
    Url(String),
}

impl Gateway {
    /// The production gateway URL.
    pub const PRODUCTION_URL: &'static str = "https://openapi.alipay.com/gateway.do";
    /// The online sandbox gateway URL (since 2023; the older `openapi.alipaydev.com` is gone).
    pub const SANDBOX_URL: &'static str = "https://openapi-sandbox.dl.alipaydev.com/gateway.do";

    /// The gateway URL.
    #[must_use]
    pub fn url(&self) -> &str {
        match self {
            Gateway::Production => Self::PRODUCTION_URL,
            Gateway::Sandbox => Self::SANDBOX_URL,
            Gateway::Url(url) => url,
        }
    }
}

impl fmt::Display for Gateway {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.url())
    }
}

impl FromStr for Gateway {
    type Err = Error;

    /// `production`, `sandbox`, or an `http(s)://` URL.
    fn from_str(s: &str) -> Result<Gateway, Error> {
        match s {
            "production" | "prod" => Ok(Gateway::Production),
            "sandbox" => Ok(Gateway::Sandbox),
            url => {
                let parsed = url::Url::parse(url)
                    .map_err(|e| Error::Config(format!("gateway {url:?} is not a URL: {e}")))?;
                if !matches!(parsed.scheme(), "http" | "https") {
                    return Err(Error::Config(format!(
                        "gateway {url:?} must be http or https"
                    )));
                }
                Ok(Gateway::Url(url.to_owned()))
            }
        }
    }
}

/// A request with its signature, ready to be sent.
#[derive(Clone, Debug)]
pub struct SignedRequest {
    params: Params,
    content: String,
    gateway: String,
}

impl SignedRequest {
    /// Signs `params` (empty values are removed: they are neither signed nor sent).
    pub fn sign(
        mut params: Params,
        signer: &dyn Signer,
        sign_type: SignType,
        gateway: &str,
    ) -> Result<SignedRequest, Error> {
        params.retain(|k, v| !k.is_empty() && !v.trim().is_empty() && k != "sign");
        params.insert("sign_type".into(), sign_type.as_str().into());
        let content = content::request_content(&params);
        let signature = signer.sign(sign_type, content.as_bytes())?;
        params.insert("sign".into(), encode_signature(&signature));
        Ok(SignedRequest {
            params,
            content,
            gateway: gateway.to_owned(),
        })
    }

    /// Every parameter, `sign` included.
    #[must_use]
    pub fn params(&self) -> &Params {
        &self.params
    }

    /// The exact string that was signed, for comparing with what the gateway says it verified.
    #[must_use]
    pub fn content(&self) -> &str {
        &self.content
    }

    /// The base64 signature.
    #[must_use]
    pub fn signature(&self) -> &str {
        &self.params["sign"]
    }

    /// The parameters as a query string: sorted, `sign` last, form-encoded.
    #[must_use]
    pub fn query_string(&self) -> String {
        content::query_string(&self.params)
    }

    /// The signed order string of an app payment ([`crate::Client::app_pay`]): what the merchant's
    /// server returns to its mobile app, which passes it unchanged to the Alipay app SDK
    /// (`payV2`/`payOrder`). The same text as [`SignedRequest::query_string`], as
    /// python-alipay-sdk and the official SDKs' `sdk_execute` write it.
    #[must_use]
    pub fn order_string(&self) -> String {
        self.query_string()
    }

    /// The gateway URL carrying every parameter: for page pay, redirect the browser here (GET).
    #[must_use]
    pub fn url(&self) -> String {
        let separator = if self.gateway.contains('?') { '&' } else { '?' };
        format!("{}{separator}{}", self.gateway, self.query_string())
    }

    /// An HTML page that POSTs the parameters to the gateway as soon as it loads, the form the
    /// official SDKs return for page pay; it keeps long `biz_content` out of the URL.
    #[must_use]
    pub fn form_html(&self) -> String {
        let separator = if self.gateway.contains('?') { '&' } else { '?' };
        let style = FormStyle {
            attributes: "name=\"punchout_form\"",
            label: "立即支付",
            script: "document.forms[0].submit();",
        };
        auto_submit_form(
            &format!("{}{separator}charset=utf-8", self.gateway),
            &style,
            &self.params,
        )
    }

    /// The gateway URL this request goes to.
    #[must_use]
    pub fn gateway(&self) -> &str {
        &self.gateway
    }
}

/// How an auto-submitting form names itself and submits: the official SDKs and the legacy PHP
/// demo differ only in these.
pub(crate) struct FormStyle<'a> {
    /// Attributes before `method`, e.g. `name="punchout_form"`.
    pub(crate) attributes: &'a str,
    /// The hidden submit button's label.
    pub(crate) label: &'a str,
    /// The script that submits it.
    pub(crate) script: &'a str,
}

/// An HTML form that POSTs `params` to `action` as soon as the page loads: every name and value
/// HTML-escaped, so they arrive unchanged.
#[must_use]
pub(crate) fn auto_submit_form(action: &str, style: &FormStyle<'_>, params: &Params) -> String {
    let mut html = format!(
        "<form {} method=\"post\" action=\"{}\">\n",
        style.attributes,
        escape_html(action)
    );
    for (k, v) in params {
        html.push_str(&format!(
            "<input type=\"hidden\" name=\"{}\" value=\"{}\">\n",
            escape_html(k),
            escape_html(v)
        ));
    }
    html.push_str(&format!(
        "<input type=\"submit\" value=\"{}\" style=\"display:none\">\n</form>\n",
        style.label
    ));
    html.push_str(&format!("<script>{}</script>", style.script));
    html
}

/// Escapes text for HTML (`& < > " '`), attribute values included; the browser un-escapes it
/// before submitting a form, so a signed value arrives unchanged.
#[must_use]
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Checks a `notify_url`/`return_url`: absolute http(s), and no query string or fragment of its
/// own, since Alipay appends its parameters and the merchant's own would then break verification
/// on the way back.
pub fn check_callback_url(which: &str, url: &str) -> Result<(), Error> {
    let parsed = url::Url::parse(url).map_err(|e| {
        Error::InvalidRequest(format!("{which} {url:?} is not an absolute URL: {e}"))
    })?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(Error::InvalidRequest(format!(
            "{which} {url:?} must be http or https"
        )));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(Error::InvalidRequest(format!(
            "{which} {url:?} carries its own query string or fragment; Alipay's parameters would be mixed with it and signature verification would fail on the way back, so put the information in the path or in passback_params"
        )));
    }
    if url.len() > 256 {
        return Err(Error::InvalidRequest(format!(
            "{which} is longer than 256 characters"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callback_urls_with_a_query_are_refused() {
        assert!(check_callback_url("notify_url", "https://shop.example.com/alipay/notify").is_ok());
        for bad in [
            "https://shop.example.com/notify?order=1",
            "https://shop.example.com/notify#x",
            "/alipay/notify",
            "ftp://shop.example.com/notify",
        ] {
            assert!(check_callback_url("notify_url", bad).is_err(), "{bad}");
        }
        let err = check_callback_url("return_url", "https://a.example/r?x=1").unwrap_err();
        assert!(err.to_string().contains("query string"));
    }

    #[test]
    fn gateway_names() {
        assert_eq!(
            "production".parse::<Gateway>().unwrap(),
            Gateway::Production
        );
        assert_eq!(
            "sandbox".parse::<Gateway>().unwrap().url(),
            Gateway::SANDBOX_URL
        );
        assert_eq!(
            "http://127.0.0.1:9/gateway.do".parse::<Gateway>().unwrap(),
            Gateway::Url("http://127.0.0.1:9/gateway.do".into())
        );
        assert!("not a url".parse::<Gateway>().is_err());
    }

    #[test]
    fn the_form_posts_every_signed_parameter_escaped() {
        let key = crate::PrivateKey::generate().expect("key");
        let params: crate::content::Params = [
            ("app_id", "1"),
            ("biz_content", r#"{"subject":"<b>&\"q\"'"}"#),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let signed = SignedRequest::sign(
            params,
            &key,
            crate::SignType::Rsa2,
            "https://gw.example/gateway.do",
        )
        .expect("sign");
        let html = signed.form_html();
        assert!(html.starts_with(r#"<form name="punchout_form" method="post" action="https://gw.example/gateway.do?charset=utf-8">"#));
        assert!(html.contains(r#"<input type="hidden" name="biz_content" value="{&quot;subject&quot;:&quot;&lt;b&gt;&amp;\&quot;q\&quot;&#39;&quot;}">"#), "{html}");
        assert!(html.contains(&format!(r#"name="sign" value="{}""#, signed.signature())));
        assert!(html.contains(r#"name="sign_type" value="RSA2""#));
        assert!(html.ends_with("<script>document.forms[0].submit();</script>"));
    }

    #[test]
    fn html_escaping() {
        assert_eq!(
            escape_html(r#"{"a":"<b>&'"}"#),
            "{&quot;a&quot;:&quot;&lt;b&gt;&amp;&#39;&quot;}"
        );
    }
}
