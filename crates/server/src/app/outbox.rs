//! Who a message goes to and what its template can use.
//!
//! A guest gets one row per channel we can reach them on (WhatsApp when they gave a phone, e-mail
//! when they gave an address); the owner gets rows on the channels configured for them. Each row's
//! dedupe key is (template, reservation, audience, channel[, payment]), so a job that runs twice
//! writes once. The rows are written by [`super::UnitOfWork`], which enqueues each new row's
//! delivery job in the same transaction.

use posada_store::accommodations::StoredAccommodation;
use posada_store::reservations::Reservation;
use serde_json::{Value, json};

use crate::config::Settings;

/// The data every reservation template can use.
pub fn template_data(settings: &Settings, r: &Reservation, acc: &StoredAccommodation) -> Value {
    let tz = settings.tz();
    let a = &acc.accommodation;
    json!({
        "code": r.code,
        "state": r.state.as_str(),
        "state_label": r.state.label_es(),
        "guest_name": r.guest_name,
        "accommodation": a.name,
        "accommodation_slug": a.slug,
        "check_in": r.stay.check_in().format("%d/%m/%Y").to_string(),
        "check_out": r.stay.check_out().format("%d/%m/%Y").to_string(),
        "nights": r.stay.nights(),
        "guests": r.guests,
        "total": r.total.format_es_ar(),
        "deposit": r.deposit.format_es_ar(),
        "balance": r.total.checked_sub(r.deposit).map(|b| b.format_es_ar()).unwrap_or_default(),
        "payment_link": r.payment_link,
        "expires_at": r.expires_at.map(|t| local_time_text(t.with_timezone(&tz))),
        "payments_enabled": settings.mercadopago_access_token.is_some(),
        "checkin_reminder_hours": settings.checkin_reminder_hours,
        "checkin_when": checkin_when(settings.checkin_reminder_hours),
        "check_in_time": a.check_in_time.format("%H:%M").to_string(),
        "check_out_time": a.check_out_time.format("%H:%M").to_string(),
        "directions": acc.directions,
        "reason": r.state_reason,
        "photo_url": a.primary_photo().map(|p| p.url.clone()),
        "photo_caption": a.primary_photo().map(|p| p.caption.clone()),
    })
}

/// A local time as guests read it, with its offset: `05/12/2026 14:30 h (UTC-03:00)`.
pub fn local_time_text<Tz: chrono::TimeZone>(t: chrono::DateTime<Tz>) -> String
where
    Tz::Offset: std::fmt::Display,
{
    t.format("%d/%m/%Y %H:%M h (UTC%:z)").to_string()
}

/// The check-in reminder's opening for a reminder sent `hours` before arrival ("Mañana te
/// esperamos", "En 3 días te esperamos", "En 6 horas te esperamos").
pub fn checkin_when(hours: u32) -> String {
    match hours {
        0 => "Hoy te esperamos".into(),
        1 => "En una hora te esperamos".into(),
        24 => "Mañana te esperamos".into(),
        48 => "Pasado mañana te esperamos".into(),
        h if h < 24 => format!("En {h} horas te esperamos"),
        h if h % 24 == 0 => format!("En {} días te esperamos", h / 24),
        _ => "Se acerca tu llegada".into(),
    }
}

/// [`template_data`] with `extra`'s keys added (payment amount, problem description…).
pub fn merged(
    settings: &Settings,
    r: &Reservation,
    acc: &StoredAccommodation,
    extra: &Value,
) -> Value {
    let mut data = template_data(settings, r, acc);
    if let (Some(obj), Some(more)) = (data.as_object_mut(), extra.as_object()) {
        for (k, v) in more {
            obj.insert(k.clone(), v.clone());
        }
    }
    data
}

/// Who hears about something.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// The reservation's guest.
    Guest,
    /// The owner.
    Owner,
}

impl Audience {
    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Audience::Guest => "guest",
            Audience::Owner => "owner",
        }
    }
}

/// The (channel, recipient) pairs of `audience` for reservation `r`, skipping unknown ones.
pub fn recipients<'a>(
    settings: &'a Settings,
    r: Option<&'a Reservation>,
    audience: Audience,
) -> Vec<(&'static str, &'a str)> {
    let to: [(&'static str, Option<&'a str>); 2] = match audience {
        Audience::Guest => [
            ("whatsapp", r.and_then(|r| r.guest_phone.as_deref())),
            ("email", r.and_then(|r| r.guest_email.as_deref())),
        ],
        Audience::Owner => [
            ("email", settings.owner_email.as_deref()),
            ("whatsapp", settings.owner_phone.as_deref()),
        ],
    };
    to.into_iter()
        .filter_map(|(channel, recipient)| {
            recipient
                .filter(|v| !v.is_empty())
                .map(|recipient| (channel, recipient))
        })
        .collect()
}

/// The dedupe key of a reservation's message: per payment when the data names one (two rejected
/// payments are two messages).
pub fn reservation_dedupe_key(
    template: &str,
    reservation_id: i64,
    audience: Audience,
    channel: &str,
    data: &Value,
) -> String {
    let suffix = data
        .get("payment_id")
        .and_then(Value::as_str)
        .map(|p| format!(":payment-{p}"))
        .unwrap_or_default();
    format!(
        "{template}:{reservation_id}:{}:{channel}{suffix}",
        audience.as_str()
    )
}

/// Send message `notification_id` of reservation `reservation_id` again: a new outbox row with the
/// same audience, channel, recipient, template and data, and its delivery job, written by one unit
/// of work (the owner's "reenviar" when a guest lost a message). Returns the new row's id.
///
/// A message still waiting for its delivery is not copied ([`AppError::Conflict`]
/// `message-queued`): it is about to go out anyway. Two presses in the same second write once.
pub async fn resend(
    state: &crate::state::AppState,
    reservation_id: i64,
    notification_id: i64,
) -> Result<Option<i64>, super::AppError> {
    use posada_store::notifications::{self, NewNotification};

    let original = notifications::get(state.db(), notification_id)
        .await?
        .filter(|n| n.reservation_id == Some(reservation_id))
        .ok_or(super::AppError::NotFound("message"))?;
    if original.status == "queued" {
        return Err(super::AppError::Conflict {
            kind: "message-queued",
            title: "The message is still waiting to be sent",
            detail: "the message has not been delivered yet; it will go out by itself".into(),
        });
    }
    let data: Value = serde_json::from_str(&original.data)?;
    let mut uow = super::UnitOfWork::begin(state).await?;
    let second = uow.now().timestamp();
    let written = uow
        .message(&NewNotification {
            reservation_id: Some(reservation_id),
            audience: &original.audience,
            channel: &original.channel,
            recipient: original.recipient.as_deref(),
            template: &original.template,
            data: &data,
            dedupe_key: Some(format!("resend:{notification_id}:{second}")),
        })
        .await?;
    uow.commit().await?;
    tracing::info!(
        notification.id = notification_id,
        resent_as = ?written,
        template = %original.template,
        channel = %original.channel,
        "message sent again"
    );
    Ok(written)
}
