//! Holds through HTTP: all lines or none, time limits, release, expiry at contention and by
//! the sweeper, shortfalls with alternatives, denials, and no oversell under concurrency.

mod common;

use actix_web::http::Method;
use common::TestApp;
use futures_util::future::join_all;
use serde_json::{json, Value};

async fn setup(app: &TestApp) {
    app.put_location("S1", json!({"latitude": 52.2297, "longitude": 21.0122})).await;
    app.put_location("NEAR", json!({"latitude": 52.25, "longitude": 21.0})).await;
    app.put_location("FAR", json!({"latitude": 50.06, "longitude": 19.94})).await;
    app.put_location("DC", json!({"kind": "warehouse", "pickup": {"in_store": false, "curbside": false}})).await;
    for sku in ["A", "B"] {
        app.put_product(sku).await;
    }
}

async fn hold(app: &TestApp, token: &str, body: Value) -> common::Reply {
    app.post("/v1/reservations", Some(token), &body).await
}

/// Moves a hold's deadline into the past, as if its time had run out.
fn lapse(app: &TestApp, id: &str) {
    use clickcollect::db::schema::reservations;
    use diesel::prelude::*;
    let past = chrono::Utc::now().naive_utc() - chrono::TimeDelta::minutes(1);
    diesel::update(reservations::table.find(id))
        .set(reservations::expires_at.eq(past))
        .execute(&mut *app.conn())
        .unwrap();
}

async fn a_hold_reserves_and_its_release_returns_the_stock(app: TestApp) {
    setup(&app).await;
    app.count("S1", "A", 10).await;
    let shopper = app.customer("ann");
    let reply = hold(&app, &shopper, json!({"location": "S1", "lines": [{"sku": "A", "quantity": 3}]})).await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    let id = reply.body["id"].as_str().unwrap().to_string();
    assert_eq!(reply.body["status"], "held");
    assert_eq!(reply.body["lines"], json!([{"sku": "A", "quantity": 3}]));
    let expires = chrono::DateTime::parse_from_rfc3339(reply.body["expires_at"].as_str().unwrap()).unwrap();
    let ttl = expires.signed_duration_since(chrono::Utc::now()).num_seconds();
    assert!((880..=900).contains(&ttl), "default 15 minutes, got {ttl}s");
    let level = app.level("S1", "A").await;
    assert_eq!(
        (level["on_hand"].as_i64(), level["reserved"].as_i64(), level["available"].as_i64()),
        (Some(10), Some(3), Some(7))
    );
    let public = app.get("/v1/availability/A", None).await;
    assert_eq!(public.body["online"]["available"], 7, "a hold is off sale on every channel at once");
    let movement = &app.movements("S1", "A").await[0];
    assert_eq!((movement["reason"].as_str(), movement["delta_reserved"].as_i64()), (Some("hold"), Some(3)));
    assert_eq!(movement["reference"], id.as_str());

    assert_eq!(app.get(&format!("/v1/reservations/{id}"), Some(&shopper)).await.body["status"], "held");
    let released = app.request(Method::DELETE, &format!("/v1/reservations/{id}")).bearer(&shopper).send().await;
    assert_eq!(released.status, 204);
    assert_eq!(app.level("S1", "A").await["reserved"], 0);
    // Released is gone, as after any DELETE; the problem says so.
    let gone = app.get(&format!("/v1/reservations/{id}"), Some(&shopper)).await;
    gone.assert_problem(404, "not-found");
    assert!(gone.body["detail"].as_str().unwrap().contains("was released"), "{}", gone.text);
    let again = app.request(Method::DELETE, &format!("/v1/reservations/{id}")).bearer(&shopper).send().await;
    assert_eq!(again.status, 204, "releasing twice changes nothing");
    assert_eq!(app.movements("S1", "A").await.len(), 3);
    app.assert_ledger_balances("S1", "A").await;
}

