//! The running side: workers per queue, the completer, lease heartbeats, the rescuer, the stager
//! that makes due jobs available, the pruner, the PostgreSQL listener and the scheduler.
//!
//! Throughput comes from batching every step: a queue's claimer takes up to `fetch_batch` jobs per
//! statement into a small buffer that its runner starts as slots free up, and one completer task
//! records finished attempts in batches. Latency comes from waking the claimer directly (in-process
//! enqueue, or `NOTIFY` on PostgreSQL) instead of waiting for a poll.

mod completer;
mod upkeep;
mod worker;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use posada_db::Db;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::client::{Hub, Jobs};
use crate::job::{Job, JobContext};
use crate::periodic::PeriodicTask;
use crate::store::Store;
use crate::{JobsError, metrics as m};

pub(crate) use completer::Outcome;

/// Engine settings; every field has a default (see [`EngineConfig::default`]).
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Name of this node in leases, error history and `job_nodes` (default: host, pid, random).
    pub node_id: String,
    /// Queues this node works, with how many jobs of each run at once (default `default`: 16).
    /// Queues of registered kinds that are missing get [`EngineConfig::default_concurrency`].
    pub queues: Vec<(String, usize)>,
    /// Concurrency for queues added because a registered kind uses them (default 16).
    pub default_concurrency: usize,
    /// Most jobs claimed per statement (default 128).
    pub fetch_batch: usize,
    /// Claimed jobs buffered per queue beyond those running, when jobs are short (default 128).
    /// Jobs that take longer than 20 ms on average are claimed only as workers free up, so a node
    /// never sits on work other nodes could do.
    pub prefetch: usize,
    /// Claim attempt when nothing woke the worker (default 1 s); also the stager's longest sleep.
    pub poll_interval: Duration,
    /// How long a claimed attempt is owned without a heartbeat (default 30 s, at most 60 s).
    pub lease: Duration,
    /// Lease renewal period (default 10 s, less than `lease`).
    pub heartbeat_interval: Duration,
    /// How often expired leases are looked for (default 5 s).
    pub rescue_interval: Duration,
    /// Soft limit for in-flight jobs at shutdown before they are cancelled and released (25 s).
    pub shutdown_timeout: Duration,
    /// Run periodic tasks on this node (`ENABLE_SCHEDULED_TASKS`; default true).
    pub enable_scheduler: bool,
    /// Keep completed and cancelled jobs this long (default 24 h).
    pub retention_completed: Duration,
    /// Keep discarded jobs this long (default 7 days).
    pub retention_discarded: Duration,
    /// How often old jobs are pruned (default 60 s).
    pub prune_interval: Duration,
    /// How often queue-depth gauges are refreshed (default 15 s).
    pub metrics_interval: Duration,
    /// Most outcomes recorded per completer statement (default 2000).
    pub completion_batch: usize,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            node_id: default_node_id(),
            queues: vec![("default".to_string(), 16)],
            default_concurrency: 16,
            fetch_batch: 128,
            prefetch: 128,
            poll_interval: Duration::from_secs(1),
            lease: Duration::from_secs(30),
            heartbeat_interval: Duration::from_secs(10),
            rescue_interval: Duration::from_secs(5),
            shutdown_timeout: Duration::from_secs(25),
            enable_scheduler: true,
            retention_completed: Duration::from_secs(24 * 3600),
            retention_discarded: Duration::from_secs(7 * 24 * 3600),
            prune_interval: Duration::from_secs(60),
            metrics_interval: Duration::from_secs(15),
            completion_batch: 2000,
        }
    }
}

fn default_node_id() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "node".to_string());
    let short = uuid::Uuid::new_v4().simple().to_string();
    format!("{host}-{}-{}", std::process::id(), &short[..6])
}

impl EngineConfig {
    fn validate(&self) -> Result<(), JobsError> {
        let bad = |m: &str| Err(JobsError::Config(m.to_string()));
        if self.lease.is_zero() || self.lease > Duration::from_secs(60) {
            return bad("lease must be between 0 and 60 seconds");
        }
        if self.heartbeat_interval.is_zero() || self.heartbeat_interval >= self.lease {
            return bad("heartbeat_interval must be shorter than lease");
        }
        if self.queues.iter().any(|(_, c)| *c == 0) {
            return bad("queue concurrency must be at least 1");
        }
        if self.fetch_batch == 0 || self.completion_batch == 0 {
            return bad("fetch_batch and completion_batch must be at least 1");
        }
        if self.poll_interval.is_zero() || self.rescue_interval.is_zero() {
            return bad("poll_interval and rescue_interval must be positive");
        }
        Ok(())
    }
}

