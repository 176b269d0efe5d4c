//! Stock levels and the ledger through HTTP: counts (as_of, compare-and-set), adjustment
//! batches, snapshots, movements, idempotency, denials and bad input.

mod common;

use actix_web::http::Method;
use common::TestApp;
use serde_json::{json, Value};

async fn setup(app: &TestApp) {
    app.put_location("S1", json!({})).await;
    app.put_location("S2", json!({"latitude": 50.06, "longitude": 19.94})).await;
    for sku in ["A", "B", "C"] {
        app.put_product(sku).await;
    }
}

async fn a_count_sets_on_hand_and_records_the_difference(app: TestApp) {
    setup(&app).await;
    let level = app.count("S1", "A", 12).await;
    assert_eq!(
        (level["on_hand"].as_i64(), level["available"].as_i64(), level["applied"].as_bool()),
        (Some(12), Some(12), Some(true))
    );
    let body = json!({"on_hand": 9, "safety_stock": 2, "reason": "correction", "reference": "audit-7"});
    let level = app.put("/v1/stock/S1/A", Some(&app.staff("S1")), &body).await.ok().clone();
    assert_eq!(level["on_hand"], 9);
    assert_eq!(level["safety_stock"], 2);
    assert_eq!(level["available"], 7);
    let movements = app.movements("S1", "A").await;
    assert_eq!(movements.len(), 2);
    assert_eq!(movements[0]["delta_on_hand"], -3);
    assert_eq!(movements[0]["reason"], "correction");
    assert_eq!(movements[0]["reference"], "audit-7");
    assert_eq!(movements[0]["actor"], "staff:clerk-S1");
    assert_eq!(movements[1]["delta_on_hand"], 12);
    assert_eq!(movements[1]["reason"], "count");
    app.assert_ledger_balances("S1", "A").await;
}

async fn a_stale_count_is_ignored(app: TestApp) {
    setup(&app).await;
    let admin = app.admin();
    let newer = json!({"on_hand": 5, "as_of": "2026-01-02T10:00:00Z"});
    assert_eq!(app.put("/v1/stock/S1/A", Some(&admin), &newer).await.ok()["applied"], true);
    let older = json!({"on_hand": 50, "as_of": "2026-01-02T09:00:00Z"});
    let reply = app.put("/v1/stock/S1/A", Some(&admin), &older).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body["applied"], false);
    assert_eq!(reply.body["on_hand"], 5);
    assert_eq!(app.movements("S1", "A").await.len(), 1);
    // A clock running ahead does not lock the level against every later count: the count is
    // taken as made now.
    let future = json!({"on_hand": 1, "as_of": "2999-01-01T00:00:00Z"});
    let reply = app.put("/v1/stock/S1/A", Some(&admin), &future).await;
    assert_eq!((reply.ok()["applied"].as_bool(), reply.body["on_hand"].as_i64()), (Some(true), Some(1)));
    let now = json!({"on_hand": 2});
    assert_eq!(app.put("/v1/stock/S1/A", Some(&admin), &now).await.ok()["applied"], true, "a later count applies");
}

async fn compare_and_set_refuses_a_mismatch(app: TestApp) {
    setup(&app).await;
    app.count("S1", "A", 10).await;
    let admin = app.admin();
    let reply = app.put("/v1/stock/S1/A", Some(&admin), &json!({"on_hand": 4, "expected_on_hand": 11})).await;
    reply.assert_problem(409, "stock-count-mismatch");
    assert_eq!((reply.body["expected_on_hand"].as_i64(), reply.body["on_hand"].as_i64()), (Some(11), Some(10)));
    assert_eq!(app.level("S1", "A").await["on_hand"], 10);
    let level = app.put("/v1/stock/S1/A", Some(&admin), &json!({"on_hand": 4, "expected_on_hand": 10})).await;
    assert_eq!(level.ok()["on_hand"], 4);
}

