//! PostgreSQL statements: `FOR UPDATE SKIP LOCKED` claims, `UNNEST` batches, and `pg_notify`
//! sent from inside the statement that makes a job available (so it is delivered at commit).

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::postgres::{PgPoolOptions, PgRow};
use sqlx::{PgConnection, PgPool, Row};

use super::{Claimed, Failure, PeriodicRow, Release, Rescued, SlotFire, Staged};
use crate::admin::{
    CountRow, JobDetail, JobError, JobState, JobSummary, ListFilter, Page, PeriodicTaskInfo,
};
use crate::job::NewJob;

/// The engine's own small pool: same server and credentials, `synchronous_commit = off`.
pub(crate) async fn bookkeeping_pool(
    main: &PgPool,
    connections: u32,
) -> Result<PgPool, sqlx::Error> {
    let options = (*main.connect_options())
        .clone()
        .application_name("posada-jobs")
        .options([("synchronous_commit", "off")]);
    PgPoolOptions::new()
        .max_connections(connections.max(2))
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(options)
        .await
}

const INSERT_ONE: &str = "WITH ins AS (
    INSERT INTO jobs (kind, queue, args, state, priority, max_attempts, run_at, unique_key, trace_id)
    VALUES ($1, $2, $3::jsonb,
            CASE WHEN $6::timestamptz IS NULL OR $6::timestamptz <= clock_timestamp() THEN 'available' ELSE 'scheduled' END,
            $4, $5, COALESCE($6::timestamptz, clock_timestamp()), $7, $8)
    ON CONFLICT DO NOTHING
    RETURNING id, queue, state
), n AS (SELECT pg_notify('posada_jobs', queue) FROM ins WHERE state = 'available' AND $9)
SELECT id, state, (SELECT count(*) FROM n) FROM ins";

/// Insert one job; `None` when a live job holds its unique key. Returns the id and whether it
/// is available now (else scheduled). `notify`: send `NOTIFY` for it (other nodes' workers).
pub(crate) async fn insert_one(
    conn: &mut PgConnection,
    job: &NewJob,
    notify: bool,
) -> Result<Option<(i64, bool)>, sqlx::Error> {
    let row: Option<(i64, String, i64)> = sqlx::query_as(INSERT_ONE)
        .bind(&job.kind)
        .bind(&job.queue)
        .bind(&job.args)
        .bind(job.priority)
        .bind(job.max_attempts)
        .bind(job.run_at)
        .bind(&job.unique_key)
        .bind(&job.trace_id)
        .bind(notify)
        .fetch_optional(conn)
        .await?;
    Ok(row.map(|(id, state, _)| (id, state == "available")))
}

const INSERT_MANY: &str = "WITH ins AS (
    INSERT INTO jobs (kind, queue, args, state, priority, max_attempts, run_at, unique_key, trace_id)
    SELECT k, q, a::jsonb,
           CASE WHEN r IS NULL OR r <= clock_timestamp() THEN 'available' ELSE 'scheduled' END,
           p, m, COALESCE(r, clock_timestamp()), u, t
    FROM UNNEST($1::text[], $2::text[], $3::text[], $4::int2[], $5::int4[], $6::timestamptz[], $7::text[], $8::text[])
         AS x(k, q, a, p, m, r, u, t)
    ON CONFLICT DO NOTHING
    RETURNING queue, state
), n AS (SELECT pg_notify('posada_jobs', queue) FROM (SELECT DISTINCT queue FROM ins WHERE state = 'available' AND $9) d)
SELECT (SELECT count(*) FROM ins), (SELECT count(*) FROM n)";

