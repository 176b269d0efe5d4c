//! A property test over random sequences of hold, release, expire, order, cancel, short pick,
//! collect and receipts, run through the domain functions on each backend. After every step:
//! never more units reserved than on the shelf, every ledger adds up to its level, and
//! `reserved` equals what open holds and orders account for.

mod common;

use std::cell::Cell;

use chrono::TimeDelta;
use clickcollect::auth::{Principal, Role};
use clickcollect::db::{write_tx, DbConn};
use clickcollect::error::ApiError;
use clickcollect::limits::CustomerLimits;
use clickcollect::orders::status::{Action, Fulfilment};
use clickcollect::orders::{self, Details, OrderSettings, Placed};
use clickcollect::reservations::{self, model::HoldLine, model::NewHold};
use clickcollect::stock::ledger::find_drift;
use clickcollect::stock::levels;
use clickcollect::stock::model::{Adjustment, AdjustmentBatch, Reason};
use common::TestApp;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::json;

const SKUS: [&str; 2] = ["P", "Q"];

#[derive(Debug, Clone)]
enum Op {
    Hold { sku: usize, quantity: i64, both: bool },
    Release(usize),
    Lapse(usize),
    OrderFromHold(usize),
    OrderDirect { sku: usize, quantity: i64 },
    Advance(usize),
    Cancel(usize),
    ShortPick { order: usize, missing: i64 },
    Receive { sku: usize, quantity: i64 },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..2usize, 1..5i64, any::<bool>()).prop_map(|(sku, quantity, both)| Op::Hold { sku, quantity, both }),
        1 => (0..8usize).prop_map(Op::Release),
        1 => (0..8usize).prop_map(Op::Lapse),
        2 => (0..8usize).prop_map(Op::OrderFromHold),
        2 => (0..2usize, 1..5i64).prop_map(|(sku, quantity)| Op::OrderDirect { sku, quantity }),
        3 => (0..8usize).prop_map(Op::Advance),
        1 => (0..8usize).prop_map(Op::Cancel),
        1 => (0..8usize, 1..3i64).prop_map(|(order, missing)| Op::ShortPick { order, missing }),
        1 => (0..2usize, 1..4i64).prop_map(|(sku, quantity)| Op::Receive { sku, quantity }),
    ]
}

fn admin() -> Principal {
    Principal { sub: "ops".into(), role: Role::Admin, store: None, scopes: vec![] }
}

fn settings() -> OrderSettings {
    OrderSettings::for_jobs(b"k", clickcollect::notify::outbox::enqueue)
}

fn order_id(placed: Placed) -> String {
    match placed {
        Placed::New(order) | Placed::Repeated(order) => order.id,
    }
}

fn shopper() -> Principal {
    Principal { sub: "shopper".into(), role: Role::Customer, store: None, scopes: vec![] }
}

/// Refusals the rules allow (not enough stock, an illegal move, a gone hold) are fine;
/// anything else fails the property.
fn allowed<T>(result: Result<T, ApiError>) -> Result<Option<T>, TestCaseError> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(
            ApiError::InsufficientStock(_)
            | ApiError::Conflict(_)
            | ApiError::Validation(_)
            | ApiError::NotFound(_)
            | ApiError::Unknown(_),
        ) => Ok(None),
        Err(other) => Err(TestCaseError::fail(format!("unexpected error: {other:?}"))),
    }
}

struct World {
    location: String,
    holds: Vec<String>,
    orders: Vec<String>,
}

