//! What the WhatsApp webhook teaches us: when each guest last wrote (free-form messages are only
//! allowed within 24 h of it), which webhook events were already seen (Meta delivers each one
//! many times), and the delivery status of the messages we sent (sent, delivered, read, failed).

use chrono::{DateTime, Utc};
use posada_db::{Conn, Db};

use crate::{Result, on_conn, on_db};

/// Remember that `phone` (digits) wrote to us at `at`; a later time wins over an earlier one.
pub async fn record_inbound(mut conn: Conn<'_>, phone: &str, at: DateTime<Utc>) -> Result<()> {
    let now = Utc::now();
    on_conn!(conn.reborrow(), c => sqlx::query(
        "INSERT INTO whatsapp_conversations (phone, last_inbound_at, updated_at) VALUES ($1, $2, $3)
         ON CONFLICT (phone) DO UPDATE SET
            last_inbound_at = CASE WHEN excluded.last_inbound_at > whatsapp_conversations.last_inbound_at
                                   THEN excluded.last_inbound_at ELSE whatsapp_conversations.last_inbound_at END,
            updated_at = excluded.updated_at")
        .bind(phone).bind(at).bind(now).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// When `phone` (digits) last wrote to us.
pub async fn last_inbound(db: &Db, phone: &str) -> Result<Option<DateTime<Utc>>> {
    Ok(on_db!(db, p => sqlx::query_scalar(
        "SELECT last_inbound_at FROM whatsapp_conversations WHERE phone = $1")
        .bind(phone).fetch_optional(p).await)?)
}

/// Record webhook event (`wamid`, `event`) — `event` is `message` for an inbound message or the
/// status name for a status update. `true` the first time, `false` for a repeat.
pub async fn first_sighting(conn: Conn<'_>, wamid: &str, event: &str) -> Result<bool> {
    let inserted = on_conn!(conn, c => sqlx::query(
        "INSERT INTO whatsapp_webhook_events (wamid, event, received_at) VALUES ($1, $2, $3) ON CONFLICT (wamid, event) DO NOTHING")
        .bind(wamid).bind(event).bind(Utc::now()).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(inserted == 1)
}

/// Apply a delivery status from the provider to the notification it sent as `provider_message_id`.
///
/// Statuses arrive out of order, so a row only moves forward: sent → delivered → read; `failed`
/// wins over `sent` but never over `delivered` or `read` (a later failure report for a message the
/// guest already read is stale). Returns the notification id when a row changed.
pub async fn apply_delivery_status(
    conn: Conn<'_>,
    provider_message_id: &str,
    status: &str,
    error: Option<&str>,
) -> Result<Option<i64>> {
    let allowed_from: &[&str] = match status {
        "sent" => &["queued"],
        "delivered" => &["queued", "sent", "failed"],
        "read" => &["queued", "sent", "delivered", "failed"],
        "failed" => &["queued", "sent"],
        _ => return Ok(None),
    };
    let list = allowed_from
        .iter()
        .map(|s| format!("'{s}'"))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "UPDATE notifications SET status = $1, last_error = COALESCE($2, last_error), updated_at = $3
          WHERE provider_message_id = $4 AND status IN ({list}) RETURNING id"
    );
    Ok(on_conn!(conn, c => sqlx::query_scalar(&sql)
        .bind(status).bind(error).bind(Utc::now()).bind(provider_message_id)
        .fetch_optional(&mut *c).await)?)
}
