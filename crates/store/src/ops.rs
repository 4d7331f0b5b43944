//! Operations data: the owner's dashboard login (password, sessions, lockout), alert state (one
//! notice per occurrence), the figures of the daily report and of the alert checks, the health of
//! the job queue, and the hourly cleanup.
//!
//! The job-queue figures read the engine's `jobs` table (read-only) because the engine's admin API
//! has no "oldest available job" query; everything else is the store's own tables.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use posada_db::Db;
use serde::Serialize;

use crate::{Result, on_db};

// ---------------------------------------------------------------------------------------------
// Job queue health

/// Figures the health check reports about the job queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct JobsHealth {
    /// Age in seconds of the oldest job waiting for a worker (`available`), if any.
    pub oldest_available_age_seconds: Option<i64>,
    /// Jobs given up (discarded) in the last 24 hours.
    pub discarded_last_24h: i64,
}

/// Oldest available job and discarded jobs of the last 24 hours, as of `now`.
pub async fn jobs_health(db: &Db, now: DateTime<Utc>) -> Result<JobsHealth> {
    let since = now - Duration::hours(24);
    let (oldest, discarded) = match db {
        Db::Sqlite(p) => {
            // The engine stores SQLite times as integer milliseconds since the epoch.
            let oldest: Option<i64> =
                sqlx::query_scalar("SELECT MIN(run_at) FROM jobs WHERE state = 'available'")
                    .fetch_one(p)
                    .await?;
            let discarded: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM jobs WHERE state = 'discarded' AND finished_at >= $1",
            )
            .bind(since.timestamp_millis())
            .fetch_one(p)
            .await?;
            (
                oldest.and_then(DateTime::<Utc>::from_timestamp_millis),
                discarded,
            )
        }
        Db::Postgres(p) => {
            let oldest: Option<DateTime<Utc>> =
                sqlx::query_scalar("SELECT MIN(run_at) FROM jobs WHERE state = 'available'")
                    .fetch_one(p)
                    .await?;
            let discarded: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM jobs WHERE state = 'discarded' AND finished_at >= $1",
            )
            .bind(since)
            .fetch_one(p)
            .await?;
            (oldest, discarded)
        }
    };
    Ok(JobsHealth {
        oldest_available_age_seconds: oldest.map(|t| (now - t).num_seconds().max(0)),
        discarded_last_24h: discarded,
    })
}

// ---------------------------------------------------------------------------------------------
// Owner login

/// The owner's stored password hash (PHC string), if one was set with `posada admin set-password`.
pub async fn owner_password_hash(db: &Db) -> Result<Option<String>> {
    Ok(
        on_db!(db, p => sqlx::query_scalar("SELECT password_hash FROM owner_credentials WHERE id = 1")
        .fetch_optional(p).await)?,
    )
}

