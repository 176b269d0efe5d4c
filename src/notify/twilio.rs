//! SMS through Twilio's Messages API, and its status callbacks, read and checked here.
//!
//! Sending: `POST {api_base}/2010-04-01/Accounts/{sid}/Messages.json` with basic auth and a
//! form body (`To`, `From`, `Body`, `StatusCallback`). Status callbacks are signed: Twilio
//! sends `X-Twilio-Signature`, the base64 HMAC-SHA1 (keyed with the auth token) of the full
//! callback URL followed by every POST parameter, sorted by name, as name and value joined.

use base64::Engine;

use super::outbox::{DeliveryStatus, Receipt};
use super::providers::{answered, http_agent, Answered, Delivery};
use crate::config::TwilioSettings;
use crate::error::ApiError;

pub struct Twilio {
    settings: TwilioSettings,
    callback_url: Option<String>,
    agent: ureq::Agent,
}

/// Where Twilio sends status callbacks, given the public base URL.
pub fn callback_url(public_base_url: &str) -> String {
    format!("{public_base_url}/v1/notifications/callbacks/twilio")
}

/// The expected `X-Twilio-Signature` for a callback to `url` with these form parameters.
pub fn signature(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    let mut parts: Vec<&[u8]> = vec![url.as_bytes()];
    for (name, value) in sorted {
        parts.extend([name.as_bytes(), value.as_bytes()]);
    }
    base64::engine::general_purpose::STANDARD.encode(crate::crypto::hmac_sha1(auth_token.as_bytes(), &parts))
}

/// POSTs one message's form to the Messages API (SMS and WhatsApp alike). 201 with the
/// message `sid` (kept as `provider_ref` to match receipts); 400 is final (an invalid number,
/// say); what is retried is `providers::answered`'s to say. `what` names it in errors.
pub fn post_message(settings: &TwilioSettings, agent: &ureq::Agent, form: &[(&str, &str)], what: &str) -> Delivery {
    let url = format!("{}/2010-04-01/Accounts/{}/Messages.json", settings.api_base, settings.account_sid);
    let credentials = base64::engine::general_purpose::STANDARD.encode(format!(
        "{}:{}",
        settings.account_sid,
        settings.auth_token.expose()
    ));
    let encoded = serde_urlencoded::to_string(form).unwrap_or_default();
    let result = agent
        .post(&url)
        .header("Authorization", format!("Basic {credentials}"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .send(&encoded);
    let mut response = match result {
        Ok(response) => response,
        Err(error) => return Delivery::Transient(format!("could not reach Twilio: {error}")),
    };
    let status = response.status().as_u16();
    let answer: serde_json::Value =
        response.body_mut().read_to_string().ok().and_then(|text| serde_json::from_str(&text).ok()).unwrap_or_default();
    match answered(status) {
        Answered::Accepted => Delivery::Sent { provider_ref: answer["sid"].as_str().map(String::from) },
        Answered::Retry => Delivery::Transient(format!("Twilio answered {status}")),
        Answered::Refused => Delivery::Permanent(format!(
            "Twilio refused the {what} ({status}, code {}): {}",
            answer["code"],
            answer["message"].as_str().unwrap_or("no message")
        )),
    }
}

impl Twilio {
    pub fn new(settings: TwilioSettings, public_base_url: Option<&str>) -> Twilio {
        let agent = http_agent();
        Twilio { settings, callback_url: public_base_url.map(callback_url), agent }
    }

    /// Sends one SMS. Twilio's answer: 201 with the message `sid` (kept as `provider_ref`
    /// to match delivery receipts); 400 is final (an invalid number, say); what is retried is
    /// `providers::answered`'s to say.
    pub fn send(&self, to: &str, body: &str) -> Delivery {
        let mut form = vec![("To", to), ("From", self.settings.from.as_str()), ("Body", body)];
        if let Some(callback) = &self.callback_url {
            form.push(("StatusCallback", callback.as_str()));
        }
        post_message(&self.settings, &self.agent, &form, "message")
    }

    /// Reads a status callback (a form body) after checking its `X-Twilio-Signature`
    /// (`signature`) against the callback URL we gave Twilio. Statuses with nothing new to
    /// record (queued, sending, accepted, scheduled) read as no receipt.
    pub fn receipts(&self, signature: &str, body: &[u8]) -> Result<Vec<Receipt>, ApiError> {
        let Some(url) = &self.callback_url else {
            return Err(ApiError::NotFound("no delivery receipts are taken from twilio here".into()));
        };
        let params: Vec<(String, String)> =
            serde_urlencoded::from_bytes(body).map_err(|e| ApiError::MalformedJson(format!("not a form body: {e}")))?;
        let expected = self::signature(self.settings.auth_token.expose(), url, &params);
        if !crate::crypto::same(signature, &expected) {
            return Err(ApiError::Unauthorized("the X-Twilio-Signature does not match".into()));
        }
        let field = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        let (Some(reference), Some(status)) = (field("MessageSid"), field("MessageStatus")) else {
            return Err(ApiError::validation("MessageStatus", "MessageSid and MessageStatus are required"));
        };
        let receipt = |status, error| vec![Receipt { reference: reference.clone(), status, error }];
        Ok(match status.as_str() {
            "sent" => receipt(DeliveryStatus::Sent, None),
            "delivered" => receipt(DeliveryStatus::Delivered, None),
            "read" => receipt(DeliveryStatus::Opened, None),
            "undelivered" | "failed" => {
                let error = format!("the carrier reported {status} (error {})", field("ErrorCode").unwrap_or_default());
                receipt(DeliveryStatus::Failed, Some(error))
            }
            _ => vec![],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example from Twilio's security documentation.
    #[test]
    fn signatures_match_twilios_documented_example() {
        let params: Vec<(String, String)> = [
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+12349013030"),
            ("Digits", "1234"),
            ("From", "+12349013030"),
            ("To", "+18005551212"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
        assert_eq!(signature("12345", url, &params), "0/KCTR6DLpKmkAf8muzZqo1nDgQ=");
    }
}
