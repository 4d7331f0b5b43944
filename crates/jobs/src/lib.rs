//! posada's durable job engine, on SQLite (one node) or PostgreSQL (many nodes).
//!
//! Every side effect that must not be lost is a row in the `jobs` table, written in the same
//! transaction as the business change that caused it ([`Jobs::enqueue_in`]). Workers claim jobs in
//! batches under a lease renewed by heartbeat; each attempt carries a token, so a worker presumed
//! dead can never overwrite the outcome of the attempt that replaced it. Failed attempts are
//! retried with backoff and kept in an error history; periodic tasks run once per slot across all
//! nodes. The engine is generic: it knows nothing about lodging.
//!
//! ```ignore
//! let jobs = Jobs::new(db.clone());
//! let engine = Engine::new(jobs.clone(), state, EngineConfig::default())
//!     .register::<SendReminder>()
//!     .periodic(PeriodicTask::cron("morning-digest", "0 8 * * *", DEFAULT_TZ, || Digest)?)
//!     .start()
//!     .await?;
//! let mut tx = db.begin().await?;
//! /* business write */
//! jobs.enqueue_in(tx.conn(), &SendReminder { reservation: 42 }, JobOptions::unique("reminder:42")).await?;
//! jobs.commit(tx).await?;
//! engine.shutdown().await;
//! ```
//!
//! Semantics worth knowing: delivery is at-least-once (handlers must be idempotent); higher
//! priority numbers run first; unique keys hold only while a job is live (available, scheduled,
//! running or retryable); a job rescued from a dead worker has used up that attempt.

pub mod admin;
pub mod bench;
mod client;
mod engine;
mod error;
mod job;
pub mod metrics;
mod periodic;
mod schema;
mod store;

pub use admin::{
    Admin, CountRow, FinishedSlot, JobDetail, JobError, JobState, JobSummary, ListFilter, Page,
    PeriodicTaskInfo, UnknownState,
};
pub use client::Jobs;
pub use engine::{Engine, EngineConfig, EngineHandle};
pub use error::JobsError;
pub use job::{
    CancellationToken, Job, JobContext, JobOptions, NewJob, default_backoff, exponential_backoff,
};
pub use periodic::{CatchUp, DEFAULT_TZ, PeriodicTask, Schedule};
pub use schema::MIGRATIONS;

/// Apply the engine's migrations to `db` (idempotent).
pub async fn migrate(db: &posada_db::Db) -> Result<usize, posada_db::DbError> {
    posada_db::migrate(db, &MIGRATIONS).await
}

/// Test-only hooks into the engine's statements (fencing checks from outside).
#[doc(hidden)]
pub mod testing {
    use crate::store::Store;

    /// Try to complete job `id` as the attempt holding `token`; `true` if it was accepted.
    pub async fn complete_as(db: &posada_db::Db, id: i64, token: i64) -> Result<bool, sqlx::Error> {
        Ok(!Store::plain(db).complete(&[(id, token)]).await?.is_empty())
    }

    /// Try to renew job `id`'s lease as the attempt holding `token`; `true` if it was accepted.
    pub async fn heartbeat_as(
        db: &posada_db::Db,
        id: i64,
        token: i64,
    ) -> Result<bool, sqlx::Error> {
        Ok(!Store::plain(db)
            .heartbeat(&[(id, token)], std::time::Duration::from_secs(30))
            .await?
            .is_empty())
    }

    /// Run the rescuer once; returns how many jobs it took back.
    pub async fn rescue(db: &posada_db::Db) -> Result<usize, sqlx::Error> {
        Ok(Store::plain(db).rescue().await?.0.len())
    }

    /// Claim up to `limit` jobs of `kinds` on `queue` as `node`, returning (id, token) pairs.
    pub async fn claim_as(
        db: &posada_db::Db,
        queue: &str,
        kinds: &[&str],
        limit: usize,
        node: &str,
        lease: std::time::Duration,
    ) -> Result<Vec<(i64, i64)>, sqlx::Error> {
        let kinds: Vec<String> = kinds.iter().map(|k| k.to_string()).collect();
        let token = rand::Rng::random_range(&mut rand::rng(), 1..i64::MAX);
        Ok(Store::plain(db)
            .claim(queue, &kinds, limit, token, node, lease)
            .await?
            .into_iter()
            .map(|c| (c.id, c.token))
            .collect())
    }
}
