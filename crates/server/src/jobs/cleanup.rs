//! `ops.cleanup` (hourly): expired idempotency keys and dashboard sessions, delivered
//! notifications and WhatsApp conversation messages older than 90 days, and conversation hand-off
//! states whose 24 h window closed. Job retention is the engine's own pruner.

use posada_jobs::{Job, JobContext};
use serde::{Deserialize, Serialize};

use crate::app::alerts;
use crate::state::AppState;

/// Housekeeping.
#[derive(Debug, Serialize, Deserialize)]
pub struct Cleanup;

impl Job for Cleanup {
    type State = AppState;
    const KIND: &'static str = "ops.cleanup";
    const MAX_ATTEMPTS: i32 = 3;

    async fn run(self, ctx: JobContext<AppState>) -> anyhow::Result<()> {
        alerts::cleanup(&ctx.state).await?;
        Ok(())
    }
}
