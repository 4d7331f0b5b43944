CREATE EXTENSION IF NOT EXISTS btree_gist;

CREATE TABLE accommodations (
    id BIGSERIAL PRIMARY KEY,
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    capacity BIGINT NOT NULL,
    amenities TEXT NOT NULL DEFAULT '[]',
    check_in_time TEXT NOT NULL,
    check_out_time TEXT NOT NULL,
    directions TEXT NOT NULL DEFAULT '',
    active BOOLEAN NOT NULL DEFAULT TRUE,
    pricing TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE accommodation_photos (
    id BIGSERIAL PRIMARY KEY,
    accommodation_id BIGINT NOT NULL REFERENCES accommodations(id) ON DELETE CASCADE,
    url TEXT NOT NULL,
    caption TEXT NOT NULL DEFAULT '',
    position BIGINT NOT NULL,
    is_primary BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX accommodation_photos_acc ON accommodation_photos (accommodation_id, position);

CREATE TABLE reservations (
    id BIGSERIAL PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,
    accommodation_id BIGINT NOT NULL REFERENCES accommodations(id),
    check_in DATE NOT NULL,
    check_out DATE NOT NULL,
    guests BIGINT NOT NULL,
    state TEXT NOT NULL,
    guest_name TEXT NOT NULL,
    guest_email TEXT,
    guest_phone TEXT,
    channel TEXT NOT NULL,
    currency TEXT NOT NULL,
    total_minor BIGINT NOT NULL,
    deposit_minor BIGINT NOT NULL,
    quote TEXT NOT NULL,
    access_token_hash TEXT NOT NULL,
    expires_at TIMESTAMPTZ,
    notes TEXT NOT NULL DEFAULT '',
    state_reason TEXT,
    flags TEXT NOT NULL DEFAULT '[]',
    payment_link TEXT,
    trace_id TEXT,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    CHECK (check_out > check_in),
    -- The double-booking guard at the storage level: no two active stays of one accommodation
    -- share a night ([check_in, check_out) half-open: back-to-back is allowed). SQLSTATE 23P01.
    CONSTRAINT reservations_no_overlap EXCLUDE USING gist (
        accommodation_id WITH =,
        daterange(check_in, check_out, '[)') WITH &&
    ) WHERE (state IN ('pre_reserved', 'confirmed'))
);
CREATE INDEX reservations_acc_dates ON reservations (accommodation_id, check_in, check_out);
CREATE INDEX reservations_state ON reservations (state, expires_at);

CREATE TABLE reservation_history (
    id BIGSERIAL PRIMARY KEY,
    reservation_id BIGINT NOT NULL REFERENCES reservations(id),
    from_state TEXT,
    to_state TEXT NOT NULL,
    at TIMESTAMPTZ NOT NULL,
    actor TEXT NOT NULL,
    reason TEXT
);
CREATE INDEX reservation_history_res ON reservation_history (reservation_id, id);

CREATE TABLE blocks (
    id BIGSERIAL PRIMARY KEY,
    accommodation_id BIGINT NOT NULL REFERENCES accommodations(id),
    start_date DATE NOT NULL,
    end_date DATE NOT NULL,
    source TEXT NOT NULL,
    feed_id BIGINT,
    uid TEXT,
    reason TEXT NOT NULL DEFAULT '',
    first_seen TIMESTAMPTZ NOT NULL,
    last_seen TIMESTAMPTZ NOT NULL,
    missing_count BIGINT NOT NULL DEFAULT 0,
    created_at TIMESTAMPTZ NOT NULL,
    CHECK (end_date > start_date)
);
CREATE INDEX blocks_acc_dates ON blocks (accommodation_id, start_date, end_date);
CREATE INDEX blocks_feed ON blocks (feed_id);

CREATE TABLE notifications (
    id BIGSERIAL PRIMARY KEY,
    reservation_id BIGINT REFERENCES reservations(id),
    audience TEXT NOT NULL,
    channel TEXT NOT NULL,
    recipient TEXT,
    template TEXT NOT NULL,
    data TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    provider_message_id TEXT,
    last_error TEXT,
    dedupe_key TEXT UNIQUE,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX notifications_status ON notifications (status, created_at);
CREATE INDEX notifications_reservation ON notifications (reservation_id);

CREATE TABLE api_tokens (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    scope TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    last_used_at TIMESTAMPTZ,
    revoked_at TIMESTAMPTZ
);

CREATE TABLE idempotency_keys (
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    state TEXT NOT NULL,
    response_status BIGINT,
    response_body TEXT,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (scope, key)
);
