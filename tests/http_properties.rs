//! A property test over HTTP, against the real server on a socket: random sequences of holds,
//! releases, orders (direct, from holds, pickup and delivery), counts, till sales, receipts,
//! snapshots, picking, ready, short picks, handovers at the counter, shipping and cancels, by
//! several customers and the store. After every step:
//! - no answer is a 5xx (nor anything but the refusals the rules allow);
//! - every ledger adds up to its level, and `reserved` equals what open holds and orders hold;
//! - `available` and `shortfall` are what `on_hand` and `reserved` say, and the units the open
//!   commitments are short of add up to the shortfall.

mod common;

use std::cell::Cell;

use clickcollect::db::DbConn;
use common::{http_agent, http_call, TestApp};
use diesel::prelude::*;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{json, Value};

const SKUS: [&str; 2] = ["P", "Q"];

#[derive(Debug, Clone)]
enum Op {
    Hold { customer: usize, sku: usize, quantity: i64, both: bool },
    Release(usize),
    OrderFromHold(usize),
    OrderDirect { customer: usize, sku: usize, quantity: i64, delivery: bool },
    Count { sku: usize, on_hand: i64 },
    TillSale { sku: usize, quantity: i64 },
    Receipt { sku: usize, quantity: i64 },
    Snapshot { p: i64, q: i64 },
    Advance(usize),
    ShortPick { order: usize, sku: usize, missing: i64 },
    Cancel(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..3usize, 0..2usize, 1..4i64, any::<bool>())
            .prop_map(|(customer, sku, quantity, both)| Op::Hold { customer, sku, quantity, both }),
        1 => (0..8usize).prop_map(Op::Release),
        2 => (0..8usize).prop_map(Op::OrderFromHold),
        2 => (0..3usize, 0..2usize, 1..4i64, any::<bool>())
            .prop_map(|(customer, sku, quantity, delivery)| Op::OrderDirect { customer, sku, quantity, delivery }),
        2 => (0..2usize, 0..8i64).prop_map(|(sku, on_hand)| Op::Count { sku, on_hand }),
        2 => (0..2usize, 1..4i64).prop_map(|(sku, quantity)| Op::TillSale { sku, quantity }),
        1 => (0..2usize, 1..5i64).prop_map(|(sku, quantity)| Op::Receipt { sku, quantity }),
        1 => (0..8i64, 0..8i64).prop_map(|(p, q)| Op::Snapshot { p, q }),
        4 => (0..8usize).prop_map(Op::Advance),
        2 => (0..8usize, 0..2usize, 1..3i64).prop_map(|(order, sku, missing)| Op::ShortPick { order, sku, missing }),
        1 => (0..8usize).prop_map(Op::Cancel),
    ]
}

struct Client<'a> {
    agent: ureq::Agent,
    base: String,
    app: &'a TestApp,
}

impl Client<'_> {
    /// One call; refusals the rules allow come back as they are, anything else fails the case.
    fn call(&self, method: &str, path: &str, token: &str, body: Option<Value>) -> Result<(u16, Value), TestCaseError> {
        let (status, reply) =
            http_call(&self.agent, method, &format!("{}{path}", self.base), Some(token), body.as_ref());
        // 404: a code or line that is gone; 409: not enough stock, a limit, a step the status
        // does not allow. Nothing else is a right answer to the requests this test makes.
        if !matches!(status, 200 | 201 | 204 | 404 | 409) {
            return Err(TestCaseError::fail(format!("{method} {path} answered {status}: {reply}")));
        }
        Ok((status, reply))
    }
}

struct World {
    location: String,
    /// Shoppers of this case only: the per-customer limits count across stores.
    customers: [String; 3],
    /// (hold id, customer)
    holds: Vec<(String, String)>,
    /// (order id, customer)
    orders: Vec<(String, String)>,
}

fn pick<T: Clone>(items: &[T], i: usize) -> Option<T> {
    (!items.is_empty()).then(|| items[i % items.len()].clone())
}

