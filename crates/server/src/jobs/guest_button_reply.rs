//! `whatsapp.button_reply` (`wa-button:{message id}`): act on a guest's tap on a reply button,
//! enqueued by the WhatsApp webhook in the transaction that stored the message. The outcome is
//! recorded on the message together with its effect, so a repeated run does nothing.

use posada_jobs::{Job, JobContext};
use serde::{Deserialize, Serialize};

use crate::app::conversations;
use crate::state::AppState;

/// Act on a `pay:{code}` / `cancel:{code}` button tap.
#[derive(Debug, Serialize, Deserialize)]
pub struct GuestButtonReply {
    /// The stored inbound message.
    pub message_id: i64,
    /// The button's id, as we sent it.
    pub button_id: String,
}

impl Job for GuestButtonReply {
    type State = AppState;
    const KIND: &'static str = "whatsapp.button_reply";
    const PRIORITY: i16 = 5;
    const MAX_ATTEMPTS: i32 = 10;

    fn unique_key(&self) -> Option<String> {
        Some(format!("wa-button:{}", self.message_id))
    }

    async fn run(self, ctx: JobContext<AppState>) -> anyhow::Result<()> {
        let outcome =
            conversations::handle_button(&ctx.state, self.message_id, &self.button_id).await?;
        tracing::info!(
            message.id = self.message_id,
            outcome = outcome.as_str(),
            "reply button handled"
        );
        Ok(())
    }
}
