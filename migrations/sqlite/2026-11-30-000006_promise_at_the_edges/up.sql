-- Issue "the promise holds everywhere". Kept in step with migrations/postgres.

-- The short order number messages show, now stored and unique. Existing orders keep the one
-- their messages already showed: the last eight hex digits of the id. (SQLite cannot add
-- NOT NULL to an existing column; the code always sets it.)
ALTER TABLE orders ADD COLUMN number TEXT;
UPDATE orders SET number = upper(substr(replace(id, '-', ''), 25, 8));
-- Two ids may share their last eight digits; such orders get the whole id (32 hex digits)
-- rather than failing the migration.
UPDATE orders SET number = upper(replace(id, '-', ''))
    WHERE number IN (SELECT number FROM orders GROUP BY number HAVING count(*) > 1);
CREATE UNIQUE INDEX orders_number ON orders (number);

-- Stock below what is reserved: the open commitments (orders and holds) at a level that its
-- on_hand no longer covers, and by how many units, since when. Derived data owned by the
-- level: only written while the level's row is locked, and without foreign keys, so writing it
-- never waits on an order's or a hold's row (which would invert the lock order: commitments
-- first, then stock).
CREATE TABLE stock_shorts (
    location  TEXT NOT NULL,
    sku       TEXT NOT NULL,
    holder    TEXT NOT NULL CHECK (holder IN ('order', 'hold')),
    holder_id TEXT NOT NULL,
    short     BIGINT NOT NULL CHECK (short > 0),
    since     TIMESTAMP NOT NULL,
    PRIMARY KEY (location, sku, holder, holder_id)
);
CREATE INDEX stock_shorts_by_holder ON stock_shorts (holder, holder_id);

-- A marketplace import's content, to tell a repeated import from a different one.
ALTER TABLE orders ADD COLUMN import_hash TEXT;

-- Per-customer limits count a customer's open holds.
CREATE INDEX reservations_by_owner ON reservations (owner, status);
