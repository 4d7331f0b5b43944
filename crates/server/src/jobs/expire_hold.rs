//! `reservation.expire_hold` (`hold-expiry:{id}`): expire a hold at its `expires_at`. Scheduled
//! with the hold, cancelled by its confirmation or cancellation; does nothing when the hold is no
//! longer held.

use posada_jobs::{Job, JobContext};
use serde::{Deserialize, Serialize};

use crate::app::booking;
use crate::state::AppState;

/// Expire a hold.
#[derive(Debug, Serialize, Deserialize)]
pub struct ExpireHold {
    /// The reservation.
    pub reservation_id: i64,
}

impl Job for ExpireHold {
    type State = AppState;
    const KIND: &'static str = "reservation.expire_hold";
    const PRIORITY: i16 = 10;

    fn unique_key(&self) -> Option<String> {
        Some(format!("hold-expiry:{}", self.reservation_id))
    }

    async fn run(self, ctx: JobContext<AppState>) -> anyhow::Result<()> {
        booking::expire(&ctx.state, self.reservation_id).await?;
        Ok(())
    }
}
