//! Levels: counts, adjustments and snapshots in, levels out.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::*;
use crate::db::schema::stock_levels;
use crate::error::ApiError;
use crate::http::json::Validate;
use crate::http::validate::{code_problem, Validator};

/// `PUT /v1/stock/{location}/{sku}`: an absolute count.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CountForm {
    pub on_hand: i64,
    pub safety_stock: Option<i64>,
    /// When the count was taken; a count older than the last applied one is ignored. A time
    /// ahead of the server's clock is taken as now.
    pub as_of: Option<DateTime<Utc>>,
    /// Compare-and-set: apply only if `on_hand` is currently this (else 409).
    pub expected_on_hand: Option<i64>,
    /// Defaults to `count`.
    pub reason: Option<Reason>,
    pub reference: Option<String>,
}

impl Validate for CountForm {
    fn validate(&self) -> Result<(), ApiError> {
        let mut v = Validator::new();
        v.range("on_hand", self.on_hand, 0, MAX_QUANTITY);
        if let Some(s) = self.safety_stock {
            v.range("safety_stock", s, 0, MAX_QUANTITY);
        }
        if let Some(e) = self.expected_on_hand {
            v.range("expected_on_hand", e, 0, MAX_QUANTITY);
        }
        check_reference(&mut v, "reference".into(), &self.reference);
        v.finish()
    }
}

/// One line of `POST /v1/stock/adjustments`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Adjustment {
    pub location: String,
    pub sku: String,
    /// Change to `on_hand`; may be negative, never zero.
    pub delta: i64,
    pub reason: Reason,
    pub reference: Option<String>,
}

/// `POST /v1/stock/adjustments`: applied all together or not at all.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdjustmentBatch {
    pub adjustments: Vec<Adjustment>,
}

impl Validate for AdjustmentBatch {
    fn validate(&self) -> Result<(), ApiError> {
        let mut v = Validator::new();
        if self.adjustments.is_empty() || self.adjustments.len() > MAX_ADJUSTMENTS {
            v.add("adjustments", format!("must hold 1 to {MAX_ADJUSTMENTS} adjustments"));
        }
        for (i, a) in self.adjustments.iter().enumerate() {
            v.code(format!("adjustments[{i}].location"), &a.location);
            v.code(format!("adjustments[{i}].sku"), &a.sku);
            if a.delta == 0 {
                v.add(format!("adjustments[{i}].delta"), "must not be zero");
            }
            v.range(format!("adjustments[{i}].delta"), a.delta, -MAX_QUANTITY, MAX_QUANTITY);
            v.check(
                a.reason != Reason::Count,
                format!("adjustments[{i}].reason"),
                "counts go to PUT /v1/stock/{location}/{sku}",
            );
            check_reference(&mut v, format!("adjustments[{i}].reference"), &a.reference);
        }
        v.finish()
    }
}

/// What happens to SKUs of the location that a snapshot does not mention.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MissingSkus {
    /// Leave them as they are (the default).
    #[default]
    Keep,
    /// Count them as zero: the snapshot is the whole location.
    Zero,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SnapshotItem {
    pub sku: String,
    pub on_hand: i64,
    pub safety_stock: Option<i64>,
}

/// `POST /v1/stock/{location}/snapshot`: absolute counts for many SKUs of one location,
/// applied in one transaction.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SnapshotForm {
    /// When the snapshot was taken; levels counted later than this are left alone. A time
    /// ahead of the server's clock is taken as now.
    pub as_of: Option<DateTime<Utc>>,
    #[serde(default)]
    pub missing: MissingSkus,
    pub reference: Option<String>,
    pub items: Vec<SnapshotItem>,
}

impl Validate for SnapshotForm {
    fn validate(&self) -> Result<(), ApiError> {
        let mut v = Validator::new();
        if self.items.len() > MAX_SNAPSHOT_ITEMS {
            v.add("items", format!("must hold at most {MAX_SNAPSHOT_ITEMS} items"));
        }
        check_reference(&mut v, "reference".into(), &self.reference);
        let mut seen = std::collections::HashSet::with_capacity(self.items.len());
        for (i, item) in self.items.iter().enumerate() {
            if let Some(message) = code_problem(&item.sku) {
                v.add(format!("items[{i}].sku"), message);
            } else if !seen.insert(item.sku.as_str()) {
                v.add(format!("items[{i}].sku"), "appears twice in the snapshot");
            }
            v.range(format!("items[{i}].on_hand"), item.on_hand, 0, MAX_QUANTITY);
            if let Some(s) = item.safety_stock {
                v.range(format!("items[{i}].safety_stock"), s, 0, MAX_QUANTITY);
            }
        }
        v.finish()
    }
}

/// What a snapshot changed.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct SnapshotSummary {
    pub location: String,
    pub as_of: DateTime<Utc>,
    /// Items in the request.
    pub received: usize,
    /// Levels that did not exist before.
    pub created: usize,
    /// Levels whose `on_hand` or `safety_stock` changed.
    pub changed: usize,
    pub unchanged: usize,
    /// Items ignored because the level was counted after `as_of`.
    pub stale: usize,
    /// Unmentioned levels set to zero (`missing: zero`).
    pub zeroed: usize,
    /// Ledger movements written.
    pub movements: usize,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = stock_levels)]
pub struct LevelRow {
    pub location: String,
    pub sku: String,
    pub on_hand: i64,
    pub reserved: i64,
    pub safety_stock: i64,
    pub last_counted_at: Option<NaiveDateTime>,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = stock_levels)]
pub struct NewLevel<'a> {
    pub location: &'a str,
    pub sku: &'a str,
    pub on_hand: i64,
    pub reserved: i64,
    pub safety_stock: i64,
    pub last_counted_at: Option<NaiveDateTime>,
    pub updated_at: NaiveDateTime,
}

/// A stock level with its derived `available`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StockLevel {
    pub location: String,
    pub sku: String,
    pub on_hand: i64,
    pub reserved: i64,
    pub safety_stock: i64,
    /// `max(0, on_hand - reserved - safety_stock)`.
    pub available: i64,
    /// How far `reserved` exceeds `on_hand` (0 when it does not): units promised to holds and
    /// orders that are not there. The newest of those commitments are flagged at risk.
    pub shortfall: i64,
    /// Last change; `null` when the level has never been written.
    pub updated_at: Option<DateTime<Utc>>,
}

impl From<LevelRow> for StockLevel {
    fn from(row: LevelRow) -> Self {
        StockLevel {
            available: available(row.on_hand, row.reserved, row.safety_stock),
            shortfall: crate::stock::risk::shortfall(row.on_hand, row.reserved),
            location: row.location,
            sku: row.sku,
            on_hand: row.on_hand,
            reserved: row.reserved,
            safety_stock: row.safety_stock,
            updated_at: Some(row.updated_at.and_utc()),
        }
    }
}

/// The answer to a count: the level, and whether the count was applied (`false` when its
/// `as_of` was older than the last applied count).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CountResult {
    #[serde(flatten)]
    pub level: StockLevel,
    pub applied: bool,
}

/// The answer to an adjustment batch: every touched level after the batch.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AdjustmentResult {
    pub levels: Vec<StockLevel>,
}
