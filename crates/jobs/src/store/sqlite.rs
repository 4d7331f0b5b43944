//! SQLite statements: claims as `UPDATE … WHERE id IN (SELECT … LIMIT n) RETURNING` (one
//! statement, so one write lock), batches passed as one JSON array read with `json_each` (no bind
//! limit, one prepared statement whatever the batch size), times in epoch milliseconds.

use std::collections::BTreeMap;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection, SqlitePool};

use super::{Claimed, Failure, PeriodicRow, Release, Rescued, SlotFire, Staged, from_ms, to_ms};
use crate::admin::{
    CountRow, JobDetail, JobError, JobState, JobSummary, ListFilter, Page, PeriodicTaskInfo,
};
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

/// Cancel live, not running jobs with `key`.
pub(crate) async fn cancel_by_key(
    conn: &mut SqliteConnection,
    key: &str,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE jobs SET state = 'cancelled', finished_at = $2
         WHERE unique_key = $1 AND state IN ('available', 'scheduled', 'retryable')",
    )
    .bind(key)
    .bind(now_ms())
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
    let rows = sqlx::query(
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
    rows.into_iter()
        .map(|r| {
            Ok(Claimed {
                id: r.try_get(0)?,
                kind: r.try_get(1)?,
                args: r.try_get(2)?,
                priority: r.try_get(3)?,
                attempt: r.try_get(4)?,
                max_attempts: r.try_get(5)?,
                trace_id: r.try_get(6)?,
                unique_key: r.try_get(7)?,
                token,
            })
        })
        .collect()
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

pub(crate) async fn prune(
    pool: &SqlitePool,
    completed_before: DateTime<Utc>,
    discarded_before: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    let mut total = 0;
    for (sql, before) in [
        (
            "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE state IN ('completed', 'cancelled', 'discarded')
                 AND state IN ('completed', 'cancelled') AND finished_at < $1 LIMIT 5000)",
            completed_before,
        ),
        (
            "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE state IN ('completed', 'cancelled', 'discarded')
                 AND state = 'discarded' AND finished_at < $1 LIMIT 5000)",
            discarded_before,
        ),
    ] {
        loop {
            let done = sqlx::query(sql)
                .bind(to_ms(before))
                .execute(pool)
                .await?
                .rows_affected();
            total += done;
            if done < 5000 {
                break;
            }
        }
    }
    Ok(total)
}

pub(crate) async fn queue_depths(
    pool: &SqlitePool,
) -> Result<Vec<(String, String, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT queue, 'available', count(*) FROM jobs WHERE state = 'available' GROUP BY queue
         UNION ALL SELECT queue, state, count(*) FROM jobs WHERE state IN ('scheduled', 'retryable') GROUP BY queue, state
         UNION ALL SELECT queue, 'running', count(*) FROM jobs WHERE state = 'running' GROUP BY queue",
    )
    .fetch_all(pool)
    .await
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

// ---- periodic ----

pub(crate) async fn periodic_register(
    pool: &SqlitePool,
    name: &str,
    schedule: &str,
    tz: &str,
    kind: &str,
    initial_slot: Option<DateTime<Utc>>,
    next_run: Option<DateTime<Utc>>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO periodic_tasks (name, schedule, tz, kind, last_slot, next_run, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (name) DO UPDATE SET schedule = excluded.schedule, tz = excluded.tz,
             kind = excluded.kind, updated_at = excluded.updated_at",
    )
    .bind(name)
    .bind(schedule)
    .bind(tz)
    .bind(kind)
    .bind(initial_slot.map(to_ms))
    .bind(next_run.map(to_ms))
    .bind(now_ms())
    .execute(pool)
    .await?;
    Ok(())
}

pub(crate) async fn periodic_rows(pool: &SqlitePool) -> Result<Vec<PeriodicRow>, sqlx::Error> {
    type TaskRow = (String, Option<i64>, bool, Option<i64>, Option<i64>);
    let rows: Vec<TaskRow> = sqlx::query_as(
        "SELECT name, last_slot, paused, run_now_requested_at, last_run_at FROM periodic_tasks",
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(name, last_slot, paused, run_now, last_run_at)| PeriodicRow {
                name,
                last_slot: last_slot.map(from_ms),
                paused,
                run_now_requested_at: run_now.map(from_ms),
                last_run_at: last_run_at.map(from_ms),
            },
        )
        .collect())
}

