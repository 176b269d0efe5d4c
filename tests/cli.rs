//! The binary's command line, run as a newcomer would: in an empty folder, on the default
//! SQLite file, with no configuration.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn folder() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("clickcollect-cli-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn clickcollect(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_clickcollect"));
    command.current_dir(dir).args(args);
    for name in ["DATABASE_URL", "JWT_SECRET", "BIND_ADDR", "JWT_PUBLIC_KEY", "JWT_PUBLIC_KEY_FILE", "REDIS_URL"] {
        command.env_remove(name);
    }
    command.envs(env.iter().copied());
    command.output().expect("the binary runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).to_string()
}

#[test]
fn migrate_token_and_check_work_on_the_default_sqlite_file() {
    let dir = folder();
    let migrated = clickcollect(&dir, &["migrate"], &[]);
    assert!(migrated.status.success(), "{}", String::from_utf8_lossy(&migrated.stderr));
    assert!(stdout(&migrated).contains("applied"));
    assert!(dir.join("clickcollect.db").exists());
    assert!(stdout(&clickcollect(&dir, &["migrate"], &[])).contains("up to date"));

    let first = clickcollect(&dir, &["token", "--role", "staff", "--store", "S1"], &[]);
    assert!(first.status.success());
    let token = stdout(&first).trim().to_string();
    assert_eq!(token.split('.').count(), 3, "a JWT");
    // The generated key is kept beside the database, so later tokens use the same key.
    let secret = std::fs::read_to_string(dir.join("clickcollect.db.jwt-secret")).unwrap();
    let settings = clickcollect::config::JwtSettings { secret: None, public_key: None, issuer: None, audience: None };
    let keys = clickcollect::auth::Keys::new(&settings, Some(clickcollect::config::Secret::new(secret))).unwrap();
    let who = keys.verify(&token).unwrap();
    assert_eq!(who.store.as_deref(), Some("S1"));

    let refused = clickcollect(&dir, &["token", "--role", "staff"], &[]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--store"));

    let check = clickcollect(&dir, &["check"], &[]);
    assert!(check.status.success());
    assert!(stdout(&check).starts_with("ok:"));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn check_exits_non_zero_on_drift() {
    use diesel::connection::SimpleConnection;
    use diesel::Connection;
    let dir = folder();
    assert!(clickcollect(&dir, &["migrate"], &[]).status.success());
    let mut conn = diesel::SqliteConnection::establish(dir.join("clickcollect.db").to_str().unwrap()).unwrap();
    conn.batch_execute(
        "INSERT INTO locations VALUES ('S1','S','store','UTC',NULL,NULL,NULL,1,1,3,1,1,NULL,NULL,'2026-01-01 00:00:00','2026-01-01 00:00:00');
         INSERT INTO products VALUES ('A','A',100,'EUR','2026-01-01 00:00:00','2026-01-01 00:00:00');
         INSERT INTO stock_levels VALUES ('S1','A',5,0,0,NULL,'2026-01-01 00:00:00');",
    )
    .unwrap();
    let check = clickcollect(&dir, &["check"], &[]);
    assert_eq!(check.status.code(), Some(1));
    assert!(stdout(&check).contains("drift: S1/A on_hand 5 but ledger 0"), "{}", stdout(&check));
    std::fs::remove_dir_all(&dir).ok();
}

/// Less on hand than is reserved is a warning, apart from drift: the ledger adds up, but
/// commitments are at risk. The exit code stays 0.
#[test]
fn check_warns_about_levels_below_what_is_reserved() {
    use diesel::connection::SimpleConnection;
    use diesel::Connection;
    let dir = folder();
    assert!(clickcollect(&dir, &["migrate"], &[]).status.success());
    let mut conn = diesel::SqliteConnection::establish(dir.join("clickcollect.db").to_str().unwrap()).unwrap();
    conn.batch_execute(
        "INSERT INTO locations VALUES ('S1','S','store','UTC',NULL,NULL,NULL,1,1,3,1,1,NULL,NULL,'2026-01-01 00:00:00','2026-01-01 00:00:00');
         INSERT INTO products VALUES ('A','A',100,'EUR','2026-01-01 00:00:00','2026-01-01 00:00:00');
         INSERT INTO stock_levels VALUES ('S1','A',1,3,0,NULL,'2026-01-01 00:00:00');
         INSERT INTO stock_movements (location, sku, delta_on_hand, delta_reserved, reason, reference, actor, at)
             VALUES ('S1','A',4,0,'count',NULL,'t','2026-01-01 00:00:00'),
                    ('S1','A',0,3,'order','O1','t','2026-01-01 00:00:01'),
                    ('S1','A',-3,0,'sale',NULL,'t','2026-01-01 00:00:02');
         INSERT INTO orders (id, location, fulfilment, status, customer_id, created_by, created_at, updated_at, number)
             VALUES ('O1','S1','pickup','confirmed','ann','t','2026-01-01 00:00:01','2026-01-01 00:00:01','0000O001');
         INSERT INTO order_lines (order_id, sku, quantity) VALUES ('O1','A',3);
         INSERT INTO stock_shorts VALUES ('S1','A','order','O1',2,'2026-01-01 00:00:02');",
    )
    .unwrap();
    let check = clickcollect(&dir, &["check"], &[]);
    let out = stdout(&check);
    assert_eq!(check.status.code(), Some(0), "{out}");
    assert!(out.contains("warning: S1/A reserved 3 exceeds on_hand 1 by 2; 1 order(s) and 0 hold(s) at risk"), "{out}");
    assert!(out.contains("ok:") && !out.contains("drift:"), "{out}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn bad_configuration_names_the_variable() {
    let dir = folder();
    let output = clickcollect(&dir, &["migrate"], &[("DATABASE_URL", "mysql://db/x")]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("DATABASE_URL"));
    let output = clickcollect(&dir, &["serve"], &[("JWT_SECRET", "short")]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("JWT_SECRET"));
    let output = clickcollect(&dir, &["frobnicate"], &[]);
    assert_eq!(output.status.code(), Some(1));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn openapi_prints_the_committed_document() {
    let output = clickcollect(&std::env::temp_dir(), &["openapi"], &[]);
    let committed =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("openapi/openapi.json")).unwrap();
    assert_eq!(stdout(&output), committed);
}

#[test]
fn serve_starts_and_answers_its_health_check() {
    let dir = folder();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let addr = format!("127.0.0.1:{port}");
    let mut server = Command::new(env!("CARGO_BIN_EXE_clickcollect"))
        .current_dir(&dir)
        .env_remove("DATABASE_URL")
        .env_remove("JWT_SECRET")
        .env("BIND_ADDR", &addr)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let mut healthy = false;
    while started.elapsed() < Duration::from_secs(30) {
        if clickcollect(&dir, &["healthcheck"], &[("BIND_ADDR", &addr)]).status.success() {
            healthy = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    server.kill().ok();
    server.wait().ok();
    assert!(healthy, "the server answered /health within 30 s");
    std::fs::remove_dir_all(&dir).ok();
}

/// A `.env` that cannot be read stops the start, naming it, instead of being skipped.
#[test]
fn a_malformed_env_file_stops_the_start() {
    let dir = folder();
    std::fs::write(dir.join(".env"), "DATABASE_URL=sqlite://ok.db\nthis line is not a variable\n").unwrap();
    let refused = clickcollect(&dir, &["migrate"], &[]);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains(".env"), "{stderr}");
    assert!(!dir.join("ok.db").exists(), "nothing was started");
    std::fs::write(dir.join(".env"), "DATABASE_URL=sqlite://ok.db\n").unwrap();
    let migrated = clickcollect(&dir, &["migrate"], &[]);
    assert!(migrated.status.success(), "{}", String::from_utf8_lossy(&migrated.stderr));
    assert!(dir.join("ok.db").exists(), "a well-formed .env is read");
    std::fs::remove_dir_all(&dir).ok();
}
