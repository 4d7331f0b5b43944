//! SQLite statements: claims as `UPDATE … WHERE id IN (SELECT … LIMIT n) RETURNING` (one
//! statement, so one write lock), batches passed as one JSON array read with `json_each` (no bind
//! limit, one prepared statement whatever the batch size), times in epoch milliseconds.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::{SqliteConnection, SqlitePool};

use super::Dialect;
use super::{Claimed, Failure, Release, Rescued, Staged, from_ms, to_ms};
use crate::job::NewJob;

fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

fn lease_ms(lease: Duration) -> i64 {
    i64::try_from(lease.as_millis()).unwrap_or(i64::MAX / 2)
}

fn json_str(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_string())
}

fn ids_json<I: IntoIterator<Item = i64>>(ids: I) -> String {
    let mut out = String::from("[");
    for (i, id) in ids.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&id.to_string());
    }
    out.push(']');
    out
}

/// Group (id, token) pairs by token: one statement per claim batch.
fn by_token(pairs: &[(i64, i64)]) -> BTreeMap<i64, Vec<i64>> {
    let mut groups: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    for &(id, token) in pairs {
        groups.entry(token).or_default().push(id);
    }
    groups
}

fn initial_state(job: &NewJob, now: i64) -> (&'static str, i64) {
    match job.run_at.map(to_ms) {
        Some(at) if at > now => ("scheduled", at),
        Some(at) => ("available", at),
        None => ("available", now),
    }
}

/// Insert one job; `None` when a live job holds its unique key.
pub(crate) async fn insert_one(
    conn: &mut SqliteConnection,
    job: &NewJob,
) -> Result<Option<(i64, bool)>, sqlx::Error> {
    let now = now_ms();
    let (state, run_at) = initial_state(job, now);
    let id: Option<i64> = sqlx::query_scalar(
        "INSERT INTO jobs (kind, queue, args, state, priority, max_attempts, run_at, unique_key, trace_id, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         ON CONFLICT DO NOTHING RETURNING id",
    )
    .bind(&job.kind)
    .bind(&job.queue)
    .bind(&job.args)
    .bind(state)
    .bind(job.priority)
    .bind(job.max_attempts)
    .bind(run_at)
    .bind(&job.unique_key)
    .bind(&job.trace_id)
    .bind(now)
    .fetch_optional(conn)
    .await?;
    Ok(id.map(|id| (id, state == "available")))
}

