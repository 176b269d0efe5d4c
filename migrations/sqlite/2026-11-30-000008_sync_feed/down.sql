DROP INDEX changes_by_time;
DROP TABLE change_log_pruned;
DROP TABLE channel_pushes;
ALTER TABLE channels DROP COLUMN webhook_secret;
ALTER TABLE channels DROP COLUMN webhook_url;
ALTER TABLE channels DROP COLUMN default_location;
