//! Pickup and curbside slots through HTTP: rules make a store's slots in its time zone, holds
//! and orders book them in their own transaction and give them back when they end, a slot is
//! never overbooked however many shoppers race for it, and bad rules, unknown or unsuitable
//! slots and callers who may not set rules are refused.

mod common;

use chrono::{Datelike, NaiveDate, TimeZone, Utc};
use common::TestApp;
use futures_util::future::join_all;
use serde_json::{json, Value};

const EVERY_DAY: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// Tomorrow in Warsaw: every slot of it lies ahead.
fn tomorrow() -> NaiveDate {
    Utc::now().with_timezone(&chrono_tz::Europe::Warsaw).date_naive().succ_opt().unwrap()
}

async fn setup(app: &TestApp) {
    app.put_location("S1", json!({})).await;
    app.put_location("S2", json!({})).await;
    app.put_location("NOCURB", json!({"pickup": {"in_store": true, "curbside": false}})).await;
    app.put_product("A").await;
    app.count("S1", "A", 50).await;
    app.count("S2", "A", 50).await;
    let rules = json!({"rules": [
        {"fulfilment": "curbside", "days": EVERY_DAY, "from": "10:00", "to": "12:00", "minutes": 30, "capacity": 2},
        {"fulfilment": "pickup", "days": EVERY_DAY, "from": "10:00", "to": "11:00", "minutes": 60, "capacity": 5}
    ]});
    for store in ["S1", "S2"] {
        let put = app.put(&format!("/v1/locations/{store}/slots"), Some(&app.admin()), &rules).await;
        assert_eq!(put.ok()["rules"], rules["rules"]);
    }
}

async fn slots(app: &TestApp, store: &str, query: &str) -> Vec<Value> {
    let reply = app.get(&format!("/v1/locations/{store}/slots?date={}{query}", tomorrow()), None).await;
    reply.ok()["items"].as_array().unwrap().clone()
}

async fn remaining(app: &TestApp, id: &str) -> i64 {
    let store = id.rsplit_once('@').unwrap().1.to_string();
    let all = slots(app, &store, "").await;
    all.iter().find(|s| s["id"] == id).unwrap_or_else(|| panic!("{id} in {all:?}"))["remaining"].as_i64().unwrap()
}

async fn first_curbside(app: &TestApp, store: &str) -> String {
    slots(app, store, "&fulfilment=curbside").await[0]["id"].as_str().unwrap().to_string()
}

fn hold_body(store: &str, slot: &str) -> Value {
    json!({"location": store, "lines": [{"sku": "A", "quantity": 1}], "slot_id": slot})
}

async fn rules_make_the_days_slots_in_the_stores_time_zone(app: TestApp) {
    setup(&app).await;
    let all = slots(&app, "S1", "").await;
    let kinds: Vec<&str> = all.iter().map(|s| s["fulfilment"].as_str().unwrap()).collect();
    assert_eq!(kinds, vec!["curbside", "pickup", "curbside", "curbside", "curbside"], "by start: {all:?}");
    let ten = chrono_tz::Europe::Warsaw
        .from_local_datetime(&tomorrow().and_hms_opt(10, 0, 0).unwrap())
        .earliest()
        .unwrap()
        .with_timezone(&Utc);
    let first = &all[0];
    assert_eq!(first["starts_at"].as_str().unwrap().parse::<chrono::DateTime<Utc>>().unwrap(), ten);
    let ends: chrono::DateTime<Utc> = first["ends_at"].as_str().unwrap().parse().unwrap();
    assert_eq!((ends - ten).num_minutes(), 30);
    assert_eq!((first["capacity"].as_i64(), first["remaining"].as_i64()), (Some(2), Some(2)));
    assert_eq!(all[1]["capacity"], 5);
    assert_eq!(slots(&app, "S1", "&fulfilment=pickup").await.len(), 1);
    // Another weekday, a store without rules, and the days before today have nothing ahead.
    let rules = json!({"rules": [{"fulfilment": "pickup", "days": ["mon"], "from": "09:00", "to": "10:00", "minutes": 60, "capacity": 1}]});
    app.put("/v1/locations/S2/slots", Some(&app.admin()), &rules).await.ok();
    let monday = tomorrow().weekday() == chrono::Weekday::Mon;
    assert_eq!(slots(&app, "S2", "").await.len(), usize::from(monday));
    let none = app.get("/v1/locations/NOCURB/slots", None).await;
    assert_eq!(none.ok()["items"], json!([]));
    let past = app.get("/v1/locations/S1/slots?date=2020-01-06", None).await;
    assert_eq!(past.ok()["items"], json!([]), "slots that have started are not offered");
}

