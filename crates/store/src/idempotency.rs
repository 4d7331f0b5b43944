//! `Idempotency-Key`: the first answer to a (route, key) is stored and replayed; the same key with
//! another body is refused; a duplicate arriving while the first is still running is told so.

use chrono::{DateTime, Duration, Utc};
use posada_db::{Conn, Db};

use crate::{Result, on_conn, on_db};

/// What to do with a request carrying an idempotency key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// First time: run it, then [`complete`] (or [`release`] on failure).
    New,
    /// Already answered: replay this.
    Replay {
        /// HTTP status.
        status: u16,
        /// Body.
        body: String,
    },
    /// Same key, different request body.
    Mismatch,
    /// Same key, the first request is still running.
    InFlight,
}

/// Claim `(scope, key)` for a request whose body hashes to `request_hash`.
pub async fn claim(
    db: &Db,
    scope: &str,
    key: &str,
    request_hash: &str,
    ttl: Duration,
    now: DateTime<Utc>,
) -> Result<Claim> {
    // Expired keys are free again.
    on_db!(db, p => sqlx::query("DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2 AND expires_at <= $3")
        .bind(scope).bind(key).bind(now).execute(p).await.map(|r| r.rows_affected()))?;
    let inserted = on_db!(db, p => sqlx::query(
        "INSERT INTO idempotency_keys (scope, key, request_hash, state, created_at, expires_at) VALUES ($1, $2, $3, 'in_flight', $4, $5)
         ON CONFLICT (scope, key) DO NOTHING")
        .bind(scope).bind(key).bind(request_hash).bind(now).bind(now + ttl).execute(p).await.map(|r| r.rows_affected()))?;
    if inserted == 1 {
        return Ok(Claim::New);
    }
    let row: Option<(String, String, Option<i64>, Option<String>)> = on_db!(db, p => sqlx::query_as(
        "SELECT request_hash, state, response_status, response_body FROM idempotency_keys WHERE scope = $1 AND key = $2")
        .bind(scope).bind(key).fetch_optional(p).await)?;
    Ok(match row {
        None => Claim::InFlight,
        Some((hash, _, _, _)) if hash != request_hash => Claim::Mismatch,
        Some((_, state, Some(status), Some(body))) if state == "done" => Claim::Replay {
            status: u16::try_from(status).unwrap_or(500),
            body,
        },
        Some(_) => Claim::InFlight,
    })
}

/// Take one of `slots` claims on `key` for `ttl` inside the caller's transaction (a budget: at most
/// `slots` claims per `ttl`); `false` when every slot is taken and not yet expired.
pub async fn claim_slot(
    mut conn: Conn<'_>,
    scope: &str,
    key: &str,
    slots: u32,
    ttl: Duration,
    now: DateTime<Utc>,
) -> Result<bool> {
    on_conn!(conn.reborrow(), c => sqlx::query("DELETE FROM idempotency_keys WHERE scope = $1 AND key LIKE $2 AND expires_at <= $3")
        .bind(scope).bind(format!("{key}#%")).bind(now).execute(&mut *c).await.map(|_| ()))?;
    for slot in 0..slots {
        let inserted = on_conn!(conn.reborrow(), c => sqlx::query(
            "INSERT INTO idempotency_keys (scope, key, request_hash, state, created_at, expires_at) VALUES ($1, $2, '', 'in_flight', $3, $4)
             ON CONFLICT (scope, key) DO NOTHING")
            .bind(scope).bind(format!("{key}#{slot}")).bind(now).bind(now + ttl).execute(&mut *c).await.map(|r| r.rows_affected()))?;
        if inserted == 1 {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Store the answer for replay.
pub async fn complete(db: &Db, scope: &str, key: &str, status: u16, body: &str) -> Result<()> {
    on_db!(db, p => sqlx::query("UPDATE idempotency_keys SET state = 'done', response_status = $1, response_body = $2 WHERE scope = $3 AND key = $4")
        .bind(i64::from(status)).bind(body).bind(scope).bind(key).execute(p).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Forget a claim whose request failed in a way worth retrying (a 5xx).
pub async fn release(db: &Db, scope: &str, key: &str) -> Result<()> {
    on_db!(db, p => sqlx::query("DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2 AND state = 'in_flight'")
        .bind(scope).bind(key).execute(p).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Delete expired keys; returns how many.
pub async fn purge_expired(db: &Db, now: DateTime<Utc>) -> Result<u64> {
    let done = on_db!(db, p => sqlx::query("DELETE FROM idempotency_keys WHERE expires_at <= $1").bind(now).execute(p).await.map(|r| r.rows_affected()))?;
    Ok(done)
}
