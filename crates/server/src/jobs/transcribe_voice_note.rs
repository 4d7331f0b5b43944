//! `whatsapp.transcribe` (`transcribe:{message id}`): transcribe a guest's voice note with
//! `POSADA_STT_COMMAND`, then queue it for the assistant. Enqueued by the WhatsApp delivery job
//! in the transaction that stored the note (only when the command is configured).

use posada_jobs::{Job, JobContext};
use serde::{Deserialize, Serialize};

use crate::app::transcription;
use crate::state::AppState;

/// Transcribe voice note `message_id`.
#[derive(Debug, Serialize, Deserialize)]
pub struct TranscribeVoiceNote {
    /// The stored inbound message.
    pub message_id: i64,
    /// WhatsApp's media id of the audio.
    pub media_id: String,
}

impl Job for TranscribeVoiceNote {
    type State = AppState;
    const KIND: &'static str = "whatsapp.transcribe";
    const PRIORITY: i16 = 5;
    const MAX_ATTEMPTS: i32 = 5;

    fn unique_key(&self) -> Option<String> {
        Some(format!("transcribe:{}", self.message_id))
    }

    fn timeout() -> std::time::Duration {
        // The command's own bound (at most an hour) plus the download.
        std::time::Duration::from_secs(3_700)
    }

    async fn run(self, ctx: JobContext<AppState>) -> anyhow::Result<()> {
        let last_attempt = ctx.attempt >= ctx.max_attempts;
        transcription::transcribe(&ctx.state, self.message_id, &self.media_id, last_attempt)
            .await?;
        Ok(())
    }
}
