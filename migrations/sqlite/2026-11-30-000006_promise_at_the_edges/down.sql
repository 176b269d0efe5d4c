DROP INDEX reservations_by_owner;
ALTER TABLE orders DROP COLUMN import_hash;
DROP TABLE stock_shorts;
DROP INDEX orders_number;
ALTER TABLE orders DROP COLUMN number;
