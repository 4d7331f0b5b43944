//! `reservation.checkin_reminder` (`checkin-reminder:{id}`): remind the guest of their arrival
//! (`CHECKIN_REMINDER_HOURS` before check-in), only while the stay is confirmed.

use posada_domain::ReservationState;
use posada_jobs::{Job, JobContext};
use serde::{Deserialize, Serialize};

use crate::app::booking;
use crate::state::AppState;

/// Remind the guest of their arrival.
#[derive(Debug, Serialize, Deserialize)]
pub struct CheckInReminder {
    /// The reservation.
    pub reservation_id: i64,
}

impl Job for CheckInReminder {
    type State = AppState;
    const KIND: &'static str = "reservation.checkin_reminder";

    fn unique_key(&self) -> Option<String> {
        Some(format!("checkin-reminder:{}", self.reservation_id))
    }

    async fn run(self, ctx: JobContext<AppState>) -> anyhow::Result<()> {
        booking::remind(
            &ctx.state,
            self.reservation_id,
            ReservationState::Confirmed,
            "checkin_reminder",
        )
        .await?;
        Ok(())
    }
}
