-- The sync feed: a channel's default location for imported orders, its webhook, how far
-- the webhook has pushed (a cursor into the change log, not a queue: a failing endpoint
-- cannot make it grow), and how far the change log has been pruned (a cursor before this
-- answers 410 and the consumer resyncs). Kept in
-- step with migrations/sqlite.
ALTER TABLE channels ADD COLUMN default_location TEXT REFERENCES locations (code);
ALTER TABLE channels ADD COLUMN webhook_url TEXT;
ALTER TABLE channels ADD COLUMN webhook_secret TEXT;

CREATE TABLE channel_pushes (
    channel          TEXT PRIMARY KEY REFERENCES channels (code) ON DELETE CASCADE,
    cursor_txid      BIGINT NOT NULL,
    cursor_seq       BIGINT NOT NULL,
    state            TEXT NOT NULL CHECK (state IN ('active', 'paused')),
    failures         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  TIMESTAMP NOT NULL,
    leased_until     TIMESTAMP,
    last_attempt_at  TIMESTAMP,
    last_success_at  TIMESTAMP,
    last_error       TEXT,
    batches_sent     BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX channel_pushes_due ON channel_pushes (state, next_attempt_at);

CREATE TABLE change_log_pruned (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    txid       BIGINT NOT NULL,
    seq        BIGINT NOT NULL,
    pruned_at  TIMESTAMP NOT NULL
);
CREATE INDEX changes_by_time ON changes (at);
