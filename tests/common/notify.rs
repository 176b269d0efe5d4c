//! What the notification tests share: a customer's profile, orders whose only channel is a
//! webhook, and the secret webhooks are signed with.

use serde_json::{json, Value};

use super::TestApp;

pub const WEBHOOK_SECRET: &str = "webhook-test-secret-0123456789-abcdefghij";

/// Ann's profile, reachable on `channels`.
pub fn customer_profile(channels: Value) -> Value {
    json!({"name": "Ann", "email": "ann@example.com", "phone": "+48601234567", "locale": "pl-PL",
        "timezone": "Europe/Warsaw", "channels": channels})
}

/// A store, Ann with only the webhook channel (to `url`), and her order; returns its id.
pub async fn webhook_order(app: &TestApp, url: &str) -> String {
    app.stocked_store("S1", json!({}), "A", 5).await;
    webhook_order_for(app, "ann", url).await
}

/// An order at S1 for `customer`, whose only channel is a webhook to `url`.
pub async fn webhook_order_for(app: &TestApp, customer: &str, url: &str) -> String {
    let token = app.customer(customer);
    let mut body = customer_profile(json!({"email": false, "sms": false, "push": false, "webhook": true}));
    body["webhook_url"] = json!(url);
    app.put(&format!("/v1/customers/{customer}"), Some(&token), &body).await.ok();
    let order = super::pickup_order("S1", customer, "A", 1);
    app.post("/v1/orders", Some(&token), &order).await.ok()["id"].as_str().unwrap().to_string()
}

/// The one notification of an order.
pub async fn only_notification(app: &TestApp, order: &str) -> Value {
    let list = app.get(&format!("/v1/orders/{order}/notifications"), Some(&app.admin())).await.ok().clone();
    assert_eq!(list["items"].as_array().unwrap().len(), 1, "{list}");
    list["items"][0].clone()
}

/// Puts `profile` for `customer` as that customer; returns their token.
pub async fn customer_with(app: &TestApp, customer: &str, profile: &Value) -> String {
    let token = app.customer(customer);
    app.put(&format!("/v1/customers/{customer}"), Some(&token), profile).await.ok();
    token
}

/// `customer` orders one A at S1; returns the order's id.
pub async fn place_order(app: &TestApp, token: &str, customer: &str) -> String {
    let order = super::pickup_order("S1", customer, "A", 1);
    app.post("/v1/orders", Some(token), &order).await.ok()["id"].as_str().unwrap().to_string()
}

/// The Twilio auth token the tests' Twilio stand-ins are configured with.
pub const TWILIO_TOKEN: &str = "twilio-test-auth-token";

/// Twilio's callback signature, computed here independently of the server's code.
pub fn twilio_signature(url: &str, params: &[(&str, &str)]) -> String {
    use base64::Engine;
    use hmac::Mac;
    let mut sorted = params.to_vec();
    sorted.sort();
    let mut mac = hmac::Hmac::<sha1::Sha1>::new_from_slice(TWILIO_TOKEN.as_bytes()).unwrap();
    mac.update(url.as_bytes());
    for (k, v) in sorted {
        mac.update(k.as_bytes());
        mac.update(v.as_bytes());
    }
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}
