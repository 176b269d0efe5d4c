//! The notification outbox: queued in the order's transaction, claimed once under a lease,
//! shared by concurrent senders, and given up on visibly.

mod common;

use actix_web::http::Method;
use common::notify::{customer_profile as profile, customer_with, place_order, webhook_order, WEBHOOK_SECRET};
use common::receiver::receiver;
use common::{make_due, run_sender, TestApp};
use serde_json::{json, Value};

fn statuses(list: &Value) -> Vec<(String, String, String)> {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["event"].as_str().unwrap().into(),
                n["channel"].as_str().unwrap().into(),
                n["status"].as_str().unwrap().into(),
            )
        })
        .collect()
}

async fn order_changes_queue_notifications_in_the_same_transaction(app: TestApp) {
    app.stocked_store("S1", json!({"pickup_hold_days": 3}), "A", 5).await;
    let ann =
        customer_with(&app, "ann", &profile(json!({"email": true, "sms": true, "push": false, "webhook": false})))
            .await;
    let id = place_order(&app, &ann, "ann").await;
    let path = format!("/v1/orders/{id}/notifications");
    let list = app.get(&path, Some(&ann)).await.ok().clone();
    assert_eq!(
        statuses(&list),
        vec![
            ("order_confirmed".into(), "email".into(), "queued".into()),
            ("order_confirmed".into(), "sms".into(), "queued".into())
        ]
    );
    // An illegal move rolls back whole: no message about it.
    let admin = app.admin();
    app.request(Method::POST, &format!("/v1/orders/{id}/ship"))
        .bearer(&admin)
        .json(&json!({"carrier": "X", "tracking_number": "1"}))
        .send()
        .await
        .assert_problem(409, "conflict");
    assert_eq!(app.get(&path, Some(&ann)).await.body["items"].as_array().unwrap().len(), 2);

    assert_eq!(run_sender(&app).await, 2);
    let list = app.get(&path, Some(&ann)).await.ok().clone();
    for n in list["items"].as_array().unwrap() {
        assert_eq!(n["status"], "suppressed");
        assert_eq!(n["attempts"], 1);
        assert!(n["error"].as_str().unwrap().contains("not configured"), "{n}");
    }
    for step in ["picking", "ready"] {
        app.request(Method::POST, &format!("/v1/orders/{id}/{step}")).bearer(&admin).send().await.ok();
    }
    let list = app.get(&path, Some(&ann)).await.ok().clone();
    let queued: Vec<(String, String, String)> = statuses(&list).into_iter().filter(|(_, _, s)| s == "queued").collect();
    assert_eq!(queued.len(), 4, "ready_for_pickup and a pickup_reminder, on email and sms: {queued:?}");
    // Cancelled before the sender ran: "ready for pickup" is no longer true and is not sent.
    app.request(Method::POST, &format!("/v1/orders/{id}/cancel")).bearer(&admin).send().await.ok();
    assert_eq!(run_sender(&app).await, 4, "ready_for_pickup and cancelled; the reminder is not due yet");
    let list = app.get(&path, Some(&ann)).await.ok().clone();
    let ready: Vec<&Value> =
        list["items"].as_array().unwrap().iter().filter(|n| n["event"] == "ready_for_pickup").collect();
    assert!(ready
        .iter()
        .all(|n| n["status"] == "suppressed" && n["error"].as_str().unwrap().contains("no longer true")));
    let reminders: Vec<&Value> =
        list["items"].as_array().unwrap().iter().filter(|n| n["event"] == "pickup_reminder").collect();
    assert!(reminders.iter().all(|n| n["status"] == "queued"));
    assert_eq!(run_sender(&app).await, 0);

    app.get(&path, Some(&app.customer("bob"))).await.assert_problem(404, "not-found");
    app.get(&path, Some(&app.staff("S2"))).await.assert_problem(404, "not-found");
    app.get(&path, None).await.assert_problem(401, "unauthorized");
    assert_eq!(app.get(&path, Some(&app.staff("S1"))).await.status, 200);

    // A customer without a profile has chosen no channel.
    let bob = app.customer("bob");
    let id = place_order(&app, &bob, "bob").await;
    assert_eq!(app.get(&format!("/v1/orders/{id}/notifications"), Some(&bob)).await.body["items"], json!([]));
}

