-- The WhatsApp guest assistant: per guest phone (digits) what the conversation knows so far and
-- what the last answer offered (`state`, JSON owned by the server), the guest's WhatsApp profile
-- name, the owner's per-conversation switch, and a version for compare-and-set saves (one
-- message of a phone is answered at a time, in order).
CREATE TABLE assistant_sessions (
    phone TEXT PRIMARY KEY,
    profile_name TEXT,
    state TEXT NOT NULL DEFAULT '{}',
    enabled BOOLEAN NOT NULL DEFAULT TRUE,
    version BIGINT NOT NULL DEFAULT 0,
    updated_at TIMESTAMPTZ NOT NULL
);

-- The id of the reply button or list row a guest tapped (the assistant's choices).
ALTER TABLE whatsapp_messages ADD COLUMN choice TEXT;
CREATE INDEX whatsapp_messages_outcome ON whatsapp_messages (phone, outcome, at, id);
