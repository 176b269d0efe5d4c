//! Test harness: the real app (`build_app`) on a database of its own, SQLite or PostgreSQL,
//! driven through HTTP requests in process. `on_both_backends!` runs a test on each.
#![allow(dead_code)]

pub mod notify;
pub mod receiver;
pub mod smtp;
pub mod sse;

use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Mutex;

use actix_web::body::BoxBody;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::header::HeaderMap;
use actix_web::http::Method;
use actix_web::test;
use clickcollect::auth::{Claims, Keys, Role};
use clickcollect::config::Settings;
use clickcollect::db::{self, DbConn, PooledConn};
use clickcollect::state::AppState;
use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection, RunQueryDsl};
use futures_util::future::LocalBoxFuture;
use serde_json::{json, Value};

pub const JWT_SECRET: &str = "test-only-secret-0123456789-abcdefghijklmnop";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs each named `async fn name(app: TestApp)` once per backend, each on a fresh app:
/// `on_both_backends!(a, b)`. With settings of their own, in a group named for them:
/// `on_both_backends!(webhooks with &[("WEBHOOK_SECRET", SECRET)]; c, d)`. A file may hold
/// one plain call and any number of groups.
#[macro_export]
macro_rules! on_both_backends {
    ($group:ident with $settings:expr; $($name:ident),* $(,)?) => {
        mod $group {
            #[allow(unused_imports)]
            use super::*;
            $crate::on_both_backends!(@backends [$settings] $($name),*);
        }
    };
    (@backends [$settings:expr] $($name:ident),*) => {
        $crate::on_both_backends!(@backend sqlite Sqlite [$settings] $($name),*);
        $crate::on_both_backends!(@backend postgres Postgres [$settings] $($name),*);
    };
    (@backend $module:ident $backend:ident [$settings:expr] $($name:ident),*) => {
        mod $module {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[actix_web::test]
                async fn $name() {
                    let backend = $crate::common::Backend::$backend;
                    if let Some(app) = $crate::common::TestApp::spawn_with(backend, $settings).await {
                        super::$name(app).await;
                    }
                }
            )*
        }
    };
    ($($name:ident),* $(,)?) => {
        $crate::on_both_backends!(@backends [&[]] $($name),*);
    };
}

/// Runs each named `async fn name(backend: Backend)` once per backend: for tests that start
/// servers of their own first (a provider, a receiver) and spawn their app with its address.
#[macro_export]
macro_rules! on_each_backend {
    ($($name:ident),* $(,)?) => {
        mod each_backend {
            $crate::on_each_backend!(@backend sqlite Sqlite $($name),*);
            $crate::on_each_backend!(@backend postgres Postgres $($name),*);
        }
    };
    (@backend $module:ident $backend:ident $($name:ident),*) => {
        mod $module {
            $(
                #[actix_web::test]
                async fn $name() {
                    super::super::$name($crate::common::Backend::$backend).await
                }
            )*
        }
    };
}

type Call =
    Rc<dyn Fn(actix_http::Request) -> LocalBoxFuture<'static, Result<ServiceResponse<BoxBody>, actix_web::Error>>>;

pub struct TestApp {
    pub backend: Backend,
    pub state: AppState,
    call: Call,
    keys: Keys,
    database: TestDatabase,
}

/// A response, with the body parsed as JSON when it is JSON.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts a problem+json answer with this status and problem type slug.
    #[track_caller]
    pub fn assert_problem(&self, status: u16, slug: &str) -> &Self {
        assert_eq!(self.status, status, "unexpected status; body: {}", self.text);
        assert_eq!(self.header("content-type"), Some("application/problem+json"), "body: {}", self.text);
        assert_eq!(self.body["type"], format!("https://clickcollect.dev/problems/{slug}"), "body: {}", self.text);
        assert_eq!(self.body["status"], status);
        assert!(self.body["title"].is_string() && self.body["detail"].is_string());
        self
    }

    /// The `field`s of a validation problem.
    pub fn error_fields(&self) -> Vec<String> {
        self.body["errors"]
            .as_array()
            .map(|errors| errors.iter().filter_map(|e| e["field"].as_str().map(String::from)).collect())
            .unwrap_or_default()
    }

    #[track_caller]
    pub fn ok(&self) -> &Value {
        assert!((200..300).contains(&self.status), "expected success, got {}: {}", self.status, self.text);
        &self.body
    }
}

pub struct RequestBuilder<'a> {
    app: &'a TestApp,
    request: test::TestRequest,
}

