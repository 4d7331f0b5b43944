//! Every SQL statement of the engine, behind one interface: what both dialects write alike
//! once in `shared`, what really differs in a module per dialect.
//!
//! The engine's hot path is a handful of statements, each one round trip: claim a batch
//! (`FOR UPDATE SKIP LOCKED` on PostgreSQL, `UPDATE … WHERE id IN (SELECT … LIMIT n) RETURNING`
//! on SQLite), complete a batch, record failed attempts, renew leases. Every statement that ends
//! or renews an attempt matches the job's id **and** its attempt token, so a dead attempt can
//! never overwrite the work of the attempt that replaced it.

pub(crate) mod pg;
mod shared;
pub(crate) mod sqlite;

pub(crate) use shared::{Dialect, cancel_by_key};

use chrono::{DateTime, Utc};
use posada_db::Db;
use sqlx::PgPool;

use crate::JobsError;
use crate::job::NewJob;

/// Name of the PostgreSQL notification channel; the payload is the queue name.
pub(crate) const NOTIFY_CHANNEL: &str = "posada_jobs";

/// A job claimed for one attempt (its columns as the claim statements return them).
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct Claimed {
    pub id: i64,
    pub kind: String,
    pub args: String,
    pub priority: i16,
    pub attempt: i32,
    pub max_attempts: i32,
    pub trace_id: Option<String>,
    pub unique_key: Option<String>,
    /// The attempt's token (the claim's, not a column).
    #[sqlx(skip)]
    pub token: i64,
}

/// A failed attempt to record.
#[derive(Debug, Clone)]
pub(crate) struct Failure {
    pub id: i64,
    pub token: i64,
    pub message: String,
    /// When to try again; `None` discards the job.
    pub retry_at: Option<DateTime<Utc>>,
}

/// A claimed job handed back at shutdown.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Release {
    pub id: i64,
    pub token: i64,
    /// Whether the attempt had started (it then counts, with an error entry).
    pub started: bool,
}

/// A job whose lease had expired and was taken back.
#[derive(Debug, Clone)]
pub(crate) struct Rescued {
    pub kind: String,
    pub discarded: bool,
}

/// Result of promoting due jobs.
#[derive(Debug, Default)]
pub(crate) struct Staged {
    pub promoted: u64,
    pub queues: Vec<String>,
    pub next_due: Option<DateTime<Utc>>,
}

/// The periodic task row as the scheduler needs it.
#[derive(Debug, Clone)]
pub(crate) struct PeriodicRow {
    pub name: String,
    pub last_slot: Option<DateTime<Utc>>,
    pub paused: bool,
    pub run_now_requested_at: Option<DateTime<Utc>>,
    pub last_run_at: Option<DateTime<Utc>>,
}

/// What a won slot enqueues.
pub(crate) struct SlotFire<'a> {
    pub name: &'a str,
    pub slot: DateTime<Utc>,
    pub next_run: Option<DateTime<Utc>>,
    /// `None` when the slot passes without a run (paused, or a skipped catch-up).
    pub job: Option<NewJob>,
}

/// Connections the engine uses for its own bookkeeping.
///
/// On PostgreSQL the engine opens a small pool of its own with `synchronous_commit = off`:
/// claims, completions and lease renewals are bookkeeping whose loss in a database crash only
/// means a job runs again (the engine is at-least-once), so they need not wait for the WAL
/// flush. Enqueues and periodic slots always go through the caller's pool, durably.
#[derive(Clone, Debug)]
pub(crate) enum Store {
    Sqlite(sqlx::SqlitePool),
    Postgres {
        main: PgPool,
        fast: PgPool,
        owns_fast: bool,
    },
}

impl Store {
    /// Store for the engine's workers (opens the PostgreSQL bookkeeping pool).
    pub async fn for_engine(db: &Db, connections: u32) -> Result<Store, JobsError> {
        match db {
            Db::Sqlite(pool) => Ok(Store::Sqlite(pool.clone())),
            Db::Postgres(pool) => {
                let fast = pg::bookkeeping_pool(pool, connections).await?;
                Ok(Store::Postgres {
                    main: pool.clone(),
                    fast,
                    owns_fast: true,
                })
            }
        }
    }

