//! Two real `clickcollect serve` processes on one PostgreSQL and one Redis, as replicas run:
//! racing holds through both never oversell, an order placed through one shows on a stream
//! opened on the other within a second, and the feed read through one has the changes made
//! through the other. Then Redis stops (a Redis of the test's own, so no other test loses
//! it): selling goes on, `/ready` says so, streams catch up from the change log, and when
//! Redis is back events ring across replicas again.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::sse;
use common::{Backend, TestApp};
use serde_json::{json, Value};

use common::{free_port, ServeProcess as Replica};

fn start_replica(app: &TestApp, redis_url: &str, prefix: &str) -> Replica {
    let env = [("REDIS_URL", redis_url), ("REDIS_KEY_PREFIX", prefix), ("WORKERS", "2"), ("DATABASE_POOL_SIZE", "6")];
    app.serve_process(&env)
}

/// A call to a replica: (status, body).
fn call(replica: &Replica, method: &str, path: &str, token: &str, body: Option<Value>) -> (u16, Value) {
    common::http_call(&common::http_agent(), method, &format!("{}{path}", replica.base), Some(token), body.as_ref())
}

fn hold(replica: &Replica, token: &str) -> u16 {
    call(
        replica,
        "POST",
        "/v1/reservations",
        token,
        Some(json!({"location": "S1", "lines": [{"sku": "A", "quantity": 1}]})),
    )
    .0
}

fn place(replica: &Replica, token: &str, customer: &str) -> (u16, Value) {
    call(replica, "POST", "/v1/orders", token, Some(common::pickup_order("S1", customer, "B", 1)))
}

/// A Redis server of this test's own, on a free port, which the test may stop and start.
struct OwnRedis {
    port: u16,
    child: Option<Child>,
}

impl OwnRedis {
    fn start(port: u16) -> OwnRedis {
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is installed (it runs on every machine of this project)");
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(started.elapsed() < Duration::from_secs(10), "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        OwnRedis { port, child: Some(child) }
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

fn ready_redis(replica: &Replica) -> String {
    let (_, body) = common::http_call(&common::http_agent(), "GET", &format!("{}/ready", replica.base), None, None);
    body["redis"].as_str().unwrap_or_default().to_string()
}

#[actix_web::test]
async fn two_replicas_share_stock_streams_and_the_feed_and_survive_redis_stopping() {
    let Some(app) = TestApp::spawn(Backend::Postgres).await else { return };
    if common::redis_for_tests().is_none() {
        return; // Redis is not installed or running here, and this is not CI.
    }
    app.stocked_store("S1", json!({}), "A", 10).await;
    app.put_product("B").await;
    app.count("S1", "B", 100).await;
    app.put("/v1/channels/web", Some(&app.admin()), &json!({"name": "Web", "buffer": 0, "locations": ["S1"]}))
        .await
        .ok();
    let mut redis = OwnRedis::start(free_port());
    let redis_url = format!("redis://127.0.0.1:{}", redis.port);
    let prefix = format!("cc-test-{}:", uuid::Uuid::new_v4().simple());
    let a = start_replica(&app, &redis_url, &prefix);
    let b = start_replica(&app, &redis_url, &prefix);

    // Forty shoppers race for ten units through both replicas: exactly ten holds.
    let outcomes: Vec<u16> = std::thread::scope(|scope| {
        let racers: Vec<_> = (0..40)
            .map(|i| {
                let (replica, token) = (if i % 2 == 0 { &a } else { &b }, app.customer(&format!("racer-{i}")));
                scope.spawn(move || hold(replica, &token))
            })
            .collect();
        racers.into_iter().map(|racer| racer.join().unwrap()).collect()
    });
    assert_eq!(outcomes.iter().filter(|s| **s == 201).count(), 10, "{outcomes:?}");
    assert!(outcomes.iter().all(|s| *s == 201 || *s == 409), "{outcomes:?}");
    let level = app.level("S1", "A").await;
    assert_eq!((level["reserved"].as_i64(), level["available"].as_i64()), (Some(10), Some(0)));

    // An order placed through A is on a stream opened on B within a second.
    let bearer = format!("Bearer {}", app.staff("S1"));
    let mut on_b = sse::open(&b.base, "/v1/stores/S1/events", &[("Authorization", &bearer)]).stream();
    let started = Instant::now();
    let (status, order) = place(&a, &app.customer("ann"), "ann");
    assert_eq!(status, 201, "{order}");
    let created = on_b.next(Duration::from_secs(5)).expect("the order reaches B");
    let lag = started.elapsed();
    assert_eq!(created.data["order_id"], order["id"]);
    assert!(lag < Duration::from_secs(1), "it took {lag:?}");

    // The feed read through B has what was done through A.
    let reader = app.integration(&["stock:read"]);
    let (_, head) = call(&b, "GET", "/v1/channels/web/availability", &reader, None);
    let cursor = head["feed_cursor"].as_str().unwrap().to_string();
    let admin = app.admin();
    assert_eq!(call(&a, "PUT", "/v1/stock/S1/B", &admin, Some(json!({"on_hand": 50}))).0, 200);
    let (_, page) = call(&b, "GET", &format!("/v1/channels/web/changes?after={cursor}&wait=5"), &reader, None);
    assert_eq!(page["items"], json!([{"sku": "B", "available": 49, "changed_at": page["items"][0]["changed_at"]}]));

    // Redis stops. Selling goes on, /ready tells, and B's stream still hears of A's orders
    // (from the change log, which the hub reads four times a second on its own).
    redis.stop();
    let (status, order) = place(&a, &app.customer("bob"), "bob");
    assert_eq!(status, 201, "orders go on without Redis: {order}");
    assert_eq!(hold(&b, &app.customer("late")), 409, "and stock is still the truth");
    let caught_up = on_b.next(Duration::from_secs(5)).expect("the order reaches B without Redis");
    assert_eq!(caught_up.data["order_id"], order["id"]);
    assert_eq!(ready_redis(&a), "unreachable");

    // Redis returns on the same address: both replicas find it again, and rings cross.
    let _redis = OwnRedis::start(redis.port);
    let started = Instant::now();
    while ready_redis(&a) != "ok" || ready_redis(&b) != "ok" {
        assert!(started.elapsed() < Duration::from_secs(15), "the replicas did not find Redis again");
        std::thread::sleep(Duration::from_millis(100));
    }
    // Give the subscriptions their reconnect (they retry every second).
    std::thread::sleep(Duration::from_millis(1500));
    let started = Instant::now();
    let (_, order) = place(&a, &app.customer("cy"), "cy");
    let back = on_b.next(Duration::from_secs(5)).expect("the order reaches B again");
    assert_eq!(back.data["order_id"], order["id"]);
    assert!(started.elapsed() < Duration::from_secs(1), "took {:?}", started.elapsed());

    // SIGTERM: B ends its streams at once and exits; it does not wait out the stop timeout.
    let mut b = b;
    let stopped = Instant::now();
    let signalled = Command::new("kill").arg("-TERM").arg(b.child.id().to_string()).status().unwrap();
    assert!(signalled.success());
    assert!(on_b.ends_within(Duration::from_secs(5)), "B's stream did not end");
    loop {
        if b.child.try_wait().unwrap().is_some() {
            break;
        }
        assert!(stopped.elapsed() < Duration::from_secs(8), "B did not exit");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(stopped.elapsed() < Duration::from_secs(8));
}
