//! Reservations, their state history, and the taken nights of a calendar.
//!
//! Every state change is a compare-and-set on the current state (`UPDATE … WHERE state = $old`),
//! so two racing changes (a confirmation and an expiry) have exactly one winner, and each change
//! writes one history row in the same transaction.

use std::sync::LazyLock;

use chrono::{DateTime, NaiveDate, Utc};
use posada_db::{Conn, Db};
use posada_domain::{Actor, Currency, Money, Quote, ReservationState, Stay};
use serde::Serialize;

use crate::{Result, StoreError, corrupt, on_conn, on_db};

/// A reservation as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reservation {
    /// Database id.
    pub id: i64,
    /// Public code (`XXXXX-XXXXX`).
    pub code: String,
    /// The accommodation.
    pub accommodation_id: i64,
    /// The nights.
    pub stay: Stay,
    /// Number of guests.
    pub guests: u32,
    /// Current state.
    pub state: ReservationState,
    /// Guest's name.
    pub guest_name: String,
    /// Guest's e-mail.
    pub guest_email: Option<String>,
    /// Guest's phone (E.164 digits).
    pub guest_phone: Option<String>,
    /// Where it came from (`api`, `whatsapp`, `admin`).
    pub channel: String,
    /// Total price.
    pub total: Money,
    /// Deposit due to confirm.
    pub deposit: Money,
    /// The quote it was priced with (night by night).
    pub quote: Quote,
    /// When the hold runs out (holds only).
    pub expires_at: Option<DateTime<Utc>>,
    /// Free-form notes (never overwritten by state changes).
    pub notes: String,
    /// Why it is in its current state (cancellation or expiry reason).
    pub state_reason: Option<String>,
    /// Flags raised on it (`needs_refund`, `refunded`, `chargeback`, …).
    pub flags: Vec<String>,
    /// Payment link, once created.
    pub payment_link: Option<String>,
    /// Trace id of the request that created it.
    pub trace_id: Option<String>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    code: String,
    accommodation_id: i64,
    check_in: NaiveDate,
    check_out: NaiveDate,
    guests: i64,
    state: String,
    guest_name: String,
    guest_email: Option<String>,
    guest_phone: Option<String>,
    channel: String,
    currency: String,
    total_minor: i64,
    deposit_minor: i64,
    quote: String,
    expires_at: Option<DateTime<Utc>>,
    notes: String,
    state_reason: Option<String>,
    flags: String,
    payment_link: Option<String>,
    trace_id: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, code, accommodation_id, check_in, check_out, guests, state, guest_name, guest_email, guest_phone, channel, currency, total_minor, deposit_minor, quote, expires_at, notes, state_reason, flags, payment_link, trace_id, created_at, updated_at";

