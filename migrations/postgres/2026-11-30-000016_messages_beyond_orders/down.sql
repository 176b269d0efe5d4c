DROP TABLE stock_alerts;
DROP TABLE marketing_consents;
DROP INDEX notifications_by_subject;
ALTER TABLE notifications DROP CONSTRAINT notifications_about;
ALTER TABLE notifications DROP COLUMN subject;
-- order_id stays optional and the channels wide: rows made since may need both.
