//! The change log: every committed change to a stock level or an order, written in the
//! transaction of the change, so the log holds exactly what was committed. Feeds, pushes
//! and live streams read it from a cursor.
//!
//! A cursor must never skip a change. On PostgreSQL `seq` comes from a sequence, and a
//! transaction that took seq 10 can commit after one that took seq 11: a reader that moved
//! past 11 while 10 was still in flight would never see 10. So each row also keeps the id of
//! the transaction that wrote it (`txid`, assigned by the database), and a reader takes only
//! rows whose transaction is older than every transaction still running: the snapshot's
//! `xmin`. Every transaction below it has finished, committed or rolled back, and any row
//! written later carries a larger id, so the rows below the horizon are final. The log's
//! order is (txid, seq), and a cursor is that pair: what a reader has passed can never gain a
//! row. A change becomes readable once every transaction older than it has finished, which
//! a long-running transaction delays but never reorders.
//!
//! On SQLite there is one writer at a time (`BEGIN IMMEDIATE`): rows are numbered and
//! committed in the same order, `txid` is 0, and the horizon is open.

pub mod bus;

use std::cell::RefCell;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{change_log_pruned, changes};
use crate::db::DbConn;
use crate::error::ApiError;

crate::db::stored::stored_enum! {
    /// What changed.
    pub enum ChangeKind as "change kind" {
        /// A stock level: its on-hand, reserved or availability.
        Level,
        /// An order: its status, a curbside arrival, an at-risk flag.
        Order,
    }
}

/// A place in the log: everything up to and including it has been read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Cursor {
    txid: i64,
    seq: i64,
}

impl Cursor {
    /// Before the first change.
    pub const START: Cursor = Cursor { txid: -1, seq: 0 };

    /// Reads the text form a reader was given (`http::formats::FEED_CURSOR`); `None` for
    /// anything else.
    pub fn parse(text: &str) -> Option<Cursor> {
        let (txid, seq) = text.split_once('.')?;
        let digits = |s: &str| (1..=18).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit());
        if !(txid == "-1" || digits(txid)) || !digits(seq) {
            return None;
        }
        let cursor = Cursor { txid: txid.parse().ok()?, seq: seq.parse().ok()? };
        (cursor >= Cursor::START).then_some(cursor)
    }

    /// A cursor kept as its two parts (a channel's push position).
    pub fn from_parts(txid: i64, seq: i64) -> Cursor {
        Cursor { txid, seq }
    }

    pub fn txid(&self) -> i64 {
        self.txid
    }

    pub fn seq(&self) -> i64 {
        self.seq
    }

    /// The text form readers keep: opaque to them.
    pub fn text(&self) -> String {
        format!("{}.{}", self.txid, self.seq)
    }
}

/// One change as the log keeps it: its place, and what was recorded.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable)]
#[diesel(table_name = changes)]
pub struct Change {
    pub seq: i64,
    pub txid: i64,
    #[diesel(embed)]
    pub what: NewChange,
}

impl Change {
    /// The cursor just past this change.
    pub fn cursor(&self) -> Cursor {
        Cursor { txid: self.txid, seq: self.seq }
    }
}

/// What is recorded; the database adds `seq` and `txid`. (`detail` is JSON: what the change
/// came to, a level's counts or an order's status.)
#[derive(Debug, Clone, PartialEq, Insertable, Queryable, Selectable)]
#[diesel(table_name = changes)]
pub struct NewChange {
    pub kind: String,
    pub location: String,
    pub at: NaiveDateTime,
    pub sku: Option<String>,
    pub order_id: Option<String>,
    pub detail: Option<String>,
}

/// What database work on one thread wrote to the log since it was last asked.
#[derive(Debug, Default)]
pub struct Recorded {
    /// Whether anything was written: readers of the log should look.
    pub any: bool,
    /// The levels `(location, sku)` noted as changed (possibly repeated): caches of
    /// availability on this process forget them at once.
    pub levels: Vec<(String, String)>,
}

thread_local! {
    static RECORDED: RefCell<Recorded> = RefCell::new(Recorded::default());
}

/// What the work just run on this thread wrote to the log, forgetting it. `AppState::db`
/// asks after the work (and so its transaction) has ended, and then tells the bus: readers
/// are woken only after commit, and at worst once in vain for a rollback.
pub fn take_recorded() -> Recorded {
    RECORDED.with(|recorded| std::mem::take(&mut *recorded.borrow_mut()))
}

fn note_recorded() {
    RECORDED.with(|recorded| recorded.borrow_mut().any = true);
}

fn note_levels(levels: &[(&str, &str)]) {
    RECORDED.with(|recorded| {
        let mut recorded = recorded.borrow_mut();
        recorded.any = true;
        recorded.levels.extend(levels.iter().map(|(location, sku)| (location.to_string(), sku.to_string())));
    });
}

