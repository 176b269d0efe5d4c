ALTER TABLE customers DROP COLUMN channel_viber;
ALTER TABLE customers DROP COLUMN channel_whatsapp;
