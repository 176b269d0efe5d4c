//! Back-in-stock alerts as the API shows them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::http::json::Validate;
use crate::http::validate::{code_problem, Validator};

crate::db::stored::stored_enum! {
    /// Where an alert stands.
    pub enum AlertStatus as "stock alert status" {
        /// Waiting for the SKU to be back.
        Active,
        /// Told once; done.
        Notified,
        /// Withdrawn by the shopper, or by unsubscribing.
        Cancelled,
    }
}

/// Most stores one alert watches.
pub const MAX_LOCATIONS: usize = 20;
/// Most active alerts one customer may have.
pub const MAX_ACTIVE_PER_CUSTOMER: i64 = 50;

/// `POST /v1/customers/{id}/stock-alerts`: tell me when `sku` is back, at these stores,
/// online, or both.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AlertForm {
    pub sku: String,
    /// Store codes to watch (up to 20).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locations: Option<Vec<String>>,
    /// Watch online availability too (the sum over locations that fulfil online orders).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub online: Option<bool>,
    /// Tell me when at least this many are available (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantity: Option<i64>,
    /// `true` gives marketing consent now (recorded with when and by whom); `false` or left
    /// out gives none now. Alerts are marketing: without consent, given now or before, the
    /// answer is 409 `consent-required`. (Consent is withdrawn by unsubscribing.)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub marketing_consent: Option<bool>,
}

impl Validate for AlertForm {
    fn validate(&self) -> Result<(), ApiError> {
        let mut v = Validator::new();
        v.code("sku", &self.sku);
        let locations = self.locations.as_deref().unwrap_or_default();
        if locations.len() > MAX_LOCATIONS {
            v.add("locations", format!("at most {MAX_LOCATIONS} stores"));
        }
        for (i, code) in locations.iter().enumerate() {
            if let Some(problem) = code_problem(code) {
                v.add(format!("locations[{i}]"), problem);
            } else if locations[..i].contains(code) {
                v.add(format!("locations[{i}]"), "appears twice");
            }
        }
        if locations.is_empty() && self.online != Some(true) {
            v.add("locations", "name at least one store, or set online");
        }
        if let Some(quantity) = self.quantity {
            v.range("quantity", quantity, 1, crate::reservations::model::MAX_LINE_QUANTITY);
        }
        v.finish()
    }
}

/// One alert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct StockAlert {
    pub id: String,
    pub customer_id: String,
    pub sku: String,
    pub locations: Vec<String>,
    pub online: bool,
    pub quantity: i64,
    pub status: AlertStatus,
    /// Where it was found back: a store's code, or `online`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub found_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notified_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// A customer's alerts, newest first.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AlertList {
    pub items: Vec<StockAlert>,
}

/// Where a found alert points: `online` stands for online availability.
pub const ONLINE: &str = "online";
