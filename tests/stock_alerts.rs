//! Back-in-stock alerts and hold reminders through HTTP, a real SMTP server and a real webhook
//! receiver: an alert needs marketing consent, is told once when enough is back (a count, a
//! released hold), waits its turn under the per-day limit, waits again when the stock is gone
//! before its turn, and one click unsubscribes; a shopper who asked is reminded before a hold
//! lapses, and not once it is gone; and everyone else is refused.

mod common;

use common::notify::{customer_profile, WEBHOOK_SECRET};
use common::receiver::receiver;
use common::smtp::{smtp_server, SMTP_PASSWORD, SMTP_USER};
use common::{make_due, run_sender, Backend, TestApp};
use diesel::prelude::*;
use serde_json::{json, Value};

const BASE: &str = "https://shop.example";

/// A zone where it is midday now, so quiet hours never hold a test's message back.
fn daytime_zone() -> String {
    use chrono::Timelike;
    let offset = 12 - chrono::Utc::now().hour() as i32;
    // `Etc/GMT-5` is five hours ahead of UTC.
    if offset >= 0 {
        format!("Etc/GMT-{offset}")
    } else {
        format!("Etc/GMT+{}", -offset)
    }
}

async fn spawn(backend: Backend, smtp_port: u16, extra: &[(&'static str, &'static str)]) -> Option<TestApp> {
    let url = format!("smtp://{SMTP_USER}:{SMTP_PASSWORD}@127.0.0.1:{smtp_port}");
    let mut settings: Vec<(&str, &str)> = vec![
        ("SMTP_URL", url.as_str()),
        ("EMAIL_FROM", "shop@example.com"),
        ("PUBLIC_BASE_URL", BASE),
        ("STOCK_ALERT_URL", "https://shop.example/hold?sku={sku}&store={location}"),
        ("WEBHOOK_SECRET", WEBHOOK_SECRET),
    ];
    settings.extend_from_slice(extra);
    TestApp::spawn_with(backend, &settings).await
}

/// S1 and S2 with none of B; `customer` reads email only, in daytime.
async fn setup(app: &TestApp, customer: &str) -> String {
    app.put_location("S1", json!({"name": "Warsaw Centre"})).await;
    app.put_location("S2", json!({})).await;
    app.put_product("B").await;
    app.put_product("C").await;
    for (store, sku) in [("S1", "B"), ("S2", "B"), ("S1", "C")] {
        app.count(store, sku, 0).await;
    }
    let mut profile = customer_profile(json!({"email": true, "sms": false, "push": false, "webhook": false}));
    profile["timezone"] = json!(daytime_zone());
    profile["locale"] = json!("en");
    let token = app.customer(customer);
    app.put(&format!("/v1/customers/{customer}"), Some(&token), &profile).await.ok();
    token
}

async fn scan(app: &TestApp, per_day: i64) -> usize {
    let now = chrono::Utc::now().naive_utc();
    clickcollect::alerts::scan(&mut app.conn(), per_day, now).unwrap()
}

/// The emails as sent, quoted-printable line breaks undone.
fn emails(messages: &common::smtp::Mailbox) -> Vec<String> {
    messages.lock().unwrap().iter().map(|(_, raw)| raw.replace("=\r\n", "").replace("=3D", "=")).collect()
}

/// The outbox rows of a subject: (event, channel, status, due).
fn outbox_of(app: &TestApp, subject: &str) -> Vec<(String, String, String, chrono::NaiveDateTime)> {
    use clickcollect::db::schema::notifications;
    notifications::table
        .filter(notifications::subject.eq(subject))
        .order(notifications::created_at.asc())
        .select((notifications::event, notifications::channel, notifications::status, notifications::next_attempt_at))
        .load(&mut *app.conn())
        .unwrap()
}