async fn a_hold_books_its_slot_and_gives_it_back(app: TestApp) {
    setup(&app).await;
    let ann = app.customer("ann");
    let slot = first_curbside(&app, "S1").await;
    let held = app.post("/v1/reservations", Some(&ann), &hold_body("S1", &slot)).await;
    assert_eq!(held.status, 201, "{}", held.text);
    assert_eq!(held.body["slot"]["id"], slot.as_str());
    assert_eq!(held.body["slot"]["fulfilment"], "curbside");
    assert_eq!(remaining(&app, &slot).await, 1);
    let id = held.body["id"].as_str().unwrap().to_string();
    assert_eq!(app.get(&format!("/v1/reservations/{id}"), Some(&ann)).await.ok()["slot"]["id"], slot.as_str());
    app.request(actix_web::http::Method::DELETE, &format!("/v1/reservations/{id}")).bearer(&ann).send().await;
    assert_eq!(remaining(&app, &slot).await, 2, "a released hold frees its slot");

    // A hold that lapses frees it too, when the sweeper or a new hold ends it.
    let lapsing = app.post("/v1/reservations", Some(&ann), &hold_body("S1", &slot)).await.ok()["id"]
        .as_str()
        .unwrap()
        .to_string();
    {
        use clickcollect::db::schema::reservations;
        use diesel::prelude::*;
        let past = Utc::now().naive_utc() - chrono::TimeDelta::minutes(1);
        diesel::update(reservations::table.find(&lapsing))
            .set(reservations::expires_at.eq(past))
            .execute(&mut *app.conn())
            .unwrap();
    }
    clickcollect::db::write_tx(&mut app.conn(), clickcollect::reservations::expire_lapsed).unwrap();
    assert_eq!(remaining(&app, &slot).await, 2, "an expired hold frees its slot");

    // The order from a hold keeps its slot; cancelling the order frees it.
    let hold = app.post("/v1/reservations", Some(&ann), &hold_body("S1", &slot)).await.ok()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let wrong_kind = json!({"reservation_id": hold, "location": "S1", "fulfilment": "pickup", "customer_id": "ann"});
    app.post("/v1/orders", Some(&ann), &wrong_kind).await.assert_problem(409, "conflict");
    let other_slot = json!({"reservation_id": hold, "location": "S1", "fulfilment": "curbside", "customer_id": "ann",
        "slot_id": slots(&app, "S1", "&fulfilment=curbside").await[1]["id"]});
    app.post("/v1/orders", Some(&ann), &other_slot).await.assert_problem(409, "conflict");
    assert_eq!(remaining(&app, &slot).await, 1, "refused orders change nothing");
    let order = json!({"reservation_id": hold, "location": "S1", "fulfilment": "curbside", "customer_id": "ann"});
    let placed = app.post("/v1/orders", Some(&ann), &order).await;
    assert_eq!(placed.status, 201, "{}", placed.text);
    assert_eq!(placed.body["slot"]["id"], slot.as_str());
    assert_eq!(remaining(&app, &slot).await, 1, "the hold's booking became the order's, not a second one");
    let order_id = placed.body["id"].as_str().unwrap().to_string();
    let listed = app.get("/v1/stores/S1/orders", Some(&app.staff("S1"))).await.ok().clone();
    assert_eq!(listed["items"][0]["slot"]["id"], slot.as_str(), "the store's list shows the slot");
    app.post(&format!("/v1/orders/{order_id}/cancel"), Some(&ann), &json!({})).await.ok();
    assert_eq!(remaining(&app, &slot).await, 2);

    // Direct orders book their slot with their stock.
    let direct = json!({"location": "S1", "fulfilment": "curbside", "customer_id": "ann",
        "lines": [{"sku": "A", "quantity": 2}], "slot_id": slot});
    assert_eq!(app.post("/v1/orders", Some(&ann), &direct).await.ok()["slot"]["id"], slot.as_str());
    assert_eq!(remaining(&app, &slot).await, 1);
}