async fn all_lines_or_none_with_alternatives_nearest_first(app: TestApp) {
    setup(&app).await;
    app.count("S1", "A", 5).await;
    app.count("S1", "B", 1).await;
    app.count("NEAR", "B", 10).await;
    app.count("FAR", "B", 3).await;
    app.count("DC", "B", 100).await;
    let reply = hold(
        &app,
        &app.customer("ann"),
        json!({"location": "S1", "lines": [{"sku": "A", "quantity": 2}, {"sku": "B", "quantity": 2}]}),
    )
    .await;
    reply.assert_problem(409, "insufficient-stock");
    let shortfalls = reply.body["shortfalls"].as_array().unwrap();
    assert_eq!(shortfalls.len(), 1);
    assert_eq!(
        (shortfalls[0]["sku"].as_str(), shortfalls[0]["requested"].as_i64(), shortfalls[0]["available"].as_i64()),
        (Some("B"), Some(2), Some(1))
    );
    let alternatives: Vec<(&str, i64)> = shortfalls[0]["alternatives"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["location"].as_str().unwrap(), a["available"].as_i64().unwrap()))
        .collect();
    assert_eq!(alternatives, vec![("NEAR", 10), ("FAR", 3)], "pickup stores only, nearest first");
    assert!(shortfalls[0]["alternatives"][0]["distance_km"].as_f64().unwrap() < 5.0);
    assert_eq!(app.level("S1", "A").await["reserved"], 0, "the line that fitted was not held either");
    assert_eq!(app.movements("S1", "A").await.len(), 1);
}

async fn a_lapsed_hold_never_blocks_a_new_one(app: TestApp) {
    setup(&app).await;
    app.count("S1", "A", 2).await;
    app.count("S1", "B", 5).await;
    let first = hold(
        &app,
        &app.customer("ann"),
        json!({"location": "S1", "lines": [{"sku": "A", "quantity": 2}, {"sku": "B", "quantity": 1}]}),
    )
    .await;
    let first_id = first.ok()["id"].as_str().unwrap().to_string();
    let blocked =
        hold(&app, &app.customer("bob"), json!({"location": "S1", "lines": [{"sku": "A", "quantity": 1}]})).await;
    blocked.assert_problem(409, "insufficient-stock");
    lapse(&app, &first_id);
    assert_eq!(app.get(&format!("/v1/reservations/{first_id}"), Some(&app.admin())).await.body["status"], "expired");
    let second =
        hold(&app, &app.customer("bob"), json!({"location": "S1", "lines": [{"sku": "A", "quantity": 2}]})).await;
    assert_eq!(second.status, 201, "{}", second.text);
    assert_eq!(app.level("S1", "A").await["reserved"], 2);
    assert_eq!(app.level("S1", "B").await["reserved"], 0, "the lapsed hold was released whole");
    let expired = app.movements("S1", "B").await;
    assert_eq!(expired[0]["reason"], "expire");
    assert_eq!(expired[0]["actor"], "system:hold-sweeper");
    for sku in ["A", "B"] {
        app.assert_ledger_balances("S1", sku).await;
    }
}

async fn the_sweeper_releases_lapsed_holds(app: TestApp) {
    setup(&app).await;
    app.count("S1", "A", 10).await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        let reply =
            hold(&app, &app.customer("ann"), json!({"location": "S1", "lines": [{"sku": "A", "quantity": 2}]})).await;
        ids.push(reply.ok()["id"].as_str().unwrap().to_string());
    }
    lapse(&app, &ids[0]);
    lapse(&app, &ids[2]);
    let expired = clickcollect::db::write_tx(&mut app.conn(), clickcollect::reservations::expire_lapsed).unwrap();
    assert_eq!(expired, 2);
    assert_eq!(app.level("S1", "A").await["reserved"], 2);
    assert_eq!(clickcollect::db::write_tx(&mut app.conn(), clickcollect::reservations::expire_lapsed).unwrap(), 0);
    let shopper = app.customer("ann");
    assert_eq!(app.get(&format!("/v1/reservations/{}", ids[1]), Some(&shopper)).await.body["status"], "held");
    // Releasing a lapsed hold by hand counts as expiry and changes nothing more.
    assert_eq!(
        app.request(Method::DELETE, &format!("/v1/reservations/{}", ids[0])).bearer(&shopper).send().await.status,
        204
    );
    assert_eq!(app.level("S1", "A").await["reserved"], 2);
    app.assert_ledger_balances("S1", "A").await;
}

