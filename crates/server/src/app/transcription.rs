//! Guests' voice notes, transcribed for the assistant by a command the owner configures
//! (`POSADA_STT_COMMAND`; off by default).
//!
//! The webhook's job stores a voice note as `transcribing` and queues `whatsapp.transcribe`. That
//! job downloads the audio from WhatsApp, runs the command with the file's path appended (through
//! `sh -c`, bounded by `POSADA_STT_TIMEOUT_SECONDS`), keeps its standard output as the message's
//! text and queues the message for the assistant, which reads it like a written one. Whatever goes
//! wrong (no command any more, the download refused, the command failing, silent or too slow), the
//! message is queued without text and the assistant kindly asks for it in writing.

use std::process::Stdio;
use std::time::Duration;

use posada_store::assistant as sessions;
use tokio::io::AsyncReadExt;

use super::error::AppError;
use super::events::Event;
use super::uow::UnitOfWork;
use crate::jobs::assistant_reply::AssistantReply;
use crate::state::AppState;

/// The most text kept from a transcription (a WhatsApp text's limit).
const MAX_TRANSCRIPT_CHARS: usize = posada_integrations::whatsapp::MAX_TEXT_BODY;

/// What became of one transcription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transcription {
    /// The text the command printed.
    Text(String),
    /// No text, for this reason (kept for the log and the metric, never shown to the guest).
    Failed(&'static str),
}

/// Transcribe voice note `message_id` (WhatsApp media `media_id`) and queue it for the
/// assistant. A download failure WhatsApp may recover from is an error (the job retries) unless
/// `last_attempt`.
pub async fn transcribe(
    state: &AppState,
    message_id: i64,
    media_id: &str,
    last_attempt: bool,
) -> Result<Transcription, AppError> {
    let outcome = match (
        state.settings().posada_stt_command.as_deref(),
        state.services().whatsapp.as_ref(),
    ) {
        (Some(command), Some(whatsapp)) => match whatsapp.download_media(media_id).await {
            Ok(audio) => {
                let timeout = Duration::from_secs(state.settings().posada_stt_timeout_seconds);
                run_command(command, &audio, timeout).await
            }
            Err(e) if e.is_retryable() && !last_attempt => {
                return Err(AppError::Unavailable(format!(
                    "downloading voice note {media_id}: {e}"
                )));
            }
            Err(e) => {
                tracing::warn!(message.id = message_id, error = %e, "voice note could not be downloaded");
                Transcription::Failed("download_failed")
            }
        },
        (None, _) => Transcription::Failed("not_configured"),
        (_, None) => Transcription::Failed("whatsapp_not_configured"),
    };
    let label = match &outcome {
        Transcription::Text(_) => "transcribed",
        Transcription::Failed(reason) => reason,
    };
    metrics::counter!("assistant_transcriptions_total", "outcome" => label).increment(1);
    let text = match &outcome {
        Transcription::Text(text) => Some(text.as_str()),
        Transcription::Failed(_) => None,
    };
    let mut uow = UnitOfWork::begin(state).await?;
    if let Some(phone) = sessions::transcribed(uow.conn(), message_id, text).await? {
        uow.enqueue(&AssistantReply { message_id })?;
        uow.changed(Event::ConversationChanged { phone });
    }
    uow.commit().await?;
    tracing::info!(
        message.id = message_id,
        transcription = label,
        "voice note handled"
    );
    Ok(outcome)
}

/// Run `command` on `audio` written to a private temporary file.
async fn run_command(command: &str, audio: &[u8], timeout: Duration) -> Transcription {
    let file = match tempfile::Builder::new()
        .prefix("posada-voice-")
        .suffix(".ogg")
        .tempfile()
        .and_then(|mut f| {
            std::io::Write::write_all(&mut f, audio)?;
            Ok(f)
        }) {
        Ok(f) => f,
        Err(e) => {
            tracing::warn!(error = %e, "voice note could not be written to a temporary file");
            return Transcription::Failed("temporary_file");
        }
    };
    let child = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(format!("{command} \"$1\""))
        .arg("posada-stt")
        .arg(file.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(e) => {
            tracing::warn!(error = %e, "POSADA_STT_COMMAND could not be started");
            return Transcription::Failed("command_failed");
        }
    };
    let (Some(mut stdout), Some(mut stderr)) = (child.stdout.take(), child.stderr.take()) else {
        return Transcription::Failed("command_failed");
    };
    let run = async {
        let mut out = Vec::new();
        let mut err = Vec::new();
        // At most 64 KB of each: a transcript is short.
        let mut stdout = (&mut stdout).take(64 * 1024);
        let mut stderr = (&mut stderr).take(64 * 1024);
        let (read_out, read_err, status) = tokio::join!(
            stdout.read_to_end(&mut out),
            stderr.read_to_end(&mut err),
            child.wait()
        );
        (read_out.and(read_err).and(status), out, err)
    };
    let (status, out, err) = match tokio::time::timeout(timeout, run).await {
        Ok(done) => done,
        Err(_) => {
            tracing::warn!(
                timeout_seconds = timeout.as_secs(),
                "POSADA_STT_COMMAND took too long and was stopped"
            );
            return Transcription::Failed("timeout");
        }
    };
    match status {
        Ok(status) if status.success() => {
            let text: String = String::from_utf8_lossy(&out)
                .trim()
                .chars()
                .take(MAX_TRANSCRIPT_CHARS)
                .collect();
            if text.is_empty() {
                Transcription::Failed("empty")
            } else {
                Transcription::Text(text)
            }
        }
        Ok(status) => {
            // Its error output may name the file or the model, never the guest's words.
            let first_line = String::from_utf8_lossy(&err)
                .lines()
                .next()
                .unwrap_or("")
                .chars()
                .take(200)
                .collect::<String>();
            tracing::warn!(exit = ?status.code(), stderr = %first_line, "POSADA_STT_COMMAND failed");
            Transcription::Failed("command_failed")
        }
        Err(e) => {
            tracing::warn!(error = %e, "POSADA_STT_COMMAND could not be read");
            Transcription::Failed("command_failed")
        }
    }
}
