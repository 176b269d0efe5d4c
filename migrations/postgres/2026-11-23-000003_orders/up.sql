-- Orders, their lines and their timeline. Kept in step with migrations/sqlite.
CREATE TABLE orders (
    id                TEXT PRIMARY KEY,
    location          TEXT NOT NULL REFERENCES locations (code),
    fulfilment        TEXT NOT NULL CHECK (fulfilment IN ('pickup', 'curbside', 'delivery')),
    status            TEXT NOT NULL CHECK (status IN ('confirmed', 'picking', 'ready_for_pickup', 'collected',
                                                      'shipped', 'delivered', 'cancelled', 'expired')),
    customer_id       TEXT NOT NULL,
    created_by        TEXT NOT NULL,
    channel           TEXT,
    external_ref      TEXT,
    reservation_id    TEXT REFERENCES reservations (id),
    pickup_code_hash  TEXT,
    pickup_code_nonce TEXT,
    pickup_deadline   TIMESTAMP,
    created_at        TIMESTAMP NOT NULL,
    updated_at        TIMESTAMP NOT NULL
);
-- external_ref is unique per channel (orders imported by sync jobs).
CREATE UNIQUE INDEX orders_external_ref ON orders (channel, external_ref);
CREATE INDEX orders_by_store ON orders (location, status, created_at);
CREATE INDEX orders_by_customer ON orders (customer_id, created_at);
CREATE UNIQUE INDEX orders_pickup_code ON orders (location, pickup_code_hash);
CREATE INDEX orders_pickup_due ON orders (status, pickup_deadline);

CREATE TABLE order_lines (
    order_id TEXT NOT NULL REFERENCES orders (id),
    sku      TEXT NOT NULL REFERENCES products (sku),
    quantity BIGINT NOT NULL CHECK (quantity >= 0),
    PRIMARY KEY (order_id, sku)
);

-- Delivery orders: how they left.
CREATE TABLE order_shipments (
    order_id        TEXT PRIMARY KEY REFERENCES orders (id),
    carrier         TEXT NOT NULL,
    tracking_number TEXT NOT NULL,
    shipped_at      TIMESTAMP NOT NULL
);

-- Curbside: the customer has arrived and is waiting.
CREATE TABLE order_arrivals (
    order_id   TEXT PRIMARY KEY REFERENCES orders (id),
    arrived_at TIMESTAMP NOT NULL,
    bay        TEXT,
    vehicle    TEXT,
    note       TEXT
);

CREATE TABLE order_events (
    id       BIGSERIAL PRIMARY KEY,
    order_id TEXT NOT NULL REFERENCES orders (id),
    at       TIMESTAMP NOT NULL,
    actor    TEXT NOT NULL,
    kind     TEXT NOT NULL,
    detail   TEXT
);
CREATE INDEX order_events_by_order ON order_events (order_id, id);
