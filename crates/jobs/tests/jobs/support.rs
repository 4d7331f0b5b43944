//! Test kinds and helpers shared by the engine's tests.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use posada_db::Db;
use posada_db::testing::TestDb;
use posada_jobs::{EngineConfig, Job, JobContext, JobState, Jobs};
use serde::{Deserialize, Serialize};

/// What the test kinds report back.
#[derive(Clone, Default)]
pub struct Probe {
    pub runs: Arc<Mutex<Vec<(String, i64, i32)>>>,
    pub counts: Arc<Mutex<HashMap<i64, u32>>>,
}

impl Probe {
    pub fn record(&self, label: &str, id: i64, attempt: i32) {
        self.runs
            .lock()
            .unwrap()
            .push((label.to_string(), id, attempt));
    }
    pub fn labels(&self) -> Vec<String> {
        self.runs
            .lock()
            .unwrap()
            .iter()
            .map(|r| r.0.clone())
            .collect()
    }
    pub fn count(&self) -> usize {
        self.runs.lock().unwrap().len()
    }
}

/// Records its label.
#[derive(Serialize, Deserialize)]
pub struct Echo {
    pub label: String,
}

impl Job for Echo {
    type State = Probe;
    const KIND: &'static str = "test.echo";
    async fn run(self, ctx: JobContext<Probe>) -> anyhow::Result<()> {
        ctx.state.record(&self.label, ctx.job_id, ctx.attempt);
        Ok(())
    }
}

/// Fails while its attempt is at most `fail_until`.
#[derive(Serialize, Deserialize)]
pub struct Flaky {
    pub fail_until: i32,
}

impl Job for Flaky {
    type State = Probe;
    const KIND: &'static str = "test.flaky";
    const MAX_ATTEMPTS: i32 = 3;
    fn backoff(attempt: i32) -> Duration {
        Duration::from_millis(150 * attempt as u64)
    }
    async fn run(self, ctx: JobContext<Probe>) -> anyhow::Result<()> {
        ctx.state.record("flaky", ctx.job_id, ctx.attempt);
        if ctx.attempt <= self.fail_until {
            anyhow::bail!("boom on attempt {}", ctx.attempt);
        }
        Ok(())
    }
}

/// Always panics.
#[derive(Serialize, Deserialize)]
pub struct Panics;

impl Job for Panics {
    type State = Probe;
    const KIND: &'static str = "test.panics";
    const MAX_ATTEMPTS: i32 = 2;
    fn backoff(_attempt: i32) -> Duration {
        Duration::from_millis(20)
    }
    async fn run(self, ctx: JobContext<Probe>) -> anyhow::Result<()> {
        ctx.state.record("panics", ctx.job_id, ctx.attempt);
        panic!("handler exploded");
    }
}

/// Sleeps `ms`; times out after 150 ms.
#[derive(Serialize, Deserialize)]
pub struct Sleepy {
    pub ms: u64,
}

impl Job for Sleepy {
    type State = Probe;
    const KIND: &'static str = "test.sleepy";
    const MAX_ATTEMPTS: i32 = 1;
    fn timeout() -> Duration {
        Duration::from_millis(150)
    }
    async fn run(self, ctx: JobContext<Probe>) -> anyhow::Result<()> {
        ctx.state.record("sleepy-start", ctx.job_id, ctx.attempt);
        tokio::time::sleep(Duration::from_millis(self.ms)).await;
        ctx.state.record("sleepy-end", ctx.job_id, ctx.attempt);
        Ok(())
    }
}

/// Sleeps `ms` with a generous timeout (shutdown tests).
#[derive(Serialize, Deserialize)]
pub struct Long {
    pub ms: u64,
}

impl Job for Long {
    type State = Probe;
    const KIND: &'static str = "test.long";
    fn timeout() -> Duration {
        Duration::from_secs(30)
    }
    async fn run(self, ctx: JobContext<Probe>) -> anyhow::Result<()> {
        ctx.state.record("long-start", ctx.job_id, ctx.attempt);
        tokio::time::sleep(Duration::from_millis(self.ms)).await;
        ctx.state.record("long-end", ctx.job_id, ctx.attempt);
        Ok(())
    }
}

/// Counts how often each `n` ran (multi-node).
#[derive(Serialize, Deserialize)]
pub struct Count {
    pub n: i64,
}

impl Job for Count {
    type State = Probe;
    const KIND: &'static str = "test.count";
    async fn run(self, ctx: JobContext<Probe>) -> anyhow::Result<()> {
        *ctx.state.counts.lock().unwrap().entry(self.n).or_default() += 1;
        Ok(())
    }
}

/// The crash test's kind; on the test's own node it completes at once.
#[derive(Serialize, Deserialize)]
pub struct CrashProbe {
    pub label: String,
}

impl Job for CrashProbe {
    type State = Probe;
    const KIND: &'static str = "test.crash_probe";
    const QUEUE: &'static str = "crash";
    async fn run(self, ctx: JobContext<Probe>) -> anyhow::Result<()> {
        ctx.state.record(&self.label, ctx.job_id, ctx.attempt);
        Ok(())
    }
}

/// Settings that make tests quick.
pub fn fast_config() -> EngineConfig {
    EngineConfig {
        poll_interval: Duration::from_millis(100),
        lease: Duration::from_secs(2),
        heartbeat_interval: Duration::from_millis(400),
        rescue_interval: Duration::from_millis(200),
        shutdown_timeout: Duration::from_secs(3),
        enable_scheduler: false,
        ..EngineConfig::default()
    }
}

pub async fn migrated(t: &TestDb) -> Jobs {
    posada_jobs::migrate(&t.db).await.unwrap();
    Jobs::new(t.db.clone())
}

/// Poll `f` until it is true or `within` passes.
pub async fn eventually<F, Fut>(within: Duration, what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    loop {
        if f().await {
            return;
        }
        if start.elapsed() > within {
            panic!("timed out after {within:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub async fn state_of(jobs: &Jobs, id: i64) -> JobState {
    jobs.admin().get(id).await.unwrap().unwrap().job.state
}

pub async fn wait_state(jobs: &Jobs, id: i64, state: JobState, within: Duration) {
    eventually(within, &format!("job {id} to be {state}"), || async {
        state_of(jobs, id).await == state
    })
    .await;
}

/// The attempt token stored for a job (test-only peek at the row).
pub async fn token_of(db: &Db, id: i64) -> Option<i64> {
    let sql = "SELECT attempt_token FROM jobs WHERE id = $1";
    match db {
        Db::Sqlite(p) => sqlx::query_scalar(sql).bind(id).fetch_one(p).await.unwrap(),
        Db::Postgres(p) => sqlx::query_scalar(sql).bind(id).fetch_one(p).await.unwrap(),
    }
}

pub async fn count_jobs(db: &Db) -> i64 {
    let sql = "SELECT count(*) FROM jobs";
    match db {
        Db::Sqlite(p) => sqlx::query_scalar(sql).fetch_one(p).await.unwrap(),
        Db::Postgres(p) => sqlx::query_scalar(sql).fetch_one(p).await.unwrap(),
    }
}
