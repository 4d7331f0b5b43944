//! The enqueue side: [`Jobs`] inserts jobs (alone, in batches, or inside the caller's
//! transaction) and wakes this process's workers at once.
//!
//! Waking matters for latency: PostgreSQL workers are also woken by `NOTIFY` (sent by the insert
//! statement, delivered at commit), but SQLite has no such thing, so a process that enqueues wakes
//! its own workers directly; other processes find the job by polling.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

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
#[derive(Default)]
pub(crate) struct Hub {
    queues: Mutex<HashMap<String, Arc<Notify>>>,
    stager: Notify,
    scheduler: Notify,
    /// Queues enqueued to inside a transaction not yet committed through [`Jobs::commit`].
    pending: Mutex<HashSet<String>>,
    pending_scheduled: std::sync::atomic::AtomicBool,
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

    pub(crate) fn wake_stager(&self) {
        self.stager.notify_one();
    }

    pub(crate) fn stager(&self) -> &Notify {
        &self.stager
    }

    pub(crate) fn wake_scheduler(&self) {
        self.scheduler.notify_one();
    }

    pub(crate) fn scheduler(&self) -> &Notify {
        &self.scheduler
    }

    fn enqueued(&self, queue: &str, available: bool) {
        if available {
            self.wake(queue);
        } else {
            self.wake_stager();
        }
    }

    fn enqueued_in_tx(&self, queue: &str, available: bool) {
        if available {
            let mut p = self.pending.lock().unwrap_or_else(|p| p.into_inner());
            if !p.contains(queue) {
                p.insert(queue.to_string());
            }
        } else {
            self.pending_scheduled
                .store(true, std::sync::atomic::Ordering::Relaxed);
        }
    }

    fn committed(&self) {
        let queues: Vec<String> = {
            let mut p = self.pending.lock().unwrap_or_else(|p| p.into_inner());
            p.drain().collect()
        };
        for q in queues {
            self.wake(&q);
        }
        if self
            .pending_scheduled
            .swap(false, std::sync::atomic::Ordering::Relaxed)
        {
            self.wake_stager();
        }
    }
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
                pg::insert_one(&mut c, new).await?
            }
        };
        Ok(got.map(|(id, available)| {
            m::enqueued(&new.kind, 1);
            self.hub.enqueued(&new.queue, available);
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
            Conn::Postgres(c) => pg::insert_one(c, new).await?,
        };
        Ok(got.map(|(id, available)| {
            m::enqueued(&new.kind, 1);
            self.hub.enqueued_in_tx(&new.queue, available);
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
        let mut seen: HashSet<&str> = HashSet::new();
        for j in &jobs {
            if seen.insert(j.queue.as_str()) {
                self.hub.enqueued_in_tx(&j.queue, true);
            }
        }
        if jobs.iter().any(|j| j.run_at.is_some()) {
            self.hub.enqueued_in_tx("", false);
        }
        Ok(n)
    }

    async fn insert_chunks(&self, mut conn: Conn<'_>, jobs: &[NewJob]) -> Result<u64, JobsError> {
        let mut total = 0;
        for chunk in jobs.chunks(INSERT_CHUNK) {
            total += match conn.reborrow() {
                Conn::Sqlite(c) => sqlite::insert_many(c, chunk).await?,
                Conn::Postgres(c) => pg::insert_many(c, chunk).await?,
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
        let mut seen: HashSet<&str> = HashSet::new();
        for j in jobs {
            if seen.insert(j.queue.as_str()) {
                self.hub.wake(&j.queue);
            }
        }
        if jobs.iter().any(|j| j.run_at.is_some()) {
            self.hub.wake_stager();
        }
    }

    /// Cancel the live jobs (available, scheduled or retryable; not running) with unique key
    /// `key`, inside the caller's transaction. Returns how many were cancelled.
    pub async fn cancel_by_key(&self, conn: Conn<'_>, key: &str) -> Result<u64, JobsError> {
        Ok(match conn {
            Conn::Sqlite(c) => sqlite::cancel_by_key(c, key).await?,
            Conn::Postgres(c) => pg::cancel_by_key(c, key).await?,
        })
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
