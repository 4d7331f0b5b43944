//! What a job kind is: a serde type with a name, a queue, limits and an idempotent `run`.
//!
//! A kind's arguments are stored as JSON in the `jobs` table; its handler gets a [`JobContext`]
//! with the shared services, the database, the attempt number, the trace id and a cancellation
//! token that fires on timeout, on a lost lease and at the end of a graceful shutdown.

use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::Rng;
use serde::Serialize;
use serde::de::DeserializeOwned;
pub use tokio_util::sync::CancellationToken;

/// A kind of job. The engine runs it at least once; `run` must be idempotent.
///
/// Priorities: **higher numbers run first** (within a queue, among jobs that are due); the default
/// is 0, so use e.g. 10 for urgent work and -10 for background sweeps.
pub trait Job: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// Shared services handed to the handler (clients, configuration…).
    type State: Clone + Send + Sync + 'static;
    /// Stable name stored in the `kind` column. Renaming it orphans stored jobs.
    const KIND: &'static str;
    /// Queue the job goes to unless [`JobOptions::queue`] says otherwise.
    const QUEUE: &'static str = "default";
    /// Attempts before the job is `discarded` (the first run is attempt 1).
    const MAX_ATTEMPTS: i32 = 20;
    /// Default priority; higher runs first.
    const PRIORITY: i16 = 0;

    /// How long one attempt may run before it is cancelled and counted as failed.
    fn timeout() -> Duration {
        Duration::from_secs(60)
    }

    /// Delay before the next attempt after failed attempt number `attempt` (1-based).
    fn backoff(attempt: i32) -> Duration {
        default_backoff(attempt)
    }

    /// The key that keeps at most one live job of this kind for the same subject (River's
    /// `InsertOpts`): declared on the type so call sites never spell a key by hand. `None` (the
    /// default) lets any number of such jobs exist. [`JobOptions::unique_key`] overrides it.
    fn unique_key(&self) -> Option<String> {
        None
    }

    /// Do the work. Returning `Err` (or panicking, or running past [`Job::timeout`]) fails the
    /// attempt; it is retried after [`Job::backoff`] until [`Job::MAX_ATTEMPTS`].
    fn run(self, ctx: JobContext<Self::State>) -> impl Future<Output = anyhow::Result<()>> + Send;
}

/// Exponential backoff with ±20 % jitter: `base · 2^(attempt-1)`, capped at `cap`.
pub fn exponential_backoff(attempt: i32, base: Duration, cap: Duration) -> Duration {
    let exp = attempt.saturating_sub(1).clamp(0, 30) as u32;
    let raw = base.saturating_mul(1u32 << exp.min(30)).min(cap);
    let factor = rand::rng().random_range(0.8..1.2);
    raw.mul_f64(factor)
}

/// The engine's default schedule: 15 s, 30 s, 1 min, 2 min … capped at 6 h, with jitter.
pub fn default_backoff(attempt: i32) -> Duration {
    exponential_backoff(
        attempt,
        Duration::from_secs(15),
        Duration::from_secs(6 * 3600),
    )
}

/// What a handler gets besides its arguments.
#[derive(Clone)]
pub struct JobContext<S> {
    /// Shared services given to [`crate::Engine::new`].
    pub state: S,
    /// The database (the same pool the job is stored in).
    pub db: posada_db::Db,
    /// The job's id.
    pub job_id: i64,
    /// Attempt number, 1 for the first run.
    pub attempt: i32,
    /// Maximum attempts for this job.
    pub max_attempts: i32,
    /// The trace id given at enqueue (e.g. the HTTP request's), for logs.
    pub trace_id: Option<String>,
    /// Node running the attempt.
    pub node_id: String,
    /// Fires when the attempt must stop: timeout, lost lease, or forced shutdown.
    pub cancel: CancellationToken,
}

/// Per-enqueue options; anything left `None` comes from the job kind.
#[derive(Debug, Default, Clone)]
pub struct JobOptions {
    /// Run no earlier than this instant (default: now).
    pub run_at: Option<DateTime<Utc>>,
    /// Priority (higher runs first).
    pub priority: Option<i16>,
    /// Queue name.
    pub queue: Option<String>,
    /// Maximum attempts.
    pub max_attempts: Option<i32>,
    /// At most one live (available, scheduled, running or retryable) job per key; an enqueue with
    /// a key that is live is skipped.
    pub unique_key: Option<String>,
    /// Trace id carried into the handler's span.
    pub trace_id: Option<String>,
}

impl JobOptions {
    /// Options with a unique key.
    pub fn unique(key: impl Into<String>) -> Self {
        Self {
            unique_key: Some(key.into()),
            ..Self::default()
        }
    }

    /// Options with a run time.
    pub fn at(run_at: DateTime<Utc>) -> Self {
        Self {
            run_at: Some(run_at),
            ..Self::default()
        }
    }
}

/// A job ready to be inserted: kind, serialized arguments and resolved options.
#[derive(Debug, Clone)]
pub struct NewJob {
    /// Kind name.
    pub kind: String,
    /// Queue name.
    pub queue: String,
    /// Arguments, as JSON text.
    pub args: String,
    /// Priority (higher runs first).
    pub priority: i16,
    /// Maximum attempts.
    pub max_attempts: i32,
    /// Earliest run time; `None` means now.
    pub run_at: Option<DateTime<Utc>>,
    /// Unique key, if any.
    pub unique_key: Option<String>,
    /// Trace id, if any.
    pub trace_id: Option<String>,
}

impl NewJob {
    /// Serialize `job` and resolve `opts` against the kind's defaults.
    pub fn new<J: Job>(job: &J, opts: JobOptions) -> Result<NewJob, serde_json::Error> {
        Ok(NewJob {
            kind: J::KIND.to_string(),
            queue: opts.queue.unwrap_or_else(|| J::QUEUE.to_string()),
            args: serde_json::to_string(job)?,
            priority: opts.priority.unwrap_or(J::PRIORITY),
            max_attempts: opts.max_attempts.unwrap_or(J::MAX_ATTEMPTS).max(1),
            run_at: opts.run_at,
            unique_key: opts.unique_key.or_else(|| job.unique_key()),
            trace_id: opts.trace_id,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_with_jitter_and_caps() {
        let base = Duration::from_secs(10);
        let cap = Duration::from_secs(100);
        let first = exponential_backoff(1, base, cap);
        assert!(first >= Duration::from_secs(8) && first <= Duration::from_secs(12));
        let third = exponential_backoff(3, base, cap);
        assert!(third >= Duration::from_secs(32) && third <= Duration::from_secs(48));
        let late = exponential_backoff(40, base, cap);
        assert!(late <= Duration::from_secs(120) && late >= Duration::from_secs(80));
        let d = default_backoff(1);
        assert!(d >= Duration::from_secs(12) && d <= Duration::from_secs(18));
    }
}
