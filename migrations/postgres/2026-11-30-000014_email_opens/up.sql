-- Email opens are tracked (a signed pixel in the HTML part) unless the customer refuses it.
-- Kept in step with migrations/sqlite.
ALTER TABLE customers ADD COLUMN email_tracking BOOLEAN NOT NULL DEFAULT TRUE;
