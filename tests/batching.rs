//! Holds of one level placed together (`reservations::queue`), the sold-out memory and the
//! availability cache: batching never oversells, answers every caller exactly once (also
//! when a batch fails mid-way), and what is answered from memory is forgotten at once when
//! stock comes back.

mod common;

use std::collections::HashSet;

use common::TestApp;
use diesel::connection::SimpleConnection;
use futures_util::future::join_all;
use serde_json::{json, Value};

async fn setup(app: &TestApp, on_hand: i64) {
    app.put_location("S1", json!({"latitude": 52.23, "longitude": 21.01})).await;
    app.put_location("S2", json!({"latitude": 52.40, "longitude": 16.93})).await;
    app.put_product("A").await;
    app.count("S1", "A", on_hand).await;
    app.count("S2", "A", 7).await;
}

/// A Prometheus counter's value.
async fn counter(app: &TestApp, name: &str) -> u64 {
    let text = app.get("/metrics", Some(&app.admin())).await.text;
    text.lines()
        .find_map(|line| line.strip_prefix(name).and_then(|rest| rest.trim().parse().ok()))
        .unwrap_or_else(|| panic!("no counter {name} in /metrics"))
}

fn hold_body(quantity: i64) -> Value {
    json!({"location": "S1", "lines": [{"sku": "A", "quantity": quantity}]})
}

/// Many shoppers at once, one to three units each, on 100 units: the holds placed add up to
/// what is reserved, never more than there was; each request got exactly one answer and
/// each hold id is its own; several holds shared a transaction.
async fn batched_holds_never_oversell_and_answer_each_caller_once(app: TestApp) {
    setup(&app, 100).await;
    let asks: Vec<i64> = (0..160).map(|i| 1 + (i % 3)).collect();
    let replies =
        join_all(
            asks.iter().enumerate().map(|(i, &quantity)| {
                let app = &app;
                async move {
                    app.post("/v1/reservations", Some(&app.customer(&format!("fan-{i}"))), &hold_body(quantity)).await
                }
            }),
        )
        .await;
    assert_eq!(replies.len(), asks.len());
    let (mut held_units, mut ids) = (0, HashSet::new());
    for (reply, quantity) in replies.iter().zip(&asks) {
        match reply.status {
            201 => {
                assert_eq!(reply.body["lines"][0]["quantity"], *quantity);
                assert!(ids.insert(reply.body["id"].as_str().unwrap().to_string()), "one hold id twice");
                held_units += quantity;
            }
            409 => {
                reply.assert_problem(409, "insufficient-stock");
                let shortfall = &reply.body["shortfalls"][0];
                assert_eq!(shortfall["requested"], *quantity);
                assert!(shortfall["available"].as_i64().unwrap() < *quantity, "refused though it fitted: {shortfall}");
                assert_eq!(shortfall["alternatives"][0]["location"], "S2", "{shortfall}");
            }
            other => panic!("answered {other}: {}", reply.text),
        }
    }
    let level = app.level("S1", "A").await;
    assert_eq!(level["reserved"].as_i64(), Some(held_units), "reserved is exactly what the answers promised");
    assert!(held_units <= 100, "oversold: {held_units}");
    assert!(level["available"].as_i64().unwrap() < 3, "units left that a refused shopper could have had");
    // Every hold answered is in the database, as answered.
    for id in &ids {
        let hold = app.get(&format!("/v1/reservations/{id}"), Some(&app.admin())).await;
        assert_eq!((hold.status, hold.body["status"].as_str()), (200, Some("held")), "{id}");
    }
    app.assert_ledger_balances("S1", "A").await;
    let drift = clickcollect::stock::ledger::find_drift(&mut app.conn()).unwrap();
    assert!(drift.is_empty(), "{drift:?}");
    let (batches, batched) = (counter(&app, "hold_batches_total").await, counter(&app, "batched_holds_total").await);
    assert_eq!(batched, asks.len() as u64, "every hold of one line went through the queue");
    assert!(batches < batched, "no two holds shared a transaction ({batches} batches)");
}

