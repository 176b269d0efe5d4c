//! Slots: the rules a store sets, the slots they make, and what holds and orders show.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::catalog::model::WEEKDAYS;
use crate::error::ApiError;
use crate::http::formats::clock_minutes;
use crate::http::json::Validate;
use crate::http::validate::Validator;

crate::db::stored::stored_enum! {
    /// What a slot is for: collecting at the counter or at the kerb.
    pub enum SlotKind as "slot fulfilment" {
        Pickup,
        Curbside,
    }
}

/// Most rules one store may have.
pub const MAX_RULES: usize = 50;
/// Most bookings one slot may take.
pub const MAX_CAPACITY: i64 = 1_000;

/// One rule: on these weekdays, between `from` and `to` (the store's local time), a slot of
/// `minutes` starts every `minutes`, each taking up to `capacity` bookings. "Six curbside
/// pickups per half hour, 10:00 to 18:00 on weekdays" is one rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SlotRule {
    pub fulfilment: SlotKind,
    /// Weekdays: `mon` … `sun`.
    pub days: Vec<String>,
    /// `HH:MM`, the first slot's start.
    #[schema(pattern = r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]
    pub from: String,
    /// `HH:MM` (or `24:00`); the last slot ends by then.
    pub to: String,
    /// A slot's length, 10 to 240 minutes.
    pub minutes: i64,
    /// Bookings one slot takes, 1 to 1000.
    pub capacity: i64,
}

/// `PUT /v1/locations/{code}/slots`: every rule of the store; an empty list offers no slots.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SlotRules {
    pub rules: Vec<SlotRule>,
}

impl Validate for SlotRules {
    fn validate(&self) -> Result<(), ApiError> {
        let mut v = Validator::new();
        if self.rules.len() > MAX_RULES {
            v.add("rules", format!("at most {MAX_RULES} rules"));
        }
        // (kind, day) -> the minutes its rules cover, to refuse overlaps.
        let mut taken: Vec<(SlotKind, &str, i64, i64, usize)> = Vec::new();
        for (i, rule) in self.rules.iter().enumerate() {
            let field = |name: &str| format!("rules[{i}].{name}");
            if rule.days.is_empty() {
                v.add(field("days"), "name at least one day");
            }
            for (d, day) in rule.days.iter().enumerate() {
                if !WEEKDAYS.contains(&day.as_str()) {
                    v.add(format!("rules[{i}].days[{d}]"), "days are mon, tue, wed, thu, fri, sat, sun");
                } else if rule.days[..d].contains(day) {
                    v.add(format!("rules[{i}].days[{d}]"), "appears twice");
                }
            }
            v.range(field("minutes"), rule.minutes, 10, 240);
            v.range(field("capacity"), rule.capacity, 1, MAX_CAPACITY);
            let from = clock_minutes(&rule.from).map(i64::from).filter(|m| *m < 24 * 60);
            let to = clock_minutes(&rule.to).map(i64::from);
            if from.is_none() {
                v.add(field("from"), "must be HH:MM");
            }
            if to.is_none() {
                v.add(field("to"), "must be HH:MM (or 24:00)");
            }
            let (Some(from), Some(to)) = (from, to) else { continue };
            if to - from < rule.minutes {
                v.add(field("to"), "must leave room for at least one slot after `from`");
                continue;
            }
            let mut days: Vec<&String> = rule.days.iter().filter(|d| WEEKDAYS.contains(&d.as_str())).collect();
            days.sort();
            days.dedup();
            for day in days {
                let overlap =
                    taken.iter().find(|(k, d, a, b, _)| *k == rule.fulfilment && d == day && from < *b && *a < to);
                if let Some((.., other)) = overlap {
                    v.add(field("from"), format!("overlaps rules[{other}] on {day}"));
                }
                taken.push((rule.fulfilment, day, from, to, i));
            }
        }
        v.finish()
    }
}

/// `GET /v1/locations/{code}/slots`.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SlotQuery {
    /// The store's local date, `YYYY-MM-DD`; today there by default.
    pub date: Option<NaiveDate>,
    /// Only slots of this kind.
    pub fulfilment: Option<SlotKind>,
}

/// A slot and how many more bookings it takes.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Slot {
    /// What holds and orders name as `slot_id`.
    pub id: String,
    pub fulfilment: SlotKind,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub capacity: i64,
    pub remaining: i64,
}

/// `{items}`: a day's slots that have not started, by start.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SlotList {
    pub items: Vec<Slot>,
}

/// The slot a hold or an order booked.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct BookedSlot {
    pub id: String,
    pub fulfilment: SlotKind,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
}
