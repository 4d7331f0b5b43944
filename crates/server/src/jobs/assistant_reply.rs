//! `whatsapp.assistant_reply` (`assistant:{message id}`): the assistant answers a guest message
//! that waited for something first (a voice note's transcription; ordinary messages are answered
//! by the delivery job that stored them).
//!
//! One job per message (not one per phone): a per-phone key would be refused while that phone's
//! job runs, and a message arriving just as it finished would wait for nobody. Instead each job
//! answers its phone's waiting messages oldest first up to its own, each answer a compare-and-set
//! on the message and the session, so jobs of one phone running side by side never answer a
//! message twice or out of order, and a repeated job finds its message answered.

use posada_jobs::{Job, JobContext};
use serde::{Deserialize, Serialize};

use crate::app::assistant;
use crate::state::AppState;

/// Answer guest message `message_id` (and the phone's earlier ones still waiting).
#[derive(Debug, Serialize, Deserialize)]
pub struct AssistantReply {
    /// The stored inbound message.
    pub message_id: i64,
}

impl Job for AssistantReply {
    type State = AppState;
    const KIND: &'static str = "whatsapp.assistant_reply";
    const PRIORITY: i16 = 5;
    const MAX_ATTEMPTS: i32 = 10;

    fn unique_key(&self) -> Option<String> {
        Some(format!("assistant:{}", self.message_id))
    }

    async fn run(self, ctx: JobContext<AppState>) -> anyhow::Result<()> {
        let answered = assistant::answer_up_to(&ctx.state, self.message_id).await?;
        tracing::debug!(
            message.id = self.message_id,
            answered,
            "assistant answered guest messages"
        );
        Ok(())
    }
}
