//! Guest WhatsApp conversations: what posada does with a guest's message, and the owner's side
//! when a person must answer.
//!
//! A tap on the hold reminder's buttons (`pay:{code}`, `cancel:{code}`) is handled by posada itself
//! when the code names a hold of the phone that tapped: `pay` sends the payment link again,
//! `cancel` cancels the hold through the booking flow. Everything else — text, media, a button
//! for someone else's or a no-longer-held reservation — hands the conversation to a person: it
//! waits since its oldest unanswered message, the owner is alerted after an hour, and the state
//! lapses when WhatsApp's 24 h window closes. The owner answers with a free-form text (allowed only
//! inside that window) or marks the conversation resolved.
//!
//! The webhook stores each message and either hands off or enqueues [`GuestButtonReply`] in the
//! same transaction; the job re-reads the message and records its outcome on it in the same
//! transaction as its effect, so a repeated run does nothing twice.
//!
//! Phones are digits (WhatsApp ids); logs name them only through [`mask_phone`].
//!
//! [`GuestButtonReply`]: crate::jobs::guest_button_reply::GuestButtonReply

use chrono::{DateTime, Utc};
use posada_domain::{Actor, ReservationState};
use posada_integrations::WhatsAppError;
use posada_integrations::whatsapp::{
    DeliveryStatus, MAX_TEXT_BODY, MessageContent, WebhookPayload,
};
use posada_jobs::JobOptions;
use posada_store::accommodations;
use posada_store::conversations::{self, Direction, Message, NewMessage};
use posada_store::notifications::NewNotification;
use posada_store::reservations::{self, Reservation};

use super::assistant;
use super::booking;
use super::error::AppError;
use super::events::Event;
use super::outbox;
use super::uow::UnitOfWork;
use crate::jobs::create_payment_link::CreatePaymentLink;
use crate::jobs::guest_button_reply::GuestButtonReply;
use crate::jobs::transcribe_voice_note::TranscribeVoiceNote;
use crate::jobs::whatsapp_delivery::WhatsappDelivery;
use crate::state::AppState;
use crate::telemetry::mask_phone;

/// Hand-off reason: the guest wrote something posada does not act on.
pub const REASON_GUEST_MESSAGE: &str = "guest_message";
/// Hand-off reason: a reply button for a reservation that is not a hold of this phone.
pub const REASON_BUTTON_UNMATCHED: &str = "button_unmatched";
/// Hand-off reason: the guest asked for the payment link and there is none to send.
pub const REASON_NO_PAYMENT_LINK: &str = "payment_link_unavailable";

/// A second tap on "Pagar seña" within this many seconds sends nothing new.
const PAY_RESEND_WINDOW_SECONDS: i64 = 600;

/// Longest stored inbound text, in characters (WhatsApp's own limit for a text).
const MAX_STORED_BODY: usize = MAX_TEXT_BODY;

/// Digits of a phone number, the form WhatsApp ids take.
pub fn digits(phone: &str) -> String {
    phone.chars().filter(char::is_ascii_digit).collect()
}

/// What a reply button asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ButtonAction {
    /// `pay:{code}`: send the payment link.
    Pay,
    /// `cancel:{code}`: cancel the hold.
    Cancel,
}

impl ButtonAction {
    /// `pay` / `cancel`.
    pub fn as_str(self) -> &'static str {
        match self {
            ButtonAction::Pay => "pay",
            ButtonAction::Cancel => "cancel",
        }
    }
}

/// Read a reply-button id we sent: `pay:{code}` or `cancel:{code}`.
pub fn parse_button(id: &str) -> Option<(ButtonAction, &str)> {
    let (action, code) = id.split_once(':')?;
    let action = match action {
        "pay" => ButtonAction::Pay,
        "cancel" => ButtonAction::Cancel,
        _ => return None,
    };
    let code = code.trim();
    (!code.is_empty()).then_some((action, code))
}

/// How an inbound message is stored: its kind, its text, and the id of the button it taps.
#[derive(Debug, Clone, PartialEq)]
pub struct Described {
    /// `text`, `button`, `list_reply`, `image`, `audio`, `voice`, `location`, or WhatsApp's type name.
    pub kind: String,
    /// The text the owner reads (the caption or a description for media).
    pub body: String,
    /// The button id, for a tap on a reply button or a template quick reply.
    pub button_id: Option<String>,
}

