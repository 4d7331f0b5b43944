//! Delivering one outbox row: render its template, check the provider's circuit breaker, send
//! over SMTP or the WhatsApp Cloud API, and record the outcome on the row.
//!
//! The row stays `queued` until a send succeeded, so a crash anywhere before that leaves it to the
//! job's next attempt (at-least-once: a crash between the provider's "accepted" and our write can
//! send a message twice, never zero times). Errors worth retrying come back as `Err` so the job
//! engine retries with backoff; an open circuit is not the row's failure (no attempt counted).

use chrono::Duration as ChronoDuration;
use posada_integrations::{CircuitBreaker, Email, EmailError, WhatsAppClient, WhatsAppError};
use posada_store::conversations;

use crate::telemetry::mask_recipient;
use posada_store::notifications::{self, Notification};
use serde_json::Value;

use crate::notify::templates::RenderedMessage;
use crate::state::AppState;

/// Templates sent with the accommodation's primary photo (caption = the message).
const WITH_PHOTO: &[&str] = &["hold_created", "stay_confirmed", "assistant_reply"];

/// What happened to a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryOutcome {
    /// Sent now; the provider's message id.
    Sent(String),
    /// Nothing to do: the row is gone or no longer queued (a repeated job).
    AlreadyHandled,
    /// The channel is not configured: the row says so.
    NotConfigured,
    /// Failed for good (bad address, refused message, template error): the row says why.
    Failed(String),
    /// The provider's circuit was open on the job's last attempt: a new job sends it later.
    Rescheduled,
}

/// A delivery attempt that must be retried later (the job returns it as its error).
#[derive(Debug, thiserror::Error)]
pub enum RetryLater {
    /// The provider's circuit is open.
    #[error("{0}")]
    CircuitOpen(String),
    /// The provider failed in a way worth retrying.
    #[error("{0}")]
    Provider(String),
}

/// Deliver notification `id`. `last_attempt` turns a retryable failure into a final one.
pub async fn deliver(
    state: &AppState,
    id: i64,
    last_attempt: bool,
) -> anyhow::Result<DeliveryOutcome> {
    let db = state.db();
    let Some(n) = notifications::get(db, id).await? else {
        return Ok(DeliveryOutcome::AlreadyHandled);
    };
    if n.status != "queued" {
        return Ok(DeliveryOutcome::AlreadyHandled);
    }
    let services = state.services();
    let configured = match n.channel.as_str() {
        "email" => services.mailer.is_some(),
        "whatsapp" => services.whatsapp.is_some(),
        _ => false,
    };
    if !configured {
        let why = match n.channel.as_str() {
            "email" => "e-mail is not configured (SMTP_HOST)",
            "whatsapp" => {
                "whatsapp is not configured (WHATSAPP_ACCESS_TOKEN, WHATSAPP_PHONE_NUMBER_ID)"
            }
            _ => "unknown channel",
        };
        notifications::set_status(
            db,
            id,
            "not_configured",
            None,
            Some(why),
            false,
            state.now(),
        )
        .await?;
        metrics::counter!("notifications_not_configured_total", "channel" => n.channel.clone())
            .increment(1);
        tracing::warn!(notification.id = id, channel = %n.channel, template = %n.template, to = %mask_recipient(&n.channel, n.recipient.as_deref().unwrap_or("")), "message not sent: channel not configured");
        return Ok(DeliveryOutcome::NotConfigured);
    }
    let Some(recipient) = n.recipient.clone().filter(|r| !r.trim().is_empty()) else {
        return fail(state, &n, "no recipient").await;
    };
    if n.channel == "whatsapp" && n.audience == "guest" {
        wait_for_earlier(state, &n, &recipient).await?;
    }
    let data: Value = serde_json::from_str(&n.data).unwrap_or(Value::Null);
    let message = match services.templates.render(&n.template, &data) {
        Ok(m) => m,
        Err(e) => return fail(state, &n, &e.to_string()).await,
    };
    let result = match (n.channel.as_str(), &services.mailer, &services.whatsapp) {
        ("email", Some(mailer), _) => {
            let breaker = &services.smtp_breaker;
            if let Some(outcome) = check_breaker(state, &n, breaker, last_attempt).await? {
                return Ok(outcome);
            }
            let sent = mailer
                .send(&Email {
                    to: recipient.clone(),
                    subject: message.subject.clone(),
                    text: message.text.clone(),
                    html: Some(message.html.clone()),
                })
                .await;
            match sent {
                Ok(message_id) => {
                    breaker.record_success();
                    Ok(message_id)
                }
                Err(e @ EmailError::Transient(_)) => {
                    breaker.record_failure();
                    Err((e.to_string(), true))
                }
                Err(e) => {
                    breaker.record_success();
                    Err((e.to_string(), false))
                }
            }
        }
        ("whatsapp", _, Some(client)) => {
            let breaker = &services.whatsapp_breaker;
            if let Some(outcome) = check_breaker(state, &n, breaker, last_attempt).await? {
                return Ok(outcome);
            }
            match send_whatsapp(state, client, &n, &recipient, &message, &data).await {
                Ok(wamid) => {
                    breaker.record_success();
                    Ok(wamid)
                }
                Err(e) => {
                    match &e {
                        WhatsAppError::Transient { .. } => breaker.record_failure(),
                        WhatsAppError::RateLimited { .. } => {
                            metrics::counter!("whatsapp_send_retries_total").increment(1);
                        }
                        WhatsAppError::InvalidMessage(_) => {}
                        _ => breaker.record_success(),
                    }
                    Err((e.to_string(), e.is_retryable()))
                }
            }
        }
        _ => Err(("unknown channel".to_string(), false)),
    };
    match result {
        Ok(provider_id) => {
            record_sent(state, id, &provider_id).await?;
            metrics::counter!("notifications_sent_total", "channel" => n.channel.clone(), "template" => n.template.clone()).increment(1);
            tracing::info!(notification.id = id, channel = %n.channel, template = %n.template, to = %mask_recipient(&n.channel, &recipient), "message sent");
            Ok(DeliveryOutcome::Sent(provider_id))
        }
        Err((error, true)) if !last_attempt => {
            notifications::set_status(db, id, "queued", None, Some(&error), true, state.now())
                .await?;
            Err(RetryLater::Provider(error).into())
        }
        Err((error, _)) => {
            notifications::set_status(db, id, "failed", None, Some(&error), true, state.now())
                .await?;
            metrics::counter!("notifications_failed_total", "channel" => n.channel.clone())
                .increment(1);
            tracing::warn!(notification.id = id, channel = %n.channel, template = %n.template, to = %mask_recipient(&n.channel, &recipient), error = %error, "message failed for good");
            Ok(DeliveryOutcome::Failed(error))
        }
    }
}