pub(crate) async fn periodic_fire(
    pool: &SqlitePool,
    fire: SlotFire<'_>,
) -> Result<Option<Option<i64>>, sqlx::Error> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    let slot = to_ms(fire.slot);
    let won = sqlx::query(
        "UPDATE periodic_tasks SET last_slot = $2, next_run = $3, updated_at = $4
         WHERE name = $1 AND (last_slot IS NULL OR last_slot < $2)",
    )
    .bind(fire.name)
    .bind(slot)
    .bind(fire.next_run.map(to_ms))
    .bind(now_ms())
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if won == 0 {
        tx.rollback().await?;
        return Ok(None);
    }
    let mut id = None;
    if let Some(job) = &fire.job {
        id = insert_one(&mut tx, job).await?.map(|(id, _)| id);
        sqlx::query(
            "UPDATE periodic_tasks SET last_enqueued_at = $2, last_job_id = COALESCE($3, last_job_id) WHERE name = $1",
        )
        .bind(fire.name)
        .bind(now_ms())
        .bind(id)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(Some(id))
}

pub(crate) async fn periodic_take_run_now(
    pool: &SqlitePool,
    name: &str,
    requested_at: DateTime<Utc>,
    job: NewJob,
) -> Result<Option<Option<i64>>, sqlx::Error> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    let won = sqlx::query(
        "UPDATE periodic_tasks SET run_now_requested_at = NULL WHERE name = $1 AND run_now_requested_at = $2",
    )
    .bind(name)
    .bind(to_ms(requested_at))
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if won == 0 {
        tx.rollback().await?;
        return Ok(None);
    }
    let id = insert_one(&mut tx, &job).await?.map(|(id, _)| id);
    sqlx::query(
        "UPDATE periodic_tasks SET last_enqueued_at = $2, last_job_id = COALESCE($3, last_job_id) WHERE name = $1",
    )
    .bind(name)
    .bind(now_ms())
    .bind(id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Some(id))
}

pub(crate) async fn periodic_record_run(
    pool: &SqlitePool,
    name: &str,
    finished_at: DateTime<Utc>,
    duration_ms: i64,
    error: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE periodic_tasks SET last_run_at = $2, last_duration_ms = $3, last_error = $4 WHERE name = $1",
    )
    .bind(name)
    .bind(to_ms(finished_at))
    .bind(duration_ms)
    .bind(error)
    .execute(pool)
    .await?;
    Ok(())
}

// ---- admin ----

fn state(s: &str) -> Result<JobState, sqlx::Error> {
    JobState::from_str(s).map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

pub(crate) async fn stats(pool: &SqlitePool) -> Result<Vec<CountRow>, sqlx::Error> {
    let rows: Vec<(String, String, String, i64)> = sqlx::query_as(
        "SELECT queue, state, kind, count(*) FROM jobs GROUP BY queue, state, kind ORDER BY queue, state, kind",
    )
    .fetch_all(pool)
    .await?;
    rows.into_iter()
        .map(|(queue, st, kind, count)| {
            Ok(CountRow {
                queue,
                state: state(&st)?,
                kind,
                count,
            })
        })
        .collect()
}

const SUMMARY_COLUMNS: &str =
    "id, kind, queue, state, priority, attempt, max_attempts, run_at, unique_key, trace_id,
    node_id, lease_expires_at, created_at, attempted_at, finished_at, last_error";

fn opt_time(r: &SqliteRow, col: &str) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    Ok(r.try_get::<Option<i64>, _>(col)?.map(from_ms))
}

fn summary(r: &SqliteRow) -> Result<JobSummary, sqlx::Error> {
    let st: String = r.try_get("state")?;
    Ok(JobSummary {
        id: r.try_get("id")?,
        kind: r.try_get("kind")?,
        queue: r.try_get("queue")?,
        state: state(&st)?,
        priority: r.try_get("priority")?,
        attempt: r.try_get("attempt")?,
        max_attempts: r.try_get("max_attempts")?,
        run_at: from_ms(r.try_get("run_at")?),
        unique_key: r.try_get("unique_key")?,
        trace_id: r.try_get("trace_id")?,
        node_id: r.try_get("node_id")?,
        lease_expires_at: opt_time(r, "lease_expires_at")?,
        created_at: from_ms(r.try_get("created_at")?),
        attempted_at: opt_time(r, "attempted_at")?,
        finished_at: opt_time(r, "finished_at")?,
        last_error: r.try_get("last_error")?,
    })
}

pub(crate) async fn list(
    pool: &SqlitePool,
    filter: &ListFilter,
    page: &Page,
) -> Result<Vec<JobSummary>, sqlx::Error> {
    let sql = format!(
        "SELECT {SUMMARY_COLUMNS} FROM jobs
         WHERE ($1 IS NULL OR queue = $1) AND ($2 IS NULL OR state = $2)
           AND ($3 IS NULL OR kind = $3) AND ($4 IS NULL OR id < $4)
         ORDER BY id DESC LIMIT $5"
    );
    let rows = sqlx::query(&sql)
        .bind(&filter.queue)
        .bind(filter.state.map(JobState::as_str))
        .bind(&filter.kind)
        .bind(page.before_id)
        .bind(i64::from(page.limit.min(1000)))
        .fetch_all(pool)
        .await?;
    rows.iter().map(summary).collect()
}

