//! Guest and owner messages: the outside services (clients + circuit breakers), the Spanish
//! templates, and the delivery of outbox rows over e-mail and WhatsApp.
//!
//! The outbox row is the message's record (queued → sent → delivered → read, or failed /
//! not_configured); the `DeliverNotification` job carries it out at least once, and the row's status
//! makes a repeated run harmless.

pub mod deliver;
pub mod services;
pub mod templates;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

pub use deliver::{DeliveryOutcome, deliver};
pub use services::Services;
pub use templates::{RenderError, RenderedMessage, Renderer};

/// First retry delay of the integration jobs (payments, messages), in milliseconds. A process-wide
/// value because the job engine asks a job kind for its backoff without any state; it is set from
/// `INTEGRATION_RETRY_BASE_MS` when the services are built.
static RETRY_BASE_MS: AtomicU64 = AtomicU64::new(15_000);

/// Longest wait between two attempts of an integration job.
const RETRY_CAP: Duration = Duration::from_secs(30 * 60);

/// Set the first retry delay of the integration jobs.
pub fn set_retry_base(base: Duration) {
    let ms = u64::try_from(base.as_millis()).unwrap_or(u64::MAX).max(1);
    RETRY_BASE_MS.store(ms, Ordering::Relaxed);
}

/// Backoff of the integration jobs: `INTEGRATION_RETRY_BASE_MS · 2^(attempt-1)` with jitter,
/// capped at 30 minutes.
pub fn retry_backoff(attempt: i32) -> Duration {
    let base = Duration::from_millis(RETRY_BASE_MS.load(Ordering::Relaxed));
    posada_jobs::exponential_backoff(attempt, base, RETRY_CAP.max(base))
}
