//! WhatsApp through Twilio and Infobip, against real HTTP servers speaking their protocols:
//! an approved template per event and language filled in a fixed order, `whatsapp:` addresses
//! and a Content template at Twilio, Infobip's template API, signed or tokened receipts up to
//! `opened` (read or seen), and an event or language without an approved template suppressed
//! with the reason. Viber through Infobip's Viber API likewise, as text.

mod common;

use actix_web::http::Method;
use common::notify::{customer_profile as profile, customer_with, place_order, twilio_signature, TWILIO_TOKEN};
use common::receiver::receiver_with;
use common::{run_sender, Backend, TestApp};
use serde_json::{json, Value};

const BASE: &str = "https://cc.example.test";

async fn notifications(app: &TestApp, order: &str) -> Vec<Value> {
    let list = app.get(&format!("/v1/orders/{order}/notifications"), Some(&app.admin())).await.ok().clone();
    list["items"].as_array().unwrap().clone()
}

fn whatsapp_only() -> Value {
    let mut body = profile(json!({"email": false, "sms": false, "push": false, "webhook": false, "whatsapp": true}));
    body["locale"] = json!("pl-PL");
    body
}

async fn whatsapp_goes_through_twilio_with_approved_templates(backend: Backend) {
    let twilio = receiver_with(vec![
        (201, r#"{"sid": "SMWA0001", "status": "queued"}"#.into()),
        (201, r#"{"sid": "SMWA0002", "status": "queued"}"#.into()),
    ]);
    let base = twilio.url.trim_end_matches("/hook").to_string();
    let settings = [
        ("WHATSAPP_PROVIDER", "twilio"),
        ("TWILIO_ACCOUNT_SID", "AC0123456789"),
        ("TWILIO_AUTH_TOKEN", TWILIO_TOKEN),
        ("TWILIO_API_BASE", base.as_str()),
        ("WHATSAPP_FROM", "+14155238886"),
        ("WHATSAPP_TEMPLATES", "order_confirmed.pl=HXconfirmedpl,ready_for_pickup.pl=HXreadypl"),
        ("PUBLIC_BASE_URL", BASE),
    ];
    let Some(app) = TestApp::spawn_with(backend, &settings).await else { return };
    app.stocked_store("S1", json!({"name": "Kraków Rynek"}), "A", 5).await;
    // WhatsApp needs a number to reach.
    let mut numberless = whatsapp_only();
    numberless.as_object_mut().unwrap().remove("phone");
    let refused = app.put("/v1/customers/ann", Some(&app.customer("ann")), &numberless).await;
    assert_eq!(refused.error_fields(), vec!["channels.whatsapp"]);
    let ann = customer_with(&app, "ann", &whatsapp_only()).await;
    assert_eq!(app.get("/v1/customers/ann", Some(&ann)).await.ok()["channels"]["whatsapp"], true);
    let id = place_order(&app, &ann, "ann").await;
    assert_eq!(run_sender(&app).await, 1);
    let admin = app.admin();
    for step in ["picking", "ready"] {
        app.request(Method::POST, &format!("/v1/orders/{id}/{step}")).bearer(&admin).send().await.ok();
    }
    run_sender(&app).await;
    let code = app.get(&format!("/v1/orders/{id}"), Some(&ann)).await.body["pickup_code"].as_str().unwrap().to_string();
    let number = clickcollect::orders::number_for(&id);

    let requests = twilio.received();
    assert_eq!(requests.len(), 2);
    let form = |i: usize| -> Vec<(String, String)> { serde_urlencoded::from_str(&requests[i].body()).unwrap() };
    let field = |form: &[(String, String)], name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let ready = form(1);
    assert_eq!(requests[1].headers[":path"], "/2010-04-01/Accounts/AC0123456789/Messages.json");
    assert_eq!(field(&ready, "To").as_deref(), Some("whatsapp:+48601234567"));
    assert_eq!(field(&ready, "From").as_deref(), Some("whatsapp:+14155238886"));
    assert_eq!(field(&ready, "ContentSid").as_deref(), Some("HXreadypl"));
    assert_eq!(
        field(&ready, "StatusCallback").as_deref(),
        Some("https://cc.example.test/v1/notifications/callbacks/twilio")
    );
    assert!(field(&ready, "Body").is_none(), "a template, not free text");
    let variables: Value = serde_json::from_str(&field(&ready, "ContentVariables").unwrap()).unwrap();
    assert_eq!(variables["1"], number.as_str());
    assert_eq!(variables["2"], "Kraków Rynek");
    assert_eq!(variables["3"], code.as_str());
    assert!(variables["4"].as_str().unwrap().contains(':'), "the deadline: {variables}");
    assert_eq!(field(&form(0), "ContentSid").as_deref(), Some("HXconfirmedpl"));

    // Receipts: signed, and a read one makes it opened.
    let url = format!("{BASE}/v1/notifications/callbacks/twilio");
    for status in ["delivered", "read"] {
        let params = [("MessageSid", "SMWA0002"), ("MessageStatus", status)];
        let body = serde_urlencoded::to_string(params).unwrap();
        let reply = app
            .request(Method::POST, "/v1/notifications/callbacks/twilio")
            .header("X-Twilio-Signature", &twilio_signature(&url, &params))
            .raw("application/x-www-form-urlencoded", body)
            .send()
            .await;
        assert_eq!(reply.status, 204, "{}", reply.text);
    }
    let forged = app
        .request(Method::POST, "/v1/notifications/callbacks/twilio")
        .header("X-Twilio-Signature", "forged")
        .raw("application/x-www-form-urlencoded", "MessageSid=SMWA0001&MessageStatus=read")
        .send()
        .await;
    forged.assert_problem(401, "unauthorized");
    let sent = notifications(&app, &id).await;
    let ready = sent.iter().find(|n| n["event"] == "ready_for_pickup").unwrap();
    assert_eq!((ready["channel"].as_str(), ready["status"].as_str()), (Some("whatsapp"), Some("opened")));
    assert_eq!(sent.iter().find(|n| n["event"] == "order_confirmed").unwrap()["status"], "sent");

    // No approved template for a cancellation in Polish: not sent, and the reason says why.
    app.request(Method::POST, &format!("/v1/orders/{id}/cancel")).bearer(&admin).send().await.ok();
    run_sender(&app).await;
    let cancelled = notifications(&app, &id).await.into_iter().find(|n| n["event"] == "cancelled").unwrap();
    assert_eq!(cancelled["status"], "suppressed");
    assert!(
        cancelled["error"].as_str().unwrap().contains("no approved WhatsApp template for cancelled in pl"),
        "{cancelled}"
    );
    assert_eq!(twilio.received().len(), 2);
}

async fn whatsapp_goes_through_infobip_and_seen_reports_open_it(backend: Backend) {
    let infobip = receiver_with(vec![(200, r#"{"messages": [{"status": {"groupName": "PENDING"}}]}"#.into())]);
    let base = infobip.url.trim_end_matches("/hook").to_string();
    let settings = [
        ("WHATSAPP_PROVIDER", "infobip"),
        ("INFOBIP_BASE_URL", base.as_str()),
        ("INFOBIP_API_KEY", "infobip-test-key"),
        ("INFOBIP_REPORT_TOKEN", "reporttoken0123456789"),
        ("WHATSAPP_FROM", "48500600700"),
        ("WHATSAPP_TEMPLATES", "order_confirmed.pl=order_confirmed_pl"),
        ("PUBLIC_BASE_URL", BASE),
    ];
    let Some(app) = TestApp::spawn_with(backend, &settings).await else { return };
    app.stocked_store("S1", json!({"name": "Kraków Rynek"}), "A", 5).await;
    let ann = customer_with(&app, "ann", &whatsapp_only()).await;
    let id = place_order(&app, &ann, "ann").await;
    assert_eq!(run_sender(&app).await, 1);
    let notification = notifications(&app, &id).await[0].clone();
    assert_eq!((notification["channel"].as_str(), notification["status"].as_str()), (Some("whatsapp"), Some("sent")));
    let notification_id = notification["id"].as_str().unwrap().to_string();

    let request = infobip.received()[0].clone();
    assert_eq!(request.headers[":path"], "/whatsapp/1/message/template");
    assert_eq!(request.headers["authorization"], "App infobip-test-key");
    let sent: Value = serde_json::from_str(&request.body()).unwrap();
    let message = &sent["messages"][0];
    assert_eq!(message["from"], "48500600700");
    assert_eq!(message["to"], "48601234567");
    assert_eq!(message["messageId"], notification_id.as_str());
    assert_eq!(message["content"]["templateName"], "order_confirmed_pl");
    assert_eq!(message["content"]["language"], "pl");
    let number = clickcollect::orders::number_for(&id);
    assert_eq!(message["content"]["templateData"]["body"]["placeholders"], json!([number, "Kraków Rynek"]));
    assert_eq!(
        message["notifyUrl"],
        "https://cc.example.test/v1/notifications/callbacks/infobip?token=reporttoken0123456789"
    );

    let post = |token: &str, body: Value| {
        app.request(Method::POST, &format!("/v1/notifications/callbacks/infobip?token={token}")).json(&body).send()
    };
    let delivered = json!({"results": [{"messageId": notification_id, "status": {"groupName": "DELIVERED"}}]});
    post("wrong-token-000000000", delivered.clone()).await.assert_problem(401, "unauthorized");
    assert_eq!(post("reporttoken0123456789", delivered).await.status, 204);
    assert_eq!(notifications(&app, &id).await[0]["status"], "delivered");
    let seen = json!({"results": [{"messageId": notification_id, "seenAt": "2026-11-30T12:00:00.000+0000"}]});
    assert_eq!(post("reporttoken0123456789", seen).await.status, 204);
    assert_eq!(notifications(&app, &id).await[0]["status"], "opened");
}

async fn whatsapp_that_is_not_configured_is_suppressed_with_its_settings(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else { return };
    app.stocked_store("S1", json!({}), "A", 5).await;
    let ann = customer_with(&app, "ann", &whatsapp_only()).await;
    let id = place_order(&app, &ann, "ann").await;
    run_sender(&app).await;
    let only = notifications(&app, &id).await[0].clone();
    assert_eq!(only["status"], "suppressed");
    assert!(only["error"].as_str().unwrap().contains("WHATSAPP_PROVIDER"), "{only}");
    // Choosing it is recorded as consent, like any channel.
    let consents = app.get("/v1/customers/ann", Some(&ann)).await.ok()["consents"].clone();
    assert!(
        consents.as_array().unwrap().iter().any(|c| c["channel"] == "whatsapp" && c["granted"] == true),
        "{consents}"
    );
}

async fn viber_goes_through_infobip_as_text(backend: Backend) {
    let infobip = receiver_with(vec![(200, r#"{"messages": [{"status": {"groupName": "PENDING"}}]}"#.into())]);
    let base = infobip.url.trim_end_matches("/hook").to_string();
    let settings = [
        ("VIBER_PROVIDER", "infobip"),
        ("INFOBIP_BASE_URL", base.as_str()),
        ("INFOBIP_API_KEY", "infobip-test-key"),
        ("INFOBIP_REPORT_TOKEN", "reporttoken0123456789"),
        ("VIBER_SENDER", "ClickCollect"),
        ("PUBLIC_BASE_URL", BASE),
    ];
    let Some(app) = TestApp::spawn_with(backend, &settings).await else { return };
    app.stocked_store("S1", json!({"name": "Kraków Rynek"}), "A", 5).await;
    let mut body = profile(json!({"email": false, "sms": false, "push": false, "webhook": false, "viber": true}));
    body["locale"] = json!("pl-PL");
    let ann = customer_with(&app, "ann", &body).await;
    assert_eq!(app.get("/v1/customers/ann", Some(&ann)).await.ok()["channels"]["viber"], true);
    let id = place_order(&app, &ann, "ann").await;
    assert_eq!(run_sender(&app).await, 1);
    let notification = notifications(&app, &id).await[0].clone();
    assert_eq!((notification["channel"].as_str(), notification["status"].as_str()), (Some("viber"), Some("sent")));
    let notification_id = notification["id"].as_str().unwrap().to_string();
    let request = infobip.received()[0].clone();
    assert_eq!(request.headers[":path"], "/viber/2/messages");
    assert_eq!(request.headers["authorization"], "App infobip-test-key");
    let sent: Value = serde_json::from_str(&request.body()).unwrap();
    let message = &sent["messages"][0];
    assert_eq!(message["sender"], "ClickCollect");
    assert_eq!(message["destinations"][0], json!({"to": "48601234567", "messageId": notification_id}));
    assert_eq!(message["content"]["type"], "TEXT");
    let text = message["content"]["text"].as_str().unwrap();
    let number = clickcollect::orders::number_for(&id);
    assert!(text.starts_with(&format!("Zamówienie {number} przyjęte")), "{text}");
    assert!(text.contains("Kraków Rynek"), "{text}");
    let seen = json!({"results": [{"messageId": notification_id, "seenAt": "2026-11-30T12:00:00.000+0000"}]});
    let reply = app
        .request(Method::POST, "/v1/notifications/callbacks/infobip?token=reporttoken0123456789")
        .json(&seen)
        .send()
        .await;
    assert_eq!(reply.status, 204);
    assert_eq!(notifications(&app, &id).await[0]["status"], "opened");
}

on_each_backend!(
    viber_goes_through_infobip_as_text,
    whatsapp_goes_through_twilio_with_approved_templates,
    whatsapp_goes_through_infobip_and_seen_reports_open_it,
    whatsapp_that_is_not_configured_is_suppressed_with_its_settings,
);
