//! `reservation.hold_reminder` (`hold-reminder:{id}`): remind the guest that their hold is about
//! to run out (`PRERESERVATION_REMINDER_MINUTES` before it does), only while it is still held.

use posada_domain::ReservationState;
use posada_jobs::{Job, JobContext};
use serde::{Deserialize, Serialize};

use crate::app::booking;
use crate::state::AppState;

/// Remind the guest of a hold.
#[derive(Debug, Serialize, Deserialize)]
pub struct HoldReminder {
    /// The reservation.
    pub reservation_id: i64,
}

impl Job for HoldReminder {
    type State = AppState;
    const KIND: &'static str = "reservation.hold_reminder";

    fn unique_key(&self) -> Option<String> {
        Some(format!("hold-reminder:{}", self.reservation_id))
    }

    async fn run(self, ctx: JobContext<AppState>) -> anyhow::Result<()> {
        let state = &ctx.state;
        let id = self.reservation_id;
        if booking::remind(state, id, ReservationState::PreReserved, "hold_reminder").await? {
            let r = booking::reservation(state, id).await?;
            let channels = [
                r.guest_phone.as_ref().map(|_| "whatsapp"),
                r.guest_email.as_ref().map(|_| "email"),
            ];
            for channel in channels.into_iter().flatten() {
                metrics::counter!("prereservation_reminders_sent_total", "channel" => channel)
                    .increment(1);
            }
        }
        Ok(())
    }
}
