-- Operations: the owner's dashboard login (password, sessions, failed attempts and lockout) and
-- the alert state that makes each alert go out once per occurrence.
CREATE TABLE owner_credentials (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    password_hash TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE owner_sessions (
    token_hash TEXT PRIMARY KEY,
    csrf_token TEXT NOT NULL,
    client TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE INDEX owner_sessions_expiry ON owner_sessions (expires_at);

CREATE TABLE login_attempts (
    client TEXT PRIMARY KEY,
    failures INTEGER NOT NULL,
    first_failure_at TEXT NOT NULL,
    locked_until TEXT
);

CREATE TABLE alerts (
    key TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    detail TEXT NOT NULL,
    state TEXT NOT NULL,
    opened_at TEXT NOT NULL,
    last_seen_at TEXT NOT NULL,
    cleared_at TEXT,
    occurrences INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX alerts_state ON alerts (state);
