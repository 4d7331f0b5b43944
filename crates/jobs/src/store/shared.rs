//! The statements both dialects write alike, written once: the operator queries (counts,
//! listing, one job, retry, cancel, queue and periodic-task switches), queue depths, pruning,
//! cancelling by key and the periodic tasks' bookkeeping.
//!
//! sqlx binds `$n` placeholders on SQLite too, so one SQL text serves both databases. What
//! differs underneath is how a time is stored (epoch milliseconds on SQLite, `TIMESTAMPTZ` on
//! PostgreSQL): [`DbTime`] encodes and decodes either, and times are bound from this process
//! rather than taken from the database's clock. PostgreSQL also tells other nodes when a queue
//! has work ([`Store::announce`]). What really differs — claiming, completing, failing,
//! renewing and releasing batches, rescuing, staging, inserting — stays in `pg.rs` and
//! `sqlite.rs`.

use std::future::Future;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use posada_db::Conn;
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::{Decode, Encode, Postgres, Sqlite, Type};

use super::{PeriodicRow, SlotFire, Store, from_ms, pg, to_ms};
use crate::admin::{
    CountRow, JobDetail, JobError, JobState, JobSummary, ListFilter, Page, PeriodicTaskInfo,
};
use crate::job::NewJob;

/// Run `$body` with `$p` bound to the store's pool: the caller's (`main`) or the engine's
/// bookkeeping pool (`fast`) on PostgreSQL, the one pool on SQLite.
macro_rules! on_pool {
    ($store:expr, $which:ident, $p:ident => $body:expr) => {
        match $store {
            Store::Sqlite($p) => $body,
            Store::Postgres { $which: $p, .. } => $body,
        }
    };
}

/// A time column: integer milliseconds since the Unix epoch on SQLite, `TIMESTAMPTZ` on
/// PostgreSQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DbTime(pub DateTime<Utc>);

impl DbTime {
    /// Now, to the millisecond (what SQLite keeps, so a value read back compares equal on both).
    pub fn now() -> DbTime {
        DbTime(from_ms(to_ms(Utc::now())))
    }
}

impl Type<Sqlite> for DbTime {
    fn type_info() -> <Sqlite as sqlx::Database>::TypeInfo {
        <i64 as Type<Sqlite>>::type_info()
    }
    fn compatible(ty: &<Sqlite as sqlx::Database>::TypeInfo) -> bool {
        <i64 as Type<Sqlite>>::compatible(ty)
    }
}

impl<'q> Encode<'q, Sqlite> for DbTime {
    fn encode_by_ref(
        &self,
        buf: &mut <Sqlite as sqlx::Database>::ArgumentBuffer<'q>,
    ) -> Result<IsNull, BoxDynError> {
        <i64 as Encode<'q, Sqlite>>::encode(to_ms(self.0), buf)
    }
}

