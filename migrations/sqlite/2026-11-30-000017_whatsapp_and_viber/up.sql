-- WhatsApp is a channel a customer chooses like the others (the outbox's and the consents'
-- checks already take it, 000016). Off for everyone until they choose it.
ALTER TABLE customers ADD COLUMN channel_whatsapp BOOLEAN NOT NULL DEFAULT FALSE;
-- Viber (through Infobip) likewise.
ALTER TABLE customers ADD COLUMN channel_viber BOOLEAN NOT NULL DEFAULT FALSE;