/// Insert a batch in one statement; returns how many were inserted (duplicates skipped).
pub(crate) async fn insert_many(
    conn: &mut PgConnection,
    jobs: &[NewJob],
    notify: bool,
) -> Result<u64, sqlx::Error> {
    if jobs.is_empty() {
        return Ok(0);
    }
    let mut kinds = Vec::with_capacity(jobs.len());
    let mut queues = Vec::with_capacity(jobs.len());
    let mut args = Vec::with_capacity(jobs.len());
    let mut prios = Vec::with_capacity(jobs.len());
    let mut maxes = Vec::with_capacity(jobs.len());
    let mut runs = Vec::with_capacity(jobs.len());
    let mut keys = Vec::with_capacity(jobs.len());
    let mut traces = Vec::with_capacity(jobs.len());
    for j in jobs {
        kinds.push(j.kind.as_str());
        queues.push(j.queue.as_str());
        args.push(j.args.as_str());
        prios.push(j.priority);
        maxes.push(j.max_attempts);
        runs.push(j.run_at);
        keys.push(j.unique_key.as_deref());
        traces.push(j.trace_id.as_deref());
    }
    let (inserted, _): (i64, i64) = sqlx::query_as(INSERT_MANY)
        .bind(kinds)
        .bind(queues)
        .bind(args)
        .bind(prios)
        .bind(maxes)
        .bind(runs)
        .bind(keys)
        .bind(traces)
        .bind(notify)
        .fetch_one(conn)
        .await?;
    Ok(inserted as u64)
}

/// Cancel live, not running jobs with `key`.
pub(crate) async fn cancel_by_key(conn: &mut PgConnection, key: &str) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE jobs SET state = 'cancelled', finished_at = clock_timestamp()
         WHERE unique_key = $1 AND state IN ('available', 'scheduled', 'retryable')",
    )
    .bind(key)
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

const CLAIM: &str = "WITH picked AS (
    SELECT id FROM jobs
    WHERE state = 'available' AND queue = $1 AND kind = ANY($2)
      AND NOT EXISTS (SELECT 1 FROM job_queues WHERE name = $1 AND paused)
    ORDER BY priority DESC, run_at, id
    LIMIT $3
    FOR UPDATE SKIP LOCKED
)
UPDATE jobs j SET state = 'running', attempt = j.attempt + 1, attempt_token = $4, node_id = $5,
    attempted_at = clock_timestamp(), lease_expires_at = clock_timestamp() + make_interval(secs => $6)
FROM picked WHERE j.id = picked.id
RETURNING j.id, j.kind, j.args::text, j.priority, j.attempt, j.max_attempts, j.trace_id, j.unique_key";

