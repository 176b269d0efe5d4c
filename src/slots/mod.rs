//! Pickup and curbside slots: a store's rules make its slots (none are stored), and each
//! slot's bookings are one counter row moved by a conditional `UPDATE ... WHERE booked <
//! capacity`, the same one-statement guard stock has, so a slot is never overbooked however
//! many shoppers book at once. Holds and orders book a slot in their own transaction, after
//! their stock (the order every writer takes), and give it back when they end without being
//! collected.
//!
//! A slot's id says everything about it: `curbside-20261130T0900Z-30@WAW-1` is a 30-minute
//! curbside slot at WAW-1 starting at 09:00 UTC. A booking checks it against the store's
//! rules as they are then; a hold or order shows it as booked whatever the rules become.

pub mod model;
pub mod routes;

use std::collections::HashMap;

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, TimeDelta, TimeZone, Utc};
use diesel::prelude::*;

use crate::catalog::{self, model::LocationRow, model::WEEKDAYS};
use crate::db::schema::{slot_bookings, slot_rules};
use crate::db::{insert_or_ignore, DbConn};
use crate::error::{ApiError, FieldError};
use crate::http::formats::clock_minutes;
use model::*;

/// One slot as the rules make it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Made {
    kind: SlotKind,
    starts_at: NaiveDateTime,
    minutes: i64,
    capacity: i64,
}

/// The store's rules; none set is no slots.
pub fn rules_of(conn: &mut DbConn, location: &str) -> Result<SlotRules, ApiError> {
    let stored: Option<String> = slot_rules::table.find(location).select(slot_rules::rules).first(conn).optional()?;
    match stored {
        None => Ok(SlotRules::default()),
        Some(json) => serde_json::from_str(&json)
            .map_err(|e| ApiError::Internal(format!("stored slot rules of {location} do not read: {e}"))),
    }
}

/// Replaces a store's rules. Slots already booked stay booked; a slot the new rules no longer
/// make takes no new bookings, and one whose capacity fell below its bookings takes none
/// until bookings end.
pub fn put_rules(conn: &mut DbConn, code: &str, rules: &SlotRules) -> Result<SlotRules, ApiError> {
    let location = catalog::find_location(conn, code)?;
    for (i, rule) in rules.rules.iter().enumerate() {
        if !offers(&location, rule.fulfilment) {
            return Err(ApiError::Conflict(format!(
                "{code} does not offer {} (rules[{i}]); turn it on for the location first",
                rule.fulfilment.as_str()
            )));
        }
    }
    let now = Utc::now().naive_utc();
    let json = serde_json::to_string(rules).map_err(|e| ApiError::Internal(e.to_string()))?;
    let updated = diesel::update(slot_rules::table.find(code))
        .set((slot_rules::rules.eq(&json), slot_rules::updated_at.eq(now)))
        .execute(conn)?;
    if updated == 0 {
        diesel::insert_into(slot_rules::table)
            .values((slot_rules::location.eq(code), slot_rules::rules.eq(&json), slot_rules::updated_at.eq(now)))
            .execute(conn)?;
    }
    Ok(rules.clone())
}

/// Whether the store offers this kind of collection (the location's own switches).
pub fn offers(location: &LocationRow, kind: SlotKind) -> bool {
    match kind {
        SlotKind::Pickup => location.pickup_in_store,
        SlotKind::Curbside => location.pickup_curbside,
    }
}

