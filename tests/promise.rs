//! The ready-by promise through HTTP: the queue counted at the store's pace within its opening
//! hours, the first free slot after it, the promise each order is sold with, the store's list
//! running by it, late orders flagged, and the refusals.

mod common;

use chrono::{DateTime, Datelike, TimeDelta, Utc};
use common::TestApp;
use serde_json::{json, Value};

async fn setup(app: &TestApp) {
    // Always open (no opening hours), four orders an hour: fifteen minutes each.
    app.put_location("S1", json!({"picking_per_hour": 4})).await;
    app.put_location("NEAR", json!({"latitude": 52.25, "longitude": 21.0})).await;
    app.put_product("A").await;
    app.put_product("B").await;
    app.count("S1", "A", 20).await;
    app.count("NEAR", "B", 5).await;
}

fn cart(location: &str, sku: &str, quantity: i64) -> Value {
    json!({"location": location, "lines": [{"sku": sku, "quantity": quantity}]})
}

fn time(value: &Value) -> DateTime<Utc> {
    value.as_str().unwrap_or_else(|| panic!("a time, not {value}")).parse().unwrap()
}

/// `at` is `minutes` after `from`, give or take the seconds a test takes.
fn about(at: DateTime<Utc>, from: DateTime<Utc>, minutes: i64) {
    let off = (at - from - TimeDelta::minutes(minutes)).num_seconds().abs();
    assert!(off <= 60, "{at} is not {minutes} min after {from}");
}

async fn place(app: &TestApp, customer: &str) -> Value {
    let body = common::pickup_order("S1", customer, "A", 1);
    app.post("/v1/orders", Some(&app.customer(customer)), &body).await.ok().clone()
}

async fn the_queue_is_counted_at_the_stores_pace(app: TestApp) {
    setup(&app).await;
    let location = app.get("/v1/locations/S1", None).await.ok().clone();
    assert_eq!(location["picking_per_hour"], 4);
    let asked = Utc::now();
    let first = app.post("/v1/promise", None, &cart("S1", "A", 2)).await.ok().clone();
    assert_eq!(first["source"], "store");
    assert_eq!(first["fulfilment"], "pickup");
    assert_eq!(first["orders_ahead"], 0);
    assert_eq!(first["lines"], json!([{"sku": "A", "quantity": 2, "available": 20, "source": "store"}]));
    about(time(&first["ready_at"]), asked, 15);
    assert!(first["slot"].is_null(), "no slot rules, no slot");

    // Each order placed records its promise and joins the queue.
    let one = place(&app, "ann").await;
    about(time(&one["promised_at"]), asked, 15);
    assert_eq!(one["late"], false);
    let two = place(&app, "bob").await;
    about(time(&two["promised_at"]), asked, 30);
    let third = app.post("/v1/promise", None, &cart("S1", "A", 1)).await.ok().clone();
    assert_eq!(third["orders_ahead"], 2);
    about(time(&third["ready_at"]), asked, 45);
    // Nothing was held by asking.
    assert_eq!(app.level("S1", "A").await["reserved"], 2);

    // An order ready leaves the queue.
    let staff = app.staff("S1");
    let id = one["id"].as_str().unwrap();
    for step in ["picking", "ready"] {
        app.post(&format!("/v1/orders/{id}/{step}"), Some(&staff), &json!({})).await.ok();
    }
    assert_eq!(app.post("/v1/promise", None, &cart("S1", "A", 1)).await.ok()["orders_ahead"], 1);
    // The deployment's pace when the store sets none (PICKING_ORDERS_PER_HOUR, 12: five minutes).
    app.put_location("S1", json!({})).await;
    let default_pace = app.post("/v1/promise", None, &cart("S1", "A", 1)).await.ok().clone();
    about(time(&default_pace["ready_at"]), Utc::now(), 10);
}

async fn the_work_waits_for_opening_hours(app: TestApp) {
    setup(&app).await;
    // Open only on the day after tomorrow (UTC), 10:00 to 18:00.
    let day = Utc::now().date_naive() + chrono::Days::new(2);
    let weekday = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"][day.weekday().num_days_from_monday() as usize];
    let hours = json!({weekday: [["10:00", "18:00"]]});
    app.put_location("S1", json!({"timezone": "UTC", "picking_per_hour": 4, "opening_hours": hours})).await;
    let promise = app.post("/v1/promise", None, &cart("S1", "A", 1)).await.ok().clone();
    let opens = day.and_hms_opt(10, 0, 0).unwrap().and_utc();
    assert_eq!(time(&promise["ready_at"]), opens + TimeDelta::minutes(15));
    // With curbside slots, the first free one once it is ready.
    let days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    let rules = json!({"rules": [{"fulfilment": "curbside", "days": days, "from": "10:00", "to": "12:00", "minutes": 30, "capacity": 1}]});
    app.put("/v1/locations/S1/slots", Some(&app.admin()), &rules).await.ok();
    let mut curbside = cart("S1", "A", 1);
    curbside["fulfilment"] = json!("curbside");
    let with_slot = app.post("/v1/promise", None, &curbside).await.ok().clone();
    assert_eq!(with_slot["fulfilment"], "curbside");
    assert_eq!(time(&with_slot["slot"]["starts_at"]), opens + TimeDelta::minutes(30), "{with_slot}");
    // That slot taken, the next one.
    let ann = app.customer("ann");
    let hold = json!({"location": "S1", "lines": [{"sku": "A", "quantity": 1}], "slot_id": with_slot["slot"]["id"]});
    app.post("/v1/reservations", Some(&ann), &hold).await.ok();
    let next = app.post("/v1/promise", None, &curbside).await.ok().clone();
    assert_eq!(time(&next["slot"]["starts_at"]), opens + TimeDelta::minutes(60));
    // Never open: no promise.
    app.put_location("S1", json!({"opening_hours": {}})).await;
    let never = app.post("/v1/promise", None, &cart("S1", "A", 1)).await;
    never.assert_problem(409, "conflict");
    assert!(never.body["detail"].as_str().unwrap().contains("not open"), "{}", never.text);
}