/// Describe an inbound message for storage.
pub fn describe(content: &MessageContent) -> Described {
    let (kind, body, button_id) = match content {
        MessageContent::Text { body } => ("text".to_string(), body.clone(), None),
        MessageContent::ButtonReply { id, title } => {
            ("button".to_string(), title.clone(), Some(id.clone()))
        }
        MessageContent::TemplateButton { payload, text } => (
            "button".to_string(),
            text.clone().or_else(|| payload.clone()).unwrap_or_default(),
            payload.clone(),
        ),
        MessageContent::ListReply { title, .. } => ("list_reply".to_string(), title.clone(), None),
        MessageContent::Image { caption, .. } => (
            "image".to_string(),
            caption.clone().unwrap_or_default(),
            None,
        ),
        MessageContent::Audio { voice, .. } => (
            if *voice { "voice" } else { "audio" }.to_string(),
            String::new(),
            None,
        ),
        MessageContent::Location {
            latitude,
            longitude,
            name,
            address,
        } => {
            let place = [name.as_deref(), address.as_deref()]
                .into_iter()
                .flatten()
                .filter(|s| !s.trim().is_empty())
                .collect::<Vec<_>>()
                .join(", ");
            let body = if place.is_empty() {
                format!("({latitude}, {longitude})")
            } else {
                format!("{place} ({latitude}, {longitude})")
            };
            ("location".to_string(), body, None)
        }
        MessageContent::Other(kind) => (
            if kind.is_empty() {
                "unknown".to_string()
            } else {
                kind.chars().take(40).collect()
            },
            String::new(),
            None,
        ),
    };
    Described {
        kind,
        body: body.chars().take(MAX_STORED_BODY).collect(),
        button_id,
    }
}

/// Record one new inbound message inside the webhook's transaction (after `record_inbound`):
/// store it, then either enqueue the job that acts on a `pay:`/`cancel:` button or hand the
/// conversation to a person. Returns whether it was handed off.
pub async fn receive(
    uow: &mut UnitOfWork<'_>,
    phone: &str,
    profile_name: Option<&str>,
    wamid: &str,
    content: &MessageContent,
    at: DateTime<Utc>,
) -> anyhow::Result<bool> {
    let d = describe(content);
    let Some(id) = conversations::insert_message(
        uow.conn(),
        &NewMessage {
            phone,
            direction: Direction::In,
            wamid: Some(wamid),
            kind: &d.kind,
            body: &d.body,
            at,
        },
    )
    .await?
    else {
        // Already stored (the webhook's own deduplication makes this rare).
        return Ok(false);
    };
    metrics::counter!("whatsapp_messages_received_total", "kind" => d.kind.clone()).increment(1);
    if let Some(button_id) = d.button_id.filter(|b| parse_button(b).is_some()) {
        uow.enqueue(&GuestButtonReply {
            message_id: id,
            button_id,
        })?;
        uow.changed(Event::ConversationChanged {
            phone: phone.to_string(),
        });
        tracing::info!(guest.phone = %mask_phone(phone), message.id = id, "guest tapped a reply button");
        return Ok(false);
    }
    let now = uow.now();
    if assistant::answers(uow, phone, now).await? {
        let choice = match content {
            MessageContent::ButtonReply { id, .. } | MessageContent::ListReply { id, .. } => {
                Some(id.as_str())
            }
            MessageContent::TemplateButton { payload, .. } => payload.as_deref(),
            _ => None,
        };
        posada_store::assistant::touch(uow.conn(), phone, profile_name, now).await?;
        match content {
            MessageContent::Audio {
                id: Some(media_id), ..
            } if uow.state().settings().posada_stt_command.is_some() => {
                // Transcribed first; the transcription job queues it for the assistant.
                posada_store::assistant::mark_transcribing(uow.conn(), id).await?;
                uow.enqueue(&TranscribeVoiceNote {
                    message_id: id,
                    media_id: media_id.clone(),
                })?;
            }
            _ => {
                // Answered by the delivery job once this commits (`answer_delivery`).
                posada_store::assistant::queue_message(uow.conn(), id, choice).await?;
            }
        }
        uow.changed(Event::ConversationChanged {
            phone: phone.to_string(),
        });
        tracing::info!(guest.phone = %mask_phone(phone), message.id = id, message.kind = %d.kind, "guest message queued for the assistant");
        return Ok(false);
    }
    conversations::hand_off(uow.conn(), phone, REASON_GUEST_MESSAGE, at, now).await?;
    uow.changed(Event::ConversationChanged {
        phone: phone.to_string(),
    });
    metrics::counter!("conversations_handed_off_total", "reason" => REASON_GUEST_MESSAGE)
        .increment(1);
    tracing::info!(guest.phone = %mask_phone(phone), message.id = id, message.kind = %d.kind, "guest message handed to a person");
    Ok(true)
}

