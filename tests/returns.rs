//! Returns in store through HTTP: units of a collected or delivered order taken back at any
//! store, resellable ones on that store's shelf through the ledger and the rest kept aside;
//! the order's `partially_returned` and `returned`; the customer told once per return; the
//! channel's feed carrying the change; never more back than was bought, even when returns
//! race; and who may take them.

mod common;

use common::TestApp;
use futures_util::future::join_all;
use serde_json::{json, Value};

async fn setup(app: &TestApp) {
    app.put_location("S1", json!({"name": "Warsaw Centre"})).await;
    app.put_location("S2", json!({"name": "Kraków Market"})).await;
    for sku in ["A", "B", "C"] {
        app.put_product(sku).await;
    }
    app.count("S1", "A", 10).await;
    app.count("S1", "B", 5).await;
    app.count("S1", "C", 5).await;
    let ann = app.customer("ann");
    let profile = json!({"name": "Ann", "email": "ann@example.com",
        "channels": {"email": true, "sms": false, "push": false, "webhook": false}});
    app.put("/v1/customers/ann", Some(&ann), &profile).await.ok();
}

/// An order for ann at S1, picked, ready and handed over: its id.
async fn collected(app: &TestApp, lines: Value) -> String {
    let ann = app.customer("ann");
    let staff = app.staff("S1");
    let order = json!({"location": "S1", "fulfilment": "pickup", "customer_id": "ann", "lines": lines});
    let id = app.post("/v1/orders", Some(&ann), &order).await.ok()["id"].as_str().unwrap().to_string();
    app.post(&format!("/v1/orders/{id}/picking"), Some(&staff), &json!({})).await.ok();
    app.post(&format!("/v1/orders/{id}/ready"), Some(&staff), &json!({})).await.ok();
    let code = app.get(&format!("/v1/orders/{id}"), Some(&ann)).await.ok()["pickup_code"].as_str().unwrap().to_string();
    let handed = app.post("/v1/stores/S1/pickups", Some(&staff), &json!({"code": code})).await;
    assert_eq!(handed.ok()["status"], "collected");
    id
}

async fn give_back(app: &TestApp, token: &str, id: &str, location: &str, lines: Value) -> common::Reply {
    app.post(&format!("/v1/orders/{id}/returns"), Some(token), &json!({"location": location, "lines": lines})).await
}

fn kinds(order: &Value) -> Vec<String> {
    order["events"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap().to_string()).collect()
}

async fn a_return_at_another_store_puts_resellable_units_on_its_shelf(app: TestApp) {
    setup(&app).await;
    let id = collected(&app, json!([{"sku": "A", "quantity": 3}, {"sku": "B", "quantity": 2}])).await;
    let at_s1 = app.level("S1", "A").await;
    assert_eq!(at_s1["on_hand"], 7);

    let kasia = app.staff("S2");
    let first = give_back(
        &app,
        &kasia,
        &id,
        "S2",
        json!([{"sku": "A", "quantity": 2, "condition": "resellable"}, {"sku": "A", "quantity": 1, "condition": "damaged"}]),
    )
    .await;
    assert_eq!(first.status, 201, "{}", first.text);
    assert_eq!(first.body["status"], "partially_returned");
    let returns = first.body["returns"].as_array().unwrap();
    assert_eq!(returns.len(), 1);
    assert_eq!(returns[0]["location"], "S2");
    assert_eq!(returns[0]["actor"], "staff:clerk-S2");
    assert_eq!(
        returns[0]["lines"],
        json!([{"sku": "A", "quantity": 1, "condition": "damaged"}, {"sku": "A", "quantity": 2, "condition": "resellable"}])
    );
    // Two resellable units on S2's shelf; the damaged one is not on sale anywhere; S1 is untouched.
    let at_s2 = app.level("S2", "A").await;
    assert_eq!((at_s2["on_hand"].as_i64(), at_s2["available"].as_i64()), (Some(2), Some(2)), "{at_s2}");
    assert_eq!(app.level("S1", "A").await, at_s1);
    let ledger = app.movements("S2", "A").await;
    assert_eq!(ledger.len(), 1);
    assert_eq!(ledger[0]["reason"], "return");
    assert_eq!(ledger[0]["delta_on_hand"], 2);
    assert_eq!(ledger[0]["reference"], id.as_str());
    assert_eq!(ledger[0]["actor"], "staff:clerk-S2");
    app.assert_ledger_balances("S2", "A").await;

    // The rest comes back: the order is returned.
    let second = give_back(&app, &kasia, &id, "S2", json!([{"sku": "B", "quantity": 2, "condition": "inspect"}])).await;
    assert_eq!(second.status, 201, "{}", second.text);
    assert_eq!(second.body["status"], "returned");
    assert_eq!(second.body["returns"].as_array().unwrap().len(), 2);
    let b_at_s2 = app.get("/v1/stock/S2/B", Some(&app.admin())).await;
    assert!(
        b_at_s2.status == 404 || b_at_s2.body["on_hand"] == 0,
        "units to inspect are not on sale: {}",
        b_at_s2.text
    );
    assert_eq!(
        kinds(&second.body),
        vec!["confirmed", "picking", "ready_for_pickup", "collected", "partially_returned", "returned"]
    );
    let timeline = second.body["events"].as_array().unwrap();
    assert_eq!(timeline[4]["detail"]["location"], "S2");
    assert_eq!(timeline[4]["detail"]["return_id"], returns[0]["id"]);

    // Nothing is left to return.
    let more =
        give_back(&app, &kasia, &id, "S2", json!([{"sku": "A", "quantity": 1, "condition": "resellable"}])).await;
    more.assert_problem(409, "conflict");
    assert!(more.body["detail"].as_str().unwrap().contains("every unit bought has come back"), "{}", more.text);

    // The customer hears of each return once, and sees the returns on the order.
    let ann = app.customer("ann");
    let sent = app.get(&format!("/v1/orders/{id}/notifications"), Some(&ann)).await.ok().clone();
    let returned: Vec<&Value> = sent["items"].as_array().unwrap().iter().filter(|n| n["event"] == "returned").collect();
    assert_eq!(returned.len(), 2, "{sent}");
    assert!(returned.iter().all(|n| n["channel"] == "email"));
    let mine = app.get(&format!("/v1/orders/{id}"), Some(&ann)).await.ok().clone();
    assert_eq!(mine["status"], "returned");
    assert_eq!(mine["returns"].as_array().unwrap().len(), 2);
}

