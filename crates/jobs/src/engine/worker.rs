//! One queue's worker: a claimer that fills a small buffer with claimed jobs, and a runner that
//! starts them as concurrency slots free up, each attempt in its own task (timeout, panic
//! capture, tracing span with the trace id).

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures::FutureExt;
use rand::Rng;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio::task::{JoinHandle, JoinSet};
use tracing::Instrument;

use super::{Held, Outcome, Shared};
use crate::job::JobContext;
use crate::store::{Claimed, Release};

/// Average run time above which a queue stops prefetching beyond its free slots.
const SLOW_JOB_US: u64 = 20_000;

pub(super) fn spawn<S: Clone + Send + Sync + 'static>(
    shared: Arc<Shared<S>>,
    queue: String,
    concurrency: usize,
) -> JoinHandle<()> {
    shared.workers_alive.fetch_add(1, Ordering::Relaxed);
    tokio::spawn(async move {
        let capacity = shared.config.prefetch.max(1);
        let (tx, rx) = mpsc::channel::<Claimed>(capacity);
        let sem = Arc::new(Semaphore::new(concurrency));
        // Start cautious (as if jobs were slow) until the first runs show how long they take.
        let avg_us = Arc::new(AtomicU64::new(SLOW_JOB_US + 1));
        let claimer = tokio::spawn(claim_loop(
            shared.clone(),
            queue.clone(),
            tx,
            sem.clone(),
            avg_us.clone(),
        ));
        run_loop(shared.clone(), rx, sem, avg_us).await;
        let _ = claimer.await;
        shared.workers_alive.fetch_sub(1, Ordering::Relaxed);
    })
}

async fn claim_loop<S: Clone + Send + Sync + 'static>(
    shared: Arc<Shared<S>>,
    queue: String,
    tx: mpsc::Sender<Claimed>,
    sem: Arc<Semaphore>,
    avg_us: Arc<AtomicU64>,
) {
    let notify = shared.hub.queue(&queue);
    let cfg = &shared.config;
    let mut more = true;
    let mut failures: u32 = 0;
    loop {
        if !more {
            tokio::select! {
                _ = notify.notified() => {}
                _ = tokio::time::sleep(cfg.poll_interval) => {}
                _ = shared.stop.cancelled() => break,
            }
        }
        let permit = tokio::select! {
            p = tx.reserve() => match p { Ok(p) => p, Err(_) => break },
            _ = shared.stop.cancelled() => break,
        };
        if shared.stop.is_cancelled() {
            break;
        }
        let free = 1 + tx.capacity();
        let want = if avg_us.load(Ordering::Relaxed) > SLOW_JOB_US {
            let buffered = tx.max_capacity() - free;
            sem.available_permits().saturating_sub(buffered).max(1)
        } else {
            free
        }
        .min(free)
        .min(cfg.fetch_batch);
        let token: i64 = rand::rng().random_range(1..i64::MAX);
        match shared
            .store
            .claim(
                &queue,
                &shared.kind_names,
                want,
                token,
                &cfg.node_id,
                cfg.lease,
            )
            .await
        {
            Ok(mut jobs) => {
                failures = 0;
                more = jobs.len() == want;
                if jobs.is_empty() {
                    continue;
                }
                jobs.sort_by(|a, b| b.priority.cmp(&a.priority).then(a.id.cmp(&b.id)));
                {
                    let mut held = shared.held();
                    for j in &jobs {
                        held.insert(
                            j.id,
                            Held {
                                token: j.token,
                                started: false,
                                cancel: None,
                            },
                        );
                    }
                }
                let mut it = jobs.into_iter();
                if let Some(first) = it.next() {
                    permit.send(first);
                }
                for job in it {
                    if let Err(e) = tx.send(job).await {
                        // The runner stopped: the job stays held and is released at shutdown.
                        tracing::debug!(job.id = e.0.id, "runner gone; job left for release");
                    }
                }
            }
            Err(e) => {
                more = false;
                failures += 1;
                tracing::warn!(queue = %queue, error = %e, "claiming jobs failed");
                let pause = Duration::from_millis(100 * u64::from(failures.min(50)));
                tokio::select! {
                    _ = tokio::time::sleep(pause) => {}
                    _ = shared.stop.cancelled() => break,
                }
            }
        }
    }
}

