//! The notification outbox: one row per message to send (audience, channel, template, data),
//! written in the same transaction as the event that causes it, delivered later by a job.

use chrono::{DateTime, Utc};
use posada_db::{Conn, Db};
use serde::Serialize;

use crate::{Result, on_conn, on_db};

/// A message to write to the outbox.
#[derive(Debug, Clone)]
pub struct NewNotification<'a> {
    /// Reservation it is about, if any.
    pub reservation_id: Option<i64>,
    /// `guest` or `owner`.
    pub audience: &'a str,
    /// `email` or `whatsapp`.
    pub channel: &'a str,
    /// Address or phone; `None` when unknown (the row is kept, marked not sendable by delivery).
    pub recipient: Option<&'a str>,
    /// Template name (`hold_created`, `hold_expired`, …).
    pub template: &'a str,
    /// Template data.
    pub data: &'a serde_json::Value,
    /// Makes the write idempotent: a second row with the same key is skipped.
    pub dedupe_key: Option<String>,
}

/// An outbox row.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Notification {
    /// Id.
    pub id: i64,
    /// Reservation.
    pub reservation_id: Option<i64>,
    /// `guest` / `owner`.
    pub audience: String,
    /// `email` / `whatsapp`.
    pub channel: String,
    /// Address or phone.
    #[serde(skip)]
    pub recipient: Option<String>,
    /// Template name.
    pub template: String,
    /// Template data (JSON text).
    #[serde(skip)]
    pub data: String,
    /// `queued`, `sent`, `delivered`, `read`, `failed`, `not_configured`.
    pub status: String,
    /// Delivery attempts.
    pub attempts: i64,
    /// Provider's message id.
    pub provider_message_id: Option<String>,
    /// Last delivery error.
    pub last_error: Option<String>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Updated.
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, reservation_id, audience, channel, recipient, template, data, status, attempts, provider_message_id, last_error, created_at, updated_at";

/// Write a queued notification; returns its id, or `None` if the dedupe key was already used.
pub async fn insert(
    conn: Conn<'_>,
    n: &NewNotification<'_>,
    now: DateTime<Utc>,
) -> Result<Option<i64>> {
    let data = n.data.to_string();
    Ok(on_conn!(conn, c => sqlx::query_scalar(
        "INSERT INTO notifications (reservation_id, audience, channel, recipient, template, data, status, dedupe_key, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, 'queued', $7, $8, $8) ON CONFLICT (dedupe_key) DO NOTHING RETURNING id")
        .bind(n.reservation_id).bind(n.audience).bind(n.channel).bind(n.recipient).bind(n.template).bind(&data)
        .bind(&n.dedupe_key).bind(now)
        .fetch_optional(&mut *c).await)?)
}

/// The newest `limit` messages written to `recipient` on `channel`, oldest first.
pub async fn to_recipient(
    db: &Db,
    channel: &str,
    recipient: &str,
    limit: i64,
) -> Result<Vec<Notification>> {
    let mut rows: Vec<Notification> = on_db!(db, p => sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM notifications WHERE channel = $1 AND recipient = $2
         ORDER BY created_at DESC, id DESC LIMIT $3"))
        .bind(channel).bind(recipient).bind(limit).fetch_all(p).await)?;
    rows.reverse();
    Ok(rows)
}

/// One notification.
pub async fn get(db: &Db, id: i64) -> Result<Option<Notification>> {
    Ok(
        on_db!(db, p => sqlx::query_as(&format!("SELECT {COLUMNS} FROM notifications WHERE id = $1")).bind(id).fetch_optional(p).await)?,
    )
}

/// Whether a message to the same `recipient` on `channel`, written before notification `id` and
/// after `since`, is still waiting to be sent (messages to one person go out in order).
pub async fn earlier_still_queued(
    db: &Db,
    channel: &str,
    recipient: &str,
    id: i64,
    since: DateTime<Utc>,
) -> Result<bool> {
    let found: Option<i64> = on_db!(db, p => sqlx::query_scalar(
        "SELECT id FROM notifications WHERE status = 'queued' AND created_at > $1
           AND channel = $2 AND recipient = $3 AND id < $4 LIMIT 1")
        .bind(since).bind(channel).bind(recipient).bind(id).fetch_optional(p).await)?;
    Ok(found.is_some())
}

/// The notification the provider knows as `provider_message_id` (WhatsApp's wamid).
pub async fn by_provider_message_id(
    db: &Db,
    provider_message_id: &str,
) -> Result<Option<Notification>> {
    Ok(
        on_db!(db, p => sqlx::query_as(&format!("SELECT {COLUMNS} FROM notifications WHERE provider_message_id = $1")).bind(provider_message_id).fetch_optional(p).await)?,
    )
}

/// Notifications about a reservation, oldest first.
pub async fn for_reservation(db: &Db, reservation_id: i64) -> Result<Vec<Notification>> {
    Ok(
        on_db!(db, p => sqlx::query_as(&format!("SELECT {COLUMNS} FROM notifications WHERE reservation_id = $1 ORDER BY id")).bind(reservation_id).fetch_all(p).await)?,
    )
}

/// Record a delivery outcome.
pub async fn set_status(
    db: &Db,
    id: i64,
    status: &str,
    provider_message_id: Option<&str>,
    error: Option<&str>,
    count_attempt: bool,
    now: DateTime<Utc>,
) -> Result<()> {
    on_db!(db, p => sqlx::query(
        "UPDATE notifications SET status = $1, provider_message_id = COALESCE($2, provider_message_id), last_error = $3,
            attempts = attempts + $4, updated_at = $5 WHERE id = $6")
        .bind(status).bind(provider_message_id).bind(error).bind(i64::from(count_attempt)).bind(now).bind(id)
        .execute(p).await.map(|r| r.rows_affected()))?;
    Ok(())
}