    /// Store that uses the caller's pool only (admin, client).
    pub fn plain(db: &Db) -> Store {
        match db {
            Db::Sqlite(pool) => Store::Sqlite(pool.clone()),
            Db::Postgres(pool) => Store::Postgres {
                main: pool.clone(),
                fast: pool.clone(),
                owns_fast: false,
            },
        }
    }

    pub async fn close(&self) {
        if let Store::Postgres {
            fast,
            owns_fast: true,
            ..
        } = self
        {
            fast.close().await;
        }
    }

    pub async fn claim(
        &self,
        queue: &str,
        kinds: &[String],
        limit: usize,
        token: i64,
        node: &str,
        lease: std::time::Duration,
    ) -> Result<Vec<Claimed>, sqlx::Error> {
        match self {
            Store::Sqlite(p) => sqlite::claim(p, queue, kinds, limit, token, node, lease).await,
            Store::Postgres { fast, .. } => {
                pg::claim(fast, queue, kinds, limit, token, node, lease).await
            }
        }
    }

    /// Mark attempts completed; returns the ids accepted (token still current).
    pub async fn complete(&self, done: &[(i64, i64)]) -> Result<Vec<i64>, sqlx::Error> {
        match self {
            Store::Sqlite(p) => sqlite::complete(p, done).await,
            Store::Postgres { fast, .. } => pg::complete(fast, done).await,
        }
    }

    /// Record failed attempts; returns the ids accepted.
    pub async fn fail(&self, failures: &[Failure], node: &str) -> Result<Vec<i64>, sqlx::Error> {
        match self {
            Store::Sqlite(p) => sqlite::fail(p, failures, node).await,
            Store::Postgres { fast, .. } => pg::fail(fast, failures, node).await,
        }
    }

    /// Extend leases; returns the ids still held by these tokens.
    pub async fn heartbeat(
        &self,
        held: &[(i64, i64)],
        lease: std::time::Duration,
    ) -> Result<Vec<i64>, sqlx::Error> {
        match self {
            Store::Sqlite(p) => sqlite::heartbeat(p, held, lease).await,
            Store::Postgres { fast, .. } => pg::heartbeat(fast, held, lease).await,
        }
    }

    /// Hand claimed jobs back as available (shutdown).
    pub async fn release(&self, jobs: &[Release], node: &str) -> Result<Vec<String>, sqlx::Error> {
        match self {
            Store::Sqlite(p) => sqlite::release(p, jobs, node).await,
            Store::Postgres { fast, .. } => pg::release(fast, jobs, node).await,
        }
    }

    pub async fn rescue(&self) -> Result<(Vec<Rescued>, Vec<String>), sqlx::Error> {
        match self {
            Store::Sqlite(p) => sqlite::rescue(p).await,
            Store::Postgres { fast, .. } => pg::rescue(fast).await,
        }
    }

    pub async fn stage(&self) -> Result<Staged, sqlx::Error> {
        match self {
            Store::Sqlite(p) => sqlite::stage(p).await,
            Store::Postgres { fast, .. } => pg::stage(fast).await,
        }
    }

    /// Record this node's heartbeat; whether another live node runs workers.
    pub async fn node_heartbeat(
        &self,
        node: &str,
        started_at: DateTime<Utc>,
        queues: &str,
        scheduler: bool,
        alive: std::time::Duration,
    ) -> Result<bool, sqlx::Error> {
        match self {
            Store::Sqlite(p) => {
                sqlite::node_heartbeat(p, node, started_at, queues, scheduler, alive).await
            }
            Store::Postgres { fast, .. } => {
                pg::node_heartbeat(fast, node, started_at, queues, scheduler, alive).await
            }
        }
    }
}

/// Whether an error is a unique-index violation.
pub(crate) fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.is_unique_violation())
}

/// Milliseconds since the epoch (SQLite's time representation).
pub(crate) fn to_ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

/// Back from milliseconds since the epoch.
pub(crate) fn from_ms(ms: i64) -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp_millis(ms).unwrap_or_default()
}
