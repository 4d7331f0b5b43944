//! The job-engine benchmark behind `posada bench jobs`: batch and single insert rates, the drain
//! rate of no-op jobs, and enqueue-to-start latency measured one job at a time into an idle
//! engine.
//!
//! [`NoopBenchJob`] (queue `default`) runs only on engines the benchmark starts for itself: a
//! production engine never registers it, so its workers never claim bench jobs. To drain what
//! `--phase enqueue` inserted from other processes, run [`work`] there (an engine with the bench
//! kind alone).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use posada_db::Db;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use crate::engine::{HandlerFn, Kind};
use crate::job::{Job, JobContext, JobOptions, NewJob};
use crate::{EngineConfig, Jobs, JobsError};

/// A job that does nothing but note when it started, for latency.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NoopBenchJob {
    /// Microseconds since the Unix epoch just before the enqueue call (0: not measured).
    pub enqueued_at_us: i64,
}

impl NoopBenchJob {
    /// Kind name.
    pub const KIND_NAME: &'static str = "posada.bench.noop";
}

impl Job for NoopBenchJob {
    type State = ();
    const KIND: &'static str = NoopBenchJob::KIND_NAME;

    async fn run(self, _ctx: JobContext<()>) -> anyhow::Result<()> {
        record_start(self.enqueued_at_us);
        Ok(())
    }
}

static LATENCY_SINK: Mutex<Option<mpsc::UnboundedSender<i64>>> = Mutex::new(None);

fn now_us() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

fn record_start(enqueued_at_us: i64) {
    if enqueued_at_us <= 0 {
        return;
    }
    let latency = now_us() - enqueued_at_us;
    let sink = LATENCY_SINK.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(tx) = sink.as_ref() {
        let _ = tx.send(latency);
    }
}

/// The bench kind for an engine of any state type.
pub(crate) fn kind<S: Clone + Send + Sync + 'static>() -> Kind<S> {
    let handler: HandlerFn<S> = Arc::new(|args: String, _ctx: JobContext<S>| {
        Box::pin(async move {
            let job: NoopBenchJob = serde_json::from_str(&args)?;
            record_start(job.enqueued_at_us);
            Ok(())
        })
    });
    Kind {
        name: NoopBenchJob::KIND,
        queue: NoopBenchJob::QUEUE,
        timeout: NoopBenchJob::timeout(),
        backoff: NoopBenchJob::backoff,
        handler,
    }
}

/// Which part of the benchmark to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BenchPhase {
    /// Insert, drain, then latency.
    #[default]
    All,
    /// Only insert (batch, then single) and leave the jobs for workers.
    Enqueue,
    /// Drain the bench jobs present (with any [`work`] processes on the same database), then
    /// measure latency.
    Drain,
}

/// Benchmark size.
#[derive(Debug, Clone, Copy)]
pub struct BenchOptions {
    /// Jobs batch-inserted (and drained).
    pub jobs: u64,
    /// Worker concurrency for the drain.
    pub concurrency: usize,
    /// Which phases run.
    pub phase: BenchPhase,
}

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct LatencyMs {
    /// Median.
    pub p50: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
}

/// Benchmark results; phases not run are `null`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BenchReport {
    /// `sqlite` or `postgres`.
    pub backend: String,
    /// Jobs batch-inserted / drained.
    pub jobs: u64,
    /// Worker concurrency.
    pub concurrency: usize,
    /// Jobs per second inserted by `enqueue_many`.
    pub insert_batch_per_s: Option<f64>,
    /// Jobs per second inserted one by one (each its own transaction).
    pub insert_single_per_s: Option<f64>,
    /// No-op jobs per second run and recorded by one engine.
    pub drain_per_s: Option<f64>,
    /// Enqueue-to-handler-start latency.
    pub latency_ms: Option<LatencyMs>,
}

/// Single inserts measured (each is a durable commit, so they are slow on purpose).
const SINGLE_INSERTS: u64 = 1000;
/// Jobs enqueued one by one for the latency percentiles.
const LATENCY_SAMPLES: usize = 500;

