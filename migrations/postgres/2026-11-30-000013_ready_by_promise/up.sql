-- The ready-by promise: how many orders a store picks per hour (none set: the deployment's
-- PICKING_ORDERS_PER_HOUR), and the time each order was promised ready when it was sold.
-- Tables of their own: locations and orders have as many columns as the schema's tables may
-- hold. Kept in step with migrations/sqlite.
CREATE TABLE location_capacity (
    location          TEXT PRIMARY KEY REFERENCES locations (code),
    picking_per_hour  INTEGER NOT NULL CHECK (picking_per_hour > 0)
);

CREATE TABLE order_promises (
    order_id     TEXT PRIMARY KEY REFERENCES orders (id),
    promised_at  TIMESTAMP NOT NULL
);
