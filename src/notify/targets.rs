//! Where customer-supplied URLs may point. A webhook URL and a push endpoint come from the
//! customer, so without a check any customer could make this server POST to the machines
//! around it (a metadata service, an admin port): server-side request forgery. Two layers:
//! the URL's form is checked when it is stored (`parse`), and the addresses its host resolves
//! to are checked just before each request (`refusal`). Providers' own URLs (Twilio, Infobip,
//! SMTP) come from the operator and are not checked. Redirects are never followed
//! (`channels::http_agent`).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, ToSocketAddrs};

/// The parts of an http(s) URL this module looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target<'a> {
    pub https: bool,
    /// Without brackets for an IPv6 literal.
    pub host: &'a str,
    pub port: u16,
}

/// Reads `scheme://host[:port][/path]`. Refuses user information (`user@host`, which hides
/// the real host from a reader), empty hosts and ports that are not numbers.
pub fn parse(url: &str) -> Option<Target<'_>> {
    let (https, rest) = match url.split_once("://")? {
        ("https", rest) => (true, rest),
        ("http", rest) => (false, rest),
        _ => return None,
    };
    let authority = rest.split(['/', '?', '#']).next()?;
    if authority.contains('@') || authority.is_empty() {
        return None;
    }
    let default_port = if https { 443 } else { 80 };
    let (host, port) = if let Some(bracketed) = authority.strip_prefix('[') {
        let (host, after) = bracketed.split_once(']')?;
        host.parse::<Ipv6Addr>().ok()?;
        (host, if after.is_empty() { None } else { Some(after.strip_prefix(':')?) })
    } else {
        match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    let port = match port {
        None => default_port,
        Some(port) => port.parse().ok()?,
    };
    let plausible = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':');
    if host.is_empty() || !host.chars().all(plausible) {
        return None;
    }
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
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public_v4(v4),
            None => {
                let first = v6.segments()[0];
                !(v6.is_loopback()
                    || v6.is_unspecified()
                    || v6.is_multicast()
                    || (first & 0xfe00) == 0xfc00 // unique local, fc00::/7
                    || (first & 0xffc0) == 0xfe80 // link-local, fe80::/10
                    || first == 0x2001 && v6.segments()[1] == 0x0db8) // documentation
            }
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b))) // shared address space, 100.64.0.0/10
}

/// Why this server will not call `url`, if it will not: its host resolves to an address that
/// is not public. `allow_private` (`NOTIFY_PRIVATE_TARGETS=allow`) lifts the check, for
/// development and for receivers inside the operator's own network.
pub fn refusal(url: &str, allow_private: bool) -> Option<String> {
    if allow_private {
        return None;
    }
    let Some(target) = parse(url) else { return Some(format!("{url} is not an http(s) URL")) };
    let addresses = match (target.host, target.port).to_socket_addrs() {
        Ok(addresses) => addresses.collect::<Vec<_>>(),
        // Not known (yet): the request fails on its own, as a network error that is retried.
        Err(_) => return None,
    };
    addresses.iter().find(|a| !is_public(a.ip())).map(|private| {
        format!(
            "{} resolves to {}, which is not a public address; this server calls only public \
             addresses for customers (NOTIFY_PRIVATE_TARGETS=allow lifts this)",
            target.host,
            private.ip()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_read_by_their_real_host() {
        let target = |url| parse(url).map(|t| (t.https, t.host, t.port));
        assert_eq!(target("https://hooks.example.com/cc"), Some((true, "hooks.example.com", 443)));
        assert_eq!(target("http://127.0.0.1:9000/hook"), Some((false, "127.0.0.1", 9000)));
        assert_eq!(target("https://[::1]:8443"), Some((true, "::1", 8443)));
        assert_eq!(target("https://shop.example?x=1"), Some((true, "shop.example", 443)));
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
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
        for public in ["93.184.216.34", "8.8.8.8", "100.128.0.1", "2606:4700::1111", "::ffff:8.8.8.8"] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }

    #[test]
    fn private_targets_are_refused_unless_allowed() {
        let refused = refusal("http://127.0.0.1:9/hook", false).expect("loopback is refused");
        assert!(refused.contains("127.0.0.1") && refused.contains("NOTIFY_PRIVATE_TARGETS"), "{refused}");
        assert!(refusal("http://localhost:9/hook", false).is_some());
        assert!(refusal("https://[fe80::1]/hook", false).is_some());
        assert_eq!(refusal("http://127.0.0.1:9/hook", true), None);
        assert_eq!(refusal("https://93.184.216.34/hook", false), None);
    }
}
