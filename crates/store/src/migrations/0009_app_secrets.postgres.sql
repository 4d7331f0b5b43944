-- Secrets the application makes for itself once and every node shares (the key that signs the
-- guests' reservation links and the booking forms' CSRF tokens). Made in Rust on first use
-- (`secrets::get_or_create`), never by the migration, never logged.
CREATE TABLE app_secrets (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
