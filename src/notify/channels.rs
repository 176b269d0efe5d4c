//! The delivery channels this server is configured for, and what a delivery attempt can
//! come to. A channel whose settings are absent is off: its messages are suppressed with the
//! reason, never dropped silently.

use chrono::TimeDelta;

use super::email::Email;
use super::fallback::FallbackPolicy;
use super::infobip::Infobip;
use super::outbox::ChannelName;
use super::push::{VapidKey, WebPush};
use super::twilio::Twilio;
use super::webhook::Webhook;
use crate::config::{ConfigError, NotifySettings, SmsProvider};

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

/// The SMS provider this server sends through.
pub enum Sms {
    Twilio(Twilio),
    Infobip(Infobip),
}

impl Sms {
    /// Sends one SMS; `message_id` is ours (Infobip reports by it; Twilio gives its own sid).
    pub fn send(&self, to: &str, text: &str, message_id: &str) -> Delivery {
        match self {
            Sms::Twilio(twilio) => twilio.send(to, text),
            Sms::Infobip(infobip) => infobip.send(to, text, message_id),
        }
    }
}

/// The configured channels, and how the sender uses them.
pub struct Channels {
    pub webhook: Option<Webhook>,
    pub sms: Option<Sms>,
    pub email: Option<Email>,
    pub push: Option<WebPush>,
    /// Which channel waits for which.
    pub fallback: FallbackPolicy,
    /// How long a claim on a notification lasts.
    pub lease: TimeDelta,
    /// Where a service worker posts push receipts: `PUBLIC_BASE_URL` + the callback path.
    pub push_receipt_url: Option<String>,
    /// Customers' URLs may resolve to private addresses (`NOTIFY_PRIVATE_TARGETS=allow`).
    pub private_targets: bool,
}

impl Channels {
    /// Builds the configured channels once, at start-up: the email addresses, the VAPID key
    /// and the fallback policy are parsed here, and a bad one stops the start-up naming its
    /// variable.
    pub fn build(settings: &NotifySettings) -> Result<Channels, ConfigError> {
        let email = match &settings.smtp {
            Some(smtp) => Some(Email::new(smtp.url.expose(), &smtp.from)?),
            None => None,
        };
        let push = match &settings.vapid {
            Some(vapid) => {
                let key = VapidKey::from_base64url(vapid.private_key.expose())
                    .map_err(|message| ConfigError::new("VAPID_PRIVATE_KEY", message))?;
                Some(WebPush::new(key, &vapid.subject, customer_agent(settings.private_targets)))
            }
            None => None,
        };
        let fallback = FallbackPolicy::parse(settings.fallback.as_deref().unwrap_or(super::fallback::DEFAULT_POLICY))
            .map_err(|message| ConfigError::new("NOTIFY_FALLBACK", message))?;
        let base = settings.public_base_url.as_deref();
        let sms = settings.sms.as_ref().map(|provider| match provider {
            SmsProvider::Twilio(twilio) => Sms::Twilio(Twilio::new(twilio.clone(), base)),
            SmsProvider::Infobip(infobip) => {
                let reports = base
                    .zip(infobip.report_token.as_ref())
                    .map(|(base, token)| super::infobip::report_url(base, token.expose()));
                Sms::Infobip(Infobip::new(
                    &infobip.base_url,
                    infobip.api_key.expose(),
                    infobip.from.as_deref(),
                    reports,
                ))
            }
        });
        Ok(Channels {
            push,
            fallback,
            lease: TimeDelta::seconds(settings.lease_seconds),
            private_targets: settings.private_targets,
            push_receipt_url: base.map(|base| format!("{base}/v1/notifications/callbacks/push")),
            email,
            webhook: settings
                .webhook_secret
                .as_ref()
                .map(|secret| Webhook::new(secret.expose(), customer_agent(settings.private_targets))),
            sms,
        })
    }

    /// Why a channel cannot send here, naming the settings that would turn it on.
    pub fn unavailable(&self, channel: ChannelName) -> Option<String> {
        let (configured, settings) = match channel {
            ChannelName::Webhook => (self.webhook.is_some(), "WEBHOOK_SECRET"),
            ChannelName::Sms => (self.sms.is_some(), "SMS_PROVIDER=twilio or infobip, with its credentials"),
            ChannelName::Email => (self.email.is_some(), "SMTP_URL and EMAIL_FROM"),
            ChannelName::Push => (self.push.is_some(), "VAPID_PRIVATE_KEY and VAPID_SUBJECT"),
        };
        let channel = channel.as_str();
        (!configured).then(|| format!("the {channel} channel is not configured on this server ({settings})"))
    }
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

    fn settings(pairs: &[(&str, &str)]) -> NotifySettings {
        let vars = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        crate::config::Settings::from_vars(&vars).unwrap().notify
    }

    #[test]
    fn building_the_channels_names_the_variable_that_is_wrong() {
        let short_key = settings(&[("VAPID_PRIVATE_KEY", "c2hvcnQ"), ("VAPID_SUBJECT", "mailto:a@b.c")]);
        assert_eq!(Channels::build(&short_key).err().unwrap().variable, "VAPID_PRIVATE_KEY");
        let fax = settings(&[("NOTIFY_FALLBACK", "ready_for_pickup=push>fax@5m")]);
        assert_eq!(Channels::build(&fax).err().unwrap().variable, "NOTIFY_FALLBACK");
        let sender = settings(&[("SMTP_URL", "smtp://127.0.0.1:2525"), ("EMAIL_FROM", "not an address")]);
        assert_eq!(Channels::build(&sender).err().unwrap().variable, "EMAIL_FROM");
        let key = "yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw";
        let good = settings(&[("VAPID_PRIVATE_KEY", key), ("VAPID_SUBJECT", "mailto:a@b.c")]);
        let channels = Channels::build(&good).unwrap();
        assert!(channels.push.is_some() && channels.email.is_none());
    }
}
