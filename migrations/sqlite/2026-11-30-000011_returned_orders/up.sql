-- Orders may now be returned: two more statuses. SQLite cannot alter a CHECK constraint, so
-- the table is rebuilt (the procedure SQLite's documentation gives for ALTER TABLE): foreign
-- keys off, a new table, the rows copied, the old one dropped, the new one renamed, the
-- indexes made again, all in one transaction (the copy is of the same rows, so every key
-- that held before holds after). Kept in step with
-- migrations/postgres.
PRAGMA foreign_keys = OFF;
BEGIN IMMEDIATE;
CREATE TABLE orders_rebuilt (
    id                TEXT PRIMARY KEY,
    location          TEXT NOT NULL REFERENCES locations (code),
    fulfilment        TEXT NOT NULL CHECK (fulfilment IN ('pickup', 'curbside', 'delivery')),
    status            TEXT NOT NULL CHECK (status IN ('confirmed', 'picking', 'ready_for_pickup', 'collected',
                                                      'shipped', 'delivered', 'cancelled', 'expired',
                                                      'partially_returned', 'returned')),
    customer_id       TEXT NOT NULL,
    created_by        TEXT NOT NULL,
    channel           TEXT,
    external_ref      TEXT,
    reservation_id    TEXT REFERENCES reservations (id),
    pickup_code_hash  TEXT,
    pickup_code_nonce TEXT,
    pickup_deadline   TIMESTAMP,
    created_at        TIMESTAMP NOT NULL,
    updated_at        TIMESTAMP NOT NULL,
    number            TEXT,
    import_hash       TEXT
);
INSERT INTO orders_rebuilt (id, location, fulfilment, status, customer_id, created_by, channel, external_ref,
    reservation_id, pickup_code_hash, pickup_code_nonce, pickup_deadline, created_at, updated_at, number,
    import_hash)
SELECT id, location, fulfilment, status, customer_id, created_by, channel, external_ref, reservation_id,
    pickup_code_hash, pickup_code_nonce, pickup_deadline, created_at, updated_at, number, import_hash
FROM orders;
DROP TABLE orders;
ALTER TABLE orders_rebuilt RENAME TO orders;
CREATE UNIQUE INDEX orders_external_ref ON orders (channel, external_ref);
CREATE INDEX orders_by_store ON orders (location, status, created_at);
CREATE INDEX orders_by_customer ON orders (customer_id, created_at);
CREATE UNIQUE INDEX orders_pickup_code ON orders (location, pickup_code_hash);
CREATE INDEX orders_pickup_due ON orders (status, pickup_deadline);
CREATE UNIQUE INDEX orders_number ON orders (number);
COMMIT;
PRAGMA foreign_keys = ON;