/// Records a change in the caller's transaction.
pub fn record(conn: &mut DbConn, change: &NewChange) -> Result<(), ApiError> {
    diesel::insert_into(changes::table).values(change).execute(conn)?;
    note_recorded();
    Ok(())
}

/// Notes that the levels `(location, sku)` changed, once each, in the caller's transaction.
/// Readers take a level's counts as they are when they read: a later change to the same
/// level is then already in them, which is what "latest wins" asks.
pub fn levels_changed<'a>(
    conn: &mut DbConn,
    levels: impl IntoIterator<Item = (&'a str, &'a str)>,
    at: NaiveDateTime,
) -> Result<(), ApiError> {
    let mut levels: Vec<(&str, &str)> = levels.into_iter().collect();
    levels.sort_unstable();
    levels.dedup();
    match conn {
        // Many rows on PostgreSQL (a snapshot): one statement binding three column arrays.
        DbConn::Postgres(pg) if levels.len() > 64 => {
            use diesel::sql_types::{Array, Text, Timestamp};
            diesel::sql_query(
                "INSERT INTO changes (kind, location, sku, at) SELECT $1, l, s, $2 FROM UNNEST($3::text[], $4::text[]) AS v (l, s)",
            )
            .bind::<Text, _>(ChangeKind::Level.as_str())
            .bind::<Timestamp, _>(at)
            .bind::<Array<Text>, _>(levels.iter().map(|(location, _)| *location).collect::<Vec<&str>>())
            .bind::<Array<Text>, _>(levels.iter().map(|(_, sku)| *sku).collect::<Vec<&str>>())
            .execute(pg)?;
        }
        // Eight binds a row: well under SQLite's limit per statement.
        _ => {
            let rows: Vec<NewChange> = levels
                .iter()
                .map(|(location, sku)| NewChange {
                    kind: ChangeKind::Level.as_str().into(),
                    location: (*location).into(),
                    at,
                    sku: Some((*sku).into()),
                    order_id: None,
                    detail: None,
                })
                .collect();
            for chunk in rows.chunks(1_000) {
                crate::db::insert_rows!(conn, changes::table, chunk)?;
            }
        }
    }
    if !levels.is_empty() {
        note_levels(&levels);
    }
    Ok(())
}

/// Runs a read of the log for a follower of it (the stream hub, the stock memory): on the
/// blocking pool, with a pooled connection, in one read-only snapshot.
pub async fn read_on_pool<T, F>(pool: &crate::db::Pool, read: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&mut DbConn) -> Result<T, ApiError> + Send + 'static,
{
    let pool = pool.clone();
    actix_web::web::block(move || {
        let mut conn = pool.get().map_err(|e| ApiError::Pool(e.to_string()))?;
        crate::db::read_tx(&mut conn, read)
    })
    .await?
}

/// The highest `seq` any writer has taken so far, committed or not. A transaction holding a
/// level's row lock reads it to know that every change of that level with a higher `seq`
/// came after its read (a writer takes its `seq` after updating the level, so after the
/// lock), and every lower one before.
pub fn last_seq(conn: &mut DbConn) -> Result<i64, ApiError> {
    use diesel::sql_types::BigInt;
    let query = match conn {
        DbConn::Postgres(_) => "SELECT CASE WHEN is_called THEN last_value ELSE 0 END AS n FROM changes_seq_seq",
        DbConn::Sqlite(_) => "SELECT COALESCE(MAX(seq), 0) AS n FROM changes",
    };
    #[derive(QueryableByName)]
    struct Last {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let last: Last = match conn {
        DbConn::Postgres(pg) => diesel::sql_query(query).get_result(pg)?,
        DbConn::Sqlite(lite) => diesel::sql_query(query).get_result(lite)?,
    };
    Ok(last.n)
}

/// The oldest transaction id still running on PostgreSQL: rows below it are final. SQLite's
/// one writer commits in seq order, so there every committed row is final.
pub fn horizon(conn: &mut DbConn) -> Result<i64, ApiError> {
    match conn {
        DbConn::Postgres(pg) => Ok(diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(
            "pg_snapshot_xmin(pg_current_snapshot())::text::bigint",
        ))
        .get_result(pg)?),
        DbConn::Sqlite(_) => Ok(i64::MAX),
    }
}

/// Up to `limit` changes after `after`, in log order, none of which a later read could find
/// an earlier neighbour for.
pub fn read_after(conn: &mut DbConn, after: Cursor, limit: i64) -> Result<Vec<Change>, ApiError> {
    let horizon = horizon(conn)?;
    Ok(changes::table
        .filter(self::after(after))
        .filter(changes::txid.lt(horizon))
        .order((changes::txid.asc(), changes::seq.asc()))
        .limit(limit)
        .select(Change::as_select())
        .load(conn)?)
}

