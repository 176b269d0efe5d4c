-- Locations, products, stock levels and their append-only ledger, sales channels and
-- idempotency keys. Kept in step with migrations/sqlite: same tables, same columns, same
-- constraints, only the dialect differs.

CREATE TABLE locations (
    code             TEXT PRIMARY KEY,
    name             TEXT NOT NULL,
    kind             TEXT NOT NULL CHECK (kind IN ('store', 'warehouse')),
    timezone         TEXT NOT NULL,
    address          TEXT,
    latitude         DOUBLE PRECISION CHECK (latitude BETWEEN -90 AND 90),
    longitude        DOUBLE PRECISION CHECK (longitude BETWEEN -180 AND 180),
    pickup_in_store  BOOLEAN NOT NULL,
    pickup_curbside  BOOLEAN NOT NULL,
    pickup_hold_days INTEGER NOT NULL CHECK (pickup_hold_days >= 0),
    fulfils_online   BOOLEAN NOT NULL,
    active           BOOLEAN NOT NULL,
    locale           TEXT,
    opening_hours    TEXT,
    created_at       TIMESTAMP NOT NULL,
    updated_at       TIMESTAMP NOT NULL
);

CREATE TABLE products (
    sku                TEXT PRIMARY KEY,
    name               TEXT NOT NULL,
    price_amount_minor BIGINT NOT NULL CHECK (price_amount_minor >= 0),
    price_currency     TEXT NOT NULL,
    created_at         TIMESTAMP NOT NULL,
    updated_at         TIMESTAMP NOT NULL
);

CREATE TABLE stock_levels (
    location        TEXT NOT NULL REFERENCES locations (code),
    sku             TEXT NOT NULL REFERENCES products (sku),
    on_hand         BIGINT NOT NULL CHECK (on_hand >= 0),
    reserved        BIGINT NOT NULL CHECK (reserved >= 0),
    safety_stock    BIGINT NOT NULL CHECK (safety_stock >= 0),
    last_counted_at TIMESTAMP,
    updated_at      TIMESTAMP NOT NULL,
    PRIMARY KEY (location, sku)
);
-- Availability reads go by SKU across locations.
CREATE INDEX stock_levels_by_sku ON stock_levels (sku, location);

CREATE TABLE stock_movements (
    id             BIGSERIAL PRIMARY KEY,
    location       TEXT NOT NULL,
    sku            TEXT NOT NULL,
    delta_on_hand  BIGINT NOT NULL,
    delta_reserved BIGINT NOT NULL,
    reason         TEXT NOT NULL,
    reference      TEXT,
    actor          TEXT NOT NULL,
    at             TIMESTAMP NOT NULL,
    FOREIGN KEY (location, sku) REFERENCES stock_levels (location, sku)
);
CREATE INDEX stock_movements_by_level ON stock_movements (location, sku, id);

-- The ledger is append-only: an audit trail that can be edited is no audit trail.
CREATE FUNCTION stock_movements_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'stock_movements is append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER stock_movements_no_update BEFORE UPDATE OR DELETE ON stock_movements
    FOR EACH ROW EXECUTE FUNCTION stock_movements_append_only();

CREATE TABLE channels (
    code       TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    buffer     BIGINT NOT NULL CHECK (buffer >= 0),
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE channel_locations (
    channel  TEXT NOT NULL REFERENCES channels (code) ON DELETE CASCADE,
    location TEXT NOT NULL REFERENCES locations (code),
    PRIMARY KEY (channel, location)
);

CREATE TABLE idempotency_keys (
    owner           TEXT NOT NULL,
    key             TEXT NOT NULL,
    request_hash    TEXT NOT NULL,
    response_status INTEGER,
    response_body   TEXT,
    created_at      TIMESTAMP NOT NULL,
    PRIMARY KEY (owner, key)
);
CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at);