pub(crate) async fn claim(
    pool: &PgPool,
    queue: &str,
    kinds: &[String],
    limit: usize,
    token: i64,
    node: &str,
    lease: Duration,
) -> Result<Vec<Claimed>, sqlx::Error> {
    let rows = sqlx::query(CLAIM)
        .bind(queue)
        .bind(kinds)
        .bind(limit as i64)
        .bind(token)
        .bind(node)
        .bind(lease.as_secs_f64())
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

fn split(pairs: &[(i64, i64)]) -> (Vec<i64>, Vec<i64>) {
    pairs.iter().copied().unzip()
}

pub(crate) async fn complete(pool: &PgPool, done: &[(i64, i64)]) -> Result<Vec<i64>, sqlx::Error> {
    let (ids, tokens) = split(done);
    sqlx::query_scalar(
        "UPDATE jobs j SET state = 'completed', finished_at = clock_timestamp(), lease_expires_at = NULL
         FROM UNNEST($1::bigint[], $2::bigint[]) AS d(id, token)
         WHERE j.id = d.id AND j.attempt_token = d.token AND j.state = 'running'
         RETURNING j.id",
    )
    .bind(ids)
    .bind(tokens)
    .fetch_all(pool)
    .await
}

pub(crate) async fn fail(
    pool: &PgPool,
    failures: &[Failure],
    node: &str,
) -> Result<Vec<i64>, sqlx::Error> {
    let ids: Vec<i64> = failures.iter().map(|f| f.id).collect();
    let tokens: Vec<i64> = failures.iter().map(|f| f.token).collect();
    let msgs: Vec<&str> = failures.iter().map(|f| f.message.as_str()).collect();
    let retry: Vec<Option<DateTime<Utc>>> = failures.iter().map(|f| f.retry_at).collect();
    sqlx::query_scalar(
        "WITH d AS (SELECT * FROM UNNEST($1::bigint[], $2::bigint[], $3::text[], $4::timestamptz[]) AS d(id, token, msg, retry_at)),
         u AS (
            UPDATE jobs j SET
                state = CASE WHEN d.retry_at IS NULL THEN 'discarded' ELSE 'retryable' END,
                run_at = COALESCE(d.retry_at, j.run_at),
                finished_at = CASE WHEN d.retry_at IS NULL THEN clock_timestamp() END,
                last_error = d.msg, lease_expires_at = NULL, attempt_token = NULL
            FROM d WHERE j.id = d.id AND j.attempt_token = d.token AND j.state = 'running'
            RETURNING j.id, j.attempt, d.msg
         )
         INSERT INTO job_errors (job_id, attempt, message, node_id)
         SELECT id, attempt, msg, $5 FROM u RETURNING job_id",
    )
    .bind(ids)
    .bind(tokens)
    .bind(msgs)
    .bind(retry)
    .bind(node)
    .fetch_all(pool)
    .await
}

pub(crate) async fn heartbeat(
    pool: &PgPool,
    held: &[(i64, i64)],
    lease: Duration,
) -> Result<Vec<i64>, sqlx::Error> {
    let (ids, tokens) = split(held);
    sqlx::query_scalar(
        "UPDATE jobs j SET lease_expires_at = clock_timestamp() + make_interval(secs => $3)
         FROM UNNEST($1::bigint[], $2::bigint[]) AS d(id, token)
         WHERE j.id = d.id AND j.attempt_token = d.token AND j.state = 'running'
         RETURNING j.id",
    )
    .bind(ids)
    .bind(tokens)
    .bind(lease.as_secs_f64())
    .fetch_all(pool)
    .await
}

pub(crate) async fn release(
    pool: &PgPool,
    jobs: &[Release],
    node: &str,
) -> Result<Vec<String>, sqlx::Error> {
    let ids: Vec<i64> = jobs.iter().map(|j| j.id).collect();
    let tokens: Vec<i64> = jobs.iter().map(|j| j.token).collect();
    let started: Vec<bool> = jobs.iter().map(|j| j.started).collect();
    let queues: Vec<(String, i64)> = sqlx::query_as(
        "WITH r AS (
            UPDATE jobs j SET state = 'available',
                attempt = CASE WHEN d.started THEN j.attempt ELSE j.attempt - 1 END,
                attempt_token = NULL, lease_expires_at = NULL,
                last_error = CASE WHEN d.started THEN 'interrupted by worker shutdown' ELSE j.last_error END
            FROM UNNEST($1::bigint[], $2::bigint[], $3::bool[]) AS d(id, token, started)
            WHERE j.id = d.id AND j.attempt_token = d.token AND j.state = 'running'
            RETURNING j.id, j.queue, j.attempt, d.started
         ),
         e AS (INSERT INTO job_errors (job_id, attempt, message, node_id)
               SELECT id, attempt, 'interrupted by worker shutdown', $4 FROM r WHERE started),
         n AS (SELECT pg_notify('posada_jobs', queue) FROM (SELECT DISTINCT queue FROM r) q)
         SELECT DISTINCT queue, (SELECT count(*) FROM n) FROM r",
    )
    .bind(ids)
    .bind(tokens)
    .bind(started)
    .bind(node)
    .fetch_all(pool)
    .await?;
    Ok(queues.into_iter().map(|(q, _)| q).collect())
}

pub(crate) async fn rescue(pool: &PgPool) -> Result<(Vec<Rescued>, Vec<String>), sqlx::Error> {
    let rows: Vec<(String, String, String, i64)> = sqlx::query_as(
        "WITH r AS (
            UPDATE jobs SET
                state = CASE WHEN attempt >= max_attempts THEN 'discarded' ELSE 'available' END,
                finished_at = CASE WHEN attempt >= max_attempts THEN clock_timestamp() END,
                last_error = 'lease expired: worker ' || COALESCE(node_id, '?') || ' stopped renewing it',
                attempt_token = NULL, lease_expires_at = NULL
            WHERE id IN (SELECT id FROM jobs WHERE state = 'running' AND lease_expires_at < statement_timestamp()
                         ORDER BY lease_expires_at LIMIT 1000 FOR UPDATE SKIP LOCKED)
            RETURNING id, kind, queue, attempt, state, last_error, node_id
         ),
         e AS (INSERT INTO job_errors (job_id, attempt, message, node_id)
               SELECT id, attempt, last_error, node_id FROM r),
         n AS (SELECT pg_notify('posada_jobs', queue) FROM (SELECT DISTINCT queue FROM r WHERE state = 'available') q)
         SELECT kind, state, queue, (SELECT count(*) FROM n) FROM r",
    )
    .fetch_all(pool)
    .await?;
    let mut queues: Vec<String> = Vec::new();
    let rescued = rows
        .into_iter()
        .map(|(kind, state, queue, _)| {
            if !queues.contains(&queue) {
                queues.push(queue);
            }
            Rescued {
                kind,
                discarded: state == "discarded",
            }
        })
        .collect();
    Ok((rescued, queues))
}

