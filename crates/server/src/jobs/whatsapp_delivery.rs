//! `whatsapp.delivery` (`wa-delivery:{sha-256 of the body}`): apply one signed WhatsApp webhook
//! delivery (statuses of our messages, guest messages).
//!
//! The webhook only checks the signature, reads the payload and enqueues this job in one
//! statement, so Meta gets its 200 at once whatever the load (Meta asks for a quick answer and
//! redelivers slow ones). The job applies the delivery in one unit of work; every status and
//! message in it is deduplicated on (wamid, event), so a delivery sent twice, a repeated job or
//! two deliveries carrying the same message have exactly one effect.

use posada_integrations::WebhookPayload;
use posada_jobs::{Job, JobContext};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::app::conversations;
use crate::state::AppState;

/// Apply one WhatsApp webhook delivery.
#[derive(Debug, Serialize, Deserialize)]
pub struct WhatsappDelivery {
    /// The delivery's body as Meta sent it (its signature was checked before it was queued).
    pub body: String,
}

impl Job for WhatsappDelivery {
    type State = AppState;
    const KIND: &'static str = "whatsapp.delivery";
    const PRIORITY: i16 = 10;
    const MAX_ATTEMPTS: i32 = 20;

    /// An identical redelivery while the first is still queued is one job.
    fn unique_key(&self) -> Option<String> {
        Some(format!(
            "wa-delivery:{}",
            hex::encode(Sha256::digest(self.body.as_bytes()))
        ))
    }

    async fn run(self, ctx: JobContext<AppState>) -> anyhow::Result<()> {
        // Read by the webhook before it was queued: a failure here is a defect, not bad input.
        let payload = WebhookPayload::parse(self.body.as_bytes())?;
        let (statuses, messages) = conversations::record_delivery(&ctx.state, &payload).await?;
        tracing::debug!(statuses, messages, "whatsapp delivery applied");
        Ok(())
    }
}
