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
    let url = common::with_database(&admin_url, &name);
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

/// Orders placed before numbers were stored get theirs from the id's last eight hex digits;
/// two ids that share them must not fail the migration (the unique index): those orders get
/// the whole id instead. Checked on both backends, from the migration before.
#[test]
fn numbering_existing_orders_survives_ids_that_share_their_last_digits() {
    use clickcollect::db::{DbConn, POSTGRES_MIGRATIONS, SQLITE_MIGRATIONS};
    use diesel::migration::MigrationSource;
    use diesel::pg::Pg;
    use diesel::sqlite::Sqlite;
    use diesel_migrations::MigrationHarness;

    const BEFORE_NUMBERS: &str = "2026-11-30-000006";
    fn migrate_up_to<DB: diesel::backend::Backend>(
        conn: &mut impl MigrationHarness<DB>,
        source: fn() -> diesel_migrations::EmbeddedMigrations,
    ) {
        let before = MigrationSource::<DB>::migrations(&source())
            .unwrap()
            .iter()
            .take_while(|m| !m.name().to_string().starts_with(BEFORE_NUMBERS))
            .count();
        for _ in 0..before {
            conn.run_next_migration(source()).unwrap();
        }
    }
    let seed = "INSERT INTO locations (code, name, kind, timezone, pickup_in_store, pickup_curbside, \
                pickup_hold_days, fulfils_online, active, created_at, updated_at) \
                VALUES ('S1', 'S1', 'store', 'UTC', TRUE, FALSE, 3, TRUE, TRUE, '2026-11-01 00:00:00', '2026-11-01 00:00:00');
                INSERT INTO orders (id, location, fulfilment, status, customer_id, created_by, created_at, updated_at) VALUES
                ('0190a000-0000-7000-8000-00001234abcd', 'S1', 'pickup', 'confirmed', 'c', 'c', '2026-11-01 00:00:00', '2026-11-01 00:00:00'),
                ('0190b000-0000-7000-8000-99991234abcd', 'S1', 'pickup', 'confirmed', 'c', 'c', '2026-11-01 00:00:00', '2026-11-01 00:00:00'),
                ('0190c000-0000-7000-8000-00000000fe01', 'S1', 'pickup', 'confirmed', 'c', 'c', '2026-11-01 00:00:00', '2026-11-01 00:00:00');";
    let expected = vec![
        ("0190a000-0000-7000-8000-00001234abcd".to_string(), "0190A0000000700080000000".to_string() + "1234ABCD"),
        ("0190b000-0000-7000-8000-99991234abcd".to_string(), "0190B0000000700080009999".to_string() + "1234ABCD"),
        ("0190c000-0000-7000-8000-00000000fe01".to_string(), "0000FE01".to_string()),
    ];
    fn numbers(conn: &mut DbConn) -> Vec<(String, String)> {
        use clickcollect::db::schema::orders;
        use diesel::prelude::*;
        let query = orders::table.order(orders::id.asc()).select((orders::id, orders::number));
        match conn {
            DbConn::Postgres(c) => query.load(c).unwrap(),
            DbConn::Sqlite(c) => query.load(c).unwrap(),
        }
    }

    // SQLite.
    let path = std::env::temp_dir().join(format!("clickcollect-numbers-{}.db", uuid::Uuid::new_v4()));
    {
        let target = clickcollect::db::DatabaseTarget::Sqlite { path: path.display().to_string() };
        let mut conn = target.connect().unwrap();
        let DbConn::Sqlite(sqlite) = &mut conn else { unreachable!() };
        migrate_up_to::<Sqlite>(sqlite, || SQLITE_MIGRATIONS);
        sqlite.batch_execute(seed).unwrap();
        drop(conn);
        clickcollect::db::migrate(&target).expect("the numbering migration applies");
        assert_eq!(numbers(&mut target.connect().unwrap()), expected, "SQLite");
    }
    let _ = std::fs::remove_file(&path);

    // PostgreSQL.
    let admin_url = common::postgres_admin_url();
    let mut admin = match PgConnection::establish(&admin_url) {
        Ok(conn) => conn,
        Err(e) if !common::in_ci() => return eprintln!("skipping PostgreSQL: not reachable: {e}"),
        Err(e) => panic!("PostgreSQL is required in CI: {e}"),
    };
    let name = format!("cc_numbers_{}", uuid::Uuid::new_v4().simple());
    admin.batch_execute(&format!("CREATE DATABASE \"{name}\"")).unwrap();
    let target = clickcollect::db::DatabaseTarget::Postgres { url: common::with_database(&admin_url, &name) };
    {
        let mut conn = target.connect().unwrap();
        let DbConn::Postgres(pg) = &mut conn else { unreachable!() };
        migrate_up_to::<Pg>(pg, || POSTGRES_MIGRATIONS);
        pg.batch_execute(seed).unwrap();
    }
    clickcollect::db::migrate(&target).expect("the numbering migration applies");
    assert_eq!(numbers(&mut target.connect().unwrap()), expected, "PostgreSQL");
    admin.batch_execute(&format!("DROP DATABASE \"{name}\" WITH (FORCE)")).unwrap();
}

/// Every table and column, as a type family and whether it takes NULL: what both backends
/// and `src/db/schema.rs` must agree on.
type Layout = std::collections::BTreeMap<(String, String), (String, bool)>;

