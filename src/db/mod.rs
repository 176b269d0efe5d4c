//! The database: one connection type for PostgreSQL and SQLite, the pool, migrations, and the
//! few places where the two dialects differ. Domain code takes `&mut DbConn` and never a pool,
//! so functions compose inside one transaction.

pub mod redis;
pub mod schema;
pub mod stored;

use std::time::Duration;

use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::prelude::*;
use diesel::r2d2::{self, ManageConnection, R2D2Connection};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use crate::error::ApiError;

pub const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");
pub const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");

/// Key of the PostgreSQL advisory lock that serialises migrations when several replicas
/// start at once ("clickcol" in ASCII).
const MIGRATION_LOCK_KEY: i64 = 0x636c_6963_6b63_6f6c;

#[derive(diesel::MultiConnection)]
pub enum DbConn {
    Postgres(PgConnection),
    Sqlite(SqliteConnection),
}

/// The backend of `DbConn`, for boxed queries and expressions shared by both dialects.
pub type Backend = <DbConn as diesel::Connection>::Backend;

pub type Pool = r2d2::Pool<DbManager>;
pub type PooledConn = r2d2::PooledConnection<DbManager>;

/// Where the data lives, parsed from `DATABASE_URL`.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseTarget {
    Postgres { url: String },
    Sqlite { path: String },
}

impl std::fmt::Debug for DatabaseTarget {
    // The PostgreSQL URL may carry a password: never print it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DatabaseTarget::Postgres { url } => write!(f, "Postgres({})", redact_url(url)),
            DatabaseTarget::Sqlite { path } => write!(f, "Sqlite({path})"),
        }
    }
}

impl DatabaseTarget {
    /// `postgres://...` or `postgresql://...` for PostgreSQL, `sqlite://PATH` (or `sqlite:PATH`)
    /// for an SQLite file. Any other scheme is refused rather than guessed.
    pub fn parse(url: &str) -> Result<Self, String> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(DatabaseTarget::Postgres { url: url.to_string() });
        }
        if let Some(rest) = url.strip_prefix("sqlite:") {
            let path = rest.strip_prefix("//").unwrap_or(rest);
            if path.is_empty() || path == ":memory:" {
                return Err("an SQLite URL needs a file path, e.g. sqlite://clickcollect.db".into());
            }
            return Ok(DatabaseTarget::Sqlite { path: path.to_string() });
        }
        Err("must start with postgres://, postgresql:// or sqlite://".into())
    }

    pub fn backend_name(&self) -> &'static str {
        match self {
            DatabaseTarget::Postgres { .. } => "postgres",
            DatabaseTarget::Sqlite { .. } => "sqlite",
        }
    }

    /// Opens one connection, with SQLite's per-connection settings applied.
    pub fn connect(&self) -> ConnectionResult<DbConn> {
        match self {
            DatabaseTarget::Postgres { url } => PgConnection::establish(url).map(DbConn::Postgres),
            DatabaseTarget::Sqlite { path } => {
                let mut conn = SqliteConnection::establish(path)?;
                // WAL lets readers run beside the one writer; busy_timeout makes writers queue
                // instead of failing; foreign keys are off by default in SQLite.
                conn.batch_execute(
                    "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                     PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON;",
                )
                .map_err(ConnectionError::CouldntSetupConfiguration)?;
                Ok(DbConn::Sqlite(conn))
            }
        }
    }
}

pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            format!("{}://***{}", &url[..scheme_end], &url[at..])
        }
        _ => url.to_string(),
    }
}

/// The r2d2 manager: connects by target, so the backend is chosen once from the URL scheme.
#[derive(Debug, Clone)]
pub struct DbManager {
    target: DatabaseTarget,
}

impl ManageConnection for DbManager {
    type Connection = DbConn;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<DbConn, r2d2::Error> {
        self.target.connect().map_err(r2d2::Error::ConnectionError)
    }

    fn is_valid(&self, conn: &mut DbConn) -> Result<(), r2d2::Error> {
        conn.ping().map_err(r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut DbConn) -> bool {
        conn.is_broken()
    }
}

/// Applies pending migrations on a connection of its own, then builds the pool.
pub fn connect_pool(target: &DatabaseTarget, max_size: u32) -> Result<Pool, String> {
    migrate(target)?;
    r2d2::Pool::builder()
        .max_size(max_size)
        // Connections open on demand: replicas and test suites should not each hold a full
        // pool of idle PostgreSQL sessions.
        .min_idle(Some(1))
        .connection_timeout(Duration::from_secs(5))
        .build(DbManager { target: target.clone() })
        .map_err(|e| format!("cannot open the database pool: {e}"))
}

/// Runs the embedded migrations. On PostgreSQL an advisory lock makes replicas that start
/// together take turns; the ones that wait find nothing left to do.
pub fn migrate(target: &DatabaseTarget) -> Result<Vec<String>, String> {
    let mut conn = target.connect().map_err(|e| format!("cannot connect to the database ({target:?}): {e}"))?;
    let applied = match &mut conn {
        DbConn::Postgres(pg) => {
            pg.batch_execute(&format!("SELECT pg_advisory_lock({MIGRATION_LOCK_KEY})"))
                .map_err(|e| format!("cannot take the migration lock: {e}"))?;
            let result = pg
                .run_pending_migrations(POSTGRES_MIGRATIONS)
                .map(|v| v.iter().map(|m| m.to_string()).collect::<Vec<_>>());
            let unlock = pg.batch_execute(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK_KEY})"));
            let applied = result.map_err(|e| format!("migration failed: {e}"))?;
            unlock.map_err(|e| format!("cannot release the migration lock: {e}"))?;
            applied
        }
        DbConn::Sqlite(sqlite) => sqlite
            .run_pending_migrations(SQLITE_MIGRATIONS)
            .map(|v| v.iter().map(|m| m.to_string()).collect())
            .map_err(|e| format!("migration failed: {e}"))?,
    };
    Ok(applied)
}

