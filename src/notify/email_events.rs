//! Email events from a mail provider: where the mail goes out through a provider's SMTP relay
//! (SendGrid, say), the provider tells what became of each message in its event webhook. We
//! read SendGrid's Event Webhook format, a JSON array of `{event, "smtp-id", …}`, which other
//! providers' adapters can post too. The message is named by its `smtp-id`, the `Message-ID`
//! we gave it (`<notification id@domain>`). The webhook URL carries a token
//! (`EMAIL_EVENTS_TOKEN`), checked on every post.
//!
//! `delivered` makes the email `delivered`; `open` and `click` make it `opened` (so the
//! `email>sms@24h` fallback holds the SMS back, as the pixel does); `bounce` and `dropped`
//! make it `failed`. Other events (processed, deferred, spam reports) change nothing.

use super::outbox::{DeliveryStatus, Receipt};
use crate::error::ApiError;

/// Reads a provider's event post after checking its token.
pub fn receipts(expected: Option<&str>, token: &str, body: &[u8]) -> Result<Vec<Receipt>, ApiError> {
    let Some(expected) = expected else {
        return Err(ApiError::NotFound("no email events are taken here (EMAIL_EVENTS_TOKEN)".into()));
    };
    if !crate::crypto::same(token, expected) {
        return Err(ApiError::Unauthorized("the events token does not match".into()));
    }
    let events: Vec<serde_json::Value> = serde_json::from_slice(body)
        .map_err(|e| ApiError::MalformedJson(format!("not a JSON array of events: {e}")))?;
    Ok(events
        .iter()
        .filter_map(|event| {
            let id = event["smtp-id"].as_str()?.trim().trim_start_matches('<').trim_end_matches('>');
            let reference = id.split_once('@').map(|(id, _)| id).unwrap_or(id).to_string();
            let (status, error) = match event["event"].as_str()? {
                "delivered" => (DeliveryStatus::Delivered, None),
                "open" | "click" => (DeliveryStatus::Opened, None),
                "bounce" | "dropped" => {
                    let why = event["reason"].as_str().unwrap_or("no reason given");
                    (DeliveryStatus::Failed, Some(format!("the mail provider reported it {}: {why}", event["event"])))
                }
                _ => return None,
            };
            Some(Receipt { reference, status, error })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_name_the_notification_by_its_message_id() {
        let body = br#"[
            {"event": "processed", "smtp-id": "<n1@shop.example>"},
            {"event": "delivered", "smtp-id": "<n1@shop.example>"},
            {"event": "open", "smtp-id": "<n2@shop.example>"},
            {"event": "bounce", "smtp-id": "<n3@shop.example>", "reason": "550 no such user"},
            {"event": "open"}
        ]"#;
        let read = receipts(Some("token0123456789abcd"), "token0123456789abcd", body).unwrap();
        let seen: Vec<(&str, DeliveryStatus)> = read.iter().map(|r| (r.reference.as_str(), r.status)).collect();
        assert_eq!(
            seen,
            [("n1", DeliveryStatus::Delivered), ("n2", DeliveryStatus::Opened), ("n3", DeliveryStatus::Failed)]
        );
        assert!(read[2].error.as_deref().unwrap().contains("550 no such user"));
        assert!(matches!(receipts(Some("token0123456789abcd"), "wrong", body), Err(ApiError::Unauthorized(_))));
        assert!(matches!(receipts(None, "x", body), Err(ApiError::NotFound(_))));
    }
}
