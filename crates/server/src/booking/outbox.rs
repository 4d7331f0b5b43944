//! Writing notification requests to the outbox, inside the flow's transaction.
//!
//! A guest gets one row per channel we can reach them on (WhatsApp when they gave a phone, e-mail
//! when they gave an address); the owner gets rows on the channels configured for them. Each row's
//! dedupe key is (template, reservation, audience, channel), so a job that runs twice writes once.
//! Every new row also enqueues its delivery job (`notify:{id}`) in the same transaction: a message
//! exists if and only if its delivery is scheduled.

use posada_db::Tx;
use posada_jobs::{JobOptions, NewJob};
use posada_store::accommodations::StoredAccommodation;
use posada_store::notifications::{self, NewNotification};
use posada_store::reservations::Reservation;
use serde_json::{Value, json};

use super::BookingError;
use crate::jobs::notify::DeliverNotification;
use crate::state::AppState;

/// The data every reservation template can use.
pub fn template_data(state: &AppState, r: &Reservation, acc: &StoredAccommodation) -> Value {
    let tz = state.settings().tz();
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
        "expires_at": r.expires_at.map(|t| t.with_timezone(&tz).format("%d/%m/%Y %H:%M").to_string()),
        "check_in_time": a.check_in_time.format("%H:%M").to_string(),
        "check_out_time": a.check_out_time.format("%H:%M").to_string(),
        "directions": acc.directions,
        "reason": r.state_reason,
        "photo_url": a.primary_photo().map(|p| p.url.clone()),
        "photo_caption": a.primary_photo().map(|p| p.caption.clone()),
    })
}

/// Write one outbox row and, when it is new, enqueue its delivery job in the same transaction.
/// Returns the row id, `None` when the dedupe key was already used.
pub async fn write_row(
    state: &AppState,
    tx: &mut Tx,
    n: &NewNotification<'_>,
    trace_id: Option<&str>,
) -> Result<Option<i64>, BookingError> {
    write_row_into(state, tx, n, trace_id, None).await
}

/// [`write_row`]; with `jobs`, the delivery job is collected there (for the caller to enqueue
/// with its other jobs in one statement, inside its transaction) instead of enqueued now.
pub async fn write_row_into(
    state: &AppState,
    tx: &mut Tx,
    n: &NewNotification<'_>,
    trace_id: Option<&str>,
    jobs: Option<&mut Vec<NewJob>>,
) -> Result<Option<i64>, BookingError> {
    let Some(id) = notifications::insert(tx.conn(), n).await? else {
        return Ok(None);
    };
    let job = DeliverNotification {
        notification_id: id,
    };
    let opts = JobOptions {
        unique_key: Some(format!("notify:{id}")),
        trace_id: trace_id.map(str::to_string),
        ..JobOptions::default()
    };
    match jobs {
        None => {
            state.jobs().enqueue_in(tx.conn(), &job, opts).await?;
        }
        Some(jobs) => jobs.push(
            NewJob::new(&job, opts)
                .map_err(|e| BookingError::Internal(anyhow::anyhow!("serializing a job: {e}")))?,
        ),
    }
    Ok(Some(id))
}

async fn write(
    state: &AppState,
    tx: &mut Tx,
    r: &Reservation,
    (audience, channel, recipient): (&str, &str, &str),
    template: &str,
    data: &Value,
    jobs: Option<&mut Vec<NewJob>>,
) -> Result<(), BookingError> {
    // Messages about a payment are per payment (two rejected payments are two messages).
    let suffix = data
        .get("payment_id")
        .and_then(Value::as_str)
        .map(|p| format!(":payment-{p}"))
        .unwrap_or_default();
    write_row_into(
        state,
        tx,
        &NewNotification {
            reservation_id: Some(r.id),
            audience,
            channel,
            recipient: Some(recipient),
            template,
            data,
            dedupe_key: Some(format!("{template}:{}:{audience}:{channel}{suffix}", r.id)),
        },
        r.trace_id.as_deref(),
        jobs,
    )
    .await?;
    Ok(())
}

/// `template_data` with `extra`'s keys added (payment amount, problem description…).
fn merged(state: &AppState, r: &Reservation, acc: &StoredAccommodation, extra: &Value) -> Value {
    let mut data = template_data(state, r, acc);
    if let (Some(obj), Some(more)) = (data.as_object_mut(), extra.as_object()) {
        for (k, v) in more {
            obj.insert(k.clone(), v.clone());
        }
    }
    data
}