async fn adjustments_apply_all_or_nothing(app: TestApp) {
    setup(&app).await;
    app.count("S1", "A", 5).await;
    app.count("S1", "B", 5).await;
    let token = app.integration(&["stock:write"]);
    let batch = json!({"adjustments": [
        {"location": "S1", "sku": "A", "delta": 3, "reason": "receipt", "reference": "PO-1"},
        {"location": "S1", "sku": "B", "delta": -6, "reason": "sale"},
    ]});
    let reply = app.post("/v1/stock/adjustments", Some(&token), &batch).await;
    reply.assert_problem(409, "negative-stock");
    assert_eq!(reply.body["lines"], json!([{"location": "S1", "sku": "B", "on_hand": 5, "delta": -6}]));
    assert_eq!(app.level("S1", "A").await["on_hand"], 5, "the good line was rolled back too");
    assert_eq!(app.movements("S1", "A").await.len(), 1);

    let batch = json!({"adjustments": [
        {"location": "S1", "sku": "B", "delta": -2, "reason": "damage"},
        {"location": "S1", "sku": "A", "delta": 3, "reason": "receipt", "reference": "PO-1"},
        {"location": "S2", "sku": "C", "delta": 7, "reason": "transfer_in"},
    ]});
    let reply = app.post("/v1/stock/adjustments", Some(&token), &batch).await;
    let levels = reply.ok()["levels"].as_array().unwrap().clone();
    let summary: Vec<(String, String, i64)> = levels
        .iter()
        .map(|l| {
            (l["location"].as_str().unwrap().into(), l["sku"].as_str().unwrap().into(), l["on_hand"].as_i64().unwrap())
        })
        .collect();
    assert_eq!(summary, vec![("S1".into(), "A".into(), 8), ("S1".into(), "B".into(), 3), ("S2".into(), "C".into(), 7)]);
    for (l, s) in [("S1", "A"), ("S1", "B"), ("S2", "C")] {
        app.assert_ledger_balances(l, s).await;
    }
    assert_eq!(app.movements("S1", "A").await[0]["actor"], "integration:erp");
}

async fn adjustments_name_unknown_codes_and_change_nothing(app: TestApp) {
    setup(&app).await;
    let batch = json!({"adjustments": [
        {"location": "S1", "sku": "A", "delta": 1, "reason": "receipt"},
        {"location": "NOWHERE", "sku": "A", "delta": 1, "reason": "receipt"},
        {"location": "S1", "sku": "GHOST", "delta": 1, "reason": "receipt"},
    ]});
    let reply = app.post("/v1/stock/adjustments", Some(&app.admin()), &batch).await;
    reply.assert_problem(404, "not-found");
    assert_eq!(reply.error_fields(), vec!["adjustments[1].location", "adjustments[2].sku"]);
    assert_eq!(app.level("S1", "A").await["on_hand"], 0);
    assert!(app.movements("S1", "A").await.is_empty());
}