/// A trigger makes one shopper's hold fail inside the batch's transaction. The batch rolls
/// back, and each of its callers is placed again on their own: the others are held, the one
/// bad hold alone fails, and nothing of the failed batch remains.
async fn a_batch_failing_mid_way_answers_each_caller_on_their_own(app: TestApp) {
    setup(&app, 100).await;
    let poison = match app.backend {
        common::Backend::Postgres => {
            "CREATE FUNCTION poison() RETURNS trigger AS $$ BEGIN \
               IF NEW.owner = 'customer:poison' THEN RAISE EXCEPTION 'a poisoned hold'; END IF; RETURN NEW; \
             END $$ LANGUAGE plpgsql; \
             CREATE TRIGGER poison BEFORE INSERT ON reservations FOR EACH ROW EXECUTE FUNCTION poison();"
        }
        common::Backend::Sqlite => {
            "CREATE TRIGGER poison BEFORE INSERT ON reservations WHEN NEW.owner = 'customer:poison' \
             BEGIN SELECT RAISE(ABORT, 'a poisoned hold'); END;"
        }
    };
    app.conn().batch_execute(poison).expect("the trigger");
    let shoppers: Vec<String> =
        (0..40).map(|i| if i == 20 { "poison".to_string() } else { format!("fan-{i}") }).collect();
    let replies = join_all(shoppers.iter().map(|shopper| {
        let app = &app;
        async move {
            app.request(actix_web::http::Method::POST, "/v1/reservations")
                .bearer(&app.customer(shopper))
                .header("Idempotency-Key", &format!("hold-{shopper}"))
                .json(&hold_body(1))
                .send()
                .await
        }
    }))
    .await;
    for (shopper, reply) in shoppers.iter().zip(&replies) {
        if shopper == "poison" {
            assert_eq!(reply.status, 500, "{}", reply.text);
        } else {
            assert_eq!(reply.status, 201, "{shopper}: {}", reply.text);
        }
    }
    assert_eq!(app.level("S1", "A").await["reserved"], 39);
    assert!(counter(&app, "failed_hold_batches_total").await >= 1);
    app.assert_ledger_balances("S1", "A").await;
    assert!(clickcollect::stock::ledger::find_drift(&mut app.conn()).unwrap().is_empty());
    // A placed hold's key replays it; the failed one's key was given back for a retry.
    let again = app
        .request(actix_web::http::Method::POST, "/v1/reservations")
        .bearer(&app.customer("fan-3"))
        .header("Idempotency-Key", "hold-fan-3")
        .json(&hold_body(1))
        .send()
        .await;
    assert_eq!((again.status, again.header("idempotent-replayed")), (201, Some("true")));
    assert_eq!(again.body["id"], replies[3].body["id"]);
    let drop = match app.backend {
        common::Backend::Postgres => "DROP TRIGGER poison ON reservations",
        common::Backend::Sqlite => "DROP TRIGGER poison",
    };
    app.conn().batch_execute(drop).expect("no trigger");
    let retry = app
        .request(actix_web::http::Method::POST, "/v1/reservations")
        .bearer(&app.customer("poison"))
        .header("Idempotency-Key", "hold-poison")
        .json(&hold_body(1))
        .send()
        .await;
    assert_eq!((retry.status, retry.header("idempotent-replayed")), (201, None), "{}", retry.text);
    assert_eq!(app.level("S1", "A").await["reserved"], 40);
}

/// Once a level is known sold out, shoppers are refused from memory (the same 409, with
/// where else to go); a count, a release or a cancel reopens it for the very next hold.
async fn sold_out_is_answered_from_memory_until_stock_comes_back(app: TestApp) {
    setup(&app, 2).await;
    let shopper = |i: usize| app.customer(&format!("late-{i}"));
    let first = app.post("/v1/reservations", Some(&shopper(0)), &hold_body(2)).await;
    assert_eq!(first.status, 201);
    // The batch that finds the level empty writes nothing and remembers it.
    app.post("/v1/reservations", Some(&shopper(1)), &hold_body(1)).await.assert_problem(409, "insufficient-stock");
    let before = counter(&app, "holds_sold_out_from_memory_total").await;
    let refused = app.post("/v1/reservations", Some(&shopper(2)), &hold_body(1)).await;
    refused.assert_problem(409, "insufficient-stock");
    assert_eq!(refused.body["shortfalls"][0]["available"], 0);
    assert_eq!(refused.body["shortfalls"][0]["alternatives"][0]["location"], "S2");
    assert_eq!(counter(&app, "holds_sold_out_from_memory_total").await, before + 1, "not answered from memory");
    // A shopper's own order of one line, straight from stock, is refused the same way.
    let order = app.post("/v1/orders", Some(&shopper(7)), &common::pickup_order("S1", "late-7", "A", 1)).await;
    order.assert_problem(409, "insufficient-stock");
    assert_eq!(order.body["shortfalls"][0]["alternatives"][0]["location"], "S2");
    assert_eq!(counter(&app, "holds_sold_out_from_memory_total").await, before + 2, "the order went to the database");

    // Stock arrives: the next hold is placed, not refused from memory.
    app.count("S1", "A", 3).await;
    assert_eq!(app.post("/v1/reservations", Some(&shopper(3)), &hold_body(1)).await.status, 201);
    app.post("/v1/reservations", Some(&shopper(4)), &hold_body(1)).await.assert_problem(409, "insufficient-stock");
    app.post("/v1/reservations", Some(&shopper(5)), &hold_body(1)).await.assert_problem(409, "insufficient-stock");
    // A release gives two units back: at once on sale again.
    let id = first.body["id"].as_str().unwrap();
    let released = app
        .request(actix_web::http::Method::DELETE, &format!("/v1/reservations/{id}"))
        .bearer(&shopper(0))
        .send()
        .await;
    assert_eq!(released.status, 204);
    assert_eq!(app.post("/v1/reservations", Some(&shopper(6)), &hold_body(2)).await.status, 201);
    let level = app.level("S1", "A").await;
    assert_eq!(level["available"], 0);
    // Stock arrives again: the next direct order is placed.
    app.count("S1", "A", 4).await;
    let order = app.post("/v1/orders", Some(&shopper(8)), &common::pickup_order("S1", "late-8", "A", 1)).await;
    assert_eq!(order.status, 201, "{}", order.text);
    assert!(clickcollect::stock::ledger::find_drift(&mut app.conn()).unwrap().is_empty());
}

