//! The command line: `serve` (the default), `migrate`, `token`, `openapi`, `worker`, `check`,
//! and `healthcheck` (for container health checks, where no curl is installed).

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::Duration;

use chrono::Utc;

use crate::auth::{Claims, Keys, Role};
use crate::config::{LogFormat, Settings};
use crate::db::{self, read_tx};
use crate::ops::jobs;
use crate::state::AppState;
use crate::stock::ledger;

const USAGE: &str = "\
usage: clickcollect [COMMAND]

commands:
  serve        start the HTTP server and background jobs (the default)
  migrate      apply pending migrations and exit
  token --role ROLE [--sub ID] [--store CODE] [--scope S]... [--ttl SECONDS]
               print a JWT signed with the configured HS256 key
  console-link --store CODE [--label TEXT]
               print a one-time link that pairs a device with the store's console
  openapi      print the OpenAPI document
  worker       run the background jobs without the HTTP server
  check        verify every level against its ledger and its open holds and orders (exit 1 on
               drift), and warn about levels with less on hand than is reserved
  healthcheck  ask the server at BIND_ADDR for /health; exit 0 when it answers 200

configuration comes from the environment; see README.md.";

/// Runs a command line and returns the process exit code.
pub fn main(args: Vec<String>) -> i32 {
    let command = args.first().map(String::as_str).unwrap_or("serve");
    if matches!(command, "-h" | "--help" | "help") {
        println!("{USAGE}");
        return 0;
    }
    if command == "openapi" {
        print!("{}", crate::openapi::document_json());
        return 0;
    }
    // What a capability builds from its settings is checked here too, so every command
    // refuses a bad value before it touches anything.
    let settings =
        match Settings::from_env().and_then(|s| crate::notify::channels::Channels::check(&s.notify).map(|_| s)) {
            Ok(settings) => settings,
            Err(error) => {
                eprintln!("{error}");
                return 2;
            }
        };
    init_logging(settings.server.log_format);
    let result = match command {
        "serve" => serve(settings, true),
        "worker" => serve(settings, false),
        "migrate" => migrate(&settings),
        "token" => token(&settings, &args[1..]),
        "check" => check(&settings),
        "console-link" => console_link(&settings, &args[1..]),
        "healthcheck" => healthcheck(&settings),
        other => Err(format!("unknown command {other:?}\n\n{USAGE}")),
    };
    match result {
        Ok(code) => code,
        Err(message) => {
            eprintln!("clickcollect: {message}");
            1
        }
    }
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,actix_server=warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(true).try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

fn open_state(settings: Settings) -> Result<AppState, String> {
    let keys = Keys::from_settings(&settings)?;
    let pool = db::connect_pool(&settings.database, settings.pool_size)?;
    AppState::new(pool, settings, keys).map_err(|e| e.to_string())
}

fn serve(settings: Settings, with_http: bool) -> Result<i32, String> {
    tracing::info!(database = ?settings.database, bind = %settings.server.bind_addr, "starting");
    let bind_addr = settings.server.bind_addr.clone();
    let state = open_state(settings)?;
    actix_web::rt::System::new().block_on(async move {
        actix_web::rt::spawn(jobs::run(state.clone()));
        if with_http {
            let listener = TcpListener::bind(&bind_addr).map_err(|e| format!("BIND_ADDR {bind_addr}: {e}"))?;
            tracing::info!(address = %bind_addr, "listening; API docs at /docs");
            crate::run_server(listener, state).map_err(|e| e.to_string())?.await.map_err(|e| e.to_string())?;
        } else {
            tracing::info!("worker running background jobs");
            actix_web::rt::signal::ctrl_c().await.map_err(|e| e.to_string())?;
        }
        Ok(0)
    })
}

fn migrate(settings: &Settings) -> Result<i32, String> {
    let applied = db::migrate(&settings.database)?;
    if applied.is_empty() {
        println!("database is up to date");
    }
    for name in applied {
        println!("applied {name}");
    }
    Ok(0)
}

/// `console-link --store CODE [--label TEXT]`: a pairing link, as an admin would get from
/// `POST /v1/stores/{code}/console-links`, made straight in the database (migrated first).
fn console_link(settings: &Settings, args: &[String]) -> Result<i32, String> {
    let (mut store, mut label) = (None, None);
    let mut rest = args.iter();
    while let Some(flag) = rest.next() {
        let value = || format!("{flag} needs a value");
        match flag.as_str() {
            "--store" => store = Some(rest.next().ok_or_else(value)?.clone()),
            "--label" => label = Some(rest.next().ok_or_else(value)?.clone()),
            other => {
                return Err(format!(
                    "console-link: unknown argument {other:?}; usage: console-link --store CODE [--label TEXT]"
                ))
            }
        }
    }
    let store = store.ok_or("console-link: --store CODE is required")?;
    if let Some(problem) = crate::http::validate::code_problem(&store) {
        return Err(format!("console-link: --store {problem}"));
    }
    let form = crate::console::model::LinkForm { label };
    crate::http::json::Validate::validate(&form).map_err(|e| format!("console-link: --label {e}"))?;
    db::migrate(&settings.database)?;
    let pool = db::connect_pool(&settings.database, 1)?;
    let mut conn = pool.get().map_err(|e| e.to_string())?;
    let who = crate::auth::Principal { sub: "cli".into(), role: Role::Admin, store: None, scopes: vec![] };
    let lifetime = chrono::TimeDelta::seconds(settings.console.link_seconds);
    let url = crate::console::console_url(settings);
    let link = db::write_tx(&mut conn, |conn| crate::console::create_link(conn, &who, &store, &form, lifetime, &url))
        .map_err(|e| match e {
        crate::error::ApiError::NotFound(_) => {
            format!("console-link: no store {store}: create it first (PUT /v1/locations/{store})")
        }
        other => format!("console-link: {other}"),
    })?;
    println!("{}", link.url);
    eprintln!("open it on the store's device before {} (it works once)", link.expires_at.to_rfc3339());
    Ok(0)
}

/// `token --role ROLE [--sub ID] [--store CODE] [--scope S]... [--ttl SECONDS]`
pub fn parse_token_args(args: &[String]) -> Result<(Claims, i64), String> {
    let (mut role, mut sub, mut store, mut scopes, mut ttl) = (None, None, None, Vec::new(), 3600i64);
    let mut rest = args.iter();
    while let Some(flag) = rest.next() {
        let mut value = || rest.next().cloned().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--role" => role = Some(value()?.parse::<Role>()?),
            "--sub" => sub = Some(value()?),
            "--store" => store = Some(value()?),
            "--scope" => scopes.push(value()?),
            "--ttl" => {
                ttl = value()?
                    .parse()
                    .ok()
                    .filter(|t| (1..=31_536_000).contains(t))
                    .ok_or("--ttl must be 1 to 31536000 seconds")?
            }
            other => return Err(format!("unknown option {other:?}")),
        }
    }
    let role = role.ok_or("--role is required (admin, staff, customer or integration)")?;
    if role == Role::Staff && store.is_none() {
        return Err("a staff token needs --store CODE".into());
    }
    let now = Utc::now().timestamp();
    let claims = Claims {
        sub: sub.unwrap_or_else(|| format!("dev-{}", format!("{role:?}").to_lowercase())),
        role,
        store,
        scopes,
        exp: now + ttl,
        iat: Some(now),
        iss: None,
        aud: None,
        nbf: None,
    };
    Ok((claims, ttl))
}

