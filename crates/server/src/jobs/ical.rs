//! Channel calendar sync jobs: one `SyncFeed` per feed, and the periodic pass that enqueues them.
//!
//! The pass runs every `JOB_ICAL_INTERVAL_SECONDS` (once per slot across nodes, by the engine)
//! and enqueues one sync per enabled feed under the unique key `ical-sync:{feed_id}`, so a feed
//! never has two syncs queued or running, with each run time jittered over the first 10 % of the
//! interval so that a hundred feeds do not hit the channels in the same second.

use std::time::Duration;

use chrono::{DateTime, Utc};
use posada_jobs::{Job, JobContext, JobOptions, NewJob};
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::ical_sync;
use crate::state::AppState;

/// The unique key of a feed's sync job.
pub fn unique_key(feed_id: i64) -> String {
    format!("ical-sync:{feed_id}")
}

/// Fetch one feed and apply it to its blocks.
///
/// `as_of` replays a fetch as of a past instant: "today" and the stored time stamps follow it
/// instead of the clock. Production never sets it (the periodic pass and "sync now" leave it
/// out); the test suite sets it to replay recorded channel histories through this same job.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SyncFeed {
    /// The feed.
    pub feed_id: i64,
    /// Act as of this instant instead of now (history replays).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub as_of: Option<DateTime<Utc>>,
}

impl Job for SyncFeed {
    type State = AppState;
    const KIND: &'static str = "ical.sync_feed";
    // A failed fetch is recorded on the feed, not retried: the next periodic pass is the retry.
    // Attempts only repeat on database errors.
    const MAX_ATTEMPTS: i32 = 3;

    fn timeout() -> Duration {
        // Fetch timeout (at most 300 s by validation) plus room for parsing and the write.
        Duration::from_secs(330)
    }

    async fn run(self, ctx: JobContext<AppState>) -> anyhow::Result<()> {
        let now = self.as_of.unwrap_or_else(Utc::now);
        ical_sync::sync_feed(&ctx.state, self.feed_id, now).await?;
        Ok(())
    }
}

/// Enqueue a sync of every enabled feed (the periodic pass).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SyncAllFeeds;

impl Job for SyncAllFeeds {
    type State = AppState;
    const KIND: &'static str = "ical.sync_all";
    const PRIORITY: i16 = -5;

    async fn run(self, ctx: JobContext<AppState>) -> anyhow::Result<()> {
        let n = enqueue_all(&ctx.state).await?;
        tracing::debug!(feeds = n, "channel feed syncs enqueued");
        Ok(())
    }
}

/// Enqueue one [`SyncFeed`] per enabled feed, jittered within 10 % of the interval; feeds with a
/// live sync are skipped. Returns how many were enqueued.
pub async fn enqueue_all(state: &AppState) -> anyhow::Result<u64> {
    let ids = posada_store::feeds::enabled_ids(state.db()).await?;
    let interval_ms = state
        .settings()
        .job_ical_interval_seconds
        .saturating_mul(1000);
    let spread = (interval_ms / 10).max(1);
    let now = Utc::now();
    let mut jobs = Vec::with_capacity(ids.len());
    for feed_id in ids {
        let delay = rand::rng().random_range(0..spread);
        let run_at = now + chrono::Duration::milliseconds(i64::try_from(delay).unwrap_or(0));
        jobs.push(NewJob::new(
            &SyncFeed {
                feed_id,
                as_of: None,
            },
            JobOptions {
                run_at: Some(run_at),
                unique_key: Some(unique_key(feed_id)),
                ..JobOptions::default()
            },
        )?);
    }
    if jobs.is_empty() {
        return Ok(0);
    }
    Ok(state.jobs().enqueue_many(jobs).await?)
}

/// Enqueue a sync of one feed now ("sync now"). `Ok(None)` when a sync of it is already queued
/// or running.
pub async fn enqueue_now(state: &AppState, feed_id: i64) -> anyhow::Result<Option<i64>> {
    Ok(state
        .jobs()
        .enqueue(
            &SyncFeed {
                feed_id,
                as_of: None,
            },
            JobOptions::unique(unique_key(feed_id)),
        )
        .await?)
}