async fn bad_input_gets_field_errors_and_changes_nothing(app: TestApp) {
    setup(&app).await;
    app.count("S1", "A", 5).await;
    let admin = app.admin();
    let cases: Vec<(Value, &str)> = vec![
        (json!({"on_hand": -1}), "on_hand"),
        (json!({"on_hand": 1_000_000_000_001i64}), "on_hand"),
        (json!({"on_hand": 99999999999999999999.0}), "on_hand"),
        (json!({"on_hand": "7"}), "on_hand"),
        (json!({"on_hand": 1, "colour": "red"}), "colour"),
        (json!({"on_hand": 1, "safety_stock": -2}), "safety_stock"),
        (json!({"on_hand": 1, "reason": "theft"}), "reason"),
        (json!({"on_hand": 1, "reference": ""}), "reference"),
        (json!({}), "body"),
    ];
    for (body, field) in cases {
        let reply = app.put("/v1/stock/S1/A", Some(&admin), &body).await;
        reply.assert_problem(422, "validation");
        assert_eq!(reply.error_fields(), vec![field.to_string()], "for {body}");
    }
    let reply = app.put("/v1/stock/S1/bad%20sku", Some(&admin), &json!({"on_hand": 1})).await;
    reply.assert_problem(422, "validation");
    assert_eq!(reply.error_fields(), vec!["sku"]);
    let long = "x".repeat(65);
    app.put(&format!("/v1/stock/{long}/A"), Some(&admin), &json!({"on_hand": 1}))
        .await
        .assert_problem(422, "validation");

    let batches: Vec<(Value, &str)> = vec![
        (json!({"adjustments": []}), "adjustments"),
        (
            json!({"adjustments": [{"location": "S1", "sku": "A", "delta": 0, "reason": "sale"}]}),
            "adjustments[0].delta",
        ),
        (
            json!({"adjustments": [{"location": "S1", "sku": "A", "delta": -2_000_000_000i64, "reason": "sale"}]}),
            "adjustments[0].delta",
        ),
        (
            json!({"adjustments": [{"location": "S 1", "sku": "A", "delta": 1, "reason": "sale"}]}),
            "adjustments[0].location",
        ),
        (
            json!({"adjustments": [{"location": "S1", "sku": "A", "delta": 1, "reason": "count"}]}),
            "adjustments[0].reason",
        ),
        (json!({"adjustments": [{"location": "S1", "sku": "A", "delta": 1}]}), "adjustments[0]"),
        (
            json!({"adjustments": [{"location": "S1", "sku": "A", "delta": 1, "reason": "sale", "why": "?"}]}),
            "adjustments[0].why",
        ),
    ];
    for (body, field) in batches {
        let reply = app.post("/v1/stock/adjustments", Some(&admin), &body).await;
        reply.assert_problem(422, "validation");
        assert_eq!(reply.error_fields(), vec![field.to_string()], "for {body}");
    }
    let reply =
        app.request(Method::POST, "/v1/stock/adjustments").bearer(&admin).raw("application/json", "[1,2").send().await;
    reply.assert_problem(400, "malformed-json");
    let too_many: Vec<Value> =
        (0..1001).map(|_| json!({"location": "S1", "sku": "A", "delta": 1, "reason": "receipt"})).collect();
    app.post("/v1/stock/adjustments", Some(&admin), &json!({"adjustments": too_many}))
        .await
        .assert_problem(422, "validation");

    let level = app.level("S1", "A").await;
    assert_eq!((level["on_hand"].as_i64(), level["safety_stock"].as_i64()), (Some(5), Some(0)));
    assert_eq!(app.movements("S1", "A").await.len(), 1);
}

async fn unknown_location_or_product_is_404(app: TestApp) {
    setup(&app).await;
    let admin = app.admin();
    app.put("/v1/stock/NOPE/A", Some(&admin), &json!({"on_hand": 1})).await.assert_problem(404, "not-found");
    app.put("/v1/stock/S1/NOPE", Some(&admin), &json!({"on_hand": 1})).await.assert_problem(404, "not-found");
    app.get("/v1/stock/NOPE/A", Some(&admin)).await.assert_problem(404, "not-found");
    app.get("/v1/stock/S1/NOPE/movements", Some(&admin)).await.assert_problem(404, "not-found");
    let level = app.level("S1", "B").await;
    assert_eq!(
        level,
        json!({"location": "S1", "sku": "B", "on_hand": 0, "reserved": 0, "safety_stock": 0, "available": 0, "shortfall": 0, "updated_at": null})
    );
}

async fn stock_denials(app: TestApp) {
    setup(&app).await;
    app.count("S1", "A", 5).await;
    let count = json!({"on_hand": 1});
    let batch = json!({"adjustments": [{"location": "S1", "sku": "A", "delta": 1, "reason": "receipt"}]});
    let snapshot = json!({"items": [{"sku": "A", "on_hand": 1}]});
    let denied = [
        (None, 401, "unauthorized"),
        (Some(app.customer("c1")), 403, "forbidden"),
        (Some(app.staff("S2")), 403, "forbidden"),
        (Some(app.integration(&["stock:read", "catalog:write"])), 403, "forbidden"),
    ];
    for (token, status, slug) in &denied {
        let token = token.as_deref();
        app.put("/v1/stock/S1/A", token, &count).await.assert_problem(*status, slug);
        app.post("/v1/stock/adjustments", token, &batch).await.assert_problem(*status, slug);
        app.post("/v1/stock/S1/snapshot", token, &snapshot).await.assert_problem(*status, slug);
    }
    let read_denied = [
        (None, 401, "unauthorized"),
        (Some(app.customer("c1")), 403, "forbidden"),
        (Some(app.staff("S2")), 403, "forbidden"),
        (Some(app.integration(&["stock:write"])), 403, "forbidden"),
    ];
    for (token, status, slug) in &read_denied {
        app.get("/v1/stock/S1/A", token.as_deref()).await.assert_problem(*status, slug);
        app.get("/v1/stock/S1/A/movements", token.as_deref()).await.assert_problem(*status, slug);
    }
    // A staff batch that touches another store is refused whole.
    let mixed = json!({"adjustments": [
        {"location": "S1", "sku": "A", "delta": 1, "reason": "receipt"},
        {"location": "S2", "sku": "A", "delta": 1, "reason": "receipt"},
    ]});
    app.post("/v1/stock/adjustments", Some(&app.staff("S1")), &mixed).await.assert_problem(403, "forbidden");
    let level = app.level("S1", "A").await;
    assert_eq!(level["on_hand"], 5);
    assert_eq!(app.movements("S1", "A").await.len(), 1);
    // The rights that do hold.
    assert_eq!(app.get("/v1/stock/S1/A", Some(&app.staff("S1"))).await.status, 200);
    assert_eq!(app.get("/v1/stock/S1/A", Some(&app.integration(&["stock:read"]))).await.status, 200);
}

