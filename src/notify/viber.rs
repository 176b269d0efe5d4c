//! Viber through Infobip's Viber API: the message as text (Viber takes up to 1000
//! characters, so it is the push's title and body, not the SMS's one segment), sent as a
//! transaction message from the business sender (`VIBER_SENDER`). Our notification id is the
//! `messageId`, so Infobip's reports (to the same tokened callback as SMS) name it; a seen
//! report makes it `opened`.

use serde_json::json;

use super::providers::{http_agent, Delivery};
use crate::config::InfobipSettings;

/// Viber's longest message.
const MAX_CHARS: usize = 1000;

pub struct Viber {
    base_url: String,
    api_key: String,
    sender: String,
    report_url: Option<String>,
    agent: ureq::Agent,
    /// Checks and reads reports, as for SMS through the same account.
    receipts: super::infobip::Infobip,
}

impl Viber {
    /// `settings.from` is the Viber sender (`VIBER_SENDER`).
    pub fn new(settings: &InfobipSettings, public_base_url: Option<&str>) -> Viber {
        let report_url = public_base_url
            .zip(settings.report_token.as_ref())
            .map(|(base, token)| super::infobip::report_url(base, token.expose()));
        Viber {
            base_url: settings.base_url.trim_end_matches('/').to_string(),
            api_key: settings.api_key.expose().to_string(),
            sender: settings.from.clone().unwrap_or_default(),
            report_url,
            agent: http_agent(),
            receipts: super::infobip::Infobip::new(settings, public_base_url),
        }
    }

    pub fn receipts(&self) -> &super::infobip::Infobip {
        &self.receipts
    }

    /// Sends `text` to `to` (E.164) with `message_id` as Infobip's message id.
    pub fn send(&self, to: &str, text: &str, message_id: &str) -> Delivery {
        let text: String = text.chars().take(MAX_CHARS).collect();
        let mut message = json!({
            "sender": self.sender,
            "destinations": [{"to": to.trim_start_matches('+'), "messageId": message_id}],
            "content": {"text": text, "type": "TEXT"},
            "options": {"label": "TRANSACTION"},
        });
        if let Some(url) = &self.report_url {
            message["webhooks"] = json!({"delivery": {"url": url}, "seen": {"url": url}});
        }
        super::infobip::post_messages(
            &self.agent,
            &self.base_url,
            &self.api_key,
            "/viber/2/messages",
            message,
            message_id,
        )
    }
}
