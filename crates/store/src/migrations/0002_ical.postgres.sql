CREATE TABLE feeds (
    id BIGSERIAL PRIMARY KEY,
    accommodation_id BIGINT NOT NULL REFERENCES accommodations(id),
    channel TEXT NOT NULL,
    url TEXT NOT NULL,
    enabled BOOLEAN NOT NULL DEFAULT TRUE,
    etag TEXT,
    last_modified TEXT,
    last_attempt_at TIMESTAMPTZ,
    last_success_at TIMESTAMPTZ,
    last_error TEXT,
    last_error_kind TEXT,
    consecutive_failures BIGINT NOT NULL DEFAULT 0,
    events_seen BIGINT NOT NULL DEFAULT 0,
    memory TEXT NOT NULL DEFAULT '{}',
    last_events TEXT,
    warning TEXT,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX feeds_acc ON feeds (accommodation_id);

CREATE TABLE export_tokens (
    accommodation_id BIGINT NOT NULL REFERENCES accommodations(id),
    channel TEXT NOT NULL,
    token TEXT NOT NULL UNIQUE,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (accommodation_id, channel)
);

CREATE TABLE ical_conflicts (
    id BIGSERIAL PRIMARY KEY,
    block_id BIGINT NOT NULL,
    reservation_id BIGINT NOT NULL REFERENCES reservations(id),
    accommodation_id BIGINT NOT NULL,
    feed_id BIGINT,
    detected_at TIMESTAMPTZ NOT NULL,
    resolved_at TIMESTAMPTZ,
    UNIQUE (block_id, reservation_id)
);
CREATE INDEX ical_conflicts_open ON ical_conflicts (resolved_at);
