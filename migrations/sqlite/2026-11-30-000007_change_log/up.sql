-- The change log: every committed change to a stock level or an order, written in the
-- transaction of the change. Kept in step with migrations/postgres.
--
-- SQLite has one writer at a time (`BEGIN IMMEDIATE`), so positions are taken and committed
-- in the same order and `txid` stays 0: the log's order is its seq.
CREATE TABLE changes (
    seq  INTEGER PRIMARY KEY AUTOINCREMENT,
    txid      BIGINT NOT NULL DEFAULT 0,
    at        TIMESTAMP NOT NULL,
    kind      TEXT NOT NULL CHECK (kind IN ('level', 'order')),
    location  TEXT NOT NULL,
    sku       TEXT,
    order_id  TEXT,
    detail    TEXT
);
CREATE INDEX changes_in_log_order ON changes (txid, seq);
