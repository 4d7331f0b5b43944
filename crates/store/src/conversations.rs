//! What the WhatsApp webhook teaches us: when each guest last wrote (free-form messages are only
//! allowed within 24 h of it), which webhook events were already seen (Meta delivers each one
//! many times), and the delivery status of the messages we sent (sent, delivered, read, failed).
//!
//! It also keeps the conversations handed to a person: a guest message posada cannot act on by
//! itself marks the conversation handed off and waiting (`awaiting_since`, the oldest unanswered
//! guest message); the owner's reply clears the wait, resolving clears the hand-off, and the whole
//! state lapses with WhatsApp's 24 h customer-service window (`state_expires_at`). The messages
//! (what the guest wrote, what the owner answered) are kept in `whatsapp_messages` for reading.

use chrono::{DateTime, Duration, Utc};
use posada_db::{Conn, Db};
use serde::Serialize;

use crate::{Result, on_conn, on_db};

/// WhatsApp's customer-service window: free-form messages are allowed this long after the
/// guest's last message.
pub const WINDOW: Duration = Duration::hours(24);

/// Remember that `phone` (digits) wrote to us at `at`; a later time wins over an earlier one. While
/// the conversation is handed to a person, its state now lasts until this message's window closes.
pub async fn record_inbound(
    mut conn: Conn<'_>,
    phone: &str,
    at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<()> {
    on_conn!(conn.reborrow(), c => sqlx::query(
        "INSERT INTO whatsapp_conversations (phone, last_inbound_at, updated_at) VALUES ($1, $2, $3)
         ON CONFLICT (phone) DO UPDATE SET
            last_inbound_at = CASE WHEN excluded.last_inbound_at > whatsapp_conversations.last_inbound_at
                                   THEN excluded.last_inbound_at ELSE whatsapp_conversations.last_inbound_at END,
            state_expires_at = CASE WHEN whatsapp_conversations.handed_off_at IS NOT NULL
                                         AND (whatsapp_conversations.state_expires_at IS NULL OR whatsapp_conversations.state_expires_at < $4)
                                    THEN $4 ELSE whatsapp_conversations.state_expires_at END,
            updated_at = excluded.updated_at")
        .bind(phone).bind(at).bind(now).bind(at + WINDOW).execute(&mut *c).await.map(|r| r.rows_affected()))?;
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
pub async fn first_sighting(
    conn: Conn<'_>,
    wamid: &str,
    event: &str,
    now: DateTime<Utc>,
) -> Result<bool> {
    let inserted = on_conn!(conn, c => sqlx::query(
        "INSERT INTO whatsapp_webhook_events (wamid, event, received_at) VALUES ($1, $2, $3) ON CONFLICT (wamid, event) DO NOTHING")
        .bind(wamid).bind(event).bind(now).execute(&mut *c).await.map(|r| r.rows_affected()))?;
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
    now: DateTime<Utc>,
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
        .bind(status).bind(error).bind(now).bind(provider_message_id)
        .fetch_optional(&mut *c).await)?)
}

// ---------------------------------------------------------------------------------------------
// Hand-off state

/// A conversation with a guest, by phone digits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct Conversation {
    /// The guest's WhatsApp number, digits only.
    pub phone: String,
    /// When the guest last wrote.
    pub last_inbound_at: DateTime<Utc>,
    /// When the conversation was handed to a person (`None`: posada handles it).
    pub handed_off_at: Option<DateTime<Utc>>,
    /// Why it was handed off (`guest_message`, `button_unmatched`, …).
    pub handoff_reason: Option<String>,
    /// Time of the oldest guest message not answered yet (`None`: nothing waits).
    pub awaiting_since: Option<DateTime<Utc>>,
    /// When the owner last answered.
    pub last_reply_at: Option<DateTime<Utc>>,
    /// When the hand-off state lapses (the 24 h window after the guest's last message closes).
    pub state_expires_at: Option<DateTime<Utc>>,
}

impl Conversation {
    /// Until when free-form messages to the guest are allowed.
    pub fn window_open_until(&self) -> DateTime<Utc> {
        self.last_inbound_at + WINDOW
    }

    /// Whether a free-form message may be sent at `now`.
    pub fn window_open(&self, now: DateTime<Utc>) -> bool {
        now < self.window_open_until()
    }
}

const CONVERSATION_COLUMNS: &str = "c.phone, c.last_inbound_at, c.handed_off_at, c.handoff_reason, c.awaiting_since, c.last_reply_at, c.state_expires_at";