impl RequestBuilder<'_> {
    pub fn bearer(mut self, token: &str) -> Self {
        self.request = self.request.insert_header(("Authorization", format!("Bearer {token}")));
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.request = self.request.insert_header((name.to_string(), value.to_string()));
        self
    }

    pub fn json(mut self, body: &Value) -> Self {
        self.request = self.request.set_json(body);
        self
    }

    pub fn raw(mut self, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        let body: Vec<u8> = body.into();
        self.request = self
            .request
            .insert_header(("content-type", content_type.to_string()))
            .insert_header(("content-length", body.len().to_string()))
            .set_payload(body);
        self
    }

    pub async fn send(self) -> Reply {
        let response = (self.app.call)(self.request.to_request()).await.expect("the service answered");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = test::read_body(response).await;
        let text = String::from_utf8_lossy(&bytes).to_string();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Reply { status, headers, body, text }
    }
}

impl TestApp {
    /// A fresh app on a database of its own. `None` means "skip": PostgreSQL is not reachable
    /// and this is not CI (in CI a missing service fails the test instead).
    pub async fn spawn(backend: Backend) -> Option<TestApp> {
        Self::spawn_with(backend, &[]).await
    }

    pub async fn spawn_with(backend: Backend, extra: &[(&str, &str)]) -> Option<TestApp> {
        let database = match backend {
            Backend::Sqlite => TestDatabase::sqlite(),
            Backend::Postgres => TestDatabase::postgres()?,
        };
        let mut vars: HashMap<String, String> = HashMap::new();
        // PostgreSQL runs with Redis, as in production; each test keeps its own keys.
        if backend == Backend::Postgres {
            if let Some(url) = redis_for_tests() {
                vars.insert("REDIS_URL".into(), url);
                vars.insert("REDIS_KEY_PREFIX".into(), format!("cc-test-{}:", uuid::Uuid::new_v4().simple()));
            }
        }
        vars.insert("DATABASE_URL".into(), database.url.clone());
        vars.insert("JWT_SECRET".into(), JWT_SECRET.into());
        vars.insert("DATABASE_POOL_SIZE".into(), "8".into());
        // The providers and receivers of the tests listen on 127.0.0.1.
        vars.insert("NOTIFY_PRIVATE_TARGETS".into(), "allow".into());
        for (k, v) in extra {
            vars.insert(k.to_string(), v.to_string());
        }
        let settings = Settings::from_vars(&vars).expect("test settings are valid");
        let keys = Keys::from_settings(&settings).expect("keys");
        let app_keys = Keys::from_settings(&settings).expect("keys");
        let pool = db::connect_pool(&settings.database, settings.pool_size).expect("database");
        let state = AppState::new(pool, settings, app_keys).expect("test settings build their channels");
        let service =
            Rc::new(test::init_service(clickcollect::build_app(actix_web::web::Data::new(state.clone()))).await);
        let call: Call = Rc::new(move |request| {
            let service = service.clone();
            Box::pin(async move { service.call(request).await.map(|r| r.map_into_boxed_body()) })
        });
        Some(TestApp { backend, state, call, keys, database })
    }