impl<'r> Decode<'r, Sqlite> for DbTime {
    fn decode(value: <Sqlite as sqlx::Database>::ValueRef<'r>) -> Result<Self, BoxDynError> {
        Ok(DbTime(from_ms(<i64 as Decode<'r, Sqlite>>::decode(value)?)))
    }
}

impl Type<Postgres> for DbTime {
    fn type_info() -> <Postgres as sqlx::Database>::TypeInfo {
        <DateTime<Utc> as Type<Postgres>>::type_info()
    }
    fn compatible(ty: &<Postgres as sqlx::Database>::TypeInfo) -> bool {
        <DateTime<Utc> as Type<Postgres>>::compatible(ty)
    }
}

impl<'q> Encode<'q, Postgres> for DbTime {
    fn encode_by_ref(
        &self,
        buf: &mut <Postgres as sqlx::Database>::ArgumentBuffer<'q>,
    ) -> Result<IsNull, BoxDynError> {
        <DateTime<Utc> as Encode<'q, Postgres>>::encode_by_ref(&self.0, buf)
    }
}

impl<'r> Decode<'r, Postgres> for DbTime {
    fn decode(value: <Postgres as sqlx::Database>::ValueRef<'r>) -> Result<Self, BoxDynError> {
        Ok(DbTime(<DateTime<Utc> as Decode<'r, Postgres>>::decode(
            value,
        )?))
    }
}

fn time(t: Option<DbTime>) -> Option<DateTime<Utc>> {
    t.map(|t| t.0)
}

fn state(s: &str) -> Result<JobState, sqlx::Error> {
    JobState::from_str(s).map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

/// A `jobs` row as listed.
#[derive(sqlx::FromRow)]
struct SummaryRow {
    id: i64,
    kind: String,
    queue: String,
    state: String,
    priority: i16,
    attempt: i32,
    max_attempts: i32,
    run_at: DbTime,
    unique_key: Option<String>,
    trace_id: Option<String>,
    node_id: Option<String>,
    lease_expires_at: Option<DbTime>,
    created_at: DbTime,
    attempted_at: Option<DbTime>,
    finished_at: Option<DbTime>,
    last_error: Option<String>,
}

impl TryFrom<SummaryRow> for JobSummary {
    type Error = sqlx::Error;
    fn try_from(r: SummaryRow) -> Result<Self, sqlx::Error> {
        Ok(JobSummary {
            id: r.id,
            kind: r.kind,
            queue: r.queue,
            state: state(&r.state)?,
            priority: r.priority,
            attempt: r.attempt,
            max_attempts: r.max_attempts,
            run_at: r.run_at.0,
            unique_key: r.unique_key,
            trace_id: r.trace_id,
            node_id: r.node_id,
            lease_expires_at: time(r.lease_expires_at),
            created_at: r.created_at.0,
            attempted_at: time(r.attempted_at),
            finished_at: time(r.finished_at),
            last_error: r.last_error,
        })
    }
}

/// A `jobs` row with its arguments (as text on both dialects).
#[derive(sqlx::FromRow)]
struct DetailRow {
    #[sqlx(flatten)]
    summary: SummaryRow,
    args: String,
}

/// A `periodic_tasks` row as listed.
#[derive(sqlx::FromRow)]
struct PeriodicTaskRow {
    name: String,
    schedule: String,
    tz: String,
    kind: String,
    last_slot: Option<DbTime>,
    next_run: Option<DbTime>,
    last_run_at: Option<DbTime>,
    last_duration_ms: Option<i64>,
    last_error: Option<String>,
    paused: bool,
    run_now_requested_at: Option<DbTime>,
}

const STATS: &str = "SELECT queue, state, kind, count(*) FROM jobs
    GROUP BY queue, state, kind ORDER BY queue, state, kind";

const LIST: &str =
    "SELECT id, kind, queue, state, priority, attempt, max_attempts, run_at, unique_key,
        trace_id, node_id, lease_expires_at, created_at, attempted_at, finished_at, last_error
    FROM jobs
    WHERE ($1 IS NULL OR queue = $1) AND ($2 IS NULL OR state = $2)
      AND ($3 IS NULL OR kind = $3) AND ($4 IS NULL OR id < $4)
    ORDER BY id DESC LIMIT $5";

/// The newest failing jobs (read through `jobs_failing_idx`).
const FAILING: &str =
    "SELECT id, kind, queue, state, priority, attempt, max_attempts, run_at, unique_key,
        trace_id, node_id, lease_expires_at, created_at, attempted_at, finished_at, last_error
    FROM jobs WHERE state IN ('discarded','retryable') ORDER BY id DESC LIMIT $1";

/// Live jobs by queue and state, and those finished since `$1` (each part read through its
/// partial index: no scan of the finished history).
const RECENT_COUNTS: &str = "SELECT queue, 'available', count(*) FROM jobs WHERE state = 'available' GROUP BY queue
    UNION ALL SELECT queue, state, count(*) FROM jobs WHERE state IN ('scheduled','retryable') GROUP BY queue, state
    UNION ALL SELECT queue, 'running', count(*) FROM jobs WHERE state = 'running' GROUP BY queue
    UNION ALL SELECT queue, state, count(*) FROM jobs WHERE state IN ('completed','cancelled','discarded')
        AND finished_at >= $1 GROUP BY queue, state";

const GET: &str =
    "SELECT id, kind, queue, state, priority, attempt, max_attempts, run_at, unique_key,
        trace_id, node_id, lease_expires_at, created_at, attempted_at, finished_at, last_error,
        CAST(args AS TEXT) AS args
    FROM jobs WHERE id = $1";

const ERRORS: &str =
    "SELECT attempt, message, at, node_id FROM job_errors WHERE job_id = $1 ORDER BY id";

/// A retried job that had used all its attempts gets one more.
const RETRY: &str = "UPDATE jobs SET state = 'available', run_at = $2,
        max_attempts = CASE WHEN max_attempts > attempt THEN max_attempts ELSE attempt + 1 END,
        finished_at = NULL, attempt_token = NULL, lease_expires_at = NULL
    WHERE id = $1 AND state IN ('discarded', 'cancelled', 'completed', 'retryable', 'scheduled')
    RETURNING queue";

const CANCEL: &str =
    "UPDATE jobs SET state = 'cancelled', finished_at = $2, lease_expires_at = NULL
    WHERE id = $1 AND state IN ('available', 'scheduled', 'running', 'retryable')";

const CANCEL_BY_KEY: &str = "UPDATE jobs SET state = 'cancelled', finished_at = $2
    WHERE unique_key = $1 AND state IN ('available', 'scheduled', 'retryable')";

const SET_QUEUE_PAUSED: &str =
    "INSERT INTO job_queues (name, paused, updated_at) VALUES ($1, $2, $3)
    ON CONFLICT (name) DO UPDATE SET paused = excluded.paused, updated_at = excluded.updated_at";

/// Completed and discarded jobs per slot since `$1`, slots of `$2` (milliseconds on SQLite,
/// seconds on PostgreSQL); the state conditions twice over so SQLite reads `jobs_finished_idx`.
const FINISHED_BY_SLOT_SQLITE: &str = "SELECT state, (finished_at - $1) / $2 AS slot, count(*)
    FROM jobs WHERE state IN ('completed', 'cancelled', 'discarded')
        AND state IN ('completed', 'discarded') AND finished_at >= $1
    GROUP BY state, slot";
const FINISHED_BY_SLOT_PG: &str =
    "SELECT state, CAST(floor(extract(epoch FROM (finished_at - $1)) / $2) AS BIGINT) AS slot,
        count(*)
    FROM jobs WHERE state IN ('completed', 'cancelled', 'discarded')
        AND state IN ('completed', 'discarded') AND finished_at >= $1
    GROUP BY state, slot";

const PAUSED_QUEUES: &str = "SELECT name FROM job_queues WHERE paused ORDER BY name";

const QUEUE_DEPTHS: &str = "SELECT queue, 'available', count(*) FROM jobs WHERE state = 'available' GROUP BY queue
    UNION ALL SELECT queue, state, count(*) FROM jobs WHERE state IN ('scheduled', 'retryable') GROUP BY queue, state
    UNION ALL SELECT queue, 'running', count(*) FROM jobs WHERE state = 'running' GROUP BY queue";

/// The state conditions twice over so SQLite, which matches partial indexes by their literal
/// terms, reads `jobs_finished_idx`.
const PRUNE_COMPLETED: &str = "DELETE FROM jobs WHERE id IN (
    SELECT id FROM jobs WHERE state IN ('completed', 'cancelled', 'discarded')
        AND state IN ('completed', 'cancelled') AND finished_at < $1 LIMIT 5000)";
const PRUNE_DISCARDED: &str = "DELETE FROM jobs WHERE id IN (
    SELECT id FROM jobs WHERE state IN ('completed', 'cancelled', 'discarded')
        AND state = 'discarded' AND finished_at < $1 LIMIT 5000)";
/// Rows one prune statement deletes at most.
const PRUNE_BATCH: u64 = 5000;

const PERIODIC_REGISTER: &str =
    "INSERT INTO periodic_tasks (name, schedule, tz, kind, last_slot, next_run, updated_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7)
    ON CONFLICT (name) DO UPDATE SET schedule = excluded.schedule, tz = excluded.tz,
        kind = excluded.kind, updated_at = excluded.updated_at";

const PERIODIC_ROWS: &str =
    "SELECT name, last_slot, paused, run_now_requested_at, last_run_at FROM periodic_tasks";

const PERIODIC_RECORD_RUN: &str =
    "UPDATE periodic_tasks SET last_run_at = $2, last_duration_ms = $3, last_error = $4
    WHERE name = $1";

const PERIODIC_LIST: &str =
    "SELECT name, schedule, tz, kind, last_slot, next_run, last_run_at, last_duration_ms,
        last_error, paused, run_now_requested_at
    FROM periodic_tasks ORDER BY name";

const PERIODIC_SET_PAUSED: &str =
    "UPDATE periodic_tasks SET paused = $2, updated_at = $3 WHERE name = $1";

const PERIODIC_REQUEST_RUN_NOW: &str =
    "UPDATE periodic_tasks SET run_now_requested_at = $2 WHERE name = $1";

/// A periodic slot is won by the node whose update moves `last_slot` forward.
const PERIODIC_TAKE_SLOT: &str =
    "UPDATE periodic_tasks SET last_slot = $2, next_run = $3, updated_at = $4
    WHERE name = $1 AND (last_slot IS NULL OR last_slot < $2)";

/// A run-now request is taken by the node whose update clears that very request.
const PERIODIC_TAKE_RUN_NOW: &str = "UPDATE periodic_tasks SET run_now_requested_at = NULL
    WHERE name = $1 AND run_now_requested_at = $2";

const PERIODIC_ENQUEUED: &str =
    "UPDATE periodic_tasks SET last_enqueued_at = $2, last_job_id = COALESCE($3, last_job_id)
    WHERE name = $1";

/// What the shared transactional statements need from each dialect's connection.
pub(crate) trait Dialect {
    /// The statement that starts a write transaction.
    const BEGIN: &'static str;