pub(crate) async fn get(pool: &SqlitePool, id: i64) -> Result<Option<JobDetail>, sqlx::Error> {
    let sql = format!("SELECT {SUMMARY_COLUMNS}, args FROM jobs WHERE id = $1");
    let Some(row) = sqlx::query(&sql).bind(id).fetch_optional(pool).await? else {
        return Ok(None);
    };
    let job = summary(&row)?;
    let args: String = row.try_get("args")?;
    let args = serde_json::from_str(&args).unwrap_or(serde_json::Value::String(args));
    let errors: Vec<(i32, String, i64, Option<String>)> = sqlx::query_as(
        "SELECT attempt, message, at, node_id FROM job_errors WHERE job_id = $1 ORDER BY id",
    )
    .bind(id)
    .fetch_all(pool)
    .await?;
    Ok(Some(JobDetail {
        job,
        args,
        errors: errors
            .into_iter()
            .map(|(attempt, message, at, node_id)| JobError {
                attempt,
                message,
                at: from_ms(at),
                node_id,
            })
            .collect(),
    }))
}

pub(crate) async fn retry(pool: &SqlitePool, id: i64) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar(
        "UPDATE jobs SET state = 'available', run_at = $2,
             max_attempts = max(max_attempts, attempt + 1),
             finished_at = NULL, attempt_token = NULL, lease_expires_at = NULL
         WHERE id = $1 AND state IN ('discarded', 'cancelled', 'completed', 'retryable', 'scheduled')
         RETURNING queue",
    )
    .bind(id)
    .bind(now_ms())
    .fetch_optional(pool)
    .await
}

pub(crate) async fn cancel(pool: &SqlitePool, id: i64) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE jobs SET state = 'cancelled', finished_at = $2, lease_expires_at = NULL
         WHERE id = $1 AND state IN ('available', 'scheduled', 'running', 'retryable')",
    )
    .bind(id)
    .bind(now_ms())
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub(crate) async fn set_queue_paused(
    pool: &SqlitePool,
    queue: &str,
    paused: bool,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO job_queues (name, paused, updated_at) VALUES ($1, $2, $3)
         ON CONFLICT (name) DO UPDATE SET paused = excluded.paused, updated_at = excluded.updated_at",
    )
    .bind(queue)
    .bind(paused)
    .bind(now_ms())
    .execute(pool)
    .await?;
    Ok(())
}

pub(crate) async fn paused_queues(pool: &SqlitePool) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT name FROM job_queues WHERE paused = 1 ORDER BY name")
        .fetch_all(pool)
        .await
}

pub(crate) async fn periodic_list(pool: &SqlitePool) -> Result<Vec<PeriodicTaskInfo>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT name, schedule, tz, kind, last_slot, next_run, last_run_at, last_duration_ms, last_error,
                paused, run_now_requested_at
         FROM periodic_tasks ORDER BY name",
    )
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(PeriodicTaskInfo {
                name: r.try_get("name")?,
                schedule: r.try_get("schedule")?,
                tz: r.try_get("tz")?,
                kind: r.try_get("kind")?,
                last_slot: opt_time(r, "last_slot")?,
                next_run: opt_time(r, "next_run")?,
                last_run_at: opt_time(r, "last_run_at")?,
                last_duration_ms: r.try_get("last_duration_ms")?,
                last_error: r.try_get("last_error")?,
                paused: r.try_get("paused")?,
                run_now_requested_at: opt_time(r, "run_now_requested_at")?,
            })
        })
        .collect()
}

pub(crate) async fn periodic_set_paused(
    pool: &SqlitePool,
    name: &str,
    paused: bool,
) -> Result<bool, sqlx::Error> {
    let done =
        sqlx::query("UPDATE periodic_tasks SET paused = $2, updated_at = $3 WHERE name = $1")
            .bind(name)
            .bind(paused)
            .bind(now_ms())
            .execute(pool)
            .await?;
    Ok(done.rows_affected() == 1)
}

pub(crate) async fn periodic_request_run_now(
    pool: &SqlitePool,
    name: &str,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("UPDATE periodic_tasks SET run_now_requested_at = $2 WHERE name = $1")
        .bind(name)
        .bind(now_ms())
        .execute(pool)
        .await?;
    Ok(done.rows_affected() == 1)
}
