//! Accommodations with their photos and pricing rules.

use chrono::{DateTime, NaiveTime, Utc};
use posada_db::{Conn, Db};
use posada_domain::{Accommodation, AccommodationKind, NewAccommodation, Photo, PricingRules};

use crate::{Result, StoreError, corrupt, on_conn, on_db};

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    slug: String,
    name: String,
    kind: String,
    description: String,
    capacity: i64,
    amenities: String,
    check_in_time: String,
    check_out_time: String,
    directions: String,
    active: bool,
    pricing: String,
}

#[derive(sqlx::FromRow)]
struct PhotoRow {
    accommodation_id: i64,
    url: String,
    caption: String,
    position: i64,
    is_primary: bool,
}

/// An accommodation as stored: the domain value plus what only the owner edits.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredAccommodation {
    /// The domain value.
    pub accommodation: Accommodation,
    /// How to get there (sent in the check-in reminder).
    pub directions: String,
}

fn time(s: &str) -> Result<NaiveTime> {
    NaiveTime::parse_from_str(s, "%H:%M").map_err(|e| corrupt(format!("time {s:?}: {e}")))
}

fn to_domain(row: Row, photos: Vec<Photo>) -> Result<StoredAccommodation> {
    let pricing: PricingRules = serde_json::from_str(&row.pricing).map_err(corrupt)?;
    let amenities: Vec<String> = serde_json::from_str(&row.amenities).map_err(corrupt)?;
    Ok(StoredAccommodation {
        accommodation: Accommodation {
            id: row.id,
            name: row.name,
            slug: row.slug,
            kind: AccommodationKind::parse(&row.kind).map_err(corrupt)?,
            description: row.description,
            capacity: u32::try_from(row.capacity).map_err(corrupt)?,
            amenities,
            photos,
            check_in_time: time(&row.check_in_time)?,
            check_out_time: time(&row.check_out_time)?,
            active: row.active,
            pricing,
        },
        directions: row.directions,
    })
}

fn photo(p: PhotoRow) -> Photo {
    Photo {
        url: p.url,
        caption: p.caption,
        position: u32::try_from(p.position).unwrap_or(0),
        primary: p.is_primary,
    }
}

const SELECT: &str = "SELECT id, slug, name, kind, description, capacity, amenities, check_in_time, check_out_time, directions, active, pricing FROM accommodations";

/// Insert a validated accommodation. A taken slug is [`StoreError::Duplicate`].
pub async fn insert(
    mut conn: Conn<'_>,
    new: &NewAccommodation,
    directions: &str,
    now: DateTime<Utc>,
) -> Result<StoredAccommodation> {
    let pricing = serde_json::to_string(&new.pricing).map_err(corrupt)?;
    let amenities = serde_json::to_string(&new.amenities).map_err(corrupt)?;
    let id: i64 = on_conn!(conn.reborrow(), c => sqlx::query_scalar(
        "INSERT INTO accommodations (slug, name, kind, description, capacity, amenities, check_in_time, check_out_time, directions, active, pricing, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12) RETURNING id")
        .bind(&new.slug).bind(&new.name).bind(new.kind.as_str()).bind(&new.description)
        .bind(i64::from(new.capacity)).bind(&amenities)
        .bind(new.check_in_time.format("%H:%M").to_string())
        .bind(new.check_out_time.format("%H:%M").to_string())
        .bind(directions).bind(new.active).bind(&pricing).bind(now)
        .fetch_one(&mut *c).await)
    .map_err(|e| match StoreError::from(e) {
        StoreError::Duplicate(_) => StoreError::Duplicate("slug"),
        other => other,
    })?;
    replace_photos(conn.reborrow(), id, &new.photos).await?;
    Ok(StoredAccommodation {
        accommodation: new.clone().into_accommodation(id),
        directions: directions.to_string(),
    })
}

