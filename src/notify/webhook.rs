//! The webhook channel: a JSON POST to the customer's URL, signed so the receiver can tell it
//! came from us and was not replayed.
//!
//! Signature: `X-Clickcollect-Signature: v1=<hex HMAC-SHA256(WEBHOOK_SECRET, "<timestamp>.<body>")>`
//! with the Unix time in `X-Clickcollect-Timestamp`. `Idempotency-Key` carries the
//! notification's dedupe key, so a receiver can drop a repeat after a crash-and-retry.

use super::providers::{delivery, unreachable, Delivery};
use super::templates::ShortMessage;
use crate::orders::events::Event;

pub const SIGNATURE_HEADER: &str = "X-Clickcollect-Signature";
pub const TIMESTAMP_HEADER: &str = "X-Clickcollect-Timestamp";

pub struct Webhook {
    secret: Vec<u8>,
    agent: ureq::Agent,
}

/// `v1=` and the hex HMAC-SHA256 of `"<timestamp>.<body>"`.
pub fn sign(secret: &[u8], timestamp: i64, body: &str) -> String {
    let mac = crate::crypto::hmac_sha256(secret, &[timestamp.to_string().as_bytes(), b".", body.as_bytes()]);
    format!("v1={}", crate::crypto::hex(&mac))
}

/// The JSON a webhook receiver gets: the event, the order's state, and the message in the
/// customer's language for receivers that pass it on (a chat app, a CRM).
pub fn body(
    id: &str,
    event: Event,
    occurred_at: chrono::DateTime<chrono::Utc>,
    customer_id: &str,
    order: serde_json::Value,
    message: &ShortMessage,
) -> String {
    serde_json::json!({
        "id": id,
        "event": event.as_str(),
        "occurred_at": occurred_at,
        "customer_id": customer_id,
        "order": order,
        "message": message,
    })
    .to_string()
}

/// The JSON body of a webhook notification not about an order: `about` in place of `order`
/// (its `subject`, `sku`, `location`, and a hold's `until`).
pub fn body_about(
    id: &str,
    event: Event,
    occurred_at: chrono::DateTime<chrono::Utc>,
    customer_id: &str,
    about: serde_json::Value,
    message: &ShortMessage,
) -> String {
    serde_json::json!({
        "id": id,
        "event": event.as_str(),
        "occurred_at": occurred_at,
        "customer_id": customer_id,
        "about": about,
        "message": message,
    })
    .to_string()
}

impl Webhook {
    /// `agent`: `providers::customer_agent`, since the URL is the customer's.
    pub fn new(secret: &str, agent: ureq::Agent) -> Webhook {
        Webhook { secret: secret.as_bytes().to_vec(), agent }
    }

    /// POSTs the body. Network failures are worth a retry; what an answer means is
    /// `providers::answered`'s to say.
    pub fn send(&self, url: &str, body: &str, dedupe_key: &str) -> Delivery {
        let timestamp = chrono::Utc::now().timestamp();
        let result = self
            .agent
            .post(url)
            .header("Content-Type", "application/json")
            .header(TIMESTAMP_HEADER, timestamp.to_string())
            .header(SIGNATURE_HEADER, sign(&self.secret, timestamp, body))
            .header("Idempotency-Key", dedupe_key)
            .send(body);
        match result {
            Ok(response) => delivery(response.status().as_u16(), "the receiver", || None),
            Err(error) => unreachable(&error, "a customer's webhook"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_covers_timestamp_and_body() {
        let a = sign(b"secret", 1_700_000_000, r#"{"a":1}"#);
        assert!(a.starts_with("v1=") && a.len() == 3 + 64);
        assert_ne!(a, sign(b"secret", 1_700_000_001, r#"{"a":1}"#));
        assert_ne!(a, sign(b"secret", 1_700_000_000, r#"{"a":2}"#));
        assert_ne!(a, sign(b"other", 1_700_000_000, r#"{"a":1}"#));
    }
}
