//! WhatsApp through the providers we already speak: Twilio (its Messages API with
//! `whatsapp:` addresses and a Content template) and Infobip (its WhatsApp template API).
//! A business may open a conversation only with a template WhatsApp approved beforehand, so
//! every message is a template, chosen per event and language (`WHATSAPP_TEMPLATES`), and
//! filled with the event's variables in a fixed order (`variables`). An event or language
//! without an approved template is not sent: it is suppressed, naming the missing template.
//!
//! Receipts come the way the provider's SMS receipts do (Twilio's signed status callbacks,
//! Infobip's reports with their token), with WhatsApp's `read` (Twilio) or `SEEN` (Infobip)
//! making the message `opened`.

use std::collections::HashMap;

use serde_json::json;

use super::locale::Lang;
use super::providers::{http_agent, Delivery};
use crate::config::{ConfigError, InfobipSettings, TwilioSettings};
use crate::orders::events::Event;

/// The approved template per (event, language): a Twilio Content SID (`HX…`) or an Infobip
/// template name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Templates(HashMap<(Event, &'static str), String>);

impl Templates {
    /// Reads `event.lang=template` entries, comma-separated:
    /// `ready_for_pickup.en=HX0123,ready_for_pickup.pl=HX4567`.
    pub fn parse(text: &str) -> Result<Templates, String> {
        let mut map = HashMap::new();
        for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (key, template) =
                entry.split_once('=').ok_or_else(|| format!("{entry:?} is not event.lang=template"))?;
            let (event, lang) = key.split_once('.').ok_or_else(|| format!("{key:?} is not event.lang"))?;
            let event = Event::from_stored(event.trim()).map_err(|_| format!("{event:?} is not an event"))?;
            let lang = Lang::from_tag(lang.trim())
                .filter(|l| l.tag() == lang.trim())
                .ok_or_else(|| format!("{lang:?} is not one of en, pl, es, ru, ar"))?;
            let template = template.trim();
            if template.is_empty() || template.len() > 512 || template.chars().any(char::is_control) {
                return Err(format!("the template of {key} is empty or not plain text"));
            }
            map.insert((event, lang.tag()), template.to_string());
        }
        Ok(Templates(map))
    }

    pub fn get(&self, event: Event, lang: Lang) -> Option<&str> {
        self.0.get(&(event, lang.tag())).map(String::as_str)
    }
}

/// What fills an event's template, in order ({{1}}, {{2}}, …). Fixed per event, so the
/// templates approved for it can rely on it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    /// The order number; for a message not about an order, the product.
    pub subject: String,
    pub store: String,
    pub code: Option<String>,
    pub deadline: Option<String>,
    pub tracking: Option<String>,
    pub arrives: Option<String>,
    pub until: Option<String>,
}

/// The variables of an event's template, in order.
pub fn variables(event: Event, facts: &Facts) -> Vec<String> {
    let text = |value: &Option<String>| value.clone().unwrap_or_default();
    let (subject, store) = (facts.subject.clone(), facts.store.clone());
    match event {
        Event::ReadyForPickup | Event::PickupReminder => {
            vec![subject, store, text(&facts.code), text(&facts.deadline)]
        }
        Event::OnItsWay => vec![subject, store, text(&facts.arrives)],
        Event::HoldReminder => vec![subject, store, text(&facts.until)],
        Event::Shipped | Event::Delivered => vec![subject, text(&facts.tracking)],
        Event::OrderConfirmed | Event::Collected | Event::BackInStock => vec![subject, store],
        Event::Cancelled | Event::Expired | Event::Returned => vec![subject],
    }
}

pub enum WhatsApp {
    Twilio {
        settings: TwilioSettings,
        callback_url: Option<String>,
        templates: Templates,
        agent: ureq::Agent,
        /// Checks and reads status callbacks, as for SMS through the same account.
        receipts: super::twilio::Twilio,
    },
    Infobip {
        base_url: String,
        api_key: String,
        from: String,
        report_url: Option<String>,
        templates: Templates,
        agent: ureq::Agent,
        /// Checks and reads reports, as for SMS through the same account.
        receipts: super::infobip::Infobip,
    },
}

impl WhatsApp {
    pub fn twilio(settings: TwilioSettings, public_base_url: Option<&str>, templates: Templates) -> WhatsApp {
        let callback_url = public_base_url.map(super::twilio::callback_url);
        let receipts = super::twilio::Twilio::new(settings.clone(), public_base_url);
        WhatsApp::Twilio { settings, callback_url, templates, agent: http_agent(), receipts }
    }

    pub fn infobip(
        settings: &InfobipSettings,
        from: String,
        public_base_url: Option<&str>,
        templates: Templates,
    ) -> WhatsApp {
        let report_url = public_base_url
            .zip(settings.report_token.as_ref())
            .map(|(base, token)| super::infobip::report_url(base, token.expose()));
        WhatsApp::Infobip {
            base_url: settings.base_url.trim_end_matches('/').to_string(),
            api_key: settings.api_key.expose().to_string(),
            from,
            report_url,
            templates,
            agent: http_agent(),
            receipts: super::infobip::Infobip::new(settings, public_base_url),
        }
    }