/// What the button job did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ButtonOutcome {
    /// The hold was cancelled.
    Cancelled,
    /// The payment link was written to the guest again.
    PaymentLinkSent,
    /// The same link went out moments ago: nothing new.
    PaymentLinkRecent,
    /// The hold has no link yet; its creation was asked for (the link goes out when made).
    PaymentLinkRequested,
    /// Handed to a person, with this reason.
    HandedOff(&'static str),
    /// The message was handled before (a repeated job) or is gone.
    AlreadyHandled,
}

impl ButtonOutcome {
    /// As stored on the message.
    pub fn as_str(&self) -> &'static str {
        match self {
            ButtonOutcome::Cancelled => "cancelled",
            ButtonOutcome::PaymentLinkSent => "payment_link_sent",
            ButtonOutcome::PaymentLinkRecent => "payment_link_recent",
            ButtonOutcome::PaymentLinkRequested => "payment_link_requested",
            ButtonOutcome::HandedOff(_) => "handed_off",
            ButtonOutcome::AlreadyHandled => "already_handled",
        }
    }
}

/// Act on a guest's tap on `button_id`, stored as message `message_id`.
pub async fn handle_button(
    state: &AppState,
    message_id: i64,
    button_id: &str,
) -> anyhow::Result<ButtonOutcome> {
    let db = state.db();
    let Some(message) = conversations::message(db, message_id).await? else {
        return Ok(ButtonOutcome::AlreadyHandled);
    };
    if message.outcome.is_some() {
        return Ok(ButtonOutcome::AlreadyHandled);
    }
    let Some((action, code)) = parse_button(button_id) else {
        return hand_off(state, &message, REASON_BUTTON_UNMATCHED).await;
    };
    let hold = reservations::get_by_code(db, code).await?.filter(|r| {
        r.state == ReservationState::PreReserved
            && r.guest_phone.as_deref().map(digits).as_deref() == Some(message.phone.as_str())
    });
    let Some(hold) = hold else {
        tracing::info!(guest.phone = %mask_phone(&message.phone), button.action = action.as_str(), "button for a reservation that is not a hold of this phone");
        return hand_off(state, &message, REASON_BUTTON_UNMATCHED).await;
    };
    let outcome = match action {
        ButtonAction::Cancel => cancel_hold(state, &message, &hold).await?,
        ButtonAction::Pay => resend_payment_link(state, &message, &hold).await?,
    };
    metrics::counter!("whatsapp_button_actions_total", "action" => action.as_str(), "outcome" => outcome.as_str()).increment(1);
    Ok(outcome)
}

async fn cancel_hold(
    state: &AppState,
    message: &Message,
    hold: &Reservation,
) -> anyhow::Result<ButtonOutcome> {
    let message_id = message.id;
    let cancelled = booking::cancel_with(
        state,
        hold.id,
        Actor::Guest,
        Some("cancelada por el huésped desde WhatsApp"),
        async |uow, _| {
            conversations::set_message_outcome(
                uow.conn(),
                message_id,
                ButtonOutcome::Cancelled.as_str(),
            )
            .await?;
            Ok(())
        },
    )
    .await;
    match cancelled {
        Ok(r) => {
            tracing::info!(reservation.code = %r.code, guest.phone = %mask_phone(&message.phone), "hold cancelled from whatsapp");
            Ok(ButtonOutcome::Cancelled)
        }
        // It stopped being a hold meanwhile (paid, expired): a person should look.
        Err(AppError::IllegalTransition { .. } | AppError::HoldExpired) => {
            hand_off(state, message, REASON_BUTTON_UNMATCHED).await
        }
        Err(e) => Err(anyhow::anyhow!("cancelling hold {}: {e}", hold.code)),
    }
}

