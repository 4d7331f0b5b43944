CREATE TABLE accommodations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    capacity INTEGER NOT NULL,
    amenities TEXT NOT NULL DEFAULT '[]',
    check_in_time TEXT NOT NULL,
    check_out_time TEXT NOT NULL,
    directions TEXT NOT NULL DEFAULT '',
    active INTEGER NOT NULL DEFAULT 1,
    pricing TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE accommodation_photos (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    accommodation_id INTEGER NOT NULL REFERENCES accommodations(id) ON DELETE CASCADE,
    url TEXT NOT NULL,
    caption TEXT NOT NULL DEFAULT '',
    position INTEGER NOT NULL,
    is_primary INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX accommodation_photos_acc ON accommodation_photos (accommodation_id, position);

CREATE TABLE reservations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    code TEXT NOT NULL UNIQUE,
    accommodation_id INTEGER NOT NULL REFERENCES accommodations(id),
    check_in TEXT NOT NULL,
    check_out TEXT NOT NULL,
    guests INTEGER NOT NULL,
    state TEXT NOT NULL,
    guest_name TEXT NOT NULL,
    guest_email TEXT,
    guest_phone TEXT,
    channel TEXT NOT NULL,
    currency TEXT NOT NULL,
    total_minor INTEGER NOT NULL,
    deposit_minor INTEGER NOT NULL,
    quote TEXT NOT NULL,
    access_token_hash TEXT NOT NULL,
    expires_at TEXT,
    notes TEXT NOT NULL DEFAULT '',
    state_reason TEXT,
    flags TEXT NOT NULL DEFAULT '[]',
    payment_link TEXT,
    trace_id TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    CHECK (check_out > check_in)
);
CREATE INDEX reservations_acc_dates ON reservations (accommodation_id, check_in, check_out);
CREATE INDEX reservations_state ON reservations (state, expires_at);

-- The double-booking guard at the storage level: no two active stays of one accommodation
-- share a night ([check_in, check_out) half-open: back-to-back is allowed).
CREATE TRIGGER reservations_no_overlap_insert
BEFORE INSERT ON reservations
WHEN NEW.state IN ('pre_reserved', 'confirmed')
BEGIN
    SELECT RAISE(ABORT, 'reservation_overlap')
    WHERE EXISTS (
        SELECT 1 FROM reservations r
        WHERE r.accommodation_id = NEW.accommodation_id
          AND r.state IN ('pre_reserved', 'confirmed')
          AND r.check_in < NEW.check_out AND NEW.check_in < r.check_out
    );
END;

CREATE TRIGGER reservations_no_overlap_update
BEFORE UPDATE OF state, check_in, check_out, accommodation_id ON reservations
WHEN NEW.state IN ('pre_reserved', 'confirmed')
BEGIN
    SELECT RAISE(ABORT, 'reservation_overlap')
    WHERE EXISTS (
        SELECT 1 FROM reservations r
        WHERE r.id <> NEW.id
          AND r.accommodation_id = NEW.accommodation_id
          AND r.state IN ('pre_reserved', 'confirmed')
          AND r.check_in < NEW.check_out AND NEW.check_in < r.check_out
    );
END;

CREATE TABLE reservation_history (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    reservation_id INTEGER NOT NULL REFERENCES reservations(id),
    from_state TEXT,
    to_state TEXT NOT NULL,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    reason TEXT
);
CREATE INDEX reservation_history_res ON reservation_history (reservation_id, id);

CREATE TABLE blocks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    accommodation_id INTEGER NOT NULL REFERENCES accommodations(id),
    start_date TEXT NOT NULL,
    end_date TEXT NOT NULL,
    source TEXT NOT NULL,
    feed_id INTEGER,
    uid TEXT,
    reason TEXT NOT NULL DEFAULT '',
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    missing_count INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    CHECK (end_date > start_date)
);
CREATE INDEX blocks_acc_dates ON blocks (accommodation_id, start_date, end_date);
CREATE INDEX blocks_feed ON blocks (feed_id);

CREATE TABLE notifications (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    reservation_id INTEGER REFERENCES reservations(id),
    audience TEXT NOT NULL,
    channel TEXT NOT NULL,
    recipient TEXT,
    template TEXT NOT NULL,
    data TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    provider_message_id TEXT,
    last_error TEXT,
    dedupe_key TEXT UNIQUE,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX notifications_status ON notifications (status, created_at);
CREATE INDEX notifications_reservation ON notifications (reservation_id);

CREATE TABLE api_tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    scope TEXT NOT NULL,
    created_at TEXT NOT NULL,
    last_used_at TEXT,
    revoked_at TEXT
);

CREATE TABLE idempotency_keys (
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    state TEXT NOT NULL,
    response_status INTEGER,
    response_body TEXT,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    PRIMARY KEY (scope, key)
);
