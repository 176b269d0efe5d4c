-- Messages that are not about an order: a back-in-stock alert, a hold about to lapse. The
-- outbox's order_id becomes optional and `subject` names what else a message is about
-- (`alert:<id>`, `hold:<id>`); every row names one or the other. The channels widen for
-- WhatsApp and Viber. Marketing consent is kept apart from the channel choices (which are
-- transactional): back-in-stock alerts need it, and one click withdraws it. Kept in step
-- with migrations/sqlite.
ALTER TABLE notifications ALTER COLUMN order_id DROP NOT NULL;
ALTER TABLE notifications ADD COLUMN subject TEXT;
ALTER TABLE notifications ADD CONSTRAINT notifications_about CHECK (order_id IS NOT NULL OR subject IS NOT NULL);
ALTER TABLE notifications DROP CONSTRAINT notifications_channel_check;
ALTER TABLE notifications ADD CONSTRAINT notifications_channel_check
    CHECK (channel IN ('email', 'sms', 'push', 'webhook', 'whatsapp', 'viber'));
CREATE INDEX notifications_by_subject ON notifications (subject, created_at);
ALTER TABLE customer_consents DROP CONSTRAINT customer_consents_channel_check;
ALTER TABLE customer_consents ADD CONSTRAINT customer_consents_channel_check
    CHECK (channel IN ('email', 'sms', 'push', 'webhook', 'whatsapp', 'viber'));

CREATE TABLE marketing_consents (
    id          BIGSERIAL PRIMARY KEY,
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