fn step(conn: &mut DbConn, world: &mut World, op: &Op) -> Result<(), TestCaseError> {
    let pick = |ids: &Vec<String>, i: usize| (!ids.is_empty()).then(|| ids[i % ids.len()].clone());
    let location = world.location.clone();
    match op {
        Op::Hold { sku, quantity, both } => {
            let mut lines = vec![HoldLine { sku: SKUS[*sku].into(), quantity: *quantity }];
            if *both {
                lines.push(HoldLine { sku: SKUS[1 - sku].into(), quantity: 1 });
            }
            let form = NewHold { location, lines, ttl_seconds: None, slot_id: None, remind: None };
            let who = shopper();
            if let Some(hold) = allowed(write_tx(conn, |c| {
                reservations::hold(c, &who, &form, TimeDelta::minutes(15), &CustomerLimits::NONE)
            }))? {
                world.holds.push(hold.id);
            }
        }
        Op::Release(i) => {
            if let Some(id) = pick(&world.holds, *i) {
                allowed(write_tx(conn, |c| reservations::release(c, &shopper(), &id)))?;
            }
        }
        Op::Lapse(i) => {
            if let Some(id) = pick(&world.holds, *i) {
                use clickcollect::db::schema::reservations as r;
                use diesel::prelude::*;
                let past = chrono::Utc::now().naive_utc() - TimeDelta::seconds(1);
                diesel::update(r::table.find(&id))
                    .set(r::expires_at.eq(past))
                    .execute(conn)
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
                allowed(write_tx(conn, reservations::expire_lapsed))?;
            }
        }
        Op::OrderFromHold(i) => {
            if let Some(id) = pick(&world.holds, *i) {
                let form = orders::model::NewOrder {
                    reservation_id: Some(id),
                    location: Some(location),
                    fulfilment: Fulfilment::Pickup,
                    lines: None,
                    customer_id: "shopper".into(),
                    channel: None,
                    external_ref: None,
                    slot_id: None,
                };
                if let Some(placed) = allowed(write_tx(conn, |c| orders::create(c, &shopper(), &form, &settings())))? {
                    world.orders.push(order_id(placed));
                }
            }
        }
        Op::OrderDirect { sku, quantity } => {
            let form = orders::model::NewOrder {
                reservation_id: None,
                location: Some(location),
                fulfilment: Fulfilment::Curbside,
                lines: Some(vec![HoldLine { sku: SKUS[*sku].into(), quantity: *quantity }]),
                customer_id: "shopper".into(),
                channel: None,
                external_ref: None,
                slot_id: None,
            };
            if let Some(placed) = allowed(write_tx(conn, |c| orders::create(c, &shopper(), &form, &settings())))? {
                world.orders.push(order_id(placed));
            }
        }
        Op::Advance(i) => {
            if let Some(id) = pick(&world.orders, *i) {
                // Whatever comes next on the counter path: picking, ready, collected.
                for action in [Action::StartPicking, Action::MarkReady, Action::Collect] {
                    let moved = allowed(write_tx(conn, |c| {
                        orders::transition(c, &admin(), &id, action, &Details::default(), &settings())
                    }))?;
                    if moved.is_some() {
                        break;
                    }
                }
            }
        }
        Op::Cancel(i) => {
            if let Some(id) = pick(&world.orders, *i) {
                allowed(write_tx(conn, |c| {
                    orders::transition(c, &admin(), &id, Action::Cancel, &Details::default(), &settings())
                }))?;
            }
        }
        Op::ShortPick { order, missing } => {
            if let Some(id) = pick(&world.orders, *order) {
                for sku in SKUS {
                    let form = orders::model::ShortPick { sku: sku.into(), missing: *missing };
                    allowed(write_tx(conn, |c| orders::short_pick(c, &admin(), &id, &form, &settings())))?;
                }
            }
        }
        Op::Receive { sku, quantity } => {
            let batch = AdjustmentBatch {
                adjustments: vec![Adjustment {
                    location,
                    sku: SKUS[*sku].into(),
                    delta: *quantity,
                    reason: Reason::Receipt,
                    reference: None,
                }],
            };
            allowed(write_tx(conn, |c| levels::adjust(c, &batch, "integration:erp")))?;
        }
    }
    Ok(())
}

fn check_invariants(conn: &mut DbConn, location: &str, after: &Op) -> Result<(), TestCaseError> {
    // Cases share one database; each judges its own location, so a failed case cannot make
    // the shrunk ones fail for its sake.
    let mut drift = find_drift(conn).map_err(|e| TestCaseError::fail(e.to_string()))?;
    drift.retain(|d| d.location == location);
    prop_assert!(drift.is_empty(), "after {:?}: drift {:?}", after, drift);
    for sku in SKUS {
        let level = levels::get(conn, location, sku).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert!(
            level.reserved <= level.on_hand,
            "after {:?}: {} reserved of {} on hand",
            after,
            level.reserved,
            level.on_hand
        );
    }
    Ok(())
}

async fn random_operations_keep_every_invariant(app: TestApp) {
    app.put_location("L", json!({})).await;
    for sku in SKUS {
        app.put_product(sku).await;
    }
    let case = Cell::new(0);
    let mut runner = TestRunner::new(Config { cases: 24, failure_persistence: None, ..Config::default() });
    let result = runner.run(&proptest::collection::vec(op(), 1..40), |ops| {
        // Each case gets a location of its own, so cases do not see each other's stock.
        case.set(case.get() + 1);
        let location = format!("L{}", case.get());
        let mut conn = app.conn();
        create_location(&mut conn, &location);
        for sku in SKUS {
            let batch = AdjustmentBatch {
                adjustments: vec![Adjustment {
                    location: location.clone(),
                    sku: sku.into(),
                    delta: 6,
                    reason: Reason::Receipt,
                    reference: None,
                }],
            };
            write_tx(&mut conn, |c| levels::adjust(c, &batch, "test")).unwrap();
        }
        let mut world = World { location: location.clone(), holds: vec![], orders: vec![] };
        for op in &ops {
            step(&mut conn, &mut world, op)?;
            check_invariants(&mut conn, &location, op)?;
        }
        Ok(())
    });
    if let Err(error) = result {
        panic!("{error}");
    }
}

fn create_location(conn: &mut DbConn, code: &str) {
    let form: clickcollect::catalog::model::LocationForm = serde_json::from_value(json!({
        "name": "Prop store", "kind": "store", "timezone": "UTC", "pickup": {"in_store": true, "curbside": true},
        "pickup_hold_days": 1, "fulfils_online": true, "active": true
    }))
    .unwrap();
    write_tx(conn, |c| clickcollect::catalog::put_location(c, code, &form)).unwrap();
}

on_both_backends!(random_operations_keep_every_invariant);
