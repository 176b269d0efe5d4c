-- Orders may now be returned: two more statuses. Kept in step with migrations/sqlite.
ALTER TABLE orders DROP CONSTRAINT orders_status_check;
ALTER TABLE orders ADD CONSTRAINT orders_status_check CHECK (status IN ('confirmed', 'picking', 'ready_for_pickup',
    'collected', 'shipped', 'delivered', 'cancelled', 'expired', 'partially_returned', 'returned'));
