//! Customers: their contacts, language, time zone, channel choices and consents.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::db::schema::customers;
use crate::error::ApiError;
use crate::http::formats::{base64url_len, is_customer_url, is_email, is_language_tag, is_phone};
use crate::http::json::Validate;
use crate::http::validate::Validator;

/// Which channels a customer wants to hear from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Channels {
    pub email: bool,
    pub sms: bool,
    pub push: bool,
    pub webhook: bool,
    /// WhatsApp messages to `phone` (pre-approved templates); off when left out.
    #[serde(default)]
    pub whatsapp: bool,
    /// Viber messages to `phone`; off when left out.
    #[serde(default)]
    pub viber: bool,
}

impl Channels {
    /// Each channel and whether it is chosen, in a fixed order.
    pub fn named(&self) -> [(ChannelName, bool); 6] {
        use ChannelName::*;
        [
            (Email, self.email),
            (Sms, self.sms),
            (Push, self.push),
            (Webhook, self.webhook),
            (Whatsapp, self.whatsapp),
            (Viber, self.viber),
        ]
    }
}

crate::db::stored::stored_enum! {
    /// The channels a notification goes out on.
    pub enum ChannelName as "notification channel" {
        Email,
        Sms,
        Push,
        Webhook,
        Whatsapp,
        Viber,
    }
}

/// `PUT /v1/customers/{id}`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerForm {
    pub name: Option<String>,
    /// An ASCII address the mail transport accepts, at most 64 characters before the `@`.
    pub email: Option<String>,
    /// E.164, e.g. `+48601234567`.
    pub phone: Option<String>,
    /// BCP 47, e.g. `pl-PL`; messages fall back to the store's locale, then English.
    pub locale: Option<String>,
    /// IANA time zone for times in messages, e.g. `Europe/Warsaw`.
    pub timezone: Option<String>,
    pub channels: Channels,
    /// Where `webhook` notifications are POSTed: `https://`, or `http://` on localhost.
    pub webhook_url: Option<String>,
    /// Whether opening our emails may be recorded (a one-pixel image in the HTML part, which
    /// the `email>sms` fallback reads). Left out: as before, and `true` for a new customer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_tracking: Option<bool>,
}

impl Validate for CustomerForm {
    fn validate(&self) -> Result<(), ApiError> {
        let mut v = Validator::new();
        if let Some(name) = &self.name {
            v.text("name", name, 200);
        }
        if let Some(email) = &self.email {
            v.check(
                is_email(email),
                "email",
                "must be an ASCII email address, at most 64 characters before the @ and a domain of two labels or more",
            );
        }
        if let Some(phone) = &self.phone {
            v.check(is_phone(phone), "phone", "must be E.164, e.g. +48601234567");
        }
        if let Some(locale) = &self.locale {
            v.check(is_language_tag(locale), "locale", "must be a BCP 47 language tag such as pl-PL");
        }
        if let Some(timezone) = &self.timezone {
            v.check(
                timezone.parse::<chrono_tz::Tz>().is_ok(),
                "timezone",
                "must be an IANA time zone such as Europe/Warsaw",
            );
        }
        if let Some(url) = &self.webhook_url {
            v.check(is_customer_url(url), "webhook_url", "must be an https:// URL (http:// only to localhost)");
        }
        v.check(!self.channels.email || self.email.is_some(), "channels.email", "needs an email address");
        v.check(!self.channels.sms || self.phone.is_some(), "channels.sms", "needs a phone number");
        v.check(!self.channels.whatsapp || self.phone.is_some(), "channels.whatsapp", "needs a phone number");
        v.check(!self.channels.viber || self.phone.is_some(), "channels.viber", "needs a phone number");
        v.check(!self.channels.webhook || self.webhook_url.is_some(), "channels.webhook", "needs a webhook_url");
        v.finish()
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = customers)]
pub struct CustomerRow {
    pub id: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub locale: Option<String>,
    pub timezone: Option<String>,
    pub channel_email: bool,
    pub channel_sms: bool,
    pub channel_push: bool,
    pub channel_webhook: bool,
    pub webhook_url: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub email_tracking: bool,
    pub channel_whatsapp: bool,
    pub channel_viber: bool,
}

impl CustomerRow {
    pub fn channels(&self) -> Channels {
        Channels {
            email: self.channel_email,
            sms: self.channel_sms,
            push: self.channel_push,
            webhook: self.channel_webhook,
            whatsapp: self.channel_whatsapp,
            viber: self.channel_viber,
        }
    }
}

/// A change of one channel choice, kept for proof of consent.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Consent {
    pub channel: String,
    pub granted: bool,
    pub at: DateTime<Utc>,
    /// Who recorded it, and through what: `api:customer:ann`.
    pub source: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Customer {
    pub id: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub locale: Option<String>,
    pub timezone: Option<String>,
    pub channels: Channels,
    pub webhook_url: Option<String>,
    /// Whether email opens are recorded for this customer.
    pub email_tracking: bool,
    /// Marketing consent (back-in-stock alerts), kept apart from the channel choices: given
    /// with an alert, withdrawn by one-click unsubscribe.
    pub marketing_consent: bool,
    /// Every grant and withdrawal, oldest first.
    pub consents: Vec<Consent>,
    pub push_subscriptions: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The keys of a Web Push subscription, as the browser gives them (base64url).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PushKeys {
    /// The subscription's P-256 public key: 65 bytes, base64url.
    pub p256dh: String,
    /// The authentication secret: 16 bytes, base64url.
    pub auth: String,
}

/// `POST /v1/customers/{id}/push-subscriptions`: a browser's `PushSubscription`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PushSubscriptionForm {
    pub endpoint: String,
    pub keys: PushKeys,
}

impl Validate for PushSubscriptionForm {
    fn validate(&self) -> Result<(), ApiError> {
        let mut v = Validator::new();
        v.check(is_customer_url(&self.endpoint), "endpoint", "must be the push service's https:// URL");
        v.check(base64url_len(&self.keys.p256dh) == Some(65), "keys.p256dh", "must be a 65-byte P-256 key, base64url");
        v.check(base64url_len(&self.keys.auth) == Some(16), "keys.auth", "must be 16 bytes, base64url");
        v.finish()
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PushSubscription {
    pub id: String,
    pub endpoint: String,
    pub created_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contacts_are_checked() {
        assert!(is_phone("+48601234567"));
        assert!(!is_phone("0048601234567"));
        assert!(!is_phone("+0123456789"));
        assert!(!is_phone("+48 601 234 567"));
        assert!(is_email("ann@example.com"));
        assert!(!is_email("ann@localhost"));
        assert!(!is_email("ann example.com"));
        assert!(is_customer_url("https://hooks.example.com/cc"));
        assert!(is_customer_url("http://127.0.0.1:9000/hook"));
        assert!(!is_customer_url("http://hooks.example.com/cc"));
        assert!(!is_customer_url("ftp://x"));
        assert!(!is_customer_url("http://localhost.evil.example/cc"));
        assert!(!is_customer_url("http://127.0.0.1.nip.io/cc"));
        assert!(!is_customer_url("http://localhost@evil.example/cc"));
        assert!(!is_customer_url("https://user:pass@hooks.example.com/cc"));
        assert!(is_customer_url("http://localhost:8080/cc"));
        assert!(is_customer_url("http://[::1]:8080/cc"));
    }
}