async fn resend_payment_link(
    state: &AppState,
    message: &Message,
    hold: &Reservation,
) -> anyhow::Result<ButtonOutcome> {
    if hold.payment_link.is_none() {
        if state.services().mercadopago.is_none() {
            return hand_off(state, message, REASON_NO_PAYMENT_LINK).await;
        }
        // The link is being made (or its creation failed): ask for it; the link job writes the
        // message when it has one.
        let mut uow = UnitOfWork::begin(state)
            .await?
            .with_trace(hold.trace_id.as_deref());
        uow.enqueue(&CreatePaymentLink {
            reservation_id: hold.id,
        })?;
        conversations::set_message_outcome(
            uow.conn(),
            message.id,
            ButtonOutcome::PaymentLinkRequested.as_str(),
        )
        .await?;
        uow.commit().await?;
        return Ok(ButtonOutcome::PaymentLinkRequested);
    }
    let acc = accommodations::get(state.db(), hold.accommodation_id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("accommodation {} not found", hold.accommodation_id))?;
    let data = outbox::template_data(state.settings(), hold, &acc);
    let bucket = message.at.timestamp().div_euclid(PAY_RESEND_WINDOW_SECONDS);
    let mut uow = UnitOfWork::begin(state)
        .await?
        .with_trace(hold.trace_id.as_deref());
    let written = uow
        .message(&NewNotification {
            reservation_id: Some(hold.id),
            audience: "guest",
            channel: "whatsapp",
            recipient: Some(&message.phone),
            template: "hold_payment_link",
            data: &data,
            dedupe_key: Some(format!(
                "hold_payment_link:{}:guest:whatsapp:tap-{bucket}",
                hold.id
            )),
        })
        .await?;
    let outcome = if written.is_some() {
        ButtonOutcome::PaymentLinkSent
    } else {
        ButtonOutcome::PaymentLinkRecent
    };
    conversations::set_message_outcome(uow.conn(), message.id, outcome.as_str()).await?;
    uow.commit().await?;
    tracing::info!(reservation.code = %hold.code, guest.phone = %mask_phone(&message.phone), outcome = outcome.as_str(), "payment link asked for from whatsapp");
    Ok(outcome)
}

/// Hand the conversation of `message` to a person and record that on the message.
async fn hand_off(
    state: &AppState,
    message: &Message,
    reason: &'static str,
) -> anyhow::Result<ButtonOutcome> {
    let outcome = ButtonOutcome::HandedOff(reason);
    let mut uow = UnitOfWork::begin(state).await?;
    if !conversations::set_message_outcome(uow.conn(), message.id, outcome.as_str()).await? {
        uow.rollback().await?;
        return Ok(ButtonOutcome::AlreadyHandled);
    }
    let now = uow.now();
    conversations::hand_off(uow.conn(), &message.phone, reason, message.at, now).await?;
    uow.changed(Event::ConversationChanged {
        phone: message.phone.clone(),
    });
    uow.commit().await?;
    metrics::counter!("conversations_handed_off_total", "reason" => reason).increment(1);
    tracing::info!(guest.phone = %mask_phone(&message.phone), handoff.reason = reason, "guest message handed to a person");
    Ok(outcome)
}

/// The owner answered `phone` (digits) some other way: clear the hand-off. `false` when there is
/// no conversation with that phone.
pub async fn resolve(state: &AppState, phone: &str) -> Result<bool, AppError> {
    let mut uow = UnitOfWork::begin(state).await?;
    let now = uow.now();
    let found = conversations::resolve(uow.conn(), phone, now).await?;
    uow.changed(Event::ConversationChanged {
        phone: phone.to_string(),
    });
    uow.commit().await?;
    if found {
        tracing::info!(guest.phone = %mask_phone(phone), "conversation marked resolved");
    }
    Ok(found)
}

