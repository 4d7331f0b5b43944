//! Operator queries: counts, listing, one job with its error history, retry, cancel, queue and
//! periodic-task switches.
//!
//! These back the `posada jobs …` CLI now and the HTTP admin later; they need no running engine
//! (switches are rows every node reads), so a CLI process can pause a queue that workers on other
//! machines then stop claiming.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::JobsError;
use crate::client::Hub;
use crate::store::{Store, is_unique_violation};
use std::sync::Arc;

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum JobState {
    /// Due, waiting for a worker.
    Available,
    /// Waiting for its `run_at`.
    Scheduled,
    /// Claimed by a worker (under a lease).
    Running,
    /// Failed, waiting for its next attempt.
    Retryable,
    /// Done.
    Completed,
    /// Cancelled before it finished.
    Cancelled,
    /// Failed on its last allowed attempt.
    Discarded,
}

impl JobState {
    /// All states, live first.
    pub const ALL: [JobState; 7] = [
        JobState::Available,
        JobState::Scheduled,
        JobState::Running,
        JobState::Retryable,
        JobState::Completed,
        JobState::Cancelled,
        JobState::Discarded,
    ];

    /// The name stored in the `state` column.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Available => "available",
            JobState::Scheduled => "scheduled",
            JobState::Running => "running",
            JobState::Retryable => "retryable",
            JobState::Completed => "completed",
            JobState::Cancelled => "cancelled",
            JobState::Discarded => "discarded",
        }
    }

    /// Whether a job in this state holds its unique key.
    pub fn is_live(self) -> bool {
        matches!(
            self,
            JobState::Available | JobState::Scheduled | JobState::Running | JobState::Retryable
        )
    }
}

impl fmt::Display for JobState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A state name that is not one of [`JobState::ALL`].
#[derive(Debug, Clone, thiserror::Error)]
#[error(
    "unknown job state {0:?} (expected available, scheduled, running, retryable, completed, cancelled or discarded)"
)]
pub struct UnknownState(pub String);

impl FromStr for JobState {
    type Err = UnknownState;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        JobState::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| UnknownState(s.to_string()))
    }
}

/// Number of jobs in one (queue, state, kind).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CountRow {
    /// Queue.
    pub queue: String,
    /// State.
    pub state: JobState,
    /// Kind.
    pub kind: String,
    /// How many.
    pub count: i64,
}

/// Filters for [`Admin::list`]; `None` matches everything.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    /// Only this queue.
    pub queue: Option<String>,
    /// Only this state.
    pub state: Option<JobState>,
    /// Only this kind.
    pub kind: Option<String>,
}

/// Keyset pagination, newest first: pass the last id seen as `before_id` for the next page.
#[derive(Debug, Clone)]
pub struct Page {
    /// Rows per page (capped at 1000).
    pub limit: u32,
    /// Only jobs with a smaller id.
    pub before_id: Option<i64>,
}

impl Default for Page {
    fn default() -> Self {
        Page {
            limit: 50,
            before_id: None,
        }
    }
}

/// One job as listed.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct JobSummary {
    /// Id.
    pub id: i64,
    /// Kind.
    pub kind: String,
    /// Queue.
    pub queue: String,
    /// State.
    pub state: JobState,
    /// Priority (higher runs first).
    pub priority: i16,
    /// Attempts made so far.
    pub attempt: i32,
    /// Attempts allowed.
    pub max_attempts: i32,
    /// Earliest (next) run time.
    pub run_at: DateTime<Utc>,
    /// Unique key.
    pub unique_key: Option<String>,
    /// Trace id.
    pub trace_id: Option<String>,
    /// Node running or last running it.
    pub node_id: Option<String>,
    /// Lease end while running.
    pub lease_expires_at: Option<DateTime<Utc>>,
    /// Insert time.
    pub created_at: DateTime<Utc>,
    /// Start of the latest attempt.
    pub attempted_at: Option<DateTime<Utc>>,
    /// When it reached completed, cancelled or discarded.
    pub finished_at: Option<DateTime<Utc>>,
    /// Latest error message.
    pub last_error: Option<String>,
}

/// One failed attempt.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct JobError {
    /// Attempt number.
    pub attempt: i32,
    /// What went wrong.
    pub message: String,
    /// When it was recorded.
    pub at: DateTime<Utc>,
    /// Node that ran the attempt.
    pub node_id: Option<String>,
}

/// A job with its arguments and error history.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct JobDetail {
    /// The job.
    #[serde(flatten)]
    pub job: JobSummary,
    /// Its arguments.
    pub args: serde_json::Value,
    /// One entry per failed attempt, oldest first.
    pub errors: Vec<JobError>,
}

/// A periodic task's durable record.
#[derive(Debug, Clone, Serialize)]
pub struct PeriodicTaskInfo {
    /// Name.
    pub name: String,
    /// `every 30s` or the cron expression.
    pub schedule: String,
    /// Time zone of a cron schedule.
    pub tz: String,
    /// Kind of the job it enqueues.
    pub kind: String,
    /// Latest slot taken (run or passed).
    pub last_slot: Option<DateTime<Utc>>,
    /// Next slot.
    pub next_run: Option<DateTime<Utc>>,
    /// When the latest run finished.
    pub last_run_at: Option<DateTime<Utc>>,
    /// How long it took.
    pub last_duration_ms: Option<i64>,
    /// Its error, if it failed.
    pub last_error: Option<String>,
    /// Paused tasks let their slots pass.
    pub paused: bool,
    /// A run-now request not yet taken by a scheduler.
    pub run_now_requested_at: Option<DateTime<Utc>>,
}

