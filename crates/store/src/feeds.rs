//! Channel calendar sync: the feeds we import (with their per-feed status and reconciliation
//! memory), the blocks they produce, the secret tokens of our exports, and the conflicts between
//! imported blocks and our own reservations.
//!
//! The sync job reads a feed's blocks, decides with `posada-ical` what changes, and applies the
//! plan through these functions inside one write transaction. Nothing here decides anything.

use chrono::{DateTime, NaiveDate, Utc};
use posada_db::{Conn, Db};
use serde::Serialize;

use crate::blocks::BlockRow;
use crate::{Result, StoreError, on_conn, on_db};

/// The channel labels a feed or an export token can have.
pub const CHANNELS: [&str; 4] = ["airbnb", "booking", "vrbo", "other"];

/// A feed as stored, with its status and the number of blocks it holds.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FeedRow {
    /// Id.
    pub id: i64,
    /// Accommodation the feed's blocks close.
    pub accommodation_id: i64,
    /// `airbnb`, `booking`, `vrbo` or `other`.
    pub channel: String,
    /// Where the feed is fetched from (a secret of the channel account: shown to admins only).
    pub url: String,
    /// Whether the periodic sync fetches it.
    pub enabled: bool,
    /// ETag of the last answer (sent as `If-None-Match`).
    pub etag: Option<String>,
    /// Last-Modified of the last answer (sent as `If-Modified-Since`).
    pub last_modified: Option<String>,
    /// Last fetch, successful or not.
    pub last_attempt_at: Option<DateTime<Utc>>,
    /// Last successful fetch (a 2xx that parsed, or a 304).
    pub last_success_at: Option<DateTime<Utc>>,
    /// What went wrong last time (cleared by a success).
    pub last_error: Option<String>,
    /// `timeout`, `connect`, `http_status`, `too_large`, `redirect`, `parse` or `other`.
    pub last_error_kind: Option<String>,
    /// Failed fetches since the last success.
    pub consecutive_failures: i64,
    /// Current events (not ended) in the last successful fetch.
    pub events_seen: i64,
    /// Reconciliation memory (JSON of `posada_ical::FeedMemory`).
    #[serde(skip)]
    pub memory: String,
    /// The last successful fetch's events, sanitized (JSON), replayed on a 304.
    #[serde(skip)]
    pub last_events: Option<String>,
    /// Warning of the last successful fetch (suspect feed, skipped events…).
    pub warning: Option<String>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed by an admin or a sync.
    pub updated_at: DateTime<Utc>,
    /// Blocks this feed holds now.
    pub blocks_held: i64,
}

const FEED_COLUMNS: &str = "id, accommodation_id, channel, url, enabled, etag, last_modified, last_attempt_at, last_success_at, last_error, last_error_kind, consecutive_failures, events_seen, memory, last_events, warning, created_at, updated_at, (SELECT COUNT(*) FROM blocks b WHERE b.feed_id = feeds.id) AS blocks_held";

/// What an admin sets on a feed.
#[derive(Debug, Clone)]
pub struct FeedInput<'a> {
    /// Accommodation.
    pub accommodation_id: i64,
    /// Channel label (one of [`CHANNELS`]).
    pub channel: &'a str,
    /// Feed URL (http or https).
    pub url: &'a str,
    /// Whether to sync it.
    pub enabled: bool,
}

/// Create a feed.
pub async fn insert(mut conn: Conn<'_>, f: &FeedInput<'_>, now: DateTime<Utc>) -> Result<FeedRow> {
    let id: i64 = on_conn!(conn.reborrow(), c => sqlx::query_scalar(
        "INSERT INTO feeds (accommodation_id, channel, url, enabled, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5) RETURNING id")
        .bind(f.accommodation_id).bind(f.channel).bind(f.url).bind(f.enabled).bind(now)
        .fetch_one(&mut *c).await)?;
    get_in(conn, id).await?.ok_or(StoreError::NotFound("feed"))
}