async fn unsuitable_slots_are_refused_and_change_nothing(app: TestApp) {
    setup(&app).await;
    let ann = app.customer("ann");
    let slot = first_curbside(&app, "S1").await;
    let at_s2 = first_curbside(&app, "S2").await;
    for (body, status, slug, field) in [
        (hold_body("S1", "curbside-20261130T0900Z-30"), 404, "not-found", Some("slot_id")),
        (hold_body("S1", &slot.replace("-30@", "-45@")), 404, "not-found", Some("slot_id")),
        (hold_body("S1", &at_s2), 409, "conflict", None),
    ] {
        let reply = app.post("/v1/reservations", Some(&ann), &body).await;
        reply.assert_problem(status, slug);
        if let Some(field) = field {
            assert_eq!(reply.error_fields(), vec![field]);
        }
    }
    let pickup_with_curbside = json!({"location": "S1", "fulfilment": "pickup", "customer_id": "ann",
        "lines": [{"sku": "A", "quantity": 1}], "slot_id": slot});
    app.post("/v1/orders", Some(&ann), &pickup_with_curbside).await.assert_problem(409, "conflict");
    let delivery = json!({"location": "S1", "fulfilment": "delivery", "customer_id": "ann",
        "lines": [{"sku": "A", "quantity": 1}], "slot_id": slot});
    app.post("/v1/orders", Some(&ann), &delivery).await.assert_problem(409, "conflict");
    assert_eq!(app.level("S1", "A").await["reserved"], 0, "a refused slot holds no stock");
    assert_eq!(remaining(&app, &slot).await, 2);

    // A slot that has started: a store in UTC with one-hour slots all day, the current hour's.
    app.put_location("UTC1", json!({"timezone": "UTC"})).await;
    app.count("UTC1", "A", 5).await;
    let all_day = json!({"rules": [{"fulfilment": "pickup", "days": EVERY_DAY, "from": "00:00", "to": "24:00", "minutes": 60, "capacity": 5}]});
    app.put("/v1/locations/UTC1/slots", Some(&app.admin()), &all_day).await.ok();
    let hour = Utc::now().format("%Y%m%dT%H00Z");
    let started = app.post("/v1/reservations", Some(&ann), &hold_body("UTC1", &format!("pickup-{hour}-60@UTC1"))).await;
    started.assert_problem(409, "conflict");
    assert!(started.body["detail"].as_str().unwrap().contains("already started"), "{}", started.text);

    // Full.
    for _ in 0..2 {
        assert_eq!(app.post("/v1/reservations", Some(&ann), &hold_body("S1", &slot)).await.status, 201);
    }
    let full = app.post("/v1/reservations", Some(&app.customer("bob")), &hold_body("S1", &slot)).await;
    full.assert_problem(409, "slot-full");
    assert_eq!(remaining(&app, &slot).await, 0);
    assert_eq!(app.level("S1", "A").await["reserved"], 2, "the refused hold took no stock");

    // New rules with hour-long slots: the hour from the same start is a slot of its own, with
    // its own room, whatever the half-hour one holds.
    let hourly = json!({"rules": [{"fulfilment": "curbside", "days": EVERY_DAY, "from": "10:00", "to": "12:00", "minutes": 60, "capacity": 5}]});
    app.put("/v1/locations/S1/slots", Some(&app.admin()), &hourly).await.ok();
    let hour = first_curbside(&app, "S1").await;
    assert_ne!(hour, slot);
    assert_eq!(remaining(&app, &hour).await, 5);
    assert_eq!(app.post("/v1/reservations", Some(&app.customer("bob")), &hold_body("S1", &hour)).await.status, 201);
    assert_eq!(remaining(&app, &hour).await, 4);
    // What a store stops offering is neither listed nor booked.
    app.put_location("S1", json!({"pickup": {"in_store": true, "curbside": false}})).await;
    assert!(slots(&app, "S1", "&fulfilment=curbside").await.is_empty());
    let off = app.post("/v1/reservations", Some(&app.customer("cat")), &hold_body("S1", &hour)).await;
    off.assert_problem(409, "conflict");
    assert!(off.body["detail"].as_str().unwrap().contains("does not offer curbside"), "{}", off.text);
}

