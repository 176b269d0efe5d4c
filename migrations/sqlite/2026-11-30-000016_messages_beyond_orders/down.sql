DROP TABLE stock_alerts;
DROP TABLE marketing_consents;
DROP INDEX notifications_by_subject;
-- order_id stays optional, `subject` stays (the table's CHECK names it) and the channels stay
-- wide: rows made since may need all three.
