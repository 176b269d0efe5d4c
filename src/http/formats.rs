//! The formats of input values, each written twice side by side: as the regular expression
//! the OpenAPI document declares (ECMA-262, the dialect JSON Schema uses) and as the check the
//! server makes. The two must accept exactly the same strings, so a client that validates
//! against the document is never refused and the server never accepts what the document
//! forbids. Lengths count Unicode code points, as JSON Schema does.
//!
//! "Space" below is Unicode White_Space (what Rust's `char::is_whitespace` and `str::trim`
//! use) and "control" is the Cc category (`char::is_control`): U+0000–U+001F, U+007F–U+009F.

/// A change-log cursor (`changes::Cursor`): the writing transaction's id (or -1 before the
/// first change) and a position, both whole numbers that fit 64 bits.
pub const FEED_CURSOR: &str = r"^(-1|[0-9]{1,18})\.[0-9]{1,18}$";

/// A channel webhook's signing secret: 32 to 256 visible ASCII characters.
pub const WEBHOOK_SECRET: &str = r"^[!-~]{32,256}$";

/// A location code, SKU or channel code: 1 to 64 of `[A-Za-z0-9._-]`.
pub const CODE: &str = r"^[A-Za-z0-9._-]{1,64}$";

pub fn is_code(value: &str) -> bool {
    (1..=64).contains(&value.len())
        && value.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// Words that are paths of their own where a SKU could stand (`POST /v1/availability/check`,
/// `POST /v1/stock/{location}/snapshot`): a product by that SKU could never be read at
/// `/v1/availability/{sku}` or counted at `/v1/stock/{location}/{sku}`, so none is created.
pub const RESERVED_SKUS: [&str; 2] = ["check", "snapshot"];

/// Free text: at least one character that is not a space, and no control characters. Each
/// field adds its own `maxLength`.
pub const TEXT: &str = r"^[^\x00-\x1F\x7F-\x9F]*[^\x00-\x20\x7F-\x9F\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000][^\x00-\x1F\x7F-\x9F]*$";

/// Why `value` is not text of at most `max` characters, if it is not.
pub fn text_problem(value: &str, max: usize) -> Option<String> {
    if value.trim().is_empty() {
        Some("must not be empty".into())
    } else if value.chars().count() > max {
        Some(format!("must be at most {max} characters"))
    } else if value.chars().any(char::is_control) {
        Some("must not contain control characters".into())
    } else {
        None
    }
}

/// A reference (a receipt number, a document id): 1 to 200 characters, no control characters.
pub const REFERENCE: &str = r"^[^\x00-\x1F\x7F-\x9F]{1,200}$";

pub fn is_reference(value: &str) -> bool {
    (1..=200).contains(&value.chars().count()) && !value.chars().any(char::is_control)
}

/// A customer id (the identity provider's `sub`): 1 to 128 characters, none a space or a
/// control character.
pub const CUSTOMER_ID: &str = r"^[^\x00-\x20\x7F-\x9F\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]{1,128}$";

pub fn is_customer_id(value: &str) -> bool {
    (1..=128).contains(&value.chars().count()) && !value.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// An email address the mail transport will take (lettre's `Address`, RFC 5322), in ASCII:
/// a dot-atom before the `@` (letters, digits and ``!#$%&'*+/=?^_`{|}~-``, dots only between
/// them), at most 64 characters; after it a domain name of at least two labels (letters,
/// digits and inner hyphens, at most 63 characters each); at most 254 characters in all.
/// The 64-character limit on the part before the `@` is the one rule the pattern leaves to
/// the description.
pub const EMAIL: &str = r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*@[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$";

pub const EMAIL_MAX_LENGTH: usize = 254;
/// The longest part before the `@` (RFC 5321).
pub const EMAIL_LOCAL_MAX_LENGTH: usize = 64;

pub fn is_email(value: &str) -> bool {
    let atext = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~-".contains(c);
    let label = |l: &str| {
        (1..=63).contains(&l.len())
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    let Some((local, domain)) = value.split_once('@') else { return false };
    value.len() <= EMAIL_MAX_LENGTH
        && (1..=EMAIL_LOCAL_MAX_LENGTH).contains(&local.len())
        && local.split('.').all(|atom| !atom.is_empty() && atom.chars().all(atext))
        && domain.split('.').count() >= 2
        && domain.split('.').all(label)
        // The transport's own reading: what is stored here is what will be sent to.
        && value.parse::<lettre::Address>().is_ok()
}

/// A phone number in E.164: `+`, then 7 to 15 digits, the first not zero.
pub const PHONE: &str = r"^\+[1-9][0-9]{6,14}$";

pub fn is_phone(value: &str) -> bool {
    let digits = value.strip_prefix('+').unwrap_or("");
    (7..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) && !digits.starts_with('0')
}

/// A BCP 47 language tag, lightly: a 2-3 letter language, then 1-8 character alphanumeric
/// subtags (`pl-PL`, `zh-Hant-TW`).
pub const LANGUAGE_TAG: &str = r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$";

pub fn is_language_tag(tag: &str) -> bool {
    let mut parts = tag.split('-');
    let language = parts.next().unwrap_or("");
    (2..=3).contains(&language.len())
        && language.bytes().all(|b| b.is_ascii_alphabetic())
        && parts.all(|p| (1..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// An ISO 4217 currency code's shape: three capital letters.
pub const CURRENCY: &str = r"^[A-Z]{3}$";

pub fn is_currency(value: &str) -> bool {
    value.len() == 3 && value.bytes().all(|b| b.is_ascii_uppercase())
}

/// A time of day in opening hours: `HH:MM` from `00:00` to `24:00`.
pub const CLOCK_TIME: &str = r"^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$";

/// Minutes since midnight of an `HH:MM` clock time.
pub fn clock_minutes(hhmm: &str) -> Option<u32> {
    let (h, m) = hhmm.split_once(':')?;
    if h.len() != 2 || m.len() != 2 || !h.bytes().chain(m.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    match (h, m) {
        (24, 0) => Some(24 * 60),
        (0..=23, 0..=59) => Some(h * 60 + m),
        _ => None,
    }
}

/// Where a customer's webhooks and push messages may go: an `https://` URL whose host is a
/// name or an IPv4 address, or `http://` to this machine (`localhost`, `127.0.0.1`, `[::1]`)
/// for development; an optional port; no user part, spaces or control characters; at most
/// 2048 characters.
pub const CUSTOMER_URL: &str = r"^(https://[A-Za-z0-9.-]+|http://([Ll][Oo][Cc][Aa][Ll][Hh][Oo][Ss][Tt]|127\.0\.0\.1|\[::1\]))(:(0[0-9]{4}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]|[0-9]{1,4}))?([/?#][^\x00-\x20\x7F-\x9F\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*)?$";

pub const CUSTOMER_URL_MAX_LENGTH: usize = 2048;

pub fn is_customer_url(url: &str) -> bool {
    if url.chars().count() > CUSTOMER_URL_MAX_LENGTH || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return false;
    }
    let (https, rest) = if let Some(rest) = url.strip_prefix("https://") {
        (true, rest)
    } else if let Some(rest) = url.strip_prefix("http://") {
        (false, rest)
    } else {
        return false;
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    let (host, port) = match authority.strip_prefix("[::1]") {
        Some(after) => ("[::1]", after),
        None => match authority.find(':') {
            Some(colon) => (&authority[..colon], &authority[colon..]),
            None => (authority, ""),
        },
    };
    let port_ok = match port.strip_prefix(':') {
        None => port.is_empty(),
        Some(digits) => {
            (1..=5).contains(&digits.len())
                && digits.bytes().all(|b| b.is_ascii_digit())
                && digits.parse::<u16>().is_ok()
        }
    };
    let host_ok = if https {
        !host.is_empty() && host.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-'))
    } else {
        host.eq_ignore_ascii_case("localhost") || host == "127.0.0.1" || host == "[::1]"
    };
    host_ok && port_ok
}

/// A Web Push subscription's P-256 key: 65 bytes in base64url (87 characters, the last one
/// carrying two zero bits), with or without `=` padding.
pub const PUSH_P256DH: &str = r"^[A-Za-z0-9_-]{86}[AEIMQUYcgkosw048]=*$";
/// A Web Push subscription's authentication secret: 16 bytes in base64url (22 characters, the
/// last one carrying four zero bits), with or without `=` padding.
pub const PUSH_AUTH: &str = r"^[A-Za-z0-9_-]{21}[AQgw]=*$";

/// How many bytes a base64url value decodes to, padded or not.
pub fn base64url_len(value: &str) -> Option<usize> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(value.trim_end_matches('=')).ok().map(|b| b.len())
}

/// `near=LAT,LNG`: degrees, latitude within ±90 and longitude within ±180, plain decimals.
pub const NEAR: &str = r"^-?(90(\.0+)?|[1-8]?[0-9](\.[0-9]+)?),-?(180(\.0+)?|(1[0-7][0-9]|[1-9]?[0-9])(\.[0-9]+)?)$";

/// The coordinates of a `near`, if it is one.
pub fn parse_near(raw: &str) -> Option<(f64, f64)> {
    let (lat, lng) = raw.split_once(',')?;
    Some((degrees(lat, 90)?, degrees(lng, 180)?))
}

/// A plain decimal of at most `limit` degrees either way: `-?INT(.DIGITS)?`, no leading
/// zeros, no exponent, and exactly `limit` only with a zero fraction.
fn degrees(text: &str, limit: u32) -> Option<f64> {
    let unsigned = text.strip_prefix('-').unwrap_or(text);
    let (int, fraction) = match unsigned.split_once('.') {
        Some((int, fraction)) => (int, Some(fraction)),
        None => (unsigned, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(int) || (int.len() > 1 && int.starts_with('0')) || fraction.is_some_and(|f| !digits(f)) {
        return None;
    }
    let whole: u32 = int.parse().ok()?;
    let zero_fraction = fraction.is_none_or(|f| f.bytes().all(|b| b == b'0'));
    if whole > limit || (whole == limit && !zero_fraction) {
        return None;
    }
    text.parse().ok()
}

/// An `Idempotency-Key`: 1 to 255 visible ASCII characters.
pub const IDEMPOTENCY_KEY: &str = r"^[!-~]{1,255}$";

pub fn is_idempotency_key(value: &str) -> bool {
    (1..=255).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_graphic())
}

/// An order's short number: 1 to 32 letters and digits (case does not matter).
pub const ORDER_NUMBER: &str = r"^[A-Za-z0-9]{1,32}$";

pub fn is_order_number(value: &str) -> bool {
    (1..=32).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    //! Each check against its pattern, on the awkward cases: they must agree on every one.
    use super::*;

    fn agree(pattern: &str, check: impl Fn(&str) -> bool, samples: &[&str]) {
        agree_within(pattern, usize::MAX, check, samples)
    }

    /// As the document says it: the pattern and a `maxLength`.
    fn agree_within(pattern: &str, max_length: usize, check: impl Fn(&str) -> bool, samples: &[&str]) {
        let regex = regex::Regex::new(pattern).expect("the pattern compiles");
        for sample in samples {
            let documented = regex.is_match(sample) && sample.chars().count() <= max_length;
            assert_eq!(documented, check(sample), "{pattern} vs the check on {sample:?}");
        }
    }

    const SPACES: [&str; 8] =
        ["\u{a0}", "\u{1680}", "\u{2000}", "\u{200a}", "\u{2028}", "\u{202f}", "\u{3000}", "\u{85}"];

    #[test]
    fn codes() {
        agree(CODE, is_code, &["S1", "a.b_c-d", "", "a b", "é", &"x".repeat(64), &"x".repeat(65), "a\n"]);
    }

    #[test]
    fn text() {
        let mut samples = vec!["Mug", " Mug ", "", " ", "\t", "a\u{0}b", "a\u{9f}", "\u{feff}", "Ż"];
        samples.extend(SPACES);
        let with_space: Vec<String> = SPACES.iter().map(|s| format!("x{s}")).collect();
        samples.extend(with_space.iter().map(String::as_str));
        agree(TEXT, |v| text_problem(v, usize::MAX).is_none(), &samples);
        agree(REFERENCE, is_reference, &["r-1", " ", "", "a\u{7f}", &"é".repeat(200), &"é".repeat(201)]);
    }

    #[test]
    fn customer_ids() {
        let (longest, too_long) = ("é".repeat(128), "é".repeat(129));
        let mut samples = vec!["ann", "idp|alice", "a b", "", "\u{feff}", &longest, &too_long];
        samples.extend(SPACES);
        agree(CUSTOMER_ID, is_customer_id, &samples);
    }

    #[test]
    fn emails() {
        let longest = format!("{}@{}.{}.{}.{}", "a".repeat(64), "b".repeat(63), "c".repeat(63), "d".repeat(59), "e");
        let longer = format!("{}@{}.{}.{}.{}", "a".repeat(64), "b".repeat(63), "c".repeat(63), "d".repeat(60), "e");
        assert_eq!((longest.len(), longer.len()), (254, 255));
        agree_within(
            EMAIL,
            EMAIL_MAX_LENGTH,
            is_email,
            &[
                "ann@example.com",
                "ann.smith+orders@mail.example.co.uk",
                "o'brien@example.ie",
                "a@b.c",
                "a@b",
                "@b.c",
                "a@.b.c",
                "a@b.c.",
                "a@@b.c",
                "a@b@c.d",
                "a b@c.d",
                "a@b..c",
                "a..b@c.d",
                ".a@c.d",
                "a.@c.d",
                "(a)@c.d",
                "a,b@c.d",
                "a@-b.c",
                "a@b-.c",
                "a@b_c.d",
                "a@b.c\u{a0}",
                "é@ü.de",
                &longest,
                &longer,
                "a@.",
                "a@..",
            ],
        );
        // Beyond the pattern: the part before the `@` has at most 64 characters.
        let local = |n: usize| format!("{}@example.com", "a".repeat(n));
        assert!(is_email(&local(64)) && !is_email(&local(65)));
        // Everything accepted here is an address the transport takes.
        for accepted in ["ann@example.com", "o'brien@example.ie", &longest] {
            assert!(accepted.parse::<lettre::Address>().is_ok(), "{accepted}");
        }
    }

    #[test]
    fn phones_tags_currencies_and_times() {
        agree(
            PHONE,
            is_phone,
            &["+48601234567", "+0123456789", "48601234567", "+123456", "+1234567", &format!("+1{}", "2".repeat(15))],
        );
        agree(
            LANGUAGE_TAG,
            is_language_tag,
            &["pl-PL", "en", "zh-Hant-TW", "english", "pl_PL", "pl-", "p", "pl-123456789"],
        );
        agree(CURRENCY, is_currency, &["EUR", "eur", "EU", "EURO", "ÉUR"]);
        agree(
            CLOCK_TIME,
            |t| clock_minutes(t).is_some(),
            &["09:00", "24:00", "24:01", "9:00", "23:59", "23:60", "+1:00", "aa:bb"],
        );
    }

    #[test]
    fn customer_urls() {
        agree_within(
            CUSTOMER_URL,
            CUSTOMER_URL_MAX_LENGTH,
            is_customer_url,
            &[
                "https://hooks.example.com/cc",
                "https://hooks.example.com:8443/cc?x=1#y",
                "https://1.2.3.4",
                "http://127.0.0.1:9000/hook",
                "http://LOCALHOST/x",
                "http://[::1]:80/x",
                "http://evil.example/x",
                "http://localhost@evil.example/hook",
                "http://localhost.evil.example/hook",
                "https://host:65535/",
                "https://host:65536/",
                "https://host:08080/",
                "https://host:/",
                "https://host:123456/",
                "https://[::1]/",
                "https:///x",
                "ftp://x",
                "https://a b",
                "https://a/\u{a0}",
            ],
        );
    }

    #[test]
    fn push_keys() {
        let key = format!("B{}", "A".repeat(85));
        let (p256dh, auth_pattern) = (regex::Regex::new(PUSH_P256DH).unwrap(), regex::Regex::new(PUSH_AUTH).unwrap());
        for (last, ok) in [("A", true), ("E", true), ("w", true), ("B", false), ("_", false)] {
            let value = format!("{key}{last}");
            assert_eq!(p256dh.is_match(&value), ok, "{value}");
            assert_eq!(base64url_len(&value) == Some(65), ok, "{value}");
        }
        let auth = "A".repeat(21);
        for (last, ok) in [("A", true), ("Q", true), ("g", true), ("w", true), ("B", false)] {
            let value = format!("{auth}{last}==");
            assert_eq!(auth_pattern.is_match(&value), ok, "{value}");
            assert_eq!(base64url_len(&value) == Some(16), ok, "{value}");
        }
    }

    #[test]
    fn near() {
        agree(
            NEAR,
            |v| parse_near(v).is_some(),
            &[
                "52.2297,21.0122",
                "90,180",
                "-90,-180",
                "90.0,180.00",
                "90.1,0",
                "0,180.5",
                "91,0",
                "0,181",
                "05,1",
                "1e2,3",
                "abc",
                "52.2297",
                "52.,1",
                ".5,1",
                "-0,-0",
                " 52,21",
                "52, 21",
                "89.999,179.9",
            ],
        );
        assert_eq!(parse_near("52.5,-1.25"), Some((52.5, -1.25)));
    }

    #[test]
    fn idempotency_keys_and_numbers() {
        agree(IDEMPOTENCY_KEY, is_idempotency_key, &["k-1", "", " ", "a b", "é", &"k".repeat(255), &"k".repeat(256)]);
        agree(ORDER_NUMBER, is_order_number, &["1A2B3C4D", "1a2b", "", "A-1", &"A".repeat(33)]);
    }
}
