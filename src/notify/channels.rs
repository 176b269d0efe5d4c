//! The delivery channels this server is configured for, and what a delivery attempt can
//! come to. A channel whose settings are absent is off: its messages are suppressed with the
//! reason, never dropped silently.

use super::email::Email;
use super::twilio::Twilio;
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
    pub sms: Option<Twilio>,
    pub email: Option<Email>,
}

impl Channels {
    pub fn from_settings(settings: &Settings) -> Channels {
        let email = settings
            .smtp
            .as_ref()
            .map(|(url, from)| Email::new(&url.0, from).expect("SMTP_URL and EMAIL_FROM are checked in Settings"));
        Channels {
            email,
            webhook: settings.webhook_secret.as_ref().map(|secret| Webhook::new(&secret.0)),
            sms: settings.twilio.clone().map(|twilio| Twilio::new(twilio, settings.public_base_url.as_deref())),
        }
    }

    /// Why a channel cannot send here, naming the settings that would turn it on.
    pub fn unavailable(&self, channel: &str) -> Option<String> {
        let settings = match channel {
            "webhook" if self.webhook.is_some() => return None,
            "webhook" => "WEBHOOK_SECRET",
            "sms" if self.sms.is_some() => return None,
            "sms" => "SMS_PROVIDER=twilio, TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, SMS_FROM",
            "email" if self.email.is_some() => return None,
            "email" => "SMTP_URL and EMAIL_FROM",
            "push" => "VAPID_PRIVATE_KEY and VAPID_SUBJECT",
            other => return Some(format!("unknown channel {other}")),
        };
        Some(format!("the {channel} channel is not configured on this server ({settings})"))
    }
}