    /// The same app on a real port, served by its own actix system on a thread, for clients
    /// that speak HTTP over a socket; returns the base URL. It serves until the test process
    /// ends.
    pub fn serve(&self) -> String {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
        let base = format!("http://{}", listener.local_addr().unwrap());
        let state = self.state.clone();
        std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                clickcollect::run_server(listener, state).expect("the server starts").await.expect("the server runs");
            })
        });
        let agent = http_agent();
        for _ in 0..100 {
            if agent.get(format!("{base}/health")).call().is_ok_and(|r| r.status() == 200) {
                return base;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        panic!("the server at {base} did not answer");
    }

    /// The database this app runs on, for a child process to share.
    pub fn database_url(&self) -> &str {
        &self.database.url
    }

    pub fn request(&self, method: Method, path: &str) -> RequestBuilder<'_> {
        RequestBuilder { app: self, request: test::TestRequest::default().method(method).uri(path) }
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        let mut r = self.request(Method::GET, path);
        if let Some(t) = token {
            r = r.bearer(t);
        }
        r.send().await
    }

    pub async fn put(&self, path: &str, token: Option<&str>, body: &Value) -> Reply {
        let mut r = self.request(Method::PUT, path).json(body);
        if let Some(t) = token {
            r = r.bearer(t);
        }
        r.send().await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: &Value) -> Reply {
        let mut r = self.request(Method::POST, path).json(body);
        if let Some(t) = token {
            r = r.bearer(t);
        }
        r.send().await
    }

    pub fn token(&self, role: Role, sub: &str, store: Option<&str>, scopes: &[&str]) -> String {
        let claims = Claims {
            sub: sub.into(),
            role,
            store: store.map(String::from),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            exp: chrono::Utc::now().timestamp() + 600,
            iat: None,
            // Configured issuer and audience are required claims: minted tokens carry them.
            iss: self.state.settings.jwt.issuer.clone(),
            aud: self.state.settings.jwt.audience.clone().map(clickcollect::auth::Audience::One),
            nbf: None,
        };
        self.keys.mint(&claims).expect("mint")
    }

    pub fn admin(&self) -> String {
        self.token(Role::Admin, "root", None, &[])
    }

    pub fn staff(&self, store: &str) -> String {
        self.token(Role::Staff, &format!("clerk-{store}"), Some(store), &[])
    }

    pub fn customer(&self, id: &str) -> String {
        self.token(Role::Customer, id, None, &[])
    }

    pub fn integration(&self, scopes: &[&str]) -> String {
        self.token(Role::Integration, "erp", None, scopes)
    }

    /// Removes the test's PostgreSQL database under the running app, to test failure modes.
    pub fn drop_database(&self) {
        if let Cleanup::Postgres { admin_url, name } = &self.database.cleanup {
            let mut admin = PgConnection::establish(admin_url).expect("admin connection");
            admin.batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).expect("drop");
        }
    }

    pub fn conn(&self) -> PooledConn {
        self.state.pool.get().expect("a connection")
    }

    /// A store with sensible defaults; `fields` override them.
    pub async fn put_location(&self, code: &str, fields: Value) -> Value {
        let mut body = json!({
            "name": format!("Store {code}"),
            "kind": "store",
            "timezone": "Europe/Warsaw",
            "latitude": 52.2297,
            "longitude": 21.0122,
            "pickup": {"in_store": true, "curbside": true},
            "pickup_hold_days": 3,
            "fulfils_online": true,
            "active": true
        });
        for (k, v) in fields.as_object().cloned().unwrap_or_default() {
            body[k] = v;
        }
        let reply = self.put(&format!("/v1/locations/{code}"), Some(&self.admin()), &body).await;
        reply.ok().clone()
    }

    pub async fn put_product(&self, sku: &str) -> Value {
        let body = json!({"name": format!("Product {sku}"), "price": {"amount_minor": 1999, "currency": "EUR"}});
        self.put(&format!("/v1/products/{sku}"), Some(&self.admin()), &body).await.ok().clone()
    }

    pub async fn count(&self, location: &str, sku: &str, on_hand: i64) -> Value {
        let body = json!({"on_hand": on_hand});
        self.put(&format!("/v1/stock/{location}/{sku}"), Some(&self.admin()), &body).await.ok().clone()
    }

    /// A store (`fields` override the defaults) selling one product with `on_hand` counted.
    pub async fn stocked_store(&self, code: &str, fields: Value, sku: &str, on_hand: i64) {
        self.put_location(code, fields).await;
        self.put_product(sku).await;
        self.count(code, sku, on_hand).await;
    }

    pub async fn level(&self, location: &str, sku: &str) -> Value {
        self.get(&format!("/v1/stock/{location}/{sku}"), Some(&self.admin())).await.ok().clone()
    }

    /// Every movement of a level, following cursors, oldest last.
    pub async fn movements(&self, location: &str, sku: &str) -> Vec<Value> {
        let mut all = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut path = format!("/v1/stock/{location}/{sku}/movements?limit=500");
            if let Some(c) = &cursor {
                path.push_str(&format!("&cursor={c}"));
            }
            let page = self.get(&path, Some(&self.admin())).await;
            let body = page.ok();
            all.extend(body["items"].as_array().unwrap().iter().cloned());
            match body["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => return all,
            }
        }
    }

    /// Asserts the ledger promise for one level: movements add up to on_hand and reserved.
    pub async fn assert_ledger_balances(&self, location: &str, sku: &str) {
        let level = self.level(location, sku).await;
        let movements = self.movements(location, sku).await;
        let on_hand: i64 = movements.iter().map(|m| m["delta_on_hand"].as_i64().unwrap()).sum();
        let reserved: i64 = movements.iter().map(|m| m["delta_reserved"].as_i64().unwrap()).sum();
        assert_eq!(level["on_hand"].as_i64().unwrap(), on_hand, "ledger on_hand of {location}/{sku}");
        assert_eq!(level["reserved"].as_i64().unwrap(), reserved, "ledger reserved of {location}/{sku}");
    }
}

