//! `reservation.expiration_sweep` (periodic, `JOB_EXPIRATION_INTERVAL_SECONDS`): the safety net
//! that expires every overdue hold a per-hold job missed.

use posada_jobs::{Job, JobContext};
use serde::{Deserialize, Serialize};

use crate::app::booking;
use crate::state::AppState;

/// Expire every overdue hold.
#[derive(Debug, Serialize, Deserialize)]
pub struct ExpirationSweep;

impl Job for ExpirationSweep {
    type State = AppState;
    const KIND: &'static str = "reservation.expiration_sweep";
    const MAX_ATTEMPTS: i32 = 3;

    async fn run(self, ctx: JobContext<AppState>) -> anyhow::Result<()> {
        let expired = booking::expire_overdue(&ctx.state, 500).await?;
        if expired > 0 {
            tracing::info!(
                holds.expired = expired,
                "expiration sweep expired overdue holds"
            );
        }
        Ok(())
    }
}
