//! SMS through Twilio and Infobip, against real HTTP servers speaking their protocols:
//! sending, signed or tokened receipts, retries, and one segment for the longest message.

mod common;

use actix_web::http::Method;
use common::notify::{
    customer_profile as profile, customer_with, only_notification, place_order, twilio_signature, TWILIO_TOKEN,
};
use common::receiver::receiver_with;
use common::{make_due, run_sender, Backend, TestApp};
use serde_json::{json, Value};

/// SMS through Twilio, its API served at `base`.
fn twilio_settings(base: &str) -> Vec<(&'static str, &str)> {
    vec![
        ("SMS_PROVIDER", "twilio"),
        ("TWILIO_ACCOUNT_SID", "AC0123456789"),
        ("TWILIO_AUTH_TOKEN", TWILIO_TOKEN),
        ("TWILIO_API_BASE", base),
        ("SMS_FROM", "+15005550006"),
    ]
}

async fn receipt(app: &TestApp, params: &[(&str, &str)], signature: &str) -> common::Reply {
    let body = serde_urlencoded::to_string(params).unwrap();
    app.request(Method::POST, "/v1/notifications/callbacks/twilio")
        .header("X-Twilio-Signature", signature)
        .raw("application/x-www-form-urlencoded", body)
        .send()
        .await
}

