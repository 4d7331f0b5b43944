//! `reservation.complete` (`complete:{id}`): mark a confirmed stay completed at its check-out.

use posada_jobs::{Job, JobContext};
use serde::{Deserialize, Serialize};

use crate::app::booking;
use crate::state::AppState;

/// Complete a stay after check-out.
#[derive(Debug, Serialize, Deserialize)]
pub struct CompleteStay {
    /// The reservation.
    pub reservation_id: i64,
}

impl Job for CompleteStay {
    type State = AppState;
    const KIND: &'static str = "reservation.complete";

    fn unique_key(&self) -> Option<String> {
        Some(format!("complete:{}", self.reservation_id))
    }

    async fn run(self, ctx: JobContext<AppState>) -> anyhow::Result<()> {
        booking::complete(&ctx.state, self.reservation_id).await?;
        Ok(())
    }
}
