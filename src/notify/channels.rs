//! The delivery channels this server is configured for, built once at start-up. A channel
//! whose settings are absent is off: its messages are suppressed with the reason, never
//! dropped silently.

use chrono::TimeDelta;

use super::email::Email;
use super::fallback::FallbackPolicy;
use super::infobip::Infobip;
use super::outbox::ChannelName;
use super::providers::{customer_agent, Delivery};
use super::push::{VapidKey, WebPush};
use super::twilio::Twilio;
use super::webhook::Webhook;
use crate::config::{ConfigError, NotifySettings, SmsProvider};

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
    pub whatsapp: Option<super::whatsapp::WhatsApp>,
    pub viber: Option<super::viber::Viber>,
    pub sms: Option<Sms>,
    pub email: Option<Email>,
    pub push: Option<WebPush>,
    /// Which channel waits for which.
    pub fallback: FallbackPolicy,
    /// How long a claim on a notification lasts.
    pub lease: TimeDelta,
    /// Where a service worker posts push receipts: `PUBLIC_BASE_URL` + the callback path.
    pub push_receipt_url: Option<String>,
    /// This deployment's public address (`PUBLIC_BASE_URL`): the pickup pass links in ready
    /// messages start with it, and there are none without it.
    pub public_base_url: Option<String>,
    /// Whether emails carry the open pixel (needs `public_base_url`).
    pub email_open_tracking: bool,
    /// Customers' URLs may resolve to private addresses (`NOTIFY_PRIVATE_TARGETS=allow`).
    pub private_targets: bool,
    /// The shop's page to hold what is back in stock (`STOCK_ALERT_URL`).
    pub stock_alert_url: Option<String>,
    /// How long before a hold lapses its reminder is due (`HOLD_REMINDER_BEFORE_SECONDS`).
    pub hold_reminder_before: TimeDelta,
    /// What a mail provider's event webhook must carry (`EMAIL_EVENTS_TOKEN`).
    pub email_events_token: Option<String>,
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
            SmsProvider::Infobip(infobip) => Sms::Infobip(Infobip::new(infobip, base)),
        });
        let templates = super::whatsapp::templates_from(settings.whatsapp_templates.as_deref())?;
        let whatsapp = settings.whatsapp.as_ref().map(|provider| match provider {
            crate::config::WhatsAppProvider::Twilio(twilio) => {
                super::whatsapp::WhatsApp::twilio(twilio.clone(), base, templates.clone())
            }
            crate::config::WhatsAppProvider::Infobip { settings, from } => {
                super::whatsapp::WhatsApp::infobip(settings, from.clone(), base, templates.clone())
            }
        });
        Ok(Channels {
            viber: settings.viber.as_ref().map(|infobip| super::viber::Viber::new(infobip, base)),
            whatsapp,
            push,
            fallback,
            lease: TimeDelta::seconds(settings.lease_seconds),
            private_targets: settings.private_targets,
            stock_alert_url: settings.stock_alert_url.clone(),
            hold_reminder_before: TimeDelta::seconds(settings.hold_reminder_before_seconds),
            email_events_token: settings.email_events_token.as_ref().map(|t| t.expose().to_string()),
            push_receipt_url: base.map(|base| format!("{base}/v1/notifications/callbacks/push")),
            public_base_url: base.map(String::from),
            email_open_tracking: settings.email_open_tracking && base.is_some(),
            email,
            webhook: settings
                .webhook_secret
                .as_ref()
                .map(|secret| Webhook::new(secret.expose(), customer_agent(settings.private_targets))),
            sms,
        })
    }

    /// Checks that the channels can be built from `settings`, naming the variable when not.
    pub fn check(settings: &NotifySettings) -> Result<(), ConfigError> {
        Channels::build(settings).map(drop)
    }

    /// Why a channel cannot send here, naming the settings that would turn it on.
    pub fn unavailable(&self, channel: ChannelName) -> Option<String> {
        let (configured, settings) = match channel {
            ChannelName::Webhook => (self.webhook.is_some(), "WEBHOOK_SECRET"),
            ChannelName::Sms => (self.sms.is_some(), "SMS_PROVIDER=twilio or infobip, with its credentials"),
            ChannelName::Email => (self.email.is_some(), "SMTP_URL and EMAIL_FROM"),
            ChannelName::Push => (self.push.is_some(), "VAPID_PRIVATE_KEY and VAPID_SUBJECT"),
            ChannelName::Viber => (self.viber.is_some(), "VIBER_PROVIDER=infobip, VIBER_SENDER"),
            ChannelName::Whatsapp => {
                (self.whatsapp.is_some(), "WHATSAPP_PROVIDER=twilio or infobip, WHATSAPP_FROM, WHATSAPP_TEMPLATES")
            }
        };
        let channel = channel.as_str();
        (!configured).then(|| format!("the {channel} channel is not configured on this server ({settings})"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