async fn sms_goes_through_twilio_and_receipts_move_it_forward(backend: common::Backend) {
    let twilio = receiver_with(vec![
        (201, r#"{"sid": "SM0001", "status": "queued"}"#.into()),
        (201, r#"{"sid": "SM0002", "status": "queued"}"#.into()),
        (400, r#"{"code": 21211, "message": "Invalid 'To' Phone Number"}"#.into()),
    ]);
    let base = twilio.url.trim_end_matches("/hook").to_string();
    let mut settings = twilio_settings(&base);
    settings.push(("PUBLIC_BASE_URL", "https://cc.example.test"));
    let Some(app) = TestApp::spawn_with(backend, &settings).await else { return };
    app.stocked_store("S1", json!({"name": "Kraków Rynek", "timezone": "Europe/Warsaw"}), "A", 5).await;
    let ann =
        customer_with(&app, "ann", &profile(json!({"email": false, "sms": true, "push": false, "webhook": false})))
            .await;
    let id = place_order(&app, &ann, "ann").await;
    assert_eq!(run_sender(&app).await, 1);
    let admin = app.admin();
    for step in ["picking", "ready"] {
        app.request(Method::POST, &format!("/v1/orders/{id}/{step}")).bearer(&admin).send().await.ok();
    }
    assert_eq!(run_sender(&app).await, 1, "ready_for_pickup; the reminder is not due yet");
    let code = app.get(&format!("/v1/orders/{id}"), Some(&ann)).await.body["pickup_code"].as_str().unwrap().to_string();

    let requests = twilio.received();
    assert_eq!(requests.len(), 2);
    let short = clickcollect::orders::number_for(&id);
    for request in &requests {
        let (headers, body) = (&request.headers, request.body());
        assert_eq!(headers[":path"], "/2010-04-01/Accounts/AC0123456789/Messages.json");
        use base64::Engine;
        let credentials = base64::engine::general_purpose::STANDARD.encode(format!("AC0123456789:{TWILIO_TOKEN}"));
        assert_eq!(headers["authorization"], format!("Basic {credentials}"));
        let form: std::collections::HashMap<String, String> = serde_urlencoded::from_str(&body).unwrap();
        assert_eq!((form["To"].as_str(), form["From"].as_str()), ("+48601234567", "+15005550006"));
        assert_eq!(form["StatusCallback"], "https://cc.example.test/v1/notifications/callbacks/twilio");
        assert_eq!(clickcollect::notify::sms::segments(&form["Body"]), 1);
        assert!(form["Body"].contains(&short), "{}", form["Body"]);
    }
    let ready_text: std::collections::HashMap<String, String> =
        serde_urlencoded::from_str(&requests[1].body()).unwrap();
    assert!(
        ready_text["Body"].starts_with("Zamowienie") && ready_text["Body"].contains(&code),
        "{}",
        ready_text["Body"]
    );
    assert!(ready_text["Body"].contains("Krakow Rynek"), "{}", ready_text["Body"]);

    let list_path = format!("/v1/orders/{id}/notifications");
    let status_of = |list: &Value, event: &str| {
        list["items"].as_array().unwrap().iter().find(|n| n["event"] == event).unwrap()["status"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(status_of(app.get(&list_path, Some(&ann)).await.ok(), "order_confirmed"), "sent");

    let url = "https://cc.example.test/v1/notifications/callbacks/twilio";
    let delivered = [("MessageSid", "SM0001"), ("MessageStatus", "delivered"), ("AccountSid", "AC0123456789")];
    receipt(&app, &delivered, "forged").await.assert_problem(401, "unauthorized");
    assert_eq!(receipt(&app, &delivered, &twilio_signature(url, &delivered)).await.status, 204);
    let late = [("MessageSid", "SM0001"), ("MessageStatus", "sent")];
    assert_eq!(receipt(&app, &late, &twilio_signature(url, &late)).await.status, 204);
    let undelivered = [("MessageSid", "SM0002"), ("MessageStatus", "undelivered"), ("ErrorCode", "30003")];
    assert_eq!(receipt(&app, &undelivered, &twilio_signature(url, &undelivered)).await.status, 204);
    let list = app.get(&list_path, Some(&ann)).await.ok().clone();
    assert_eq!(status_of(&list, "order_confirmed"), "delivered", "a late 'sent' does not move it back");
    assert_eq!(status_of(&list, "ready_for_pickup"), "failed");
    let failed = list["items"].as_array().unwrap().iter().find(|n| n["event"] == "ready_for_pickup").unwrap().clone();
    assert!(failed["error"].as_str().unwrap().contains("30003"));
    let other =
        app.request(Method::POST, "/v1/notifications/callbacks/infobip").raw("application/json", "{}").send().await;
    other.assert_problem(404, "not-found");

    // Twilio's 400 (an invalid number) is final.
    app.request(Method::POST, &format!("/v1/orders/{id}/cancel")).bearer(&admin).send().await.ok();
    assert_eq!(run_sender(&app).await, 1);
    let list = app.get(&list_path, Some(&ann)).await.ok().clone();
    let cancelled = list["items"].as_array().unwrap().iter().find(|n| n["event"] == "cancelled").unwrap().clone();
    assert_eq!(cancelled["status"], "failed");
    assert!(cancelled["error"].as_str().unwrap().contains("21211"));
}

async fn sms_goes_through_infobip_and_its_reports_are_checked(backend: common::Backend) {
    let infobip = receiver_with(vec![(200, r#"{"messages": [{"status": {"groupName": "PENDING"}}]}"#.into())]);
    let base = infobip.url.trim_end_matches("/hook").to_string();
    let settings = [
        ("SMS_PROVIDER", "infobip"),
        ("INFOBIP_BASE_URL", base.as_str()),
        ("INFOBIP_API_KEY", "infobip-test-key"),
        ("INFOBIP_REPORT_TOKEN", "reporttoken0123456789"),
        ("SMS_FROM", "ClickCollect"),
        ("PUBLIC_BASE_URL", "https://cc.example.test"),
    ];
    let Some(app) = TestApp::spawn_with(backend, &settings).await else { return };
    app.stocked_store("S1", json!({}), "A", 5).await;
    let ann = app.customer("ann");
    let mut body = profile(json!({"email": false, "sms": true, "push": false, "webhook": false}));
    body["locale"] = json!("es-ES");
    app.put("/v1/customers/ann", Some(&ann), &body).await.ok();
    let id = place_order(&app, &ann, "ann").await;
    assert_eq!(run_sender(&app).await, 1);
    let list = app.get(&format!("/v1/orders/{id}/notifications"), Some(&ann)).await.ok().clone();
    let notification = list["items"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(list["items"][0]["status"], "sent");

    let first = infobip.received()[0].clone();
    let (sent, headers) = (first.body(), first.headers);
    assert_eq!(headers[":path"], "/sms/2/text/advanced");
    assert_eq!(headers["authorization"], "App infobip-test-key");
    let sent: Value = serde_json::from_str(&sent).unwrap();
    let message = &sent["messages"][0];
    assert_eq!(message["destinations"][0], json!({"to": "48601234567", "messageId": notification}));
    assert_eq!(message["from"], "ClickCollect");
    assert_eq!(
        message["notifyUrl"],
        "https://cc.example.test/v1/notifications/callbacks/infobip?token=reporttoken0123456789"
    );
    assert!(message["text"].as_str().unwrap().starts_with("Pedido"), "{message}");

    let report = |status: &str| json!({"results": [{"messageId": notification, "status": {"groupName": status, "description": "x"}}]});
    let post_report = |token: &str, body: Value| {
        app.request(Method::POST, &format!("/v1/notifications/callbacks/infobip?token={token}")).json(&body).send()
    };
    post_report("wrong-token-000000000", report("DELIVERED")).await.assert_problem(401, "unauthorized");
    assert_eq!(post_report("reporttoken0123456789", report("DELIVERED")).await.status, 204);
    assert_eq!(post_report("reporttoken0123456789", report("REJECTED")).await.status, 204);
    let list = app.get(&format!("/v1/orders/{id}/notifications"), Some(&ann)).await.ok().clone();
    assert_eq!(list["items"][0]["status"], "delivered", "a later rejection does not undo a delivery");

    // A rejected SMS, resent by an admin, goes out under a messageId of its own: a late report
    // about the first send does not settle the resend.
    let admin = app.admin();
    app.request(Method::POST, &format!("/v1/orders/{id}/cancel")).bearer(&admin).send().await.ok();
    assert_eq!(run_sender(&app).await, 1);
    let list = app.get(&format!("/v1/orders/{id}/notifications"), Some(&ann)).await.ok().clone();
    let cancelled = list["items"].as_array().unwrap().iter().find(|n| n["event"] == "cancelled").unwrap().clone();
    let cancelled_id = cancelled["id"].as_str().unwrap().to_string();
    let report_on = |message_id: &str, status: &str| json!({"results": [{"messageId": message_id, "status": {"groupName": status, "description": "x"}}]});
    let cancelled_status = || async {
        let list = app.get(&format!("/v1/orders/{id}/notifications"), Some(&ann)).await.ok().clone();
        list["items"].as_array().unwrap().iter().find(|n| n["event"] == "cancelled").unwrap()["status"].clone()
    };
    assert_eq!(post_report("reporttoken0123456789", report_on(&cancelled_id, "REJECTED")).await.status, 204);
    assert_eq!(cancelled_status().await, "failed");
    let resend = format!("/v1/notifications/{cancelled_id}/resend");
    assert_eq!(app.request(Method::POST, &resend).bearer(&admin).send().await.status, 200);
    assert_eq!(post_report("reporttoken0123456789", report_on(&cancelled_id, "DELIVERED")).await.status, 204);
    assert_eq!(cancelled_status().await, "queued", "the late report is about the first send");
    assert_eq!(run_sender(&app).await, 1);
    let resent: Value = serde_json::from_str(&infobip.received().last().unwrap().body()).unwrap();
    let resent_id = resent["messages"][0]["destinations"][0]["messageId"].as_str().unwrap().to_string();
    assert!(resent_id.starts_with(&format!("{cancelled_id}:resent-")), "{resent_id}");
    assert_eq!(post_report("reporttoken0123456789", report_on(&resent_id, "DELIVERED")).await.status, 204);
    assert_eq!(cancelled_status().await, "delivered");

    let twilio = app
        .request(Method::POST, "/v1/notifications/callbacks/twilio")
        .raw("application/x-www-form-urlencoded", "a=b")
        .send()
        .await;
    twilio.assert_problem(404, "not-found");
}

/// Each SMS provider's 429 and 5xx are worth a retry: the message goes out once the provider
/// recovers. (Refusals are final: see the Twilio and Infobip tests above.)
async fn sms_providers_are_retried_after_429_and_5xx(backend: Backend) {
    for provider in ["twilio", "infobip"] {
        let accepted = match provider {
            "twilio" => (201, r#"{"sid": "SM0009", "status": "queued"}"#.to_string()),
            _ => (200, r#"{"messages": [{"status": {"groupName": "PENDING"}}]}"#.to_string()),
        };
        let server = receiver_with(vec![(429, String::new()), (503, String::new()), accepted]);
        let base = server.url.trim_end_matches("/hook").to_string();
        let mut settings = vec![("SMS_PROVIDER", provider), ("SMS_FROM", "+15005550006")];
        match provider {
            "twilio" => settings.extend([
                ("TWILIO_ACCOUNT_SID", "AC0123456789"),
                ("TWILIO_AUTH_TOKEN", TWILIO_TOKEN),
                ("TWILIO_API_BASE", base.as_str()),
            ]),
            _ => settings.extend([("INFOBIP_BASE_URL", base.as_str()), ("INFOBIP_API_KEY", "infobip-test-key")]),
        }
        let Some(app) = TestApp::spawn_with(backend, &settings).await else { return };
        app.stocked_store("S1", json!({}), "A", 5).await;
        let ann =
            customer_with(&app, "ann", &profile(json!({"email": false, "sms": true, "push": false, "webhook": false})))
                .await;
        let id = place_order(&app, &ann, "ann").await;
        for (attempt, answer) in [(1, "429"), (2, "503")] {
            assert_eq!(run_sender(&app).await, 1);
            let row = only_notification(&app, &id).await;
            assert_eq!(
                (row["status"].as_str(), row["attempts"].as_i64()),
                (Some("queued"), Some(attempt)),
                "{provider}"
            );
            assert!(row["error"].as_str().unwrap().contains(answer), "{provider}: {row}");
            make_due(&app);
        }
        assert_eq!(run_sender(&app).await, 1);
        assert_eq!(only_notification(&app, &id).await["status"], "sent", "{provider}");
        assert_eq!(server.received().len(), 3, "{provider}");
    }
}

/// The longest values the API accepts still make a one-segment SMS, through the whole path:
/// a store name of 200 characters, a carrier and a tracking number of 100 characters each in
/// an alphabet that forces UCS-2, a customer reading Russian. What Twilio receives is one
/// segment and carries the order number.
async fn the_longest_shipment_still_texts_in_one_segment(backend: Backend) {
    let twilio = receiver_with(vec![
        (201, r#"{"sid": "SM0001", "status": "queued"}"#.into()),
        (201, r#"{"sid": "SM0002", "status": "queued"}"#.into()),
    ]);
    let base = twilio.url.trim_end_matches("/hook").to_string();
    let settings = twilio_settings(&base);
    let Some(app) = TestApp::spawn_with(backend, &settings).await else { return };
    let name = "Магазин ".repeat(25).trim_end().to_string();
    assert_eq!(name.chars().count(), 199);
    app.stocked_store("S1", json!({"name": name}), "A", 5).await;
    let ivan = app.customer("ivan");
    let mut body = profile(json!({"email": false, "sms": true, "push": false, "webhook": false}));
    body["locale"] = json!("ru-RU");
    app.put("/v1/customers/ivan", Some(&ivan), &body).await.ok();
    let erp = app.integration(&["orders:write"]);
    let order = json!({"location": "S1", "fulfilment": "delivery", "customer_id": "ivan", "lines": [{"sku": "A", "quantity": 1}]});
    let placed = app.post("/v1/orders", Some(&erp), &order).await.ok().clone();
    let (id, number) = (placed["id"].as_str().unwrap().to_string(), placed["number"].as_str().unwrap().to_string());
    let admin = app.admin();
    app.request(Method::POST, &format!("/v1/orders/{id}/picking")).bearer(&admin).send().await.ok();
    let shipment = json!({"carrier": "Ж".repeat(100), "tracking_number": "Щ".repeat(100)});
    app.post(&format!("/v1/orders/{id}/ship"), Some(&admin), &shipment).await.ok();
    assert_eq!(run_sender(&app).await, 2, "confirmed and shipped");
    let requests = twilio.received();
    assert_eq!(requests.len(), 2);
    for request in &requests {
        let form: std::collections::HashMap<String, String> = serde_urlencoded::from_str(&request.body()).unwrap();
        let text = &form["Body"];
        assert_eq!(clickcollect::notify::sms::segments(text), 1, "{text} ({} chars)", text.chars().count());
        assert!(text.contains(&number), "{text}");
    }
}

on_each_backend!(
    sms_goes_through_twilio_and_receipts_move_it_forward,
    sms_goes_through_infobip_and_its_reports_are_checked,
    sms_providers_are_retried_after_429_and_5xx,
    the_longest_shipment_still_texts_in_one_segment,
);
