ALTER TABLE customers DROP COLUMN email_tracking;