async fn rules_are_checked_and_set_by_admins_only(app: TestApp) {
    setup(&app).await;
    let admin = app.admin();
    let rule = |fields: Value| {
        let mut rule = json!({"fulfilment": "pickup", "days": ["mon"], "from": "10:00", "to": "12:00", "minutes": 30, "capacity": 4});
        for (k, v) in fields.as_object().unwrap() {
            rule[k] = v.clone();
        }
        rule
    };
    let put = |rules: Vec<Value>| {
        let body = json!({ "rules": rules });
        let (app, admin) = (&app, admin.clone());
        async move { app.put("/v1/locations/S1/slots", Some(&admin), &body).await }
    };
    assert_eq!(
        put(vec![rule(json!({"days": ["mon", "funday", "mon"]}))]).await.error_fields(),
        vec!["rules[0].days[1]", "rules[0].days[2]"]
    );
    assert_eq!(put(vec![rule(json!({"from": "25:00"}))]).await.error_fields(), vec!["rules[0].from"]);
    assert_eq!(put(vec![rule(json!({"to": "10:15"}))]).await.error_fields(), vec!["rules[0].to"]);
    assert_eq!(
        put(vec![rule(json!({"minutes": 5, "capacity": 0}))]).await.error_fields(),
        vec!["rules[0].minutes", "rules[0].capacity"]
    );
    let overlap = put(vec![rule(json!({})), rule(json!({"from": "11:00", "to": "13:00"}))]).await;
    assert_eq!(overlap.error_fields(), vec!["rules[1].from"]);
    let unknown = app.put("/v1/locations/S1/slots", Some(&admin), &json!({"rules": [], "note": "x"})).await;
    assert_eq!(unknown.error_fields(), vec!["note"]);
    // What a store does not offer, it does not give slots for.
    let curbside = json!({"rules": [rule(json!({"fulfilment": "curbside"}))]});
    app.put("/v1/locations/NOCURB/slots", Some(&admin), &curbside).await.assert_problem(409, "conflict");
    app.put("/v1/locations/NOPE/slots", Some(&admin), &curbside).await.assert_problem(404, "not-found");
    app.put("/v1/locations/S1/slots", Some(&app.staff("S1")), &curbside).await.assert_problem(403, "forbidden");
    app.put("/v1/locations/S1/slots", None, &curbside).await.assert_problem(401, "unauthorized");
    assert_eq!(slots(&app, "S1", "").await.len(), 5, "refused rules left the old ones");
    app.get("/v1/locations/S1/slots?date=tomorrow", None).await.assert_problem(422, "validation");
    app.get("/v1/locations/S1/slots?fulfilment=delivery", None).await.assert_problem(422, "validation");
    app.get("/v1/locations/NOPE/slots", None).await.assert_problem(404, "not-found");
    // An empty list offers no slots.
    assert_eq!(put(vec![]).await.ok()["rules"], json!([]));
    assert!(slots(&app, "S1", "").await.is_empty());
}

/// Ten shoppers for a slot with room for two, stock for all: two holds, eight `slot-full`,
/// and only the two holds' units reserved.
async fn racing_shoppers_never_overbook_a_slot(app: TestApp) {
    setup(&app).await;
    let slot = first_curbside(&app, "S1").await;
    let tokens: Vec<String> = (0..10).map(|i| app.customer(&format!("shopper{i}"))).collect();
    let body = hold_body("S1", &slot);
    let replies = join_all(tokens.iter().map(|token| app.post("/v1/reservations", Some(token), &body))).await;
    let statuses: Vec<u16> = replies.iter().map(|r| r.status).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 2, "{statuses:?}");
    for reply in replies.iter().filter(|r| r.status != 201) {
        reply.assert_problem(409, "slot-full");
    }
    assert_eq!(remaining(&app, &slot).await, 0);
    assert_eq!(app.level("S1", "A").await["reserved"], 2);
    app.assert_ledger_balances("S1", "A").await;

    // Orders race the same way for the pickup slot (room for five).
    let pickup = slots(&app, "S1", "&fulfilment=pickup").await[0]["id"].as_str().unwrap().to_string();
    let app = &app;
    let orders = tokens.iter().enumerate().map(|(i, token)| {
        let body = json!({"location": "S1", "fulfilment": "pickup", "customer_id": format!("shopper{i}"),
            "lines": [{"sku": "A", "quantity": 1}], "slot_id": pickup});
        async move { app.post("/v1/orders", Some(token), &body).await }
    });
    let placed = join_all(orders).await;
    assert_eq!(
        placed.iter().filter(|r| r.status == 201).count(),
        5,
        "{:?}",
        placed.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    assert_eq!(remaining(app, &pickup).await, 0);
    assert_eq!(app.level("S1", "A").await["reserved"], 7);
}

on_both_backends!(
    rules_make_the_days_slots_in_the_stores_time_zone,
    a_hold_books_its_slot_and_gives_it_back,
    unsuitable_slots_are_refused_and_change_nothing,
    rules_are_checked_and_set_by_admins_only,
    racing_shoppers_never_overbook_a_slot,
);