async fn what_cannot_be_promised_is_refused(app: TestApp) {
    setup(&app).await;
    let short = app.post("/v1/promise", None, &cart("S1", "B", 2)).await;
    short.assert_problem(409, "insufficient-stock");
    assert_eq!(short.body["shortfalls"][0]["sku"], "B");
    assert_eq!(short.body["shortfalls"][0]["alternatives"][0]["location"], "NEAR");
    app.post("/v1/promise", None, &cart("S1", "NOPE", 1)).await.assert_problem(404, "not-found");
    app.post("/v1/promise", None, &cart("NOPE", "A", 1)).await.assert_problem(404, "not-found");
    app.put_location("S1", json!({"pickup": {"in_store": true, "curbside": false}})).await;
    let mut curbside = cart("S1", "A", 1);
    curbside["fulfilment"] = json!("curbside");
    app.post("/v1/promise", None, &curbside).await.assert_problem(409, "conflict");
    curbside["fulfilment"] = json!("delivery");
    assert_eq!(app.post("/v1/promise", None, &curbside).await.error_fields(), vec!["fulfilment"]);
    let mut extra = cart("S1", "A", 1);
    extra["coupon"] = json!("X");
    assert_eq!(app.post("/v1/promise", None, &extra).await.error_fields(), vec!["coupon"]);
    assert_eq!(app.post("/v1/promise", None, &cart("S1", "A", 0)).await.error_fields(), vec!["lines[0].quantity"]);
    let invalid = app
        .put(
            "/v1/locations/S1",
            Some(&app.admin()),
            &json!({"name": "S1", "kind": "store",
        "timezone": "UTC", "pickup": {"in_store": true, "curbside": true}, "pickup_hold_days": 1,
        "fulfils_online": true, "active": true, "picking_per_hour": 0}),
        )
        .await;
    assert_eq!(invalid.error_fields(), vec!["picking_per_hour"]);
}

/// The list runs by promise after the curbside arrivals; an order still to pick after its
/// promise is late, until it is ready.
async fn the_store_list_runs_by_promise_and_flags_late_orders(app: TestApp) {
    setup(&app).await;
    let first = place(&app, "ann").await;
    let second = place(&app, "bob").await;
    let set_promise = |id: &str, minutes: i64| {
        use clickcollect::db::schema::order_promises;
        use diesel::prelude::*;
        let at = Utc::now().naive_utc() + TimeDelta::minutes(minutes);
        diesel::update(order_promises::table.find(id))
            .set(order_promises::promised_at.eq(at))
            .execute(&mut *app.conn())
            .unwrap();
    };
    let id = |order: &Value| order["id"].as_str().unwrap().to_string();
    let staff = app.staff("S1");
    let numbers = |list: &Value| -> Vec<String> {
        list["items"].as_array().unwrap().iter().map(|o| o["id"].as_str().unwrap().to_string()).collect()
    };
    let list = app.get("/v1/stores/S1/orders", Some(&staff)).await.ok().clone();
    assert_eq!(numbers(&list), vec![id(&first), id(&second)]);
    // The second was promised sooner (a store's pace changed, say): it comes first, and late.
    set_promise(&id(&second), -5);
    let list = app.get("/v1/stores/S1/orders", Some(&staff)).await.ok().clone();
    assert_eq!(numbers(&list), vec![id(&second), id(&first)]);
    assert_eq!((list["items"][0]["late"].as_bool(), list["items"][1]["late"].as_bool()), (Some(true), Some(false)));
    assert!(list["items"][0]["promised_at"].is_string());
    let order = app.get(&format!("/v1/orders/{}", id(&second)), Some(&staff)).await.ok().clone();
    assert_eq!(order["late"], true);
    for step in ["picking", "ready"] {
        app.post(&format!("/v1/orders/{}/{step}", id(&second)), Some(&staff), &json!({})).await.ok();
    }
    let ready = app.get(&format!("/v1/orders/{}", id(&second)), Some(&staff)).await.ok().clone();
    assert_eq!(ready["late"], false, "ready is no longer late");
    // A curbside arrival still comes before any promise.
    let curbside = json!({"location": "S1", "fulfilment": "curbside", "customer_id": "cat",
        "lines": [{"sku": "A", "quantity": 1}]});
    let arriving = app.post("/v1/orders", Some(&app.customer("cat")), &curbside).await.ok().clone();
    app.post(&format!("/v1/orders/{}/arrival", id(&arriving)), Some(&app.customer("cat")), &json!({})).await.ok();
    let list = app.get("/v1/stores/S1/orders", Some(&staff)).await.ok().clone();
    assert_eq!(numbers(&list)[0], id(&arriving));
}

on_both_backends!(
    the_queue_is_counted_at_the_stores_pace,
    the_work_waits_for_opening_hours,
    what_cannot_be_promised_is_refused,
    the_store_list_runs_by_promise_and_flags_late_orders,
);