async fn a_claimed_notification_is_not_claimed_twice(app: TestApp) {
    app.stocked_store("S1", json!({}), "A", 5).await;
    let ann =
        customer_with(&app, "ann", &profile(json!({"email": true, "sms": true, "push": true, "webhook": false}))).await;
    let id = place_order(&app, &ann, "ann").await;
    use clickcollect::db::write_tx;
    use clickcollect::notify::outbox::claim_due;
    use clickcollect::notify::sender::BATCH;
    let first = write_tx(&mut app.conn(), |c| claim_due(c, BATCH, chrono::TimeDelta::seconds(60))).unwrap();
    let second = write_tx(&mut app.conn(), |c| claim_due(c, BATCH, chrono::TimeDelta::seconds(60))).unwrap();
    assert_eq!((first.len(), second.len()), (3, 0), "leased rows are not due");
    // The first sender dies before recording; once the lease lapses the rows are due again.
    make_due(&app);
    assert_eq!(run_sender(&app).await, 3);
    let list = app.get(&format!("/v1/orders/{id}/notifications"), Some(&ann)).await.ok().clone();
    let push = list["items"].as_array().unwrap().iter().find(|n| n["channel"] == "push").unwrap().clone();
    assert_eq!(push["attempts"], 2);
    assert!(push["error"].as_str().unwrap().contains("VAPID_PRIVATE_KEY"), "{push}");
}

/// A sender whose lease lapsed while it was busy with earlier messages of its batch must not
/// send a row another sender has claimed since: only the current holder's renewal succeeds.
async fn only_the_current_lease_holder_sends(app: TestApp) {
    use chrono::TimeDelta;
    use clickcollect::db::write_tx;
    use clickcollect::notify::outbox::{claim_due, record, renew_lease, Claimed, Outcome};
    use clickcollect::notify::sender::BATCH;
    app.stocked_store("S1", json!({}), "A", 5).await;
    let ann =
        customer_with(&app, "ann", &profile(json!({"email": true, "sms": false, "push": false, "webhook": false})))
            .await;
    let id = place_order(&app, &ann, "ann").await;
    // A lease of zero lapses at once: the row is due again and a second sender claims it.
    let slow = write_tx(&mut app.conn(), |c| claim_due(c, BATCH, TimeDelta::zero())).unwrap();
    let mut fresh = write_tx(&mut app.conn(), |c| claim_due(c, BATCH, TimeDelta::seconds(60))).unwrap();
    assert_eq!((slow.len(), fresh.len()), (1, 1));
    assert_eq!(slow[0].id, fresh[0].id);
    let renew =
        |claimed: &Claimed| write_tx(&mut app.conn(), |c| renew_lease(c, claimed, TimeDelta::seconds(60))).unwrap();
    assert_eq!(renew(&slow[0]), None, "the lapsed holder does not send");
    fresh[0].leased_until = renew(&fresh[0]).expect("the current holder does");
    assert!(renew(&fresh[0]).is_some(), "and may renew again before its next step");
    // Nor does the lapsed holder's verdict overwrite the row the current holder is sending.
    let stale = Outcome::Suppressed("decided too late".into());
    write_tx(&mut app.conn(), |c| record(c, &slow[0], &stale, chrono::Utc::now().naive_utc())).unwrap();
    let list = app.get(&format!("/v1/orders/{id}/notifications"), Some(&ann)).await.ok().clone();
    assert_eq!(list["items"][0]["status"], "queued", "{list}");
}

/// Transient failures past the retry window end as failed, visibly.
async fn transient_failures_give_up_after_the_retry_window(app: TestApp) {
    let hook = receiver(vec![500, 500]);
    let id = webhook_order(&app, &hook.url).await;
    let ann = app.customer("ann");
    {
        use clickcollect::db::schema::notifications;
        use diesel::prelude::*;
        let soon = chrono::Utc::now().naive_utc() + chrono::TimeDelta::seconds(5);
        diesel::update(notifications::table)
            .set(notifications::retry_until.eq(soon))
            .execute(&mut *app.conn())
            .unwrap();
    }
    assert_eq!(run_sender(&app).await, 1);
    let list = app.get(&format!("/v1/orders/{id}/notifications"), Some(&ann)).await.ok().clone();
    assert_eq!(list["items"][0]["status"], "failed");
    assert!(list["items"][0]["error"].as_str().unwrap().starts_with("gave up after 1 attempts"));
}