/// Send the owner's free-form `text` to `phone` (digits) now, store it and clear the wait.
pub async fn reply(state: &AppState, phone: &str, text: &str) -> Result<Message, AppError> {
    let db = state.db();
    let conversation = conversations::get(db, phone)
        .await?
        .ok_or(AppError::NotFound("conversation"))?;
    let now = state.now();
    if !conversation.window_open(now) {
        return Err(AppError::WindowClosed(conversation.window_open_until()));
    }
    let services = state.services();
    let client = services.whatsapp.as_ref().ok_or_else(|| {
        AppError::NotConfigured(
            "whatsapp is not configured (WHATSAPP_ACCESS_TOKEN, WHATSAPP_PHONE_NUMBER_ID)".into(),
        )
    })?;
    let breaker = &services.whatsapp_breaker;
    breaker.check().map_err(|open| {
        AppError::Unavailable(format!("whatsapp is unavailable, try again later: {open}"))
    })?;
    let sent = match client.send_text(phone, text).await {
        Ok(sent) => {
            breaker.record_success();
            sent
        }
        Err(e) => {
            match &e {
                WhatsAppError::Transient { .. } => breaker.record_failure(),
                WhatsAppError::RateLimited { .. } | WhatsAppError::InvalidMessage(_) => {}
                _ => breaker.record_success(),
            }
            tracing::warn!(guest.phone = %mask_phone(phone), error = %e, "owner's whatsapp reply not sent");
            return Err(match e {
                WhatsAppError::OutsideWindow { .. } => {
                    AppError::WindowClosed(conversation.window_open_until().min(now))
                }
                e if e.is_retryable() => {
                    AppError::Unavailable(format!("whatsapp is unavailable, try again later: {e}"))
                }
                e => AppError::Refused(e.to_string()),
            });
        }
    };
    let mut uow = UnitOfWork::begin(state).await?;
    let id = conversations::insert_message(
        uow.conn(),
        &NewMessage {
            phone,
            direction: Direction::Out,
            wamid: Some(&sent.wamid),
            kind: "text",
            body: text,
            at: now,
        },
    )
    .await?;
    conversations::record_reply(uow.conn(), phone, now).await?;
    uow.changed(Event::ConversationChanged {
        phone: phone.to_string(),
    });
    uow.commit().await?;
    metrics::counter!("whatsapp_replies_sent_total").increment(1);
    tracing::info!(guest.phone = %mask_phone(phone), "owner's whatsapp reply sent");
    // `id` is `None` only if WhatsApp answered with a wamid already stored as ours (never in
    // practice); the message went out either way, so the owner is told it was sent.
    Ok(Message {
        id: id.unwrap_or_default(),
        phone: phone.to_string(),
        direction: Direction::Out.as_str().to_string(),
        wamid: Some(sent.wamid),
        kind: "text".to_string(),
        body: text.to_string(),
        at: now,
        outcome: None,
    })
}

/// What became of a signed WhatsApp delivery at the door.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryQueued {
    /// Queued for [`record_delivery`] under this job.
    Queued(i64),
    /// The same delivery is already queued (Meta sent it again before it was applied).
    AlreadyQueued,
}

/// Queue a signed, readable WhatsApp delivery (its raw body) to be applied by a job, in one
/// statement: the webhook's answer never waits for the conversation work.
pub async fn delivery_received(
    state: &AppState,
    body: &str,
    trace_id: Option<&str>,
) -> Result<DeliveryQueued, AppError> {
    let job = WhatsappDelivery {
        body: body.to_string(),
    };
    let opts = JobOptions {
        trace_id: trace_id.map(str::to_string),
        ..JobOptions::default()
    };
    Ok(match state.jobs().enqueue(&job, opts).await? {
        Some(id) => DeliveryQueued::Queued(id),
        None => {
            metrics::counter!("whatsapp_deliveries_duplicate_total").increment(1);
            DeliveryQueued::AlreadyQueued
        }
    })
}

