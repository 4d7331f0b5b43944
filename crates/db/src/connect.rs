//! Opening the pool from a URL, with the settings each dialect needs to behave under load.

use std::str::FromStr;
use std::time::{Duration, Instant};

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, SqlitePool};

use crate::{Backend, Tx};

/// Errors opening or using the database handle. Messages name what to fix.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The URL could not be understood.
    #[error(
        "DATABASE_URL {url:?} is not valid: {reason} (expected sqlite://PATH or postgres://USER@HOST:PORT/DB)"
    )]
    BadUrl {
        /// The URL, with any password removed.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The database did not answer.
    #[error("cannot reach the database at {url}: {source}")]
    Unreachable {
        /// The URL, with any password removed.
        url: String,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// A query failed.
    #[error(transparent)]
    Sqlx(#[from] sqlx::Error),
    /// A migration already applied to this database was edited afterwards (its SQL no longer has
    /// the checksum recorded when it ran); nothing is applied until that is resolved.
    #[error(
        "migration {set} {version} ({name}) was changed after it was applied to this database \
         (recorded checksum {recorded}, this build's {current}); restore the migration's \
         original text, or add a new migration for the change instead of editing an applied one"
    )]
    MigrationChanged {
        /// The set (`jobs`, `store`).
        set: String,
        /// The migration's version in its set.
        version: i64,
        /// Its name.
        name: String,
        /// The checksum recorded when it ran.
        recorded: String,
        /// The checksum of this build's text.
        current: String,
    },
}

/// Pool sizing and timeouts.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// Maximum connections in the pool.
    pub max_connections: u32,
    /// How long to wait for a connection (and, on start-up, for the server to answer).
    pub acquire_timeout: Duration,
    /// SQLite only: how long a writer waits for the write lock.
    pub sqlite_busy_timeout: Duration,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        Self {
            max_connections: 16,
            acquire_timeout: Duration::from_secs(5),
            sqlite_busy_timeout: Duration::from_secs(10),
        }
    }
}

/// A pooled PostgreSQL connection idle longer than this is pinged before it is handed out.
const IDLE_BEFORE_PING: Duration = Duration::from_secs(30);

/// The pool, of either dialect. Cheap to clone.
#[derive(Clone, Debug)]
pub enum Db {
    /// SQLite pool.
    Sqlite(SqlitePool),
    /// PostgreSQL pool.
    Postgres(PgPool),
}

/// Remove the password from a URL before it is shown or logged.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("****"));
            parsed.to_string()
        }
        _ => url.to_string(),
    }
}