pub(crate) type HandlerFn<S> =
    Arc<dyn Fn(String, JobContext<S>) -> BoxFuture<'static, anyhow::Result<()>> + Send + Sync>;

/// A registered kind, type-erased.
pub(crate) struct Kind<S> {
    pub name: &'static str,
    pub queue: &'static str,
    pub timeout: Duration,
    pub backoff: fn(i32) -> Duration,
    pub handler: HandlerFn<S>,
}

/// A claimed job this node holds (buffered or running).
pub(crate) struct Held {
    pub token: i64,
    pub started: bool,
    pub cancel: Option<CancellationToken>,
}

/// What the engine's tasks share.
pub(crate) struct Shared<S> {
    pub store: Store,
    pub db: Db,
    pub hub: Arc<Hub>,
    pub config: EngineConfig,
    pub kinds: HashMap<&'static str, Kind<S>>,
    pub kind_names: Vec<String>,
    pub state: S,
    pub held: Mutex<HashMap<i64, Held>>,
    pub outcomes: mpsc::UnboundedSender<Outcome>,
    /// Stop claiming (shutdown step 1).
    pub stop: CancellationToken,
    /// Cancel in-flight attempts (end of the soft shutdown timeout).
    pub hard: CancellationToken,
    pub completed: AtomicU64,
    pub failed: AtomicU64,
    pub workers_alive: AtomicUsize,
    pub periodic: Vec<PeriodicTask>,
}

impl<S> Shared<S> {
    pub(crate) fn held(&self) -> std::sync::MutexGuard<'_, HashMap<i64, Held>> {
        self.held.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Builder for a node's engine: register kinds and periodic tasks, then [`Engine::start`].
pub struct Engine<S> {
    jobs: Jobs,
    state: S,
    config: EngineConfig,
    kinds: HashMap<&'static str, Kind<S>>,
    periodic: Vec<PeriodicTask>,
}

impl<S: Clone + Send + Sync + 'static> Engine<S> {
    /// An engine on `jobs`'s database, handing `state` to every handler.
    pub fn new(jobs: Jobs, state: S, config: EngineConfig) -> Self {
        Engine {
            jobs,
            state,
            config,
            kinds: HashMap::new(),
            periodic: Vec::new(),
        }
    }

    /// Run jobs of kind `J` on this node.
    pub fn register<J: Job<State = S>>(self) -> Self {
        let handler: HandlerFn<S> = Arc::new(|args: String, ctx: JobContext<S>| {
            Box::pin(async move {
                let job: J = serde_json::from_str(&args)
                    .map_err(|e| anyhow::anyhow!("arguments of {} do not parse: {e}", J::KIND))?;
                job.run(ctx).await
            })
        });
        self.register_raw(Kind {
            name: J::KIND,
            queue: J::QUEUE,
            timeout: J::timeout(),
            backoff: J::backoff,
            handler,
        })
    }

    pub(crate) fn register_raw(mut self, kind: Kind<S>) -> Self {
        self.kinds.insert(kind.name, kind);
        self
    }

    /// Enqueue `task`'s job on its schedule (on nodes whose scheduler is enabled).
    pub fn periodic(mut self, task: PeriodicTask) -> Self {
        self.periodic.retain(|t| t.name != task.name);
        self.periodic.push(task);
        self
    }

    /// Start every task of the engine.
    pub async fn start(self) -> Result<EngineHandle, JobsError> {
        m::describe();
        let mut config = self.config;
        config.validate()?;
        for kind in self.kinds.values() {
            if !config.queues.iter().any(|(q, _)| q == kind.queue) {
                tracing::info!(
                    queue = kind.queue,
                    job.kind = kind.name,
                    "queue added for a registered kind"
                );
                config
                    .queues
                    .push((kind.queue.to_string(), config.default_concurrency.max(1)));
            }
        }
        let db = self.jobs.db.clone();
        let connections = u32::try_from(config.queues.len() * 2 + 4).unwrap_or(32);
        let store = Store::for_engine(&db, connections).await?;
        let (outcomes_tx, outcomes_rx) = mpsc::unbounded_channel();
        let mut kind_names: Vec<String> = self.kinds.keys().map(|k| k.to_string()).collect();
        kind_names.sort();
        let shared = Arc::new(Shared {
            store,
            db,
            hub: self.jobs.hub.clone(),
            config,
            kinds: self.kinds,
            kind_names,
            state: self.state,
            held: Mutex::new(HashMap::new()),
            outcomes: outcomes_tx,
            stop: CancellationToken::new(),
            hard: CancellationToken::new(),
            completed: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            workers_alive: AtomicUsize::new(0),
            periodic: self.periodic,
        });
        let upkeep_stop = CancellationToken::new();
        let completer_stop = CancellationToken::new();

        let mut workers = Vec::new();
        for (queue, concurrency) in shared.config.queues.clone() {
            workers.push(worker::spawn(shared.clone(), queue, concurrency));
        }
        let completer = tokio::spawn(completer::run(
            shared.clone(),
            outcomes_rx,
            completer_stop.clone(),
        ));
        let upkeep = upkeep::spawn(shared.clone(), upkeep_stop.clone()).await?;
        tracing::info!(
            node.id = %shared.config.node_id,
            queues = ?shared.config.queues,
            scheduler = shared.config.enable_scheduler,
            "job engine started"
        );
        Ok(EngineHandle {
            shared,
            workers,
            completer: Some(completer),
            completer_stop,
            upkeep,
            upkeep_stop,
        })
    }
}