    /// Insert one job inside the caller's transaction; its id, `None` when a live job holds its
    /// unique key.
    fn insert_job<'c>(
        &'c mut self,
        job: &'c NewJob,
    ) -> impl Future<Output = Result<Option<i64>, sqlx::Error>> + Send + 'c;
}

/// Start a write transaction the dialect's way.
async fn begin_write<DB: sqlx::Database>(
    pool: &sqlx::Pool<DB>,
) -> Result<sqlx::Transaction<'static, DB>, sqlx::Error>
where
    DB::Connection: Dialect,
{
    pool.begin_with(<DB::Connection as Dialect>::BEGIN).await
}

/// Cancel live, not running jobs with `key`, inside the caller's transaction.
pub(crate) async fn cancel_by_key(conn: Conn<'_>, key: &str) -> Result<u64, sqlx::Error> {
    let now = DbTime::now();
    Ok(match conn {
        Conn::Sqlite(c) => {
            let q = sqlx::query(CANCEL_BY_KEY).bind(key).bind(now);
            q.execute(c).await?.rows_affected()
        }
        Conn::Postgres(c) => {
            let q = sqlx::query(CANCEL_BY_KEY).bind(key).bind(now);
            q.execute(c).await?.rows_affected()
        }
    })
}

impl Store {
    /// Tell the other nodes' workers that `queue` has available jobs (PostgreSQL `NOTIFY`; one
    /// SQLite file has one node, woken in process).
    async fn announce(&self, queue: &str) -> Result<(), sqlx::Error> {
        match self {
            Store::Sqlite(_) => Ok(()),
            Store::Postgres { main, .. } => pg::notify(main, queue).await,
        }
    }

