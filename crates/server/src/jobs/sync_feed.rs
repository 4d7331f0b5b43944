//! `ical.sync_feed` (`ical-sync:{feed id}`: a feed never has two syncs queued; "sync now" while one
//! runs adds one follow-up, `ical-sync:{feed id}:again`): fetch one channel feed and apply it to
//! its blocks (an older fetch never overwrites a newer one's result).

use std::time::Duration;

use chrono::{DateTime, Utc};
use posada_jobs::{Job, JobContext};
use serde::{Deserialize, Serialize};

use crate::app::channels;
use crate::state::AppState;

/// Fetch one feed and apply it.
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

impl SyncFeed {
    /// The key of the one follow-up sync "sync now" queues while a sync of the feed is running
    /// (that one may have fetched before the owner asked).
    pub fn follow_up_key(&self) -> String {
        format!("ical-sync:{}:again", self.feed_id)
    }
}

impl Job for SyncFeed {
    type State = AppState;
    const KIND: &'static str = "ical.sync_feed";
    // A failed fetch is recorded on the feed, not retried: the next periodic pass is the retry.
    // Attempts only repeat on database errors.
    const MAX_ATTEMPTS: i32 = 3;

    fn unique_key(&self) -> Option<String> {
        Some(format!("ical-sync:{}", self.feed_id))
    }

    fn timeout() -> Duration {
        // Fetch timeout (at most 300 s by validation) plus room for parsing and the write.
        Duration::from_secs(330)
    }

    async fn run(self, ctx: JobContext<AppState>) -> anyhow::Result<()> {
        let now = self.as_of.unwrap_or_else(|| ctx.state.now());
        channels::sync_feed(&ctx.state, self.feed_id, now).await?;
        Ok(())
    }
}
