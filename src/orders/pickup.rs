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

/// Characters of a pickup pass's MAC: 80 bits, nothing to guess.
const PASS_MAC_LENGTH: usize = 16;

/// The opaque part of a ready order's pickup pass link, `/pass/<token>`: the order's number
/// and a MAC of its id and pickup nonce. It names one readiness of one order: the page
/// refuses it once the order is collected (or cancelled, or expired), and a new nonce makes a
/// new token. Short enough for an SMS.
pub fn pass_token(key: &[u8], number: &str, order_id: &str, nonce: &str) -> String {
    let mac = hmac_sha256(key, &[b"pass\n", order_id.as_bytes(), b"\n", nonce.as_bytes()]);
    let mac: String = mac.iter().take(PASS_MAC_LENGTH).map(|b| ALPHABET[(*b & 31) as usize] as char).collect();
    format!("{number}-{mac}")
}

/// The order number a pass token names, if it is shaped like one.
pub fn pass_number(token: &str) -> Option<&str> {
    let (number, mac) = token.rsplit_once('-')?;
    let shaped = !number.is_empty()
        && number.len() <= 32
        && number.chars().all(|c| c.is_ascii_hexdigit())
        && mac.len() == PASS_MAC_LENGTH
        && mac.bytes().all(|b| ALPHABET.contains(&b));
    shaped.then_some(number)
}

/// Whether `token` is the pass of this readiness of this order (in constant time).
pub fn pass_matches(key: &[u8], token: &str, number: &str, order_id: &str, nonce: &str) -> bool {
    crate::crypto::same(token, &pass_token(key, number, order_id, nonce))
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

/// The code as a QR image in PNG, for email (clients show PNG, not SVG): black modules on
/// white, a four-module quiet zone, `scale` pixels a module, one bit a pixel.
pub fn qr_png(code: &str, scale: usize) -> Result<Vec<u8>, crate::error::ApiError> {
    let qr = qrcode::QrCode::new(code.as_bytes()).map_err(|e| crate::error::ApiError::Internal(e.to_string()))?;
    let (modules, colors) = (qr.width(), qr.to_colors());
    let quiet = 4;
    let side = (modules + 2 * quiet) * scale;
    let dark = |x: usize, y: usize| {
        let (mx, my) = ((x / scale).wrapping_sub(quiet), (y / scale).wrapping_sub(quiet));
        mx < modules && my < modules && colors[my * modules + mx] == qrcode::Color::Dark
    };
    // Each row: filter type 0, then the pixels, eight to a byte, 1 = white.
    let row_bytes = side.div_ceil(8);
    let mut raw = Vec::with_capacity((row_bytes + 1) * side);
    for y in 0..side {
        raw.push(0);
        for byte in 0..row_bytes {
            let mut bits = 0u8;
            for bit in 0..8 {
                let x = byte * 8 + bit;
                if x >= side || !dark(x, y) {
                    bits |= 0x80 >> bit;
                }
            }
            raw.push(bits);
        }
    }
    let mut header = Vec::with_capacity(13);
    header.extend_from_slice(&(side as u32).to_be_bytes());
    header.extend_from_slice(&(side as u32).to_be_bytes());
    header.extend_from_slice(&[1, 0, 0, 0, 0]); // 1 bit, greyscale, deflate, no filter set, no interlace
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png_chunk(&mut png, b"IHDR", &header);
    png_chunk(&mut png, b"IDAT", &zlib_stored(&raw));
    png_chunk(&mut png, b"IEND", &[]);
    Ok(png)
}

fn png_chunk(png: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    png.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let start = png.len();
    png.extend_from_slice(kind);
    png.extend_from_slice(data);
    let crc = crc32(&png[start..]);
    png.extend_from_slice(&crc.to_be_bytes());
}

/// A zlib stream of stored (uncompressed) deflate blocks: a QR image is a few kilobytes, and
/// this keeps a compressor out of the build.
fn zlib_stored(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x78, 0x01];
    let mut blocks = data.chunks(65_535).peekable();
    if blocks.peek().is_none() {
        out.extend_from_slice(&[1, 0, 0, 0xff, 0xff]);
    }
    while let Some(block) = blocks.next() {
        out.push(u8::from(blocks.peek().is_none()));
        let len = block.len() as u16;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(block);
    }
    let (mut a, mut b) = (1u32, 0u32);
    for byte in data {
        a = (a + u32::from(*byte)) % 65_521;
        b = (b + a) % 65_521;
    }
    out.extend_from_slice(&((b << 16) | a).to_be_bytes());
    out
}

/// CRC-32 (ISO-HDLC), as PNG chunks carry it.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for byte in data {
        crc ^= u32::from(*byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xedb8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_png_is_well_formed() {
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926, "the check value of CRC-32/ISO-HDLC");
        let png = qr_png("K7M2Q9TX4B", 6).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        assert_eq!(&png[12..16], b"IHDR");
        let side = u32::from_be_bytes(png[16..20].try_into().unwrap());
        assert_eq!(side % 6, 0);
        assert!(png.ends_with(&[0, 0, 0, 0, b'I', b'E', b'N', b'D', 0xae, 0x42, 0x60, 0x82]));
        assert!(png.len() < 16_000, "small enough to inline: {} bytes", png.len());
    }

    #[test]
    fn a_pass_token_names_its_order_and_nothing_else() {
        let token = pass_token(b"key", "7F3A9C21", "order-1", "nonce-1");
        assert_eq!(pass_number(&token), Some("7F3A9C21"));
        assert!(pass_matches(b"key", &token, "7F3A9C21", "order-1", "nonce-1"));
        assert!(!pass_matches(b"key", &token, "7F3A9C21", "order-1", "nonce-2"), "a new readiness, a new pass");
        assert!(!pass_matches(b"other", &token, "7F3A9C21", "order-1", "nonce-1"));
        assert!(token.len() <= 25, "short enough for an SMS: {token}");
        for bad in ["", "7F3A9C21", "7F3A9C21-", "ZZ-0123456789ABCDEF", "7F3A9C21-0123456789abcdef"] {
            assert!(pass_number(bad).is_none(), "{bad}");
        }
    }

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
