-- The store console's devices: an admin's pairing link makes a row (pending until the
-- device opens it); the device trades the link's one-time code for a staff token naming the
-- device, and the row records it. Revoking the row signs the device out. Only the code's
-- hash is kept. Kept in step with migrations/postgres.
CREATE TABLE console_devices (
    id                  TEXT PRIMARY KEY,
    store               TEXT NOT NULL REFERENCES locations (code),
    label               TEXT,
    pairing_code_hash   TEXT NOT NULL UNIQUE,
    pairing_expires_at  TIMESTAMP NOT NULL,
    paired_at           TIMESTAMP,
    token_expires_at    TIMESTAMP,
    created_at          TIMESTAMP NOT NULL,
    created_by          TEXT NOT NULL,
    revoked_at          TIMESTAMP,
    revoked_by          TEXT
);
CREATE INDEX console_devices_store ON console_devices (store, created_at);
CREATE INDEX console_devices_revoked ON console_devices (revoked_at);