async fn more_than_was_bought_is_refused_and_changes_nothing(app: TestApp) {
    setup(&app).await;
    let id = collected(&app, json!([{"sku": "A", "quantity": 3}])).await;
    let staff = app.staff("S1");
    let too_many =
        give_back(&app, &staff, &id, "S1", json!([{"sku": "A", "quantity": 4, "condition": "resellable"}])).await;
    too_many.assert_problem(409, "return-exceeds-order");
    assert_eq!(too_many.error_fields(), vec!["lines[0].quantity"]);
    // Split over conditions, the units still add up.
    let split = give_back(
        &app,
        &staff,
        &id,
        "S1",
        json!([{"sku": "A", "quantity": 2, "condition": "resellable"}, {"sku": "A", "quantity": 2, "condition": "damaged"}]),
    )
    .await;
    split.assert_problem(409, "return-exceeds-order");
    assert_eq!(split.error_fields(), vec!["lines[0].quantity", "lines[1].quantity"]);
    let never_bought =
        give_back(&app, &staff, &id, "S1", json!([{"sku": "B", "quantity": 1, "condition": "resellable"}])).await;
    never_bought.assert_problem(409, "return-exceeds-order");
    assert_eq!(never_bought.error_fields(), vec!["lines[0].sku"]);
    let unchanged = app.get(&format!("/v1/orders/{id}"), Some(&app.admin())).await.ok().clone();
    assert_eq!(unchanged["status"], "collected");
    assert_eq!(unchanged["returns"], json!([]));
    assert_eq!(app.level("S1", "A").await["on_hand"], 7, "a refused return puts nothing on the shelf");

    give_back(&app, &staff, &id, "S1", json!([{"sku": "A", "quantity": 2, "condition": "resellable"}])).await.ok();
    let one_left =
        give_back(&app, &staff, &id, "S1", json!([{"sku": "A", "quantity": 2, "condition": "resellable"}])).await;
    one_left.assert_problem(409, "return-exceeds-order");
    let said = one_left.body["errors"][0]["message"].as_str().unwrap().to_string();
    assert!(said.contains("2 already returned") && said.contains("at most 1 more"), "{said}");
    assert_eq!(app.level("S1", "A").await["on_hand"], 9);

    // An order still in the store is cancelled, not returned.
    let ann = app.customer("ann");
    let open = app.post("/v1/orders", Some(&ann), &common::pickup_order("S1", "ann", "C", 1)).await.ok()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let early =
        give_back(&app, &staff, &open, "S1", json!([{"sku": "C", "quantity": 1, "condition": "resellable"}])).await;
    early.assert_problem(409, "conflict");
    assert!(early.body["detail"].as_str().unwrap().contains("cancel it instead"), "{}", early.text);
    assert_eq!(app.level("S1", "C").await["on_hand"], 5);
}

