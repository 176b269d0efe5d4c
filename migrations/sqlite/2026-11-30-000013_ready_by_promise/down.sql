DROP TABLE order_promises;
DROP TABLE location_capacity;
