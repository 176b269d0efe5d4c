//! The lanes that supply a store and when what they send arrives: read by orders placing
//! transfers and by availability saying "from <date>", so it leans on nothing but the
//! catalog's model and the schema.

use std::collections::HashMap;

use chrono::{DateTime, Datelike, Utc};
use diesel::prelude::*;

use super::model::{Lane, Lanes};
use crate::catalog::model::{local_time, LocationRow, OpeningHours, WEEKDAYS};
use crate::db::schema::transfer_lanes;
use crate::db::DbConn;
use crate::error::ApiError;

/// How far ahead an arrival is looked for: a store open one day a week still gets one.
const ARRIVAL_HORIZON_DAYS: u64 = 400;

/// The lanes into a store, fastest first (then by source code): the order sources are tried in.
pub fn lanes_into(conn: &mut DbConn, to: &str) -> Result<Lanes, ApiError> {
    let rows: Vec<(String, i32)> = transfer_lanes::table
        .filter(transfer_lanes::to_location.eq(to))
        .order((transfer_lanes::working_days.asc(), transfer_lanes::from_location.asc()))
        .select((transfer_lanes::from_location, transfer_lanes::working_days))
        .load(conn)?;
    Ok(Lanes { lanes: rows.into_iter().map(|(from, working_days)| Lane { from, working_days }).collect() })
}

/// When stock sent now reaches a store `working_days` of its working days later: at its
/// first opening on that day. A working day is a day the store opens; without opening hours,
/// Monday to Friday, from the start of the day. Today never counts: what is sent today
/// arrives on a later day. `None` when the store does not open often enough to arrive
/// within the horizon.
pub fn arrival(
    now: DateTime<Utc>,
    working_days: i32,
    zone: chrono_tz::Tz,
    hours: Option<&OpeningHours>,
) -> Option<DateTime<Utc>> {
    let today = now.with_timezone(&zone).date_naive();
    let mut counted = 0;
    for offset in 1..=ARRIVAL_HORIZON_DAYS {
        let day = today + chrono::Days::new(offset);
        let weekday = WEEKDAYS[day.weekday().num_days_from_monday() as usize];
        let opens_at = match hours {
            None if weekday == "sat" || weekday == "sun" => None,
            None => local_time(day, "00:00", zone),
            Some(hours) => hours
                .0
                .get(weekday)
                .into_iter()
                .flatten()
                .filter(|[open, close]| open != close)
                .filter_map(|[open, _]| local_time(day, open, zone))
                .min(),
        };
        if let Some(opens_at) = opens_at {
            counted += 1;
            if counted == working_days {
                return Some(opens_at);
            }
        }
    }
    None
}

/// A store's arrival for a lane of `working_days`, sent now.
pub fn arrival_at(store: &LocationRow, working_days: i32, now: DateTime<Utc>) -> Result<DateTime<Utc>, ApiError> {
    arrival(now, working_days, store.zone(), store.hours().as_ref()).ok_or_else(|| {
        ApiError::Conflict(format!("{} does not open on enough days for a transfer to arrive", store.code))
    })
}

/// For availability: the soonest a store could have a SKU by transfer, from the lanes whose
/// sources have any. `levels` is the SKU's available units by location.
pub fn soonest_by_lane(lanes: &[(String, String, i32)], store: &str, levels: &HashMap<String, i64>) -> Option<i32> {
    lanes
        .iter()
        .filter(|(from, to, _)| to == store && levels.get(from).copied().unwrap_or(0) > 0)
        .map(|(_, _, days)| *days)
        .min()
}

/// Every lane: (from, to, working days).
pub fn all_lanes(conn: &mut DbConn) -> Result<Vec<(String, String, i32)>, ApiError> {
    Ok(transfer_lanes::table
        .select((transfer_lanes::from_location, transfer_lanes::to_location, transfer_lanes::working_days))
        .load(conn)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    #[test]
    fn without_hours_working_days_are_weekdays_and_today_never_counts() {
        // Monday 30 November 2026.
        let monday = at("2026-11-30T15:00:00Z");
        assert_eq!(arrival(monday, 1, chrono_tz::UTC, None), Some(at("2026-12-01T00:00:00Z")));
        // Friday: two working days is Tuesday.
        let friday = at("2026-12-04T10:00:00Z");
        assert_eq!(arrival(friday, 2, chrono_tz::UTC, None), Some(at("2026-12-08T00:00:00Z")));
    }

    #[test]
    fn with_hours_a_transfer_arrives_at_opening_on_a_day_the_store_opens() {
        let mut hours = BTreeMap::new();
        hours.insert("mon".to_string(), vec![["09:00".to_string(), "21:00".to_string()]]);
        hours.insert("sat".to_string(), vec![["10:00".to_string(), "14:00".to_string()]]);
        let hours = OpeningHours(hours);
        let zone = chrono_tz::Europe::Warsaw;
        // Monday evening: the next working day is Saturday, at 10:00 Warsaw (09:00 UTC).
        let monday = at("2026-11-30T18:00:00Z");
        assert_eq!(arrival(monday, 1, zone, Some(&hours)), Some(at("2026-12-05T09:00:00Z")));
        // Two working days: the Monday after, at 09:00 Warsaw.
        assert_eq!(arrival(monday, 2, zone, Some(&hours)), Some(at("2026-12-07T08:00:00Z")));
        // A store that never opens gets nothing.
        assert_eq!(arrival(monday, 1, zone, Some(&OpeningHours(BTreeMap::new()))), None);
    }

    #[test]
    fn the_fastest_lane_with_stock_answers() {
        let lanes = vec![
            ("WH".to_string(), "S1".to_string(), 3),
            ("S2".to_string(), "S1".to_string(), 1),
            ("WH".to_string(), "S3".to_string(), 1),
        ];
        let mut levels = HashMap::from([("WH".to_string(), 5), ("S2".to_string(), 0)]);
        assert_eq!(soonest_by_lane(&lanes, "S1", &levels), Some(3), "S2 has none");
        levels.insert("S2".to_string(), 1);
        assert_eq!(soonest_by_lane(&lanes, "S1", &levels), Some(1));
        assert_eq!(soonest_by_lane(&lanes, "S4", &levels), None);
    }
}
