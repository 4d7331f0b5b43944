//! PostgreSQL statements: `FOR UPDATE SKIP LOCKED` claims, `UNNEST` batches, and `pg_notify`
//! sent from inside the statement that makes a job available (so it is delivered at commit).

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::postgres::PgPoolOptions;
use sqlx::{PgConnection, PgPool};

use super::Dialect;
use super::{Claimed, Failure, Release, Rescued, Staged};
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
RETURNING j.id, j.kind, j.args::text AS args, j.priority, j.attempt, j.max_attempts, j.trace_id, j.unique_key";

pub(crate) async fn claim(
    pool: &PgPool,
    queue: &str,
    kinds: &[String],
    limit: usize,
    token: i64,
    node: &str,
    lease: Duration,
) -> Result<Vec<Claimed>, sqlx::Error> {
    let mut claimed: Vec<Claimed> = sqlx::query_as(CLAIM)
        .bind(queue)
        .bind(kinds)
        .bind(limit as i64)
        .bind(token)
        .bind(node)
        .bind(lease.as_secs_f64())
        .fetch_all(pool)
        .await?;
    for c in &mut claimed {
        c.token = token;
    }
    Ok(claimed)
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

/// Wake the workers of every node listening for `queue`.
pub(crate) async fn notify(pool: &PgPool, queue: &str) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(super::NOTIFY_CHANNEL)
        .bind(queue)
        .execute(pool)
        .await?;
    Ok(())
}

impl Dialect for PgConnection {
    const BEGIN: &'static str = "BEGIN";

    /// Periodic jobs are enqueued by the scheduler, whose node may run no workers: always
    /// `NOTIFY`.
    async fn insert_job(&mut self, job: &NewJob) -> Result<Option<i64>, sqlx::Error> {
        Ok(insert_one(self, job, true).await?.map(|(id, _)| id))
    }
}
