//! The enqueue side: [`Jobs`] inserts jobs (alone, in batches, or inside the caller's
//! transaction) and wakes this process's workers at once.
//!
//! Waking matters for latency: a process that enqueues wakes its own workers directly. On
//! PostgreSQL the insert statement also sends `NOTIFY` (delivered at commit) for other nodes'
//! workers, but only while some other live node runs workers or this process serves no worker
//! for the queue: a notifying commit takes a database-wide lock. SQLite has no `NOTIFY`; other
//! processes find the job by polling.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};

use posada_db::{Conn, Db, Tx};
use tokio::sync::Notify;

use crate::JobsError;
use crate::admin::Admin;
use crate::job::{Job, JobOptions, NewJob};
use crate::metrics as m;
use crate::store::{Store, pg, sqlite};

/// Largest batch sent in one statement by [`Jobs::enqueue_many`].
const INSERT_CHUNK: usize = 10_000;

/// In-process wake-ups: one [`Notify`] per queue, one for the stager and one for the scheduler.
///
/// The stager is only woken for a scheduled job due before the stager's own next run: a hold's
/// expiry 30 minutes out needs no stager run now (it would find nothing to promote).
pub(crate) struct Hub {
    queues: Mutex<HashMap<String, Arc<Notify>>>,
    stager: Notify,
    scheduler: Notify,
    /// When the stager runs next on its own, in milliseconds since the epoch (`i64::MAX` until
    /// its first run).
    stager_sleeps_until: AtomicI64,
    /// Queues enqueued to (available jobs) inside a transaction not yet committed through
    /// [`Jobs::commit`].
    pending: Mutex<HashSet<String>>,
    /// Whether `pending` may hold something (checked without the lock on every commit).
    pending_any: AtomicBool,
    /// Earliest run time (ms) of scheduled jobs enqueued in a transaction not yet committed;
    /// `i64::MAX` when none.
    pending_due: AtomicI64,
    /// Whether workers on other nodes may be waiting for this process's jobs (PostgreSQL
    /// `NOTIFY`). True unless this process's engine last saw no other live node with workers:
    /// then its own workers are woken in process, and the insert skips `NOTIFY`, whose commit
    /// takes a lock every notifying transaction queues for.
    others_listening: AtomicBool,
}

impl Default for Hub {
    fn default() -> Hub {
        Hub {
            queues: Mutex::default(),
            stager: Notify::new(),
            scheduler: Notify::new(),
            stager_sleeps_until: AtomicI64::new(i64::MAX),
            pending: Mutex::default(),
            pending_any: AtomicBool::new(false),
            pending_due: AtomicI64::new(i64::MAX),
            others_listening: AtomicBool::new(true),
        }
    }
}

impl Hub {
    pub(crate) fn queue(&self, name: &str) -> Arc<Notify> {
        let mut map = self.queues.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(name.to_string()).or_default().clone()
    }

    pub(crate) fn wake(&self, name: &str) {
        let map = self.queues.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = map.get(name) {
            n.notify_one();
        }
    }

    /// What the engine's last heartbeat saw of other live nodes with workers (`true` again
    /// when the engine stops).
    pub(crate) fn set_others_listening(&self, others: bool) {
        self.others_listening.store(others, Ordering::SeqCst);
    }

    /// Whether an available job on `queue` must be announced with `NOTIFY`: someone else may
    /// be listening, or no worker of this process serves the queue.
    fn notify_needed(&self, queue: &str) -> bool {
        if self.others_listening.load(Ordering::SeqCst) {
            return true;
        }
        let map = self.queues.lock().unwrap_or_else(|p| p.into_inner());
        !map.contains_key(queue)
    }

    pub(crate) fn wake_stager(&self) {
        self.stager.notify_one();
    }

    pub(crate) fn stager(&self) -> &Notify {
        &self.stager
    }

    /// The stager is about to stage, and runs again within `poll` of now at the latest unless
    /// the run itself is slow. A job committed during the run, after its snapshot, and due
    /// after that bound is therefore promoted late by at most the run's duration; waking the
    /// stager for every such job instead would keep it staging back to back under load.
    pub(crate) fn stager_running(&self, poll: std::time::Duration) {
        let poll = chrono::TimeDelta::from_std(poll).unwrap_or_default();
        self.stager_sleeping_until(Utc::now() + poll);
    }

    /// The stager sleeps until `until` unless woken.
    pub(crate) fn stager_sleeping_until(&self, until: DateTime<Utc>) {
        self.stager_sleeps_until
            .store(until.timestamp_millis(), Ordering::SeqCst);
    }

    /// A scheduled job due at `due` exists now: wake the stager if it would otherwise run later.
    fn scheduled(&self, due_ms: i64) {
        if due_ms < self.stager_sleeps_until.load(Ordering::SeqCst) {
            self.wake_stager();
        }
    }

    pub(crate) fn wake_scheduler(&self) {
        self.scheduler.notify_one();
    }

    pub(crate) fn scheduler(&self) -> &Notify {
        &self.scheduler
    }