/// `statement_timestamp()`, not `clock_timestamp()`: a stable function can bound the index scan
/// on `jobs_due_idx`; a volatile one is a filter over every scheduled row.
pub(crate) async fn stage(pool: &PgPool) -> Result<Staged, sqlx::Error> {
    let (promoted, queues, _, next_due): (i64, Option<Vec<String>>, i64, Option<DateTime<Utc>>) = sqlx::query_as(
        "WITH p AS (
            UPDATE jobs SET state = 'available'
            WHERE id IN (SELECT id FROM jobs WHERE state IN ('scheduled', 'retryable') AND run_at <= statement_timestamp()
                         ORDER BY run_at LIMIT 10000 FOR UPDATE SKIP LOCKED)
            RETURNING queue
         ),
         q AS (SELECT DISTINCT queue FROM p),
         n AS (SELECT pg_notify('posada_jobs', queue) FROM q)
         SELECT (SELECT count(*) FROM p), (SELECT array_agg(queue) FROM q), (SELECT count(*) FROM n),
                (SELECT min(run_at) FROM jobs WHERE state IN ('scheduled', 'retryable') AND run_at > statement_timestamp())",
    )
    .fetch_one(pool)
    .await?;
    Ok(Staged {
        promoted: promoted as u64,
        queues: queues.unwrap_or_default(),
        next_due,
    })
}

pub(crate) async fn prune(
    pool: &PgPool,
    completed_before: DateTime<Utc>,
    discarded_before: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    let mut total = 0;
    for (states, before) in [
        (&["completed", "cancelled"][..], completed_before),
        (&["discarded"][..], discarded_before),
    ] {
        loop {
            let done = sqlx::query(
                "DELETE FROM jobs WHERE id IN (
                    SELECT id FROM jobs WHERE state = ANY($1) AND finished_at < $2 LIMIT 5000)",
            )
            .bind(states)
            .bind(before)
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

pub(crate) async fn queue_depths(pool: &PgPool) -> Result<Vec<(String, String, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT queue, 'available', count(*) FROM jobs WHERE state = 'available' GROUP BY queue
         UNION ALL SELECT queue, state, count(*) FROM jobs WHERE state IN ('scheduled', 'retryable') GROUP BY queue, state
         UNION ALL SELECT queue, 'running', count(*) FROM jobs WHERE state = 'running' GROUP BY queue",
    )
    .fetch_all(pool)
    .await
}

/// Record this node's heartbeat; returns whether another node with workers has beaten within
/// `alive` (its workers need `NOTIFY` to hear of this node's jobs at once).
pub(crate) async fn node_heartbeat(
    pool: &PgPool,
    node: &str,
    started_at: DateTime<Utc>,
    queues: &str,
    scheduler: bool,
    alive: Duration,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "WITH up AS (
            INSERT INTO job_nodes (node_id, started_at, heartbeat_at, queues, scheduler)
            VALUES ($1, $2, clock_timestamp(), $3, $4)
            ON CONFLICT (node_id) DO UPDATE SET heartbeat_at = clock_timestamp(), queues = excluded.queues,
                scheduler = excluded.scheduler
         )
         SELECT EXISTS (SELECT 1 FROM job_nodes WHERE node_id <> $1 AND queues <> ''
                          AND heartbeat_at > clock_timestamp() - make_interval(secs => $5))",
    )
    .bind(node)
    .bind(started_at)
    .bind(queues)
    .bind(scheduler)
    .bind(alive.as_secs_f64())
    .fetch_one(pool)
    .await
}

// ---- periodic ----

