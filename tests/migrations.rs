//! Migrations: both backends' folders stay in step, and replicas that start together on
//! PostgreSQL migrate once without tripping over each other.

mod common;

use std::path::Path;

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};

fn migration_names(backend: &str) -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations").join(backend);
    let mut names: Vec<String> =
        std::fs::read_dir(dir).unwrap().flatten().map(|e| e.file_name().to_string_lossy().to_string()).collect();
    names.sort();
    names
}

#[test]
fn both_backends_have_the_same_migrations() {
    let postgres = migration_names("postgres");
    assert!(!postgres.is_empty());
    assert_eq!(postgres, migration_names("sqlite"));
}

#[test]
fn replicas_starting_together_migrate_once() {
    let admin_url = common::postgres_admin_url();
    let mut admin = match PgConnection::establish(&admin_url) {
        Ok(conn) => conn,
        Err(e) if !common::in_ci() => return eprintln!("skipping: PostgreSQL not reachable: {e}"),
        Err(e) => panic!("PostgreSQL is required in CI: {e}"),
    };
    let name = format!("cc_migrate_{}", uuid::Uuid::new_v4().simple());
    admin.batch_execute(&format!("CREATE DATABASE \"{name}\"")).unwrap();
    let url = format!("{}/{name}", admin_url.rsplit_once('/').unwrap().0);
    let target = clickcollect::db::DatabaseTarget::Postgres { url: url.clone() };
    let replicas: Vec<_> = (0..6)
        .map(|_| {
            let target = target.clone();
            std::thread::spawn(move || clickcollect::db::migrate(&target))
        })
        .collect();
    let applied: Vec<Vec<String>> =
        replicas.into_iter().map(|r| r.join().unwrap().expect("every replica starts")).collect();
    assert_eq!(applied.iter().filter(|a| !a.is_empty()).count(), 1, "exactly one replica applied the migrations");
    assert_eq!(applied.iter().map(Vec::len).sum::<usize>(), migration_names("postgres").len());
    admin.batch_execute(&format!("DROP DATABASE \"{name}\" WITH (FORCE)")).unwrap();
}
