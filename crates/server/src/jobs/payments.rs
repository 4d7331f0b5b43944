//! Mercado Pago jobs: creating a hold's payment link (`payment-link:{id}`) and processing a
//! payment notification (`mp-payment:{payment id}`). Both retry with the integration backoff while
//! Mercado Pago is down or its circuit is open; the hold is never touched by a failure here.

use posada_db::Tx;
use posada_jobs::{Job, JobContext, JobOptions};
use posada_store::reservations::Reservation;
use serde::{Deserialize, Serialize};

use crate::booking::BookingError;
use crate::payments;
use crate::state::AppState;

/// Create the Checkout Pro preference of a hold's deposit and send the link to the guest.
#[derive(Debug, Serialize, Deserialize)]
pub struct CreatePaymentLink {
    /// The reservation.
    pub reservation_id: i64,
}

impl Job for CreatePaymentLink {
    type State = AppState;
    const KIND: &'static str = "payment.create_link";
    const PRIORITY: i16 = 5;
    const MAX_ATTEMPTS: i32 = 25;

    fn backoff(attempt: i32) -> std::time::Duration {
        crate::notify::retry_backoff(attempt)
    }

    async fn run(self, ctx: JobContext<AppState>) -> anyhow::Result<()> {
        payments::create_payment_link(&ctx.state, self.reservation_id).await?;
        Ok(())
    }
}

/// Fetch a payment from Mercado Pago and act on what the API says.
#[derive(Debug, Serialize, Deserialize)]
pub struct ProcessPayment {
    /// Mercado Pago's payment id.
    pub payment_id: String,
}

impl Job for ProcessPayment {
    type State = AppState;
    const KIND: &'static str = "payment.process";
    const PRIORITY: i16 = 10;
    const MAX_ATTEMPTS: i32 = 25;

    fn backoff(attempt: i32) -> std::time::Duration {
        crate::notify::retry_backoff(attempt)
    }

    async fn run(self, ctx: JobContext<AppState>) -> anyhow::Result<()> {
        payments::process_payment(&ctx.state, &self.payment_id, ctx.attempt).await?;
        Ok(())
    }
}

/// Unique key of a hold's payment-link job.
pub fn payment_link_key(reservation_id: i64) -> String {
    format!("payment-link:{reservation_id}")
}

/// Unique key of a payment's processing job (held only while the job is live, so a later
/// notification about the same payment is processed again).
pub fn process_key(payment_id: &str) -> String {
    format!("mp-payment:{payment_id}")
}

/// Enqueue the payment-link job of a new hold, inside the hold's transaction.
pub async fn enqueue_payment_link(
    state: &AppState,
    tx: &mut Tx,
    r: &Reservation,
) -> Result<(), BookingError> {
    state
        .jobs()
        .enqueue_in(
            tx.conn(),
            &CreatePaymentLink {
                reservation_id: r.id,
            },
            JobOptions {
                unique_key: Some(payment_link_key(r.id)),
                trace_id: r.trace_id.clone(),
                ..JobOptions::default()
            },
        )
        .await?;
    Ok(())
}