    /// Job counts by queue, state and kind.
    pub async fn stats(&self) -> Result<Vec<CountRow>, sqlx::Error> {
        let rows: Vec<(String, String, String, i64)> =
            on_pool!(self, main, p => sqlx::query_as(STATS).fetch_all(p).await)?;
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

    /// (state, slot index, count) of the jobs completed or discarded since `since`.
    pub async fn finished_by_slot(
        &self,
        since: DateTime<Utc>,
        slot_ms: i64,
    ) -> Result<Vec<(JobState, i64, i64)>, sqlx::Error> {
        let since = DbTime(since);
        let rows: Vec<(String, i64, i64)> = match self {
            Store::Sqlite(p) => {
                sqlx::query_as(FINISHED_BY_SLOT_SQLITE)
                    .bind(since)
                    .bind(slot_ms)
                    .fetch_all(p)
                    .await?
            }
            Store::Postgres { main, .. } => {
                #[expect(clippy::cast_precision_loss, reason = "a slot is minutes long")]
                let seconds = slot_ms as f64 / 1000.0;
                sqlx::query_as(FINISHED_BY_SLOT_PG)
                    .bind(since)
                    .bind(seconds)
                    .fetch_all(main)
                    .await?
            }
        };
        rows.into_iter()
            .map(|(st, slot, count)| Ok((state(&st)?, slot, count)))
            .collect()
    }

    pub async fn list(
        &self,
        filter: &ListFilter,
        page: &Page,
    ) -> Result<Vec<JobSummary>, sqlx::Error> {
        let rows: Vec<SummaryRow> = on_pool!(self, main, p => sqlx::query_as(LIST)
            .bind(&filter.queue)
            .bind(filter.state.map(JobState::as_str))
            .bind(&filter.kind)
            .bind(page.before_id)
            .bind(i64::from(page.limit.min(1000)))
            .fetch_all(p)
            .await)?;
        rows.into_iter().map(JobSummary::try_from).collect()
    }

    pub async fn failing(&self, limit: u32) -> Result<Vec<JobSummary>, sqlx::Error> {
        let rows: Vec<SummaryRow> = on_pool!(self, main, p => sqlx::query_as(FAILING)
            .bind(i64::from(limit.min(1000)))
            .fetch_all(p)
            .await)?;
        rows.into_iter().map(JobSummary::try_from).collect()
    }

    pub async fn recent_counts(
        &self,
        since: DateTime<Utc>,
    ) -> Result<Vec<(String, JobState, i64)>, sqlx::Error> {
        let since = DbTime(since);
        let rows: Vec<(String, String, i64)> = on_pool!(self, main, p => sqlx::query_as(RECENT_COUNTS)
            .bind(since)
            .fetch_all(p)
            .await)?;
        rows.into_iter()
            .map(|(queue, st, count)| Ok((queue, state(&st)?, count)))
            .collect()
    }

    pub async fn get(&self, id: i64) -> Result<Option<JobDetail>, sqlx::Error> {
        let row: Option<DetailRow> =
            on_pool!(self, main, p => sqlx::query_as(GET).bind(id).fetch_optional(p).await)?;
        let Some(row) = row else {
            return Ok(None);
        };
        let errors: Vec<(i32, String, DbTime, Option<String>)> =
            on_pool!(self, main, p => sqlx::query_as(ERRORS).bind(id).fetch_all(p).await)?;
        let args = serde_json::from_str(&row.args).unwrap_or(serde_json::Value::String(row.args));
        Ok(Some(JobDetail {
            job: row.summary.try_into()?,
            args,
            errors: errors
                .into_iter()
                .map(|(attempt, message, at, node_id)| JobError {
                    attempt,
                    message,
                    at: at.0,
                    node_id,
                })
                .collect(),
        }))
    }

    /// The id of the live job holding `key`, if any.
    pub async fn live_id(&self, key: &str) -> Result<Option<i64>, sqlx::Error> {
        on_pool!(self, main, p => sqlx::query_scalar(
            "SELECT id FROM jobs WHERE unique_key = $1 AND state IN ('available', 'scheduled', 'running', 'retryable') ORDER BY id LIMIT 1")
            .bind(key)
            .fetch_optional(p)
            .await)
    }

    /// Make a finished or waiting job available now. `Ok(None)` when the job cannot be retried
    /// (missing or running); `Err` with a unique violation when its key is live elsewhere.
    pub async fn retry(&self, id: i64) -> Result<Option<String>, sqlx::Error> {
        let queue: Option<String> = on_pool!(self, main, p => sqlx::query_scalar(RETRY)
            .bind(id)
            .bind(DbTime::now())
            .fetch_optional(p)
            .await)?;
        if let Some(queue) = &queue {
            self.announce(queue).await?;
        }
        Ok(queue)
    }

    pub async fn cancel(&self, id: i64) -> Result<bool, sqlx::Error> {
        let done = on_pool!(self, main, p => sqlx::query(CANCEL)
            .bind(id)
            .bind(DbTime::now())
            .execute(p)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(done == 1)
    }

    pub async fn set_queue_paused(&self, queue: &str, paused: bool) -> Result<(), sqlx::Error> {
        on_pool!(self, main, p => sqlx::query(SET_QUEUE_PAUSED)
            .bind(queue)
            .bind(paused)
            .bind(DbTime::now())
            .execute(p)
            .await
            .map(|r| r.rows_affected()))?;
        if !paused {
            self.announce(queue).await?;
        }
        Ok(())
    }

    pub async fn paused_queues(&self) -> Result<Vec<String>, sqlx::Error> {
        on_pool!(self, main, p => sqlx::query_scalar(PAUSED_QUEUES).fetch_all(p).await)
    }

    /// Live jobs by (queue, state).
    pub async fn queue_depths(&self) -> Result<Vec<(String, String, i64)>, sqlx::Error> {
        on_pool!(self, fast, p => sqlx::query_as(QUEUE_DEPTHS).fetch_all(p).await)
    }

    pub async fn prune(
        &self,
        completed_before: DateTime<Utc>,
        discarded_before: DateTime<Utc>,
    ) -> Result<u64, sqlx::Error> {
        let mut total = 0;
        for (sql, before) in [
            (PRUNE_COMPLETED, completed_before),
            (PRUNE_DISCARDED, discarded_before),
        ] {
            loop {
                let done = on_pool!(self, fast, p => sqlx::query(sql)
                    .bind(DbTime(before))
                    .execute(p)
                        .await
                    .map(|r| r.rows_affected()))?;
                total += done;
                if done < PRUNE_BATCH {
                    break;
                }
            }
        }
        Ok(total)
    }

    // ---- periodic tasks (durable writes: the caller's pool) ----

    pub async fn periodic_register(
        &self,
        name: &str,
        schedule: &str,
        tz: &str,
        kind: &str,
        initial_slot: Option<DateTime<Utc>>,
        next_run: Option<DateTime<Utc>>,
    ) -> Result<(), sqlx::Error> {
        on_pool!(self, main, p => sqlx::query(PERIODIC_REGISTER)
            .bind(name)
            .bind(schedule)
            .bind(tz)
            .bind(kind)
            .bind(initial_slot.map(DbTime))
            .bind(next_run.map(DbTime))
            .bind(DbTime::now())
            .execute(p)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    pub async fn periodic_rows(&self) -> Result<Vec<PeriodicRow>, sqlx::Error> {
        type TaskRow = (String, Option<DbTime>, bool, Option<DbTime>, Option<DbTime>);
        let rows: Vec<TaskRow> =
            on_pool!(self, main, p => sqlx::query_as(PERIODIC_ROWS).fetch_all(p).await)?;
        Ok(rows
            .into_iter()
            .map(
                |(name, last_slot, paused, run_now, last_run_at)| PeriodicRow {
                    name,
                    last_slot: time(last_slot),
                    paused,
                    run_now_requested_at: time(run_now),
                    last_run_at: time(last_run_at),
                },
            )
            .collect())
    }

    pub async fn periodic_record_run(
        &self,
        name: &str,
        finished_at: DateTime<Utc>,
        duration_ms: i64,
        error: Option<&str>,
    ) -> Result<(), sqlx::Error> {
        on_pool!(self, fast, p => sqlx::query(PERIODIC_RECORD_RUN)
            .bind(name)
            .bind(DbTime(finished_at))
            .bind(duration_ms)
            .bind(error)
            .execute(p)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Advance `last_slot` to `fire.slot` if it is behind (compare-and-set) and, in the same
    /// transaction, enqueue the slot's job. Returns `Some(job id or None)` when this node won.
    pub async fn periodic_fire(
        &self,
        fire: SlotFire<'_>,
    ) -> Result<Option<Option<i64>>, sqlx::Error> {
        on_pool!(self, main, p => {
            let mut tx = begin_write(p).await?;
            let won = sqlx::query(PERIODIC_TAKE_SLOT)
                .bind(fire.name)
                .bind(DbTime(fire.slot))
                .bind(fire.next_run.map(DbTime))
                .bind(DbTime::now())
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if won == 0 {
                tx.rollback().await?;
                return Ok(None);
            }
            let mut id = None;
            if let Some(job) = &fire.job {
                id = tx.insert_job(job).await?;
                sqlx::query(PERIODIC_ENQUEUED)
                    .bind(fire.name)
                    .bind(DbTime::now())
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok(Some(id))
        })
    }

    /// Take a run-now request (compare-and-set on its time) and enqueue the job.
    pub async fn periodic_take_run_now(
        &self,
        name: &str,
        requested_at: DateTime<Utc>,
        job: NewJob,
    ) -> Result<Option<Option<i64>>, sqlx::Error> {
        on_pool!(self, main, p => {
            let mut tx = begin_write(p).await?;
            let won = sqlx::query(PERIODIC_TAKE_RUN_NOW)
                .bind(name)
                .bind(DbTime(requested_at))
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if won == 0 {
                tx.rollback().await?;
                return Ok(None);
            }
            let id = tx.insert_job(&job).await?;
            sqlx::query(PERIODIC_ENQUEUED)
                .bind(name)
                .bind(DbTime::now())
                .bind(id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(Some(id))
        })
    }

    pub async fn periodic_list(&self) -> Result<Vec<PeriodicTaskInfo>, sqlx::Error> {
        let rows: Vec<PeriodicTaskRow> =
            on_pool!(self, main, p => sqlx::query_as(PERIODIC_LIST).fetch_all(p).await)?;
        Ok(rows
            .into_iter()
            .map(|r| PeriodicTaskInfo {
                name: r.name,
                schedule: r.schedule,
                tz: r.tz,
                kind: r.kind,
                last_slot: time(r.last_slot),
                next_run: time(r.next_run),
                last_run_at: time(r.last_run_at),
                last_duration_ms: r.last_duration_ms,
                last_error: r.last_error,
                paused: r.paused,
                run_now_requested_at: time(r.run_now_requested_at),
            })
            .collect())
    }

    pub async fn periodic_set_paused(&self, name: &str, paused: bool) -> Result<bool, sqlx::Error> {
        let done = on_pool!(self, main, p => sqlx::query(PERIODIC_SET_PAUSED)
            .bind(name)
            .bind(paused)
            .bind(DbTime::now())
            .execute(p)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(done == 1)
    }

    pub async fn periodic_request_run_now(&self, name: &str) -> Result<bool, sqlx::Error> {
        let done = on_pool!(self, main, p => sqlx::query(PERIODIC_REQUEST_RUN_NOW)
            .bind(name)
            .bind(DbTime::now())
            .execute(p)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(done == 1)
    }
}
