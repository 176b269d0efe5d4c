//! SMS through Infobip's SMS API, and its delivery reports, read and checked here.
//!
//! Sending: `POST {base}/sms/2/text/advanced` with `Authorization: App <key>` and a JSON body;
//! our notification id is the `messageId`, so reports name it directly. Infobip does not sign
//! delivery reports, so the report URL carries a token (`INFOBIP_REPORT_TOKEN`) that is checked
//! on every report.

use serde_json::json;

use super::outbox::{DeliveryStatus, Receipt};
use super::providers::{delivery, http_agent, Delivery};
use crate::config::{InfobipSettings, Secret};
use crate::error::ApiError;

pub struct Infobip {
    base_url: String,
    api_key: Secret,
    from: Option<String>,
    /// What every delivery report must carry, when reports are taken.
    report_token: Option<Secret>,
    /// Where Infobip is asked to post reports: needs the token and `PUBLIC_BASE_URL`.
    report_url: Option<String>,
    agent: ureq::Agent,
}

/// Where Infobip posts delivery reports.
pub fn report_url(public_base_url: &str, token: &str) -> String {
    format!("{public_base_url}/v1/notifications/callbacks/infobip?token={token}")
}

/// POSTs one message to one of Infobip's APIs (`{"messages": [message]}`); our id is its
/// `messageId`, kept as the provider reference.
pub fn post_messages(
    agent: &ureq::Agent,
    base_url: &str,
    api_key: &str,
    path: &str,
    message: serde_json::Value,
    message_id: &str,
) -> Delivery {
    let body = json!({"messages": [message]}).to_string();
    let result = agent
        .post(format!("{base_url}{path}"))
        .header("Authorization", format!("App {api_key}"))
        .header("Content-Type", "application/json")
        .header("Accept", "application/json")
        .send(&body);
    match result {
        Ok(response) => delivery(response.status().as_u16(), "Infobip", || Some(message_id.to_string())),
        Err(error) => Delivery::Transient(format!("could not reach Infobip: {error}")),
    }
}

impl Infobip {
    pub fn new(settings: &InfobipSettings, public_base_url: Option<&str>) -> Infobip {
        let report_url =
            public_base_url.zip(settings.report_token.as_ref()).map(|(base, token)| report_url(base, token.expose()));
        Infobip {
            base_url: settings.base_url.trim_end_matches('/').to_string(),
            api_key: settings.api_key.clone(),
            from: settings.from.clone(),
            report_token: settings.report_token.clone(),
            report_url,
            agent: http_agent(),
        }
    }

    /// Sends one SMS with `message_id` as Infobip's message id. What is accepted, retried or
    /// final (a bad number, bad credentials) is `providers::answered`'s to say.
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
        post_messages(&self.agent, &self.base_url, self.api_key.expose(), "/sms/2/text/advanced", message, message_id)
    }

    /// Reads a JSON delivery report after checking the `token` it came with (Infobip does not
    /// sign its reports). Groups other than delivered and the failures read as no receipt.
    pub fn receipts(&self, token: &str, body: &[u8]) -> Result<Vec<Receipt>, ApiError> {
        let Some(expected) = &self.report_token else {
            return Err(ApiError::NotFound("no delivery receipts are taken from infobip here".into()));
        };
        if !crate::crypto::same(token, expected.expose()) {
            return Err(ApiError::Unauthorized("the report token does not match".into()));
        }
        let report: serde_json::Value =
            serde_json::from_slice(body).map_err(|e| ApiError::MalformedJson(format!("not a JSON report: {e}")))?;
        let results = report["results"].as_array().ok_or_else(|| ApiError::validation("results", "is required"))?;
        Ok(results
            .iter()
            .filter_map(|result| {
                let reference = result["messageId"].as_str()?.to_string();
                // A WhatsApp seen report: the message was read.
                if result["seenAt"].is_string() {
                    return Some(Receipt { reference, status: DeliveryStatus::Opened, error: None });
                }
                let group = result["status"]["groupName"].as_str().unwrap_or("");
                match group {
                    "DELIVERED" => Some(Receipt { reference, status: DeliveryStatus::Delivered, error: None }),
                    "UNDELIVERABLE" | "EXPIRED" | "REJECTED" => {
                        let detail = result["status"]["description"].as_str().unwrap_or(group);
                        let error = Some(format!("Infobip reported {group}: {detail}"));
                        Some(Receipt { reference, status: DeliveryStatus::Failed, error })
                    }
                    _ => None,
                }
            })
            .collect())
    }
}
