//! The delivery channels this server is configured for, and what a delivery attempt can
//! come to. A channel whose settings are absent is off: its messages are suppressed with the
//! reason, never dropped silently.

use super::webhook::Webhook;
use crate::config::Settings;

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

#[derive(Default)]
pub struct Channels {
    pub webhook: Option<Webhook>,
}

impl Channels {
    pub fn from_settings(settings: &Settings) -> Channels {
        Channels { webhook: settings.webhook_secret.as_ref().map(|secret| Webhook::new(&secret.0)) }
    }

    /// Why a channel cannot send here, naming the settings that would turn it on.
    pub fn unavailable(&self, channel: &str) -> Option<String> {
        let settings = match channel {
            "webhook" if self.webhook.is_some() => return None,
            "webhook" => "WEBHOOK_SECRET",
            "email" => "SMTP_URL and EMAIL_FROM",
            "sms" => "SMS_PROVIDER and its credentials",
            "push" => "VAPID_PRIVATE_KEY and VAPID_SUBJECT",
            other => return Some(format!("unknown channel {other}")),
        };
        Some(format!("the {channel} channel is not configured on this server ({settings})"))
    }
}