/// Senders on several threads (as several replicas run them) share the queue: each message
/// goes out exactly once.
async fn concurrent_senders_send_each_message_once(backend: common::Backend) {
    // One customer places every order: the per-customer limits are lifted for it.
    let settings = [
        ("WEBHOOK_SECRET", WEBHOOK_SECRET),
        ("LIMIT_OPEN_ORDERS_PER_CUSTOMER", "0"),
        ("LIMIT_UNITS_PER_SKU_PER_CUSTOMER", "0"),
    ];
    let Some(app) = TestApp::spawn_with(backend, &settings).await else { return };
    let hook = receiver(vec![]);
    app.stocked_store("S1", json!({}), "A", 500).await;
    let ann = app.customer("ann");
    let mut body = profile(json!({"email": false, "sms": false, "push": false, "webhook": true}));
    body["webhook_url"] = json!(hook.url);
    app.put("/v1/customers/ann", Some(&ann), &body).await.ok();
    let order = common::pickup_order("S1", "ann", "A", 1);
    const ORDERS: usize = 120;
    for _ in 0..ORDERS {
        app.post("/v1/orders", Some(&ann), &order).await.ok();
    }
    let mut handled = 0;
    while handled < ORDERS {
        let rounds = (0..4).map(|_| run_sender(&app));
        let counts = futures_util::future::join_all(rounds).await;
        assert!(counts.iter().any(|n| *n > 0) || handled == ORDERS, "rounds stalled at {handled}");
        handled += counts.iter().sum::<usize>();
    }
    assert_eq!(handled, ORDERS, "every notification was claimed by exactly one round");
    let mut per_key: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for request in hook.received() {
        *per_key.entry(request.headers["idempotency-key"].clone()).or_default() += 1;
    }
    assert_eq!(per_key.len(), ORDERS);
    assert!(per_key.values().all(|n| *n == 1), "a message went out twice");
}

/// A stored event word this build does not know (written by a newer version, say) fails its
/// own message when its retry window closes, and the rest of the round goes on.
async fn an_unknown_stored_event_fails_its_message_and_not_the_round(app: TestApp) {
    use clickcollect::db::schema::notifications;
    use diesel::prelude::*;
    app.stocked_store("S1", json!({}), "A", 5).await;
    let ann =
        customer_with(&app, "ann", &profile(json!({"email": true, "sms": true, "push": false, "webhook": false})))
            .await;
    let id = place_order(&app, &ann, "ann").await;
    let past = chrono::Utc::now().naive_utc() - chrono::TimeDelta::minutes(1);
    diesel::update(notifications::table.filter(notifications::channel.eq("email")))
        .set((notifications::event.eq("order_teleported"), notifications::retry_until.eq(past)))
        .execute(&mut *app.conn())
        .unwrap();
    assert_eq!(run_sender(&app).await, 2, "the round handles both messages");
    let rows: Vec<(String, String, Option<String>)> = notifications::table
        .filter(notifications::order_id.eq(&id))
        .order(notifications::channel.asc())
        .select((notifications::channel, notifications::status, notifications::error))
        .load(&mut *app.conn())
        .unwrap();
    assert_eq!((rows[0].0.as_str(), rows[0].1.as_str()), ("email", "failed"));
    assert!(rows[0].2.as_deref().unwrap_or("").contains("order_teleported"), "{rows:?}");
    assert_eq!((rows[1].0.as_str(), rows[1].1.as_str()), ("sms", "suppressed"), "{rows:?}");
}

on_both_backends!(
    an_unknown_stored_event_fails_its_message_and_not_the_round,
    order_changes_queue_notifications_in_the_same_transaction,
    a_claimed_notification_is_not_claimed_twice,
    only_the_current_lease_holder_sends,
);
on_both_backends!(signed_webhooks with &[("WEBHOOK_SECRET", WEBHOOK_SECRET)]; transient_failures_give_up_after_the_retry_window);
on_each_backend!(concurrent_senders_send_each_message_once);
