//! posada's business data: accommodations, reservations and their history, blocks, the
//! notification outbox, API tokens and idempotency keys, guest WhatsApp conversations, on SQLite
//! or PostgreSQL.
//!
//! Functions take a [`posada_db::Conn`] so that the caller decides the transaction: a business
//! write and the jobs it causes commit together. SQL lives here and in the job engine only. The
//! double-booking guard is in the schema (PostgreSQL exclusion constraint; SQLite triggers) and
//! surfaces as [`StoreError::Overlap`].

pub mod accommodations;
pub mod assistant;
pub mod blocks;
pub mod conversations;
pub mod feeds;
pub mod idempotency;
pub mod live;
pub mod notifications;
pub mod ops;
pub mod payments;
pub mod reservations;
pub mod secrets;
pub mod tokens;

use posada_db::{Migration, MigrationSet};

/// The store's schema, for both dialects.
pub static MIGRATIONS: MigrationSet = MigrationSet {
    name: "store",
    migrations: &[
        Migration {
            version: 1,
            name: "core",
            sqlite: include_str!("migrations/0001_core.sqlite.sql"),
            postgres: include_str!("migrations/0001_core.postgres.sql"),
        },
        Migration {
            version: 2,
            name: "ical",
            sqlite: include_str!("migrations/0002_ical.sqlite.sql"),
            postgres: include_str!("migrations/0002_ical.postgres.sql"),
        },
        Migration {
            version: 3,
            name: "payments",
            sqlite: include_str!("migrations/0003_payments.sqlite.sql"),
            postgres: include_str!("migrations/0003_payments.postgres.sql"),
        },
        Migration {
            version: 4,
            name: "ops",
            sqlite: include_str!("migrations/0004_ops.sqlite.sql"),
            postgres: include_str!("migrations/0004_ops.postgres.sql"),
        },
        Migration {
            version: 5,
            name: "conversations",
            sqlite: include_str!("migrations/0005_conversations.sqlite.sql"),
            postgres: include_str!("migrations/0005_conversations.postgres.sql"),
        },
        Migration {
            version: 6,
            name: "lean indexes",
            sqlite: include_str!("migrations/0006_lean_indexes.sqlite.sql"),
            postgres: include_str!("migrations/0006_lean_indexes.postgres.sql"),
        },
        Migration {
            version: 7,
            name: "assistant",
            sqlite: include_str!("migrations/0007_assistant.sqlite.sql"),
            postgres: include_str!("migrations/0007_assistant.postgres.sql"),
        },
        Migration {
            version: 8,
            name: "hashed export tokens",
            sqlite: include_str!("migrations/0008_hashed_export_tokens.sqlite.sql"),
            postgres: include_str!("migrations/0008_hashed_export_tokens.postgres.sql"),
        },
        Migration {
            version: 9,
            name: "app secrets",
            sqlite: include_str!("migrations/0009_app_secrets.sqlite.sql"),
            postgres: include_str!("migrations/0009_app_secrets.postgres.sql"),
        },
    ],
};

/// Errors from the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The nights are taken by another active reservation (the storage-level guard fired).
    #[error("the dates overlap an active reservation")]
    Overlap,
    /// A unique value (slug, code, key) is already used.
    #[error("{0} is already used")]
    Duplicate(&'static str),
    /// The row does not exist.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A stored value could not be read back into the domain (a bug or a manual edit).
    #[error("stored data is not valid: {0}")]
    Corrupt(String),
    /// The database failed.
    #[error(transparent)]
    Sqlx(sqlx::Error),
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> StoreError {
        if let sqlx::Error::Database(db) = &err {
            let code = db.code().map(|c| c.to_string()).unwrap_or_default();
            if code == "23P01" || db.message().contains("reservation_overlap") {
                return StoreError::Overlap;
            }
            if code == "23505" || code == "2067" || code == "1555" {
                return StoreError::Duplicate("value");
            }
        }
        StoreError::Sqlx(err)
    }
}

/// Result alias.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Run the same code on whichever dialect `$conn` is; inside, `$c` is `&mut XConnection`.
#[macro_export]
macro_rules! on_conn {
    ($conn:expr, $c:ident => $body:expr) => {
        match $conn {
            posada_db::Conn::Sqlite($c) => $body,
            posada_db::Conn::Postgres($c) => $body,
        }
    };
}

/// Run the same code on whichever dialect `$db` is; inside, `$p` is the pool.
#[macro_export]
macro_rules! on_db {
    ($db:expr, $p:ident => $body:expr) => {
        match $db {
            posada_db::Db::Sqlite($p) => $body,
            posada_db::Db::Postgres($p) => $body,
        }
    };
}

/// SHA-256 hex of a secret (tokens are stored hashed).
pub fn hash_secret(secret: &str) -> String {
    sha256_hex(secret.as_bytes())
}

/// SHA-256 of `bytes`, lower-case hex (request fingerprints, stored secrets).
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

pub(crate) fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(what.to_string())
}
