//! What the network can tell: whether the gateway answers, and whether Alipay can reach the
//! callback URLs at all (not on localhost or a private address).

use std::net::IpAddr;

use super::*;

/// One request to the gateway: an empty POST (OpenAPI) or a `notify_verify` GET (mapi).
pub(super) async fn probe_gateway(
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

pub(super) fn root_cause(error: &dyn std::error::Error) -> String {
    let mut cause = error;
    while let Some(inner) = cause.source() {
        cause = inner;
    }
    cause.to_string()
}

/// Whether Alipay's servers could reach an address.
pub(super) fn is_unreachable_ip(ip: IpAddr) -> bool {
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
pub(super) async fn callback_url(
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
}
