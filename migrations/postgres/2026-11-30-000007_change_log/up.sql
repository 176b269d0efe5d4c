-- The change log: every committed change to a stock level or an order, written in the
-- transaction of the change. Kept in step with migrations/sqlite.
--
-- A reader must never skip a change. `seq` comes from a sequence, and sequence values
-- are taken before commit: a transaction holding seq 10 can commit after one holding
-- 11, and a reader that had moved past 11 would never see 10. So each row also keeps the id
-- of the transaction that wrote it (`txid`), readers only take rows whose transaction is
-- older than every transaction still running (the snapshot's xmin: all of those have
-- finished, and any later row will carry a larger id), and the log's order is
-- (txid, seq). See src/changes/mod.rs.
CREATE TABLE changes (
    seq  BIGSERIAL PRIMARY KEY,
    txid      BIGINT NOT NULL DEFAULT (pg_current_xact_id()::text::bigint),
    at        TIMESTAMP NOT NULL,
    kind      TEXT NOT NULL CHECK (kind IN ('level', 'order')),
    location  TEXT NOT NULL,
    sku       TEXT,
    order_id  TEXT,
    detail    TEXT
);
CREATE INDEX changes_in_log_order ON changes (txid, seq);
