-- Payments as the provider reports them (one row per provider payment), their status history, and
-- the WhatsApp conversation window and webhook deduplication.
CREATE TABLE payments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    provider TEXT NOT NULL,
    provider_payment_id TEXT NOT NULL,
    reservation_id INTEGER REFERENCES reservations(id),
    external_reference TEXT,
    status TEXT NOT NULL,
    status_detail TEXT,
    amount_minor INTEGER NOT NULL,
    currency TEXT NOT NULL,
    handled_status TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (provider, provider_payment_id)
);
CREATE INDEX payments_reservation ON payments (reservation_id);

CREATE TABLE payment_status_history (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    payment_id INTEGER NOT NULL REFERENCES payments(id),
    status TEXT NOT NULL,
    status_detail TEXT,
    amount_minor INTEGER NOT NULL,
    currency TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE INDEX payment_status_history_payment ON payment_status_history (payment_id, id);

CREATE TABLE whatsapp_conversations (
    phone TEXT PRIMARY KEY,
    last_inbound_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE whatsapp_webhook_events (
    wamid TEXT NOT NULL,
    event TEXT NOT NULL,
    received_at TEXT NOT NULL,
    PRIMARY KEY (wamid, event)
);

CREATE INDEX notifications_provider_message ON notifications (provider_message_id);
