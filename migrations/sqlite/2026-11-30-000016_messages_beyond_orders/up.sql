-- Messages that are not about an order: a back-in-stock alert, a hold about to lapse. The
-- outbox's order_id becomes optional and `subject` names what else a message is about
-- (`alert:<id>`, `hold:<id>`); every row names one or the other. The channels widen for
-- WhatsApp and Viber. Marketing consent is kept apart from the channel choices (which are
-- transactional): back-in-stock alerts need it, and one click withdraws it. Kept in step
-- with migrations/postgres. SQLite cannot drop a NOT NULL or alter a CHECK: the two tables
-- are rebuilt as in 000011, outside diesel's transaction, in one of their own.
PRAGMA foreign_keys = OFF;
BEGIN IMMEDIATE;
CREATE TABLE notifications_rebuilt (
    id              TEXT PRIMARY KEY,
    order_id        TEXT REFERENCES orders (id),
    customer_id     TEXT NOT NULL,
    event           TEXT NOT NULL,
    channel         TEXT NOT NULL CHECK (channel IN ('email', 'sms', 'push', 'webhook', 'whatsapp', 'viber')),
    status          TEXT NOT NULL CHECK (status IN ('queued', 'sent', 'delivered', 'opened', 'failed', 'suppressed')),
    dedupe_key      TEXT NOT NULL UNIQUE,
    attempts        INTEGER NOT NULL,
    next_attempt_at TIMESTAMP NOT NULL,
    retry_until     TIMESTAMP NOT NULL,
    created_at      TIMESTAMP NOT NULL,
    sent_at         TIMESTAMP,
    error           TEXT,
    provider_ref    TEXT,
    resent_at       TIMESTAMP,
    subject         TEXT,
    CHECK (order_id IS NOT NULL OR subject IS NOT NULL)
);
INSERT INTO notifications_rebuilt (id, order_id, customer_id, event, channel, status, dedupe_key, attempts,
    next_attempt_at, retry_until, created_at, sent_at, error, provider_ref, resent_at)
SELECT id, order_id, customer_id, event, channel, status, dedupe_key, attempts, next_attempt_at, retry_until,
    created_at, sent_at, error, provider_ref, resent_at
FROM notifications;
DROP TABLE notifications;
ALTER TABLE notifications_rebuilt RENAME TO notifications;
CREATE INDEX notifications_due ON notifications (status, next_attempt_at);
CREATE INDEX notifications_by_order ON notifications (order_id, created_at);
CREATE INDEX notifications_by_provider_ref ON notifications (channel, provider_ref);
CREATE INDEX notifications_by_subject ON notifications (subject, created_at);

CREATE TABLE customer_consents_rebuilt (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    customer_id TEXT NOT NULL REFERENCES customers (id),
    channel     TEXT NOT NULL CHECK (channel IN ('email', 'sms', 'push', 'webhook', 'whatsapp', 'viber')),
    granted     BOOLEAN NOT NULL,
    at          TIMESTAMP NOT NULL,
    source      TEXT NOT NULL
);
INSERT INTO customer_consents_rebuilt (id, customer_id, channel, granted, at, source)
SELECT id, customer_id, channel, granted, at, source FROM customer_consents;
DROP TABLE customer_consents;
ALTER TABLE customer_consents_rebuilt RENAME TO customer_consents;
CREATE INDEX customer_consents_by_customer ON customer_consents (customer_id, id);

CREATE TABLE marketing_consents (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    customer_id TEXT NOT NULL REFERENCES customers (id),
    granted     BOOLEAN NOT NULL,
    at          TIMESTAMP NOT NULL,
    source      TEXT NOT NULL
);
CREATE INDEX marketing_consents_by_customer ON marketing_consents (customer_id, id);

-- A shopper's wish to hear when a SKU is back: at some stores (a JSON array of codes),
-- online, or both, for at least `quantity` units. Told once: `notified` then.
CREATE TABLE stock_alerts (
    id          TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL REFERENCES customers (id),
    sku         TEXT NOT NULL REFERENCES products (sku),
    locations   TEXT NOT NULL,
    online      BOOLEAN NOT NULL,
    quantity    BIGINT NOT NULL CHECK (quantity > 0),
    status      TEXT NOT NULL CHECK (status IN ('active', 'notified', 'cancelled')),
    found_at    TEXT,
    notified_at TIMESTAMP,
    created_at  TIMESTAMP NOT NULL
);
CREATE INDEX stock_alerts_active ON stock_alerts (status, sku);
CREATE INDEX stock_alerts_by_customer ON stock_alerts (customer_id, created_at);
COMMIT;
PRAGMA foreign_keys = ON;
