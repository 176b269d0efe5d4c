//! What every provider shares: the HTTP clients their calls go through, what one attempt
//! comes to, and what a provider's HTTP status means for the message.

/// The HTTP client every provider call uses: a 10-second limit on the whole exchange, error
/// statuses returned as answers, since each channel decides what a status means, and no
/// redirects followed (a customer's receiver could otherwise send us on to a private address).
pub fn http_agent() -> ureq::Agent {
    agent_config().build().new_agent()
}

fn agent_config() -> ureq::config::ConfigBuilder<ureq::typestate::AgentScope> {
    ureq::Agent::config_builder()
        .timeout_global(Some(std::time::Duration::from_secs(10)))
        .http_status_as_error(false)
        .max_redirects(0)
}

/// The HTTP client for customers' own URLs (webhooks, push endpoints): always direct (an
/// environment proxy would resolve the host where we cannot see it), and, unless
/// `NOTIFY_PRIVATE_TARGETS=allow`, connecting only to public addresses. The check sits in the
/// resolver, so the addresses checked are the addresses connected to: a host that answers
/// with a public address first and a private one a moment later gains nothing.
pub fn customer_agent(private_targets: bool) -> ureq::Agent {
    let config = agent_config().proxy(None).build();
    if private_targets {
        return config.new_agent();
    }
    ureq::Agent::with_parts(config, ureq::unversioned::transport::DefaultConnector::new(), PublicOnly::default())
}

/// Resolves as usual, then keeps only public addresses.
#[derive(Debug, Default)]
struct PublicOnly(ureq::unversioned::resolver::DefaultResolver);

impl ureq::unversioned::resolver::Resolver for PublicOnly {
    fn resolve(
        &self,
        uri: &ureq::http::Uri,
        config: &ureq::config::Config,
        timeout: ureq::unversioned::transport::NextTimeout,
    ) -> Result<ureq::unversioned::resolver::ResolvedSocketAddrs, ureq::Error> {
        let resolved = self.0.resolve(uri, config, timeout)?;
        let mut public = self.empty();
        for address in resolved.iter().filter(|a| super::targets::is_public(a.ip())) {
            public.push(*address);
        }
        if public.is_empty() {
            return Err(ureq::Error::HostNotFound);
        }
        Ok(public)
    }
}

/// How one delivery attempt went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    Sent {
        provider_ref: Option<String>,
    },
    /// Worth trying again later: a timeout, 429, 5xx, the network.
    Transient(String),
    /// The provider's final word: an invalid number, an unknown mailbox, a 4xx.
    Permanent(String),
}

/// What a provider's HTTP answer means for the message, the same for every provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answered {
    /// 2xx: the provider took it.
    Accepted,
    /// Worth trying again later: 408 (the provider timed out), 425, 429 (slow down) and 5xx.
    Retry,
    /// The provider's final word on this message: any other status.
    Refused,
}

pub fn answered(status: u16) -> Answered {
    match status {
        200..=299 => Answered::Accepted,
        408 | 425 | 429 | 500..=599 => Answered::Retry,
        _ => Answered::Refused,
    }
}

/// The delivery an HTTP answer from `who` comes to, in the same words for every provider;
/// `provider_ref` reads the provider's id for the message when it took it.
pub fn delivery(status: u16, who: &str, provider_ref: impl FnOnce() -> Option<String>) -> Delivery {
    match answered(status) {
        Answered::Accepted => Delivery::Sent { provider_ref: provider_ref() },
        Answered::Retry => Delivery::Transient(format!("{who} answered {status}")),
        Answered::Refused => Delivery::Permanent(format!("{who} refused with {status}")),
    }
}

/// A customer's URL (a webhook, a push endpoint) that could not be reached: what the network
/// said stays in the log, and the customer is given one reason for every such failure,
/// refused or not, so it cannot probe what the operator's internal names resolve to.
pub fn unreachable(error: &ureq::Error, who: &str) -> Delivery {
    tracing::warn!(%error, "{who} could not be reached");
    Delivery::Transient(super::targets::UNREACHABLE.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    /// A one-request HTTP server on 127.0.0.1; the count of connections it took.
    fn local_server() -> (String, std::sync::mpsc::Receiver<()>) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let (seen, connections) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let mut stream = stream;
                let _ = seen.send(());
                let mut buffer = [0u8; 1024];
                let _ = stream.read(&mut buffer);
                let _ = stream.write_all(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n");
            }
        });
        (url, connections)
    }

    #[test]
    fn the_customer_agent_connects_only_to_public_addresses() {
        let (url, connections) = local_server();
        let refused = customer_agent(false).post(&url).send("{}");
        assert!(matches!(refused, Err(ureq::Error::HostNotFound)), "{refused:?}");
        assert!(connections.try_recv().is_err(), "no connection was made");
        // The same agent, allowed private targets, reaches it: the refusal was the resolver's.
        let answer = customer_agent(true).post(&url).send("{}").unwrap();
        assert_eq!(answer.status().as_u16(), 204);
        assert!(connections.recv_timeout(std::time::Duration::from_secs(5)).is_ok());
    }

    #[test]
    fn timeouts_throttling_and_server_errors_are_retried_the_rest_refused() {
        for status in [200, 201, 202, 204] {
            assert_eq!(answered(status), Answered::Accepted, "{status}");
        }
        for status in [408, 425, 429, 500, 502, 503, 504] {
            assert_eq!(answered(status), Answered::Retry, "{status}");
        }
        for status in [301, 400, 401, 403, 404, 410, 413, 422] {
            assert_eq!(answered(status), Answered::Refused, "{status}");
        }
    }
}