async fn returns_are_taken_by_staff_at_their_store_and_checked(app: TestApp) {
    setup(&app).await;
    let id = collected(&app, json!([{"sku": "A", "quantity": 2}])).await;
    let line = json!([{"sku": "A", "quantity": 1, "condition": "resellable"}]);
    for (token, status, slug) in [
        (app.customer("ann"), 403, "forbidden"),
        (app.integration(&["orders:write", "orders:read"]), 403, "forbidden"),
        (app.staff("S2"), 403, "forbidden"),
    ] {
        give_back(&app, &token, &id, "S1", line.clone()).await.assert_problem(status, slug);
    }
    app.post(&format!("/v1/orders/{id}/returns"), None, &json!({"location": "S1", "lines": line}))
        .await
        .assert_problem(401, "unauthorized");
    give_back(&app, &app.admin(), "nope", "S1", line.clone()).await.assert_problem(404, "not-found");
    give_back(&app, &app.admin(), &id, "NOPE", line.clone()).await.assert_problem(404, "not-found");

    let admin = app.admin();
    let unknown_field = app
        .post(&format!("/v1/orders/{id}/returns"), Some(&admin), &json!({"location": "S1", "lines": line, "why": "x"}))
        .await;
    assert_eq!(unknown_field.error_fields(), vec!["why"]);
    let bad_condition =
        give_back(&app, &admin, &id, "S1", json!([{"sku": "A", "quantity": 1, "condition": "worn"}])).await;
    bad_condition.assert_problem(422, "validation");
    let invalid = give_back(
        &app,
        &admin,
        &id,
        "S1",
        json!([{"sku": "A", "quantity": 0, "condition": "resellable"}, {"sku": "A", "quantity": 1, "condition": "resellable"}]),
    )
    .await;
    assert_eq!(invalid.error_fields(), vec!["lines[0].quantity", "lines[1]"]);
    assert_eq!(give_back(&app, &admin, &id, "S1", json!([])).await.error_fields(), vec!["lines"]);
    assert_eq!(app.get(&format!("/v1/orders/{id}"), Some(&admin)).await.ok()["returns"], json!([]));

    // An admin takes returns anywhere; staff at their own store.
    assert_eq!(give_back(&app, &admin, &id, "S2", line.clone()).await.status, 201);
    assert_eq!(give_back(&app, &app.staff("S1"), &id, "S1", line).await.ok()["status"], "returned");
}

async fn racing_returns_never_take_back_more_than_was_bought(app: TestApp) {
    setup(&app).await;
    let id = collected(&app, json!([{"sku": "A", "quantity": 3}])).await;
    let staff = app.staff("S2");
    let line = json!([{"sku": "A", "quantity": 1, "condition": "resellable"}]);
    let replies = join_all((0..8).map(|_| give_back(&app, &staff, &id, "S2", line.clone()))).await;
    let statuses: Vec<u16> = replies.iter().map(|r| r.status).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 3, "{statuses:?}");
    assert!(statuses.iter().all(|s| *s == 201 || *s == 409), "{statuses:?}");
    assert_eq!(app.level("S2", "A").await["on_hand"], 3);
    app.assert_ledger_balances("S2", "A").await;
    let order = app.get(&format!("/v1/orders/{id}"), Some(&app.admin())).await.ok().clone();
    assert_eq!(order["status"], "returned");
    assert_eq!(order["returns"].as_array().unwrap().len(), 3);
}

/// A marketplace's delivered order comes back: the channel's feed (and so its signed webhook)
/// carries the new status, for the commerce platform to refund.
async fn the_channel_hears_of_a_return_of_its_order(app: TestApp) {
    setup(&app).await;
    let admin = app.admin();
    app.put("/v1/channels/mkt", Some(&admin), &json!({"name": "Market", "buffer": 0, "locations": ["S1"]})).await.ok();
    let erp = app.integration(&["orders:write", "orders:read", "stock:read"]);
    let import = json!({"location": "S1", "fulfilment": "delivery", "customer_id": "m-ann",
        "lines": [{"sku": "A", "quantity": 2}], "channel": "mkt", "external_ref": "MKT-9"});
    let id = app.post("/v1/orders", Some(&erp), &import).await.ok()["id"].as_str().unwrap().to_string();
    let staff = app.staff("S1");
    app.post(&format!("/v1/orders/{id}/picking"), Some(&staff), &json!({})).await.ok();
    let shipment = json!({"carrier": "DPD", "tracking_number": "X1"});
    app.post(&format!("/v1/orders/{id}/ship"), Some(&staff), &shipment).await.ok();
    app.post(&format!("/v1/orders/{id}/deliver"), Some(&staff), &json!({})).await.ok();
    let before = app.get("/v1/channels/mkt/changes", Some(&erp)).await.ok()["cursor"].as_str().unwrap().to_string();

    let back =
        give_back(&app, &staff, &id, "S1", json!([{"sku": "A", "quantity": 2, "condition": "resellable"}])).await;
    assert_eq!(back.ok()["status"], "returned");
    let feed = app.get(&format!("/v1/channels/mkt/changes?after={before}"), Some(&erp)).await.ok().clone();
    let orders = feed["orders"].as_array().unwrap();
    assert_eq!(orders.len(), 1, "{feed}");
    assert_eq!(orders[0]["order_id"], id.as_str());
    assert_eq!(orders[0]["external_ref"], "MKT-9");
    assert_eq!(orders[0]["status"], "returned");
    // The units are on sale again on the channel.
    let a = feed["items"].as_array().unwrap().iter().find(|i| i["sku"] == "A").cloned().unwrap();
    assert_eq!(a["available"], 10);
}

on_both_backends!(
    a_return_at_another_store_puts_resellable_units_on_its_shelf,
    more_than_was_bought_is_refused_and_changes_nothing,
    returns_are_taken_by_staff_at_their_store_and_checked,
    racing_returns_never_take_back_more_than_was_bought,
    the_channel_hears_of_a_return_of_its_order,
);