/// How long an unsent message holds back later ones to the same guest.
const ORDER_WINDOW: ChronoDuration = ChronoDuration::minutes(15);
/// How long a delivery waits at most for an earlier one to the same guest.
const ORDER_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// A guest's WhatsApp messages go out in the order they were written (the hold before its
/// payment link, the photo before the question): while an earlier message of the last minutes to
/// the same guest is still queued — usually being sent or retried right now — wait for it, at
/// most [`ORDER_WAIT`]; then send anyway, so one stuck message never holds the rest back. Only
/// for guests on WhatsApp: the owner's many notices (and e-mail, whose order the mail client
/// sorts out) never queue behind each other.
async fn wait_for_earlier(
    state: &AppState,
    n: &Notification,
    recipient: &str,
) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let since = n.created_at - ORDER_WINDOW;
    let mut waited = false;
    while notifications::earlier_still_queued(state.db(), &n.channel, recipient, n.id, since)
        .await?
    {
        if started.elapsed() >= ORDER_WAIT {
            tracing::info!(
                notification.id = n.id,
                "an earlier message to this guest is still unsent; sending anyway"
            );
            break;
        }
        waited = true;
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    if waited {
        metrics::counter!("notifications_held_for_order_total", "channel" => n.channel.clone())
            .increment(1);
    }
    Ok(())
}

/// How long a delivery keeps trying to record a message the provider accepted while the database
/// is unreachable (within the job's 90 s timeout).
const RECORD_SENT_WITHIN: std::time::Duration = std::time::Duration::from_secs(60);

/// Record that the provider accepted message `id`. The message is out: failing now would leave the
/// row `queued` and the job's next attempt would send it a second time, so a database outage is
/// waited out (up to [`RECORD_SENT_WITHIN`]) instead of failing the attempt.
async fn record_sent(state: &AppState, id: i64, provider_id: &str) -> anyhow::Result<()> {
    let give_up = std::time::Instant::now() + RECORD_SENT_WITHIN;
    let mut pause = std::time::Duration::from_millis(200);
    loop {
        let result = notifications::set_status(
            state.db(),
            id,
            "sent",
            Some(provider_id),
            None,
            true,
            state.now(),
        )
        .await;
        let error = match result {
            Ok(()) => return Ok(()),
            Err(e) => anyhow::Error::from(e),
        };
        if !crate::app::error::is_outage_in(&error) || std::time::Instant::now() >= give_up {
            return Err(error);
        }
        tracing::warn!(
            notification.id = id,
            "message sent but the database is unreachable; recording it again shortly"
        );
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(std::time::Duration::from_secs(2));
    }
}

/// Mark the row failed without a send (nothing to retry).
async fn fail(state: &AppState, n: &Notification, why: &str) -> anyhow::Result<DeliveryOutcome> {
    notifications::set_status(
        state.db(),
        n.id,
        "failed",
        None,
        Some(why),
        false,
        state.now(),
    )
    .await?;
    metrics::counter!("notifications_failed_total", "channel" => n.channel.clone()).increment(1);
    tracing::warn!(notification.id = n.id, channel = %n.channel, template = %n.template, error = why, "message cannot be sent");
    Ok(DeliveryOutcome::Failed(why.to_string()))
}