async fn an_alert_is_told_once_by_email_and_one_click_unsubscribes(backend: Backend) {
    let (port, messages) = smtp_server();
    let Some(app) = spawn(backend, port, &[]).await else { return };
    let ann = setup(&app, "ann").await;
    let path = "/v1/customers/ann/stock-alerts";
    let wish = json!({"sku": "B", "locations": ["S1"]});
    // Alerts are marketing: not without consent.
    app.post(path, Some(&ann), &wish).await.assert_problem(409, "consent-required");
    assert_eq!(app.get("/v1/customers/ann", Some(&ann)).await.ok()["marketing_consent"], false);
    let mut consenting = wish.clone();
    consenting["marketing_consent"] = json!(true);
    let alert = app.post(path, Some(&ann), &consenting).await;
    assert_eq!(alert.status, 201, "{}", alert.text);
    let alert = alert.ok().clone();
    let id = alert["id"].as_str().unwrap().to_string();
    assert_eq!(app.get("/v1/customers/ann", Some(&ann)).await.ok()["marketing_consent"], true);
    assert_eq!((alert["status"].as_str(), alert["quantity"].as_i64()), (Some("active"), Some(1)));
    // Consent given once holds for the next alert.
    let other = app.post(path, Some(&ann), &json!({"sku": "C", "online": true})).await;
    assert_eq!(other.status, 201, "{}", other.text);
    assert_eq!(scan(&app, 3).await, 0, "nothing is back");

    // A count brings B back at S1: told once.
    app.count("S1", "B", 3).await;
    assert_eq!(scan(&app, 3).await, 1);
    assert_eq!(scan(&app, 3).await, 0, "once");
    let told = app.get(&format!("{path}/{id}"), Some(&ann)).await.ok().clone();
    assert_eq!((told["status"].as_str(), told["found_at"].as_str()), (Some("notified"), Some("S1")));
    assert!(told["notified_at"].is_string());
    run_sender(&app).await;
    let subject = format!("alert:{id}");
    let rows = outbox_of(&app, &subject);
    assert_eq!(rows.len(), 1, "email only: {rows:?}");
    assert_eq!((rows[0].0.as_str(), rows[0].2.as_str()), ("back_in_stock", "sent"));
    let sent = emails(&messages);
    assert_eq!(sent.len(), 1);
    let email = &sent[0];
    assert!(email.contains("Back in stock: Product B"), "{email}");
    assert!(email.contains("Warsaw Centre"));
    assert!(email.contains("https://shop.example/hold?sku=B&store=S1"), "the link to hold it: {email}");
    let token = clickcollect::alerts::unsubscribe_token(&app.state.keys.pickup_key, "ann");
    let unsubscribe = format!("{BASE}/unsubscribe/{token}");
    assert!(email.contains(&format!("List-Unsubscribe: <{unsubscribe}>")), "{email}");
    assert!(email.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"), "{email}");

    // One click: the page only asks; the post unsubscribes.
    let page = app.get(&format!("/unsubscribe/{token}"), None).await;
    assert_eq!(page.status, 200);
    assert!(page.text.contains("<form method=\"post\""), "{}", page.text);
    assert!(page.header("content-security-policy").unwrap().contains("default-src 'none'"));
    let json_post = app.post(&format!("/unsubscribe/{token}"), None, &json!({})).await;
    assert_eq!(json_post.status, 415);
    let done = app
        .request(actix_web::http::Method::POST, &format!("/unsubscribe/{token}"))
        .raw("application/x-www-form-urlencoded", "List-Unsubscribe=One-Click")
        .send()
        .await;
    assert_eq!(done.status, 200, "{}", done.text);
    let list = app.get(path, Some(&ann)).await.ok().clone();
    let statuses: Vec<&str> = list["items"].as_array().unwrap().iter().map(|a| a["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, vec!["cancelled", "notified"], "newest first: {list}");
    app.post(path, Some(&ann), &wish).await.assert_problem(409, "consent-required");
    let forged = app.get(&format!("/unsubscribe/{}x", token), None).await;
    assert_eq!(forged.status, 404);
    // Messages about orders are not marketing: the channels stay.
    let profile = app.get("/v1/customers/ann", Some(&ann)).await.ok().clone();
    assert_eq!(profile["channels"]["email"], true);
    assert_eq!(profile["marketing_consent"], false, "withdrawn by the click");
}

async fn alerts_wait_for_enough_and_for_their_turn(backend: Backend) {
    let (port, messages) = smtp_server();
    let Some(app) = spawn(backend, port, &[]).await else { return };
    let ann = setup(&app, "ann").await;
    let path = "/v1/customers/ann/stock-alerts";
    let two = app
        .post(
            path,
            Some(&ann),
            &json!({"sku": "B", "locations": ["S2", "S1"], "quantity": 2, "marketing_consent": true}),
        )
        .await
        .ok()
        .clone();
    // One is not enough for a wish of two; a hold giving units back is.
    app.count("S1", "B", 2).await;
    let bob = app.customer("bob");
    let hold = app
        .post("/v1/reservations", Some(&bob), &json!({"location": "S1", "lines": [{"sku": "B", "quantity": 1}]}))
        .await;
    let hold_id = hold.ok()["id"].as_str().unwrap().to_string();
    assert_eq!(scan(&app, 1).await, 0, "one available");
    app.request(actix_web::http::Method::DELETE, &format!("/v1/reservations/{hold_id}")).bearer(&bob).send().await;
    assert_eq!(scan(&app, 1).await, 1, "the released hold made two");
    let first = app.get(&format!("{path}/{}", two["id"].as_str().unwrap()), Some(&ann)).await.ok().clone();
    assert_eq!(first["found_at"], "S1");

    // The day's one alert is spent: the next waits a day in the outbox.
    let next = app.post(path, Some(&ann), &json!({"sku": "C", "locations": ["S1"]})).await.ok().clone();
    app.count("S1", "C", 5).await;
    assert_eq!(scan(&app, 1).await, 1);
    let subject = format!("alert:{}", next["id"].as_str().unwrap());
    let due = outbox_of(&app, &subject)[0].3;
    assert!(due > chrono::Utc::now().naive_utc() + chrono::TimeDelta::hours(23), "due {due}");
    // Its stock is gone before its turn: not sent, and the alert waits again.
    app.count("S1", "C", 0).await;
    make_due(&app);
    run_sender(&app).await;
    let rows = outbox_of(&app, &subject);
    assert_eq!(rows[0].2, "suppressed", "{rows:?}");
    let again = app.get(&format!("{path}/{}", next["id"].as_str().unwrap()), Some(&ann)).await.ok().clone();
    assert_eq!(again["status"], "active", "{again}");
    assert_eq!(emails(&messages).len(), 1, "only the first alert went out");
}

async fn alerts_are_the_shoppers_own_and_checked(backend: Backend) {
    let (port, _) = smtp_server();
    let Some(app) = spawn(backend, port, &[]).await else { return };
    let ann = setup(&app, "ann").await;
    let path = "/v1/customers/ann/stock-alerts";
    let wish = json!({"sku": "B", "locations": ["S1"], "marketing_consent": true});
    app.post(path, Some(&app.customer("eve")), &wish).await.assert_problem(404, "not-found");
    app.post(path, Some(&app.staff("S1")), &wish).await.assert_problem(403, "forbidden");
    app.post(path, Some(&app.integration(&["customers:write"])), &wish).await.assert_problem(403, "forbidden");
    app.post(path, None, &wish).await.assert_problem(401, "unauthorized");
    let neither = app.post(path, Some(&ann), &json!({"sku": "B", "marketing_consent": true})).await;
    neither.assert_problem(422, "validation");
    assert_eq!(neither.error_fields(), vec!["locations"]);
    let bad = app.post(path, Some(&ann), &json!({"sku": "B", "locations": ["S1", "S1"], "quantity": 0, "x": 1})).await;
    assert_eq!(bad.status, 422);
    let unknown =
        app.post(path, Some(&ann), &json!({"sku": "B", "locations": ["NOPE"], "marketing_consent": true})).await;
    unknown.assert_problem(404, "not-found");
    assert_eq!(unknown.error_fields(), vec!["locations[0]"]);
    app.post(path, Some(&ann), &json!({"sku": "NOPE", "online": true, "marketing_consent": true}))
        .await
        .assert_problem(404, "not-found");
    app.count("S2", "B", 4).await;
    let available =
        app.post(path, Some(&ann), &json!({"sku": "B", "locations": ["S2"], "marketing_consent": true})).await;
    available.assert_problem(409, "conflict");
    assert!(available.text.contains("hold it instead"), "{}", available.text);
    // A profile first: nobody to tell without one.
    let carl = app.customer("carl");
    app.post("/v1/customers/carl/stock-alerts", Some(&carl), &wish).await.assert_problem(404, "not-found");
    // None of that left an alert; one made is withdrawn.
    assert_eq!(app.get(path, Some(&ann)).await.ok()["items"], json!([]));
    let made = app.post(path, Some(&ann), &wish).await.ok().clone();
    let one = format!("{path}/{}", made["id"].as_str().unwrap());
    app.get(&one, Some(&app.customer("eve"))).await.assert_problem(404, "not-found");
    let gone = app.request(actix_web::http::Method::DELETE, &one).bearer(&ann).send().await;
    assert_eq!(gone.status, 204);
    assert_eq!(app.get(&one, Some(&app.admin())).await.ok()["status"], "cancelled");
    app.count("S1", "B", 9).await;
    assert_eq!(scan(&app, 3).await, 0, "a withdrawn alert is never told");
}

async fn a_hold_reminds_its_shopper_before_it_lapses(backend: Backend) {
    let (port, _) = smtp_server();
    let Some(app) = spawn(backend, port, &[("HOLD_REMINDER_BEFORE_SECONDS", "300")]).await else { return };
    app.stocked_store("S1", json!({"name": "Warsaw Centre"}), "A", 5).await;
    let hook = receiver(vec![200; 5]);
    let mut profile = customer_profile(json!({"email": false, "sms": false, "push": false, "webhook": true}));
    profile["webhook_url"] = json!(hook.url);
    let ann = app.customer("ann");
    app.put("/v1/customers/ann", Some(&ann), &profile).await.ok();
    let body = json!({"location": "S1", "lines": [{"sku": "A", "quantity": 1}], "ttl_seconds": 900, "remind": true});
    // Only a customer has somebody to remind.
    app.post("/v1/reservations", Some(&app.admin()), &body).await.assert_problem(409, "conflict");
    let hold = app.post("/v1/reservations", Some(&ann), &body).await.ok().clone();
    let id = hold["id"].as_str().unwrap().to_string();
    let expires: chrono::DateTime<chrono::Utc> = hold["expires_at"].as_str().unwrap().parse().unwrap();
    let subject = format!("hold:{id}");
    let rows = outbox_of(&app, &subject);
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!((rows[0].0.as_str(), rows[0].1.as_str()), ("hold_reminder", "webhook"));
    let lead = expires.naive_utc() - rows[0].3;
    assert!((299..=301).contains(&lead.num_seconds()), "five minutes before: {lead}");

    // Extended: the first reminder is early now; one for the new end follows.
    app.post(&format!("/v1/reservations/{id}/extend"), Some(&ann), &json!({"seconds": 600})).await.ok();
    let rows = outbox_of(&app, &subject);
    assert_eq!(rows.len(), 2, "{rows:?}");
    // Due now, the early one is dropped; the hold is still there for the later one.
    use clickcollect::db::schema::notifications;
    let past = chrono::Utc::now().naive_utc() - chrono::TimeDelta::seconds(1);
    let first_row: String = notifications::table
        .filter(notifications::subject.eq(&subject))
        .order(notifications::created_at.asc())
        .select(notifications::id)
        .first(&mut *app.conn())
        .unwrap();
    diesel::update(notifications::table.find(&first_row))
        .set(notifications::next_attempt_at.eq(past))
        .execute(&mut *app.conn())
        .unwrap();
    run_sender(&app).await;
    assert_eq!(outbox_of(&app, &subject)[0].2, "suppressed");
    assert!(hook.received().is_empty());
    // Bring the hold's end within the reminder's lead and send the second.
    use clickcollect::db::schema::reservations;
    let soon = chrono::Utc::now().naive_utc() + chrono::TimeDelta::seconds(240);
    diesel::update(reservations::table.find(&id))
        .set(reservations::expires_at.eq(soon))
        .execute(&mut *app.conn())
        .unwrap();
    make_due(&app);
    run_sender(&app).await;
    let received = hook.received();
    assert_eq!(received.len(), 1, "{:?}", outbox_of(&app, &subject));
    let sent: Value = serde_json::from_str(&received[0].body()).unwrap();
    assert_eq!(sent["event"], "hold_reminder");
    assert_eq!(sent["about"]["subject"], subject);
    assert!(sent["message"]["title"].as_str().unwrap().contains("Product A"), "{sent}");

    // A released hold reminds nobody.
    let other = app.post("/v1/reservations", Some(&ann), &body).await.ok().clone();
    let other_id = other["id"].as_str().unwrap();
    app.request(actix_web::http::Method::DELETE, &format!("/v1/reservations/{other_id}")).bearer(&ann).send().await;
    make_due(&app);
    run_sender(&app).await;
    assert_eq!(outbox_of(&app, &format!("hold:{other_id}"))[0].2, "suppressed");
    assert_eq!(hook.received().len(), 1);
}

on_each_backend!(
    an_alert_is_told_once_by_email_and_one_click_unsubscribes,
    alerts_wait_for_enough_and_for_their_turn,
    alerts_are_the_shoppers_own_and_checked,
    a_hold_reminds_its_shopper_before_it_lapses,
);
