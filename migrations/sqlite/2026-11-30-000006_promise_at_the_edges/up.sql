-- Issue "the promise holds everywhere". Kept in step with migrations/postgres.

-- The short order number messages show, now stored and unique. Existing orders keep the one
-- their messages already showed: the last eight hex digits of the id. (SQLite cannot add
-- NOT NULL to an existing column; the code always sets it.)
ALTER TABLE orders ADD COLUMN number TEXT;
UPDATE orders SET number = upper(substr(replace(id, '-', ''), 25, 8));
CREATE UNIQUE INDEX orders_number ON orders (number);

-- Stock below what is reserved: the commitments that can no longer all be served. `short` is
-- how many units of a line on_hand no longer covers, since `short_since`; an order or hold
-- with a short line is at risk.
ALTER TABLE order_lines ADD COLUMN short BIGINT NOT NULL DEFAULT 0 CHECK (short >= 0);
ALTER TABLE order_lines ADD COLUMN short_since TIMESTAMP;
CREATE INDEX order_lines_short ON order_lines (order_id) WHERE short > 0;
ALTER TABLE reservation_lines ADD COLUMN short BIGINT NOT NULL DEFAULT 0 CHECK (short >= 0);
ALTER TABLE reservation_lines ADD COLUMN short_since TIMESTAMP;

-- A marketplace import's content, to tell a repeated import from a different one.
ALTER TABLE orders ADD COLUMN import_hash TEXT;

-- Per-customer limits count a customer's open holds.
CREATE INDEX reservations_by_owner ON reservations (owner, status);
