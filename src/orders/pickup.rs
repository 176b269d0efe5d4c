//! Pickup codes and pickup deadlines. (Wrong codes are throttled by `crate::throttle`.)
//!
//! A pickup code is derived, not stored: `HMAC(pickup key, order id, nonce)` in a 10-character
//! alphabet without look-alike characters (about 50 bits). The database keeps only the nonce
//! and a hash of the code for the store's lookup, so a copy of the database reveals no codes,
//! while the owning customer can be shown theirs again at any time.

use chrono::{DateTime, Datelike, NaiveDateTime, NaiveTime, TimeZone, Utc};
use rand::RngCore;

use crate::catalog::model::{OpeningHours, WEEKDAYS};
use crate::crypto::{hex, hex_sha256, hmac_sha256};

/// Crockford's base32 without I, L, O and U: nothing to misread at a counter.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
pub const CODE_LENGTH: usize = 10;

pub fn new_nonce() -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    hex(&bytes)
}

/// The code for an order, recomputed from the key, the order id and its nonce.
pub fn code(key: &[u8], order_id: &str, nonce: &str) -> String {
    let mac = hmac_sha256(key, &[order_id.as_bytes(), b"\n", nonce.as_bytes()]);
    mac.iter().take(CODE_LENGTH).map(|b| ALPHABET[(*b & 31) as usize] as char).collect()
}

/// What the database keeps to find an order by its code at one store.
pub fn code_hash(location: &str, code: &str) -> String {
    hex_sha256(format!("{location}\n{}", normalize(code)).as_bytes())
}

/// Codes are read aloud and typed: case, spaces and dashes do not matter, and the letters
/// people confuse with digits are read as those digits.
pub fn normalize(code: &str) -> String {
    code.chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| match c.to_ascii_uppercase() {
            'O' => '0',
            'I' | 'L' => '1',
            other => other,
        })
        .collect()
}

/// The pickup deadline for an order made ready at `ready_at`: closing time, in the store's
/// time zone, `hold_days` days later. A day without opening hours ends at midnight.
pub fn deadline(
    ready_at: NaiveDateTime,
    timezone: &str,
    hold_days: i32,
    hours: Option<&OpeningHours>,
) -> DateTime<Utc> {
    let tz: chrono_tz::Tz = timezone.parse().unwrap_or(chrono_tz::UTC);
    let local_day = tz.from_utc_datetime(&ready_at).date_naive() + chrono::Days::new(hold_days.max(0) as u64);
    let weekday = WEEKDAYS[local_day.weekday().num_days_from_monday() as usize];
    let closing = hours.and_then(|h| h.0.get(weekday)).and_then(|intervals| intervals.last()).and_then(|[_, close]| {
        if close == "24:00" {
            None
        } else {
            NaiveTime::parse_from_str(close, "%H:%M").ok()
        }
    });
    let local = match closing {
        Some(time) => local_day.and_time(time),
        None => local_day.and_hms_opt(23, 59, 59).expect("a valid time"),
    };
    // On a clock change the local time may be ambiguous (take the later) or skipped (an hour
    // later exists).
    tz.from_local_datetime(&local)
        .latest()
        .or_else(|| tz.from_local_datetime(&(local + chrono::TimeDelta::hours(1))).latest())
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| local.and_utc())
}

/// The code as a QR image, for the customer's phone screen. It encodes the code alone:
/// exactly what staff would otherwise type.
pub fn qr_svg(code: &str) -> Result<String, crate::error::ApiError> {
    let qr = qrcode::QrCode::new(code.as_bytes()).map_err(|e| crate::error::ApiError::Internal(e.to_string()))?;
    Ok(qr.render::<qrcode::render::svg::Color>().min_dimensions(240, 240).quiet_zone(true).build())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_stable_long_and_unambiguous() {
        let a = code(b"key", "order-1", "n1");
        assert_eq!(a, code(b"key", "order-1", "n1"));
        assert_ne!(a, code(b"key", "order-1", "n2"));
        assert_ne!(a, code(b"other", "order-1", "n1"));
        assert_eq!(a.len(), CODE_LENGTH);
        assert!(a.chars().all(|c| ALPHABET.contains(&(c as u8))));
        assert_eq!(code_hash("S1", &a.to_lowercase()), code_hash("S1", &a));
        assert_ne!(code_hash("S1", &a), code_hash("S2", &a));
        assert_eq!(normalize("ab-cd o1l"), "ABCD011");
    }

    #[test]
    fn the_deadline_is_closing_time_days_later_in_the_store_zone() {
        let hours: OpeningHours = serde_json::from_value(serde_json::json!({
            "mon": [["09:00", "21:00"]], "tue": [["09:00", "13:00"], ["14:00", "20:00"]], "sun": []
        }))
        .unwrap();
        // Sunday 2026-11-22 22:30 in Warsaw is 21:30 UTC; three days later is Wednesday:
        // no hours that day, so midnight.
        let ready = NaiveDateTime::parse_from_str("2026-11-22 21:30:00", "%Y-%m-%d %H:%M:%S").unwrap();
        assert_eq!(deadline(ready, "Europe/Warsaw", 3, Some(&hours)).to_rfc3339(), "2026-11-25T22:59:59+00:00");
        // Two days later is Tuesday: the last interval closes at 20:00 Warsaw time (19:00 UTC).
        assert_eq!(deadline(ready, "Europe/Warsaw", 2, Some(&hours)).to_rfc3339(), "2026-11-24T19:00:00+00:00");
        // In New York the same instant is still Sunday afternoon; a day later is Monday 21:00.
        assert_eq!(deadline(ready, "America/New_York", 1, Some(&hours)).to_rfc3339(), "2026-11-24T02:00:00+00:00");
    }
}