/// Runs `f` in one write transaction. SQLite's is `BEGIN IMMEDIATE`: it takes the write lock
/// up front, so two writers queue on `busy_timeout` instead of one failing when it upgrades a
/// read lock. PostgreSQL retries a serialization failure a couple of times before giving up.
pub fn write_tx<T>(conn: &mut DbConn, mut f: impl FnMut(&mut DbConn) -> Result<T, ApiError>) -> Result<T, ApiError> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        match run_in_tx(conn, &mut f) {
            Err(ApiError::Database(error)) if attempt < 3 && worth_retrying(&error) => continue,
            other => return other,
        }
    }
}

/// Failures where the database rolled the whole transaction back and running it again can
/// succeed: a serialization failure, or PostgreSQL breaking a deadlock (40P01; diesel has no
/// kind for it, so its message is matched). Every path locks rows in one global order, so
/// deadlocks are not expected; if one happens, the loser is retried instead of answering 500.
///
/// A unique violation is retried too: it means a concurrent transaction inserted the same key
/// between this one's look-up and its insert (the first PUT of a resource, a push endpoint, a
/// marketplace reference). Run again, the look-up sees the winner's row and the request takes
/// the "already exists" path; if the key is still taken on the last attempt, the answer is
/// 409 `conflict`, never 500.
fn worth_retrying(error: &diesel::result::Error) -> bool {
    use diesel::result::{DatabaseErrorKind, Error};
    match error {
        Error::DatabaseError(DatabaseErrorKind::SerializationFailure | DatabaseErrorKind::UniqueViolation, _) => true,
        Error::DatabaseError(DatabaseErrorKind::Unknown, info) => info.message().starts_with("deadlock detected"),
        _ => false,
    }
}

fn run_in_tx<T>(conn: &mut DbConn, f: &mut impl FnMut(&mut DbConn) -> Result<T, ApiError>) -> Result<T, ApiError> {
    match conn {
        DbConn::Sqlite(c) => AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")?,
        DbConn::Postgres(c) => AnsiTransactionManager::begin_transaction(c)?,
    }
    let outcome = f(conn);
    finish_tx(conn, outcome)
}

/// Commits after success; rolls back after a failure and returns the failure.
fn finish_tx<T>(conn: &mut DbConn, outcome: Result<T, ApiError>) -> Result<T, ApiError> {
    match outcome {
        Ok(value) => {
            <DbConn as Connection>::TransactionManager::commit_transaction(conn)?;
            Ok(value)
        }
        Err(error) => {
            // The original error is what the caller needs; a failed rollback leaves the
            // connection marked broken and r2d2 discards it.
            if let Err(rollback) = <DbConn as Connection>::TransactionManager::rollback_transaction(conn) {
                tracing::error!(%rollback, "rollback failed");
            }
            Err(error)
        }
    }
}

