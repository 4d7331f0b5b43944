//! Metric names and helpers, through the `metrics` facade (the server installs the exporter).
//!
//! Labels are low-cardinality on purpose: job kind, queue, state and periodic task name; never a
//! job id or a unique key.

use std::sync::Once;

/// Jobs inserted, by kind.
pub const ENQUEUED: &str = "jobs_enqueued_total";
/// Attempts that succeeded, by kind.
pub const COMPLETED: &str = "jobs_completed_total";
/// Attempts that failed (error, panic or timeout), by kind.
pub const FAILED: &str = "jobs_failed_total";
/// Failed attempts scheduled for another try, by kind.
pub const RETRIED: &str = "jobs_retried_total";
/// Jobs given up after their last attempt, by kind.
pub const DISCARDED: &str = "jobs_discarded_total";
/// Jobs taken back from a worker whose lease expired, by kind.
pub const RESCUED: &str = "jobs_rescued_total";
/// Handler run time in seconds, by kind.
pub const RUN_DURATION: &str = "job_run_duration_seconds";
/// Live jobs by queue and state.
pub const QUEUE_DEPTH: &str = "jobs_queue_depth";
/// Seconds since a periodic task's last run finished, by task.
pub const PERIODIC_AGE: &str = "periodic_task_last_run_age_seconds";

/// Register HELP texts for every engine metric (idempotent; called by `Engine::start`).
pub fn describe() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        metrics::describe_counter!(ENQUEUED, "Jobs inserted, by kind.");
        metrics::describe_counter!(COMPLETED, "Job attempts that succeeded, by kind.");
        metrics::describe_counter!(
            FAILED,
            "Job attempts that failed (error, panic or timeout), by kind."
        );
        metrics::describe_counter!(
            RETRIED,
            "Failed jobs scheduled for another attempt, by kind."
        );
        metrics::describe_counter!(
            DISCARDED,
            "Jobs given up after their last attempt, by kind."
        );
        metrics::describe_counter!(
            RESCUED,
            "Jobs taken back after their worker's lease expired, by kind."
        );
        metrics::describe_histogram!(
            RUN_DURATION,
            metrics::Unit::Seconds,
            "Job handler run time, by kind."
        );
        metrics::describe_gauge!(QUEUE_DEPTH, "Live jobs by queue and state.");
        metrics::describe_gauge!(
            PERIODIC_AGE,
            metrics::Unit::Seconds,
            "Seconds since a periodic task's last run finished."
        );
    });
}

pub(crate) fn enqueued(kind: &str, n: u64) {
    metrics::counter!(ENQUEUED, "kind" => kind.to_string()).increment(n);
}

pub(crate) fn count(name: &'static str, kind: &str, n: u64) {
    metrics::counter!(name, "kind" => kind.to_string()).increment(n);
}

pub(crate) fn run_duration(kind: &str, seconds: f64) {
    metrics::histogram!(RUN_DURATION, "kind" => kind.to_string()).record(seconds);
}

pub(crate) fn queue_depth(queue: &str, state: &str, n: f64) {
    metrics::gauge!(QUEUE_DEPTH, "queue" => queue.to_string(), "state" => state.to_string()).set(n);
}

pub(crate) fn periodic_age(task: &str, seconds: f64) {
    metrics::gauge!(PERIODIC_AGE, "task" => task.to_string()).set(seconds);
}
