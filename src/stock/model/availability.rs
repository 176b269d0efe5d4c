//! Availability: per SKU across locations, and a cart checked against one store.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::*;
use crate::catalog::model::PickupOptions;
use crate::error::ApiError;
use crate::http::json::Validate;
use crate::http::validate::{code_problem, Validator};

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OnlineAvailability {
    /// Sum of `available` over active locations that fulfil online orders.
    pub available: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LocationAvailability {
    pub location: String,
    pub name: String,
    pub available: i64,
    pub pickup: PickupOptions,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub distance_km: Option<f64>,
    /// Ship-to-store: with none on the shelf, when a pickup order placed now could have it
    /// here, brought by the fastest lane whose source has some. Absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub available_from: Option<chrono::DateTime<chrono::Utc>>,
}

/// `GET /v1/availability/{sku}`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Availability {
    pub sku: String,
    pub online: OnlineAvailability,
    /// Active stores that stock the SKU: nearest first with `near=`, else by code.
    pub locations: Vec<LocationAvailability>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckLine {
    pub sku: String,
    pub quantity: i64,
}

/// `POST /v1/availability/check`: can this store serve this cart?
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckForm {
    pub location: String,
    pub lines: Vec<CheckLine>,
}

impl Validate for CheckForm {
    fn validate(&self) -> Result<(), ApiError> {
        let mut v = Validator::new();
        v.code("location", &self.location);
        if self.lines.is_empty() || self.lines.len() > MAX_CHECK_LINES {
            v.add("lines", format!("must hold 1 to {MAX_CHECK_LINES} lines"));
        }
        let mut seen = std::collections::HashSet::new();
        for (i, line) in self.lines.iter().enumerate() {
            if let Some(message) = code_problem(&line.sku) {
                v.add(format!("lines[{i}].sku"), message);
            } else if !seen.insert(line.sku.as_str()) {
                v.add(format!("lines[{i}].sku"), "appears twice; give one line per SKU");
            }
            v.range(format!("lines[{i}].quantity"), line.quantity, 1, MAX_QUANTITY);
        }
        v.finish()
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CheckedLine {
    pub sku: String,
    pub quantity: i64,
    pub available: i64,
    pub ok: bool,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CheckResult {
    pub location: String,
    /// Whether every line can be served.
    pub ok: bool,
    pub lines: Vec<CheckedLine>,
}
