ALTER TABLE customers DROP COLUMN channel_whatsapp;
