//! What stock's problems carry beyond the standard members: the lines that would go
//! negative, and the lines that cannot be served with where else they could be.

use serde::Serialize;
use utoipa::ToSchema;

/// A line of an adjustment batch that would leave `on_hand` below zero.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct NegativeLine {
    pub location: String,
    pub sku: String,
    pub on_hand: i64,
    pub delta: i64,
}

/// Another location that has enough of a short SKU.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Alternative {
    pub location: String,
    pub available: i64,
    pub distance_km: Option<f64>,
}

/// A line that could not be held, with the nearest other locations that could serve it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Shortfall {
    pub sku: String,
    pub requested: i64,
    pub available: i64,
    pub alternatives: Vec<Alternative>,
}
