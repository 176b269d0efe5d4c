//! Load benchmark: a flash sale and availability reads against the real server.
//!
//!     cargo bench --bench load                                   # SQLite (a temporary file)
//!     BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test cargo bench --bench load
//!
//! (a) Flash sale: `BENCH_CLIENTS` (default 200) concurrent clients, each on its own
//!     keep-alive connection, race to hold one unit at a time of one SKU at one store that has
//!     `BENCH_UNITS` (default 300) units, until each is told "sold out" (409). Reports holds
//!     per second, latency percentiles, and the oversell count, which must be zero.
//! (b) Availability reads: `BENCH_READERS` (default 64) clients read
//!     `GET /v1/availability/{sku}` for `BENCH_READ_SECONDS` (default 10) seconds; the same
//!     load on `GET /health` (no I/O) is the ceiling to compare with.
//!
//! (c) A store's nightly snapshot: `BENCH_SNAPSHOT_SKUS` (default 5000) counts in one request.
//! (d) Live lag: `BENCH_LAG_SAMPLES` (default 100) stock changes, 30 ms apart over 20 SKUs;
//!     for each, the time from sending the count until an availability event shows it on a
//!     server-sent event stream, and until a long-polling feed consumer gets it. With
//!     `BENCH_REDIS_URL` (PostgreSQL runs: the server then uses Redis, as in production) the
//!     raw Redis PUBLISH-to-subscriber round trip is measured beside it, as the floor.
//! (e) The feed during a flash sale: a second sale (`BENCH_CLIENTS` clients,
//!     `BENCH_FEED_UNITS` units, default 3000) while a consumer long-polls the channel's feed;
//!     the pages it read and whether it saw the sell-out when the last shopper did.
//!
//! The server runs in this process with `WORKERS` HTTP workers (default 2); the clients are
//! plain threads with blocking sockets, so client and server share the machine's cores. Rate
//! limits are off (the load generator is one address standing for many shoppers) unless
//! `BENCH_RATE_LIMITS=checked`, which sets them too high to refuse so each request pays for
//! its count.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use clickcollect::auth::{Claims, Keys, Role};
use clickcollect::config::Settings;
use clickcollect::db;
use clickcollect::state::AppState;
use diesel::connection::SimpleConnection;
use diesel::Connection;