/// A running engine. [`EngineHandle::shutdown`] stops it gracefully; dropping it stops it
/// abruptly (claimed jobs then come back through lease expiry).
pub struct EngineHandle {
    shared: Arc<dyn EngineView>,
    workers: Vec<JoinHandle<()>>,
    completer: Option<JoinHandle<()>>,
    completer_stop: CancellationToken,
    upkeep: Vec<JoinHandle<()>>,
    upkeep_stop: CancellationToken,
}

/// The parts of [`Shared`] the handle needs, without its state type.
trait EngineView: Send + Sync {
    fn stop(&self) -> &CancellationToken;
    fn hard(&self) -> &CancellationToken;
    fn node_id(&self) -> &str;
    fn workers_alive(&self) -> usize;
    fn completed(&self) -> u64;
    fn failed(&self) -> u64;
    fn release_held(&self) -> BoxFuture<'_, ()>;
    fn close_store(&self) -> BoxFuture<'_, ()>;
}

impl<S: Clone + Send + Sync + 'static> EngineView for Shared<S> {
    fn stop(&self) -> &CancellationToken {
        &self.stop
    }
    fn hard(&self) -> &CancellationToken {
        &self.hard
    }
    fn node_id(&self) -> &str {
        &self.config.node_id
    }
    fn workers_alive(&self) -> usize {
        self.workers_alive.load(Ordering::Relaxed)
    }
    fn completed(&self) -> u64 {
        self.completed.load(Ordering::Relaxed)
    }
    fn failed(&self) -> u64 {
        self.failed.load(Ordering::Relaxed)
    }
    fn release_held(&self) -> BoxFuture<'_, ()> {
        Box::pin(worker::release_held(self))
    }
    fn close_store(&self) -> BoxFuture<'_, ()> {
        Box::pin(self.store.close())
    }
}

impl EngineHandle {
    /// Stop claiming, let in-flight jobs finish within `shutdown_timeout`, then cancel the rest
    /// and hand every job this node still holds back as available.
    pub async fn shutdown(mut self) {
        tracing::info!(node.id = %self.shared.node_id(), "job engine stopping");
        self.shared.stop().cancel();
        for w in self.workers.drain(..) {
            let _ = w.await;
        }
        self.completer_stop.cancel();
        if let Some(c) = self.completer.take() {
            let _ = c.await;
        }
        self.shared.release_held().await;
        self.upkeep_stop.cancel();
        for t in self.upkeep.drain(..) {
            let _ = t.await;
        }
        self.shared.close_store().await;
        tracing::info!(node.id = %self.shared.node_id(), "job engine stopped");
    }

    /// Queue workers still running (one per queue while the engine runs, 0 after shutdown).
    pub fn workers_alive(&self) -> usize {
        self.shared.workers_alive()
    }

    /// Whether the engine is running (not shutting down).
    pub fn is_running(&self) -> bool {
        !self.shared.stop().is_cancelled() && self.shared.workers_alive() > 0
    }

    /// This node's id.
    pub fn node_id(&self) -> &str {
        self.shared.node_id()
    }

    /// Attempts this engine has completed (recorded in the database).
    pub fn completed_count(&self) -> u64 {
        self.shared.completed()
    }

    /// Attempts this engine has recorded as failed.
    pub fn failed_count(&self) -> u64 {
        self.shared.failed()
    }
}

impl Drop for EngineHandle {
    fn drop(&mut self) {
        if !self.workers.is_empty() || self.completer.is_some() {
            self.shared.stop().cancel();
            self.shared.hard().cancel();
            self.completer_stop.cancel();
            self.upkeep_stop.cancel();
            for w in &self.workers {
                w.abort();
            }
            for t in &self.upkeep {
                t.abort();
            }
        }
    }
}
