DROP TABLE order_events;
DROP TABLE order_arrivals;
DROP TABLE order_shipments;
DROP TABLE order_lines;
DROP TABLE orders;
