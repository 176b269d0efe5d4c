DROP INDEX reservations_by_owner;
ALTER TABLE orders DROP COLUMN import_hash;
ALTER TABLE reservation_lines DROP COLUMN short_since;
ALTER TABLE reservation_lines DROP COLUMN short;
DROP INDEX order_lines_short;
ALTER TABLE order_lines DROP COLUMN short_since;
ALTER TABLE order_lines DROP COLUMN short;
DROP INDEX orders_number;
ALTER TABLE orders DROP COLUMN number;
