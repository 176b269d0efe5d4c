-- Holds: units reserved at one location for a limited time. Kept in step with
-- migrations/sqlite.
CREATE TABLE reservations (
    id         TEXT PRIMARY KEY,
    location   TEXT NOT NULL REFERENCES locations (code),
    owner      TEXT NOT NULL,
    status     TEXT NOT NULL CHECK (status IN ('held', 'released', 'expired', 'converted')),
    expires_at TIMESTAMP NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
-- The sweeper and contention-time expiry look for held rows past their time.
CREATE INDEX reservations_due ON reservations (status, expires_at);
CREATE INDEX reservations_by_location ON reservations (location, status, expires_at);

CREATE TABLE reservation_lines (
    reservation_id TEXT NOT NULL REFERENCES reservations (id),
    sku            TEXT NOT NULL REFERENCES products (sku),
    quantity       BIGINT NOT NULL CHECK (quantity > 0),
    PRIMARY KEY (reservation_id, sku)
);
CREATE INDEX reservation_lines_by_sku ON reservation_lines (sku);
