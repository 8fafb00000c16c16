//! The client's address, for rate limits and the record of rejected notifications.
//!
//! The peer address is the client unless the peer is one of `trusted_proxies`: then, and only
//! then, `X-Forwarded-For` is read, from the right (the entry the nearest proxy appended), skipping
//! the proxies themselves. A stranger's own `X-Forwarded-For` therefore never picks the key they
//! are limited under.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Request};
use tower_governor::GovernorError;
use tower_governor::key_extractor::KeyExtractor;

use super::AppState;

/// The client address of a request from `peer` with `headers`.
#[must_use]
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpAddr]) -> IpAddr {
    if !trusted.contains(&peer) {
        return peer;
    }
    let forwarded: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|entry| entry.trim().parse().ok())
        .collect();
    forwarded
        .iter()
        .rev()
        .find(|ip| !trusted.contains(ip))
        .or(forwarded.first())
        .copied()
        .unwrap_or(peer)
}

fn peer(extensions: &axum::http::Extensions) -> Option<IpAddr> {
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip())
}

/// The client address as an extractor (`None` when the server runs without connection info).
#[derive(Clone, Copy, Debug)]
pub struct ClientIp(pub Option<IpAddr>);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<ClientIp, Self::Rejection> {
        Ok(ClientIp(peer(&parts.extensions).map(|peer| {
            client_ip(peer, &parts.headers, &state.config.trusted_proxies)
        })))
    }
}

/// The rate limiters' key: the client address as above.
#[derive(Clone, Debug)]
pub struct ClientIpKey {
    trusted: Arc<Vec<IpAddr>>,
}

impl ClientIpKey {
    /// Believes `X-Forwarded-For` from `trusted` peers only.
    #[must_use]
    pub fn new(trusted: Vec<IpAddr>) -> ClientIpKey {
        ClientIpKey {
            trusted: Arc::new(trusted),
        }
    }
}

impl KeyExtractor for ClientIpKey {
    type Key = IpAddr;

    fn extract<T>(&self, request: &Request<T>) -> Result<IpAddr, GovernorError> {
        let peer = peer(request.extensions()).ok_or(GovernorError::UnableToExtractKey)?;
        Ok(client_ip(peer, request.headers(), &self.trusted))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", xff.parse().unwrap());
        headers
    }

    #[test]
    fn forwarded_for_is_believed_from_trusted_proxies_only() {
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let stranger: IpAddr = "203.0.113.9".parse().unwrap();
        let spoofed = headers("1.2.3.4");
        assert_eq!(client_ip(stranger, &spoofed, &[proxy]), stranger);
        assert_eq!(client_ip(stranger, &spoofed, &[]), stranger);
        // Behind the proxy: the entry it appended, not what the client claimed before it.
        let chain = headers("1.2.3.4, 198.51.100.7");
        assert_eq!(
            client_ip(proxy, &chain, &[proxy]),
            "198.51.100.7".parse::<IpAddr>().unwrap()
        );
        assert_eq!(client_ip(proxy, &HeaderMap::new(), &[proxy]), proxy);
    }
}
