//! Several replicas share PostgreSQL and Redis: limits that protect the business hold across
//! replicas, and a Redis outage degrades to per-replica limits instead of refusing service.

mod common;

use common::{Backend, TestApp};
use serde_json::json;

async fn scan(app: &TestApp, code: &str) -> common::Reply {
    app.post("/v1/stores/S1/pickups", Some(&app.staff("S1")), &json!({"code": code})).await
}

#[actix_web::test]
async fn replicas_share_the_wrong_code_limit_through_redis() {
    let prefix = format!("cc-test-{}:", uuid::Uuid::new_v4().simple());
    let settings = [("REDIS_KEY_PREFIX", prefix.as_str())];
    let Some(first) = TestApp::spawn_with(Backend::Postgres, &settings).await else { return };
    let Some(second) = TestApp::spawn_with(Backend::Postgres, &settings).await else { return };
    if first.state.redis.is_none() {
        return; // Redis is not running here, and this is not CI (which fails instead).
    }
    for app in [&first, &second] {
        app.put_location("S1", json!({})).await;
        assert_eq!(app.get("/ready", None).await.ok()["redis"], "ok");
    }
    // Ten wrong guesses, spread over the two replicas: five each.
    for guess in 0..10 {
        let app = if guess % 2 == 0 { &first } else { &second };
        scan(app, "WRONGCODE1").await.assert_problem(404, "not-found");
    }
    // Each replica saw only five, yet both know the store is over its limit.
    scan(&first, "WRONGCODE1").await.assert_problem(429, "rate-limited");
    let reply = scan(&second, "WRONGCODE1").await;
    reply.assert_problem(429, "rate-limited");
    let wait: u64 = reply.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=300).contains(&wait), "{wait}");
}

/// Nothing listens on port 1: Redis is "down".
async fn without_redis_the_limit_holds_per_replica_and_the_store_keeps_working(app: TestApp) {
    app.put_location("S1", json!({})).await;
    let ready = app.get("/ready", None).await;
    assert_eq!((ready.status, ready.body["redis"].as_str()), (200, Some("unreachable")));
    assert_eq!(ready.body["status"], "degraded");
    for _ in 0..10 {
        scan(&app, "WRONGCODE1").await.assert_problem(404, "not-found");
    }
    scan(&app, "WRONGCODE1").await.assert_problem(429, "rate-limited");
}

/// A replica that dies mid-attempt leaves its in-flight slot in Redis. The slot frees itself
/// after its time to live even while other attempts on the same key keep coming (a counter
/// whose expiry each attempt refreshed would keep it, and the key would lose a try for good).
#[actix_web::test]
async fn a_slot_left_by_a_dead_replica_frees_itself_while_the_key_stays_busy() {
    use clickcollect::throttle::{Blocked, Throttle};
    use std::time::{Duration, Instant};
    let Some(url) = common::redis_for_tests() else { return };
    let prefix = format!("cc-test-{}:", uuid::Uuid::new_v4().simple());
    let ttl = Duration::from_millis(400);
    let replica = |prefix: &str| {
        Throttle::new(
            "slots",
            2,
            Duration::from_secs(60),
            Some((clickcollect::db::redis::Redis::open(&url).unwrap(), prefix.into())),
        )
        .with_in_flight_ttl(ttl)
    };
    let (dead, alive) = (replica(&prefix), replica(&prefix));
    let abandoned = dead.acquire("S1").await.unwrap();
    drop(dead); // Never released: the replica is gone.
    let _ = abandoned;

    let held = alive.acquire("S1").await.unwrap();
    assert_eq!(alive.acquire("S1").await.unwrap_err(), Blocked::Busy, "the abandoned slot still counts");
    alive.release(held, false).await;
    // Right codes keep coming, more often than the time to live.
    let started = Instant::now();
    while started.elapsed() < ttl * 2 {
        let slot = alive.acquire("S1").await.expect("one slot is free");
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        alive.release(slot, false).await;
    }
    let first = alive.acquire("S1").await.unwrap();
    let second = alive.acquire("S1").await.expect("the abandoned slot has freed itself");
    assert_eq!(alive.acquire("S1").await.unwrap_err(), Blocked::Busy, "and the limit still holds");
    alive.release(first, false).await;
    alive.release(second, false).await;
}

on_both_backends!(redis_down with &[("REDIS_URL", "redis://127.0.0.1:1")]; without_redis_the_limit_holds_per_replica_and_the_store_keeps_working);