/// The filter "after `after`" in the log's order.
pub fn after(
    after: Cursor,
) -> Box<dyn BoxableExpression<changes::table, crate::db::Backend, SqlType = diesel::sql_types::Bool>> {
    Box::new(changes::txid.gt(after.txid).or(changes::txid.eq(after.txid).and(changes::seq.gt(after.seq))))
}

/// The newest position a reader can take now: everything up to it is final, and everything
/// committed later comes after it. An export's feed cursor is taken here.
pub fn head(conn: &mut DbConn) -> Result<Cursor, ApiError> {
    let horizon = horizon(conn)?;
    head_below(conn, horizon)
}

/// `head` for a reader that has already read the horizon in its transaction.
pub fn head_below(conn: &mut DbConn, horizon: i64) -> Result<Cursor, ApiError> {
    let last: Option<(i64, i64)> = changes::table
        .filter(changes::txid.lt(horizon))
        .order((changes::txid.desc(), changes::seq.desc()))
        .select((changes::txid, changes::seq))
        .first(conn)
        .optional()?;
    match last {
        Some((txid, seq)) => Ok(Cursor { txid, seq }),
        None => pruned_to(conn),
    }
}

/// How far the log has been pruned: a reader before this has lost changes.
pub fn pruned_to(conn: &mut DbConn) -> Result<Cursor, ApiError> {
    let pruned: Option<(i64, i64)> = change_log_pruned::table
        .find(1)
        .select((change_log_pruned::txid, change_log_pruned::seq))
        .first(conn)
        .optional()?;
    Ok(pruned.map(|(txid, seq)| Cursor { txid, seq }).unwrap_or(Cursor::START))
}

/// Refuses a cursor from before what the log keeps (410, `cursor-expired`): what it would
/// have read next may be gone, so its reader must export again.
pub fn check_kept(conn: &mut DbConn, cursor: Cursor) -> Result<(), ApiError> {
    let pruned = pruned_to(conn)?;
    if cursor < pruned {
        return Err(ApiError::CursorExpired(format!(
            "cursor {} is older than the change log keeps (it now starts after {}); export the channel \
             again and continue from its feed_cursor",
            cursor.text(),
            pruned.text()
        )));
    }
    Ok(())
}

/// Deletes up to `batch` of the oldest final rows written before `before`, and remembers
/// where the log now starts. Returns how many rows went.
pub fn prune(conn: &mut DbConn, before: NaiveDateTime, batch: i64) -> Result<usize, ApiError> {
    let horizon = horizon(conn)?;
    let oldest: Vec<(i64, i64)> = changes::table
        .filter(changes::at.lt(before))
        .filter(changes::txid.lt(horizon))
        .order((changes::txid.asc(), changes::seq.asc()))
        .limit(batch)
        .select((changes::txid, changes::seq))
        .load(conn)?;
    let Some(&(txid, seq)) = oldest.last() else { return Ok(0) };
    let through = Cursor { txid, seq };
    // The mark moves first and only forward: a reader that passes the check below it has
    // lost nothing, whichever pruner wins a race.
    if through > pruned_to(conn)? {
        let now = chrono::Utc::now().naive_utc();
        let moved = diesel::update(change_log_pruned::table.find(1))
            .set((
                change_log_pruned::txid.eq(txid),
                change_log_pruned::seq.eq(seq),
                change_log_pruned::pruned_at.eq(now),
            ))
            .execute(conn)?;
        if moved == 0 {
            diesel::insert_into(change_log_pruned::table)
                .values((
                    change_log_pruned::id.eq(1),
                    change_log_pruned::txid.eq(txid),
                    change_log_pruned::seq.eq(seq),
                    change_log_pruned::pruned_at.eq(now),
                ))
                .execute(conn)?;
        }
    }
    let gone = diesel::delete(changes::table.filter(diesel::dsl::not(after(through)))).execute(conn)?;
    Ok(gone)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_read_back_and_refuse_anything_else() {
        let cursor = Cursor { txid: 61036, seq: 12 };
        assert_eq!(Cursor::parse(&cursor.text()), Some(cursor));
        assert_eq!(Cursor::parse(&Cursor::START.text()), Some(Cursor::START));
        assert!(Cursor::START < cursor && Cursor { txid: 0, seq: 3 } < Cursor { txid: 0, seq: 4 });
        for bad in ["", "12", "a.b", "1.2.3", "-2.0", " 1.2", "+1.2", "1.-2", "1234567890123456789.1"] {
            assert_eq!(Cursor::parse(bad), None, "{bad}");
        }
    }
}