/// Availability is answered from the cache (with an ETag and a short max-age for CDNs) and
/// forgotten the moment a level changes on this replica.
async fn availability_is_cached_and_forgotten_when_stock_changes(app: TestApp) {
    setup(&app, 5).await;
    let first = app.get("/v1/availability/A", None).await;
    assert_eq!(first.status, 200);
    let etag = first.header("etag").expect("an ETag").to_string();
    assert_eq!(first.header("cache-control"), Some("public, max-age=1"));
    let hits = counter(&app, "availability_cache_hits_total").await;
    let second = app.get("/v1/availability/A?near=52.2,21.0&limit=1", None).await;
    assert_eq!(counter(&app, "availability_cache_hits_total").await, hits + 1, "the second read was not cached");
    assert_eq!(second.body["locations"].as_array().unwrap().len(), 1);
    assert_eq!(second.body["locations"][0]["location"], "S1", "nearest first from the cached levels");
    assert!(second.body["locations"][0]["distance_km"].as_f64().is_some());
    let unchanged =
        app.request(actix_web::http::Method::GET, "/v1/availability/A").header("If-None-Match", &etag).send().await;
    assert_eq!((unchanged.status, unchanged.text.as_str()), (304, ""));
    assert_eq!(unchanged.header("etag"), Some(etag.as_str()));

    // A hold changes the level: the next read shows it, under a new ETag.
    assert_eq!(app.post("/v1/reservations", Some(&app.customer("c1")), &hold_body(2)).await.status, 201);
    let after = app.get("/v1/availability/A", None).await;
    let s1 = after.body["locations"].as_array().unwrap().iter().find(|l| l["location"] == "S1").unwrap().clone();
    assert_eq!(s1["available"], 3);
    assert_eq!(after.body["online"]["available"], 3 + 7);
    assert_ne!(after.header("etag"), Some(etag.as_str()));
    let stale =
        app.request(actix_web::http::Method::GET, "/v1/availability/A").header("If-None-Match", &etag).send().await;
    assert_eq!(stale.status, 200);
    // A store closing changes every SKU's answer.
    app.put_location("S2", json!({"latitude": 52.40, "longitude": 16.93, "active": false})).await;
    let closed = app.get("/v1/availability/A", None).await;
    assert_eq!(closed.body["locations"].as_array().unwrap().len(), 1, "{}", closed.text);
}

/// A single-line hold and multi-line holds on the same levels, all at once: the batched and
/// the unbatched paths lock in one order, never deadlock, and never oversell.
async fn batched_and_multi_line_holds_share_levels_safely(app: TestApp) {
    setup(&app, 40).await;
    app.put_product("B").await;
    app.count("S1", "B", 40).await;
    let replies = join_all((0..120).map(|i| {
        let app = &app;
        async move {
            let lines = match i % 3 {
                0 => json!([{"sku": "A", "quantity": 1}]),
                1 => json!([{"sku": "B", "quantity": 1}, {"sku": "A", "quantity": 1}]),
                _ => json!([{"sku": "B", "quantity": 1}]),
            };
            let body = json!({"location": "S1", "lines": lines});
            (i % 3, app.post("/v1/reservations", Some(&app.customer(&format!("m-{i}"))), &body).await)
        }
    }))
    .await;
    let (mut a, mut b) = (0, 0);
    for (kind, reply) in &replies {
        match reply.status {
            201 => {
                a += i64::from(*kind < 2);
                b += i64::from(*kind > 0);
            }
            409 => {
                reply.assert_problem(409, "insufficient-stock");
            }
            other => panic!("{other}: {}", reply.text),
        }
    }
    assert_eq!(app.level("S1", "A").await["reserved"], a);
    assert_eq!(app.level("S1", "B").await["reserved"], b);
    assert!(a <= 40 && b <= 40);
    assert!(clickcollect::stock::ledger::find_drift(&mut app.conn()).unwrap().is_empty());
}

on_both_backends!(
    batched_holds_never_oversell_and_answer_each_caller_once,
    a_batch_failing_mid_way_answers_each_caller_on_their_own,
    sold_out_is_answered_from_memory_until_stock_comes_back,
    availability_is_cached_and_forgotten_when_stock_changes,
    batched_and_multi_line_holds_share_levels_safely,
);