/// Apply a WhatsApp webhook delivery (statuses of our messages, guest messages) in one unit of
/// work; returns how many statuses and messages were new.
pub async fn record_delivery(
    state: &AppState,
    payload: &WebhookPayload,
) -> Result<(usize, usize), AppError> {
    let mut uow = UnitOfWork::begin(state).await?;
    let now = uow.now();
    let mut statuses = 0;
    for (_, update) in payload.statuses() {
        let Some(wamid) = update.id.as_deref() else {
            continue;
        };
        let status = update.status.as_str();
        if !conversations::first_sighting(uow.conn(), wamid, status, now).await? {
            continue;
        }
        statuses += 1;
        let error = (update.status == DeliveryStatus::Failed).then(|| {
            update
                .errors
                .iter()
                .map(|e| {
                    let details = e
                        .error_data
                        .as_ref()
                        .and_then(|d| d.details.as_deref())
                        .or(e.message.as_deref())
                        .or(e.title.as_deref())
                        .unwrap_or("");
                    format!("{}: {details}", e.code.unwrap_or(0))
                })
                .collect::<Vec<_>>()
                .join("; ")
        });
        conversations::apply_delivery_status(uow.conn(), wamid, status, error.as_deref(), now)
            .await?;
    }
    let mut messages = 0;
    for (value, message) in payload.messages() {
        let (Some(wamid), Some(from)) = (message.id.as_deref(), message.from.as_deref()) else {
            continue;
        };
        if !conversations::first_sighting(uow.conn(), wamid, "message", now).await? {
            continue;
        }
        messages += 1;
        let at = message
            .timestamp
            .as_deref()
            .and_then(|t| t.parse::<i64>().ok())
            .and_then(|t| DateTime::from_timestamp(t, 0))
            .map_or(now, |t| t.min(now));
        let digits = digits(from);
        if digits.is_empty() {
            continue;
        }
        conversations::record_inbound(uow.conn(), &digits, at, now).await?;
        let profile_name = value.contact_name(from);
        receive(&mut uow, &digits, profile_name, wamid, &message.content, at).await?;
    }
    uow.commit().await?;
    Ok((statuses, messages))
}

/// Let the assistant answer the guest messages of a delivery that are still waiting for it,
/// each phone's oldest first. Run by the delivery job after [`record_delivery`] committed, and
/// again by a repeated job: the waiting state is stored, so a crash in between loses nothing and
/// an answered message is never answered twice. Returns how many were answered.
pub async fn answer_delivery(state: &AppState, payload: &WebhookPayload) -> anyhow::Result<usize> {
    let mut answered = 0;
    for (_, message) in payload.messages() {
        let Some(wamid) = message.id.as_deref() else {
            continue;
        };
        if let Some(id) = posada_store::assistant::queued_by_wamid(state.db(), wamid).await? {
            answered += assistant::answer_up_to(state, id).await?;
        }
    }
    Ok(answered)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buttons_are_read() {
        assert_eq!(
            parse_button("pay:ABCDE-FGHIJ"),
            Some((ButtonAction::Pay, "ABCDE-FGHIJ"))
        );
        assert_eq!(
            parse_button("cancel:ABCDE-FGHIJ"),
            Some((ButtonAction::Cancel, "ABCDE-FGHIJ"))
        );
        assert_eq!(parse_button("cancel:"), None);
        assert_eq!(parse_button("confirm:X"), None);
        assert_eq!(parse_button("pay"), None);
    }

    #[test]
    fn messages_are_described_for_the_owner() {
        let d = describe(&MessageContent::ButtonReply {
            id: "pay:X".into(),
            title: "Pagar seña".into(),
        });
        assert_eq!(
            (d.kind.as_str(), d.body.as_str(), d.button_id.as_deref()),
            ("button", "Pagar seña", Some("pay:X"))
        );
        let d = describe(&MessageContent::Location {
            latitude: -41.1,
            longitude: -71.3,
            name: Some("Bariloche".into()),
            address: None,
        });
        assert_eq!(d.body, "Bariloche (-41.1, -71.3)");
        let d = describe(&MessageContent::Text {
            body: "x".repeat(5000),
        });
        assert_eq!(d.body.chars().count(), MAX_TEXT_BODY);
        let d = describe(&MessageContent::Other(String::new()));
        assert_eq!(d.kind, "unknown");
    }
}