/// A port nobody listens on now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A real `clickcollect serve` process, as production runs it; killed when dropped.
pub struct ServeProcess {
    pub base: String,
    pub child: std::process::Child,
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl TestApp {
    /// Starts `clickcollect serve` on this app's database and a free port, with `env` added
    /// (nothing else from this process's environment, nor a `.env`); returns once it answers
    /// `/health`.
    pub fn serve_process(&self, env: &[(&str, &str)]) -> ServeProcess {
        self.serve_process_on(free_port(), env)
    }

    /// `serve_process` on a given port: to start it again where its clients expect it.
    pub fn serve_process_on(&self, port: u16, env: &[(&str, &str)]) -> ServeProcess {
        use std::process::{Command, Stdio};
        let child = Command::new(env!("CARGO_BIN_EXE_clickcollect"))
            .arg("serve")
            .env_clear()
            .current_dir(std::env::temp_dir())
            .env("DATABASE_URL", self.database_url())
            .env("JWT_SECRET", JWT_SECRET)
            .env("BIND_ADDR", format!("127.0.0.1:{port}"))
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the clickcollect binary starts");
        let process = ServeProcess { base: format!("http://127.0.0.1:{port}"), child };
        let started = std::time::Instant::now();
        while http_agent().get(format!("{}/health", process.base)).call().is_err() {
            assert!(started.elapsed() < std::time::Duration::from_secs(20), "serve at {} did not start", process.base);
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        process
    }
}

/// A blocking HTTP client that hands back every answer, errors included.
pub fn http_agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(std::time::Duration::from_secs(30)))
        .http_status_as_error(false)
        .build()
        .new_agent()
}

/// One call over HTTP: the status and the body as JSON (`Null` when there is none).
pub fn http_call(
    agent: &ureq::Agent,
    method: &str,
    url: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> (u16, Value) {
    let request = ureq::http::Request::builder().method(method).uri(url);
    let request = match token {
        Some(token) => request.header("Authorization", format!("Bearer {token}")),
        None => request,
    };
    let response = match body {
        Some(body) => agent
            .run(request.header("Content-Type", "application/json").body(body.to_string()).expect("a request"))
            .expect("the server answers"),
        None => agent.run(request.body(()).expect("a request")).expect("the server answers"),
    };
    let status = response.status().as_u16();
    let text = response.into_body().read_to_string().unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// A database that exists for one test and is removed after it.
struct TestDatabase {
    url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    File(std::path::PathBuf),
    Postgres { admin_url: String, name: String },
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::File(path) => {
                for suffix in ["", "-wal", "-shm", ".jwt-secret"] {
                    let mut p = path.as_os_str().to_owned();
                    p.push(suffix);
                    let _ = std::fs::remove_file(p);
                }
            }
            Cleanup::Postgres { admin_url, name } => {
                if let Ok(mut admin) = PgConnection::establish(admin_url) {
                    let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"));
                }
            }
        }
    }
}

/// One notification sender round, on a blocking thread as in `serve`.
pub async fn run_sender(app: &TestApp) -> usize {
    let (pool, channels, keys) = (app.state.pool.clone(), app.state.channels.clone(), app.state.keys.clone());
    actix_web::web::block(move || clickcollect::notify::sender::run_round(&pool, &channels, &keys.pickup_key))
        .await
        .unwrap()
        .unwrap()
}

/// Makes every queued notification due now, as if its lease or backoff had run out.
pub fn make_due(app: &TestApp) {
    use clickcollect::db::schema::notifications;
    use diesel::prelude::*;
    let past = chrono::Utc::now().naive_utc() - chrono::TimeDelta::seconds(1);
    diesel::update(notifications::table)
        .set(notifications::next_attempt_at.eq(past))
        .execute(&mut *app.conn())
        .unwrap();
}

/// The Redis server the tests use: `TEST_REDIS_URL`, or the local default.
pub fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_string())
}

/// Redis's URL when it answers. Outside CI a missing Redis only means the PostgreSQL tests
/// run without it; in CI it fails the test.
pub fn redis_for_tests() -> Option<String> {
    let url = redis_url();
    let answered = redis::Client::open(url.as_str())
        .and_then(|client| client.get_connection_with_timeout(std::time::Duration::from_secs(2)))
        .and_then(|mut conn| redis::cmd("PING").query::<String>(&mut conn));
    match answered {
        Ok(_) => Some(url),
        Err(error) if !in_ci() => {
            eprintln!(
                "Redis at {url} does not answer ({error}); PostgreSQL tests run without it (CI=true fails instead)"
            );
            None
        }
        Err(error) => panic!("Redis at {url} is required in CI: {error}"),
    }
}

pub fn in_ci() -> bool {
    std::env::var("CI").map(|v| v == "true" || v == "1").unwrap_or(false)
}