async fn movements_are_paginated_newest_first(app: TestApp) {
    setup(&app).await;
    for n in 1..=7 {
        app.count("S1", "A", n).await;
    }
    let admin = app.admin();
    let first = app.get("/v1/stock/S1/A/movements?limit=3", Some(&admin)).await.ok().clone();
    let ids: Vec<i64> = first["items"].as_array().unwrap().iter().map(|m| m["id"].as_i64().unwrap()).collect();
    assert_eq!(ids.len(), 3);
    assert!(ids.windows(2).all(|w| w[0] > w[1]));
    let cursor = first["next_cursor"].as_str().unwrap();
    let rest = app.get(&format!("/v1/stock/S1/A/movements?limit=500&cursor={cursor}"), Some(&admin)).await.ok().clone();
    assert_eq!(rest["items"].as_array().unwrap().len(), 4);
    assert_eq!(rest["next_cursor"], Value::Null);
    app.get("/v1/stock/S1/A/movements?limit=501", Some(&admin)).await.assert_problem(422, "validation");
    app.get("/v1/stock/S1/A/movements?limit=0", Some(&admin)).await.assert_problem(422, "validation");
    app.get("/v1/stock/S1/A/movements?cursor=%%%", Some(&admin)).await.assert_problem(422, "validation");
    app.get("/v1/stock/S1/A/movements?limit=abc", Some(&admin)).await.assert_problem(422, "validation");
}

async fn snapshots_apply_many_skus_in_one_go(app: TestApp) {
    setup(&app).await;
    app.count("S1", "A", 4).await;
    app.count("S1", "B", 6).await;
    app.count("S1", "C", 9).await;
    let token = app.staff("S1");
    let body = json!({"items": [{"sku": "A", "on_hand": 4}, {"sku": "B", "on_hand": 2, "safety_stock": 1}], "reference": "nightly"});
    let summary = app.post("/v1/stock/S1/snapshot", Some(&token), &body).await.ok().clone();
    assert_eq!(
        (
            summary["received"].as_i64(),
            summary["changed"].as_i64(),
            summary["unchanged"].as_i64(),
            summary["movements"].as_i64()
        ),
        (Some(2), Some(1), Some(1), Some(1))
    );
    assert_eq!(app.level("S1", "C").await["on_hand"], 9, "missing SKUs are kept by default");
    let body = json!({"items": [{"sku": "A", "on_hand": 1}], "missing": "zero"});
    let summary = app.post("/v1/stock/S1/snapshot", Some(&token), &body).await.ok().clone();
    assert_eq!((summary["changed"].as_i64(), summary["zeroed"].as_i64()), (Some(1), Some(2)));
    assert_eq!(app.level("S1", "B").await["on_hand"], 0);
    assert_eq!(app.level("S1", "C").await["on_hand"], 0);
    let stale = json!({"items": [{"sku": "A", "on_hand": 100}], "as_of": "2020-01-01T00:00:00Z"});
    let summary = app.post("/v1/stock/S1/snapshot", Some(&token), &stale).await.ok().clone();
    assert_eq!(summary["stale"], 1);
    assert_eq!(app.level("S1", "A").await["on_hand"], 1);
    for sku in ["A", "B", "C"] {
        app.assert_ledger_balances("S1", sku).await;
    }
}

