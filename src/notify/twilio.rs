//! SMS through Twilio's Messages API, and the checks on its status callbacks.
//!
//! Sending: `POST {api_base}/2010-04-01/Accounts/{sid}/Messages.json` with basic auth and a
//! form body (`To`, `From`, `Body`, `StatusCallback`). Status callbacks are signed: Twilio
//! sends `X-Twilio-Signature`, the base64 HMAC-SHA1 (keyed with the auth token) of the full
//! callback URL followed by every POST parameter, sorted by name, as name and value joined.

use base64::Engine;

use super::channels::Delivery;
use crate::config::TwilioSettings;

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

impl Twilio {
    pub fn new(settings: TwilioSettings, public_base_url: Option<&str>) -> Twilio {
        let agent = super::channels::http_agent();
        Twilio { settings, callback_url: public_base_url.map(callback_url), agent }
    }

    pub fn auth_token(&self) -> &str {
        self.settings.auth_token.expose()
    }

    /// Sends one SMS. Twilio's answer: 201 with the message `sid` (kept as `provider_ref`
    /// to match delivery receipts); 400 is final (an invalid number, say); 429 and 5xx are
    /// worth a retry.
    pub fn send(&self, to: &str, body: &str) -> Delivery {
        let url = format!("{}/2010-04-01/Accounts/{}/Messages.json", self.settings.api_base, self.settings.account_sid);
        let credentials = base64::engine::general_purpose::STANDARD.encode(format!(
            "{}:{}",
            self.settings.account_sid,
            self.settings.auth_token.expose()
        ));
        let mut form = vec![("To", to), ("From", self.settings.from.as_str()), ("Body", body)];
        if let Some(callback) = &self.callback_url {
            form.push(("StatusCallback", callback.as_str()));
        }
        let encoded = serde_urlencoded::to_string(&form).unwrap_or_default();
        let result = self
            .agent
            .post(&url)
            .header("Authorization", format!("Basic {credentials}"))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .send(&encoded);
        let mut response = match result {
            Ok(response) => response,
            Err(error) => return Delivery::Transient(format!("could not reach Twilio: {error}")),
        };
        let status = response.status().as_u16();
        let answer: serde_json::Value = response
            .body_mut()
            .read_to_string()
            .ok()
            .and_then(|text| serde_json::from_str(&text).ok())
            .unwrap_or_default();
        match status {
            200..=299 => Delivery::Sent { provider_ref: answer["sid"].as_str().map(String::from) },
            429 | 500..=599 => Delivery::Transient(format!("Twilio answered {status}")),
            _ => Delivery::Permanent(format!(
                "Twilio refused ({status}, code {}): {}",
                answer["code"],
                answer["message"].as_str().unwrap_or("no message")
            )),
        }
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
