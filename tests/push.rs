//! Web Push against push services running in the test (real HTTP servers): VAPID tokens, RFC
//! 8291 payloads decrypted here with the subscription's private key, gone subscriptions
//! removed, receipts from the service worker, and the push-then-SMS fallback policy.

mod common;

use actix_web::http::Method;
use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes128Gcm, Nonce};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use common::receiver::{receiver, receiver_with, Received};
use common::{run_sender, Backend, TestApp};
use hkdf::Hkdf;
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::{PublicKey, SecretKey};
use serde_json::{json, Value};
use sha2::Sha256;

/// A key used only by these tests (the example key of RFC 8291).
const VAPID_PRIVATE_KEY: &str = "yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw";
const VAPID_SUBJECT: &str = "mailto:ops@clickcollect.test";
const PUBLIC_BASE_URL: &str = "https://cc.example.test";

/// A browser: its own key pair and authentication secret, as `pushManager.subscribe` makes.
struct Browser {
    secret: SecretKey,
    public: Vec<u8>,
    auth: [u8; 16],
}

impl Browser {
    fn new() -> Browser {
        use rand::RngCore;
        let secret = loop {
            let mut bytes = [0u8; 32];
            rand::rng().fill_bytes(&mut bytes);
            if let Ok(key) = SecretKey::from_slice(&bytes) {
                break key;
            }
        };
        let public = secret.public_key().to_encoded_point(false).as_bytes().to_vec();
        let mut auth = [0u8; 16];
        rand::rng().fill_bytes(&mut auth);
        Browser { secret, public, auth }
    }

    fn subscription(&self, endpoint: &str) -> Value {
        json!({"endpoint": endpoint, "keys": {"p256dh": B64.encode(&self.public), "auth": B64.encode(self.auth)}})
    }

    /// What the browser does with an `aes128gcm` body (RFC 8188 and 8291), written here from
    /// the receiving side: read the header, agree on the secret, derive, open, unpad.
    fn decrypt(&self, body: &[u8]) -> Value {
        let salt = &body[..16];
        let record_size = u32::from_be_bytes(body[16..20].try_into().unwrap());
        let key_length = body[20] as usize;
        let sender_key = &body[21..21 + key_length];
        let record = &body[21 + key_length..];
        assert_eq!((record_size, key_length), (4096, 65));
        assert!(record.len() <= record_size as usize, "one record");

        let sender = PublicKey::from_sec1_bytes(sender_key).expect("the sender's key is a P-256 point");
        let shared = p256::ecdh::diffie_hellman(self.secret.to_nonzero_scalar(), sender.as_affine());
        let mut key_info = b"WebPush: info\0".to_vec();
        key_info.extend_from_slice(&self.public);
        key_info.extend_from_slice(sender_key);
        let mut ikm = [0u8; 32];
        Hkdf::<Sha256>::new(Some(&self.auth), shared.raw_secret_bytes()).expand(&key_info, &mut ikm).unwrap();
        let content = Hkdf::<Sha256>::new(Some(salt), &ikm);
        let mut cek = [0u8; 16];
        content.expand(b"Content-Encoding: aes128gcm\0", &mut cek).unwrap();
        let mut nonce = [0u8; 12];
        content.expand(b"Content-Encoding: nonce\0", &mut nonce).unwrap();
        let opened = Aes128Gcm::new_from_slice(&cek)
            .unwrap()
            .decrypt(&Nonce::from(nonce), record)
            .expect("the payload decrypts with the subscription's keys");
        let end = opened.iter().rposition(|b| *b != 0).unwrap();
        assert_eq!(opened[end], 2, "the last record's padding delimiter");
        serde_json::from_slice(&opened[..end]).unwrap()
    }
}

