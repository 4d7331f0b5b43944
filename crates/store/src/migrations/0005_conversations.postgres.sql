-- Guest WhatsApp conversations handed to a person: the hand-off state per phone (digits), and the
-- messages themselves (what the guest wrote, what the owner answered) so the owner can read them.
ALTER TABLE whatsapp_conversations ADD COLUMN handed_off_at TIMESTAMPTZ;
ALTER TABLE whatsapp_conversations ADD COLUMN handoff_reason TEXT;
ALTER TABLE whatsapp_conversations ADD COLUMN awaiting_since TIMESTAMPTZ;
ALTER TABLE whatsapp_conversations ADD COLUMN last_reply_at TIMESTAMPTZ;
ALTER TABLE whatsapp_conversations ADD COLUMN state_expires_at TIMESTAMPTZ;
CREATE INDEX whatsapp_conversations_awaiting ON whatsapp_conversations (awaiting_since);
CREATE INDEX whatsapp_conversations_state_expiry ON whatsapp_conversations (state_expires_at);

CREATE TABLE whatsapp_messages (
    id BIGSERIAL PRIMARY KEY,
    phone TEXT NOT NULL,
    direction TEXT NOT NULL CHECK (direction IN ('in', 'out')),
    wamid TEXT,
    kind TEXT NOT NULL,
    body TEXT NOT NULL,
    at TIMESTAMPTZ NOT NULL,
    outcome TEXT,
    UNIQUE (direction, wamid)
);
CREATE INDEX whatsapp_messages_phone ON whatsapp_messages (phone, at, id);
CREATE INDEX whatsapp_messages_at ON whatsapp_messages (at);

CREATE INDEX reservations_guest_phone ON reservations (guest_phone);