    fn enqueued(&self, job: &NewJob, available: bool) {
        if available {
            self.wake(&job.queue);
        } else {
            self.scheduled(due_ms(job));
        }
    }

    fn enqueued_in_tx(&self, job: &NewJob, available: bool) {
        if available {
            let mut p = self.pending.lock().unwrap_or_else(|p| p.into_inner());
            if !p.contains(job.queue.as_str()) {
                p.insert(job.queue.clone());
            }
            self.pending_any.store(true, Ordering::SeqCst);
        } else {
            self.pending_due.fetch_min(due_ms(job), Ordering::SeqCst);
        }
    }

    fn committed(&self) {
        if self.pending_any.swap(false, Ordering::SeqCst) {
            let queues: Vec<String> = {
                let mut p = self.pending.lock().unwrap_or_else(|p| p.into_inner());
                p.drain().collect()
            };
            for q in queues {
                self.wake(&q);
            }
        }
        let due = self.pending_due.swap(i64::MAX, Ordering::SeqCst);
        if due != i64::MAX {
            self.scheduled(due);
        }
    }
}

/// When `job` is due, in milliseconds since the epoch (`None` is now).
fn due_ms(job: &NewJob) -> i64 {
    job.run_at.unwrap_or_else(Utc::now).timestamp_millis()
}

/// Whether `job` is inserted available (no run time, or one already past).
fn available_now(job: &NewJob, now: DateTime<Utc>) -> bool {
    job.run_at.is_none_or(|t| t <= now)
}

/// The handle for enqueuing jobs. Cheap to clone (a pool and an in-process waker).
#[derive(Clone)]
pub struct Jobs {
    pub(crate) db: Db,
    pub(crate) hub: Arc<Hub>,
}

impl Jobs {
    /// A handle on `db` (the engine's tables must be migrated: [`crate::MIGRATIONS`]).
    pub fn new(db: Db) -> Jobs {
        Jobs {
            db,
            hub: Arc::new(Hub::default()),
        }
    }

    /// The database.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Enqueue one job now, in its own transaction. `Ok(None)` when it was skipped because a
    /// live job holds its unique key.
    pub async fn enqueue<J: Job>(
        &self,
        job: &J,
        opts: JobOptions,
    ) -> Result<Option<i64>, JobsError> {
        let new = NewJob::new(job, opts)?;
        self.enqueue_new(&new).await
    }

    /// Enqueue an already built [`NewJob`] in its own transaction.
    pub async fn enqueue_new(&self, new: &NewJob) -> Result<Option<i64>, JobsError> {
        let got = match &self.db {
            Db::Sqlite(pool) => {
                let mut c = pool.acquire().await?;
                sqlite::insert_one(&mut c, new).await?
            }
            Db::Postgres(pool) => {
                let mut c = pool.acquire().await?;
                pg::insert_one(&mut c, new, self.hub.notify_needed(&new.queue)).await?
            }
        };
        Ok(got.map(|(id, available)| {
            m::enqueued(&new.kind, 1);
            self.hub.enqueued(new, available);
            id
        }))
    }

    /// Enqueue inside the caller's transaction: the job exists if and only if that transaction
    /// commits. Commit with [`Jobs::commit`] to wake this process's workers at once.
    pub async fn enqueue_in<J: Job>(
        &self,
        conn: Conn<'_>,
        job: &J,
        opts: JobOptions,
    ) -> Result<Option<i64>, JobsError> {
        let new = NewJob::new(job, opts)?;
        self.enqueue_new_in(conn, &new).await
    }

    /// [`Jobs::enqueue_in`] for an already built [`NewJob`].
    pub async fn enqueue_new_in(
        &self,
        conn: Conn<'_>,
        new: &NewJob,
    ) -> Result<Option<i64>, JobsError> {
        let got = match conn {
            Conn::Sqlite(c) => sqlite::insert_one(c, new).await?,
            Conn::Postgres(c) => pg::insert_one(c, new, self.hub.notify_needed(&new.queue)).await?,
        };
        Ok(got.map(|(id, available)| {
            m::enqueued(&new.kind, 1);
            self.hub.enqueued_in_tx(new, available);
            id
        }))
    }

    /// Enqueue many jobs in one transaction (thousands per statement); jobs whose unique key is
    /// live (or repeated earlier in the batch) are skipped. Returns how many were inserted.
    pub async fn enqueue_many(&self, jobs: Vec<NewJob>) -> Result<u64, JobsError> {
        let mut tx = self.db.begin().await?;
        let n = self.insert_chunks(tx.conn(), &jobs).await?;
        tx.commit().await?;
        self.wake_for(&jobs);
        Ok(n)
    }

