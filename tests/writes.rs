//! Every write endpoint against the same hostile inputs: malformed JSON, oversized bodies,
//! unknown fields, wrong media type, negative and huge numbers, bad codes, no token. Each is
//! refused with problem+json and leaves everything as it was.

mod common;

use actix_web::http::Method;
use common::TestApp;
use serde_json::{json, Value};

struct Write {
    method: Method,
    path: &'static str,
    /// Same endpoint, with an invalid code in the path.
    bad_path: Option<&'static str>,
    valid: Value,
    /// The body with a number made negative or absurdly large, and the field named in the error.
    bad_numbers: Vec<(Value, &'static str)>,
    /// A body size above the endpoint's limit.
    too_large: usize,
    /// A role this endpoint refuses (403).
    denied: Denied,
}

#[derive(Clone, Copy)]
enum Denied {
    Customer,
    Staff,
}

fn writes() -> Vec<Write> {
    let location = json!({
        "name": "New", "kind": "store", "timezone": "Europe/Warsaw",
        "pickup": {"in_store": true, "curbside": true}, "pickup_hold_days": 3,
        "fulfils_online": true, "active": true
    });
    let mut hold_days = location.clone();
    hold_days["pickup_hold_days"] = json!(1_000_000);
    vec![
        Write {
            method: Method::PUT,
            path: "/v1/locations/NEW",
            bad_path: Some("/v1/locations/N%2FE"),
            valid: location,
            bad_numbers: vec![(hold_days, "pickup_hold_days")],
            too_large: 100 * 1024,
            denied: Denied::Customer,
        },
        Write {
            method: Method::PUT,
            path: "/v1/products/NEW",
            bad_path: Some("/v1/products/N%20E"),
            valid: json!({"name": "New", "price": {"amount_minor": 100, "currency": "EUR"}}),
            bad_numbers: vec![
                (json!({"name": "New", "price": {"amount_minor": -5, "currency": "EUR"}}), "price.amount_minor"),
                (
                    json!({"name": "New", "price": {"amount_minor": 9_000_000_000_000_000i64, "currency": "EUR"}}),
                    "price.amount_minor",
                ),
            ],
            too_large: 100 * 1024,
            denied: Denied::Customer,
        },
        Write {
            method: Method::PUT,
            path: "/v1/stock/S1/A",
            bad_path: Some("/v1/stock/S1/A%21"),
            valid: json!({"on_hand": 5}),
            bad_numbers: vec![
                (json!({"on_hand": -5}), "on_hand"),
                (json!({"on_hand": 10_000_000_000i64}), "on_hand"),
                (json!({"on_hand": 5, "expected_on_hand": -1}), "expected_on_hand"),
            ],
            too_large: 100 * 1024,
            denied: Denied::Customer,
        },
        Write {
            method: Method::POST,
            path: "/v1/stock/adjustments",
            bad_path: None,
            valid: json!({"adjustments": [{"location": "S1", "sku": "A", "delta": 5, "reason": "receipt"}]}),
            bad_numbers: vec![
                (
                    json!({"adjustments": [{"location": "S1", "sku": "A", "delta": 10_000_000_000i64, "reason": "receipt"}]}),
                    "adjustments[0].delta",
                ),
                (
                    json!({"adjustments": [{"location": "S1", "sku": "A", "delta": 1.5, "reason": "receipt"}]}),
                    "adjustments[0].delta",
                ),
            ],
            // Batches of up to 1,000 lines are bulk writes, with the bulk body limit.
            too_large: 17 * 1024 * 1024,
            denied: Denied::Customer,
        },
        Write {
            method: Method::POST,
            path: "/v1/stock/S1/snapshot",
            bad_path: Some("/v1/stock/S%201/snapshot"),
            valid: json!({"items": [{"sku": "A", "on_hand": 5}]}),
            bad_numbers: vec![
                (json!({"items": [{"sku": "A", "on_hand": -5}]}), "items[0].on_hand"),
                (
                    json!({"items": [{"sku": "A", "on_hand": 5, "safety_stock": 10_000_000_000i64}]}),
                    "items[0].safety_stock",
                ),
            ],
            too_large: 17 * 1024 * 1024,
            denied: Denied::Customer,
        },
        Write {
            method: Method::PUT,
            path: "/v1/channels/NEW",
            bad_path: Some("/v1/channels/N%3FE"),
            valid: json!({"name": "New", "buffer": 1, "locations": ["S1"]}),
            bad_numbers: vec![
                (json!({"name": "New", "buffer": -1, "locations": []}), "buffer"),
                (json!({"name": "New", "buffer": 1e20, "locations": []}), "buffer"),
            ],
            // Up to 1,000 locations: a bulk write, with the bulk body limit.
            too_large: 17 * 1024 * 1024,
            denied: Denied::Customer,
        },
        Write {
            method: Method::POST,
            path: "/v1/reservations",
            bad_path: None,
            valid: json!({"location": "S1", "lines": [{"sku": "A", "quantity": 1}]}),
            bad_numbers: vec![
                (json!({"location": "S1", "lines": [{"sku": "A", "quantity": -1}]}), "lines[0].quantity"),
                (json!({"location": "S1", "lines": [{"sku": "A", "quantity": 1}], "ttl_seconds": 1e12}), "ttl_seconds"),
            ],
            too_large: 100 * 1024,
            denied: Denied::Staff,
        },
        Write {
            method: Method::POST,
            path: "/v1/orders",
            bad_path: None,
            valid: common::pickup_order("S1", "root", "A", 1),
            bad_numbers: vec![(common::pickup_order("S1", "root", "A", 100000), "lines[0].quantity")],
            too_large: 100 * 1024,
            denied: Denied::Staff,
        },
    ]
}

/// Everything a refused write could have touched.
async fn state_of(app: &TestApp) -> Value {
    let admin = app.admin();
    json!({
        "location": app.get("/v1/locations/NEW", None).await.status,
        "product": app.get("/v1/products/NEW", None).await.status,
        "channel": app.get("/v1/channels/NEW", Some(&admin)).await.status,
        "level": app.level("S1", "A").await,
        "movements": app.movements("S1", "A").await.len(),
    })
}

async fn hostile_writes_are_refused_and_change_nothing(app: TestApp) {
    app.put_location("S1", json!({})).await;
    app.put_product("A").await;
    app.count("S1", "A", 1).await;
    let before = state_of(&app).await;
    let admin = app.admin();

    for write in writes() {
        let what = format!("{} {}", write.method, write.path);
        let send = |body: Vec<u8>, content_type: &str, token: Option<&str>, path: &str| {
            let mut request = app.request(write.method.clone(), path).raw(content_type, body);
            if let Some(token) = token {
                request = request.bearer(token);
            }
            request.send()
        };
        let valid = serde_json::to_string(&write.valid).unwrap();

        let malformed = valid[..valid.len() - 1].to_string();
        send(malformed.into(), "application/json", Some(&admin), write.path)
            .await
            .assert_problem(400, "malformed-json");

        let mut padded = write.valid.clone();
        padded["padding"] = json!("x".repeat(write.too_large));
        let oversized = serde_json::to_vec(&padded).unwrap();
        let reply = send(oversized, "application/json", Some(&admin), write.path).await;
        reply.assert_problem(413, "payload-too-large");

        let mut unknown = write.valid.clone();
        unknown["surprise"] = json!(true);
        let reply = send(serde_json::to_vec(&unknown).unwrap(), "application/json", Some(&admin), write.path).await;
        reply.assert_problem(422, "validation");
        assert_eq!(reply.error_fields(), vec!["surprise"], "{what}");

        send(valid.clone().into(), "text/plain", Some(&admin), write.path)
            .await
            .assert_problem(415, "unsupported-media-type");
        send(valid.clone().into(), "application/json", None, write.path).await.assert_problem(401, "unauthorized");
        let denied = match write.denied {
            Denied::Customer => app.customer("c1"),
            Denied::Staff => app.staff("S1"),
        };
        send(valid.clone().into(), "application/json", Some(&denied), write.path)
            .await
            .assert_problem(403, "forbidden");

        if let Some(bad_path) = write.bad_path {
            send(valid.clone().into(), "application/json", Some(&admin), bad_path)
                .await
                .assert_problem(422, "validation");
        }
        for (body, field) in &write.bad_numbers {
            let reply = send(serde_json::to_vec(body).unwrap(), "application/json", Some(&admin), write.path).await;
            reply.assert_problem(422, "validation");
            assert_eq!(reply.error_fields(), vec![field.to_string()], "{what} with {body}");
        }
        assert_eq!(state_of(&app).await, before, "after refused writes to {what}");
    }
}

on_both_backends!(hostile_writes_are_refused_and_change_nothing);

/// The snapshot's own, larger body limit is enforced too.
async fn snapshots_have_their_own_body_limit(app: TestApp) {
    app.put_location("S1", json!({})).await;
    app.put_product("A").await;
    let items: Vec<Value> = (0..8000).map(|n| json!({"sku": format!("SKU-{n:05}"), "on_hand": 1})).collect();
    let reply = app.post("/v1/stock/S1/snapshot", Some(&app.admin()), &json!({"items": items})).await;
    reply.assert_problem(413, "payload-too-large");
    assert_eq!(reply.body["limit_bytes"], 200000);
    // Bigger than an ordinary body, within the snapshot limit: accepted.
    let body = json!({"items": [{"sku": "A", "on_hand": 3}], "reference": "x".repeat(150)});
    assert_eq!(app.post("/v1/stock/S1/snapshot", Some(&app.admin()), &body).await.status, 200);
}
on_both_backends!(small_snapshots with &[("MAX_SNAPSHOT_BYTES", "200000")]; snapshots_have_their_own_body_limit);