/// Checks the VAPID `Authorization` header of a push request against the server's published
/// key, and returns the token's claims.
fn vapid_claims(request: &Received, public_key: &str) -> Value {
    use p256::ecdsa::signature::Verifier;
    let header = &request.headers["authorization"];
    let rest = header.strip_prefix("vapid t=").expect("the vapid scheme");
    let (token, key) = rest.split_once(", k=").unwrap();
    assert_eq!(key, public_key, "k= is the key browsers subscribed with");
    let parts: Vec<&str> = token.split('.').collect();
    let header: Value = serde_json::from_slice(&B64.decode(parts[0]).unwrap()).unwrap();
    assert_eq!(header["alg"], "ES256");
    let verifying = p256::ecdsa::VerifyingKey::from_sec1_bytes(&B64.decode(key).unwrap()).unwrap();
    let signature = p256::ecdsa::Signature::from_slice(&B64.decode(parts[2]).unwrap()).unwrap();
    verifying.verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &signature).expect("a valid ES256 signature");
    serde_json::from_slice(&B64.decode(parts[1]).unwrap()).unwrap()
}

fn origin(url: &str) -> String {
    let rest = url.strip_prefix("http://").unwrap();
    format!("http://{}", rest.split('/').next().unwrap())
}

async fn customer(app: &TestApp, id: &str, channels: Value) {
    let body = json!({"name": "Ann", "phone": "+48601234567", "locale": "pl-PL", "timezone": "Europe/Warsaw",
        "channels": channels});
    app.put(&format!("/v1/customers/{id}"), Some(&app.customer(id)), &body).await.ok();
}

async fn order(app: &TestApp, customer: &str) -> String {
    let body = common::pickup_order("S1", customer, "A", 1);
    app.post("/v1/orders", Some(&app.customer(customer)), &body).await.ok()["id"].as_str().unwrap().to_string()
}

async fn make_ready(app: &TestApp, id: &str) {
    let admin = app.admin();
    for step in ["picking", "ready"] {
        app.request(Method::POST, &format!("/v1/orders/{id}/{step}")).bearer(&admin).send().await.ok();
    }
}

async fn notification(app: &TestApp, order: &str, event: &str, channel: &str) -> Value {
    let list = app.get(&format!("/v1/orders/{order}/notifications"), Some(&app.admin())).await.ok().clone();
    list["items"].as_array().unwrap().iter().find(|n| n["event"] == event && n["channel"] == channel).unwrap().clone()
}

async fn push_receipt(app: &TestApp, body: Value) -> common::Reply {
    app.request(Method::POST, "/v1/notifications/callbacks/push").json(&body).send().await
}

async fn store(app: &TestApp) {
    app.stocked_store("S1", json!({}), "A", 10).await;
}

const PUSH_SETTINGS: [(&str, &str); 3] =
    [("VAPID_PRIVATE_KEY", VAPID_PRIVATE_KEY), ("VAPID_SUBJECT", VAPID_SUBJECT), ("PUBLIC_BASE_URL", PUBLIC_BASE_URL)];