#[derive(diesel::QueryableByName)]
struct ColumnRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    table_name: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    column_name: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    data_type: String,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    nullable: bool,
}

/// The type a declared type names, in either dialect or in diesel's names: exactly, with its
/// width (`integer` is not `bigint`: diesel would fail to read one as the other), or as a
/// family, for SQLite, whose ids must be `INTEGER` and whose integers are all 64 bits.
fn type_of(declared: &str, exact: bool) -> String {
    let declared = declared.to_ascii_lowercase();
    let named = match declared.as_str() {
        "text" | "character varying" => "text",
        "bigint" | "biginteger" if exact => "bigint",
        "integer" if exact => "integer",
        "smallint" if exact => "smallint",
        "integer" | "bigint" | "biginteger" | "smallint" => "integer",
        "double precision" | "double" => "double",
        "real" => "real",
        "boolean" | "bool" => "bool",
        "timestamp" | "timestamp without time zone" => "timestamp",
        other => other,
    };
    named.to_string()
}

fn layout_of(rows: &[ColumnRow], exact: bool) -> Layout {
    rows.iter()
        .filter(|row| row.table_name != "__diesel_schema_migrations")
        .map(|row| {
            let column = (row.table_name.clone(), row.column_name.clone());
            (column, (type_of(&row.data_type, exact), row.nullable))
        })
        .collect()
}

/// What `src/db/schema.rs` declares, read from its `table!` blocks.
fn declared_layout() -> Layout {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/db/schema.rs")).unwrap();
    let mut layout = Layout::new();
    let mut table: Option<String> = None;
    for line in text.lines().map(str::trim) {
        if let Some((name, _)) = line.split_once(" (").filter(|_| line.ends_with('{')) {
            table = Some(name.to_string());
        } else if line == "}" {
            table = None;
        } else if let (Some(table), Some((column, kind))) = (&table, line.split_once(" -> ")) {
            let kind = kind.trim_end_matches(',');
            let (inner, nullable) = match kind.strip_prefix("Nullable<").and_then(|k| k.strip_suffix('>')) {
                Some(inner) => (inner, true),
                None => (kind, false),
            };
            layout.insert((table.clone(), column.to_string()), (type_of(inner, true), nullable));
        }
    }
    layout
}

/// Lists what one side has that the other lacks or has otherwise.
fn differences(left_name: &str, left: &Layout, right_name: &str, right: &Layout) -> Vec<String> {
    let mut found = Vec::new();
    for (column, shape) in left {
        match right.get(column) {
            None => found.push(format!("{}.{} is in {left_name} only", column.0, column.1)),
            Some(other) if other != shape => {
                found.push(format!("{}.{}: {left_name} {shape:?}, {right_name} {other:?}", column.0, column.1))
            }
            Some(_) => {}
        }
    }
    for column in right.keys().filter(|c| !left.contains_key(*c)) {
        found.push(format!("{}.{} is in {right_name} only", column.0, column.1));
    }
    found
}

/// Both backends, migrated from empty, have the same tables and columns, with the same type
/// families and nullability, and so does `src/db/schema.rs`: a migration written for one
/// dialect only, or a schema edited by hand, fails here.
#[actix_web::test]
async fn both_databases_and_the_schema_agree_column_by_column() {
    use diesel::RunQueryDsl;
    let Some(sqlite) = common::TestApp::spawn(common::Backend::Sqlite).await else { return };
    let Some(postgres) = common::TestApp::spawn(common::Backend::Postgres).await else { return };
    let path = sqlite.database_url().trim_start_matches("sqlite://").to_string();
    let mut conn = diesel::SqliteConnection::establish(&path).unwrap();
    let sqlite_rows: Vec<ColumnRow> = diesel::sql_query(
        "SELECT m.name AS table_name, p.name AS column_name, p.type AS data_type, \
                    (p.\"notnull\" = 0 AND p.pk = 0) AS nullable \
             FROM sqlite_master m JOIN pragma_table_info(m.name) p \
             WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%'",
    )
    .load(&mut conn)
    .unwrap();
    let sqlite_layout = layout_of(&sqlite_rows, false);
    let mut conn = PgConnection::establish(postgres.database_url()).unwrap();
    let postgres_rows: Vec<ColumnRow> = diesel::sql_query(
        "SELECT table_name::text AS table_name, column_name::text AS column_name, \
                    data_type::text AS data_type, (is_nullable = 'YES') AS nullable \
             FROM information_schema.columns WHERE table_schema = current_schema()",
    )
    .load(&mut conn)
    .unwrap();
    // The one known gap, named so that any other fails: SQLite cannot add NOT NULL to an
    // existing column (migration 000006); the code always sets the number.
    let mut sqlite_layout = sqlite_layout;
    let number = ("orders".to_string(), "number".to_string());
    assert_eq!(sqlite_layout.get(&number), Some(&("text".to_string(), true)));
    sqlite_layout.insert(number, ("text".to_string(), false));
    let declared = declared_layout();
    assert!(declared.len() > 50, "schema.rs was read: {} columns", declared.len());
    // PostgreSQL against schema.rs with widths; the two databases against each other by family.
    let mut found = differences("PostgreSQL", &layout_of(&postgres_rows, false), "SQLite", &sqlite_layout);
    found.extend(differences("schema.rs", &declared, "PostgreSQL", &layout_of(&postgres_rows, true)));
    assert!(found.is_empty(), "the schemas differ:\n{}", found.join("\n"));
}