/// The slots the rules make on one local date, by start. A local time a clock change skips
/// makes no slot; one it repeats makes its first.
fn made_on(location: &LocationRow, rules: &SlotRules, date: NaiveDate) -> Vec<Made> {
    let zone = location.zone();
    let weekday = WEEKDAYS[date.weekday().num_days_from_monday() as usize];
    let mut made = Vec::new();
    for rule in rules.rules.iter().filter(|r| r.days.iter().any(|d| d == weekday)) {
        let (Some(from), Some(to)) = (clock_minutes(&rule.from), clock_minutes(&rule.to)) else { continue };
        let (from, to) = (i64::from(from), i64::from(to));
        let mut start = from;
        while start + rule.minutes <= to {
            let local = date.and_hms_opt(0, 0, 0).expect("midnight") + TimeDelta::minutes(start);
            if let Some(at) = zone.from_local_datetime(&local).earliest() {
                made.push(Made {
                    kind: rule.fulfilment,
                    starts_at: at.naive_utc(),
                    minutes: rule.minutes,
                    capacity: rule.capacity,
                });
            }
            start += rule.minutes;
        }
    }
    made.sort_by_key(|m| (m.starts_at, m.kind.as_str()));
    made
}

/// A slot's id: its kind, start (UTC), length and store.
pub fn id_of(location: &str, kind: SlotKind, starts_at: NaiveDateTime, minutes: i64) -> String {
    format!("{}-{}Z-{minutes}@{location}", kind.as_str(), starts_at.format("%Y%m%dT%H%M"))
}

/// What an id says: (store, kind, start, length), or `None` for no slot id at all.
fn parse_id(id: &str) -> Option<(&str, SlotKind, NaiveDateTime, i64)> {
    let (slot, location) = id.split_once('@')?;
    let mut parts = slot.splitn(3, '-');
    let kind: SlotKind = parts.next()?.parse().ok()?;
    let start = parts.next()?.strip_suffix('Z')?;
    let starts_at = NaiveDateTime::parse_from_str(start, "%Y%m%dT%H%M").ok()?;
    let minutes: i64 = parts.next()?.parse().ok()?;
    (crate::http::formats::is_code(location) && (1..=24 * 60).contains(&minutes))
        .then_some((location, kind, starts_at, minutes))
}

/// The slot an id names, as a hold or order shows it. `None` for an id that is none.
pub fn describe(id: &str) -> Option<BookedSlot> {
    let (_, kind, starts_at, minutes) = parse_id(id)?;
    Some(BookedSlot {
        id: id.to_string(),
        fulfilment: kind,
        starts_at: starts_at.and_utc(),
        ends_at: (starts_at + TimeDelta::minutes(minutes)).and_utc(),
    })
}

/// A booked slot as the customer reads it: `Tue 01 Dec 10:30-11:00` in `zone`, the start in
/// `format`.
pub fn span_in(slot: &BookedSlot, zone: chrono_tz::Tz, format: &str) -> String {
    let starts = zone.from_utc_datetime(&slot.starts_at.naive_utc());
    let ends = zone.from_utc_datetime(&slot.ends_at.naive_utc());
    format!("{}-{}", starts.format(format), ends.format("%H:%M"))
}

/// A store's slots on its local `date` (today there by default) that have not started yet,
/// with what each still takes.
pub fn list(conn: &mut DbConn, code: &str, query: &SlotQuery, now: DateTime<Utc>) -> Result<SlotList, ApiError> {
    let location = catalog::find_location(conn, code)?;
    let rules = rules_of(conn, code)?;
    list_for(conn, &location, &rules, query, now)
}

