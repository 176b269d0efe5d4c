-- Pickup and curbside slots. A store's rules (JSON, see src/slots/model.rs) say which slots it
-- offers and how many bookings each takes; slots themselves are not rows. A slot's bookings
-- are one counter row, made on its first booking and moved with a conditional UPDATE
-- (booked < capacity), the guard stock has: never overbooked. Holds and orders name the slot
-- they booked. Kept in step with migrations/postgres.
CREATE TABLE slot_rules (
    location    TEXT PRIMARY KEY REFERENCES locations (code),
    rules       TEXT NOT NULL,
    updated_at  TIMESTAMP NOT NULL
);

CREATE TABLE slot_bookings (
    location    TEXT NOT NULL REFERENCES locations (code),
    fulfilment  TEXT NOT NULL,
    starts_at   TIMESTAMP NOT NULL,
    minutes     INTEGER NOT NULL,
    booked      BIGINT NOT NULL CHECK (booked >= 0),
    PRIMARY KEY (location, fulfilment, starts_at, minutes)
);

ALTER TABLE reservations ADD COLUMN slot_id TEXT;

-- The slot an order booked (orders has as many columns as the schema's tables may hold).
CREATE TABLE order_slots (
    order_id    TEXT PRIMARY KEY REFERENCES orders (id),
    slot_id     TEXT NOT NULL
);