    /// [`Jobs::enqueue_many`] inside the caller's transaction.
    pub async fn enqueue_many_in(
        &self,
        conn: Conn<'_>,
        jobs: Vec<NewJob>,
    ) -> Result<u64, JobsError> {
        let n = self.insert_chunks(conn, &jobs).await?;
        let now = Utc::now();
        let mut seen: HashSet<&str> = HashSet::new();
        let mut earliest: Option<&NewJob> = None;
        for j in &jobs {
            if available_now(j, now) {
                if seen.insert(j.queue.as_str()) {
                    self.hub.enqueued_in_tx(j, true);
                }
            } else if earliest.is_none_or(|e| j.run_at < e.run_at) {
                earliest = Some(j);
            }
        }
        if let Some(j) = earliest {
            self.hub.enqueued_in_tx(j, false);
        }
        Ok(n)
    }

    async fn insert_chunks(&self, mut conn: Conn<'_>, jobs: &[NewJob]) -> Result<u64, JobsError> {
        let mut total = 0;
        let notify = jobs.iter().any(|j| self.hub.notify_needed(&j.queue));
        for chunk in jobs.chunks(INSERT_CHUNK) {
            total += match conn.reborrow() {
                Conn::Sqlite(c) => sqlite::insert_many(c, chunk).await?,
                Conn::Postgres(c) => pg::insert_many(c, chunk, notify).await?,
            };
        }
        let mut by_kind: HashMap<&str, u64> = HashMap::new();
        for j in jobs {
            *by_kind.entry(j.kind.as_str()).or_default() += 1;
        }
        if total == jobs.len() as u64 {
            for (kind, n) in by_kind {
                m::enqueued(kind, n);
            }
        } else if let Some(kind) = jobs.first().map(|j| j.kind.as_str()) {
            // Some were skipped as duplicates; which ones is not returned, so count them once.
            m::enqueued(kind, total);
        }
        Ok(total)
    }

    fn wake_for(&self, jobs: &[NewJob]) {
        let now = Utc::now();
        let mut seen: HashSet<&str> = HashSet::new();
        let mut earliest: Option<&NewJob> = None;
        for j in jobs {
            if available_now(j, now) {
                if seen.insert(j.queue.as_str()) {
                    self.hub.wake(&j.queue);
                }
            } else if earliest.is_none_or(|e| j.run_at < e.run_at) {
                earliest = Some(j);
            }
        }
        if let Some(j) = earliest {
            self.hub.enqueued(j, false);
        }
    }

    /// Cancel the live jobs (available, scheduled or retryable; not running) with unique key
    /// `key`, inside the caller's transaction. Returns how many were cancelled.
    pub async fn cancel_by_key(&self, conn: Conn<'_>, key: &str) -> Result<u64, JobsError> {
        Ok(crate::store::cancel_by_key(conn, key).await?)
    }

    /// Cancel one job that has not finished (a running attempt's result is then ignored).
    pub async fn cancel(&self, id: i64) -> Result<bool, JobsError> {
        Ok(Store::plain(&self.db).cancel(id).await?)
    }

    /// Commit `tx` and wake this process's workers for what was enqueued in it.
    pub async fn commit(&self, tx: Tx) -> Result<(), sqlx::Error> {
        tx.commit().await?;
        self.hub.committed();
        Ok(())
    }

    /// Operator queries and switches.
    pub fn admin(&self) -> Admin {
        Admin {
            store: Store::plain(&self.db),
            hub: self.hub.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use futures::FutureExt;

    use super::*;

    fn job_due_in(minutes: i64) -> NewJob {
        NewJob {
            kind: "k".into(),
            queue: "default".into(),
            args: "{}".into(),
            priority: 0,
            max_attempts: 1,
            run_at: Some(Utc::now() + chrono::TimeDelta::minutes(minutes)),
            unique_key: None,
            trace_id: None,
        }
    }

    /// Whether the stager holds a wake-up (and take it).
    fn stager_woken(hub: &Hub) -> bool {
        hub.stager().notified().now_or_never().is_some()
    }

    #[test]
    fn the_stager_is_woken_only_for_jobs_due_before_its_next_run() {
        let hub = Hub::default();
        // Before its first run, every scheduled job wakes it.
        hub.enqueued(&job_due_in(30), false);
        assert!(stager_woken(&hub));

        hub.stager_sleeping_until(Utc::now() + chrono::TimeDelta::seconds(1));
        // A hold's expiry, half an hour out: the stager's own next run comes first.
        hub.enqueued_in_tx(&job_due_in(30), false);
        hub.committed();
        assert!(!stager_woken(&hub));
        hub.enqueued(&job_due_in(30), false);
        assert!(!stager_woken(&hub));
        // Due before that run (already due, here): wake it.
        hub.enqueued_in_tx(&job_due_in(30), false);
        hub.enqueued_in_tx(&job_due_in(-1), false);
        assert!(!stager_woken(&hub), "nothing before the commit");
        hub.committed();
        assert!(stager_woken(&hub));
        // The pending due time was consumed by that commit.
        hub.committed();
        assert!(!stager_woken(&hub));

        // While it stages, its next run is at most a poll interval away.
        hub.stager_running(std::time::Duration::from_secs(1));
        hub.enqueued(&job_due_in(30), false);
        assert!(!stager_woken(&hub));
        hub.enqueued(&job_due_in(0), false);
        assert!(stager_woken(&hub));
    }
}