async fn push_messages_are_encrypted_signed_and_acknowledged(app: TestApp) {
    let gone = receiver(vec![410]);
    let live = receiver(vec![201, 201]);
    store(&app).await;
    customer(&app, "ann", json!({"email": false, "sms": false, "push": true, "webhook": false})).await;
    let ann = app.customer("ann");
    let browser = Browser::new();
    let old_laptop = Browser::new();
    let subscribe = |endpoint: String, browser: &Browser| {
        let body = browser.subscription(&endpoint);
        let app = &app;
        let ann = ann.clone();
        async move { app.post("/v1/customers/ann/push-subscriptions", Some(&ann), &body).await.status }
    };
    assert_eq!(subscribe(format!("{}/old", gone.url), &old_laptop).await, 201);
    assert_eq!(subscribe(format!("{}/phone", live.url), &browser).await, 201);
    let public_key = app.get("/v1/notifications/push-key", None).await.ok()["public_key"].as_str().unwrap().to_string();

    let id = order(&app, "ann").await;
    assert_eq!(run_sender(&app).await, 1);
    let confirmed = notification(&app, &id, "order_confirmed", "push").await;
    assert_eq!(confirmed["status"], "sent", "{confirmed}");
    assert_eq!(gone.received().len(), 1);
    assert_eq!(
        app.get("/v1/customers/ann", Some(&ann)).await.ok()["push_subscriptions"],
        1,
        "the subscription its push service called gone (410) is removed"
    );

    let request = live.received()[0].clone();
    assert_eq!(request.headers[":path"], "/hook/phone");
    assert_eq!(request.headers["content-encoding"], "aes128gcm");
    assert_eq!(request.headers["content-type"], "application/octet-stream");
    assert_eq!(request.headers["ttl"], "86400");
    assert_eq!(request.headers["urgency"], "normal");
    let claims = vapid_claims(&request, &public_key);
    assert_eq!(claims["aud"].as_str().unwrap(), origin(&live.url));
    assert_eq!(claims["sub"], VAPID_SUBJECT);
    let exp = claims["exp"].as_i64().unwrap();
    let now = chrono::Utc::now().timestamp();
    assert!(exp > now && exp <= now + 24 * 3600, "exp {exp} within 24 hours");
    assert!(!request.body().contains("Zam"), "the push service sees only ciphertext");

    let message = browser.decrypt(&request.bytes);
    let short = clickcollect::orders::number_for(&id);
    assert_eq!(message["title"], format!("Zamówienie {short} przyjęte"), "{message}");
    assert_eq!((message["lang"].as_str(), message["dir"].as_str()), (Some("pl"), Some("ltr")));
    assert_eq!(message["tag"], format!("{id}:order_confirmed:push"));
    assert_eq!(message["data"]["notification_id"], confirmed["id"]);
    assert_eq!(message["data"]["receipt_url"], format!("{PUBLIC_BASE_URL}/v1/notifications/callbacks/push"));
    let token = message["data"]["receipt_token"].as_str().unwrap().to_string();

    // Receipts: only with the token from inside the message; never backwards.
    let receipt =
        |token: &str, status: &str| json!({"notification_id": confirmed["id"], "token": token, "status": status});
    push_receipt(&app, receipt("forged", "delivered")).await.assert_problem(401, "unauthorized");
    let mut extra = receipt(&token, "delivered");
    extra["surprise"] = json!(1);
    push_receipt(&app, extra).await.assert_problem(422, "validation");
    push_receipt(&app, receipt(&token, "read")).await.assert_problem(422, "validation");
    assert_eq!(notification(&app, &id, "order_confirmed", "push").await["status"], "sent");
    assert_eq!(push_receipt(&app, receipt(&token, "delivered")).await.status, 204);
    assert_eq!(notification(&app, &id, "order_confirmed", "push").await["status"], "delivered");
    assert_eq!(push_receipt(&app, receipt(&token, "opened")).await.status, 204);
    assert_eq!(push_receipt(&app, receipt(&token, "delivered")).await.status, 204);
    assert_eq!(notification(&app, &id, "order_confirmed", "push").await["status"], "opened", "never backwards");

    // "Ready for pickup" wakes the phone and carries the code.
    make_ready(&app, &id).await;
    assert_eq!(run_sender(&app).await, 1, "ready_for_pickup; the reminder is not due yet");
    let request = live.received()[1].clone();
    assert_eq!(request.headers["urgency"], "high");
    let message = browser.decrypt(&request.bytes);
    let code = app.get(&format!("/v1/orders/{id}"), Some(&ann)).await.body["pickup_code"].as_str().unwrap().to_string();
    assert!(message["body"].as_str().unwrap().contains(&code), "{message}");
    assert_eq!(gone.received().len(), 1, "the removed subscription is not used again");
}

/// Moves an order's "ready for pickup" messages back in time (sent and due `minutes` ago), as
/// if the fallback window had passed.
fn age_notifications(app: &TestApp, order: &str, minutes: i64) {
    use clickcollect::db::schema::notifications;
    use diesel::prelude::*;
    let then = chrono::Utc::now().naive_utc() - chrono::TimeDelta::minutes(minutes);
    // Only "ready for pickup": the reminder must stay in the future whatever the time of day.
    let rows = || {
        notifications::table
            .filter(notifications::order_id.eq(order))
            .filter(notifications::event.eq("ready_for_pickup"))
    };
    diesel::update(rows()).set(notifications::next_attempt_at.eq(then)).execute(&mut *app.conn()).unwrap();
    diesel::update(rows().filter(notifications::sent_at.is_not_null()))
        .set(notifications::sent_at.eq(then))
        .execute(&mut *app.conn())
        .unwrap();
}

