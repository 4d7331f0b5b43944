-- Export URL tokens are stored hashed (SHA-256 hex, as `hash_secret` computes it) and looked up by
-- their hash, like API tokens: a copy of the database no longer opens the calendars. The plain
-- column stays as `legacy_token`, always NULL here (SQLite, which has no SHA-256 in SQL, hashes
-- its rows in Rust right after this migration: `feeds::hash_legacy_export_tokens`).
ALTER TABLE export_tokens ADD COLUMN token_hash TEXT;
UPDATE export_tokens SET token_hash = encode(sha256(convert_to(token, 'UTF8')), 'hex');
ALTER TABLE export_tokens RENAME COLUMN token TO legacy_token;
ALTER TABLE export_tokens ALTER COLUMN legacy_token DROP NOT NULL;
UPDATE export_tokens SET legacy_token = NULL;
CREATE UNIQUE INDEX export_tokens_token_hash ON export_tokens (token_hash);
