DROP TABLE idempotency_keys;
DROP TABLE channel_locations;
DROP TABLE channels;
DROP TABLE stock_movements;
DROP FUNCTION stock_movements_append_only();
DROP TABLE stock_levels;
DROP TABLE products;
DROP TABLE locations;
