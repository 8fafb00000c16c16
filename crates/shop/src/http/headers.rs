//! Security headers on every response: a Content-Security-Policy that allows only the shop's own
//! scripts, styles and forms (plus the Alipay gateway a form may post to), no framing, no MIME
//! sniffing, a conservative referrer policy, and HSTS when the shop is served over https.

use axum::Router;
use axum::http::{HeaderName, HeaderValue, header};
use tower_http::set_header::SetResponseHeaderLayer;

/// The policy for the shop's pages and API.
#[must_use]
pub fn content_security_policy(gateway_origin: Option<&str>) -> String {
    let form_action = match gateway_origin {
        Some(origin) => format!("'self' {origin}"),
        None => "'self'".to_owned(),
    };
    format!(
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         connect-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; \
         form-action {form_action}"
    )
}

/// Adds the security headers to every response of `router`; `gateway_origin` is where pay forms
/// may post (`https://openapi.alipay.com`), `https` whether to send `Strict-Transport-Security`.
/// Each header is set only if the response has none, so a nested service (the built-in sandbox)
/// can send its own policy.
pub fn apply(router: Router, gateway_origin: Option<&str>, https: bool) -> Router {
    let csp = HeaderValue::from_str(&content_security_policy(gateway_origin))
        .unwrap_or_else(|_| HeaderValue::from_static("default-src 'self'; frame-ancestors 'none'"));
    let router = router
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            csp,
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ));
    if https {
        router.layer(SetResponseHeaderLayer::if_not_present(
            HeaderName::from_static("strict-transport-security"),
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        ))
    } else {
        router
    }
}

/// The origin (`scheme://host[:port]`) of a URL, if it has one.
#[must_use]
pub fn origin(url: &str) -> Option<String> {
    let parsed = url::Url::parse(url).ok()?;
    let origin = parsed.origin();
    origin.is_tuple().then(|| origin.ascii_serialization())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_names_the_gateway_for_forms_only() {
        let policy = content_security_policy(Some("https://openapi.alipay.com"));
        assert!(policy.contains("form-action 'self' https://openapi.alipay.com"));
        assert!(policy.contains("frame-ancestors 'none'"));
        assert!(policy.contains("base-uri 'none'"));
        assert_eq!(
            origin("https://openapi.alipay.com/gateway.do").as_deref(),
            Some("https://openapi.alipay.com")
        );
        assert_eq!(origin("not a url"), None);
    }
}
