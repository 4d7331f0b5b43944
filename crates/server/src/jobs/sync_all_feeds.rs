//! `ical.sync_all` (periodic, `JOB_ICAL_INTERVAL_SECONDS`, once per slot across nodes): enqueue
//! one [`SyncFeed`](super::sync_feed::SyncFeed) per enabled feed, each run time jittered over the first 10 % of the interval
//! so that a hundred feeds do not hit the channels in the same second.

use posada_jobs::{Job, JobContext};
use serde::{Deserialize, Serialize};

use crate::app::channels;
use crate::state::AppState;

/// Enqueue a sync of every enabled feed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SyncAllFeeds;

impl Job for SyncAllFeeds {
    type State = AppState;
    const KIND: &'static str = "ical.sync_all";
    const PRIORITY: i16 = -5;

    async fn run(self, ctx: JobContext<AppState>) -> anyhow::Result<()> {
        let n = channels::enqueue_all_syncs(&ctx.state).await?;
        tracing::debug!(feeds = n, "channel feed syncs enqueued");
        Ok(())
    }
}