fn step(client: &Client, world: &mut World, op: &Op) -> Result<(), TestCaseError> {
    let app = client.app;
    let (admin, staff) = (app.admin(), app.staff(&world.location));
    let location = world.location.clone();
    match op {
        Op::Hold { customer, sku, quantity, both } => {
            let mut lines = vec![json!({"sku": SKUS[*sku], "quantity": quantity})];
            if *both {
                lines.push(json!({"sku": SKUS[1 - sku], "quantity": 1}));
            }
            let who = world.customers[*customer].clone();
            let body = json!({"location": location, "lines": lines});
            let (status, reply) = client.call("POST", "/v1/reservations", &app.customer(&who), Some(body))?;
            if status == 201 {
                world.holds.push((reply["id"].as_str().unwrap().to_string(), who));
            }
        }
        Op::Release(i) => {
            if let Some((id, who)) = pick(&world.holds, *i) {
                client.call("DELETE", &format!("/v1/reservations/{id}"), &app.customer(&who), None)?;
            }
        }
        Op::OrderFromHold(i) => {
            if let Some((id, who)) = pick(&world.holds, *i) {
                let body =
                    json!({"reservation_id": id, "location": location, "fulfilment": "pickup", "customer_id": who});
                let (status, reply) = client.call("POST", "/v1/orders", &app.customer(&who), Some(body))?;
                if status == 201 {
                    world.orders.push((reply["id"].as_str().unwrap().to_string(), who));
                }
            }
        }
        Op::OrderDirect { customer, sku, quantity, delivery } => {
            let who = world.customers[*customer].clone();
            let fulfilment = if *delivery { "delivery" } else { "curbside" };
            let body = json!({"location": location, "fulfilment": fulfilment, "customer_id": who,
                "lines": [{"sku": SKUS[*sku], "quantity": quantity}]});
            let (status, reply) = client.call("POST", "/v1/orders", &app.customer(&who), Some(body))?;
            if status == 201 {
                world.orders.push((reply["id"].as_str().unwrap().to_string(), who));
            }
        }
        Op::Count { sku, on_hand } => {
            let path = format!("/v1/stock/{location}/{}", SKUS[*sku]);
            client.call("PUT", &path, &staff, Some(json!({"on_hand": on_hand})))?;
        }
        Op::TillSale { sku, quantity } | Op::Receipt { sku, quantity } => {
            let (delta, reason) = match op {
                Op::TillSale { .. } => (-quantity, "sale"),
                _ => (*quantity, "receipt"),
            };
            let body =
                json!({"adjustments": [{"location": location, "sku": SKUS[*sku], "delta": delta, "reason": reason}]});
            client.call("POST", "/v1/stock/adjustments", &staff, Some(body))?;
        }
        Op::Snapshot { p, q } => {
            let body = json!({"items": [{"sku": "P", "on_hand": p}, {"sku": "Q", "on_hand": q}]});
            client.call("POST", &format!("/v1/stock/{location}/snapshot"), &admin, Some(body))?;
        }
        Op::Advance(i) => {
            let Some((id, who)) = pick(&world.orders, *i) else { return Ok(()) };
            let (_, order) = client.call("GET", &format!("/v1/orders/{id}"), &app.customer(&who), None)?;
            match (order["status"].as_str().unwrap_or(""), order["fulfilment"].as_str().unwrap_or("")) {
                ("confirmed", _) => drop(client.call("POST", &format!("/v1/orders/{id}/picking"), &staff, None)?),
                ("picking", "delivery") => {
                    let body = json!({"carrier": "DHL", "tracking_number": "T1"});
                    client.call("POST", &format!("/v1/orders/{id}/ship"), &staff, Some(body))?;
                }
                ("picking", _) => drop(client.call("POST", &format!("/v1/orders/{id}/ready"), &staff, None)?),
                ("ready_for_pickup", _) => {
                    let code = order["pickup_code"].as_str().expect("the customer sees the code").to_string();
                    let path = format!("/v1/stores/{location}/pickups");
                    let (status, reply) = client.call("POST", &path, &staff, Some(json!({"code": code})))?;
                    prop_assert_eq!(status, 200, "a ready order's own code collects it: {}", reply);
                }
                _ => {}
            }
        }
        Op::ShortPick { order, sku, missing } => {
            if let Some((id, _)) = pick(&world.orders, *order) {
                let body = json!({"sku": SKUS[*sku], "missing": missing});
                client.call("POST", &format!("/v1/orders/{id}/short-pick"), &staff, Some(body))?;
            }
        }
        Op::Cancel(i) => {
            if let Some((id, _)) = pick(&world.orders, *i) {
                client.call("POST", &format!("/v1/orders/{id}/cancel"), &staff, None)?;
            }
        }
    }
    Ok(())
}

