-- When an admin last asked for a notification to be sent again. A resent message is an
-- explicit request: the fallback policy no longer holds it back.
ALTER TABLE notifications ADD COLUMN resent_at TIMESTAMP;
