//! Timed consequences of reservations: a hold's expiry and its reminder, the check-in reminder,
//! the completion after check-out, and the periodic safety nets that catch anything a job missed.
//! Every handler re-reads the reservation and does nothing when it is no longer in the state it
//! was scheduled for, so running twice (at-least-once delivery) is harmless.

use posada_domain::ReservationState;
use posada_jobs::{Job, JobContext};
use serde::{Deserialize, Serialize};

use crate::booking;
use crate::state::AppState;

/// Expire a hold at its `expires_at`.
#[derive(Debug, Serialize, Deserialize)]
pub struct ExpireHold {
    /// The reservation.
    pub reservation_id: i64,
}

impl Job for ExpireHold {
    type State = AppState;
    const KIND: &'static str = "reservation.expire_hold";
    const PRIORITY: i16 = 10;

    async fn run(self, ctx: JobContext<AppState>) -> anyhow::Result<()> {
        booking::expire(&ctx.state, self.reservation_id).await?;
        Ok(())
    }
}

/// Remind the guest that their hold is about to run out.
#[derive(Debug, Serialize, Deserialize)]
pub struct HoldReminder {
    /// The reservation.
    pub reservation_id: i64,
}

impl Job for HoldReminder {
    type State = AppState;
    const KIND: &'static str = "reservation.hold_reminder";

    async fn run(self, ctx: JobContext<AppState>) -> anyhow::Result<()> {
        remind(
            &ctx.state,
            self.reservation_id,
            ReservationState::PreReserved,
            "hold_reminder",
        )
        .await
    }
}

/// Remind the guest of their arrival (24 h before check-in by default).
#[derive(Debug, Serialize, Deserialize)]
pub struct CheckInReminder {
    /// The reservation.
    pub reservation_id: i64,
}

impl Job for CheckInReminder {
    type State = AppState;
    const KIND: &'static str = "reservation.checkin_reminder";

    async fn run(self, ctx: JobContext<AppState>) -> anyhow::Result<()> {
        remind(
            &ctx.state,
            self.reservation_id,
            ReservationState::Confirmed,
            "checkin_reminder",
        )
        .await
    }
}

async fn remind(
    state: &AppState,
    id: i64,
    expected: ReservationState,
    template: &str,
) -> anyhow::Result<()> {
    let Some(r) = booking::reservation(state, id).await? else {
        return Ok(());
    };
    if r.state != expected {
        return Ok(());
    }
    let acc = posada_store::accommodations::get(state.db(), r.accommodation_id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("accommodation {} is gone", r.accommodation_id))?;
    let mut tx = state.db().begin().await?;
    booking::outbox::guest(state, &mut tx, &r, &acc, template).await?;
    state.jobs().commit(tx).await?;
    if template == "hold_reminder" {
        for channel in [
            r.guest_phone.as_ref().map(|_| "whatsapp"),
            r.guest_email.as_ref().map(|_| "email"),
        ]
        .into_iter()
        .flatten()
        {
            metrics::counter!("prereservation_reminders_sent_total", "channel" => channel)
                .increment(1);
        }
    }
    tracing::info!(reservation.code = %r.code, template, "reminder requested");
    Ok(())
}

/// Mark a confirmed stay completed after its check-out.
#[derive(Debug, Serialize, Deserialize)]
pub struct CompleteStay {
    /// The reservation.
    pub reservation_id: i64,
}

impl Job for CompleteStay {
    type State = AppState;
    const KIND: &'static str = "reservation.complete";

    async fn run(self, ctx: JobContext<AppState>) -> anyhow::Result<()> {
        booking::complete(&ctx.state, self.reservation_id).await?;
        Ok(())
    }
}

/// Periodic safety net: expire every overdue hold (`JOB_EXPIRATION_INTERVAL_SECONDS`).
#[derive(Debug, Serialize, Deserialize)]
pub struct ExpirationSweep;

impl Job for ExpirationSweep {
    type State = AppState;
    const KIND: &'static str = "reservation.expiration_sweep";
    const MAX_ATTEMPTS: i32 = 3;

    async fn run(self, ctx: JobContext<AppState>) -> anyhow::Result<()> {
        let due =
            posada_store::reservations::overdue_holds(ctx.state.db(), chrono::Utc::now(), 500)
                .await?;
        let mut expired = 0;
        for id in due {
            if booking::expire(&ctx.state, id).await?.is_some() {
                expired += 1;
            }
        }
        if expired > 0 {
            tracing::info!(
                holds.expired = expired,
                "expiration sweep expired overdue holds"
            );
        }
        Ok(())
    }
}

/// Daily safety net: complete confirmed stays whose check-out has passed.
#[derive(Debug, Serialize, Deserialize)]
pub struct CompletionPass;

impl Job for CompletionPass {
    type State = AppState;
    const KIND: &'static str = "reservation.completion_pass";
    const MAX_ATTEMPTS: i32 = 3;

    async fn run(self, ctx: JobContext<AppState>) -> anyhow::Result<()> {
        let today = booking::today(&ctx.state);
        let due = posada_store::reservations::finished_stays(ctx.state.db(), today, 1000).await?;
        for id in due {
            booking::complete(&ctx.state, id).await?;
        }
        Ok(())
    }
}