/// `list` for a store and rules already read: for callers that look through several days.
pub fn list_for(
    conn: &mut DbConn,
    location: &LocationRow,
    rules: &SlotRules,
    query: &SlotQuery,
    now: DateTime<Utc>,
) -> Result<SlotList, ApiError> {
    let code = location.code.as_str();
    let date = query.date.unwrap_or_else(|| now.with_timezone(&location.zone()).date_naive());
    let made: Vec<Made> = made_on(location, rules, date)
        .into_iter()
        .filter(|m| m.starts_at > now.naive_utc())
        .filter(|m| query.fulfilment.is_none_or(|kind| kind == m.kind))
        // Rules outlive a store's switches: what it no longer offers is not offered.
        .filter(|m| location.active && offers(location, m.kind))
        .collect();
    let booked: HashMap<(String, NaiveDateTime, i32), i64> = match (made.first(), made.last()) {
        (Some(first), Some(last)) => slot_bookings::table
            .filter(slot_bookings::location.eq(code))
            .filter(slot_bookings::starts_at.between(first.starts_at, last.starts_at))
            .select((
                slot_bookings::fulfilment,
                slot_bookings::starts_at,
                slot_bookings::minutes,
                slot_bookings::booked,
            ))
            .load::<(String, NaiveDateTime, i32, i64)>(conn)?
            .into_iter()
            .map(|(kind, at, minutes, booked)| ((kind, at, minutes), booked))
            .collect(),
        _ => HashMap::new(),
    };
    let items = made
        .into_iter()
        .map(|m| {
            let taken = booked.get(&(m.kind.as_str().to_string(), m.starts_at, m.minutes as i32)).copied().unwrap_or(0);
            Slot {
                id: id_of(code, m.kind, m.starts_at, m.minutes),
                fulfilment: m.kind,
                starts_at: m.starts_at.and_utc(),
                ends_at: (m.starts_at + TimeDelta::minutes(m.minutes)).and_utc(),
                capacity: m.capacity,
                remaining: (m.capacity - taken).max(0),
            }
        })
        .collect();
    Ok(SlotList { items })
}

/// Books one place in a slot for a hold or an order at `location` (of `kind`, when the order
/// says how it is collected): 404 for a slot the store's rules do not make, 409 for one at
/// another store, of another kind, already started, or full (`slot-full`).
pub fn book(
    conn: &mut DbConn,
    id: &str,
    location: &str,
    kind: Option<SlotKind>,
    now: NaiveDateTime,
) -> Result<BookedSlot, ApiError> {
    let unknown = || ApiError::Unknown(vec![FieldError::new("slot_id", format!("no slot {id}"))]);
    let (at, slot_kind, starts_at, minutes) = parse_id(id).ok_or_else(unknown)?;
    if at != location {
        return Err(ApiError::Conflict(format!("slot {id} is at {at}, not at {location}")));
    }
    if let Some(kind) = kind.filter(|k| *k != slot_kind) {
        return Err(ApiError::Conflict(format!("slot {id} is for {}, not {}", slot_kind.as_str(), kind.as_str())));
    }
    let store = catalog::find_location(conn, location)?;
    if !store.active || !offers(&store, slot_kind) {
        return Err(ApiError::Conflict(format!("{location} does not offer {} now", slot_kind.as_str())));
    }
    let rules = rules_of(conn, location)?;
    let local_date = store.zone().from_utc_datetime(&starts_at).date_naive();
    let made = made_on(&store, &rules, local_date)
        .into_iter()
        .find(|m| m.kind == slot_kind && m.starts_at == starts_at && m.minutes == minutes)
        .ok_or_else(unknown)?;
    if starts_at <= now {
        return Err(ApiError::Conflict(format!("slot {id} has already started; choose a later one")));
    }
    let key = (
        slot_bookings::location.eq(location),
        slot_bookings::fulfilment.eq(slot_kind.as_str()),
        slot_bookings::starts_at.eq(starts_at),
        slot_bookings::minutes.eq(minutes as i32),
        slot_bookings::booked.eq(0_i64),
    );
    insert_or_ignore!(conn, slot_bookings::table, key)?;
    // The check and the booking are one statement under the row's lock.
    let taken = diesel::update(slot_bookings::table.find((location, slot_kind.as_str(), starts_at, minutes as i32)))
        .filter(slot_bookings::booked.lt(made.capacity))
        .set(slot_bookings::booked.eq(slot_bookings::booked + 1))
        .execute(conn)?;
    if taken == 0 {
        return Err(ApiError::SlotFull(format!("slot {id} is full; choose another")));
    }
    describe(id).ok_or_else(unknown)
}