async fn hold_denials(app: TestApp) {
    setup(&app).await;
    app.count("S1", "A", 10).await;
    let body = json!({"location": "S1", "lines": [{"sku": "A", "quantity": 1}]});
    app.post("/v1/reservations", None, &body).await.assert_problem(401, "unauthorized");
    hold(&app, &app.staff("S1"), body.clone()).await.assert_problem(403, "forbidden");
    hold(&app, &app.integration(&["stock:write"]), body.clone()).await.assert_problem(403, "forbidden");
    assert_eq!(app.level("S1", "A").await["reserved"], 0);
    let id = hold(&app, &app.customer("ann"), body.clone()).await.ok()["id"].as_str().unwrap().to_string();
    let path = format!("/v1/reservations/{id}");
    app.get(&path, None).await.assert_problem(401, "unauthorized");
    app.get(&path, Some(&app.customer("mallory"))).await.assert_problem(404, "not-found");
    app.get(&path, Some(&app.staff("S1"))).await.assert_problem(403, "forbidden");
    let steal = app.request(Method::DELETE, &path).bearer(&app.customer("mallory")).send().await;
    steal.assert_problem(404, "not-found");
    assert_eq!(app.level("S1", "A").await["reserved"], 1);
    assert_eq!(app.get(&path, Some(&app.admin())).await.status, 200);
    assert_eq!(hold(&app, &app.integration(&["orders:write"]), body).await.status, 201);
    app.get("/v1/reservations/does-not-exist", Some(&app.admin())).await.assert_problem(404, "not-found");
}

async fn hold_input_is_validated(app: TestApp) {
    setup(&app).await;
    app.count("S1", "A", 10).await;
    app.put_location("SHUT", json!({"active": false})).await;
    let shopper = app.customer("ann");
    for (body, field) in [
        (json!({"location": "S1", "lines": [{"sku": "A", "quantity": 1}], "ttl_seconds": 86_401}), "ttl_seconds"),
        (json!({"location": "S1", "lines": [{"sku": "A", "quantity": 1}], "ttl_seconds": 5}), "ttl_seconds"),
        (json!({"location": "S1", "lines": []}), "lines"),
        (json!({"location": "S1", "lines": [{"sku": "A", "quantity": 0}]}), "lines[0].quantity"),
        (json!({"location": "S1", "lines": [{"sku": "A", "quantity": -3}]}), "lines[0].quantity"),
        (
            json!({"location": "S1", "lines": [{"sku": "A", "quantity": 1}, {"sku": "A", "quantity": 1}]}),
            "lines[1].sku",
        ),
        (json!({"location": "S1", "lines": [{"sku": "A", "quantity": 1}], "note": "x"}), "note"),
    ] {
        let reply = hold(&app, &shopper, body.clone()).await;
        reply.assert_problem(422, "validation");
        assert_eq!(reply.error_fields(), vec![field.to_string()], "{body}");
    }
    // A SKU that does not exist is named, as a 404; a location that is closed is a conflict.
    let ghost = hold(&app, &shopper, json!({"location": "S1", "lines": [{"sku": "GHOST", "quantity": 1}]})).await;
    ghost.assert_problem(404, "not-found");
    assert_eq!(ghost.error_fields(), vec!["lines[0].sku"]);
    hold(&app, &shopper, json!({"location": "SHUT", "lines": [{"sku": "A", "quantity": 1}]}))
        .await
        .assert_problem(409, "conflict");
    hold(&app, &shopper, json!({"location": "NOPE", "lines": [{"sku": "A", "quantity": 1}]}))
        .await
        .assert_problem(404, "not-found");
    assert_eq!(app.level("S1", "A").await["reserved"], 0);
    let custom =
        hold(&app, &shopper, json!({"location": "S1", "lines": [{"sku": "A", "quantity": 1}], "ttl_seconds": 60}))
            .await;
    let expires = chrono::DateTime::parse_from_rfc3339(custom.ok()["expires_at"].as_str().unwrap()).unwrap();
    assert!(expires.signed_duration_since(chrono::Utc::now()).num_seconds() <= 60);
    // Longer than HOLD_TTL_MAX_SECONDS (an hour here) is held for an hour, as expires_at says.
    let long =
        hold(&app, &shopper, json!({"location": "S1", "lines": [{"sku": "A", "quantity": 1}], "ttl_seconds": 7200}))
            .await;
    let expires = chrono::DateTime::parse_from_rfc3339(long.ok()["expires_at"].as_str().unwrap()).unwrap();
    let seconds = expires.signed_duration_since(chrono::Utc::now()).num_seconds();
    assert!((3590..=3600).contains(&seconds), "held for the maximum, got {seconds}s");
}