async fn run_loop<S: Clone + Send + Sync + 'static>(
    shared: Arc<Shared<S>>,
    mut rx: mpsc::Receiver<Claimed>,
    sem: Arc<Semaphore>,
    avg_us: Arc<AtomicU64>,
) {
    let mut tasks: JoinSet<()> = JoinSet::new();
    loop {
        let permit = tokio::select! {
            biased;
            _ = shared.stop.cancelled() => break,
            p = sem.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
        };
        let job = tokio::select! {
            biased;
            _ = shared.stop.cancelled() => break,
            j = rx.recv() => match j { Some(j) => j, None => break },
        };
        tasks.spawn(run_one(shared.clone(), job, permit, avg_us.clone()));
        while tasks.try_join_next().is_some() {}
    }
    // Buffered jobs never started: they stay held (not started) and are released later.
    rx.close();
    while rx.try_recv().is_ok() {}
    let soft = shared.config.shutdown_timeout;
    let drained =
        tokio::time::timeout(soft, async { while tasks.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        tracing::warn!(
            in_flight = tasks.len(),
            "jobs still running after the shutdown timeout; cancelling them"
        );
        shared.hard.cancel();
        let _ = tokio::time::timeout(Duration::from_millis(500), async {
            while tasks.join_next().await.is_some() {}
        })
        .await;
        tasks.abort_all();
        while tasks.join_next().await.is_some() {}
    }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_string()
    }
}

async fn run_one<S: Clone + Send + Sync + 'static>(
    shared: Arc<Shared<S>>,
    job: Claimed,
    permit: OwnedSemaphorePermit,
    avg_us: Arc<AtomicU64>,
) {
    let _permit = permit;
    let cancel = shared.hard.child_token();
    if let Some(h) = shared.held().get_mut(&job.id) {
        h.started = true;
        h.cancel = Some(cancel.clone());
    }
    let periodic = job
        .unique_key
        .as_deref()
        .and_then(crate::periodic::task_of_key)
        .map(str::to_string);
    let Some(kind) = shared.kinds.get(job.kind.as_str()) else {
        let _ = shared.outcomes.send(Outcome::Failed {
            id: job.id,
            token: job.token,
            kind: "unknown",
            message: format!("no handler registered for kind {:?} on this node", job.kind),
            retry_at: Some(chrono::Utc::now() + chrono::TimeDelta::seconds(60)),
            periodic,
            duration: Duration::ZERO,
        });
        return;
    };
    let ctx = JobContext {
        state: shared.state.clone(),
        db: shared.db.clone(),
        job_id: job.id,
        attempt: job.attempt,
        max_attempts: job.max_attempts,
        trace_id: job.trace_id.clone(),
        node_id: shared.config.node_id.clone(),
        cancel: cancel.clone(),
    };
    let span = tracing::info_span!(
        "job",
        job.kind = kind.name,
        job.id = job.id,
        job.attempt = job.attempt,
        trace_id = job.trace_id.as_deref().unwrap_or(""),
    );
    let started = Instant::now();
    let fut = AssertUnwindSafe((kind.handler)(job.args, ctx)).catch_unwind();
    let result = tokio::select! {
        r = tokio::time::timeout(kind.timeout, fut).instrument(span.clone()) => Some(match r {
            Ok(Ok(Ok(()))) => Ok(()),
            Ok(Ok(Err(e))) => Err(format!("{e:#}")),
            Ok(Err(panic)) => Err(format!("panicked: {}", panic_message(panic.as_ref()))),
            Err(_) => {
                cancel.cancel();
                Err(format!("timed out after {:?}", kind.timeout))
            }
        }),
        _ = cancel.cancelled() => None,
    };
    let duration = started.elapsed();
    let us = u64::try_from(duration.as_micros()).unwrap_or(u64::MAX);
    let old = avg_us.load(Ordering::Relaxed);
    avg_us.store(old - old / 8 + us / 8, Ordering::Relaxed);
    let outcome = match result {
        // Cancelled: the lease was lost (another attempt owns the job) or shutdown is forcing
        // the end; nothing to record from here.
        None => return,
        Some(Ok(())) => Outcome::Completed {
            id: job.id,
            token: job.token,
            kind: kind.name,
            periodic,
            duration,
        },
        Some(Err(message)) => {
            let _e = span.enter();
            let retry_at = (job.attempt < job.max_attempts).then(|| {
                let delay = (kind.backoff)(job.attempt);
                chrono::Utc::now()
                    + chrono::TimeDelta::from_std(delay).unwrap_or(chrono::TimeDelta::days(1))
            });
            tracing::warn!(error = %message, will_retry = retry_at.is_some(), "job attempt failed");
            Outcome::Failed {
                id: job.id,
                token: job.token,
                kind: kind.name,
                message,
                retry_at,
                periodic,
                duration,
            }
        }
    };
    let _ = shared.outcomes.send(outcome);
}

/// Hand back every job this node still holds (shutdown's last step).
pub(super) async fn release_held<S>(shared: &Shared<S>) {
    let jobs: Vec<Release> = shared
        .held()
        .drain()
        .map(|(id, h)| Release {
            id,
            token: h.token,
            started: h.started,
        })
        .collect();
    if jobs.is_empty() {
        return;
    }
    match shared.store.release(&jobs, &shared.config.node_id).await {
        Ok(queues) => {
            tracing::info!(jobs = jobs.len(), "claimed jobs released at shutdown");
            for q in queues {
                shared.hub.wake(&q);
            }
        }
        Err(e) => tracing::warn!(
            error = %e,
            jobs = jobs.len(),
            "releasing jobs failed; they come back when their lease expires"
        ),
    }
}
