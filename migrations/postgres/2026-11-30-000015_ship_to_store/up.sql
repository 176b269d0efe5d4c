-- Ship-to-store. A lane says a location (a warehouse or another store) sends stock to a store
-- in so many of the store's working days. An order at the store may take lines the store
-- lacks from a lane's source: the units are reserved there at once and a transfer carries them;
-- the order waits as awaiting_transfer until the store receives it. transfer_lines.received
-- stays NULL until then. Kept in step with migrations/sqlite.
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

-- A new first status for orders that wait on a transfer.
ALTER TABLE orders DROP CONSTRAINT orders_status_check;
ALTER TABLE orders ADD CONSTRAINT orders_status_check CHECK (status IN ('awaiting_transfer', 'confirmed', 'picking', 'ready_for_pickup',
    'collected', 'shipped', 'delivered', 'cancelled', 'expired', 'partially_returned', 'returned'));