async fn hold_creation_is_idempotent(app: TestApp) {
    setup(&app).await;
    app.count("S1", "A", 10).await;
    let shopper = app.customer("ann");
    let body = json!({"location": "S1", "lines": [{"sku": "A", "quantity": 4}]});
    let send = || {
        app.request(Method::POST, "/v1/reservations")
            .bearer(&shopper)
            .header("Idempotency-Key", "cart-77")
            .json(&body)
            .send()
    };
    let first = send().await;
    let again = send().await;
    assert_eq!((first.status, again.status), (201, 201));
    assert_eq!(first.body["id"], again.body["id"]);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(app.level("S1", "A").await["reserved"], 4);
}

/// 120 shoppers race for 50 units; some take two lines in opposite orders. Exactly the
/// units that exist are held, never more; nobody deadlocks; the ledger adds up.
async fn racing_shoppers_never_oversell(app: TestApp) {
    setup(&app).await;
    app.count("S1", "A", 50).await;
    app.count("S1", "B", 30).await;
    let requests = (0..120).map(|i| {
        let app = &app;
        async move {
            let token = app.customer(&format!("shopper-{i}"));
            let lines = match i % 3 {
                0 => json!([{"sku": "A", "quantity": 1}]),
                1 => json!([{"sku": "A", "quantity": 1}, {"sku": "B", "quantity": 1}]),
                _ => json!([{"sku": "B", "quantity": 1}, {"sku": "A", "quantity": 1}]),
            };
            let reply = app.post("/v1/reservations", Some(&token), &json!({"location": "S1", "lines": lines})).await;
            (i % 3, reply.status, reply.text)
        }
    });
    let results = join_all(requests).await;
    let (mut held_a, mut held_b) = (0, 0);
    for (kind, status, text) in &results {
        match status {
            201 => {
                held_a += 1;
                if *kind > 0 {
                    held_b += 1;
                }
            }
            409 => assert!(text.contains("insufficient-stock")),
            other => panic!("answered {other}: {text}"),
        }
    }
    assert_eq!(held_a, 50, "every unit of A was sold, and not one more");
    assert!(held_b <= 30);
    let a = app.level("S1", "A").await;
    let b = app.level("S1", "B").await;
    assert_eq!((a["reserved"].as_i64(), a["available"].as_i64()), (Some(50), Some(0)));
    assert_eq!(b["reserved"].as_i64(), Some(held_b));
    app.assert_ledger_balances("S1", "A").await;
    app.assert_ledger_balances("S1", "B").await;
    let drift = clickcollect::stock::ledger::find_drift(&mut app.conn()).unwrap();
    assert!(drift.is_empty(), "reserved equals what the open holds account for: {drift:?}");
}

fn expiry(reply: &Value) -> chrono::DateTime<chrono::Utc> {
    reply["expires_at"].as_str().unwrap().parse().unwrap()
}

