//! `whatsapp.delivery` (`wa-delivery:{sha-256 of the body}`): apply one signed WhatsApp webhook
//! delivery (statuses of our messages, guest messages).
//!
//! The webhook only checks the signature, reads the payload and enqueues this job in one
//! statement, so Meta gets its 200 at once whatever the load (Meta asks for a quick answer and
//! redelivers slow ones). The job applies the delivery in one unit of work; every status and
//! message in it is deduplicated on (wamid, event), so a delivery sent twice, a repeated job or
//! two deliveries carrying the same message have exactly one effect. Then, with that committed,
//! it lets the assistant answer the delivery's messages still waiting (no second job: the waiting
//! state is stored, so a repeated job answers what a crashed one did not).

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
    // As the assistant's replies (5): first come, first served between them, so a burst of
    // deliveries does not starve the answers to the ones already applied.
    const PRIORITY: i16 = 5;
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
        let answered = conversations::answer_delivery(&ctx.state, &payload).await?;
        tracing::debug!(statuses, messages, answered, "whatsapp delivery applied");
        Ok(())
    }
}
