//! Sales channels: the locations they sell from and the buffer they keep back.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::*;
use crate::error::ApiError;
use crate::http::json::Validate;
use crate::http::validate::{code_problem, Validator};

/// `PUT /v1/channels/{code}`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChannelForm {
    pub name: String,
    /// Units held back from the channel's sum, against overselling on a slow marketplace.
    pub buffer: i64,
    /// Locations whose stock the channel sells; empty: every location with `fulfils_online`.
    pub locations: Vec<String>,
    /// Where an order imported through the channel is fulfilled when it names no location.
    /// One of `locations` when those are listed (409 otherwise).
    #[serde(default)]
    pub default_location: Option<String>,
    /// Where the channel's changes are pushed, in signed batches (docs/sync.md): an
    /// `https://` URL (`http://` only to this machine). Left out: no pushes.
    #[serde(default)]
    pub webhook_url: Option<String>,
    /// The secret the batches are signed with (32 to 256 visible characters): required with
    /// `webhook_url`, and only with it. Never shown.
    #[serde(default)]
    pub webhook_secret: Option<String>,
}

/// Most locations one channel may name.
pub const MAX_CHANNEL_LOCATIONS: usize = 1_000;

impl Validate for ChannelForm {
    fn validate(&self) -> Result<(), ApiError> {
        let mut v = Validator::new();
        v.text("name", &self.name, 200);
        v.range("buffer", self.buffer, 0, MAX_QUANTITY);
        if self.locations.len() > MAX_CHANNEL_LOCATIONS {
            v.add("locations", format!("must hold at most {MAX_CHANNEL_LOCATIONS} locations"));
        }
        let mut seen = std::collections::HashSet::new();
        for (i, code) in self.locations.iter().enumerate() {
            if let Some(message) = code_problem(code) {
                v.add(format!("locations[{i}]"), message);
            } else if !seen.insert(code.as_str()) {
                v.add(format!("locations[{i}]"), "appears twice");
            }
        }
        if let Some(url) = &self.webhook_url {
            v.check(
                crate::http::formats::is_customer_url(url),
                "webhook_url",
                "must be an https:// URL (http:// only to localhost)",
            );
        }
        if let Some(secret) = &self.webhook_secret {
            let fits = (32..=256).contains(&secret.len()) && secret.bytes().all(|b| b.is_ascii_graphic());
            v.check(fits, "webhook_secret", "must be 32 to 256 visible ASCII characters");
            v.check(self.webhook_url.is_some(), "webhook_secret", "is only taken with a webhook_url");
        }
        if self.webhook_url.is_some() && self.webhook_secret.is_none() {
            v.add("webhook_secret", "is required with a webhook_url");
        }
        if let Some(default) = &self.default_location {
            if let Some(message) = code_problem(default) {
                v.add("default_location", message);
            }
        }
        v.finish()
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Channel {
    pub code: String,
    pub name: String,
    pub buffer: i64,
    pub locations: Vec<String>,
    /// Where imported orders naming no location are fulfilled.
    pub default_location: Option<String>,
    /// Where the channel's changes are pushed (its state: `GET /v1/channels/{code}/webhook`).
    pub webhook_url: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ChannelAvailability {
    pub channel: String,
    pub sku: String,
    /// `max(0, sum of the channel's locations' available - buffer)`.
    pub available: i64,
}