/// Jobs that finished in one time slot (see [`Admin::finished_by_slot`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct FinishedSlot {
    /// Start of the slot.
    pub start: DateTime<Utc>,
    /// Jobs completed in it.
    pub completed: i64,
    /// Jobs discarded in it (failed on their last attempt).
    pub discarded: i64,
}

/// Operator handle; get one from [`crate::Jobs::admin`].
#[derive(Clone)]
pub struct Admin {
    pub(crate) store: Store,
    pub(crate) hub: Arc<Hub>,
}

impl Admin {
    /// Jobs completed and discarded in each of `slots` consecutive slots of `slot` length,
    /// the first starting at `since` (oldest first; empty slots included).
    pub async fn finished_by_slot(
        &self,
        since: DateTime<Utc>,
        slot: std::time::Duration,
        slots: usize,
    ) -> Result<Vec<FinishedSlot>, JobsError> {
        let slot_ms = i64::try_from(slot.as_millis()).unwrap_or(i64::MAX).max(1);
        let mut out: Vec<FinishedSlot> = (0..slots)
            .map(|i| FinishedSlot {
                start: since + chrono::Duration::milliseconds(slot_ms.saturating_mul(i as i64)),
                completed: 0,
                discarded: 0,
            })
            .collect();
        for (state, index, count) in self.store.finished_by_slot(since, slot_ms).await? {
            let Some(s) = usize::try_from(index).ok().and_then(|i| out.get_mut(i)) else {
                continue;
            };
            match state {
                JobState::Completed => s.completed += count,
                JobState::Discarded => s.discarded += count,
                _ => {}
            }
        }
        Ok(out)
    }

    /// Job counts by queue, state and kind.
    pub async fn stats(&self) -> Result<Vec<CountRow>, JobsError> {
        Ok(self.store.stats().await?)
    }

    /// Live jobs (available, scheduled, running, retryable) by queue and state, and those finished
    /// (completed, cancelled, discarded) since `since`: counts that stay cheap however long the
    /// finished history is. Each row is (queue, state, count).
    pub async fn recent_counts(
        &self,
        since: DateTime<Utc>,
    ) -> Result<Vec<(String, JobState, i64)>, JobsError> {
        Ok(self.store.recent_counts(since).await?)
    }

    /// The newest `limit` failing jobs (discarded, or retryable after a failed attempt).
    pub async fn failing(&self, limit: u32) -> Result<Vec<JobSummary>, JobsError> {
        Ok(self.store.failing(limit).await?)
    }

    /// Jobs matching `filter`, newest first.
    pub async fn list(
        &self,
        filter: &ListFilter,
        page: Page,
    ) -> Result<Vec<JobSummary>, JobsError> {
        Ok(self.store.list(filter, &page).await?)
    }

    /// One job with its arguments and error history.
    pub async fn get(&self, id: i64) -> Result<Option<JobDetail>, JobsError> {
        Ok(self.store.get(id).await?)
    }

    /// The id of the live (available, scheduled, running or retryable) job holding unique key
    /// `key`, if any: the job an enqueue skipped for that key defers to.
    pub async fn live_job_id(&self, key: &str) -> Result<Option<i64>, JobsError> {
        Ok(self.store.live_id(key).await?)
    }

    /// Run a job again now (discarded, cancelled, completed, retryable or scheduled); `false`
    /// when it does not exist or is running. Its attempt count is kept; if it had used all its
    /// attempts it gets one more.
    pub async fn retry(&self, id: i64) -> Result<bool, JobsError> {
        match self.store.retry(id).await {
            Ok(Some(queue)) => {
                self.hub.wake(&queue);
                Ok(true)
            }
            Ok(None) => Ok(false),
            Err(e) if is_unique_violation(&e) => {
                let key = self
                    .store
                    .get(id)
                    .await?
                    .and_then(|d| d.job.unique_key)
                    .unwrap_or_default();
                Err(JobsError::UniqueConflict { id, key })
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Cancel a job that has not finished; a running attempt's result is then ignored and the
    /// worker's next heartbeat cancels its context.
    pub async fn cancel(&self, id: i64) -> Result<bool, JobsError> {
        Ok(self.store.cancel(id).await?)
    }

    /// Stop every node from claiming `queue` (running jobs finish).
    pub async fn pause_queue(&self, queue: &str) -> Result<(), JobsError> {
        Ok(self.store.set_queue_paused(queue, true).await?)
    }

    /// Let nodes claim `queue` again.
    pub async fn resume_queue(&self, queue: &str) -> Result<(), JobsError> {
        self.store.set_queue_paused(queue, false).await?;
        self.hub.wake(queue);
        Ok(())
    }

    /// Names of paused queues.
    pub async fn paused_queues(&self) -> Result<Vec<String>, JobsError> {
        Ok(self.store.paused_queues().await?)
    }

    /// Every periodic task any node has registered.
    pub async fn periodic_list(&self) -> Result<Vec<PeriodicTaskInfo>, JobsError> {
        Ok(self.store.periodic_list().await?)
    }

    /// Ask the schedulers to run `name` once now (taken by one node within about a second);
    /// `false` when no such task is registered.
    pub async fn periodic_run_now(&self, name: &str) -> Result<bool, JobsError> {
        let found = self.store.periodic_request_run_now(name).await?;
        if found {
            self.hub.wake_scheduler();
        }
        Ok(found)
    }

    /// Let `name`'s slots pass without running; `false` when unknown.
    pub async fn periodic_pause(&self, name: &str) -> Result<bool, JobsError> {
        Ok(self.store.periodic_set_paused(name, true).await?)
    }

    /// Run `name` again from its next slot; `false` when unknown.
    pub async fn periodic_resume(&self, name: &str) -> Result<bool, JobsError> {
        Ok(self.store.periodic_set_paused(name, false).await?)
    }
}