    /// The Twilio account's callback checker, when WhatsApp goes through Twilio.
    pub fn twilio_receipts(&self) -> Option<&super::twilio::Twilio> {
        match self {
            WhatsApp::Twilio { receipts, .. } => Some(receipts),
            WhatsApp::Infobip { .. } => None,
        }
    }

    /// The Infobip account's report checker, when WhatsApp goes through Infobip.
    pub fn infobip_receipts(&self) -> Option<&super::infobip::Infobip> {
        match self {
            WhatsApp::Infobip { receipts, .. } => Some(receipts),
            WhatsApp::Twilio { .. } => None,
        }
    }

    fn templates(&self) -> &Templates {
        match self {
            WhatsApp::Twilio { templates, .. } | WhatsApp::Infobip { templates, .. } => templates,
        }
    }

    /// Why an event in a language cannot go out: no approved template for it.
    pub fn missing_template(&self, event: Event, lang: Lang) -> Option<String> {
        self.templates().get(event, lang).is_none().then(|| {
            format!("no approved WhatsApp template for {} in {} (WHATSAPP_TEMPLATES)", event.as_str(), lang.tag())
        })
    }

    /// Sends the event's template to `to` (E.164). `message_id` is ours: Infobip carries it,
    /// so its reports name the notification.
    pub fn send(&self, to: &str, event: Event, lang: Lang, values: &[String], message_id: &str) -> Delivery {
        let Some(template) = self.templates().get(event, lang) else {
            return Delivery::Permanent(self.missing_template(event, lang).unwrap_or_default());
        };
        match self {
            WhatsApp::Twilio { settings, callback_url, agent, .. } => {
                twilio_send(settings, callback_url.as_deref(), agent, to, template, values)
            }
            WhatsApp::Infobip { base_url, api_key, from, report_url, agent, .. } => {
                let mut message = json!({
                    "from": from,
                    "to": to.trim_start_matches('+'),
                    "messageId": message_id,
                    "content": {
                        "templateName": template,
                        "templateData": {"body": {"placeholders": values}},
                        "language": lang.tag(),
                    },
                });
                if let Some(url) = report_url {
                    message["notifyUrl"] = json!(url);
                }
                let path = "/whatsapp/1/message/template";
                super::infobip::post_messages(agent, base_url, api_key, path, message, message_id)
            }
        }
    }
}

/// Twilio: the Messages API with `whatsapp:` addresses, a `ContentSid` and its
/// `ContentVariables` (`{"1": …, "2": …}`).
fn twilio_send(
    settings: &TwilioSettings,
    callback_url: Option<&str>,
    agent: &ureq::Agent,
    to: &str,
    template: &str,
    values: &[String],
) -> Delivery {
    let variables: serde_json::Map<String, serde_json::Value> =
        values.iter().enumerate().map(|(i, v)| ((i + 1).to_string(), json!(v))).collect();
    let (to, from) = (format!("whatsapp:{to}"), format!("whatsapp:{}", settings.from));
    let variables = serde_json::Value::Object(variables).to_string();
    let mut form =
        vec![("To", to.as_str()), ("From", from.as_str()), ("ContentSid", template), ("ContentVariables", &variables)];
    if let Some(callback) = callback_url {
        form.push(("StatusCallback", callback));
    }
    super::twilio::post_message(settings, agent, &form, "WhatsApp message")
}

/// Checks `WHATSAPP_TEMPLATES`, naming the variable.
pub fn templates_from(text: Option<&str>) -> Result<Templates, ConfigError> {
    Templates::parse(text.unwrap_or_default()).map_err(|message| ConfigError::new("WHATSAPP_TEMPLATES", message))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_are_read_per_event_and_language() {
        let templates =
            Templates::parse("ready_for_pickup.en=HX01, ready_for_pickup.pl = HX02,back_in_stock.ar=alert_ar").unwrap();
        assert_eq!(templates.get(Event::ReadyForPickup, Lang::En), Some("HX01"));
        assert_eq!(templates.get(Event::ReadyForPickup, Lang::Pl), Some("HX02"));
        assert_eq!(templates.get(Event::BackInStock, Lang::Ar), Some("alert_ar"));
        assert_eq!(templates.get(Event::ReadyForPickup, Lang::Es), None);
        assert!(Templates::parse("").unwrap().get(Event::Shipped, Lang::En).is_none());
        for bad in ["ready_for_pickup=HX", "nonsense.en=HX", "shipped.de=HX", "shipped.en="] {
            assert!(Templates::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn every_event_fills_its_template_in_a_fixed_order() {
        let facts = Facts {
            subject: "7F3A9C21".into(),
            store: "Warsaw Centre".into(),
            code: Some("K7M2Q9TX4B".into()),
            deadline: Some("25.11 21:00".into()),
            ..Default::default()
        };
        assert_eq!(
            variables(Event::ReadyForPickup, &facts),
            ["7F3A9C21", "Warsaw Centre", "K7M2Q9TX4B", "25.11 21:00"]
        );
        assert_eq!(variables(Event::Cancelled, &facts), ["7F3A9C21"]);
        for &event in <Event as strum::VariantArray>::VARIANTS {
            assert_eq!(variables(event, &facts)[0], "7F3A9C21", "{event:?} starts with what it is about");
        }
    }
}
