//! SMS through Infobip's SMS API, and its delivery reports.
//!
//! Sending: `POST {base}/sms/2/text/advanced` with `Authorization: App <key>` and a JSON body;
//! our notification id is the `messageId`, so reports name it directly. Infobip does not sign
//! delivery reports, so the report URL carries a token (`INFOBIP_REPORT_TOKEN`) that is checked
//! on every report.

use serde_json::json;

use super::channels::Delivery;

pub struct Infobip {
    base_url: String,
    api_key: String,
    from: Option<String>,
    report_url: Option<String>,
    agent: ureq::Agent,
}

/// Where Infobip posts delivery reports.
pub fn report_url(public_base_url: &str, token: &str) -> String {
    format!("{public_base_url}/v1/notifications/callbacks/infobip?token={token}")
}

impl Infobip {
    pub fn new(base_url: &str, api_key: &str, from: Option<&str>, report_url: Option<String>) -> Infobip {
        let agent = super::channels::http_agent();
        Infobip {
            base_url: base_url.trim_end_matches('/').to_string(),
            api_key: api_key.to_string(),
            from: from.map(String::from),
            report_url,
            agent,
        }
    }

    /// Sends one SMS with `message_id` as Infobip's message id. 2xx is accepted; 429 and 5xx
    /// are worth a retry; other answers (a bad number, bad credentials) are final.
    pub fn send(&self, to: &str, text: &str, message_id: &str) -> Delivery {
        let mut message = json!({
            "destinations": [{"to": to.trim_start_matches('+'), "messageId": message_id}],
            "text": text,
        });
        if let Some(from) = &self.from {
            message["from"] = json!(from);
        }
        if let Some(url) = &self.report_url {
            message["notifyUrl"] = json!(url);
            message["notifyContentType"] = json!("application/json");
        }
        let body = json!({"messages": [message]}).to_string();
        let result = self
            .agent
            .post(format!("{}/sms/2/text/advanced", self.base_url))
            .header("Authorization", format!("App {}", self.api_key))
            .header("Content-Type", "application/json")
            .header("Accept", "application/json")
            .send(&body);
        match result {
            Ok(response) => match response.status().as_u16() {
                200..=299 => Delivery::Sent { provider_ref: Some(message_id.to_string()) },
                status @ (429 | 500..=599) => Delivery::Transient(format!("Infobip answered {status}")),
                status => Delivery::Permanent(format!("Infobip refused with {status}")),
            },
            Err(error) => Delivery::Transient(format!("could not reach Infobip: {error}")),
        }
    }
}
