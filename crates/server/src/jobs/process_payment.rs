//! `payment.process` (`mp-payment:{payment id}`, held only while the job is live, so a later
//! notification about the same payment is processed again): fetch a payment from Mercado Pago
//! and act on what the API says.

use posada_jobs::{Job, JobContext};
use serde::{Deserialize, Serialize};

use crate::app::payments;
use crate::state::AppState;

/// Process one payment notification.
#[derive(Debug, Serialize, Deserialize)]
pub struct ProcessPayment {
    /// Mercado Pago's payment id.
    pub payment_id: String,
}

impl ProcessPayment {
    /// The key of the one follow-up look-up asked for while a processing job is live.
    pub fn follow_up_key(&self) -> String {
        format!("mp-payment:{}:again", self.payment_id)
    }
}

impl Job for ProcessPayment {
    type State = AppState;
    const KIND: &'static str = "payment.process";
    const PRIORITY: i16 = 10;
    const MAX_ATTEMPTS: i32 = 25;

    fn unique_key(&self) -> Option<String> {
        Some(format!("mp-payment:{}", self.payment_id))
    }

    fn backoff(attempt: i32) -> std::time::Duration {
        crate::notify::retry_backoff(attempt)
    }

    async fn run(self, ctx: JobContext<AppState>) -> anyhow::Result<()> {
        payments::process_payment(&ctx.state, &self.payment_id, ctx.attempt).await?;
        Ok(())
    }
}