/// Insert a batch in one statement (the batch travels as one JSON array).
pub(crate) async fn insert_many(
    conn: &mut SqliteConnection,
    jobs: &[NewJob],
) -> Result<u64, sqlx::Error> {
    if jobs.is_empty() {
        return Ok(0);
    }
    let now = now_ms();
    let mut payload = String::with_capacity(jobs.len() * 128);
    payload.push('[');
    for (i, j) in jobs.iter().enumerate() {
        if i > 0 {
            payload.push(',');
        }
        let (state, run_at) = initial_state(j, now);
        payload.push('[');
        payload.push_str(&json_str(&j.kind));
        payload.push(',');
        payload.push_str(&json_str(&j.queue));
        payload.push(',');
        payload.push_str(&j.args);
        payload.push_str(",\"");
        payload.push_str(state);
        payload.push_str("\",");
        payload.push_str(&j.priority.to_string());
        payload.push(',');
        payload.push_str(&j.max_attempts.to_string());
        payload.push(',');
        payload.push_str(&run_at.to_string());
        payload.push(',');
        match &j.unique_key {
            Some(k) => payload.push_str(&json_str(k)),
            None => payload.push_str("null"),
        }
        payload.push(',');
        match &j.trace_id {
            Some(t) => payload.push_str(&json_str(t)),
            None => payload.push_str("null"),
        }
        payload.push(']');
    }
    payload.push(']');
    let done = sqlx::query(
        "INSERT INTO jobs (kind, queue, args, state, priority, max_attempts, run_at, unique_key, trace_id, created_at)
         SELECT value->>0, value->>1, value->2, value->>3, value->>4, value->>5, value->>6, value->>7, value->>8, $2
         FROM json_each($1) WHERE true
         ON CONFLICT DO NOTHING",
    )
    .bind(payload)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

pub(crate) async fn claim(
    pool: &SqlitePool,
    queue: &str,
    kinds: &[String],
    limit: usize,
    token: i64,
    node: &str,
    lease: Duration,
) -> Result<Vec<Claimed>, sqlx::Error> {
    let now = now_ms();
    let kinds = serde_json::to_string(kinds).unwrap_or_else(|_| "[]".to_string());
    let mut claimed: Vec<Claimed> = sqlx::query_as(
        "UPDATE jobs SET state = 'running', attempt = attempt + 1, attempt_token = $4, node_id = $5,
             attempted_at = $6, lease_expires_at = $7
         WHERE id IN (
             SELECT id FROM jobs
             WHERE state = 'available' AND queue = $1 AND kind IN (SELECT value FROM json_each($2))
               AND NOT EXISTS (SELECT 1 FROM job_queues WHERE name = $1 AND paused = 1)
             ORDER BY priority DESC, run_at, id LIMIT $3)
         RETURNING id, kind, args, priority, attempt, max_attempts, trace_id, unique_key",
    )
    .bind(queue)
    .bind(kinds)
    .bind(limit as i64)
    .bind(token)
    .bind(node)
    .bind(now)
    .bind(now + lease_ms(lease))
    .fetch_all(pool)
    .await?;
    for c in &mut claimed {
        c.token = token;
    }
    Ok(claimed)
}

pub(crate) async fn complete(
    pool: &SqlitePool,
    done: &[(i64, i64)],
) -> Result<Vec<i64>, sqlx::Error> {
    let now = now_ms();
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    let mut accepted = Vec::with_capacity(done.len());
    for (token, ids) in by_token(done) {
        let mut got: Vec<i64> = sqlx::query_scalar(
            "UPDATE jobs SET state = 'completed', finished_at = $3, lease_expires_at = NULL
             WHERE id IN (SELECT value FROM json_each($2)) AND attempt_token = $1 AND state = 'running'
             RETURNING id",
        )
        .bind(token)
        .bind(ids_json(ids))
        .bind(now)
        .fetch_all(&mut *tx)
        .await?;
        accepted.append(&mut got);
    }
    tx.commit().await?;
    Ok(accepted)
}

pub(crate) async fn fail(
    pool: &SqlitePool,
    failures: &[Failure],
    node: &str,
) -> Result<Vec<i64>, sqlx::Error> {
    let now = now_ms();
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    let mut accepted = Vec::with_capacity(failures.len());
    for f in failures {
        let retry_at = f.retry_at.map(to_ms);
        let attempt: Option<i32> = sqlx::query_scalar(
            "UPDATE jobs SET
                 state = CASE WHEN $3 IS NULL THEN 'discarded' ELSE 'retryable' END,
                 run_at = COALESCE($3, run_at),
                 finished_at = CASE WHEN $3 IS NULL THEN $4 END,
                 last_error = $5, lease_expires_at = NULL, attempt_token = NULL
             WHERE id = $1 AND attempt_token = $2 AND state = 'running'
             RETURNING attempt",
        )
        .bind(f.id)
        .bind(f.token)
        .bind(retry_at)
        .bind(now)
        .bind(&f.message)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(attempt) = attempt {
            sqlx::query("INSERT INTO job_errors (job_id, attempt, message, at, node_id) VALUES ($1, $2, $3, $4, $5)")
                .bind(f.id)
                .bind(attempt)
                .bind(&f.message)
                .bind(now)
                .bind(node)
                .execute(&mut *tx)
                .await?;
            accepted.push(f.id);
        }
    }
    tx.commit().await?;
    Ok(accepted)
}

pub(crate) async fn heartbeat(
    pool: &SqlitePool,
    held: &[(i64, i64)],
    lease: Duration,
) -> Result<Vec<i64>, sqlx::Error> {
    let until = now_ms() + lease_ms(lease);
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    let mut renewed = Vec::with_capacity(held.len());
    for (token, ids) in by_token(held) {
        let mut got: Vec<i64> = sqlx::query_scalar(
            "UPDATE jobs SET lease_expires_at = $3
             WHERE id IN (SELECT value FROM json_each($2)) AND attempt_token = $1 AND state = 'running'
             RETURNING id",
        )
        .bind(token)
        .bind(ids_json(ids))
        .bind(until)
        .fetch_all(&mut *tx)
        .await?;
        renewed.append(&mut got);
    }
    tx.commit().await?;
    Ok(renewed)
}

pub(crate) async fn release(
    pool: &SqlitePool,
    jobs: &[Release],
    node: &str,
) -> Result<Vec<String>, sqlx::Error> {
    let now = now_ms();
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    let mut queues: Vec<String> = Vec::new();
    for j in jobs {
        let row: Option<(String, i32)> = sqlx::query_as(
            "UPDATE jobs SET state = 'available',
                 attempt = CASE WHEN $3 THEN attempt ELSE attempt - 1 END,
                 attempt_token = NULL, lease_expires_at = NULL,
                 last_error = CASE WHEN $3 THEN 'interrupted by worker shutdown' ELSE last_error END
             WHERE id = $1 AND attempt_token = $2 AND state = 'running'
             RETURNING queue, attempt",
        )
        .bind(j.id)
        .bind(j.token)
        .bind(j.started)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some((queue, attempt)) = row {
            if j.started {
                sqlx::query("INSERT INTO job_errors (job_id, attempt, message, at, node_id) VALUES ($1, $2, 'interrupted by worker shutdown', $3, $4)")
                    .bind(j.id)
                    .bind(attempt)
                    .bind(now)
                    .bind(node)
                    .execute(&mut *tx)
                    .await?;
            }
            if !queues.contains(&queue) {
                queues.push(queue);
            }
        }
    }
    tx.commit().await?;
    Ok(queues)
}

pub(crate) async fn rescue(pool: &SqlitePool) -> Result<(Vec<Rescued>, Vec<String>), sqlx::Error> {
    let now = now_ms();
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    type RescuedRow = (i64, String, String, i32, String, String, Option<String>);
    let rows: Vec<RescuedRow> = sqlx::query_as(
        "UPDATE jobs SET
             state = CASE WHEN attempt >= max_attempts THEN 'discarded' ELSE 'available' END,
             finished_at = CASE WHEN attempt >= max_attempts THEN $1 END,
             last_error = 'lease expired: worker ' || COALESCE(node_id, '?') || ' stopped renewing it',
             attempt_token = NULL, lease_expires_at = NULL
         WHERE state = 'running' AND lease_expires_at < $1
         RETURNING id, kind, queue, attempt, state, last_error, node_id",
    )
    .bind(now)
    .fetch_all(&mut *tx)
    .await?;
    let mut queues: Vec<String> = Vec::new();
    let mut rescued = Vec::with_capacity(rows.len());
    for (id, kind, queue, attempt, state, message, node) in rows {
        sqlx::query("INSERT INTO job_errors (job_id, attempt, message, at, node_id) VALUES ($1, $2, $3, $4, $5)")
            .bind(id)
            .bind(attempt)
            .bind(&message)
            .bind(now)
            .bind(node)
            .execute(&mut *tx)
            .await?;
        let discarded = state == "discarded";
        if !discarded && !queues.contains(&queue) {
            queues.push(queue);
        }
        rescued.push(Rescued { kind, discarded });
    }
    tx.commit().await?;
    Ok((rescued, queues))
}

pub(crate) async fn stage(pool: &SqlitePool) -> Result<Staged, sqlx::Error> {
    let now = now_ms();
    let mut queues: Vec<String> = sqlx::query_scalar(
        "UPDATE jobs SET state = 'available'
         WHERE id IN (SELECT id FROM jobs WHERE state IN ('scheduled', 'retryable') AND run_at <= $1
                      ORDER BY run_at LIMIT 10000)
         RETURNING queue",
    )
    .bind(now)
    .fetch_all(pool)
    .await?;
    let promoted = queues.len() as u64;
    queues.sort();
    queues.dedup();
    let next_due: Option<i64> = sqlx::query_scalar(
        "SELECT min(run_at) FROM jobs WHERE state IN ('scheduled', 'retryable')",
    )
    .fetch_one(pool)
    .await?;
    Ok(Staged {
        promoted,
        queues,
        next_due: next_due.map(from_ms),
    })
}

/// Record this node's heartbeat; returns whether another node with workers has beaten within
/// `alive`.
pub(crate) async fn node_heartbeat(
    pool: &SqlitePool,
    node: &str,
    started_at: DateTime<Utc>,
    queues: &str,
    scheduler: bool,
    alive: std::time::Duration,
) -> Result<bool, sqlx::Error> {
    let now = now_ms();
    sqlx::query(
        "INSERT INTO job_nodes (node_id, started_at, heartbeat_at, queues, scheduler)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (node_id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at, queues = excluded.queues,
             scheduler = excluded.scheduler",
    )
    .bind(node)
    .bind(to_ms(started_at))
    .bind(now)
    .bind(queues)
    .bind(scheduler)
    .execute(pool)
    .await?;
    let since = now - i64::try_from(alive.as_millis()).unwrap_or(i64::MAX);
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM job_nodes WHERE node_id <> $1 AND queues <> '' AND heartbeat_at > $2)",
    )
    .bind(node)
    .bind(since)
    .fetch_one(pool)
    .await
}

impl Dialect for SqliteConnection {
    /// Take the write lock up front: a deferred transaction that reads first can fail to
    /// upgrade its lock when another writer got there in between.
    const BEGIN: &'static str = "BEGIN IMMEDIATE";

    async fn insert_job(&mut self, job: &NewJob) -> Result<Option<i64>, sqlx::Error> {
        Ok(insert_one(self, job).await?.map(|(id, _)| id))
    }
}