/// Ask for a message to the guest on every channel they can be reached on.
pub async fn guest(
    state: &AppState,
    tx: &mut Tx,
    r: &Reservation,
    acc: &StoredAccommodation,
    template: &str,
) -> Result<(), BookingError> {
    guest_with(state, tx, r, acc, template, &Value::Null).await
}

/// [`guest`] with extra template data.
pub async fn guest_with(
    state: &AppState,
    tx: &mut Tx,
    r: &Reservation,
    acc: &StoredAccommodation,
    template: &str,
    extra: &Value,
) -> Result<(), BookingError> {
    guest_into(state, tx, r, acc, template, extra, None).await
}

/// [`guest_with`]; with `jobs`, the delivery jobs are collected there instead of enqueued.
pub async fn guest_into(
    state: &AppState,
    tx: &mut Tx,
    r: &Reservation,
    acc: &StoredAccommodation,
    template: &str,
    extra: &Value,
    jobs: Option<&mut Vec<NewJob>>,
) -> Result<(), BookingError> {
    let to = [
        ("whatsapp", r.guest_phone.as_deref()),
        ("email", r.guest_email.as_deref()),
    ];
    write_each(
        state,
        tx,
        r,
        ("guest", to),
        template,
        &merged(state, r, acc, extra),
        jobs,
    )
    .await
}

/// One row per channel with a recipient, for `audience`.
async fn write_each(
    state: &AppState,
    tx: &mut Tx,
    r: &Reservation,
    (audience, to): (&str, [(&str, Option<&str>); 2]),
    template: &str,
    data: &Value,
    mut jobs: Option<&mut Vec<NewJob>>,
) -> Result<(), BookingError> {
    for (channel, recipient) in to {
        let Some(recipient) = recipient.filter(|v| !v.is_empty()) else {
            continue;
        };
        let target = (audience, channel, recipient);
        write(state, tx, r, target, template, data, jobs.as_deref_mut()).await?;
    }
    Ok(())
}

/// Ask for a message to the owner on the channels configured for them.
pub async fn owner(
    state: &AppState,
    tx: &mut Tx,
    r: &Reservation,
    acc: &StoredAccommodation,
    template: &str,
) -> Result<(), BookingError> {
    owner_with(state, tx, r, acc, template, &Value::Null).await
}

/// [`owner`] with extra template data.
pub async fn owner_with(
    state: &AppState,
    tx: &mut Tx,
    r: &Reservation,
    acc: &StoredAccommodation,
    template: &str,
    extra: &Value,
) -> Result<(), BookingError> {
    owner_into(state, tx, r, acc, template, extra, None).await
}

/// [`owner_with`]; with `jobs`, the delivery jobs are collected there instead of enqueued.
pub async fn owner_into(
    state: &AppState,
    tx: &mut Tx,
    r: &Reservation,
    acc: &StoredAccommodation,
    template: &str,
    extra: &Value,
    jobs: Option<&mut Vec<NewJob>>,
) -> Result<(), BookingError> {
    let settings = state.settings();
    let to = [
        ("email", settings.owner_email.as_deref()),
        ("whatsapp", settings.owner_phone.as_deref()),
    ];
    write_each(
        state,
        tx,
        r,
        ("owner", to),
        template,
        &merged(state, r, acc, extra),
        jobs,
    )
    .await
}

/// Ask for a message to the owner that concerns no known reservation (a payment nobody can match),
/// deduplicated by `dedupe` (per channel).
pub async fn owner_unattached(
    state: &AppState,
    tx: &mut Tx,
    template: &str,
    data: &Value,
    dedupe: &str,
) -> Result<(), BookingError> {
    let settings = state.settings();
    let channels = [
        ("email", settings.owner_email.as_deref()),
        ("whatsapp", settings.owner_phone.as_deref()),
    ];
    for (channel, recipient) in channels {
        let Some(recipient) = recipient.filter(|r| !r.is_empty()) else {
            continue;
        };
        write_row(
            state,
            tx,
            &NewNotification {
                reservation_id: None,
                audience: "owner",
                channel,
                recipient: Some(recipient),
                template,
                data,
                dedupe_key: Some(format!("{template}:{dedupe}:owner:{channel}")),
            },
            None,
        )
        .await?;
    }
    Ok(())
}
