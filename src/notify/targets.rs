//! Where customer-supplied URLs may point. A webhook URL and a push endpoint come from the
//! customer, so without a check any customer could make this server POST to the machines
//! around it (a metadata service, an admin port): server-side request forgery. The URL's
//! form is checked when it is stored (`parse`); before each request `refused` resolves the
//! host to fail the message with a clear, final reason; and the HTTP client for customers'
//! URLs (`providers::customer_agent`) connects only to the public addresses its own resolver
//! returns, so a host whose DNS answer changes in between gains nothing. Providers' own URLs
//! (Twilio, Infobip, SMTP) come from the operator and are not checked. Redirects are never
//! followed.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, ToSocketAddrs};

/// The parts of an http(s) URL this module looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub https: bool,
    /// Without brackets for an IPv6 literal.
    pub host: String,
    pub port: u16,
}

/// Reads the URL as the HTTP client will (`http::Uri`, which ureq parses requests with), so
/// the host checked is the host connected to. Refuses other schemes, user information
/// (`user@host`, which hides the real host from a reader), empty hosts, and hosts that are
/// neither a name nor an IP literal.
pub fn parse(url: &str) -> Option<Target> {
    let uri: ureq::http::Uri = url.parse().ok()?;
    let https = match uri.scheme_str()? {
        "https" => true,
        "http" => false,
        _ => return None,
    };
    let authority = uri.authority()?;
    if authority.as_str().contains('@') {
        return None;
    }
    let host = authority.host();
    // `http::Uri` reads `host:port` with a port that is not a number as no port at all.
    if authority.port().is_none() && authority.as_str() != host {
        return None;
    }
    let host = match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        Some(v6) => {
            v6.parse::<Ipv6Addr>().ok()?;
            v6.to_string()
        }
        None => host.to_string(),
    };
    let plausible = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':');
    if host.is_empty() || !host.chars().all(plausible) {
        return None;
    }
    let port = match authority.port() {
        Some(port) => port.as_str().parse().ok()?,
        None if https => 443,
        None => 80,
    };
    Some(Target { https, host, port })
}

/// Whether the host is this machine, by name or loopback literal.
pub fn is_loopback_name(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost") || host.parse::<IpAddr>().map(|ip| ip.is_loopback()).unwrap_or(false)
}

/// Whether an address is reachable on the public internet: not this machine, not a private,
/// shared (carrier-grade NAT), link-local (cloud metadata lives at 169.254.169.254),
/// multicast, documentation or unspecified address.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            // IPv4 inside IPv6: mapped (::ffff:a.b.c.d), compatible (::a.b.c.d), NAT64
            // (64:ff9b::a.b.c.d, which reaches private IPv4 networks behind the gateway) and
            // 6to4 (2002:AABB:CCDD::): the IPv4 address decides.
            let embedded = |high: u16, low: u16| Ipv4Addr::from(((high as u32) << 16) | low as u32);
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_v4(v4);
            }
            if s[..6] == [0; 6] && !v6.is_loopback() && !v6.is_unspecified() {
                return is_public_v4(embedded(s[6], s[7]));
            }
            if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
                return is_public_v4(embedded(s[6], s[7]));
            }
            if s[0] == 0x2002 {
                return is_public_v4(embedded(s[1], s[2]));
            }
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] == 0x64 && s[1] == 0xff9b) // local-use NAT64, 64:ff9b:1::/48
                || (s[0] & 0xfe00) == 0xfc00 // unique local, fc00::/7
                || (s[0] & 0xffc0) == 0xfe80 // link-local, fe80::/10
                || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated), fec0::/10
                || (s[0] == 0x2001 && s[1] == 0) // Teredo, 2001::/32
                || (s[0] == 0x2001 && s[1] == 0x0db8)) // documentation
        }
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || a >= 240 // reserved, 240.0.0.0/4 (some clouds route it inside a network)
        || (a == 100 && (64..128).contains(&b)) // shared address space, 100.64.0.0/10
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments, 192.0.0.0/24
        || (a == 198 && (18..20).contains(&b))) // benchmarking, 198.18.0.0/15
}

/// The one reason a customer is given for a webhook or push endpoint that was not reached,
/// whether the network failed or this server refused the address: telling the two apart
/// would tell a customer what the operator's internal names resolve to.
pub const UNREACHABLE: &str = "could not reach the receiver";

/// Whether this server refuses to call `url`: its host resolves to an address that is not
/// public. `allow_private` (`NOTIFY_PRIVATE_TARGETS=allow`) lifts the check, for development
/// and for receivers inside the operator's own network. The address goes to the log only.
pub fn refused(url: &str, allow_private: bool) -> bool {
    if allow_private {
        return false;
    }
    let Some(target) = parse(url) else { return true };
    let addresses = match (target.host.as_str(), target.port).to_socket_addrs() {
        Ok(addresses) => addresses.collect::<Vec<_>>(),
        // Not known (yet): the request fails on its own, as a network error that is retried.
        Err(_) => return false,
    };
    match addresses.iter().find(|a| !is_public(a.ip())) {
        Some(private) => {
            tracing::warn!(
                host = target.host.as_str(),
                address = %private.ip(),
                "refused a customer URL that resolves to a private address (NOTIFY_PRIVATE_TARGETS=allow lifts this)"
            );
            true
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_read_by_their_real_host() {
        let target = |url| parse(url).map(|t| (t.https, t.host, t.port));
        let read = |https, host: &str, port| Some((https, host.to_string(), port));
        assert_eq!(target("https://hooks.example.com/cc"), read(true, "hooks.example.com", 443));
        assert_eq!(target("http://127.0.0.1:9000/hook"), read(false, "127.0.0.1", 9000));
        assert_eq!(target("https://[::1]:8443"), read(true, "::1", 8443));
        assert_eq!(target("https://shop.example?x=1"), read(true, "shop.example", 443));
        for bad in [
            "ftp://x",
            "https://",
            "https:///path",
            "http://localhost@evil.example/",
            "https://user:pass@hooks.example.com/",
            "https://host:port/",
            "https://host:99999/",
            "https://[not-ipv6]/",
            "https://ho st/",
            "https://host%2f/",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn only_public_addresses_count_as_public() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "2001:db8::1",
            "192.0.0.192",
            "198.18.0.1",
            "240.0.0.1",
            "::127.0.0.1",
            "64:ff9b::10.0.0.1",
            "64:ff9b:1::1",
            "2002:a00:1::1",
            "2001:0:4136:e378::1",
            "fec0::1",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
        for public in [
            "93.184.216.34",
            "8.8.8.8",
            "100.128.0.1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
        ] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }

    #[test]
    fn private_targets_are_refused_unless_allowed() {
        assert!(refused("http://127.0.0.1:9/hook", false), "loopback is refused");
        assert!(refused("http://localhost:9/hook", false));
        assert!(refused("https://[fe80::1]/hook", false));
        assert!(!refused("http://127.0.0.1:9/hook", true));
        assert!(!refused("https://93.184.216.34/hook", false));
    }
}
