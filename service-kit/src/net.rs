//! Outbound calls to addresses users give (webhook endpoints set through the API, and the
//! like): what they may reach, checked before every call.
//!
//! An address is refused when it is loopback, private (RFC 1918, unique local),
//! link-local (cloud metadata at 169.254.169.254 among them), shared (100.64/10),
//! multicast, broadcast, unspecified or documentation space, unless the operator's
//! allow-list names its network. The name is resolved once per call and the call is pinned
//! to the addresses checked, so a name that resolves elsewhere the second time (DNS
//! rebinding) reaches nothing new; redirects are not followed.

use ipnet::IpNet;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// Where outbound calls may go besides public addresses.
#[derive(Debug, Clone, Default)]
pub struct Egress {
    allowed: Vec<IpNet>,
}

/// Why an address is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

impl Egress {
    /// From a comma-separated list of CIDRs or addresses (empty: public addresses only).
    pub fn parse(list: &str) -> Result<Egress, String> {
        let mut allowed = Vec::new();
        for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let net = item
                .parse::<IpNet>()
                .or_else(|_| item.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| format!("{item} is not an address or a CIDR block"))?;
            allowed.push(net);
        }
        Ok(Egress { allowed })
    }

    /// Whether `ip` may be called.
    pub fn permits(&self, ip: IpAddr) -> bool {
        !is_internal(ip) || self.allowed.iter().any(|n| n.contains(&ip))
    }

    /// Resolves the host of `url` (http or https only) and checks every address it has.
    pub async fn resolve(&self, url: &reqwest::Url) -> Result<Vec<SocketAddr>, Refused> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Refused(format!("{}: only http and https", url.scheme())));
        }
        let host = url
            .host_str()
            .ok_or_else(|| Refused("the URL has no host".into()))?;
        let port = url.port_or_known_default().unwrap_or(80);
        self.resolve_host(host, port).await
    }

    /// Resolves `host` (a name or an address) and checks every address it has.
    pub async fn resolve_host(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>, Refused> {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            return Err(Refused("no host".into()));
        }
        let addrs: Vec<SocketAddr> = match host.parse::<IpAddr>() {
            Ok(ip) => vec![SocketAddr::new(ip, port)],
            Err(_) => tokio::net::lookup_host((host, port))
                .await
                .map_err(|e| Refused(format!("{host} does not resolve: {e}")))?
                .collect(),
        };
        if addrs.is_empty() {
            return Err(Refused(format!("{host} does not resolve")));
        }
        if let Some(bad) = addrs.iter().find(|a| !self.permits(a.ip())) {
            return Err(Refused(format!(
                "{host} resolves to {}, an internal address (allow its network to reach it)",
                bad.ip()
            )));
        }
        Ok(addrs)
    }

    /// An HTTP client for one call to `url`: its host pinned to the checked addresses, no
    /// redirects, `timeout` for the whole call.
    pub async fn client_for(
        &self,
        url: &reqwest::Url,
        timeout: Duration,
    ) -> Result<reqwest::Client, Refused> {
        let addrs = self.resolve(url).await?;
        // No proxy from the environment: a proxy would resolve the name again and reach
        // what the check refused.
        let mut b = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)));
        if let Some(host) = url.host_str() {
            if host.parse::<IpAddr>().is_err() {
                b = b.resolve_to_addrs(host, &addrs);
            }
        }
        b.build().map_err(|e| Refused(e.to_string()))
    }
}

/// Whether an address is not a public one.
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_multicast()
                || v4.is_broadcast()
                || v4.is_unspecified()
                || v4.is_documentation()
                || o[0] == 0
                || (o[0] == 100 && (64..128).contains(&o[1]))
                || (o[0] == 192 && o[1] == 0 && o[2] == 0)
                || (o[0] == 198 && (o[1] == 18 || o[1] == 19))
                || o[0] >= 240
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_internal(IpAddr::V4(v4));
            }
            let s = v6.segments();
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
                || (s[0] == 0x2001 && s[1] == 0x0db8)
                || (s[0] == 0x0064 && s[1] == 0xff9b)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_addresses_are_refused_unless_allowed() {
        let e = Egress::parse("").expect("empty list");
        for bad in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fc00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(!e.permits(bad.parse().expect("ip")), "{bad}");
        }
        for good in ["93.184.216.34", "2606:4700::1111"] {
            assert!(e.permits(good.parse().expect("ip")), "{good}");
        }
        let e = Egress::parse("127.0.0.0/8, 10.0.0.5").expect("list");
        assert!(e.permits("127.0.0.1".parse().expect("ip")));
        assert!(e.permits("10.0.0.5".parse().expect("ip")));
        assert!(!e.permits("10.0.0.6".parse().expect("ip")));
    }

    #[tokio::test]
    async fn urls_are_resolved_and_checked() {
        let e = Egress::default();
        let u = reqwest::Url::parse("http://127.0.0.1:8080/hook").expect("url");
        assert!(e.resolve(&u).await.is_err());
        let u = reqwest::Url::parse("file:///etc/passwd").expect("url");
        assert!(e.resolve(&u).await.is_err());
        let e = Egress::parse("127.0.0.0/8").expect("list");
        let u = reqwest::Url::parse("http://localhost:8080/hook").expect("url");
        assert!(e.resolve(&u).await.is_ok());
    }
}
