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
//! The server runs in this process with `WORKERS` HTTP workers (default 2); the clients are
//! plain threads with blocking sockets, so client and server share the machine's cores.

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
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Client {
    fn connect(addr: &str) -> Client {
        let stream = TcpStream::connect(addr).expect("connect");
        stream.set_nodelay(true).ok();
        Client { reader: BufReader::new(stream.try_clone().unwrap()), writer: stream }
    }

    fn send(&mut self, method: &str, path: &str, token: Option<&str>, body: Option<&str>) -> (u16, String) {
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
    (target.cleanup)();
}