/// The PostgreSQL server's maintenance URL: `TEST_POSTGRES_URL`, or the local default. Tests
/// talk to it without TLS (`sslmode=disable` unless the URL says otherwise): a test binary
/// ends while servers it started on other threads still hold connections, and libpq's TLS
/// (OpenSSL) cleaned up at exit under a thread still using it crashes the process after
/// every test has passed.
pub fn postgres_admin_url() -> String {
    let url =
        std::env::var("TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string());
    if url.contains("sslmode=") {
        url
    } else if url.contains('?') {
        format!("{url}&sslmode=disable")
    } else {
        format!("{url}?sslmode=disable")
    }
}

/// The same server's URL for another database, keeping the URL's parameters.
pub fn with_database(url: &str, name: &str) -> String {
    let (address, parameters) = match url.split_once('?') {
        Some((address, parameters)) => (address, format!("?{parameters}")),
        None => (url, String::new()),
    };
    let (base, _) = address.rsplit_once('/').expect("a URL with a database name");
    format!("{base}/{name}{parameters}")
}

static TEMPLATE: Mutex<Option<String>> = Mutex::new(None);

impl TestDatabase {
    fn sqlite() -> TestDatabase {
        let dir = std::env::temp_dir().join("clickcollect-tests");
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join(format!("{}.db", uuid::Uuid::new_v4()));
        TestDatabase { url: format!("sqlite://{}", path.display()), cleanup: Cleanup::File(path) }
    }

    fn postgres() -> Option<TestDatabase> {
        let admin_url = postgres_admin_url();
        let mut admin = match PgConnection::establish(&admin_url) {
            Ok(conn) => conn,
            Err(error) if !in_ci() => {
                eprintln!(
                    "skipping a PostgreSQL test: {admin_url} is not reachable ({error}); CI=true makes this a failure"
                );
                return None;
            }
            Err(error) => panic!("PostgreSQL at {admin_url} is required in CI: {error}"),
        };
        let template = template_database(&mut admin, &admin_url);
        let name = format!("cc_test_{}", uuid::Uuid::new_v4().simple());
        admin
            .batch_execute(&format!("CREATE DATABASE \"{name}\" TEMPLATE \"{template}\""))
            .expect("create the test database");
        Some(TestDatabase { url: with_database(&admin_url, &name), cleanup: Cleanup::Postgres { admin_url, name } })
    }
}

/// A migrated database to copy for each test, made once per migration set. An advisory lock
/// makes concurrent test processes (nextest) take turns building it.
fn template_database(admin: &mut PgConnection, admin_url: &str) -> String {
    let mut cached = TEMPLATE.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(name) = cached.as_ref() {
        return name.clone();
    }
    let name = format!("cc_template_{}", &migrations_fingerprint()[..16]);
    admin.batch_execute("SELECT pg_advisory_lock(7357001)").expect("template lock");
    let exists = diesel::sql_query(format!("SELECT 1 FROM pg_database WHERE datname = '{name}'"))
        .execute(admin)
        .expect("look up the template");
    if exists == 0 {
        let building = format!("{name}_building");
        admin.batch_execute(&format!("DROP DATABASE IF EXISTS \"{building}\" WITH (FORCE)")).expect("drop leftovers");
        admin.batch_execute(&format!("CREATE DATABASE \"{building}\"")).expect("create the template");
        db::migrate(&db::DatabaseTarget::Postgres { url: with_database(admin_url, &building) })
            .expect("migrate the template");
        admin
            .batch_execute(&format!("ALTER DATABASE \"{building}\" RENAME TO \"{name}\""))
            .expect("publish the template");
    }
    admin.batch_execute("SELECT pg_advisory_unlock(7357001)").expect("template unlock");
    *cached = Some(name.clone());
    name
}

fn migrations_fingerprint() -> String {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/postgres");
    let mut files: Vec<_> = walk(&root);
    files.sort();
    let mut text = String::new();
    for f in files {
        text.push_str(&f.display().to_string());
        text.push_str(&std::fs::read_to_string(&f).unwrap_or_default());
    }
    clickcollect::crypto::hex_sha256(text.as_bytes())
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// Direct database access for assertions the API does not expose.
pub fn is_postgres(conn: &DbConn) -> bool {
    db::is_postgres(conn)
}

/// The body of a pickup order for one line: what most tests place.
pub fn pickup_order(location: &str, customer: &str, sku: &str, quantity: i64) -> Value {
    serde_json::json!({"location": location, "fulfilment": "pickup", "customer_id": customer,
        "lines": [{"sku": sku, "quantity": quantity}]})
}