/// Replace every field of an accommodation (and its photos).
pub async fn update(
    mut conn: Conn<'_>,
    id: i64,
    new: &NewAccommodation,
    directions: &str,
    now: DateTime<Utc>,
) -> Result<StoredAccommodation> {
    let pricing = serde_json::to_string(&new.pricing).map_err(corrupt)?;
    let amenities = serde_json::to_string(&new.amenities).map_err(corrupt)?;
    let done = on_conn!(conn.reborrow(), c => sqlx::query(
        "UPDATE accommodations SET slug = $1, name = $2, kind = $3, description = $4, capacity = $5, amenities = $6,
         check_in_time = $7, check_out_time = $8, directions = $9, active = $10, pricing = $11, updated_at = $12 WHERE id = $13")
        .bind(&new.slug).bind(&new.name).bind(new.kind.as_str()).bind(&new.description)
        .bind(i64::from(new.capacity)).bind(&amenities)
        .bind(new.check_in_time.format("%H:%M").to_string())
        .bind(new.check_out_time.format("%H:%M").to_string())
        .bind(directions).bind(new.active).bind(&pricing).bind(now).bind(id)
        .execute(&mut *c).await.map(|r| r.rows_affected()))
    .map_err(|e| match StoreError::from(e) {
        StoreError::Duplicate(_) => StoreError::Duplicate("slug"),
        other => other,
    })?;
    if done == 0 {
        return Err(StoreError::NotFound("accommodation"));
    }
    replace_photos(conn.reborrow(), id, &new.photos).await?;
    Ok(StoredAccommodation {
        accommodation: new.clone().into_accommodation(id),
        directions: directions.to_string(),
    })
}

async fn replace_photos(mut conn: Conn<'_>, id: i64, photos: &[Photo]) -> Result<()> {
    on_conn!(conn.reborrow(), c => sqlx::query("DELETE FROM accommodation_photos WHERE accommodation_id = $1").bind(id).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    for p in photos {
        on_conn!(conn.reborrow(), c => sqlx::query(
            "INSERT INTO accommodation_photos (accommodation_id, url, caption, position, is_primary) VALUES ($1, $2, $3, $4, $5)")
            .bind(id).bind(&p.url).bind(&p.caption).bind(i64::from(p.position)).bind(p.primary)
            .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    }
    Ok(())
}

async fn photos_for(db: &Db, ids: &[i64]) -> Result<Vec<PhotoRow>> {
    const COLUMNS: &str =
        "SELECT accommodation_id, url, caption, position, is_primary FROM accommodation_photos";
    Ok(match ids {
        [] => Vec::new(),
        // One accommodation (the hot path: a calendar, a quote, a hold).
        [id] => {
            on_db!(db, p => sqlx::query_as(&format!("{COLUMNS} WHERE accommodation_id = $1 ORDER BY position"))
            .bind(*id).fetch_all(p).await)?
        }
        _ => {
            let rows: Vec<PhotoRow> = on_db!(db, p => sqlx::query_as(&format!("{COLUMNS} ORDER BY accommodation_id, position")).fetch_all(p).await)?;
            rows.into_iter()
                .filter(|r| ids.contains(&r.accommodation_id))
                .collect()
        }
    })
}

async fn assemble(db: &Db, rows: Vec<Row>) -> Result<Vec<StoredAccommodation>> {
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let mut photos = photos_for(db, &ids).await?;
    rows.into_iter()
        .map(|row| {
            let mine: Vec<Photo> = photos
                .extract_if(.., |p| p.accommodation_id == row.id)
                .map(photo)
                .collect();
            to_domain(row, mine)
        })
        .collect()
}

/// Every accommodation (only active ones when `active_only`), ordered by name.
pub async fn list(db: &Db, active_only: bool) -> Result<Vec<StoredAccommodation>> {
    let rows: Vec<Row> = if active_only {
        on_db!(db, p => sqlx::query_as(&format!("{SELECT} WHERE active = $1 ORDER BY name, id")).bind(true).fetch_all(p).await)?
    } else {
        on_db!(db, p => sqlx::query_as(&format!("{SELECT} ORDER BY name, id")).fetch_all(p).await)?
    };
    assemble(db, rows).await
}

/// One accommodation by id.
pub async fn get(db: &Db, id: i64) -> Result<Option<StoredAccommodation>> {
    let row: Option<Row> = on_db!(db, p => sqlx::query_as(&format!("{SELECT} WHERE id = $1")).bind(id).fetch_optional(p).await)?;
    match row {
        Some(r) => Ok(assemble(db, vec![r]).await?.pop()),
        None => Ok(None),
    }
}

/// One accommodation by slug.
pub async fn get_by_slug(db: &Db, slug: &str) -> Result<Option<StoredAccommodation>> {
    let row: Option<Row> = on_db!(db, p => sqlx::query_as(&format!("{SELECT} WHERE slug = $1")).bind(slug).fetch_optional(p).await)?;
    match row {
        Some(r) => Ok(assemble(db, vec![r]).await?.pop()),
        None => Ok(None),
    }
}

/// Delete an accommodation that never had a reservation or block, with its export tokens and
/// feeds; otherwise it is deactivated (its history must stay). Returns `true` when deleted, `false` when deactivated.
pub async fn delete_or_deactivate(mut conn: Conn<'_>, id: i64) -> Result<bool> {
    let used: i64 = on_conn!(conn.reborrow(), c => sqlx::query_scalar(
        "SELECT (SELECT COUNT(*) FROM reservations WHERE accommodation_id = $1) + (SELECT COUNT(*) FROM blocks WHERE accommodation_id = $1)")
        .bind(id).fetch_one(&mut *c).await)?;
    let sql = if used == 0 {
        // What belongs to the accommodation alone goes with it: its export URLs and the channel
        // feeds it imports (their blocks would have counted as use above).
        for owned in [
            "DELETE FROM export_tokens WHERE accommodation_id = $1",
            "DELETE FROM feeds WHERE accommodation_id = $1",
        ] {
            on_conn!(conn.reborrow(), c => sqlx::query(owned).bind(id).execute(&mut *c).await.map(|_| ()))?;
        }
        "DELETE FROM accommodations WHERE id = $1"
    } else {
        "UPDATE accommodations SET active = FALSE WHERE id = $1"
    };
    let done = on_conn!(conn.reborrow(), c => sqlx::query(sql).bind(id).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    if done == 0 {
        return Err(StoreError::NotFound("accommodation"));
    }
    Ok(used == 0)
}

/// Take one accommodation's calendar exclusively for the rest of the transaction: for writers of
/// blocks, whose overlap with holds no constraint catches (PostgreSQL advisory lock; SQLite's
/// `BEGIN IMMEDIATE` already serialises every writer).
pub async fn lock_calendar(conn: Conn<'_>, id: i64) -> Result<()> {
    if let Conn::Postgres(c) = conn {
        sqlx::query("SELECT pg_advisory_xact_lock(1, $1::int)")
            .bind(i32::try_from(id).unwrap_or(i32::MAX))
            .execute(&mut *c)
            .await?;
    }
    Ok(())
}

/// Begin a write transaction holding accommodation `id`'s calendar lock shared (see
/// [`lock_calendar_shared`]), in one round trip on PostgreSQL.
/// Begin a hold's write transaction: the accommodation's calendar lock shared (blocks and syncs,
/// which take it exclusively, wait) and each night of `stay` locked exclusively in date order,
/// in the `BEGIN` round trip. Every node takes these locks the same way, so two holds over a
/// common night queue (the second then sees the first's row and is refused) instead of waiting
/// on each other's uncommitted rows in the exclusion constraint, which deadlocks; holds over
/// different nights run in parallel.
pub async fn begin_hold(db: &Db, id: i64, stay: &posada_domain::Stay) -> Result<posada_db::Tx> {
    use chrono::Datelike;
    let day = |d: chrono::NaiveDate| d.num_days_from_ce();
    let key = i32::try_from(id).unwrap_or(i32::MAX);
    // Night locks live in a class of their own per accommodation (classes 1–3 are taken).
    let nights_class = key.saturating_add(NIGHT_LOCK_CLASS_BASE);
    Ok(db
        .begin_locked_range(
            (1, key),
            nights_class,
            day(stay.check_in())..day(stay.check_out()),
        )
        .await?)
}

/// Night locks of accommodation `id` use advisory-lock class `NIGHT_LOCK_CLASS_BASE + id`.
const NIGHT_LOCK_CLASS_BASE: i32 = 1_000_000;

/// Begin a write transaction holding one accommodation's calendar lock exclusively, taken with
/// `BEGIN` in one round trip (PostgreSQL; SQLite's `BEGIN IMMEDIATE` already serializes writes).
/// Every writer of a calendar takes this same lock first, on every node, so two overlapping
/// inserts never wait on each other's uncommitted rows (which deadlocks on the exclusion
/// constraint).
pub async fn begin_with_calendar(db: &Db, id: i64) -> Result<posada_db::Tx> {
    Ok(db
        .begin_locked(1, i32::try_from(id).unwrap_or(i32::MAX), false)
        .await?)
}

pub async fn begin_with_calendar_shared(db: &Db, id: i64) -> Result<posada_db::Tx> {
    Ok(db
        .begin_locked(1, i32::try_from(id).unwrap_or(i32::MAX), true)
        .await?)
}

/// Take one accommodation's calendar shared for the rest of the transaction: holds take it so
/// that they never interleave with a block writer, while holds among themselves run in parallel
/// (their overlaps are refused by the exclusion constraint, which waits for the other
/// transaction and then raises 23P01).
pub async fn lock_calendar_shared(conn: Conn<'_>, id: i64) -> Result<()> {
    if let Conn::Postgres(c) = conn {
        sqlx::query("SELECT pg_advisory_xact_lock_shared(1, $1::int)")
            .bind(i32::try_from(id).unwrap_or(i32::MAX))
            .execute(&mut *c)
            .await?;
    }
    Ok(())
}
