//! `payment.create_link` (`payment-link:{id}`): create the Checkout Pro preference of a hold's
//! deposit and send the link to the guest. Retries with the integration backoff while Mercado
//! Pago is down or its circuit is open; the hold is never touched by a failure here.

use posada_jobs::{Job, JobContext};
use serde::{Deserialize, Serialize};

use crate::app::payments;
use crate::state::AppState;

/// Create a hold's payment link.
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

    fn unique_key(&self) -> Option<String> {
        Some(format!("payment-link:{}", self.reservation_id))
    }

    fn backoff(attempt: i32) -> std::time::Duration {
        crate::notify::retry_backoff(attempt)
    }

    async fn run(self, ctx: JobContext<AppState>) -> anyhow::Result<()> {
        payments::create_payment_link(&ctx.state, self.reservation_id).await?;
        Ok(())
    }
}