/// Units the open commitments at a level are short of: every at-risk row of the level belongs
/// to an open order or a held hold.
fn open_shorts(conn: &mut DbConn, location: &str, sku: &str) -> i64 {
    use clickcollect::db::schema::{orders, reservations, stock_shorts};
    let rows: Vec<(String, String, i64)> = stock_shorts::table
        .filter(stock_shorts::location.eq(location))
        .filter(stock_shorts::sku.eq(sku))
        .select((stock_shorts::holder, stock_shorts::holder_id, stock_shorts::short))
        .load(conn)
        .unwrap();
    let mut total = 0;
    for (holder, id, short) in rows {
        let open = if holder == "order" {
            let status: String = orders::table.find(&id).select(orders::status).first(conn).unwrap();
            ["confirmed", "picking", "ready_for_pickup"].contains(&status.as_str())
        } else {
            let status: String = reservations::table.find(&id).select(reservations::status).first(conn).unwrap();
            status == "held"
        };
        assert!(open, "an at-risk row of a closed {holder} {id}");
        total += short;
    }
    total
}

fn check_invariants(client: &Client, location: &str, after: &Op) -> Result<(), TestCaseError> {
    let mut conn = client.app.conn();
    let mut drift = clickcollect::stock::ledger::find_drift(&mut conn).unwrap();
    drift.retain(|d| d.location == location);
    prop_assert!(drift.is_empty(), "after {:?}: drift {:?}", after, drift);
    for sku in SKUS {
        let (_, level) = client.call("GET", &format!("/v1/stock/{location}/{sku}"), &client.app.admin(), None)?;
        let (on_hand, reserved) = (level["on_hand"].as_i64().unwrap(), level["reserved"].as_i64().unwrap());
        prop_assert!(on_hand >= 0 && reserved >= 0, "after {:?}: {}", after, level);
        prop_assert_eq!(level["available"].as_i64().unwrap(), (on_hand - reserved).max(0), "after {:?}", after);
        let shortfall = (reserved - on_hand).max(0);
        prop_assert_eq!(level["shortfall"].as_i64().unwrap(), shortfall, "after {:?}", after);
        prop_assert_eq!(
            open_shorts(&mut conn, location, sku),
            shortfall,
            "after {:?}: the shorts make the shortfall",
            after
        );
    }
    Ok(())
}

async fn random_operations_over_http_keep_every_promise(app: TestApp) {
    for sku in SKUS {
        app.put_product(sku).await;
    }
    let client = Client { agent: http_agent(), base: app.serve(), app: &app };
    let case = Cell::new(0);
    let mut runner = TestRunner::new(Config { cases: 24, failure_persistence: None, ..Config::default() });
    let result = runner.run(&proptest::collection::vec(op(), 1..30), |ops| {
        // Each case gets a store of its own, so cases do not see each other's stock.
        case.set(case.get() + 1);
        let location = format!("H{}", case.get());
        let store = json!({"name": "Prop store", "kind": "store", "timezone": "UTC",
            "pickup": {"in_store": true, "curbside": true}, "pickup_hold_days": 1, "fulfils_online": true, "active": true});
        client.call("PUT", &format!("/v1/locations/{location}"), &app.admin(), Some(store))?;
        for sku in SKUS {
            let body = json!({"adjustments": [{"location": location, "sku": sku, "delta": 6, "reason": "receipt"}]});
            client.call("POST", "/v1/stock/adjustments", &app.admin(), Some(body))?;
        }
        let customers = [0, 1, 2].map(|n| format!("{location}-shopper-{n}"));
        let mut world = World { location: location.clone(), customers, holds: vec![], orders: vec![] };
        for op in &ops {
            step(&client, &mut world, op)?;
            check_invariants(&client, &location, op)?;
        }
        Ok(())
    });
    if let Err(error) = result {
        panic!("{error}");
    }
}

on_both_backends!(random_operations_over_http_keep_every_promise);