async fn a_large_snapshot_is_one_transaction(app: TestApp) {
    app.put_location("S1", json!({})).await;
    // Products are created directly: thousands of PUTs would test the catalog, not snapshots.
    {
        use clickcollect::db::schema::products;
        use diesel::prelude::*;
        let now = chrono::Utc::now().naive_utc();
        let mut conn = app.conn();
        for chunk in (0..3000).collect::<Vec<_>>().chunks(500) {
            for n in chunk {
                diesel::insert_into(products::table)
                    .values((
                        products::sku.eq(format!("SKU-{n:05}")),
                        products::name.eq("bulk"),
                        products::price_amount_minor.eq(100i64),
                        products::price_currency.eq("EUR"),
                        products::created_at.eq(now),
                        products::updated_at.eq(now),
                    ))
                    .execute(&mut *conn)
                    .unwrap();
            }
        }
    }
    let items: Vec<Value> = (0..3000).map(|n| json!({"sku": format!("SKU-{n:05}"), "on_hand": n % 17})).collect();
    let summary = app.post("/v1/stock/S1/snapshot", Some(&app.admin()), &json!({"items": items})).await.ok().clone();
    assert_eq!(summary["received"], 3000);
    assert_eq!(summary["created"], 3000);
    let nonzero = (0..3000).filter(|n| n % 17 != 0).count() as i64;
    assert_eq!(summary["movements"].as_i64(), Some(nonzero));
    assert_eq!(app.level("S1", "SKU-00016").await["on_hand"], 16);

    // One unknown SKU fails the whole snapshot and changes nothing.
    let mut items: Vec<Value> = (0..3000).map(|n| json!({"sku": format!("SKU-{n:05}"), "on_hand": 1})).collect();
    items.push(json!({"sku": "UNKNOWN", "on_hand": 1}));
    let reply = app.post("/v1/stock/S1/snapshot", Some(&app.admin()), &json!({"items": items})).await;
    reply.assert_problem(404, "not-found");
    assert_eq!(reply.error_fields(), vec!["items[3000].sku"]);
    assert_eq!(app.level("S1", "SKU-00016").await["on_hand"], 16);
    let dup = json!({"items": [{"sku": "SKU-00001", "on_hand": 1}, {"sku": "SKU-00001", "on_hand": 2}]});
    let reply = app.post("/v1/stock/S1/snapshot", Some(&app.admin()), &dup).await;
    reply.assert_problem(422, "validation");
    assert_eq!(reply.error_fields(), vec!["items[1].sku"]);
}

async fn idempotency_keys_replay_and_refuse_reuse(app: TestApp) {
    setup(&app).await;
    app.count("S1", "A", 10).await;
    let token = app.integration(&["stock:write", "stock:read"]);
    let batch =
        json!({"adjustments": [{"location": "S1", "sku": "A", "delta": -4, "reason": "sale", "reference": "order-1"}]});
    let send = |body: Value, key: &'static str| {
        let token = token.clone();
        let app = &app;
        async move {
            app.request(Method::POST, "/v1/stock/adjustments")
                .bearer(&token)
                .header("Idempotency-Key", key)
                .json(&body)
                .send()
                .await
        }
    };
    let first = send(batch.clone(), "sale-order-1").await;
    assert_eq!(first.status, 200);
    assert_eq!(first.header("idempotent-replayed"), None);
    let again = send(batch.clone(), "sale-order-1").await;
    assert_eq!(again.status, 200);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.body, first.body);
    assert_eq!(app.level("S1", "A").await["on_hand"], 6, "applied once");

    let different = json!({"adjustments": [{"location": "S1", "sku": "A", "delta": -5, "reason": "sale"}]});
    send(different, "sale-order-1").await.assert_problem(422, "idempotency-key-reused");

    // A refused request frees its key for a corrected retry.
    let too_much = json!({"adjustments": [{"location": "S1", "sku": "A", "delta": -60, "reason": "sale"}]});
    send(too_much, "sale-order-2").await.assert_problem(409, "negative-stock");
    let fixed = json!({"adjustments": [{"location": "S1", "sku": "A", "delta": -1, "reason": "sale"}]});
    assert_eq!(send(fixed, "sale-order-2").await.status, 200);
    assert_eq!(app.level("S1", "A").await["on_hand"], 5);

    // Keys are per caller: another integration's identical key is its own.
    let other = app.token(clickcollect::auth::Role::Integration, "pos", None, &["stock:write"]);
    let reply = app
        .request(Method::POST, "/v1/stock/adjustments")
        .bearer(&other)
        .header("Idempotency-Key", "sale-order-1")
        .json(&batch)
        .send()
        .await;
    assert_eq!(reply.header("idempotent-replayed"), None);
    assert_eq!(app.level("S1", "A").await["on_hand"], 1);

    let count = json!({"on_hand": 30});
    let put = |key: &'static str| {
        let token = token.clone();
        let app = &app;
        let count = count.clone();
        async move {
            app.request(Method::PUT, "/v1/stock/S1/B")
                .bearer(&token)
                .header("Idempotency-Key", key)
                .json(&count)
                .send()
                .await
        }
    };
    assert_eq!(put("count-1").await.header("idempotent-replayed"), None);
    assert_eq!(put("count-1").await.header("idempotent-replayed"), Some("true"));
    let bad_key = app
        .request(Method::PUT, "/v1/stock/S1/B")
        .bearer(&token)
        .header("Idempotency-Key", &"k".repeat(300))
        .json(&count)
        .send()
        .await;
    bad_key.assert_problem(422, "validation");
    assert_eq!(app.movements("S1", "B").await.len(), 1);
    app.assert_ledger_balances("S1", "A").await;
}

