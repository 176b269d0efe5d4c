ALTER TABLE notifications DROP COLUMN resent_at;