/// Gives a booking back: the hold or order that had it ended without being collected.
pub fn release(conn: &mut DbConn, id: &str) -> Result<(), ApiError> {
    let Some((location, kind, starts_at, minutes)) = parse_id(id) else { return Ok(()) };
    diesel::update(slot_bookings::table.find((location, kind.as_str(), starts_at, minutes as i32)))
        .filter(slot_bookings::booked.gt(0))
        .set(slot_bookings::booked.eq(slot_bookings::booked - 1))
        .execute(conn)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(timezone: &str) -> LocationRow {
        let now = Utc::now().naive_utc();
        LocationRow {
            code: "S1".into(),
            name: "S1".into(),
            kind: "store".into(),
            timezone: timezone.into(),
            address: None,
            latitude: None,
            longitude: None,
            pickup_in_store: true,
            pickup_curbside: true,
            pickup_hold_days: 3,
            fulfils_online: true,
            active: true,
            locale: None,
            opening_hours: None,
            created_at: now,
            updated_at: now,
        }
    }

    fn rule(days: &[&str], from: &str, to: &str, minutes: i64) -> SlotRule {
        SlotRule {
            fulfilment: SlotKind::Curbside,
            days: days.iter().map(|d| d.to_string()).collect(),
            from: from.into(),
            to: to.into(),
            minutes,
            capacity: 6,
        }
    }

    #[test]
    fn rules_make_slots_in_the_stores_time_zone() {
        let rules = SlotRules { rules: vec![rule(&["mon"], "10:00", "11:45", 30)] };
        // Monday 30 November 2026; Warsaw is UTC+1 in winter.
        let made = made_on(&store("Europe/Warsaw"), &rules, NaiveDate::from_ymd_opt(2026, 11, 30).unwrap());
        let starts: Vec<String> = made.iter().map(|m| m.starts_at.format("%H:%M").to_string()).collect();
        assert_eq!(starts, vec!["09:00", "09:30", "10:00"], "the last one must end by 11:45 local");
        assert!(made_on(&store("Europe/Warsaw"), &rules, NaiveDate::from_ymd_opt(2026, 12, 1).unwrap()).is_empty());
    }

    #[test]
    fn a_clock_change_skips_the_missing_hour() {
        let rules = SlotRules { rules: vec![rule(&["sun"], "01:00", "04:00", 60)] };
        // Sunday 29 March 2026: Warsaw's clocks go from 02:00 to 03:00.
        let made = made_on(&store("Europe/Warsaw"), &rules, NaiveDate::from_ymd_opt(2026, 3, 29).unwrap());
        assert_eq!(made.len(), 2, "01:00 and 03:00 exist, 02:00 does not: {made:?}");
    }

    #[test]
    fn an_id_says_everything_about_its_slot() {
        let at = NaiveDate::from_ymd_opt(2026, 11, 30).unwrap().and_hms_opt(9, 0, 0).unwrap();
        let id = id_of("WAW-1.a", SlotKind::Curbside, at, 30);
        assert_eq!(id, "curbside-20261130T0900Z-30@WAW-1.a");
        assert_eq!(parse_id(&id), Some(("WAW-1.a", SlotKind::Curbside, at, 30)));
        let slot = describe(&id).unwrap();
        assert_eq!((slot.ends_at - slot.starts_at).num_minutes(), 30);
        for bad in ["", "curbside", "curbside-20261130T0900Z-30", "drone-20261130T0900Z-30@S1", "pickup-2026-30@S1"] {
            assert!(parse_id(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn overlapping_rules_are_refused() {
        use crate::http::json::Validate;
        let overlapping = SlotRules {
            rules: vec![rule(&["mon", "tue"], "10:00", "12:00", 30), rule(&["tue"], "11:30", "13:00", 30)],
        };
        assert!(overlapping.validate().is_err());
        let mut other_kind = overlapping.clone();
        other_kind.rules[1].fulfilment = SlotKind::Pickup;
        assert!(other_kind.validate().is_ok(), "pickup and curbside slots may run side by side");
        let too_short = SlotRules { rules: vec![rule(&["mon"], "10:00", "10:20", 30)] };
        assert!(too_short.validate().is_err());
    }
}