async fn the_ledger_is_append_only(app: TestApp) {
    setup(&app).await;
    app.count("S1", "A", 3).await;
    use clickcollect::db::schema::stock_movements;
    use diesel::prelude::*;
    let mut conn = app.conn();
    let update =
        diesel::update(stock_movements::table).set(stock_movements::delta_on_hand.eq(100i64)).execute(&mut *conn);
    assert!(update.is_err(), "movements cannot be edited");
    let delete = diesel::delete(stock_movements::table).execute(&mut *conn);
    assert!(delete.is_err(), "movements cannot be deleted");
    drop(conn);
    app.assert_ledger_balances("S1", "A").await;
}

async fn check_finds_drift(app: TestApp) {
    setup(&app).await;
    app.count("S1", "A", 3).await;
    app.count("S1", "B", 4).await;
    use clickcollect::db::schema::stock_levels;
    use clickcollect::stock::ledger::find_drift;
    use diesel::prelude::*;
    let mut conn = app.conn();
    assert!(find_drift(&mut conn).unwrap().is_empty());
    // Someone edits a level behind the ledger's back.
    diesel::update(stock_levels::table.find(("S1", "B")))
        .set(stock_levels::on_hand.eq(40i64))
        .execute(&mut *conn)
        .unwrap();
    let drift = find_drift(&mut conn).unwrap();
    assert_eq!(drift.len(), 1);
    assert_eq!((drift[0].sku.as_str(), drift[0].on_hand, drift[0].ledger_on_hand), ("B", 40, 4));
    // reserved raised behind the back of every hold and order.
    diesel::update(stock_levels::table.find(("S1", "A")))
        .set(stock_levels::reserved.eq(2i64))
        .execute(&mut *conn)
        .unwrap();
    let drift = find_drift(&mut conn).unwrap();
    assert_eq!(drift.len(), 2);
    assert_eq!((drift[0].sku.as_str(), drift[0].reserved, drift[0].open_reserved), ("A", 2, 0));
}

on_both_backends!(
    a_count_sets_on_hand_and_records_the_difference,
    a_stale_count_is_ignored,
    compare_and_set_refuses_a_mismatch,
    adjustments_apply_all_or_nothing,
    adjustments_name_unknown_codes_and_change_nothing,
    bad_input_gets_field_errors_and_changes_nothing,
    unknown_location_or_product_is_404,
    stock_denials,
    movements_are_paginated_newest_first,
    snapshots_apply_many_skus_in_one_go,
    a_large_snapshot_is_one_transaction,
    idempotency_keys_replay_and_refuse_reuse,
    the_ledger_is_append_only,
    check_finds_drift,
);
