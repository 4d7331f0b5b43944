//! `notification.deliver` (`notify:{id}`): deliver one outbox row. Written by the unit of work in
//! the transaction that wrote the row. Retryable provider failures and an open circuit fail the
//! attempt so the engine retries with the integration backoff; everything else ends the job with
//! the outcome on the row.

use posada_jobs::{Job, JobContext};
use serde::{Deserialize, Serialize};

use crate::notify;
use crate::state::AppState;

/// Deliver one notification.
#[derive(Debug, Serialize, Deserialize)]
pub struct DeliverNotification {
    /// The outbox row.
    pub notification_id: i64,
}

impl Job for DeliverNotification {
    type State = AppState;
    const KIND: &'static str = "notification.deliver";
    // A person waits for it: served first come, first served with the WhatsApp deliveries and
    // the assistant's work (5), so a burst of incoming messages does not hold back the answers.
    const PRIORITY: i16 = 5;
    const MAX_ATTEMPTS: i32 = 25;

    fn unique_key(&self) -> Option<String> {
        Some(format!("notify:{}", self.notification_id))
    }

    fn timeout() -> std::time::Duration {
        std::time::Duration::from_secs(90)
    }

    fn backoff(attempt: i32) -> std::time::Duration {
        notify::retry_backoff(attempt)
    }

    async fn run(self, ctx: JobContext<AppState>) -> anyhow::Result<()> {
        let last_attempt = ctx.attempt >= ctx.max_attempts;
        notify::deliver(&ctx.state, self.notification_id, last_attempt).await?;
        Ok(())
    }
}
