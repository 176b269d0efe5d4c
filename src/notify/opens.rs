//! Email opens: the HTML part of an email carries a one-pixel image whose address is signed
//! for that notification, and fetching it records the email as `opened`. It is how the
//! `email>sms@24h` fallback knows the SMS is not needed. Only where the deployment allows it
//! (`EMAIL_OPEN_TRACKING`, and a `PUBLIC_BASE_URL` to point at) and for customers who have not
//! refused it (`email_tracking: false`). Mail clients that block remote images never report an
//! open: the fallback then sends the SMS, which is the safe side.

use crate::crypto::{hex, hmac_sha256, same};

/// The transparent 1×1 GIF answered for the pixel.
pub const PIXEL_GIF: &[u8] = &[
    0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff,
    0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x02,
    0x02, 0x44, 0x01, 0x00, 0x3b,
];

/// The signature in notification `id`'s pixel address: nobody else can mark it opened.
pub fn signature(key: &[u8], id: &str) -> String {
    hex(&hmac_sha256(key, &[b"email-open:", id.as_bytes()])[..16])
}

pub fn signature_matches(key: &[u8], id: &str, given: &str) -> bool {
    same(given, &signature(key, id))
}

/// The pixel's address for notification `id`.
pub fn pixel_url(base: &str, key: &[u8], id: &str) -> String {
    format!("{base}/v1/notifications/{id}/opened/{}", signature(key, id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_notifications_own_signature_opens_it() {
        let url = pixel_url("https://shop.example", b"key", "n-1");
        let sig = url.rsplit('/').next().unwrap();
        assert!(signature_matches(b"key", "n-1", sig));
        assert!(!signature_matches(b"key", "n-2", sig));
        assert!(!signature_matches(b"other", "n-1", sig));
        assert_eq!(PIXEL_GIF.len(), 43);
    }
}