fn token(settings: &Settings, args: &[String]) -> Result<i32, String> {
    let (mut claims, _) = parse_token_args(args)?;
    claims.iss = settings.jwt.issuer.clone();
    claims.aud = settings.jwt.audience.clone().map(crate::auth::Audience::One);
    let keys = Keys::from_settings(settings)?;
    println!("{}", keys.mint(&claims)?);
    Ok(0)
}

fn check(settings: &Settings) -> Result<i32, String> {
    let pool = db::connect_pool(&settings.database, 1)?;
    let mut conn = pool.get().map_err(|e| e.to_string())?;
    let levels: i64 = {
        use crate::db::schema::stock_levels;
        use diesel::prelude::*;
        stock_levels::table.count().get_result(&mut *conn).map_err(|e| e.to_string())?
    };
    let drift = read_tx(&mut conn, ledger::find_drift).map_err(|e| e.to_string())?;
    let short = read_tx(&mut conn, ledger::find_short_levels).map_err(|e| e.to_string())?;
    // Below what is reserved is a warning, not drift: the ledger adds up, but commitments are
    // at risk and staff should short-pick or recount.
    for s in &short {
        println!(
            "warning: {}/{} reserved {} exceeds on_hand {} by {}; {} order(s) and {} hold(s) at risk",
            s.location,
            s.sku,
            s.reserved,
            s.on_hand,
            s.reserved - s.on_hand,
            s.orders_at_risk,
            s.holds_at_risk
        );
    }
    for d in &drift {
        println!(
            "drift: {}/{} on_hand {} but ledger {}; reserved {} but ledger {} and open holds and orders {}",
            d.location, d.sku, d.on_hand, d.ledger_on_hand, d.reserved, d.ledger_reserved, d.open_reserved
        );
    }
    if drift.is_empty() {
        println!("ok: {levels} stock levels checked; every ledger adds up, and reserved matches open holds and orders");
        if !short.is_empty() {
            println!("{} stock level(s) have less on hand than is reserved (warnings above)", short.len());
        }
        return Ok(0);
    }
    println!("{} of {levels} stock levels drift from their ledger", drift.len());
    Ok(1)
}

fn healthcheck(settings: &Settings) -> Result<i32, String> {
    let addr: std::net::SocketAddr = settings.server.bind_addr.parse().map_err(|e| format!("BIND_ADDR: {e}"))?;
    // A server bound to every interface is reached on loopback.
    let target =
        if addr.ip().is_unspecified() { std::net::SocketAddr::from(([127, 0, 0, 1], addr.port())) } else { addr };
    let mut stream =
        std::net::TcpStream::connect_timeout(&target, Duration::from_secs(3)).map_err(|e| e.to_string())?;
    stream.set_read_timeout(Some(Duration::from_secs(3))).map_err(|e| e.to_string())?;
    write!(stream, "GET /health HTTP/1.1\r\nHost: {target}\r\nConnection: close\r\n\r\n").map_err(|e| e.to_string())?;
    let mut response = String::new();
    stream.read_to_string(&mut response).map_err(|e| e.to_string())?;
    Ok(if response.starts_with("HTTP/1.1 200") { 0 } else { 1 })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn token_arguments() {
        let (claims, ttl) = parse_token_args(&args("--role staff --store S1 --sub ana --ttl 60")).unwrap();
        assert_eq!(
            (claims.role, claims.store.as_deref(), claims.sub.as_str(), ttl),
            (Role::Staff, Some("S1"), "ana", 60)
        );
        let (claims, _) = parse_token_args(&args("--role integration --scope stock:read --scope stock:write")).unwrap();
        assert_eq!(claims.scopes, vec!["stock:read", "stock:write"]);
        assert!(parse_token_args(&args("--role staff")).is_err());
        assert!(parse_token_args(&args("--role wizard")).is_err());
        assert!(parse_token_args(&args("--sub x")).is_err());
        assert!(parse_token_args(&args("--role admin --ttl 0")).is_err());
        assert!(parse_token_args(&args("--role admin --bogus 1")).is_err());
    }
}
