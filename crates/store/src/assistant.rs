//! The WhatsApp guest assistant's storage: one session per guest phone (digits) with what the
//! conversation knows (`state`, JSON the server owns), the profile name WhatsApp gave, the owner's
//! switch, and a version that makes each save a compare-and-set; and the queue of guest messages
//! waiting for the assistant (`whatsapp_messages.outcome = 'queued'`), answered oldest first.

use chrono::{DateTime, Utc};
use posada_db::{Conn, Db};

use crate::{Result, on_conn, on_db};

/// The outcome of a guest message waiting for the assistant.
pub const QUEUED: &str = "queued";

/// The outcome of a guest voice note being transcribed before it waits for the assistant.
pub const TRANSCRIBING: &str = "transcribing";

/// One phone's session.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Session {
    /// The guest's number, digits only.
    pub phone: String,
    /// The name on the guest's WhatsApp profile.
    pub profile_name: Option<String>,
    /// What the conversation knows (JSON).
    pub state: String,
    /// Whether the assistant answers this phone (the owner's switch).
    pub enabled: bool,
    /// Bumped by every save.
    pub version: i64,
}

/// Make sure `phone` has a session, remembering `profile_name` when WhatsApp sent one.
pub async fn touch(
    conn: Conn<'_>,
    phone: &str,
    profile_name: Option<&str>,
    now: DateTime<Utc>,
) -> Result<()> {
    on_conn!(conn, c => sqlx::query(
        "INSERT INTO assistant_sessions (phone, profile_name, updated_at) VALUES ($1, $2, $3)
         ON CONFLICT (phone) DO UPDATE SET
            profile_name = COALESCE(excluded.profile_name, assistant_sessions.profile_name)")
        .bind(phone).bind(profile_name).bind(now).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// The session of `phone`.
pub async fn get(db: &Db, phone: &str) -> Result<Option<Session>> {
    Ok(on_db!(db, p => sqlx::query_as(
        "SELECT phone, profile_name, state, enabled, version FROM assistant_sessions WHERE phone = $1")
        .bind(phone).fetch_optional(p).await)?)
}

/// The session of `phone`, inside a transaction.
pub async fn get_in(conn: Conn<'_>, phone: &str) -> Result<Option<Session>> {
    Ok(on_conn!(conn, c => sqlx::query_as(
        "SELECT phone, profile_name, state, enabled, version FROM assistant_sessions WHERE phone = $1")
        .bind(phone).fetch_optional(&mut *c).await)?)
}

/// Save `state` if the session is still at `version`; `false` when someone saved meanwhile.
pub async fn save(
    conn: Conn<'_>,
    phone: &str,
    state: &str,
    version: i64,
    now: DateTime<Utc>,
) -> Result<bool> {
    let changed = on_conn!(conn, c => sqlx::query(
        "UPDATE assistant_sessions SET state = $1, version = version + 1, updated_at = $2
          WHERE phone = $3 AND version = $4")
        .bind(state).bind(now).bind(phone).bind(version).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(changed == 1)
}

/// The owner's switch for `phone` (creates the session when there is none).
pub async fn set_enabled(
    conn: Conn<'_>,
    phone: &str,
    enabled: bool,
    now: DateTime<Utc>,
) -> Result<()> {
    on_conn!(conn, c => sqlx::query(
        "INSERT INTO assistant_sessions (phone, enabled, updated_at) VALUES ($1, $2, $3)
         ON CONFLICT (phone) DO UPDATE SET enabled = excluded.enabled, updated_at = excluded.updated_at,
            version = assistant_sessions.version + 1")
        .bind(phone).bind(enabled).bind(now).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// A guest message waiting for the assistant.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct QueuedMessage {
    /// Its id.
    pub id: i64,
    /// `text`, `button`, `list_reply`, `audio`, …
    pub kind: String,
    /// The text (a button's title).
    pub body: String,
    /// The id of the button or list row tapped.
    pub choice: Option<String>,
    /// When the guest sent it.
    pub at: DateTime<Utc>,
}

/// Mark a just-stored guest message as waiting for the assistant, with the id of the button or
/// list row it taps.
pub async fn queue_message(conn: Conn<'_>, id: i64, choice: Option<&str>) -> Result<()> {
    on_conn!(conn, c => sqlx::query(
        "UPDATE whatsapp_messages SET outcome = $1, choice = $2 WHERE id = $3")
        .bind(QUEUED).bind(choice).bind(id).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// The oldest guest message of `phone` still waiting for the assistant.
pub async fn next_queued(db: &Db, phone: &str) -> Result<Option<QueuedMessage>> {
    Ok(on_db!(db, p => sqlx::query_as(
        "SELECT id, kind, body, choice, at FROM whatsapp_messages
          WHERE phone = $1 AND direction = 'in' AND outcome = $2 ORDER BY at, id LIMIT 1")
        .bind(phone).bind(QUEUED).fetch_optional(p).await)?)
}

/// The id of guest message `wamid` when it is still waiting for the assistant.
pub async fn queued_by_wamid(db: &Db, wamid: &str) -> Result<Option<i64>> {
    Ok(on_db!(db, p => sqlx::query_scalar(
        "SELECT id FROM whatsapp_messages WHERE wamid = $1 AND direction = 'in' AND outcome = $2")
        .bind(wamid).bind(QUEUED).fetch_optional(p).await)?)
}

/// Where the phone of message `id` and its time are, when it is still waiting.
pub async fn queued_message(db: &Db, id: i64) -> Result<Option<(String, DateTime<Utc>)>> {
    Ok(on_db!(db, p => sqlx::query_as(
        "SELECT phone, at FROM whatsapp_messages WHERE id = $1 AND outcome = $2")
        .bind(id).bind(QUEUED).fetch_optional(p).await)?)
}

/// Mark a just-stored voice note as being transcribed (not yet waiting for the assistant).
pub async fn mark_transcribing(conn: Conn<'_>, id: i64) -> Result<()> {
    on_conn!(conn, c => sqlx::query("UPDATE whatsapp_messages SET outcome = $1 WHERE id = $2")
        .bind(TRANSCRIBING).bind(id).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Store a voice note's transcript (`None`: it could not be transcribed) and queue it for the
/// assistant. `false` when it is no longer being transcribed (a repeated job). Returns its phone.
pub async fn transcribed(conn: Conn<'_>, id: i64, text: Option<&str>) -> Result<Option<String>> {
    Ok(on_conn!(conn, c => sqlx::query_scalar(
        "UPDATE whatsapp_messages SET outcome = $1, body = COALESCE($2, body)
          WHERE id = $3 AND outcome = $4 RETURNING phone")
        .bind(QUEUED).bind(text).bind(id).bind(TRANSCRIBING).fetch_optional(&mut *c).await)?)
}

/// Record what the assistant did with a waiting message: `false` when it no longer waits.
pub async fn finish_message(conn: Conn<'_>, id: i64, outcome: &str) -> Result<bool> {
    let changed = on_conn!(conn, c => sqlx::query(
        "UPDATE whatsapp_messages SET outcome = $1 WHERE id = $2 AND outcome = $3")
        .bind(outcome).bind(id).bind(QUEUED).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(changed == 1)
}

/// How many messages `phone` sent after `since` up to message `id` sent at `at` (the messages of
/// one second are ordered by id).
pub async fn inbound_count_until(
    db: &Db,
    phone: &str,
    since: DateTime<Utc>,
    at: DateTime<Utc>,
    id: i64,
) -> Result<i64> {
    Ok(on_db!(db, p => sqlx::query_scalar(
        "SELECT COUNT(*) FROM whatsapp_messages WHERE phone = $1 AND direction = 'in' AND at > $2
            AND (at < $3 OR (at = $3 AND id <= $4))")
        .bind(phone).bind(since).bind(at).bind(id).fetch_one(p).await)?)
}
