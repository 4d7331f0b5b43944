//! Blocks: nights the owner closed (maintenance, personal use) and nights a channel reports as
//! taken (imported over iCal). Both keep the dates from being booked.

use chrono::{DateTime, NaiveDate, Utc};
use posada_db::{Conn, Db};
use posada_domain::{Block, BlockSource, Stay};
use serde::Serialize;

use crate::{Result, StoreError, corrupt, on_conn, on_db};

/// A block as stored, with the channel bookkeeping.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = Block))]
pub struct BlockRow {
    /// Id.
    pub id: i64,
    /// Accommodation.
    pub accommodation_id: i64,
    /// First blocked night.
    pub start_date: NaiveDate,
    /// Exclusive end.
    pub end_date: NaiveDate,
    /// `owner` or `channel`.
    pub source: String,
    /// Feed it came from (channel blocks).
    pub feed_id: Option<i64>,
    /// The channel's UID (channel blocks).
    pub uid: Option<String>,
    /// Why (owner) or a generic label (channel; never personal data).
    pub reason: String,
    /// First seen in a feed (or created).
    pub first_seen: DateTime<Utc>,
    /// Last seen in a feed (or created).
    pub last_seen: DateTime<Utc>,
    /// Consecutive successful fetches it was missing from.
    pub missing_count: i64,
}

impl BlockRow {
    /// The domain value (channel label unknown here: use the feed's).
    pub fn to_block(&self, channel_label: &str) -> Result<Block> {
        Ok(Block {
            id: self.id,
            accommodation_id: self.accommodation_id,
            stay: Stay::new(self.start_date, self.end_date).map_err(corrupt)?,
            reason: self.reason.clone(),
            source: match self.feed_id {
                Some(feed_id) => BlockSource::Channel {
                    feed_id,
                    label: channel_label.to_string(),
                },
                None => BlockSource::Owner,
            },
        })
    }
}

const COLUMNS: &str = "id, accommodation_id, start_date, end_date, source, feed_id, uid, reason, first_seen, last_seen, missing_count";

/// Create an owner block. The caller checked the nights are free in the same transaction.
pub async fn insert_owner(
    conn: Conn<'_>,
    accommodation_id: i64,
    stay: &Stay,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<BlockRow> {
    Ok(on_conn!(conn, c => sqlx::query_as(&format!(
        "INSERT INTO blocks (accommodation_id, start_date, end_date, source, reason, first_seen, last_seen, created_at)
         VALUES ($1, $2, $3, 'owner', $4, $5, $5, $5) RETURNING {COLUMNS}"))
        .bind(accommodation_id).bind(stay.check_in()).bind(stay.check_out()).bind(reason).bind(now)
        .fetch_one(&mut *c).await)?)
}

/// Change an owner block's dates and reason.
pub async fn update_owner(conn: Conn<'_>, id: i64, stay: &Stay, reason: &str) -> Result<BlockRow> {
    let row: Option<BlockRow> = on_conn!(conn, c => sqlx::query_as(&format!(
        "UPDATE blocks SET start_date = $1, end_date = $2, reason = $3 WHERE id = $4 AND source = 'owner' RETURNING {COLUMNS}"))
        .bind(stay.check_in()).bind(stay.check_out()).bind(reason).bind(id)
        .fetch_optional(&mut *c).await)?;
    row.ok_or(StoreError::NotFound("block"))
}

/// Delete an owner block.
pub async fn delete_owner(conn: Conn<'_>, id: i64) -> Result<()> {
    let done = on_conn!(conn, c => sqlx::query("DELETE FROM blocks WHERE id = $1 AND source = 'owner'").bind(id).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    if done == 0 {
        return Err(StoreError::NotFound("block"));
    }
    Ok(())
}

/// One block.
pub async fn get(db: &Db, id: i64) -> Result<Option<BlockRow>> {
    Ok(
        on_db!(db, p => sqlx::query_as(&format!("SELECT {COLUMNS} FROM blocks WHERE id = $1")).bind(id).fetch_optional(p).await)?,
    )
}

/// Blocks of an accommodation (optionally only one source), by start date.
pub async fn list(
    db: &Db,
    accommodation_id: Option<i64>,
    source: Option<&str>,
) -> Result<Vec<BlockRow>> {
    Ok(on_db!(db, p => sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM blocks WHERE ($1 IS NULL OR accommodation_id = $1) AND ($2 IS NULL OR source = $2) ORDER BY start_date, id"))
        .bind(accommodation_id).bind(source).fetch_all(p).await)?)
}

/// Blocks overlapping a stay, inside a transaction (checks before a hold or an owner block).
pub async fn overlapping(
    conn: Conn<'_>,
    accommodation_id: i64,
    stay: &Stay,
    except_id: Option<i64>,
) -> Result<Vec<BlockRow>> {
    Ok(on_conn!(conn, c => sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM blocks WHERE accommodation_id = $1 AND start_date < $3 AND end_date > $2 AND ($4 IS NULL OR id <> $4) ORDER BY start_date"))
        .bind(accommodation_id).bind(stay.check_in()).bind(stay.check_out()).bind(except_id)
        .fetch_all(&mut *c).await)?)
}

/// Blocks of every accommodation with a night in `[from, until)`, by accommodation and first
/// night (the owner's month calendar).
pub async fn in_range(db: &Db, from: NaiveDate, until: NaiveDate) -> Result<Vec<BlockRow>> {
    Ok(on_db!(db, p => sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM blocks WHERE start_date < $2 AND end_date > $1 ORDER BY accommodation_id, start_date, id"))
        .bind(from).bind(until).fetch_all(p).await)?)
}