impl Db {
    /// Open a pool for `url` (`sqlite://PATH`, `sqlite::memory:`, `postgres://…`), creating the SQLite
    /// file if missing, and check the server answers.
    pub async fn connect(url: &str, opts: &ConnectOptions) -> Result<Db, DbError> {
        let shown = redact_url(url);
        let bad = |reason: String| DbError::BadUrl {
            url: shown.clone(),
            reason,
        };
        if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)
                .map_err(|e| bad(e.to_string()))?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(opts.sqlite_busy_timeout)
                .foreign_keys(true)
                .pragma("temp_store", "memory")
                .pragma("cache_size", "-16000");
            let pool = SqlitePoolOptions::new()
                .max_connections(opts.max_connections.max(2))
                // An in-process file cannot drop the connection: no ping before each checkout.
                .test_before_acquire(false)
                .acquire_timeout(opts.acquire_timeout)
                .connect_with(options)
                .await
                .map_err(|source| DbError::Unreachable {
                    url: shown.clone(),
                    source,
                })?;
            Ok(Db::Sqlite(pool))
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let options = PgConnectOptions::from_str(url).map_err(|e| bad(e.to_string()))?;
            let pool = PgPoolOptions::new()
                .max_connections(opts.max_connections)
                .acquire_timeout(opts.acquire_timeout)
                // A ping before every checkout doubles the round trips of a short query; only a
                // connection that sat idle for a while (and may have been cut) is checked.
                .test_before_acquire(false)
                .before_acquire(|conn, meta| {
                    Box::pin(async move {
                        if meta.idle_for > IDLE_BEFORE_PING {
                            sqlx::Connection::ping(conn).await?;
                        }
                        Ok(true)
                    })
                })
                .connect_with(options)
                .await
                .map_err(|source| DbError::Unreachable {
                    url: shown.clone(),
                    source,
                })?;
            Ok(Db::Postgres(pool))
        } else {
            Err(bad("unknown scheme".into()))
        }
    }

    /// Which dialect this pool speaks.
    pub fn backend(&self) -> Backend {
        match self {
            Db::Sqlite(_) => Backend::Sqlite,
            Db::Postgres(_) => Backend::Postgres,
        }
    }

    /// Start a write transaction (`BEGIN IMMEDIATE` on SQLite).
    pub async fn begin(&self) -> Result<Tx, sqlx::Error> {
        match self {
            Db::Sqlite(pool) => Ok(Tx::Sqlite(pool.begin_with("BEGIN IMMEDIATE").await?)),
            Db::Postgres(pool) => Ok(Tx::Postgres(pool.begin().await?)),
        }
    }

    /// Start a write transaction that holds the transaction-scoped advisory lock `(class, key)`
    /// (shared or exclusive), taken on PostgreSQL in the same round trip as `BEGIN`. On SQLite,
    /// where a write transaction already excludes every other writer, the same as [`Db::begin`].
    pub async fn begin_locked(
        &self,
        class: i32,
        key: i32,
        shared: bool,
    ) -> Result<Tx, sqlx::Error> {
        match self {
            Db::Sqlite(_) => self.begin().await,
            Db::Postgres(pool) => {
                let function = if shared {
                    "pg_advisory_xact_lock_shared"
                } else {
                    "pg_advisory_xact_lock"
                };
                // Both values are integers formatted here, never text from outside.
                let statement = format!("BEGIN; SELECT {function}({class}, {key})");
                Ok(Tx::Postgres(pool.begin_with(statement).await?))
            }
        }
    }

    /// Begin a transaction that first takes the advisory lock `(class, key)` shared and then,
    /// exclusively and in ascending order, the locks `(nights_class, n)` for every `n` in
    /// `nights` — all in the `BEGIN` round trip (PostgreSQL; SQLite's `BEGIN IMMEDIATE` already
    /// serializes writers). Writers that lock overlapping ranges this way queue on their first
    /// shared night instead of deadlocking; disjoint ranges do not wait for each other.
    pub async fn begin_locked_range(
        &self,
        (class, key): (i32, i32),
        nights_class: i32,
        nights: std::ops::Range<i32>,
    ) -> Result<Tx, sqlx::Error> {
        match self {
            Db::Sqlite(_) => self.begin().await,
            Db::Postgres(pool) => {
                let (first, last) = (nights.start, nights.end.saturating_sub(1));
                // Every value is an integer formatted here, never text from outside.
                let statement = format!(
                    "BEGIN; SELECT pg_advisory_xact_lock_shared({class}, {key}); \
                     SELECT pg_advisory_xact_lock({nights_class}, n) FROM generate_series({first}, {last}) AS n"
                );
                Ok(Tx::Postgres(pool.begin_with(statement).await?))
            }
        }
    }

    /// One round trip to the database; returns how long it took.
    pub async fn ping(&self) -> Result<Duration, sqlx::Error> {
        let started = Instant::now();
        match self {
            Db::Sqlite(pool) => {
                sqlx::query("SELECT 1").execute(pool).await?;
            }
            Db::Postgres(pool) => {
                sqlx::query("SELECT 1").execute(pool).await?;
            }
        }
        Ok(started.elapsed())
    }

    /// Close every connection; later calls fail. Used at shutdown (and by tests that need the
    /// database to "go away").
    pub async fn close(&self) {
        match self {
            Db::Sqlite(pool) => pool.close().await,
            Db::Postgres(pool) => pool.close().await,
        }
    }

    /// Whether [`Db::close`] was called.
    pub fn is_closed(&self) -> bool {
        match self {
            Db::Sqlite(pool) => pool.is_closed(),
            Db::Postgres(pool) => pool.is_closed(),
        }
    }

    /// The SQLite pool, if this is SQLite.
    pub fn as_sqlite(&self) -> Option<&SqlitePool> {
        match self {
            Db::Sqlite(pool) => Some(pool),
            Db::Postgres(_) => None,
        }
    }

    /// The PostgreSQL pool, if this is PostgreSQL.
    pub fn as_postgres(&self) -> Option<&PgPool> {
        match self {
            Db::Postgres(pool) => Some(pool),
            Db::Sqlite(_) => None,
        }
    }
}