/// Run the benchmark against `db` (migrated here). Use a fresh database: it counts every
/// waiting job of the bench kind as work to drain.
pub async fn run(db: Db, opts: BenchOptions) -> Result<BenchReport, JobsError> {
    posada_db::migrate(&db, &crate::MIGRATIONS)
        .await
        .map_err(|e| match e {
            posada_db::DbError::Sqlx(e) => JobsError::Db(e),
            other => JobsError::Config(other.to_string()),
        })?;
    let jobs = Jobs::new(db.clone());
    let mut report = BenchReport {
        backend: db.backend().as_str().to_string(),
        jobs: opts.jobs,
        concurrency: opts.concurrency,
        insert_batch_per_s: None,
        insert_single_per_s: None,
        drain_per_s: None,
        latency_ms: None,
    };
    if matches!(opts.phase, BenchPhase::All | BenchPhase::Enqueue) {
        let batch: Vec<NewJob> = (0..opts.jobs)
            .map(|_| NewJob::new(&NoopBenchJob { enqueued_at_us: 0 }, JobOptions::default()))
            .collect::<Result<_, _>>()?;
        let started = Instant::now();
        let inserted = jobs.enqueue_many(batch).await?;
        report.insert_batch_per_s = Some(rate(inserted, started.elapsed()));

        let singles = SINGLE_INSERTS.min(opts.jobs.max(1));
        let started = Instant::now();
        for _ in 0..singles {
            jobs.enqueue(&NoopBenchJob { enqueued_at_us: 0 }, JobOptions::default())
                .await?;
        }
        report.insert_single_per_s = Some(rate(singles, started.elapsed()));
    }
    if matches!(opts.phase, BenchPhase::All | BenchPhase::Drain) {
        let waiting = live_bench_jobs(&jobs).await?;
        let started = Instant::now();
        let engine = bench_engine(jobs.clone(), opts.concurrency).start().await?;
        let target = u64::try_from(waiting).unwrap_or(0);
        let mut polls: u32 = 0;
        while engine.completed_count() < target {
            tokio::time::sleep(Duration::from_micros(500)).await;
            // With `work` processes on the same database this engine runs only part of the
            // jobs: the drain is over when none is left (checked about every 50 ms).
            polls += 1;
            if opts.phase == BenchPhase::Drain
                && polls.is_multiple_of(100)
                && live_bench_jobs(&jobs).await? == 0
            {
                break;
            }
        }
        report.drain_per_s = Some(rate(target, started.elapsed()));
        if opts.phase == BenchPhase::Drain {
            report.jobs = target;
        }

        let (tx, mut rx) = mpsc::unbounded_channel();
        *LATENCY_SINK.lock().unwrap_or_else(|p| p.into_inner()) = Some(tx);
        tokio::time::sleep(Duration::from_millis(50)).await;
        let mut samples = Vec::with_capacity(LATENCY_SAMPLES);
        for _ in 0..LATENCY_SAMPLES {
            let job = NoopBenchJob {
                enqueued_at_us: now_us(),
            };
            jobs.enqueue(&job, JobOptions::default()).await?;
            if let Ok(Some(us)) = tokio::time::timeout(Duration::from_secs(5), rx.recv()).await {
                samples.push(us as f64 / 1000.0);
            }
            // Let the completion be recorded so every sample starts from an idle engine.
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        *LATENCY_SINK.lock().unwrap_or_else(|p| p.into_inner()) = None;
        engine.shutdown().await;
        samples.sort_by(f64::total_cmp);
        if !samples.is_empty() {
            report.latency_ms = Some(LatencyMs {
                p50: percentile(&samples, 0.50),
                p95: percentile(&samples, 0.95),
                p99: percentile(&samples, 0.99),
            });
        }
    }
    Ok(report)
}

/// Bench jobs not finished yet (waiting or running).
async fn live_bench_jobs(jobs: &Jobs) -> Result<i64, JobsError> {
    Ok(jobs
        .admin()
        .stats()
        .await?
        .into_iter()
        .filter(|r| r.kind == NoopBenchJob::KIND && r.state.is_live())
        .map(|r| r.count)
        .sum())
}

/// An engine that knows the bench kind and nothing else: `concurrency` workers, no scheduler.
fn bench_engine(jobs: Jobs, concurrency: usize) -> crate::Engine<()> {
    let config = EngineConfig {
        queues: vec![(NoopBenchJob::QUEUE.to_string(), concurrency.max(1))],
        enable_scheduler: false,
        ..EngineConfig::default()
    };
    crate::Engine::new(jobs, (), config).register_raw(kind::<()>())
}

/// Run the bench jobs waiting in `db` on an engine of this process's own (the bench kind alone,
/// `concurrency` workers, no scheduler) until none is left, for worker processes that drain
/// what `--phase enqueue` inserted alongside `--phase drain` (whose drain rate then counts every
/// process's jobs). Returns how many this process ran.
pub async fn work(db: Db, concurrency: usize) -> Result<u64, JobsError> {
    let jobs = Jobs::new(db);
    let engine = bench_engine(jobs.clone(), concurrency).start().await?;
    loop {
        let live = live_bench_jobs(&jobs).await?;
        if live == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let ran = engine.completed_count();
    engine.shutdown().await;
    Ok(ran)
}

fn rate(n: u64, took: Duration) -> f64 {
    let secs = took.as_secs_f64().max(1e-9);
    (n as f64 / secs).round()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let idx = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    (sorted[idx] * 1000.0).round() / 1000.0
}

/// Spread the finish times of the finished jobs evenly over the `days` before their own (a hash
/// of the id), as a
/// history of that many days has them; a benchmark's jobs otherwise all finish in one minute,
/// which no owner's database looks like. Then the table is tidied as autovacuum (PostgreSQL) or
/// `ANALYZE` would have it by then: the dead index entries of a hundred thousand state changes
/// made seconds ago are not what a day-old history carries. Returns how many jobs moved.
pub async fn spread_finished(db: &Db, days: u32) -> Result<u64, JobsError> {
    let span = i64::from(days.max(1)) * 86_400;
    let moved = match db {
        Db::Sqlite(p) => sqlx::query(
            "UPDATE jobs SET finished_at = finished_at - ((id * 7919) % $1) * 1000 WHERE finished_at IS NOT NULL",
        )
        .bind(span)
        .execute(p)
        .await?
        .rows_affected(),
        Db::Postgres(p) => sqlx::query(
            "UPDATE jobs SET finished_at = finished_at - ((id * 7919) % $1) * interval '1 second' WHERE finished_at IS NOT NULL",
        )
        .bind(span)
        .execute(p)
        .await?
        .rows_affected(),
    };
    match db {
        Db::Sqlite(p) => sqlx::query("ANALYZE").execute(p).await.map(drop)?,
        Db::Postgres(p) => sqlx::query("VACUUM ANALYZE jobs")
            .execute(p)
            .await
            .map(drop)?,
    }
    Ok(moved)
}