async fn sms_follows_a_push_that_was_not_delivered(backend: Backend) {
    let accepted = r#"{"messages": [{"status": {"groupName": "PENDING"}}]}"#;
    let infobip = receiver_with(vec![(200, accepted.to_string()); 10]);
    let base = infobip.url.trim_end_matches("/hook").to_string();
    let mut settings = PUSH_SETTINGS.to_vec();
    settings.extend([
        ("SMS_PROVIDER", "infobip"),
        ("INFOBIP_BASE_URL", base.as_str()),
        ("INFOBIP_API_KEY", "infobip-test-key"),
    ]);
    let Some(app) = TestApp::spawn_with(backend, &settings).await else { return };
    let live = receiver(vec![]);
    let refusing = receiver(vec![400; 4]);
    store(&app).await;
    let both = json!({"email": false, "sms": true, "push": true, "webhook": false});
    let sms_texts = || -> Vec<String> {
        let bodies =
            infobip.received().iter().map(|r| serde_json::from_str::<Value>(&r.body()).unwrap()).collect::<Vec<_>>();
        bodies.iter().map(|body| body["messages"][0]["text"].as_str().unwrap().to_string()).collect()
    };

    // Ann's phone shows the push and says so: no SMS.
    customer(&app, "ann", both.clone()).await;
    let browser = Browser::new();
    let sub = browser.subscription(&format!("{}/ann", live.url));
    app.post("/v1/customers/ann/push-subscriptions", Some(&app.customer("ann")), &sub).await.ok();
    let delivered = order(&app, "ann").await;
    assert_eq!(run_sender(&app).await, 2, "order_confirmed has no fallback rule: push and SMS at once");
    assert_eq!(infobip.received().len(), 1);
    make_ready(&app, &delivered).await;
    run_sender(&app).await;
    assert_eq!(notification(&app, &delivered, "ready_for_pickup", "push").await["status"], "sent");
    let waiting = notification(&app, &delivered, "ready_for_pickup", "sms").await;
    assert_eq!((waiting["status"].as_str(), waiting["attempts"].as_i64()), (Some("queued"), Some(0)), "{waiting}");
    assert_eq!(infobip.received().len(), 1, "the SMS waits for the push");
    let message = browser.decrypt(&live.received().last().unwrap().bytes);
    let receipt = json!({"notification_id": message["data"]["notification_id"],
        "token": message["data"]["receipt_token"], "status": "delivered"});
    assert_eq!(push_receipt(&app, receipt).await.status, 204);
    age_notifications(&app, &delivered, 10);
    run_sender(&app).await;
    let sms = notification(&app, &delivered, "ready_for_pickup", "sms").await;
    assert_eq!(sms["status"], "suppressed");
    assert!(sms["error"].as_str().unwrap().contains("push message was delivered"), "{sms}");
    assert_eq!(infobip.received().len(), 1);
    // Asked for by an admin, the suppressed SMS goes out: the policy does not hold it back again.
    let resend = format!("/v1/notifications/{}/resend", sms["id"].as_str().unwrap());
    assert_eq!(app.request(Method::POST, &resend).bearer(&app.admin()).send().await.status, 200);
    assert_eq!(run_sender(&app).await, 1);
    assert_eq!(notification(&app, &delivered, "ready_for_pickup", "sms").await["status"], "sent");
    assert_eq!(infobip.received().len(), 2);

    // No receipt within the window: the SMS goes.
    let silent = order(&app, "ann").await;
    run_sender(&app).await;
    make_ready(&app, &silent).await;
    run_sender(&app).await;
    assert_eq!(notification(&app, &silent, "ready_for_pickup", "sms").await["status"], "queued");
    let before = infobip.received().len();
    age_notifications(&app, &silent, 10);
    run_sender(&app).await;
    assert_eq!(notification(&app, &silent, "ready_for_pickup", "sms").await["status"], "sent");
    assert_eq!(infobip.received().len(), before + 1);
    let code = app.get(&format!("/v1/orders/{silent}"), Some(&app.customer("ann"))).await.body["pickup_code"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(sms_texts().last().unwrap().contains(&code));

    // Bob's push service refuses: the SMS does not wait out the window.
    customer(&app, "bob", both.clone()).await;
    let sub = Browser::new().subscription(&format!("{}/bob", refusing.url));
    app.post("/v1/customers/bob/push-subscriptions", Some(&app.customer("bob")), &sub).await.ok();
    let refused = order(&app, "bob").await;
    run_sender(&app).await;
    make_ready(&app, &refused).await;
    run_sender(&app).await;
    run_sender(&app).await;
    assert_eq!(notification(&app, &refused, "ready_for_pickup", "push").await["status"], "failed");
    assert_eq!(notification(&app, &refused, "ready_for_pickup", "sms").await["status"], "sent");

    // Dan chose push but has no browser subscribed: the SMS does not wait either.
    customer(&app, "dan", both.clone()).await;
    let unsubscribed = order(&app, "dan").await;
    run_sender(&app).await;
    make_ready(&app, &unsubscribed).await;
    run_sender(&app).await;
    run_sender(&app).await;
    let push = notification(&app, &unsubscribed, "ready_for_pickup", "push").await;
    assert_eq!(push["error"], "the customer has no push subscription");
    assert_eq!(notification(&app, &unsubscribed, "ready_for_pickup", "sms").await["status"], "sent");

    // Cid chose SMS only: nothing to wait for.
    customer(&app, "cid", json!({"email": false, "sms": true, "push": false, "webhook": false})).await;
    let sms_only = order(&app, "cid").await;
    run_sender(&app).await;
    make_ready(&app, &sms_only).await;
    run_sender(&app).await;
    assert_eq!(notification(&app, &sms_only, "ready_for_pickup", "sms").await["status"], "sent");
}

async fn without_vapid_settings_push_is_off_and_says_so(app: TestApp) {
    app.get("/v1/notifications/push-key", None).await.assert_problem(404, "not-found");
    let receipt = json!({"notification_id": "x", "token": "y", "status": "delivered"});
    push_receipt(&app, receipt).await.assert_problem(404, "not-found");
    store(&app).await;
    customer(&app, "ann", json!({"email": false, "sms": false, "push": true, "webhook": false})).await;
    let id = order(&app, "ann").await;
    run_sender(&app).await;
    let push = notification(&app, &id, "order_confirmed", "push").await;
    assert_eq!(push["status"], "suppressed");
    assert!(push["error"].as_str().unwrap().contains("VAPID_PRIVATE_KEY"), "{push}");
}

/// A service worker can acknowledge a push before the sender has recorded sending it (the
/// push service answers, the phone shows it, the receipt arrives, then the sender writes).
async fn a_receipt_before_the_send_is_recorded_keeps_both(app: TestApp) {
    use clickcollect::notify::{outbox, sender};
    store(&app).await;
    customer(&app, "ann", json!({"email": false, "sms": false, "push": true, "webhook": false})).await;
    let id = order(&app, "ann").await;
    let mut conn = app.conn();
    let claimed = outbox::claim_due(&mut conn, sender::BATCH, chrono::TimeDelta::seconds(60)).unwrap();
    assert_eq!(claimed.len(), 1);
    assert!(outbox::record_push_receipt(&mut conn, &claimed[0].id, outbox::DeliveryStatus::Delivered).unwrap());
    let now = chrono::Utc::now().naive_utc();
    let sent = outbox::Outcome::Sent { provider_ref: Some("https://push.example.test/m/1".into()) };
    outbox::record(&mut conn, &claimed[0], &sent, now).unwrap();
    drop(conn);
    let push = notification(&app, &id, "order_confirmed", "push").await;
    assert_eq!(push["status"], "delivered", "the receipt is not undone: {push}");
    assert!(push["sent_at"].is_string(), "and when it was sent is known: {push}");
}

/// A push service's 429 and 5xx are worth a retry; the message goes when it recovers.
async fn a_busy_push_service_is_tried_again(app: TestApp) {
    let busy = receiver(vec![429, 502, 201]);
    store(&app).await;
    customer(&app, "ann", json!({"email": false, "sms": false, "push": true, "webhook": false})).await;
    let browser = Browser::new();
    let sub = browser.subscription(&format!("{}/ann", busy.url));
    app.post("/v1/customers/ann/push-subscriptions", Some(&app.customer("ann")), &sub).await.ok();
    let id = order(&app, "ann").await;
    for answer in ["429", "502"] {
        assert_eq!(run_sender(&app).await, 1);
        let push = notification(&app, &id, "order_confirmed", "push").await;
        assert_eq!(push["status"], "queued");
        assert!(push["error"].as_str().unwrap().contains(answer), "{push}");
        common::make_due(&app);
    }
    assert_eq!(run_sender(&app).await, 1);
    assert_eq!(notification(&app, &id, "order_confirmed", "push").await["status"], "sent");
    assert_eq!(busy.received().len(), 3);
    assert_eq!(browser.decrypt(&busy.received()[2].bytes)["tag"], format!("{id}:order_confirmed:push"));
}

/// Keys with base64 `=` padding, as some web-push libraries send them, are taken (stored
/// without it) and every push to them is encrypted and read as usual.
async fn padded_keys_are_taken_and_pushed_to(app: TestApp) {
    let live = receiver(vec![201]);
    store(&app).await;
    customer(&app, "ann", json!({"email": false, "sms": false, "push": true, "webhook": false})).await;
    let browser = Browser::new();
    let padded = base64::engine::general_purpose::URL_SAFE;
    let body = json!({"endpoint": format!("{}/phone", live.url),
        "keys": {"p256dh": padded.encode(&browser.public), "auth": padded.encode(browser.auth)}});
    assert!(body["keys"]["auth"].as_str().unwrap().ends_with("=="), "{body}");
    let reply = app.post("/v1/customers/ann/push-subscriptions", Some(&app.customer("ann")), &body).await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    let id = order(&app, "ann").await;
    assert_eq!(run_sender(&app).await, 1);
    assert_eq!(notification(&app, &id, "order_confirmed", "push").await["status"], "sent");
    let message = browser.decrypt(&live.received()[0].bytes);
    assert_eq!(message["data"]["notification_id"], notification(&app, &id, "order_confirmed", "push").await["id"]);
}

/// An endpoint moves to another customer only with the keys it was registered with: the same
/// browser, signed in to another account. Other keys are 409, and the first owner keeps it.
async fn an_endpoint_moves_only_with_its_own_keys(app: TestApp) {
    for who in ["ann", "bob", "mallory"] {
        customer(&app, who, json!({"email": false, "sms": false, "push": true, "webhook": false})).await;
    }
    let browser = Browser::new();
    let endpoint = "https://push.example.com/send/shared";
    let subscribe = |who: &'static str, body: Value| {
        let app = &app;
        async move { app.post(&format!("/v1/customers/{who}/push-subscriptions"), Some(&app.customer(who)), &body).await }
    };
    assert_eq!(subscribe("ann", browser.subscription(endpoint)).await.status, 201);
    let thief = Browser::new();
    subscribe("mallory", thief.subscription(endpoint)).await.assert_problem(409, "conflict");
    let count = |who: &'static str| {
        let app = &app;
        async move {
            app.get(&format!("/v1/customers/{who}"), Some(&app.customer(who))).await.body["push_subscriptions"].clone()
        }
    };
    assert_eq!((count("ann").await, count("mallory").await), (json!(1), json!(0)));
    // The same browser, now signed in as bob: it moves.
    assert_eq!(subscribe("bob", browser.subscription(endpoint)).await.status, 200);
    assert_eq!((count("ann").await, count("bob").await), (json!(0), json!(1)));
    // Its own owner may renew the keys.
    let renewed = Browser::new();
    assert_eq!(subscribe("bob", renewed.subscription(endpoint)).await.status, 200);
}

on_both_backends!(without_vapid_settings_push_is_off_and_says_so);
on_both_backends!(vapid with &PUSH_SETTINGS; push_messages_are_encrypted_signed_and_acknowledged, a_busy_push_service_is_tried_again, padded_keys_are_taken_and_pushed_to, an_endpoint_moves_only_with_its_own_keys, a_receipt_before_the_send_is_recorded_keeps_both);
on_each_backend!(sms_follows_a_push_that_was_not_delivered);