impl TryFrom<Row> for Reservation {
    type Error = StoreError;
    fn try_from(r: Row) -> Result<Reservation> {
        let currency = Currency::parse(&r.currency).map_err(corrupt)?;
        Ok(Reservation {
            id: r.id,
            code: r.code,
            accommodation_id: r.accommodation_id,
            stay: Stay::new(r.check_in, r.check_out).map_err(corrupt)?,
            guests: u32::try_from(r.guests).map_err(corrupt)?,
            state: ReservationState::parse(&r.state).map_err(corrupt)?,
            guest_name: r.guest_name,
            guest_email: r.guest_email,
            guest_phone: r.guest_phone,
            channel: r.channel,
            total: Money::new(r.total_minor, currency),
            deposit: Money::new(r.deposit_minor, currency),
            quote: serde_json::from_str(&r.quote).map_err(corrupt)?,
            expires_at: r.expires_at,
            notes: r.notes,
            state_reason: r.state_reason,
            flags: serde_json::from_str(&r.flags).map_err(corrupt)?,
            payment_link: r.payment_link,
            trace_id: r.trace_id,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

/// What a new hold needs.
#[derive(Debug, Clone)]
pub struct NewHold<'a> {
    /// Public code.
    pub code: &'a str,
    /// SHA-256 of the guest's access token.
    pub access_token_hash: &'a str,
    /// The accommodation.
    pub accommodation_id: i64,
    /// The nights.
    pub stay: Stay,
    /// Guests.
    pub guests: u32,
    /// Guest's name.
    pub guest_name: &'a str,
    /// Guest's e-mail.
    pub guest_email: Option<&'a str>,
    /// Guest's phone.
    pub guest_phone: Option<&'a str>,
    /// Source channel.
    pub channel: &'a str,
    /// The price.
    pub quote: &'a Quote,
    /// When it expires.
    pub expires_at: DateTime<Utc>,
    /// Notes.
    pub notes: &'a str,
    /// Request trace id.
    pub trace_id: Option<&'a str>,
    /// Who creates it.
    pub actor: Actor,
}

const TAKEN: &str = "SELECT check_in, check_out FROM reservations
      WHERE accommodation_id = $1 AND state IN ('pre_reserved', 'confirmed') AND check_in < $3 AND check_out > $2
     UNION ALL
     SELECT start_date, end_date FROM blocks
      WHERE accommodation_id = $1 AND start_date < $3 AND end_date > $2";

fn stays(rows: Vec<(NaiveDate, NaiveDate)>) -> Result<Vec<Stay>> {
    rows.into_iter()
        .map(|(a, b)| Stay::new(a, b).map_err(corrupt))
        .collect()
}

/// Nights taken on an accommodation between `from` and `until` (exclusive): active reservations
/// and blocks of every source. Inside a write transaction, this is the check before a hold.
pub async fn taken_stays(
    conn: Conn<'_>,
    accommodation_id: i64,
    from: NaiveDate,
    until: NaiveDate,
) -> Result<Vec<Stay>> {
    let rows = on_conn!(conn, c => sqlx::query_as(TAKEN).bind(accommodation_id).bind(from).bind(until).fetch_all(&mut *c).await)?;
    stays(rows)
}

/// Same as [`taken_stays`], read from the pool (calendars, quotes).
pub async fn taken_stays_db(
    db: &Db,
    accommodation_id: i64,
    from: NaiveDate,
    until: NaiveDate,
) -> Result<Vec<Stay>> {
    let rows = on_db!(db, p => sqlx::query_as(TAKEN).bind(accommodation_id).bind(from).bind(until).fetch_all(p).await)?;
    stays(rows)
}

/// Insert a hold (`pre_reserved`) and its first history row, with only the storage guard
/// between it and an overlap ([`StoreError::Overlap`]): blocks are not checked. Flows use
/// [`insert_hold_if_free`]; this is the guard's own test surface.
pub async fn insert_hold(
    conn: Conn<'_>,
    h: &NewHold<'_>,
    now: DateTime<Utc>,
) -> Result<Reservation> {
    insert(conn, h, false, now).await
}

/// Insert a hold (`pre_reserved`) and its first history row if no active reservation or block
/// takes any of its nights; [`StoreError::Overlap`] when one does. Inside the hold's write
/// transaction (the calendar lock held): on PostgreSQL the check is part of the insert statement
/// (one round trip); on SQLite it is a read just before it. Either way the storage guard stays
/// behind it for reservations written concurrently.
pub async fn insert_hold_if_free(
    mut conn: Conn<'_>,
    h: &NewHold<'_>,
    now: DateTime<Utc>,
) -> Result<Reservation> {
    if matches!(conn, Conn::Sqlite(_)) {
        let taken = taken_stays(
            conn.reborrow(),
            h.accommodation_id,
            h.stay.check_in(),
            h.stay.check_out(),
        )
        .await?;
        if !taken.is_empty() {
            return Err(StoreError::Overlap);
        }
    }
    insert(conn, h, true, now).await
}

async fn insert(
    mut conn: Conn<'_>,
    h: &NewHold<'_>,
    if_free: bool,
    now: DateTime<Utc>,
) -> Result<Reservation> {
    const COLUMNS_IN: &str = "INSERT INTO reservations (code, accommodation_id, check_in, check_out, guests, state, guest_name, guest_email, guest_phone,
            channel, currency, total_minor, deposit_minor, quote, access_token_hash, expires_at, notes, trace_id, created_at, updated_at)";
    const VALUES: &str = "$1, $2, $3, $4, $5, 'pre_reserved', $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $18";
    // `TAKEN`'s overlap rule ($3 = check-in, $4 = check-out here).
    const FREE: &str = "NOT EXISTS (SELECT 1 FROM reservations WHERE accommodation_id = $2
              AND state IN ('pre_reserved', 'confirmed') AND check_in < $4 AND check_out > $3)
         AND NOT EXISTS (SELECT 1 FROM blocks WHERE accommodation_id = $2 AND start_date < $4 AND end_date > $3)";
    let quote = serde_json::to_string(h.quote).map_err(corrupt)?;
    macro_rules! binds {
        ($q:expr) => {
            $q.bind(h.code)
                .bind(h.accommodation_id)
                .bind(h.stay.check_in())
                .bind(h.stay.check_out())
                .bind(i64::from(h.guests))
                .bind(h.guest_name)
                .bind(h.guest_email)
                .bind(h.guest_phone)
                .bind(h.channel)
                .bind(h.quote.currency.code())
                .bind(h.quote.total.minor)
                .bind(h.quote.deposit.minor)
                .bind(&quote)
                .bind(h.access_token_hash)
                .bind(h.expires_at)
                .bind(h.notes)
                .bind(h.trace_id)
                .bind(now)
        };
    }
    let duplicate_is_code = |e: sqlx::Error| match StoreError::from(e) {
        StoreError::Duplicate(_) => StoreError::Duplicate("code"),
        other => other,
    };
    let row: Row = match conn.reborrow() {
        // One statement: the check (when asked), the reservation and its first history row.
        Conn::Postgres(c) => {
            static SQL: LazyLock<[String; 2]> = LazyLock::new(|| {
                [
                    format!("{COLUMNS_IN} VALUES ({VALUES})"),
                    format!("{COLUMNS_IN} SELECT {VALUES} WHERE {FREE}"),
                ]
                .map(|insert| {
                    format!(
                        "WITH r AS ({insert} RETURNING {COLUMNS}),
                              h AS (INSERT INTO reservation_history (reservation_id, from_state, to_state, at, actor, reason)
                                    SELECT id, NULL, 'pre_reserved', $18, $19, NULL FROM r)
                         SELECT {COLUMNS} FROM r"
                    )
                })
            });
            let sql = &SQL[usize::from(if_free)];
            let row: Option<Row> = binds!(sqlx::query_as(sql))
                .bind(h.actor.as_str())
                .fetch_optional(&mut *c)
                .await
                .map_err(duplicate_is_code)?;
            row.ok_or(StoreError::Overlap)?
        }
        Conn::Sqlite(c) => {
            let row: Row = binds!(sqlx::query_as(&format!(
                "{COLUMNS_IN} VALUES ({VALUES}) RETURNING {COLUMNS}"
            )))
            .fetch_one(&mut *c)
            .await
            .map_err(duplicate_is_code)?;
            record_history(
                conn.reborrow(),
                row.id,
                None,
                ReservationState::PreReserved,
                h.actor,
                None,
                now,
            )
            .await?;
            row
        }
    };
    Reservation::try_from(row)
}

async fn record_history(
    conn: Conn<'_>,
    id: i64,
    from: Option<ReservationState>,
    to: ReservationState,
    actor: Actor,
    reason: Option<&str>,
    at: DateTime<Utc>,
) -> Result<()> {
    on_conn!(conn, c => sqlx::query(
        "INSERT INTO reservation_history (reservation_id, from_state, to_state, at, actor, reason) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(id).bind(from.map(|s| s.as_str())).bind(to.as_str()).bind(at).bind(actor.as_str()).bind(reason)
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Move a reservation from `from` to `to` if it is still in `from`. Returns the updated
/// reservation, or `None` when it was no longer in `from` (someone else won the race). The
/// caller has checked the move is legal ([`posada_domain::transition`]).
pub async fn change_state(
    mut conn: Conn<'_>,
    id: i64,
    from: ReservationState,
    to: ReservationState,
    actor: Actor,
    reason: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Option<Reservation>> {
    // Leaving the hold state clears the expiry; the reason is kept apart from the notes.
    let row: Option<Row> = on_conn!(conn.reborrow(), c => sqlx::query_as(&format!(
        "UPDATE reservations SET state = $1, state_reason = COALESCE($2, state_reason), updated_at = $3,
                expires_at = CASE WHEN $1 = 'pre_reserved' THEN expires_at ELSE NULL END
          WHERE id = $4 AND state = $5 RETURNING {COLUMNS}"))
        .bind(to.as_str()).bind(reason).bind(now).bind(id).bind(from.as_str())
        .fetch_optional(&mut *c).await)?;
    let Some(row) = row else { return Ok(None) };
    record_history(conn.reborrow(), id, Some(from), to, actor, reason, now).await?;
    Ok(Some(Reservation::try_from(row)?))
}

/// Reservation by id, inside a transaction.
pub async fn get_in(conn: Conn<'_>, id: i64) -> Result<Option<Reservation>> {
    let row: Option<Row> = on_conn!(conn, c => sqlx::query_as(&format!("SELECT {COLUMNS} FROM reservations WHERE id = $1")).bind(id).fetch_optional(&mut *c).await)?;
    row.map(Reservation::try_from).transpose()
}

/// Reservation by id.
pub async fn get(db: &Db, id: i64) -> Result<Option<Reservation>> {
    let row: Option<Row> = on_db!(db, p => sqlx::query_as(&format!("SELECT {COLUMNS} FROM reservations WHERE id = $1")).bind(id).fetch_optional(p).await)?;
    row.map(Reservation::try_from).transpose()
}

/// Reservation by public code.
pub async fn get_by_code(db: &Db, code: &str) -> Result<Option<Reservation>> {
    let row: Option<Row> = on_db!(db, p => sqlx::query_as(&format!("SELECT {COLUMNS} FROM reservations WHERE code = $1")).bind(code).fetch_optional(p).await)?;
    row.map(Reservation::try_from).transpose()
}

/// Reservation by code, only when `token_hash` matches the guest's access token (constant-time
/// comparison of the hashes).
pub async fn get_for_guest(db: &Db, code: &str, token_hash: &str) -> Result<Option<Reservation>> {
    let row: Option<(i64, String)> = on_db!(db, p => sqlx::query_as("SELECT id, access_token_hash FROM reservations WHERE code = $1").bind(code).fetch_optional(p).await)?;
    match row {
        Some((id, stored)) if constant_time_eq(stored.as_bytes(), token_hash.as_bytes()) => {
            get(db, id).await
        }
        _ => Ok(None),
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// One history row.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HistoryEntry {
    /// Previous state (none for creation).
    pub from_state: Option<String>,
    /// New state.
    pub to_state: String,
    /// When.
    pub at: DateTime<Utc>,
    /// Who (`guest`, `admin`, `system`, `payment`).
    pub actor: String,
    /// Why.
    pub reason: Option<String>,
}

/// The history of a reservation, oldest first.
pub async fn history(db: &Db, id: i64) -> Result<Vec<HistoryEntry>> {
    Ok(
        on_db!(db, p => sqlx::query_as("SELECT from_state, to_state, at, actor, reason FROM reservation_history WHERE reservation_id = $1 ORDER BY id")
        .bind(id).fetch_all(p).await)?,
    )
}

/// Filters for the admin list.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    /// Only this state.
    pub state: Option<ReservationState>,
    /// Only this accommodation.
    pub accommodation_id: Option<i64>,
    /// Stays ending after this date.
    pub from: Option<NaiveDate>,
    /// Stays starting before this date.
    pub until: Option<NaiveDate>,
    /// Text in code, guest name, e-mail or phone.
    pub q: Option<String>,
    /// Only reservations that came through this channel (`api`, `web`, `whatsapp`, `admin`).
    pub channel: Option<String>,
    /// Page size.
    pub limit: i64,
    /// Offset.
    pub offset: i64,
}

/// Reservations matching the filter, newest stay first, and the total count.
pub async fn list(db: &Db, f: &ListFilter) -> Result<(Vec<Reservation>, i64)> {
    let q = f.q.as_ref().map(|q| format!("%{}%", q.to_lowercase()));
    let filter = "($1 IS NULL OR state = $1) AND ($2 IS NULL OR accommodation_id = $2)
        AND ($3 IS NULL OR check_out > $3) AND ($4 IS NULL OR check_in < $4)
        AND ($5 IS NULL OR LOWER(code) LIKE $5 OR LOWER(guest_name) LIKE $5 OR LOWER(COALESCE(guest_email, '')) LIKE $5 OR COALESCE(guest_phone, '') LIKE $5)
        AND ($6 IS NULL OR channel = $6)";
    let sql = format!(
        "SELECT {COLUMNS} FROM reservations WHERE {filter} ORDER BY check_in DESC, id DESC LIMIT $7 OFFSET $8"
    );
    let count_sql = format!("SELECT COUNT(*) FROM reservations WHERE {filter}");
    let state = f.state.map(|s| s.as_str());
    let (rows, total): (Vec<Row>, i64) = on_db!(db, p => {
        let rows = sqlx::query_as(&sql).bind(state).bind(f.accommodation_id).bind(f.from).bind(f.until).bind(&q).bind(&f.channel).bind(f.limit).bind(f.offset).fetch_all(p).await?;
        let total = sqlx::query_scalar(&count_sql).bind(state).bind(f.accommodation_id).bind(f.from).bind(f.until).bind(&q).bind(&f.channel).fetch_one(p).await?;
        (rows, total)
    });
    Ok((
        rows.into_iter()
            .map(Reservation::try_from)
            .collect::<Result<_>>()?,
        total,
    ))
}

/// The channels reservations came through, alphabetically (the list's channel filter).
pub async fn channels(db: &Db) -> Result<Vec<String>> {
    Ok(
        on_db!(db, p => sqlx::query_scalar("SELECT DISTINCT channel FROM reservations ORDER BY channel")
        .fetch_all(p).await)?,
    )
}

/// The reservations of guest phone `phone` (digits) whose stay ends after `from`, soonest first
/// (at most 10).
pub async fn of_guest_phone(db: &Db, phone: &str, from: NaiveDate) -> Result<Vec<Reservation>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM reservations WHERE guest_phone = $1 AND check_out > $2 ORDER BY check_in, id LIMIT 10"
    );
    let rows: Vec<Row> =
        on_db!(db, p => sqlx::query_as(&sql).bind(phone).bind(from).fetch_all(p).await)?;
    rows.into_iter().map(Reservation::try_from).collect()
}

/// Holds whose expiry has passed (for the safety-net sweep).
pub async fn overdue_holds(db: &Db, now: DateTime<Utc>, limit: i64) -> Result<Vec<i64>> {
    Ok(
        on_db!(db, p => sqlx::query_scalar("SELECT id FROM reservations WHERE state = 'pre_reserved' AND expires_at <= $1 ORDER BY expires_at LIMIT $2")
        .bind(now).bind(limit).fetch_all(p).await)?,
    )
}

/// Confirmed stays whose check-out is on or before `today` (for the completion pass).
pub async fn finished_stays(db: &Db, today: NaiveDate, limit: i64) -> Result<Vec<i64>> {
    Ok(
        on_db!(db, p => sqlx::query_scalar("SELECT id FROM reservations WHERE state = 'confirmed' AND check_out <= $1 ORDER BY check_out LIMIT $2")
        .bind(today).bind(limit).fetch_all(p).await)?,
    )
}

/// Active reservations of an accommodation overlapping a range (conflict detection).
pub async fn active_overlapping(
    conn: Conn<'_>,
    accommodation_id: i64,
    stay: &Stay,
) -> Result<Vec<Reservation>> {
    let rows: Vec<Row> = on_conn!(conn, c => sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM reservations WHERE accommodation_id = $1 AND state IN ('pre_reserved', 'confirmed') AND check_in < $3 AND check_out > $2 ORDER BY check_in"))
        .bind(accommodation_id).bind(stay.check_in()).bind(stay.check_out()).fetch_all(&mut *c).await)?;
    rows.into_iter().map(Reservation::try_from).collect()
}

/// Add a flag (idempotent) to a reservation.
pub async fn add_flag(mut conn: Conn<'_>, id: i64, flag: &str, now: DateTime<Utc>) -> Result<()> {
    let flags: Option<String> = on_conn!(conn.reborrow(), c => sqlx::query_scalar("SELECT flags FROM reservations WHERE id = $1").bind(id).fetch_optional(&mut *c).await)?;
    let mut flags: Vec<String> =
        serde_json::from_str(&flags.ok_or(StoreError::NotFound("reservation"))?)
            .map_err(corrupt)?;
    if !flags.iter().any(|f| f == flag) {
        flags.push(flag.to_string());
        let text = serde_json::to_string(&flags).map_err(corrupt)?;
        on_conn!(conn, c => sqlx::query("UPDATE reservations SET flags = $1, updated_at = $2 WHERE id = $3").bind(text).bind(now).bind(id).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    }
    Ok(())
}

/// Store the payment link.
pub async fn set_payment_link(
    conn: Conn<'_>,
    id: i64,
    link: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    on_conn!(conn, c => sqlx::query("UPDATE reservations SET payment_link = $1, updated_at = $2 WHERE id = $3").bind(link).bind(now).bind(id).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// A stay as the owner's calendar shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct CalendarStay {
    /// Database id.
    pub id: i64,
    /// Public code.
    pub code: String,
    /// The accommodation.
    pub accommodation_id: i64,
    /// Arrival (first night).
    pub check_in: NaiveDate,
    /// Departure (exclusive).
    pub check_out: NaiveDate,
    /// `pre_reserved`, `confirmed` or `completed`.
    pub state: String,
    /// Guest's name.
    pub guest_name: String,
}

/// Holds, confirmed and completed stays of every accommodation with a night in
/// `[from, until)`, by accommodation and arrival (the owner's month calendar).
pub async fn calendar_stays(
    db: &Db,
    from: NaiveDate,
    until: NaiveDate,
) -> Result<Vec<CalendarStay>> {
    Ok(on_db!(db, p => sqlx::query_as(
        "SELECT id, code, accommodation_id, check_in, check_out, state, guest_name FROM reservations
         WHERE state IN ('pre_reserved', 'confirmed', 'completed') AND check_in < $2 AND check_out > $1
         ORDER BY accommodation_id, check_in, id")
        .bind(from).bind(until).fetch_all(p).await)?)
}