/// Hand the conversation with `phone` to a person because of a guest message sent at `message_at`:
/// it waits since its oldest unanswered message, is handed off since the first hand-off (whose
/// reason is kept), and its state lasts until the message's 24 h window closes.
pub async fn hand_off(
    conn: Conn<'_>,
    phone: &str,
    reason: &str,
    message_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<()> {
    on_conn!(conn, c => sqlx::query(
        "INSERT INTO whatsapp_conversations (phone, last_inbound_at, updated_at, handed_off_at, handoff_reason, awaiting_since, state_expires_at)
         VALUES ($1, $2, $3, $3, $4, $2, $5)
         ON CONFLICT (phone) DO UPDATE SET
            handoff_reason = CASE WHEN whatsapp_conversations.handed_off_at IS NULL
                                  THEN excluded.handoff_reason ELSE whatsapp_conversations.handoff_reason END,
            handed_off_at = COALESCE(whatsapp_conversations.handed_off_at, excluded.handed_off_at),
            awaiting_since = CASE WHEN whatsapp_conversations.awaiting_since IS NULL
                                       OR whatsapp_conversations.awaiting_since > excluded.awaiting_since
                                  THEN excluded.awaiting_since ELSE whatsapp_conversations.awaiting_since END,
            state_expires_at = CASE WHEN whatsapp_conversations.state_expires_at IS NULL
                                         OR whatsapp_conversations.state_expires_at < excluded.state_expires_at
                                    THEN excluded.state_expires_at ELSE whatsapp_conversations.state_expires_at END,
            updated_at = excluded.updated_at")
        .bind(phone).bind(message_at).bind(now).bind(reason).bind(message_at + WINDOW)
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Whether the conversation with `phone` is with a person at `now` (handed off, state not lapsed).
pub async fn handed_off_in(conn: Conn<'_>, phone: &str, now: DateTime<Utc>) -> Result<bool> {
    let found: Option<String> = on_conn!(conn, c => sqlx::query_scalar(
        "SELECT phone FROM whatsapp_conversations WHERE phone = $1 AND handed_off_at IS NOT NULL
            AND (state_expires_at IS NULL OR state_expires_at > $2)")
        .bind(phone).bind(now).fetch_optional(&mut *c).await)?;
    Ok(found.is_some())
}

/// The owner answered at `at`: nothing waits any more. `false` when there is no such conversation.
pub async fn record_reply(conn: Conn<'_>, phone: &str, at: DateTime<Utc>) -> Result<bool> {
    let changed = on_conn!(conn, c => sqlx::query(
        "UPDATE whatsapp_conversations SET awaiting_since = NULL, last_reply_at = $1, updated_at = $1 WHERE phone = $2")
        .bind(at).bind(phone).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(changed == 1)
}

/// The owner dealt with the conversation another way: posada handles it again. `false` when there
/// is no such conversation.
pub async fn resolve(conn: Conn<'_>, phone: &str, now: DateTime<Utc>) -> Result<bool> {
    let changed = on_conn!(conn, c => sqlx::query(
        "UPDATE whatsapp_conversations SET handed_off_at = NULL, handoff_reason = NULL, awaiting_since = NULL,
            state_expires_at = NULL, updated_at = $1 WHERE phone = $2")
        .bind(now).bind(phone).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(changed == 1)
}

/// Clear the hand-off state of conversations whose state lapsed at or before `now`; returns how
/// many.
pub async fn expire_states(db: &Db, now: DateTime<Utc>) -> Result<u64> {
    Ok(on_db!(db, p => sqlx::query(
        "UPDATE whatsapp_conversations SET handed_off_at = NULL, handoff_reason = NULL, awaiting_since = NULL,
            state_expires_at = NULL, updated_at = $1 WHERE state_expires_at IS NOT NULL AND state_expires_at <= $1")
        .bind(now).execute(p).await.map(|r| r.rows_affected()))?)
}

/// One conversation.
pub async fn get(db: &Db, phone: &str) -> Result<Option<Conversation>> {
    Ok(on_db!(db, p => sqlx::query_as(&format!(
        "SELECT {CONVERSATION_COLUMNS} FROM whatsapp_conversations c WHERE c.phone = $1"))
        .bind(phone).fetch_optional(p).await)?)
}

/// A conversation as the owner's list shows it: who the guest is (their latest reservation with
/// this phone, if any) and the latest message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct ConversationSummary {
    /// The conversation.
    #[sqlx(flatten)]
    #[serde(flatten)]
    pub conversation: Conversation,
    /// Guest's name on their latest reservation with this phone.
    pub guest_name: Option<String>,
    /// Code of that reservation.
    pub reservation_code: Option<String>,
    /// Latest message: `in` or `out`.
    pub last_message_direction: Option<String>,
    /// Latest message: its kind (`text`, `button`, `image`, …).
    pub last_message_kind: Option<String>,
    /// Latest message: its text.
    pub last_message_body: Option<String>,
    /// Latest message: when.
    pub last_message_at: Option<DateTime<Utc>>,
}

const SUMMARY_SELECT: &str = "SELECT c.phone, c.last_inbound_at, c.handed_off_at, c.handoff_reason, c.awaiting_since, c.last_reply_at, c.state_expires_at,
    (SELECT r.guest_name FROM reservations r WHERE r.guest_phone = c.phone ORDER BY r.id DESC LIMIT 1) AS guest_name,
    (SELECT r.code FROM reservations r WHERE r.guest_phone = c.phone ORDER BY r.id DESC LIMIT 1) AS reservation_code,
    (SELECT m.direction FROM whatsapp_messages m WHERE m.phone = c.phone ORDER BY m.at DESC, m.id DESC LIMIT 1) AS last_message_direction,
    (SELECT m.kind FROM whatsapp_messages m WHERE m.phone = c.phone ORDER BY m.at DESC, m.id DESC LIMIT 1) AS last_message_kind,
    (SELECT m.body FROM whatsapp_messages m WHERE m.phone = c.phone ORDER BY m.at DESC, m.id DESC LIMIT 1) AS last_message_body,
    (SELECT m.at FROM whatsapp_messages m WHERE m.phone = c.phone ORDER BY m.at DESC, m.id DESC LIMIT 1) AS last_message_at
    FROM whatsapp_conversations c";

/// Filters of the owner's list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConversationFilter {
    /// `Some(true)`: only conversations waiting for an answer; `Some(false)`: only the others.
    pub awaiting: Option<bool>,
    /// Page size.
    pub limit: i64,
    /// Offset.
    pub offset: i64,
}

/// Conversations matching the filter — waiting ones first (longest wait first), then the most
/// recently active — and the total count.
pub async fn list(db: &Db, f: &ConversationFilter) -> Result<(Vec<ConversationSummary>, i64)> {
    let filter = match f.awaiting {
        Some(true) => "WHERE c.awaiting_since IS NOT NULL",
        Some(false) => "WHERE c.awaiting_since IS NULL",
        None => "",
    };
    let sql = format!(
        "{SUMMARY_SELECT} {filter}
         ORDER BY CASE WHEN c.awaiting_since IS NULL THEN 1 ELSE 0 END, c.awaiting_since, c.last_inbound_at DESC, c.phone
         LIMIT $1 OFFSET $2"
    );
    let count_sql = format!("SELECT COUNT(*) FROM whatsapp_conversations c {filter}");
    Ok(on_db!(db, p => {
        let rows = sqlx::query_as(&sql).bind(f.limit).bind(f.offset).fetch_all(p).await?;
        let total = sqlx::query_scalar(&count_sql).fetch_one(p).await?;
        (rows, total)
    }))
}

/// One conversation as the owner's list shows it.
pub async fn summary(db: &Db, phone: &str) -> Result<Option<ConversationSummary>> {
    Ok(
        on_db!(db, p => sqlx::query_as(&format!("{SUMMARY_SELECT} WHERE c.phone = $1"))
        .bind(phone).fetch_optional(p).await)?,
    )
}

/// Every conversation's phone (the owner's pages find a conversation by its keyed reference).
pub async fn phones(db: &Db) -> Result<Vec<String>> {
    Ok(
        on_db!(db, p => sqlx::query_scalar("SELECT phone FROM whatsapp_conversations")
        .fetch_all(p).await)?,
    )
}

/// Conversations waiting for an answer since before `before`, longest wait first.
pub async fn unanswered_since(db: &Db, before: DateTime<Utc>) -> Result<Vec<ConversationSummary>> {
    Ok(on_db!(db, p => sqlx::query_as(&format!(
        "{SUMMARY_SELECT} WHERE c.awaiting_since IS NOT NULL AND c.awaiting_since < $1 ORDER BY c.awaiting_since, c.phone"))
        .bind(before).fetch_all(p).await)?)
}

// ---------------------------------------------------------------------------------------------
// Messages

/// Which way a message went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// From the guest.
    In,
    /// To the guest.
    Out,
}

impl Direction {
    /// `in` / `out`, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::In => "in",
            Direction::Out => "out",
        }
    }
}

/// A message to store.
#[derive(Debug, Clone)]
pub struct NewMessage<'a> {
    /// The guest's number, digits only.
    pub phone: &'a str,
    /// Which way.
    pub direction: Direction,
    /// WhatsApp's id (`wamid.…`); unique per direction.
    pub wamid: Option<&'a str>,
    /// `text`, `button`, `image`, `audio`, `location`, …
    pub kind: &'a str,
    /// The text (the caption or a description for media).
    pub body: &'a str,
    /// When it was sent.
    pub at: DateTime<Utc>,
}

/// A stored message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct Message {
    /// Id.
    pub id: i64,
    /// The guest's number, digits only.
    pub phone: String,
    /// `in` / `out`.
    pub direction: String,
    /// WhatsApp's id.
    pub wamid: Option<String>,
    /// `text`, `button`, `image`, …
    pub kind: String,
    /// The text.
    pub body: String,
    /// When it was sent.
    pub at: DateTime<Utc>,
    /// What posada did with an inbound message it acts on (`cancelled`, `payment_link_sent`,
    /// `handed_off`, …); `None` until then.
    pub outcome: Option<String>,
}

const MESSAGE_COLUMNS: &str = "id, phone, direction, wamid, kind, body, at, outcome";

/// Store a message; returns its id, `None` when a message with the same wamid and direction is
/// already stored.
pub async fn insert_message(conn: Conn<'_>, m: &NewMessage<'_>) -> Result<Option<i64>> {
    Ok(on_conn!(conn, c => sqlx::query_scalar(
        "INSERT INTO whatsapp_messages (phone, direction, wamid, kind, body, at) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (direction, wamid) DO NOTHING RETURNING id")
        .bind(m.phone).bind(m.direction.as_str()).bind(m.wamid).bind(m.kind).bind(m.body).bind(m.at)
        .fetch_optional(&mut *c).await)?)
}

/// One message.
pub async fn message(db: &Db, id: i64) -> Result<Option<Message>> {
    Ok(on_db!(db, p => sqlx::query_as(&format!(
        "SELECT {MESSAGE_COLUMNS} FROM whatsapp_messages WHERE id = $1"))
        .bind(id).fetch_optional(p).await)?)
}

/// Record what was done with an inbound message, once: `false` when it already had an outcome.
pub async fn set_message_outcome(conn: Conn<'_>, id: i64, outcome: &str) -> Result<bool> {
    let changed = on_conn!(conn, c => sqlx::query(
        "UPDATE whatsapp_messages SET outcome = $1 WHERE id = $2 AND outcome IS NULL")
        .bind(outcome).bind(id).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(changed == 1)
}

/// The latest `limit` messages with `phone`, oldest first (newest last).
pub async fn messages(db: &Db, phone: &str, limit: i64) -> Result<Vec<Message>> {
    let mut rows: Vec<Message> = on_db!(db, p => sqlx::query_as(&format!(
        "SELECT {MESSAGE_COLUMNS} FROM whatsapp_messages WHERE phone = $1 ORDER BY at DESC, id DESC LIMIT $2"))
        .bind(phone).bind(limit).fetch_all(p).await)?;
    rows.reverse();
    Ok(rows)
}

/// Delete messages sent before `before`; returns how many.
pub async fn purge_messages(db: &Db, before: DateTime<Utc>) -> Result<u64> {
    Ok(
        on_db!(db, p => sqlx::query("DELETE FROM whatsapp_messages WHERE at < $1")
        .bind(before).execute(p).await.map(|r| r.rows_affected()))?,
    )
}

/// How many guest messages are stored (benchmarks, tests).
pub async fn count_inbound(db: &Db) -> Result<i64> {
    Ok(on_db!(db, p => sqlx::query_scalar(
        "SELECT COUNT(*) FROM whatsapp_messages WHERE direction = 'in'").fetch_one(p).await)?)
}

/// How many guest-audience WhatsApp outbox rows each recipient has, fewest and most (benchmarks:
/// every guest of a bench asks the same, so both must match).
pub async fn outbox_per_recipient_range(db: &Db) -> Result<(i64, i64)> {
    let row: (Option<i64>, Option<i64>) = on_db!(db, p => sqlx::query_as(
        "SELECT MIN(n), MAX(n) FROM (SELECT recipient, COUNT(*) AS n FROM notifications \
         WHERE channel = 'whatsapp' AND audience = 'guest' GROUP BY recipient) AS per")
        .fetch_one(p).await)?;
    Ok((row.0.unwrap_or(0), row.1.unwrap_or(0)))
}