pub(crate) async fn periodic_register(
    pool: &PgPool,
    name: &str,
    schedule: &str,
    tz: &str,
    kind: &str,
    initial_slot: Option<DateTime<Utc>>,
    next_run: Option<DateTime<Utc>>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO periodic_tasks (name, schedule, tz, kind, last_slot, next_run)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (name) DO UPDATE SET schedule = excluded.schedule, tz = excluded.tz,
             kind = excluded.kind, updated_at = now()",
    )
    .bind(name)
    .bind(schedule)
    .bind(tz)
    .bind(kind)
    .bind(initial_slot)
    .bind(next_run)
    .execute(pool)
    .await?;
    Ok(())
}

pub(crate) async fn periodic_rows(pool: &PgPool) -> Result<Vec<PeriodicRow>, sqlx::Error> {
    type Time = Option<DateTime<Utc>>;
    let rows: Vec<(String, Time, bool, Time, Time)> = sqlx::query_as(
        "SELECT name, last_slot, paused, run_now_requested_at, last_run_at FROM periodic_tasks",
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(name, last_slot, paused, run_now_requested_at, last_run_at)| PeriodicRow {
                name,
                last_slot,
                paused,
                run_now_requested_at,
                last_run_at,
            },
        )
        .collect())
}

pub(crate) async fn periodic_fire(
    pool: &PgPool,
    fire: SlotFire<'_>,
) -> Result<Option<Option<i64>>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let won = sqlx::query(
        "UPDATE periodic_tasks SET last_slot = $2, next_run = $3, updated_at = now()
         WHERE name = $1 AND (last_slot IS NULL OR last_slot < $2)",
    )
    .bind(fire.name)
    .bind(fire.slot)
    .bind(fire.next_run)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if won == 0 {
        tx.rollback().await?;
        return Ok(None);
    }
    let mut id = None;
    if let Some(job) = &fire.job {
        id = insert_one(&mut tx, job, true).await?.map(|(id, _)| id);
        sqlx::query(
            "UPDATE periodic_tasks SET last_enqueued_at = now(), last_job_id = COALESCE($2, last_job_id) WHERE name = $1",
        )
        .bind(fire.name)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(Some(id))
}

pub(crate) async fn periodic_take_run_now(
    pool: &PgPool,
    name: &str,
    requested_at: DateTime<Utc>,
    job: NewJob,
) -> Result<Option<Option<i64>>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let won = sqlx::query(
        "UPDATE periodic_tasks SET run_now_requested_at = NULL WHERE name = $1 AND run_now_requested_at = $2",
    )
    .bind(name)
    .bind(requested_at)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if won == 0 {
        tx.rollback().await?;
        return Ok(None);
    }
    let id = insert_one(&mut tx, &job, true).await?.map(|(id, _)| id);
    sqlx::query(
        "UPDATE periodic_tasks SET last_enqueued_at = now(), last_job_id = COALESCE($2, last_job_id) WHERE name = $1",
    )
    .bind(name)
    .bind(id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Some(id))
}

pub(crate) async fn periodic_record_run(
    pool: &PgPool,
    name: &str,
    finished_at: DateTime<Utc>,
    duration_ms: i64,
    error: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE periodic_tasks SET last_run_at = $2, last_duration_ms = $3, last_error = $4 WHERE name = $1",
    )
    .bind(name)
    .bind(finished_at)
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

