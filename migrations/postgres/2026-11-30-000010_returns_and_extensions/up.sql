-- Returns taken back at a store: one row per return, its lines with the condition each unit
-- came back in. Resellable units go back on that store's shelf through the ledger (reason
-- `return`, reference = the order); damaged and inspect units are recorded here only.
-- Kept in step with migrations/sqlite.
CREATE TABLE order_returns (
    id          TEXT PRIMARY KEY,
    order_id    TEXT NOT NULL REFERENCES orders (id),
    location    TEXT NOT NULL REFERENCES locations (code),
    actor       TEXT NOT NULL,
    at          TIMESTAMP NOT NULL
);
CREATE INDEX order_returns_order ON order_returns (order_id, at);

CREATE TABLE order_return_lines (
    return_id   TEXT NOT NULL REFERENCES order_returns (id),
    sku         TEXT NOT NULL,
    condition   TEXT NOT NULL,
    quantity    BIGINT NOT NULL CHECK (quantity > 0),
    PRIMARY KEY (return_id, sku, condition)
);

-- A hold may be extended once: when it was.
ALTER TABLE reservations ADD COLUMN extended_at TIMESTAMP;