/// Store the owner's password hash (PHC string), replacing any previous one, and end every
/// session.
pub async fn set_owner_password_hash(db: &Db, phc: &str, now: DateTime<Utc>) -> Result<()> {
    on_db!(db, p => sqlx::query(
        "INSERT INTO owner_credentials (id, password_hash, updated_at) VALUES (1, $1, $2)
         ON CONFLICT (id) DO UPDATE SET password_hash = excluded.password_hash, updated_at = excluded.updated_at")
        .bind(phc).bind(now).execute(p).await.map(|r| r.rows_affected()))?;
    on_db!(db, p => sqlx::query("DELETE FROM owner_sessions").execute(p).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// A logged-in dashboard session.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct OwnerSession {
    /// The token that must accompany state-changing forms.
    pub csrf_token: String,
    /// Expiry.
    pub expires_at: DateTime<Utc>,
}

/// Start a session whose cookie value hashes to `token_hash`.
pub async fn create_session(
    db: &Db,
    token_hash: &str,
    csrf_token: &str,
    client: &str,
    ttl: Duration,
    now: DateTime<Utc>,
) -> Result<()> {
    on_db!(db, p => sqlx::query(
        "INSERT INTO owner_sessions (token_hash, csrf_token, client, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(token_hash).bind(csrf_token).bind(client).bind(now).bind(now + ttl).execute(p).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// The live session whose cookie hashes to `token_hash`.
pub async fn session(
    db: &Db,
    token_hash: &str,
    now: DateTime<Utc>,
) -> Result<Option<OwnerSession>> {
    Ok(on_db!(db, p => sqlx::query_as(
        "SELECT csrf_token, expires_at FROM owner_sessions WHERE token_hash = $1 AND expires_at > $2")
        .bind(token_hash).bind(now).fetch_optional(p).await)?)
}

/// End a session.
pub async fn delete_session(db: &Db, token_hash: &str) -> Result<()> {
    on_db!(db, p => sqlx::query("DELETE FROM owner_sessions WHERE token_hash = $1")
        .bind(token_hash).execute(p).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// What a client's login attempt may do, as decided by [`claim_login_attempt`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginAttempt {
    /// Check the password. When this is the last check allowed in the window, `locks_until`
    /// says until when the client is locked out unless the password turns out right.
    Allowed {
        /// Set on the last allowed attempt of a window: the lock it started.
        locks_until: Option<DateTime<Utc>>,
    },
    /// Locked out: no password may be checked before this time.
    Locked {
        /// End of the lock.
        until: DateTime<Utc>,
    },
}

/// Claim one password check for `client`, in one atomic statement: at most `max_attempts`
/// checks within `lock_for` (counted before the password is checked, so parallel attempts cannot
/// slip through between a check and a count); the attempt that uses the last one starts a lock of
/// `lock_for`, and an active lock is never cleared or shortened by another attempt. A correct
/// password ends the count with [`clear_login_failures`].
pub async fn claim_login_attempt(
    db: &Db,
    client: &str,
    now: DateTime<Utc>,
    max_attempts: i64,
    lock_for: Duration,
) -> Result<LoginAttempt> {
    let max_attempts = max_attempts.max(1);
    let window_start = now - lock_for;
    let lock_end = now + lock_for;
    // A new count starts when the previous lock has run out, or when the first counted attempt
    // (with no lock) is older than the window.
    let (attempts, locked_until): (i64, Option<DateTime<Utc>>) = on_db!(db, p => sqlx::query_as(
        "INSERT INTO login_attempts (client, failures, first_failure_at, locked_until)
         VALUES ($1, 1, $2, CASE WHEN $4 <= 1 THEN $5 ELSE NULL END)
         ON CONFLICT (client) DO UPDATE SET
           failures = CASE
             WHEN (login_attempts.locked_until IS NOT NULL AND login_attempts.locked_until <= $2)
               OR (login_attempts.locked_until IS NULL AND login_attempts.first_failure_at < $3)
             THEN 1 ELSE login_attempts.failures + 1 END,
           first_failure_at = CASE
             WHEN (login_attempts.locked_until IS NOT NULL AND login_attempts.locked_until <= $2)
               OR (login_attempts.locked_until IS NULL AND login_attempts.first_failure_at < $3)
             THEN $2 ELSE login_attempts.first_failure_at END,
           locked_until = CASE
             WHEN (login_attempts.locked_until IS NOT NULL AND login_attempts.locked_until <= $2)
               OR (login_attempts.locked_until IS NULL AND login_attempts.first_failure_at < $3)
             THEN (CASE WHEN $4 <= 1 THEN $5 ELSE NULL END)
             WHEN login_attempts.locked_until IS NOT NULL THEN login_attempts.locked_until
             WHEN login_attempts.failures + 1 >= $4 THEN $5
             ELSE NULL END
         RETURNING failures, locked_until")
        .bind(client).bind(now).bind(window_start).bind(max_attempts).bind(lock_end)
        .fetch_one(p).await)?;
    Ok(if attempts > max_attempts {
        LoginAttempt::Locked {
            until: locked_until.unwrap_or(lock_end),
        }
    } else {
        LoginAttempt::Allowed {
            locks_until: locked_until,
        }
    })
}

/// Forget `client`'s counted attempts and any lock (after a correct password).
pub async fn clear_login_failures(db: &Db, client: &str) -> Result<()> {
    on_db!(db, p => sqlx::query("DELETE FROM login_attempts WHERE client = $1")
        .bind(client).execute(p).await.map(|r| r.rows_affected()))?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Alerts

/// An alert's record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct Alert {
    /// Identifies one condition (`feed_stale:3`, `jobs_discarded`).
    pub key: String,
    /// The check that raised it.
    pub kind: String,
    /// What was seen, in words for the owner.
    pub detail: String,
    /// `open` or `cleared`.
    pub state: String,
    /// When the current (or latest) occurrence started.
    pub opened_at: DateTime<Utc>,
    /// When the condition was last seen.
    pub last_seen_at: DateTime<Utc>,
    /// When it cleared.
    pub cleared_at: Option<DateTime<Utc>>,
    /// How many separate occurrences there have been.
    pub occurrences: i64,
}

const ALERT_COLUMNS: &str =
    "key, kind, detail, state, opened_at, last_seen_at, cleared_at, occurrences";

/// Record that the condition `key` holds now. Returns `true` when this starts a new occurrence
/// (first time, or the alert had cleared): the caller notifies the owner exactly then.
pub async fn raise_alert(
    db: &Db,
    key: &str,
    kind: &str,
    detail: &str,
    now: DateTime<Utc>,
) -> Result<bool> {
    let inserted = on_db!(db, p => sqlx::query(
        "INSERT INTO alerts (key, kind, detail, state, opened_at, last_seen_at, occurrences) VALUES ($1, $2, $3, 'open', $4, $4, 1)
         ON CONFLICT (key) DO NOTHING")
        .bind(key).bind(kind).bind(detail).bind(now).execute(p).await.map(|r| r.rows_affected()))?;
    if inserted == 1 {
        return Ok(true);
    }
    let reopened = on_db!(db, p => sqlx::query(
        "UPDATE alerts SET state = 'open', detail = $1, opened_at = $2, last_seen_at = $2, cleared_at = NULL,
            occurrences = occurrences + 1 WHERE key = $3 AND state = 'cleared'")
        .bind(detail).bind(now).bind(key).execute(p).await.map(|r| r.rows_affected()))?;
    if reopened == 1 {
        return Ok(true);
    }
    on_db!(db, p => sqlx::query("UPDATE alerts SET detail = $1, last_seen_at = $2 WHERE key = $3")
        .bind(detail).bind(now).bind(key).execute(p).await.map(|r| r.rows_affected()))?;
    Ok(false)
}

/// Clear every open alert of `kind` whose key is not in `still_open`; returns the cleared keys.
pub async fn clear_alerts_except(
    db: &Db,
    kind: &str,
    still_open: &[String],
    now: DateTime<Utc>,
) -> Result<Vec<String>> {
    let open: Vec<String> = on_db!(db, p => sqlx::query_scalar(
        "SELECT key FROM alerts WHERE kind = $1 AND state = 'open'")
        .bind(kind).fetch_all(p).await)?;
    let mut cleared = Vec::new();
    for key in open.into_iter().filter(|k| !still_open.contains(k)) {
        on_db!(db, p => sqlx::query("UPDATE alerts SET state = 'cleared', cleared_at = $1 WHERE key = $2 AND state = 'open'")
            .bind(now).bind(&key).execute(p).await.map(|r| r.rows_affected()))?;
        cleared.push(key);
    }
    Ok(cleared)
}

/// Open alerts, oldest first.
pub async fn open_alerts(db: &Db) -> Result<Vec<Alert>> {
    Ok(on_db!(db, p => sqlx::query_as(&format!(
        "SELECT {ALERT_COLUMNS} FROM alerts WHERE state = 'open' ORDER BY opened_at, key"))
        .fetch_all(p).await)?)
}

/// One alert.
pub async fn alert(db: &Db, key: &str) -> Result<Option<Alert>> {
    Ok(
        on_db!(db, p => sqlx::query_as(&format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE key = $1"))
        .bind(key).fetch_optional(p).await)?,
    )
}

// ---------------------------------------------------------------------------------------------
// Alert conditions

/// An enabled feed whose last success is older than the limit (or that never succeeded and
/// exists for longer than the limit).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct StaleFeed {
    /// Feed id.
    pub id: i64,
    /// Accommodation it belongs to.
    pub accommodation_id: i64,
    /// Channel name.
    pub channel: String,
    /// Last successful sync.
    pub last_success_at: Option<DateTime<Utc>>,
}

/// Enabled feeds with no success since `before`.
pub async fn stale_feeds(db: &Db, before: DateTime<Utc>) -> Result<Vec<StaleFeed>> {
    Ok(on_db!(db, p => sqlx::query_as(
        "SELECT id, accommodation_id, channel, last_success_at FROM feeds
         WHERE enabled = $1 AND COALESCE(last_success_at, created_at) < $2 ORDER BY id")
        .bind(true).bind(before).fetch_all(p).await)?)
}

/// Number of unresolved iCal conflicts (a channel block over one of our reservations).
pub async fn open_conflicts(db: &Db) -> Result<i64> {
    Ok(
        on_db!(db, p => sqlx::query_scalar("SELECT COUNT(*) FROM ical_conflicts WHERE resolved_at IS NULL")
        .fetch_one(p).await)?,
    )
}

/// Codes of reservations flagged `needs_refund`.
pub async fn refunds_needed(db: &Db) -> Result<Vec<String>> {
    Ok(on_db!(db, p => sqlx::query_scalar(
        "SELECT code FROM reservations WHERE flags LIKE $1 ORDER BY id")
        .bind("%\"needs_refund\"%").fetch_all(p).await)?)
}

// ---------------------------------------------------------------------------------------------
// Daily report figures

/// What happened to reservations in a time window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct DayActivity {
    /// Holds created.
    pub new_holds: i64,
    /// Reservations confirmed.
    pub confirmations: i64,
    /// Holds that expired.
    pub expiries: i64,
    /// Reservations cancelled.
    pub cancellations: i64,
    /// Holds that ended in the window (confirmed, expired or cancelled while a hold).
    pub holds_decided: i64,
    /// Of those, confirmed.
    pub holds_confirmed: i64,
}

/// Reservation activity in `[from, until)`.
pub async fn activity(db: &Db, from: DateTime<Utc>, until: DateTime<Utc>) -> Result<DayActivity> {
    let rows: Vec<(Option<String>, String, i64)> = on_db!(db, p => sqlx::query_as(
        "SELECT from_state, to_state, COUNT(*) FROM reservation_history WHERE at >= $1 AND at < $2
         GROUP BY from_state, to_state")
        .bind(from).bind(until).fetch_all(p).await)?;
    let mut a = DayActivity::default();
    for (from_state, to_state, n) in rows {
        let was_hold = from_state.as_deref() == Some("pre_reserved");
        match to_state.as_str() {
            "pre_reserved" => a.new_holds += n,
            "confirmed" => a.confirmations += n,
            "expired" => a.expiries += n,
            "cancelled" => a.cancellations += n,
            _ => {}
        }
        if was_hold && matches!(to_state.as_str(), "confirmed" | "expired" | "cancelled") {
            a.holds_decided += n;
            if to_state == "confirmed" {
                a.holds_confirmed += n;
            }
        }
    }
    Ok(a)
}

/// Deposits received in `[from, until)`: approved payments, as (count, currency, sum of minor
/// units) per currency.
pub async fn deposits_received(
    db: &Db,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<Vec<(String, i64, i64)>> {
    let rows: Vec<(String, i64, i64)> = on_db!(db, p => sqlx::query_as(
        "SELECT currency, COUNT(*), CAST(COALESCE(SUM(amount_minor), 0) AS BIGINT) FROM payment_status_history
         WHERE status = 'approved' AND at >= $1 AND at < $2 GROUP BY currency ORDER BY currency")
        .bind(from).bind(until).fetch_all(p).await)?;
    Ok(rows)
}

/// A stay as the report lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct StayLine {
    /// Reservation code.
    pub code: String,
    /// Accommodation name.
    pub accommodation: String,
    /// Guest's name.
    pub guest_name: String,
    /// Arrival.
    pub check_in: NaiveDate,
    /// Departure.
    pub check_out: NaiveDate,
    /// Number of guests.
    pub guests: i64,
    /// Reservation state.
    pub state: String,
}

const STAY_SELECT: &str = "SELECT r.code, a.name AS accommodation, r.guest_name, r.check_in, r.check_out, CAST(r.guests AS BIGINT) AS guests, r.state
     FROM reservations r JOIN accommodations a ON a.id = r.accommodation_id";

/// Confirmed stays arriving on `day`.
pub async fn arrivals(db: &Db, day: NaiveDate) -> Result<Vec<StayLine>> {
    Ok(on_db!(db, p => sqlx::query_as(&format!(
        "{STAY_SELECT} WHERE r.state = 'confirmed' AND r.check_in = $1 ORDER BY a.name, r.code"))
        .bind(day).fetch_all(p).await)?)
}

/// Confirmed (or completed) stays leaving on `day`.
pub async fn departures(db: &Db, day: NaiveDate) -> Result<Vec<StayLine>> {
    Ok(on_db!(db, p => sqlx::query_as(&format!(
        "{STAY_SELECT} WHERE r.state IN ('confirmed', 'completed') AND r.check_out = $1 ORDER BY a.name, r.code"))
        .bind(day).fetch_all(p).await)?)
}

/// Holds and confirmed stays from `from` on (check-out after it), earliest first.
pub async fn upcoming_stays(db: &Db, from: NaiveDate, limit: i64) -> Result<Vec<StayLine>> {
    Ok(on_db!(db, p => sqlx::query_as(&format!(
        "{STAY_SELECT} WHERE r.state IN ('pre_reserved', 'confirmed') AND r.check_out > $1
         ORDER BY r.check_in, a.name, r.code LIMIT $2"))
        .bind(from).bind(limit).fetch_all(p).await)?)
}

/// A hold about to run out, as the owner's Hoy page lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct ExpiringHold {
    /// Reservation code.
    pub code: String,
    /// Accommodation name.
    pub accommodation: String,
    /// Guest's name.
    pub guest_name: String,
    /// Arrival.
    pub check_in: NaiveDate,
    /// Departure.
    pub check_out: NaiveDate,
    /// When the hold runs out.
    pub expires_at: DateTime<Utc>,
}

/// Holds that run out before `until` (also those already overdue whose expiry has not run yet),
/// soonest first.
pub async fn holds_expiring(
    db: &Db,
    until: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<ExpiringHold>> {
    Ok(on_db!(db, p => sqlx::query_as(
        "SELECT r.code, a.name AS accommodation, r.guest_name, r.check_in, r.check_out, r.expires_at
         FROM reservations r JOIN accommodations a ON a.id = r.accommodation_id
         WHERE r.state = 'pre_reserved' AND r.expires_at IS NOT NULL AND r.expires_at <= $1
         ORDER BY r.expires_at, r.code LIMIT $2")
        .bind(until).bind(limit).fetch_all(p).await)?)
}

/// An approved payment, with the reservation it paid (when it could be matched).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct ReceivedPayment {
    /// Reservation code, if matched.
    pub code: Option<String>,
    /// Guest's name, if matched.
    pub guest_name: Option<String>,
    /// Accommodation name, if matched.
    pub accommodation: Option<String>,
    /// Amount in minor units.
    pub amount_minor: i64,
    /// Currency code.
    pub currency: String,
    /// When it was approved.
    pub at: DateTime<Utc>,
}

/// Payments approved since `since`, newest first.
pub async fn payments_received(
    db: &Db,
    since: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<ReceivedPayment>> {
    Ok(on_db!(db, p => sqlx::query_as(
        "SELECT r.code, r.guest_name, a.name AS accommodation, h.amount_minor, h.currency, h.at
         FROM payment_status_history h JOIN payments p ON p.id = h.payment_id
         LEFT JOIN reservations r ON r.id = p.reservation_id
         LEFT JOIN accommodations a ON a.id = r.accommodation_id
         WHERE h.status = 'approved' AND h.at >= $1 ORDER BY h.at DESC, h.id DESC LIMIT $2")
        .bind(since).bind(limit).fetch_all(p).await)?)
}

/// Occupancy of `[from, from + days)`: (nights taken by confirmed stays, nights available across
/// active accommodations).
pub async fn occupancy(db: &Db, from: NaiveDate, days: i64) -> Result<(i64, i64)> {
    let until = from + Duration::days(days);
    let accommodations: i64 = on_db!(db, p => sqlx::query_scalar("SELECT COUNT(*) FROM accommodations WHERE active = $1")
        .bind(true).fetch_one(p).await)?;
    let stays: Vec<(NaiveDate, NaiveDate)> = on_db!(db, p => sqlx::query_as(
        "SELECT check_in, check_out FROM reservations r JOIN accommodations a ON a.id = r.accommodation_id
         WHERE a.active = $1 AND r.state IN ('confirmed', 'completed') AND r.check_in < $3 AND r.check_out > $2")
        .bind(true).bind(from).bind(until).fetch_all(p).await)?;
    let taken = stays
        .into_iter()
        .map(|(ci, co)| (co.min(until) - ci.max(from)).num_days().max(0))
        .sum();
    Ok((taken, accommodations * days))
}

// ---------------------------------------------------------------------------------------------
// Cleanup

/// Delete notifications delivered (or read) before `before`; returns how many. Queued and failed
/// rows are kept (they are still work or evidence), and so is reservation history.
pub async fn purge_delivered_notifications(db: &Db, before: DateTime<Utc>) -> Result<u64> {
    Ok(on_db!(db, p => sqlx::query(
        "DELETE FROM notifications WHERE status IN ('sent', 'delivered', 'read') AND updated_at < $1")
        .bind(before).execute(p).await.map(|r| r.rows_affected()))?)
}

/// Delete expired dashboard sessions; returns how many.
pub async fn purge_expired_sessions(db: &Db, now: DateTime<Utc>) -> Result<u64> {
    Ok(
        on_db!(db, p => sqlx::query("DELETE FROM owner_sessions WHERE expires_at <= $1")
        .bind(now).execute(p).await.map(|r| r.rows_affected()))?,
    )
}
