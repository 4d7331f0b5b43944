-- Export URL tokens are stored hashed (SHA-256 hex, as `hash_secret` computes it) and looked up by
-- their hash, like API tokens. SQLite has no SHA-256 in SQL: existing tokens move to
-- `legacy_token` here and are hashed in Rust right after the migrations run
-- (`feeds::hash_legacy_export_tokens`), which then clears them.
CREATE TABLE export_tokens_hashed (
    accommodation_id INTEGER NOT NULL REFERENCES accommodations(id),
    channel TEXT NOT NULL,
    token_hash TEXT UNIQUE,
    legacy_token TEXT,
    created_at TEXT NOT NULL,
    PRIMARY KEY (accommodation_id, channel)
);
INSERT INTO export_tokens_hashed (accommodation_id, channel, token_hash, legacy_token, created_at)
    SELECT accommodation_id, channel, NULL, token, created_at FROM export_tokens;
DROP TABLE export_tokens;
ALTER TABLE export_tokens_hashed RENAME TO export_tokens;
