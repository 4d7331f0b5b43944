//! The engine's one error type at its boundary.
//!
//! Callers mostly need to tell three things apart: a database failure (retry later), arguments that
//! cannot be serialized (a bug in the caller), and a request that does not fit the engine's state
//! (a bad setting, a job that cannot be retried now).

/// Errors returned by the job engine.
#[derive(Debug, thiserror::Error)]
pub enum JobsError {
    /// The database failed.
    #[error("job storage: {0}")]
    Db(#[from] sqlx::Error),
    /// Job arguments could not be turned into JSON.
    #[error("job arguments cannot be serialized: {0}")]
    Args(#[from] serde_json::Error),
    /// A setting is out of range; the message names it.
    #[error("invalid job engine setting: {0}")]
    Config(String),
    /// A cron expression or time zone is invalid.
    #[error("invalid schedule for periodic task {task:?}: {reason}")]
    Schedule {
        /// The task's name.
        task: String,
        /// What is wrong.
        reason: String,
    },
    /// Retrying the job would make a second live job with the same unique key.
    #[error("job {id} cannot be retried: a live job with unique key {key:?} exists")]
    UniqueConflict {
        /// The job asked for.
        id: i64,
        /// Its unique key.
        key: String,
    },
    /// The connection belongs to the other dialect than the engine's database.
    #[error("connection dialect does not match the job engine's database")]
    DialectMismatch,
}
