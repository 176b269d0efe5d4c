-- Ship-to-store. A lane says a location (a warehouse or another store) sends stock to a store
-- in so many of the store's working days. An order at the store may take lines the store
-- lacks from a lane's source: the units are reserved there at once and a transfer carries them;
-- the order waits as awaiting_transfer until the store receives it. transfer_lines.received
-- stays NULL until then. Kept in step with migrations/postgres.
-- The orders table is rebuilt for its wider status CHECK as in 000011 (SQLite cannot alter
-- a CHECK), so this runs outside diesel's transaction with its own.
PRAGMA foreign_keys = OFF;
BEGIN IMMEDIATE;
CREATE TABLE orders_rebuilt (
    id                TEXT PRIMARY KEY,
    location          TEXT NOT NULL REFERENCES locations (code),
    fulfilment        TEXT NOT NULL CHECK (fulfilment IN ('pickup', 'curbside', 'delivery')),
    status            TEXT NOT NULL CHECK (status IN ('awaiting_transfer', 'confirmed', 'picking', 'ready_for_pickup', 'collected',
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
CREATE TABLE transfer_lanes (
    from_location TEXT NOT NULL REFERENCES locations (code),
    to_location   TEXT NOT NULL REFERENCES locations (code),
    working_days  INTEGER NOT NULL CHECK (working_days BETWEEN 1 AND 30),
    updated_at    TIMESTAMP NOT NULL,
    PRIMARY KEY (to_location, from_location),
    CHECK (from_location <> to_location)
);

CREATE TABLE transfers (
    id            TEXT PRIMARY KEY,
    order_id      TEXT NOT NULL REFERENCES orders (id),
    from_location TEXT NOT NULL REFERENCES locations (code),
    to_location   TEXT NOT NULL REFERENCES locations (code),
    status        TEXT NOT NULL CHECK (status IN ('in_transit', 'received', 'partial', 'lost', 'cancelled')),
    expected_at   TIMESTAMP NOT NULL,
    received_at   TIMESTAMP,
    received_by   TEXT,
    created_at    TIMESTAMP NOT NULL,
    updated_at    TIMESTAMP NOT NULL
);
CREATE INDEX transfers_by_destination ON transfers (to_location, status, expected_at);
CREATE INDEX transfers_by_source ON transfers (from_location, status);
CREATE INDEX transfers_by_order ON transfers (order_id);

CREATE TABLE transfer_lines (
    transfer_id TEXT NOT NULL REFERENCES transfers (id),
    sku         TEXT NOT NULL,
    quantity    BIGINT NOT NULL CHECK (quantity > 0),
    received    BIGINT CHECK (received >= 0 AND received <= quantity),
    PRIMARY KEY (transfer_id, sku)
);
COMMIT;
PRAGMA foreign_keys = ON;