async fn a_hold_is_extended_once_while_its_stock_stays_reserved(app: TestApp) {
    setup(&app).await;
    app.count("S1", "A", 5).await;
    let ann = app.customer("ann");
    let placed = hold(&app, &ann, json!({"location": "S1", "lines": [{"sku": "A", "quantity": 2}], "ttl_seconds": 60}))
        .await
        .ok()
        .clone();
    let id = placed["id"].as_str().unwrap().to_string();
    assert!(placed["extended_at"].is_null());
    let path = format!("/v1/reservations/{id}/extend");
    // By the default (HOLD_TTL_SECONDS, 900), with no body at all.
    let extended = app.request(Method::POST, &path).bearer(&ann).send().await;
    let extended = extended.ok().clone();
    assert_eq!((expiry(&extended) - expiry(&placed)).num_seconds(), 900, "{extended}");
    assert!(extended["extended_at"].is_string());
    assert_eq!(extended["status"], "held");
    assert_eq!(app.level("S1", "A").await["reserved"], 2, "nothing reserved again");
    let again = app.post(&path, Some(&ann), &json!({"seconds": 60})).await;
    again.assert_problem(409, "conflict");
    assert!(again.body["detail"].as_str().unwrap().contains("extended once"), "{}", again.text);
    assert_eq!(expiry(app.get(&format!("/v1/reservations/{id}"), Some(&ann)).await.ok()), expiry(&extended));
    // An extended hold is released like any other.
    assert_eq!(app.request(Method::DELETE, &format!("/v1/reservations/{id}")).bearer(&ann).send().await.status, 204);
    assert_eq!(app.level("S1", "A").await["reserved"], 0);
    app.assert_ledger_balances("S1", "A").await;

    // By a chosen amount; never past HOLD_TTL_MAX_SECONDS (3600) from now.
    let short = hold(&app, &ann, json!({"location": "S1", "lines": [{"sku": "A", "quantity": 1}], "ttl_seconds": 60}))
        .await
        .ok()
        .clone();
    let path = format!("/v1/reservations/{}/extend", short["id"].as_str().unwrap());
    let by_30 = app.post(&path, Some(&ann), &json!({"seconds": 30})).await.ok().clone();
    assert_eq!((expiry(&by_30) - expiry(&short)).num_seconds(), 30);
    let long = hold(&app, &ann, json!({"location": "S1", "lines": [{"sku": "A", "quantity": 1}], "ttl_seconds": 3000}))
        .await
        .ok()
        .clone();
    let path = format!("/v1/reservations/{}/extend", long["id"].as_str().unwrap());
    let capped = app.post(&path, Some(&ann), &json!({"seconds": 3600})).await.ok().clone();
    let to_cap = (expiry(&capped) - chrono::Utc::now()).num_seconds();
    assert!((3590..=3600).contains(&to_cap), "capped at an hour from now, not 3000 + 3600 s: {to_cap}");
    let at_cap =
        hold(&app, &ann, json!({"location": "S1", "lines": [{"sku": "A", "quantity": 1}], "ttl_seconds": 3600})).await;
    let path = format!("/v1/reservations/{}/extend", at_cap.ok()["id"].as_str().unwrap());
    let nothing_more = app.post(&path, Some(&ann), &json!({})).await;
    nothing_more.assert_problem(409, "conflict");
    assert!(nothing_more.body["detail"].as_str().unwrap().contains("HOLD_TTL_MAX_SECONDS"), "{}", nothing_more.text);
}

async fn only_a_live_hold_of_ones_own_is_extended(app: TestApp) {
    setup(&app).await;
    app.count("S1", "A", 5).await;
    let ann = app.customer("ann");
    let one = |quantity: i64| json!({"location": "S1", "lines": [{"sku": "A", "quantity": quantity}]});
    let placed = hold(&app, &ann, one(1)).await.ok().clone();
    let id = placed["id"].as_str().unwrap().to_string();
    let path = format!("/v1/reservations/{id}/extend");
    app.post(&path, Some(&app.customer("bob")), &json!({})).await.assert_problem(404, "not-found");
    app.post(&path, Some(&app.staff("S1")), &json!({})).await.assert_problem(403, "forbidden");
    app.post(&path, None, &json!({})).await.assert_problem(401, "unauthorized");
    app.post("/v1/reservations/nope/extend", Some(&ann), &json!({})).await.assert_problem(404, "not-found");
    let invalid = app.post(&path, Some(&ann), &json!({"seconds": 10, "minutes": 5})).await;
    invalid.assert_problem(422, "validation");
    assert_eq!(invalid.error_fields(), vec!["minutes"]);
    assert_eq!(app.post(&path, Some(&ann), &json!({"seconds": 10})).await.error_fields(), vec!["seconds"]);
    assert!(app.get(&format!("/v1/reservations/{id}"), Some(&ann)).await.ok()["extended_at"].is_null());

    // A recount that leaves the hold short: it could not become an order, so it is not extended.
    app.count("S1", "A", 0).await;
    app.post(&path, Some(&ann), &json!({})).await.assert_problem(409, "at-risk");
    app.count("S1", "A", 5).await;

    // Lapsed, converted and released holds have nothing to extend.
    lapse(&app, &id);
    let lapsed = app.post(&path, Some(&ann), &json!({})).await;
    lapsed.assert_problem(409, "conflict");
    assert!(lapsed.body["detail"].as_str().unwrap().contains("expired"), "{}", lapsed.text);
    let converted = hold(&app, &ann, one(1)).await.ok()["id"].as_str().unwrap().to_string();
    let order = json!({"reservation_id": converted, "location": "S1", "fulfilment": "pickup", "customer_id": "ann"});
    assert_eq!(app.post("/v1/orders", Some(&ann), &order).await.status, 201);
    app.post(&format!("/v1/reservations/{converted}/extend"), Some(&ann), &json!({}))
        .await
        .assert_problem(409, "conflict");
    let released = hold(&app, &ann, one(1)).await.ok()["id"].as_str().unwrap().to_string();
    app.request(Method::DELETE, &format!("/v1/reservations/{released}")).bearer(&ann).send().await;
    app.post(&format!("/v1/reservations/{released}/extend"), Some(&ann), &json!({}))
        .await
        .assert_problem(404, "not-found");
}