/// Runs `f` in a read-only snapshot: every statement sees the same committed state. On
/// PostgreSQL `REPEATABLE READ READ ONLY` (a plain transaction would take a new snapshot per
/// statement, and a list could count rows its page then misses); on SQLite a deferred
/// transaction, whose first read fixes the snapshot (readers never block the writer under
/// WAL). A write inside fails on PostgreSQL, as it should.
pub fn read_tx<T>(conn: &mut DbConn, f: impl FnOnce(&mut DbConn) -> Result<T, ApiError>) -> Result<T, ApiError> {
    match conn {
        DbConn::Sqlite(c) => AnsiTransactionManager::begin_transaction_sql(c, "BEGIN DEFERRED")?,
        DbConn::Postgres(c) => {
            AnsiTransactionManager::begin_transaction_sql(c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")?
        }
    }
    let outcome = f(conn);
    finish_tx(conn, outcome)
}

/// Whether the pool's connections speak PostgreSQL, for the few dialect-specific statements.
pub fn is_postgres(conn: &DbConn) -> bool {
    matches!(conn, DbConn::Postgres(_))
}

/// Answers whether the database responds: `GET /ready`.
pub fn ping(conn: &mut DbConn) -> Result<(), ApiError> {
    conn.ping().map_err(ApiError::Database)
}

/// `INSERT ... ON CONFLICT DO NOTHING` (PostgreSQL) or `INSERT OR IGNORE` (SQLite): the one
/// upsert shape the code base needs, returning how many rows were inserted.
macro_rules! insert_or_ignore {
    ($conn:expr, $table:expr, $values:expr) => {{
        use diesel::RunQueryDsl as _;
        match $conn {
            $crate::db::DbConn::Postgres(c) => {
                diesel::insert_into($table).values($values).on_conflict_do_nothing().execute(c)
            }
            $crate::db::DbConn::Sqlite(c) => diesel::insert_or_ignore_into($table).values($values).execute(c),
        }
    }};
}
pub(crate) use insert_or_ignore;

/// A multi-row `INSERT`: diesel's multi-backend connection cannot batch inserts itself, so the
/// statement is built for the concrete backend.
macro_rules! insert_rows {
    ($conn:expr, $table:expr, $values:expr) => {{
        use diesel::RunQueryDsl as _;
        match $conn {
            $crate::db::DbConn::Postgres(c) => diesel::insert_into($table).values($values).execute(c),
            $crate::db::DbConn::Sqlite(c) => diesel::insert_into($table).values($values).execute(c),
        }
    }};
}
pub(crate) use insert_rows;

/// Runs the same query on whichever backend the connection speaks, adding `FOR UPDATE` on
/// PostgreSQL (SQLite's `BEGIN IMMEDIATE` already holds the one write lock).
///
/// Orders are locked `FOR NO KEY UPDATE` (`no_key_update`): the weaker lock lets a
/// transaction that holds a stock level still add an entry to the order's timeline (its
/// foreign key takes `FOR KEY SHARE`) instead of waiting on the order, which would invert the
/// lock order (commitments first, then stock). One step does change a key column: "ready"
/// writes the pickup code's hash (uniquely indexed), which takes the full row lock. It does so
/// only after locking every level of the order, so no transaction holding one of them can be
/// waiting to note this order's timeline.
macro_rules! locking {
    ($conn:expr, $query:expr, $run:ident, no_key_update, skip_locked) => {{
        use diesel::RunQueryDsl as _;
        match $conn {
            $crate::db::DbConn::Postgres(c) => $query.for_no_key_update().skip_locked().$run(c),
            $crate::db::DbConn::Sqlite(c) => $query.$run(c),
        }
    }};
    ($conn:expr, $query:expr, $run:ident, no_key_update) => {{
        use diesel::RunQueryDsl as _;
        match $conn {
            $crate::db::DbConn::Postgres(c) => $query.for_no_key_update().$run(c),
            $crate::db::DbConn::Sqlite(c) => $query.$run(c),
        }
    }};
    // `SKIP LOCKED`: for job claimers that share work rather than wait for each other.
    ($conn:expr, $query:expr, $run:ident, skip_locked) => {{
        use diesel::RunQueryDsl as _;
        match $conn {
            $crate::db::DbConn::Postgres(c) => $query.for_update().skip_locked().$run(c),
            $crate::db::DbConn::Sqlite(c) => $query.$run(c),
        }
    }};
    ($conn:expr, $query:expr, $run:ident) => {{
        use diesel::RunQueryDsl as _;
        match $conn {
            $crate::db::DbConn::Postgres(c) => $query.for_update().$run(c),
            $crate::db::DbConn::Sqlite(c) => $query.$run(c),
        }
    }};
}
pub(crate) use locking;

/// Locks and loads up to `limit` rows a background worker is due to handle: the status column
/// holds `status`, the `due` column is at or before `now`, taken in `order` (a fixed order, so
/// the locks are always taken the same way). On PostgreSQL rows another worker holds are
/// skipped (`SKIP LOCKED`): workers share the work instead of waiting on each other; SQLite
/// has one writer at a time.
macro_rules! due_rows {
    ($conn:expr, $table:ident, status $status:expr, due $due:ident <= $now:expr, order $order:ident, limit $limit:expr, $row:ty) => {
        $crate::db::locking!(
            $conn,
            $table::table
                .filter($table::status.eq($status))
                .filter($table::$due.le($now))
                .order($table::$order.asc())
                .limit($limit)
                .select(<$row>::as_select()),
            load,
            skip_locked
        )
    };
}
pub(crate) use due_rows;

/// Loads the row of `table` with key `key`, or answers 404 "no `what` `key`".
macro_rules! find_or_404 {
    ($conn:expr, $table:ident, $key:expr, $row:ty, $what:literal) => {{
        use diesel::{OptionalExtension as _, QueryDsl as _, RunQueryDsl as _, SelectableHelper as _};
        let key = $key;
        $table::table
            .find(key)
            .select(<$row>::as_select())
            .first($conn)
            .optional()?
            .ok_or_else(|| $crate::error::ApiError::NotFound(format!(concat!("no ", $what, " {}"), key)))
    }};
}
pub(crate) use find_or_404;
