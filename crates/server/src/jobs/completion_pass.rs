//! `reservation.completion_pass` (daily at 03:30 local): the safety net that completes confirmed
//! stays whose check-out has passed.

use posada_jobs::{Job, JobContext};
use serde::{Deserialize, Serialize};

use crate::app::booking;
use crate::state::AppState;

/// Complete every finished stay.
#[derive(Debug, Serialize, Deserialize)]
pub struct CompletionPass;

impl Job for CompletionPass {
    type State = AppState;
    const KIND: &'static str = "reservation.completion_pass";
    const MAX_ATTEMPTS: i32 = 3;

    async fn run(self, ctx: JobContext<AppState>) -> anyhow::Result<()> {
        booking::complete_finished(&ctx.state, 1000).await?;
        Ok(())
    }
}