/// Replace a feed's settings. A new URL forgets the conditional-GET validators.
pub async fn update(
    mut conn: Conn<'_>,
    id: i64,
    f: &FeedInput<'_>,
    now: DateTime<Utc>,
) -> Result<FeedRow> {
    let done = on_conn!(conn.reborrow(), c => sqlx::query(
        "UPDATE feeds SET accommodation_id = $1, channel = $2,
            etag = CASE WHEN url = $3 THEN etag ELSE NULL END,
            last_modified = CASE WHEN url = $3 THEN last_modified ELSE NULL END,
            url = $3, enabled = $4, updated_at = $5 WHERE id = $6")
        .bind(f.accommodation_id).bind(f.channel).bind(f.url).bind(f.enabled).bind(now).bind(id)
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    if done == 0 {
        return Err(StoreError::NotFound("feed"));
    }
    get_in(conn, id).await?.ok_or(StoreError::NotFound("feed"))
}

/// Delete a feed with the blocks it imported (their nights become free) and close its conflicts.
pub async fn delete(mut conn: Conn<'_>, id: i64, now: DateTime<Utc>) -> Result<()> {
    on_conn!(conn.reborrow(), c => sqlx::query("UPDATE ical_conflicts SET resolved_at = $2 WHERE feed_id = $1 AND resolved_at IS NULL").bind(id).bind(now).execute(&mut *c).await.map(|_| ()))?;
    on_conn!(conn.reborrow(), c => sqlx::query("DELETE FROM blocks WHERE feed_id = $1 AND source = 'channel'").bind(id).execute(&mut *c).await.map(|_| ()))?;
    let done = on_conn!(conn, c => sqlx::query("DELETE FROM feeds WHERE id = $1").bind(id).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    if done == 0 {
        return Err(StoreError::NotFound("feed"));
    }
    Ok(())
}

/// One feed.
pub async fn get(db: &Db, id: i64) -> Result<Option<FeedRow>> {
    Ok(
        on_db!(db, p => sqlx::query_as(&format!("SELECT {FEED_COLUMNS} FROM feeds WHERE id = $1")).bind(id).fetch_optional(p).await)?,
    )
}

/// One feed, inside a transaction.
pub async fn get_in(conn: Conn<'_>, id: i64) -> Result<Option<FeedRow>> {
    Ok(
        on_conn!(conn, c => sqlx::query_as(&format!("SELECT {FEED_COLUMNS} FROM feeds WHERE id = $1")).bind(id).fetch_optional(&mut *c).await)?,
    )
}

/// Feeds (of one accommodation, or all), by id.
pub async fn list(db: &Db, accommodation_id: Option<i64>) -> Result<Vec<FeedRow>> {
    Ok(on_db!(db, p => sqlx::query_as(&format!(
        "SELECT {FEED_COLUMNS} FROM feeds WHERE ($1 IS NULL OR accommodation_id = $1) ORDER BY id"))
        .bind(accommodation_id).fetch_all(p).await)?)
}

/// Ids of the feeds the periodic sync fetches.
pub async fn enabled_ids(db: &Db) -> Result<Vec<i64>> {
    Ok(
        on_db!(db, p => sqlx::query_scalar("SELECT id FROM feeds WHERE enabled = $1 ORDER BY id").bind(true).fetch_all(p).await)?,
    )
}

/// The outcome of a successful fetch, for the feed's status.
#[derive(Debug, Clone)]
pub struct FeedSuccess<'a> {
    /// When the fetch happened.
    pub at: DateTime<Utc>,
    /// New ETag (`None` keeps the stored one: a 304).
    pub etag: Option<&'a str>,
    /// New Last-Modified (`None` keeps the stored one).
    pub last_modified: Option<&'a str>,
    /// Whether `etag`/`last_modified` replace the stored ones (a 200 does, a 304 does not).
    pub replace_validators: bool,
    /// Current events in the feed.
    pub events_seen: i64,
    /// Reconciliation memory (JSON).
    pub memory: &'a str,
    /// The sanitized events (JSON) to replay on a 304.
    pub last_events: &'a str,
    /// Warning to show, `None` when the fetch was clean.
    pub warning: Option<&'a str>,
}

/// Record a successful fetch: clears the error, resets the failure count.
pub async fn record_success(conn: Conn<'_>, id: i64, s: &FeedSuccess<'_>) -> Result<()> {
    on_conn!(conn, c => sqlx::query(
        "UPDATE feeds SET last_attempt_at = $1, last_success_at = $1, last_error = NULL, last_error_kind = NULL,
            consecutive_failures = 0,
            etag = CASE WHEN $2 THEN $3 ELSE etag END,
            last_modified = CASE WHEN $2 THEN $4 ELSE last_modified END,
            events_seen = $5, memory = $6, last_events = $7, warning = $8, updated_at = $1 WHERE id = $9")
        .bind(s.at).bind(s.replace_validators).bind(s.etag).bind(s.last_modified).bind(s.events_seen)
        .bind(s.memory).bind(s.last_events).bind(s.warning).bind(id)
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// Record a failed fetch: keeps the blocks and the memory, counts the failure.
pub async fn record_failure(
    db: &Db,
    id: i64,
    at: DateTime<Utc>,
    error: &str,
    kind: &str,
) -> Result<()> {
    on_db!(db, p => sqlx::query(
        "UPDATE feeds SET last_attempt_at = $1, last_error = $2, last_error_kind = $3,
            consecutive_failures = consecutive_failures + 1, updated_at = $1 WHERE id = $4")
        .bind(at).bind(error).bind(kind).bind(id).execute(p).await.map(|_| ()))?;
    Ok(())
}

const BLOCK_COLUMNS: &str = "id, accommodation_id, start_date, end_date, source, feed_id, uid, reason, first_seen, last_seen, missing_count";

/// The blocks a feed imported, inside the sync's transaction.
pub async fn channel_blocks(conn: Conn<'_>, feed_id: i64) -> Result<Vec<BlockRow>> {
    Ok(on_conn!(conn, c => sqlx::query_as(&format!(
        "SELECT {BLOCK_COLUMNS} FROM blocks WHERE feed_id = $1 AND source = 'channel' ORDER BY start_date, id"))
        .bind(feed_id).fetch_all(&mut *c).await)?)
}

/// A channel block's dates and labels.
#[derive(Debug, Clone)]
pub struct ChannelBlock<'a> {
    /// The event's UID.
    pub uid: &'a str,
    /// First night.
    pub start: NaiveDate,
    /// Exclusive end.
    pub end: NaiveDate,
    /// Safe summary (channel and kind only).
    pub reason: &'a str,
}

/// Insert a channel block seen for the first time; returns its id.
pub async fn insert_channel_block(
    conn: Conn<'_>,
    accommodation_id: i64,
    feed_id: i64,
    b: &ChannelBlock<'_>,
    now: DateTime<Utc>,
) -> Result<i64> {
    Ok(on_conn!(conn, c => sqlx::query_scalar(
        "INSERT INTO blocks (accommodation_id, start_date, end_date, source, feed_id, uid, reason, first_seen, last_seen, missing_count, created_at)
         VALUES ($1, $2, $3, 'channel', $4, $5, $6, $7, $7, 0, $7) RETURNING id")
        .bind(accommodation_id).bind(b.start).bind(b.end).bind(feed_id).bind(b.uid).bind(b.reason).bind(now)
        .fetch_one(&mut *c).await)?)
}

/// Change a channel block seen again with other values.
pub async fn update_channel_block(
    conn: Conn<'_>,
    id: i64,
    b: &ChannelBlock<'_>,
    now: DateTime<Utc>,
) -> Result<()> {
    on_conn!(conn, c => sqlx::query(
        "UPDATE blocks SET uid = $1, start_date = $2, end_date = $3, reason = $4, last_seen = $5, missing_count = 0 WHERE id = $6 AND source = 'channel'")
        .bind(b.uid).bind(b.start).bind(b.end).bind(b.reason).bind(now).bind(id)
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// Mark a channel block as seen unchanged.
pub async fn touch_channel_block(conn: Conn<'_>, id: i64, now: DateTime<Utc>) -> Result<()> {
    on_conn!(conn, c => sqlx::query("UPDATE blocks SET last_seen = $1, missing_count = 0 WHERE id = $2 AND source = 'channel'")
        .bind(now).bind(id).execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// Set how many consecutive fetches a channel block was missing from.
pub async fn set_missing(conn: Conn<'_>, id: i64, missing_count: u32) -> Result<()> {
    on_conn!(conn, c => sqlx::query("UPDATE blocks SET missing_count = $1 WHERE id = $2 AND source = 'channel'")
        .bind(i64::from(missing_count)).bind(id).execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// Delete a channel block (its nights become free) and close its open conflicts.
pub async fn delete_channel_block(mut conn: Conn<'_>, id: i64, now: DateTime<Utc>) -> Result<()> {
    on_conn!(conn.reborrow(), c => sqlx::query("UPDATE ical_conflicts SET resolved_at = $2 WHERE block_id = $1 AND resolved_at IS NULL")
        .bind(id).bind(now).execute(&mut *c).await.map(|_| ()))?;
    on_conn!(conn, c => sqlx::query("DELETE FROM blocks WHERE id = $1 AND source = 'channel'").bind(id).execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// Pairs (block, reservation) of this feed's blocks that overlap an active reservation.
pub async fn overlapping_reservations(conn: Conn<'_>, feed_id: i64) -> Result<Vec<(i64, i64)>> {
    Ok(on_conn!(conn, c => sqlx::query_as(
        "SELECT b.id, r.id FROM blocks b JOIN reservations r ON r.accommodation_id = b.accommodation_id
            AND r.state IN ('pre_reserved', 'confirmed') AND r.check_in < b.end_date AND r.check_out > b.start_date
         WHERE b.feed_id = $1 AND b.source = 'channel' ORDER BY b.id, r.id")
        .bind(feed_id).fetch_all(&mut *c).await)?)
}

/// Open a conflict between an imported block and a reservation. Returns its id when it is new
/// (or was resolved and came back), `None` when it was already open.
pub async fn open_conflict(
    conn: Conn<'_>,
    accommodation_id: i64,
    feed_id: i64,
    block_id: i64,
    reservation_id: i64,
    now: DateTime<Utc>,
) -> Result<Option<i64>> {
    Ok(on_conn!(conn, c => sqlx::query_scalar(
        "INSERT INTO ical_conflicts (block_id, reservation_id, accommodation_id, feed_id, detected_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (block_id, reservation_id) DO UPDATE SET resolved_at = NULL, detected_at = excluded.detected_at
         WHERE ical_conflicts.resolved_at IS NOT NULL RETURNING id")
        .bind(block_id).bind(reservation_id).bind(accommodation_id).bind(feed_id).bind(now)
        .fetch_optional(&mut *c).await)?)
}

const STILL_REAL: &str =
    "EXISTS (SELECT 1 FROM blocks b JOIN reservations r ON r.id = ical_conflicts.reservation_id
    WHERE b.id = ical_conflicts.block_id AND r.state IN ('pre_reserved', 'confirmed')
      AND r.check_in < b.end_date AND r.check_out > b.start_date)";

/// Close a feed's conflicts that no longer hold (block gone or moved, reservation no longer
/// active). Returns how many were closed.
pub async fn resolve_stale_conflicts(
    conn: Conn<'_>,
    feed_id: i64,
    now: DateTime<Utc>,
) -> Result<u64> {
    Ok(on_conn!(conn, c => sqlx::query(&format!(
        "UPDATE ical_conflicts SET resolved_at = $2 WHERE feed_id = $1 AND resolved_at IS NULL AND NOT {STILL_REAL}"))
        .bind(feed_id).bind(now).execute(&mut *c).await.map(|r| r.rows_affected()))?)
}

/// An open conflict, with what the owner needs to sort it out (no guest data).
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConflictRow {
    /// Id.
    pub id: i64,
    /// Accommodation.
    pub accommodation_id: i64,
    /// Feed the block came from.
    pub feed_id: Option<i64>,
    /// The imported block.
    pub block_id: i64,
    /// Our reservation.
    pub reservation_id: i64,
    /// Its code.
    pub reservation_code: String,
    /// Its state.
    pub reservation_state: String,
    /// Its arrival.
    pub check_in: NaiveDate,
    /// Its departure.
    pub check_out: NaiveDate,
    /// The block's first night.
    pub block_start: NaiveDate,
    /// The block's exclusive end.
    pub block_end: NaiveDate,
    /// The block's label.
    pub block_reason: String,
    /// When it was found.
    pub detected_at: DateTime<Utc>,
}

/// Conflicts that are open and still real (the block still overlaps an active reservation).
pub async fn open_conflicts(db: &Db) -> Result<Vec<ConflictRow>> {
    Ok(on_db!(db, p => sqlx::query_as(&format!(
        "SELECT ical_conflicts.id, ical_conflicts.accommodation_id, ical_conflicts.feed_id, ical_conflicts.block_id,
            ical_conflicts.reservation_id, r.code AS reservation_code, r.state AS reservation_state, r.check_in, r.check_out,
            b.start_date AS block_start, b.end_date AS block_end, b.reason AS block_reason, ical_conflicts.detected_at
         FROM ical_conflicts JOIN reservations r ON r.id = ical_conflicts.reservation_id JOIN blocks b ON b.id = ical_conflicts.block_id
         WHERE ical_conflicts.resolved_at IS NULL AND {STILL_REAL} ORDER BY ical_conflicts.id"))
        .fetch_all(p).await)?)
}

/// Whether feed `id` was last applied by a sync that started after `at` (a newer sync won; an
/// older fetch must not overwrite what it applied).
pub async fn synced_after(conn: Conn<'_>, id: i64, at: DateTime<Utc>) -> Result<bool> {
    let newer: i64 = on_conn!(conn, c => sqlx::query_scalar(
        "SELECT COUNT(*) FROM feeds WHERE id = $1 AND last_success_at > $2")
        .bind(id).bind(at).fetch_one(&mut *c).await)?;
    Ok(newer > 0)
}

/// A secret export URL's token, as stored: only its hash is kept, so the URL itself can be shown
/// only when it is made (first use or rotation).
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct ExportToken {
    /// Accommodation exported.
    pub accommodation_id: i64,
    /// The channel that polls it (its own imports are left out).
    pub channel: String,
    /// Created or last rotated.
    pub created_at: DateTime<Utc>,
}

/// Create the token of (accommodation, channel) unless it exists, storing `token_hash`
/// ([`crate::hash_secret`] of the secret); `true` when it was created.
pub async fn ensure_export_token(
    conn: Conn<'_>,
    accommodation_id: i64,
    channel: &str,
    token_hash: &str,
    now: DateTime<Utc>,
) -> Result<bool> {
    let inserted = on_conn!(conn, c => sqlx::query(
        "INSERT INTO export_tokens (accommodation_id, channel, token_hash, created_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (accommodation_id, channel) DO NOTHING")
        .bind(accommodation_id).bind(channel).bind(token_hash).bind(now).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(inserted == 1)
}

/// Replace the token of (accommodation, channel) by the one hashing to `token_hash`: the old URL
/// stops working.
pub async fn rotate_export_token(
    conn: Conn<'_>,
    accommodation_id: i64,
    channel: &str,
    token_hash: &str,
    now: DateTime<Utc>,
) -> Result<ExportToken> {
    Ok(on_conn!(conn, c => sqlx::query_as(
        "INSERT INTO export_tokens (accommodation_id, channel, token_hash, created_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (accommodation_id, channel) DO UPDATE SET token_hash = excluded.token_hash, legacy_token = NULL, created_at = excluded.created_at
         RETURNING accommodation_id, channel, created_at")
        .bind(accommodation_id).bind(channel).bind(token_hash).bind(now).fetch_one(&mut *c).await)?)
}

/// An accommodation's export tokens.
pub async fn export_tokens(db: &Db, accommodation_id: i64) -> Result<Vec<ExportToken>> {
    Ok(on_db!(db, p => sqlx::query_as(
        "SELECT accommodation_id, channel, created_at FROM export_tokens WHERE accommodation_id = $1 ORDER BY channel")
        .bind(accommodation_id).fetch_all(p).await)?)
}

/// The export a token opens, found by the token's hash.
pub async fn find_export_token(db: &Db, token_hash: &str) -> Result<Option<ExportToken>> {
    Ok(on_db!(db, p => sqlx::query_as(
        "SELECT accommodation_id, channel, created_at FROM export_tokens WHERE token_hash = $1")
        .bind(token_hash).fetch_optional(p).await)?)
}

/// Hash the export tokens an older version stored in plain text (SQLite's migration 8 leaves them
/// in `legacy_token`; PostgreSQL's hashes them in SQL). Run after the migrations; returns how many
/// were hashed (0 once done).
pub async fn hash_legacy_export_tokens(db: &Db) -> Result<u64> {
    let legacy: Vec<(i64, String, String)> = on_db!(db, p => sqlx::query_as(
        "SELECT accommodation_id, channel, legacy_token FROM export_tokens WHERE legacy_token IS NOT NULL")
        .fetch_all(p).await)?;
    let mut hashed = 0;
    for (accommodation_id, channel, token) in legacy {
        hashed += on_db!(db, p => sqlx::query(
            "UPDATE export_tokens SET token_hash = $1, legacy_token = NULL WHERE accommodation_id = $2 AND channel = $3 AND legacy_token = $4")
            .bind(crate::hash_secret(&token)).bind(accommodation_id).bind(&channel).bind(&token).execute(p).await.map(|r| r.rows_affected()))?;
    }
    Ok(hashed)
}

/// Something that takes nights in an export.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct ExportItem {
    /// Reservation or block id.
    pub id: i64,
    /// First night.
    pub start_date: NaiveDate,
    /// Exclusive end.
    pub end_date: NaiveDate,
    /// Last revision (reservation `updated_at`, block `first_seen`): the event's DTSTAMP.
    pub stamp: DateTime<Utc>,
}

/// Active reservations (holds and confirmed) of an accommodation ending after `from`.
pub async fn export_reservations(
    db: &Db,
    accommodation_id: i64,
    from: NaiveDate,
) -> Result<Vec<ExportItem>> {
    Ok(on_db!(db, p => sqlx::query_as(
        "SELECT id, check_in AS start_date, check_out AS end_date, updated_at AS stamp FROM reservations
         WHERE accommodation_id = $1 AND state IN ('pre_reserved', 'confirmed') AND check_out > $2 ORDER BY check_in, id")
        .bind(accommodation_id).bind(from).fetch_all(p).await)?)
}

/// Blocks of an accommodation ending after `from`: owner blocks and channel blocks, except those
/// imported from feeds labelled `exclude_channel`.
pub async fn export_blocks(
    db: &Db,
    accommodation_id: i64,
    from: NaiveDate,
    exclude_channel: &str,
) -> Result<Vec<ExportItem>> {
    Ok(on_db!(db, p => sqlx::query_as(
        "SELECT b.id, b.start_date, b.end_date, b.first_seen AS stamp FROM blocks b LEFT JOIN feeds f ON f.id = b.feed_id
         WHERE b.accommodation_id = $1 AND b.end_date > $2 AND (b.feed_id IS NULL OR f.channel IS NULL OR f.channel <> $3)
         ORDER BY b.start_date, b.id")
        .bind(accommodation_id).bind(from).bind(exclude_channel).fetch_all(p).await)?)
}
