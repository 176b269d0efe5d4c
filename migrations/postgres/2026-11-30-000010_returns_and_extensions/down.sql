ALTER TABLE reservations DROP COLUMN extended_at;
DROP TABLE order_return_lines;
DROP TABLE order_returns;
