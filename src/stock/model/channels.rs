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
        v.finish()
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Channel {
    pub code: String,
    pub name: String,
    pub buffer: i64,
    pub locations: Vec<String>,
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
