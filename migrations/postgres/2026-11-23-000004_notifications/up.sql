-- Customers, their consents and push subscriptions, and the notification outbox. Kept in
-- step with migrations/sqlite.
CREATE TABLE customers (
    id              TEXT PRIMARY KEY,
    name            TEXT,
    email           TEXT,
    phone           TEXT,
    locale          TEXT,
    timezone        TEXT,
    channel_email   BOOLEAN NOT NULL,
    channel_sms     BOOLEAN NOT NULL,
    channel_push    BOOLEAN NOT NULL,
    channel_webhook BOOLEAN NOT NULL,
    webhook_url     TEXT,
    created_at      TIMESTAMP NOT NULL,
    updated_at      TIMESTAMP NOT NULL
);

-- Every change of a channel choice: when, how and by whom it was given or withdrawn.
CREATE TABLE customer_consents (
    id          BIGSERIAL PRIMARY KEY,
    customer_id TEXT NOT NULL REFERENCES customers (id),
    channel     TEXT NOT NULL CHECK (channel IN ('email', 'sms', 'push', 'webhook')),
    granted     BOOLEAN NOT NULL,
    at          TIMESTAMP NOT NULL,
    source      TEXT NOT NULL
);
CREATE INDEX customer_consents_by_customer ON customer_consents (customer_id, id);

CREATE TABLE push_subscriptions (
    id          TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL REFERENCES customers (id),
    endpoint    TEXT NOT NULL UNIQUE,
    p256dh      TEXT NOT NULL,
    auth        TEXT NOT NULL,
    created_at  TIMESTAMP NOT NULL
);
CREATE INDEX push_subscriptions_by_customer ON push_subscriptions (customer_id);

-- The transactional outbox: written in the same transaction as the order change it tells
-- about, sent later by the sender. One row per (order, event, channel): dedupe_key.
CREATE TABLE notifications (
    id              TEXT PRIMARY KEY,
    order_id        TEXT NOT NULL REFERENCES orders (id),
    customer_id     TEXT NOT NULL,
    event           TEXT NOT NULL,
    channel         TEXT NOT NULL CHECK (channel IN ('email', 'sms', 'push', 'webhook')),
    status          TEXT NOT NULL CHECK (status IN ('queued', 'sent', 'delivered', 'opened', 'failed', 'suppressed')),
    dedupe_key      TEXT NOT NULL UNIQUE,
    attempts        INTEGER NOT NULL,
    next_attempt_at TIMESTAMP NOT NULL,
    retry_until     TIMESTAMP NOT NULL,
    created_at      TIMESTAMP NOT NULL,
    sent_at         TIMESTAMP,
    error           TEXT,
    provider_ref    TEXT
);
CREATE INDEX notifications_due ON notifications (status, next_attempt_at);
CREATE INDEX notifications_by_order ON notifications (order_id, created_at);
-- Delivery receipts find their notification by the provider's message id.
CREATE INDEX notifications_by_provider_ref ON notifications (channel, provider_ref);