/// While the provider's circuit is open, note it on the row (no attempt counted) and ask for a
/// retry later. On the job's last attempt the send is handed to a fresh delivery job due after the
/// breaker's cool-down, so the row is rescheduled — never failed, never left `queued` with no job.
async fn check_breaker(
    state: &AppState,
    n: &Notification,
    breaker: &CircuitBreaker,
    last_attempt: bool,
) -> anyhow::Result<Option<DeliveryOutcome>> {
    if let Err(open) = breaker.check() {
        notifications::set_status(
            state.db(),
            n.id,
            "queued",
            None,
            Some(&open.to_string()),
            false,
            state.now(),
        )
        .await?;
        if last_attempt {
            let cool_down = ChronoDuration::milliseconds(
                i64::try_from(state.settings().breaker_cool_down_ms).unwrap_or(i64::MAX / 2),
            );
            let at = state.now() + cool_down;
            state
                .jobs()
                .enqueue(
                    &crate::jobs::deliver_notification::DeliverNotification {
                        notification_id: n.id,
                    },
                    posada_jobs::JobOptions {
                        unique_key: Some(format!(
                            "notify:{}:resumed:{}",
                            n.id,
                            at.timestamp_millis()
                        )),
                        run_at: Some(at),
                        ..posada_jobs::JobOptions::default()
                    },
                )
                .await?;
            tracing::warn!(notification.id = n.id, channel = %n.channel, resume_at = %at, "circuit open on the last attempt: delivery handed to a new job");
            return Ok(Some(DeliveryOutcome::Rescheduled));
        }
        return Err(RetryLater::CircuitOpen(open.to_string()).into());
    }
    Ok(None)
}

/// Send a WhatsApp message: free-form (photo, buttons or text) within 24 h of the recipient's last
/// message, the approved template otherwise or when WhatsApp says the window is closed (131047).
async fn send_whatsapp(
    state: &AppState,
    client: &WhatsAppClient,
    n: &Notification,
    to: &str,
    message: &RenderedMessage,
    data: &Value,
) -> Result<String, WhatsAppError> {
    let last = conversations::last_inbound(state.db(), &crate::app::conversations::digits(to))
        .await
        .map_err(|e| WhatsAppError::Transient {
            status: None,
            message: format!("reading the conversation window: {e}"),
        })?;
    let in_window = last.is_some_and(|at| at > state.now() - ChronoDuration::hours(24));
    if in_window {
        match send_free_form(client, n, to, message, data).await {
            Err(WhatsAppError::OutsideWindow { .. }) => {
                tracing::info!(
                    notification.id = n.id,
                    "whatsapp window closed; sending the approved template"
                );
            }
            other => return other.map(|s| s.wamid),
        }
    }
    let params: Vec<&str> = message.whatsapp_params.iter().map(String::as_str).collect();
    client
        .send_template(
            to,
            &n.template,
            &state.settings().whatsapp_template_language,
            &params,
        )
        .await
        .map(|s| s.wamid)
}

async fn send_free_form(
    client: &WhatsAppClient,
    n: &Notification,
    to: &str,
    message: &RenderedMessage,
    data: &Value,
) -> Result<posada_integrations::SentMessage, WhatsAppError> {
    let body = message.whatsapp.as_str();
    let fits = |max: usize| body.chars().count() <= max;
    let photo = data.get("photo_url").and_then(Value::as_str);
    if let Some(photo) = photo.filter(|_| WITH_PHOTO.contains(&n.template.as_str()))
        && fits(posada_integrations::whatsapp::MAX_CAPTION)
    {
        return client.send_image(to, photo, Some(body)).await;
    }
    if let Some(options) = data.get("options").and_then(Value::as_array)
        && !options.is_empty()
        && fits(posada_integrations::whatsapp::MAX_INTERACTIVE_BODY)
    {
        let field = |o: &Value, k: &str| o.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        let rows: Vec<(String, String, String)> = options
            .iter()
            .map(|o| (field(o, "id"), field(o, "title"), field(o, "description")))
            .collect();
        if rows.len() <= posada_integrations::whatsapp::MAX_BUTTONS {
            let buttons: Vec<(&str, &str)> = rows
                .iter()
                .map(|(id, title, _)| (id.as_str(), title.as_str()))
                .collect();
            return client.send_buttons(to, body, &buttons).await;
        }
        let rows: Vec<(&str, &str, &str)> = rows
            .iter()
            .map(|(id, title, description)| (id.as_str(), title.as_str(), description.as_str()))
            .collect();
        return client.send_list(to, body, "Ver opciones", &rows).await;
    }
    if n.template == "hold_reminder"
        && fits(posada_integrations::whatsapp::MAX_INTERACTIVE_BODY)
        && let Some(code) = data.get("code").and_then(Value::as_str)
    {
        let pay = format!("pay:{code}");
        let cancel = format!("cancel:{code}");
        return client
            .send_buttons(
                to,
                body,
                &[(pay.as_str(), "Pagar seña"), (cancel.as_str(), "Cancelar")],
            )
            .await;
    }
    client.send_text(to, body).await
}