async fn racing_extensions_extend_once(app: TestApp) {
    setup(&app).await;
    app.count("S1", "A", 5).await;
    let ann = app.customer("ann");
    let placed = hold(&app, &ann, json!({"location": "S1", "lines": [{"sku": "A", "quantity": 1}], "ttl_seconds": 60}))
        .await
        .ok()
        .clone();
    let path = format!("/v1/reservations/{}/extend", placed["id"].as_str().unwrap());
    let body = json!({"seconds": 120});
    let replies = join_all((0..6).map(|_| app.post(&path, Some(&ann), &body))).await;
    let statuses: Vec<u16> = replies.iter().map(|r| r.status).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1, "{statuses:?}");
    assert!(statuses.iter().all(|s| *s == 200 || *s == 409), "{statuses:?}");
    let now = app.get(&format!("/v1/reservations/{}", placed["id"].as_str().unwrap()), Some(&ann)).await;
    assert_eq!((expiry(now.ok()) - expiry(&placed)).num_seconds(), 120, "extended by one request's worth");
}

/// An extension that commits while a new hold waits to end the lapsed holds of its SKU is not
/// undone: the new hold ends only holds still lapsed once it holds their lock. (On SQLite
/// writers take turns, so the interleaving cannot happen there; the check still runs.)
async fn an_extension_committed_meanwhile_is_not_undone(app: TestApp) {
    use diesel::connection::SimpleConnection;
    setup(&app).await;
    app.count("S1", "A", 5).await;
    let ann = app.customer("ann");
    let placed = hold(&app, &ann, json!({"location": "S1", "lines": [{"sku": "A", "quantity": 1}], "ttl_seconds": 60}))
        .await
        .ok()
        .clone();
    let id = placed["id"].as_str().unwrap().to_string();
    lapse(&app, &id);
    if app.backend == common::Backend::Postgres {
        // Another transaction holds the hold's row and moves its end an hour on, as `extend`
        // does, and commits only once the new hold is waiting for that row.
        let mut extending = app.conn();
        extending
            .batch_execute(&format!(
                "BEGIN; SELECT id FROM reservations WHERE id = '{id}' FOR UPDATE;                  UPDATE reservations SET expires_at = now() AT TIME ZONE 'UTC' + interval '1 hour',                  extended_at = now() AT TIME ZONE 'UTC' WHERE id = '{id}';"
            ))
            .unwrap();
        let bob = app.customer("bob");
        let body = json!({"location": "S1", "lines": [{"sku": "A", "quantity": 1}]});
        let (placed, ()) = tokio::join!(hold(&app, &bob, body), async {
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            extending.batch_execute("COMMIT").unwrap();
        });
        assert_eq!(placed.status, 201, "{}", placed.text);
        let ann_hold = app.get(&format!("/v1/reservations/{id}"), Some(&ann)).await.ok().clone();
        assert_eq!(ann_hold["status"], "held", "the extension stands: {ann_hold}");
        assert_eq!(app.level("S1", "A").await["reserved"], 2, "both holds keep their unit");
        app.assert_ledger_balances("S1", "A").await;
    } else {
        // Lapsed and not extended: the new hold ends it, as ever.
        let placed =
            hold(&app, &app.customer("bob"), json!({"location": "S1", "lines": [{"sku": "A", "quantity": 5}]})).await;
        assert_eq!(placed.status, 201, "{}", placed.text);
    }
}

on_both_backends!(
    an_extension_committed_meanwhile_is_not_undone,
    a_hold_is_extended_once_while_its_stock_stays_reserved,
    only_a_live_hold_of_ones_own_is_extended,
    racing_extensions_extend_once,
    a_hold_reserves_and_its_release_returns_the_stock,
    all_lines_or_none_with_alternatives_nearest_first,
    a_lapsed_hold_never_blocks_a_new_one,
    the_sweeper_releases_lapsed_holds,
    hold_denials,
    hold_input_is_validated,
    hold_creation_is_idempotent,
    racing_shoppers_never_oversell,
);
