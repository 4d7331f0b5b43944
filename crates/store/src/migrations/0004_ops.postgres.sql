-- Operations: the owner's dashboard login (password, sessions, failed attempts and lockout) and
-- the alert state that makes each alert go out once per occurrence.
CREATE TABLE owner_credentials (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    password_hash TEXT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE owner_sessions (
    token_hash TEXT PRIMARY KEY,
    csrf_token TEXT NOT NULL,
    client TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX owner_sessions_expiry ON owner_sessions (expires_at);

CREATE TABLE login_attempts (
    client TEXT PRIMARY KEY,
    failures BIGINT NOT NULL,
    first_failure_at TIMESTAMPTZ NOT NULL,
    locked_until TIMESTAMPTZ
);

CREATE TABLE alerts (
    key TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    detail TEXT NOT NULL,
    state TEXT NOT NULL,
    opened_at TIMESTAMPTZ NOT NULL,
    last_seen_at TIMESTAMPTZ NOT NULL,
    cleared_at TIMESTAMPTZ,
    occurrences BIGINT NOT NULL DEFAULT 1
);
CREATE INDEX alerts_state ON alerts (state);