const SECRET: &str = "benchmark-only-secret-0123456789-abcdefghij";

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// One keep-alive HTTP/1.1 connection, just enough client for this benchmark.
struct Client {
    addr: String,
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Client {
    fn connect(addr: &str) -> Client {
        let stream = TcpStream::connect(addr).expect("connect");
        stream.set_nodelay(true).ok();
        Client { addr: addr.to_string(), reader: BufReader::new(stream.try_clone().unwrap()), writer: stream }
    }

    /// Sends a request; a connection the server closed while it sat idle (past its keep-alive,
    /// as the set-up connection does during the read phases) is opened again once.
    fn send(&mut self, method: &str, path: &str, token: Option<&str>, body: Option<&str>) -> (u16, String) {
        let socket = self.reader.get_ref();
        socket.set_nonblocking(true).ok();
        // Nothing to read on an open idle connection (WouldBlock); end of stream on a closed one.
        let closed = matches!(socket.peek(&mut [0u8; 1]), Ok(0));
        socket.set_nonblocking(false).ok();
        if closed && self.reader.buffer().is_empty() {
            *self = Client::connect(&self.addr);
        }
        self.send_once(method, path, token, body)
    }

    fn send_once(&mut self, method: &str, path: &str, token: Option<&str>, body: Option<&str>) -> (u16, String) {
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: bench\r\n");
        if let Some(token) = token {
            head.push_str(&format!("Authorization: Bearer {token}\r\n"));
        }
        let body = body.unwrap_or("");
        if !body.is_empty() {
            head.push_str(&format!("Content-Type: application/json\r\nContent-Length: {}\r\n", body.len()));
        }
        head.push_str("\r\n");
        head.push_str(body);
        self.writer.write_all(head.as_bytes()).expect("write");
        let mut line = String::new();
        self.reader.read_line(&mut line).expect("status line");
        let status: u16 = line.split_whitespace().nth(1).and_then(|s| s.parse().ok()).expect("a status");
        let mut length = 0usize;
        loop {
            line.clear();
            self.reader.read_line(&mut line).expect("header");
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut body = vec![0u8; length];
        self.reader.read_exact(&mut body).expect("body");
        (status, String::from_utf8_lossy(&body).into_owned())
    }
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index].as_secs_f64() * 1000.0
}

fn summary(mut latencies: Vec<Duration>) -> String {
    latencies.sort();
    format!(
        "p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.95),
        percentile(&latencies, 0.99),
        percentile(&latencies, 1.0)
    )
}

struct Target {
    url: String,
    cleanup: Box<dyn FnOnce()>,
}

fn target() -> Target {
    match std::env::var("BENCH_POSTGRES_URL") {
        Ok(admin_url) => {
            let name = format!("cc_bench_{}", uuid::Uuid::new_v4().simple());
            let mut admin = diesel::PgConnection::establish(&admin_url).expect("PostgreSQL for the benchmark");
            admin.batch_execute(&format!("CREATE DATABASE \"{name}\"")).unwrap();
            let url = format!("{}/{name}", admin_url.rsplit_once('/').unwrap().0);
            let cleanup = Box::new(move || {
                let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"));
            });
            Target { url, cleanup }
        }
        Err(_) => {
            let path = std::env::temp_dir().join(format!("clickcollect-bench-{}.db", uuid::Uuid::new_v4()));
            let url = format!("sqlite://{}", path.display());
            let cleanup = Box::new(move || {
                for suffix in ["", "-wal", "-shm"] {
                    let mut p = path.as_os_str().to_owned();
                    p.push(suffix);
                    let _ = std::fs::remove_file(p);
                }
            });
            Target { url, cleanup }
        }
    }
}

fn main() {
    // `cargo bench` passes `--bench`; there is nothing to filter.
    let clients = env_number("BENCH_CLIENTS", 200);
    let units = env_number("BENCH_UNITS", 300) as i64;
    let readers = env_number("BENCH_READERS", 64);
    let read_seconds = env_number("BENCH_READ_SECONDS", 10) as u64;
    let workers = env_number("WORKERS", 2);

    let target = target();
    let mut vars: HashMap<String, String> = HashMap::new();
    vars.insert("DATABASE_URL".into(), target.url.clone());
    vars.insert("JWT_SECRET".into(), SECRET.into());
    vars.insert("WORKERS".into(), workers.to_string());
    // A client stands for a stream of shoppers, holding one unit after another: the limits
    // per customer (which would stop it at its fifth open hold) are off, or, with
    // BENCH_LIMITS=checked, set too high to refuse, so each hold still pays for the check.
    let limit = if std::env::var("BENCH_LIMITS").as_deref() == Ok("checked") { "10000" } else { "0" };
    for name in ["LIMIT_OPEN_HOLDS_PER_CUSTOMER", "LIMIT_OPEN_ORDERS_PER_CUSTOMER", "LIMIT_UNITS_PER_SKU_PER_CUSTOMER"]
    {
        vars.insert(name.into(), limit.into());
    }
    vars.insert("RATE_LIMIT_PER_MINUTE".into(), "0".into());
    vars.insert("STREAMS_PER_ADDRESS".into(), "10000".into());
    vars.insert("RATE_LIMIT_ANONYMOUS_PER_MINUTE".into(), "0".into());
    let redis_url = std::env::var("BENCH_REDIS_URL").ok().filter(|_| target.url.starts_with("postgres"));
    if let Some(url) = &redis_url {
        vars.insert("REDIS_URL".into(), url.clone());
        vars.insert("REDIS_KEY_PREFIX".into(), format!("cc-bench-{}:", std::process::id()));
    }
    let settings = Settings::from_vars(&vars).expect("settings");
    let backend = settings.database.backend_name();
    let pool = db::connect_pool(&settings.database, settings.pool_size).expect("database");
    let keys = Keys::from_settings(&settings).unwrap();
    let mint = Keys::from_settings(&settings).unwrap();
    let seed_pool = pool.clone();
    let state = AppState::new(pool, settings, keys).expect("settings build");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            clickcollect::run_server(listener, state).unwrap().await.unwrap();
        })
    });
    std::thread::sleep(Duration::from_millis(300));

    let token = |role: Role, sub: &str| {
        mint.mint(&Claims {
            sub: sub.into(),
            role,
            store: None,
            scopes: vec![],
            exp: chrono::Utc::now().timestamp() + 3600,
            iat: None,
            iss: None,
            aud: None,
            nbf: None,
        })
        .unwrap()
    };
    let admin = token(Role::Admin, "bench");
    let mut setup = Client::connect(&addr);
    let store = r#"{"name":"Flagship","kind":"store","timezone":"Europe/Warsaw","latitude":52.23,"longitude":21.01,
        "pickup":{"in_store":true,"curbside":true},"pickup_hold_days":2,"fulfils_online":true,"active":true}"#;
    assert_eq!(setup.send("PUT", "/v1/locations/FLAG", Some(&admin), Some(store)).0, 201);
    let product = r#"{"name":"Limited sneaker","price":{"amount_minor":19999,"currency":"EUR"}}"#;
    assert_eq!(setup.send("PUT", "/v1/products/DROP-1", Some(&admin), Some(product)).0, 201);
    let count = format!(r#"{{"on_hand":{units}}}"#);
    assert_eq!(setup.send("PUT", "/v1/stock/FLAG/DROP-1", Some(&admin), Some(&count)).0, 200);

    println!(
        "clickcollect load benchmark: backend {backend}, {workers} HTTP workers, {} CPUs",
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0)
    );

    // (a) The flash sale.
    let barrier = Arc::new(Barrier::new(clients + 1));
    let hold_body = r#"{"location":"FLAG","lines":[{"sku":"DROP-1","quantity":1}]}"#;
    let handles: Vec<_> = (0..clients)
        .map(|i| {
            let (addr, barrier, token) = (addr.clone(), barrier.clone(), token(Role::Customer, &format!("fan-{i}")));
            std::thread::spawn(move || {
                let mut client = Client::connect(&addr);
                let (mut held, mut errors, mut latencies) = (0i64, 0usize, Vec::new());
                barrier.wait();
                loop {
                    let started = Instant::now();
                    let (status, _) = client.send("POST", "/v1/reservations", Some(&token), Some(hold_body));
                    latencies.push(started.elapsed());
                    match status {
                        201 => held += 1,
                        409 => break,
                        _ => {
                            errors += 1;
                            if errors > 100 {
                                break;
                            }
                        }
                    }
                }
                (held, errors, latencies)
            })
        })
        .collect();
    barrier.wait();
    let started = Instant::now();
    let (mut held, mut errors, mut latencies) = (0i64, 0usize, Vec::new());
    for handle in handles {
        let (h, e, l) = handle.join().unwrap();
        held += h;
        errors += e;
        latencies.extend(l);
    }
    let elapsed = started.elapsed().as_secs_f64();
    let (_, level) = setup.send("GET", "/v1/stock/FLAG/DROP-1", Some(&admin), None);
    let level: serde_json::Value = serde_json::from_str(&level).unwrap();
    let reserved = level["reserved"].as_i64().unwrap();
    let oversell = (reserved - units).max(0) + (held - units).max(0);
    println!(
        "flash sale: {clients} clients, {units} units: {held} holds in {elapsed:.2} s = {:.0} holds/s; {} requests, {errors} errors; {}",
        held as f64 / elapsed,
        latencies.len(),
        summary(latencies)
    );
    println!("flash sale: reserved {reserved} of {units}; oversell {oversell}");
    assert_eq!(oversell, 0, "oversold");
    assert_eq!(reserved, held, "every successful hold is reserved, and nothing else");

    // (b) Reads: availability, and /health as the no-I/O ceiling.
    for (label, path) in [("availability", "/v1/availability/DROP-1"), ("health (no I/O)", "/health")] {
        let deadline = Instant::now() + Duration::from_secs(read_seconds);
        let handles: Vec<_> = (0..readers)
            .map(|_| {
                let addr = addr.clone();
                std::thread::spawn(move || {
                    let mut client = Client::connect(&addr);
                    let mut latencies = Vec::new();
                    while Instant::now() < deadline {
                        let started = Instant::now();
                        let (status, _) = client.send("GET", path, None, None);
                        assert_eq!(status, 200);
                        latencies.push(started.elapsed());
                    }
                    latencies
                })
            })
            .collect();
        let latencies: Vec<Duration> = handles.into_iter().flat_map(|h| h.join().unwrap()).collect();
        println!(
            "{label}: {readers} clients for {read_seconds} s: {:.0} reads/s; {}",
            latencies.len() as f64 / read_seconds as f64,
            summary(latencies)
        );
    }
    // (c) A store's nightly snapshot from its POS: many SKUs, every count changed.
    let skus = env_number("BENCH_SNAPSHOT_SKUS", 5_000);
    {
        use clickcollect::db::schema::products;
        use diesel::prelude::*;
        let now = chrono::Utc::now().naive_utc();
        let mut conn = seed_pool.get().unwrap();
        clickcollect::db::write_tx(&mut conn, |conn| {
            for n in 0..skus {
                diesel::insert_into(products::table)
                    .values((
                        products::sku.eq(format!("SNAP-{n:06}")),
                        products::name.eq("bulk"),
                        products::price_amount_minor.eq(100i64),
                        products::price_currency.eq("EUR"),
                        products::created_at.eq(now),
                        products::updated_at.eq(now),
                    ))
                    .execute(conn)?;
            }
            Ok(())
        })
        .unwrap();
    }
    for (round, label) in [(1, "first count (levels created)"), (2, "recount (every level changed)")] {
        let items: Vec<String> =
            (0..skus).map(|n| format!(r#"{{"sku":"SNAP-{n:06}","on_hand":{}}}"#, n % 50 + round)).collect();
        let body = format!(r#"{{"items":[{}]}}"#, items.join(","));
        let started = Instant::now();
        let (status, answer) = setup.send("POST", "/v1/stock/FLAG/snapshot", Some(&admin), Some(&body));
        let elapsed = started.elapsed();
        assert_eq!(status, 200, "{answer}");
        let answer: serde_json::Value = serde_json::from_str(&answer).unwrap();
        assert_eq!(answer["changed"].as_u64(), Some(skus as u64), "{answer}");
        println!(
            "snapshot, {label}: {skus} SKUs in {:.0} ms = {:.0} SKUs/s",
            elapsed.as_secs_f64() * 1000.0,
            skus as f64 / elapsed.as_secs_f64()
        );
    }
    live_lag(&addr, &admin, redis_url.as_deref());
    feed_during_a_sale(&addr, &admin, clients, env_number("BENCH_FEED_UNITS", 3_000) as i64, &token);
    (target.cleanup)();
}

/// Splits a server-sent event stream into (arrival time, `data:` JSON) as events come.
fn follow_events(addr: &str, path: &str, seen: std::sync::mpsc::Sender<(Instant, serde_json::Value)>) {
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: bench\r\nAccept: text/event-stream\r\n\r\n").unwrap();
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    // The chunked framing's size lines are not `data:` lines, so reading lines is enough.
    while reader.read_line(&mut line).map(|n| n > 0).unwrap_or(false) {
        if let Some(data) = line.trim_end().strip_prefix("data: ") {
            if let Ok(data) = serde_json::from_str(data) {
                if seen.send((Instant::now(), data)).is_err() {
                    return;
                }
            }
        }
        line.clear();
    }
}

fn millis(latencies: &mut [Duration]) -> String {
    latencies.sort();
    format!("p50 {:.2} ms, p99 {:.2} ms", percentile(latencies, 0.50), percentile(latencies, 0.99))
}

/// (d) From a committed count to an SSE client and to a feed consumer; the Redis floor.
fn live_lag(addr: &str, admin: &str, redis_url: Option<&str>) {
    let samples = env_number("BENCH_LAG_SAMPLES", 100);
    let mut setup = Client::connect(addr);
    let channel = r#"{"name":"Bench","buffer":0,"locations":["FLAG"]}"#;
    assert!(matches!(setup.send("PUT", "/v1/channels/bench", Some(admin), Some(channel)).0, 200 | 201));
    // Twenty SKUs in turn, 30 ms apart: each changes every 600 ms, more than the streams'
    // coalescing interval, so every change is an event of its own.
    let skus: Vec<String> = (0..20).map(|n| format!("LAG-{n}")).collect();
    for sku in &skus {
        let product = r#"{"name":"Lag probe","price":{"amount_minor":100,"currency":"EUR"}}"#;
        assert_eq!(setup.send("PUT", &format!("/v1/products/{sku}"), Some(admin), Some(product)).0, 201);
        assert_eq!(setup.send("PUT", &format!("/v1/stock/FLAG/{sku}"), Some(admin), Some(r#"{"on_hand":1}"#)).0, 200);
    }
    let (events_tx, events) = std::sync::mpsc::channel();
    for sku in &skus {
        let (addr, path, events_tx) = (addr.to_string(), format!("/v1/availability/{sku}/events"), events_tx.clone());
        std::thread::spawn(move || follow_events(&addr, &path, events_tx));
    }
    let (_, head) = setup.send("GET", "/v1/channels/bench/availability?limit=1", Some(admin), None);
    let mut cursor =
        serde_json::from_str::<serde_json::Value>(&head).unwrap()["feed_cursor"].as_str().unwrap().to_string();
    let (feed_tx, feed) = std::sync::mpsc::channel::<(Instant, String, i64)>();
    let feed_stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let consumer = {
        let (addr, admin, stop) = (addr.to_string(), admin.to_string(), feed_stop.clone());
        std::thread::spawn(move || {
            let mut client = Client::connect(&addr);
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let path = format!("/v1/channels/bench/changes?after={cursor}&wait=2&limit=1000");
                let (status, page) = client.send("GET", &path, Some(&admin), None);
                assert_eq!(status, 200, "{page}");
                let page: serde_json::Value = serde_json::from_str(&page).unwrap();
                let now = Instant::now();
                for item in page["items"].as_array().unwrap() {
                    let _ = feed_tx.send((
                        now,
                        item["sku"].as_str().unwrap().to_string(),
                        item["available"].as_i64().unwrap(),
                    ));
                }
                cursor = page["cursor"].as_str().unwrap().to_string();
            }
        })
    };
    std::thread::sleep(Duration::from_millis(500));
    while events.try_recv().is_ok() {} // the streams' opening events
    let mut sent: Vec<(String, i64, Instant)> = Vec::new();
    let mut writes = Vec::new();
    for i in 0..samples {
        let sku = &skus[i % skus.len()];
        let on_hand = 1000 + i as i64;
        let started = Instant::now();
        let body = format!(r#"{{"on_hand":{on_hand}}}"#);
        assert_eq!(setup.send("PUT", &format!("/v1/stock/FLAG/{sku}"), Some(admin), Some(&body)).0, 200);
        writes.push(started.elapsed());
        sent.push((sku.clone(), on_hand, started));
        std::thread::sleep(Duration::from_millis(30));
    }
    std::thread::sleep(Duration::from_millis(1500));
    feed_stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let arrivals: Vec<(Instant, serde_json::Value)> = events.try_iter().collect();
    let fed: Vec<(Instant, String, i64)> = feed.try_iter().collect();
    let (mut to_stream, mut to_feed) = (Vec::new(), Vec::new());
    for (sku, on_hand, started) in &sent {
        let shown = |data: &serde_json::Value| data["sku"] == sku.as_str() && data["online"]["available"] == *on_hand;
        if let Some((at, _)) = arrivals.iter().find(|(_, data)| shown(data)) {
            to_stream.push(at.saturating_duration_since(*started));
        }
        if let Some((at, _, _)) = fed.iter().find(|(_, s, available)| s == sku && available == on_hand) {
            to_feed.push(at.saturating_duration_since(*started));
        }
    }
    println!(
        "live lag, count sent to event seen ({} of {samples} changes seen): SSE {}; feed long poll ({} seen) {}; the count's own answer {}",
        to_stream.len(),
        millis(&mut to_stream),
        to_feed.len(),
        millis(&mut to_feed),
        millis(&mut writes)
    );
    let _ = consumer.join();
    if let Some(url) = redis_url {
        let mut floor = redis_round_trips(url, samples);
        println!("redis floor, PUBLISH to subscriber, {samples} messages: {}", millis(&mut floor));
    }
}

/// The raw Redis publish-to-subscribe round trip on the same machine.
fn redis_round_trips(url: &str, samples: usize) -> Vec<Duration> {
    let client = redis::Client::open(url).unwrap();
    let channel = format!("cc-bench-floor-{}", std::process::id());
    let (ready_tx, ready) = std::sync::mpsc::channel();
    let (got_tx, got) = std::sync::mpsc::channel();
    let listener = {
        let (client, channel) = (client.clone(), channel.clone());
        std::thread::spawn(move || {
            let mut connection = client.get_connection().unwrap();
            let mut pubsub = connection.as_pubsub();
            pubsub.subscribe(&channel).unwrap();
            ready_tx.send(()).unwrap();
            for _ in 0..samples {
                let _ = pubsub.get_message().unwrap();
                got_tx.send(Instant::now()).unwrap();
            }
        })
    };
    ready.recv().unwrap();
    let mut publisher = client.get_connection().unwrap();
    let mut trips = Vec::new();
    for _ in 0..samples {
        let started = Instant::now();
        redis::cmd("PUBLISH").arg(&channel).arg("x").query::<i64>(&mut publisher).unwrap();
        trips.push(got.recv().unwrap().saturating_duration_since(started));
    }
    listener.join().unwrap();
    trips
}

/// (e) A consumer follows the feed while a second flash sale runs on another SKU.
fn feed_during_a_sale(addr: &str, admin: &str, clients: usize, units: i64, token: &dyn Fn(Role, &str) -> String) {
    let mut setup = Client::connect(addr);
    let product = r#"{"name":"Second drop","price":{"amount_minor":100,"currency":"EUR"}}"#;
    assert_eq!(setup.send("PUT", "/v1/products/DROP-2", Some(admin), Some(product)).0, 201);
    let (_, head) = setup.send("GET", "/v1/channels/bench/availability?limit=1", Some(admin), None);
    let cursor = serde_json::from_str::<serde_json::Value>(&head).unwrap()["feed_cursor"].as_str().unwrap().to_string();
    let count = format!(r#"{{"on_hand":{units}}}"#);
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let consumer = {
        let (addr, admin, stop) = (addr.to_string(), admin.to_string(), stop.clone());
        std::thread::spawn(move || {
            let mut client = Client::connect(&addr);
            let (mut cursor, mut pages, mut items, mut last_seen) = (cursor, 0usize, 0usize, None);
            let mut quiet_after_stop = 0;
            loop {
                let path = format!("/v1/channels/bench/changes?after={cursor}&limit=1000&wait=1");
                let (status, page) = client.send("GET", &path, Some(&admin), None);
                assert_eq!(status, 200, "{page}");
                let page: serde_json::Value = serde_json::from_str(&page).unwrap();
                let fresh = page["items"].as_array().unwrap();
                pages += 1;
                items += fresh.len();
                for item in fresh {
                    if item["sku"] == "DROP-2" {
                        last_seen = Some((Instant::now(), item["available"].as_i64().unwrap()));
                    }
                }
                cursor = page["cursor"].as_str().unwrap().to_string();
                if stop.load(std::sync::atomic::Ordering::Relaxed) {
                    quiet_after_stop += usize::from(fresh.is_empty());
                    if quiet_after_stop > 0 {
                        return (pages, items, last_seen);
                    }
                }
            }
        })
    };
    let barrier = Arc::new(Barrier::new(clients + 1));
    assert_eq!(setup.send("PUT", "/v1/stock/FLAG/DROP-2", Some(admin), Some(&count)).0, 200);
    let hold_body = r#"{"location":"FLAG","lines":[{"sku":"DROP-2","quantity":1}]}"#;
    let shoppers: Vec<_> = (0..clients)
        .map(|i| {
            let (addr, barrier, token) =
                (addr.to_string(), barrier.clone(), token(Role::Customer, &format!("second-{i}")));
            std::thread::spawn(move || {
                let mut client = Client::connect(&addr);
                barrier.wait();
                let mut held = 0;
                while client.send("POST", "/v1/reservations", Some(&token), Some(hold_body)).0 == 201 {
                    held += 1;
                }
                held
            })
        })
        .collect();
    barrier.wait();
    let started = Instant::now();
    let held: i64 = shoppers.into_iter().map(|s| s.join().unwrap()).sum();
    let sale = started.elapsed();
    let sold_out_at = Instant::now();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (pages, items, last_seen) = consumer.join().unwrap();
    let behind = match last_seen {
        Some((at, 0)) if at <= sold_out_at => "before the last shopper's answer".to_string(),
        Some((at, 0)) => format!("{:.0} ms after the last hold", at.duration_since(sold_out_at).as_secs_f64() * 1000.0),
        Some((_, available)) => format!("never saw zero (last {available})"),
        None => "saw nothing".into(),
    };
    println!(
        "feed during a flash sale: {held} holds in {:.2} s ({:.0} holds/s); the consumer read {pages} pages, {items} coalesced items ({:.0} pages/s); it saw the sell-out {behind}",
        sale.as_secs_f64(),
        held as f64 / sale.as_secs_f64(),
        pages as f64 / sale.as_secs_f64(),
    );
}