pub(crate) async fn stats(pool: &PgPool) -> Result<Vec<CountRow>, sqlx::Error> {
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

fn summary(r: &PgRow) -> Result<JobSummary, sqlx::Error> {
    let st: String = r.try_get("state")?;
    Ok(JobSummary {
        id: r.try_get("id")?,
        kind: r.try_get("kind")?,
        queue: r.try_get("queue")?,
        state: state(&st)?,
        priority: r.try_get("priority")?,
        attempt: r.try_get("attempt")?,
        max_attempts: r.try_get("max_attempts")?,
        run_at: r.try_get("run_at")?,
        unique_key: r.try_get("unique_key")?,
        trace_id: r.try_get("trace_id")?,
        node_id: r.try_get("node_id")?,
        lease_expires_at: r.try_get("lease_expires_at")?,
        created_at: r.try_get("created_at")?,
        attempted_at: r.try_get("attempted_at")?,
        finished_at: r.try_get("finished_at")?,
        last_error: r.try_get("last_error")?,
    })
}

pub(crate) async fn list(
    pool: &PgPool,
    filter: &ListFilter,
    page: &Page,
) -> Result<Vec<JobSummary>, sqlx::Error> {
    let sql = format!(
        "SELECT {SUMMARY_COLUMNS} FROM jobs
         WHERE ($1::text IS NULL OR queue = $1) AND ($2::text IS NULL OR state = $2)
           AND ($3::text IS NULL OR kind = $3) AND ($4::bigint IS NULL OR id < $4)
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

pub(crate) async fn get(pool: &PgPool, id: i64) -> Result<Option<JobDetail>, sqlx::Error> {
    let sql = format!("SELECT {SUMMARY_COLUMNS}, args FROM jobs WHERE id = $1");
    let Some(row) = sqlx::query(&sql).bind(id).fetch_optional(pool).await? else {
        return Ok(None);
    };
    let job = summary(&row)?;
    let args: serde_json::Value = row.try_get("args")?;
    let errors: Vec<(i32, String, DateTime<Utc>, Option<String>)> = sqlx::query_as(
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
                at,
                node_id,
            })
            .collect(),
    }))
}

pub(crate) async fn retry(pool: &PgPool, id: i64) -> Result<Option<String>, sqlx::Error> {
    let row: Option<(String, i64)> = sqlx::query_as(
        "WITH r AS (
            UPDATE jobs SET state = 'available', run_at = clock_timestamp(),
                max_attempts = GREATEST(max_attempts, attempt + 1),
                finished_at = NULL, attempt_token = NULL, lease_expires_at = NULL
            WHERE id = $1 AND state IN ('discarded', 'cancelled', 'completed', 'retryable', 'scheduled')
            RETURNING queue
         ),
         n AS (SELECT pg_notify('posada_jobs', queue) FROM r)
         SELECT queue, (SELECT count(*) FROM n) FROM r",
    )
    .bind(id)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|(q, _)| q))
}

pub(crate) async fn cancel(pool: &PgPool, id: i64) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE jobs SET state = 'cancelled', finished_at = clock_timestamp(), lease_expires_at = NULL
         WHERE id = $1 AND state IN ('available', 'scheduled', 'running', 'retryable')",
    )
    .bind(id)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub(crate) async fn set_queue_paused(
    pool: &PgPool,
    queue: &str,
    paused: bool,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "WITH u AS (
            INSERT INTO job_queues (name, paused, updated_at) VALUES ($1, $2, now())
            ON CONFLICT (name) DO UPDATE SET paused = excluded.paused, updated_at = now()
            RETURNING name, paused
         ),
         n AS (SELECT pg_notify('posada_jobs', name) FROM u WHERE NOT paused)
         SELECT count(*) FROM n",
    )
    .bind(queue)
    .bind(paused)
    .execute(pool)
    .await?;
    Ok(())
}

pub(crate) async fn paused_queues(pool: &PgPool) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT name FROM job_queues WHERE paused ORDER BY name")
        .fetch_all(pool)
        .await
}

pub(crate) async fn periodic_list(pool: &PgPool) -> Result<Vec<PeriodicTaskInfo>, sqlx::Error> {
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
                last_slot: r.try_get("last_slot")?,
                next_run: r.try_get("next_run")?,
                last_run_at: r.try_get("last_run_at")?,
                last_duration_ms: r.try_get("last_duration_ms")?,
                last_error: r.try_get("last_error")?,
                paused: r.try_get("paused")?,
                run_now_requested_at: r.try_get("run_now_requested_at")?,
            })
        })
        .collect()
}

pub(crate) async fn periodic_set_paused(
    pool: &PgPool,
    name: &str,
    paused: bool,
) -> Result<bool, sqlx::Error> {
    let done =
        sqlx::query("UPDATE periodic_tasks SET paused = $2, updated_at = now() WHERE name = $1")
            .bind(name)
            .bind(paused)
            .execute(pool)
            .await?;
    Ok(done.rows_affected() == 1)
}

pub(crate) async fn periodic_request_run_now(
    pool: &PgPool,
    name: &str,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE periodic_tasks SET run_now_requested_at = date_trunc('milliseconds', clock_timestamp()) WHERE name = $1",
    )
    .bind(name)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}
