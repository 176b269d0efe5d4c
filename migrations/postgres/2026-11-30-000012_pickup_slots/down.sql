DROP TABLE order_slots;
ALTER TABLE reservations DROP COLUMN slot_id;
DROP TABLE slot_bookings;
DROP TABLE slot_rules;
