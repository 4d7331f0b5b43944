CREATE TABLE feeds (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    accommodation_id INTEGER NOT NULL REFERENCES accommodations(id),
    channel TEXT NOT NULL,
    url TEXT NOT NULL,
    enabled INTEGER NOT NULL DEFAULT 1,
    etag TEXT,
    last_modified TEXT,
    last_attempt_at TEXT,
    last_success_at TEXT,
    last_error TEXT,
    last_error_kind TEXT,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    events_seen INTEGER NOT NULL DEFAULT 0,
    memory TEXT NOT NULL DEFAULT '{}',
    last_events TEXT,
    warning TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX feeds_acc ON feeds (accommodation_id);

CREATE TABLE export_tokens (
    accommodation_id INTEGER NOT NULL REFERENCES accommodations(id),
    channel TEXT NOT NULL,
    token TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    PRIMARY KEY (accommodation_id, channel)
);

CREATE TABLE ical_conflicts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    block_id INTEGER NOT NULL,
    reservation_id INTEGER NOT NULL REFERENCES reservations(id),
    accommodation_id INTEGER NOT NULL,
    feed_id INTEGER,
    detected_at TEXT NOT NULL,
    resolved_at TEXT,
    UNIQUE (block_id, reservation_id)
);
CREATE INDEX ical_conflicts_open ON ical_conflicts (resolved_at);
