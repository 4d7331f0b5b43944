//! Background duties beside the workers: lease heartbeats, rescuing jobs of dead workers, making
//! due jobs available, pruning, gauges, the PostgreSQL `LISTEN` loop and the periodic scheduler.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use sqlx::postgres::PgListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::Shared;
use crate::JobsError;
use crate::metrics as m;
use crate::periodic::{CatchUp, slot_label};
use crate::store::{NOTIFY_CHANNEL, SlotFire};

pub(super) async fn spawn<S: Clone + Send + Sync + 'static>(
    shared: Arc<Shared<S>>,
    stop: CancellationToken,
) -> Result<Vec<JoinHandle<()>>, JobsError> {
    let mut tasks = vec![
        tokio::spawn(heartbeat(shared.clone(), stop.clone())),
        tokio::spawn(rescuer(shared.clone(), stop.clone())),
        tokio::spawn(stager(shared.clone(), stop.clone())),
        tokio::spawn(housekeeping(shared.clone(), stop.clone())),
    ];
    if let posada_db::Db::Postgres(pool) = &shared.db {
        let mut listener = PgListener::connect_with(pool).await?;
        listener.listen(NOTIFY_CHANNEL).await?;
        tasks.push(tokio::spawn(listen(shared.clone(), listener, stop.clone())));
    }
    if shared.config.enable_scheduler && !shared.periodic.is_empty() {
        let now = Utc::now();
        for task in &shared.periodic {
            let slot = task.schedule.latest_at_or_before(now);
            shared
                .store
                .periodic_register(
                    &task.name,
                    &task.schedule.describe(),
                    &task.schedule.tz_name(),
                    task.kind,
                    slot,
                    slot.and_then(|s| task.schedule.next_after(s)),
                )
                .await?;
        }
        tasks.push(tokio::spawn(scheduler(shared.clone(), stop.clone())));
    }
    Ok(tasks)
}

async fn sleep_or_stop(d: Duration, stop: &CancellationToken) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(d) => true,
        _ = stop.cancelled() => false,
    }
}

/// Renew the leases of every job this node holds; a job whose renewal is refused belongs to
/// someone else now, so its attempt is cancelled.
async fn heartbeat<S: Clone + Send + Sync + 'static>(
    shared: Arc<Shared<S>>,
    stop: CancellationToken,
) {
    let cfg = &shared.config;
    let started_at = Utc::now();
    let queues = cfg
        .queues
        .iter()
        .map(|(q, c)| format!("{q}:{c}"))
        .collect::<Vec<_>>()
        .join(",");
    loop {
        // A node counts as live for three heartbeats; one that starts meanwhile polls (at most
        // `poll_interval`) until this node's next heartbeat sees it and NOTIFY resumes.
        match shared
            .store
            .node_heartbeat(
                &cfg.node_id,
                started_at,
                &queues,
                cfg.enable_scheduler,
                cfg.heartbeat_interval * 3,
            )
            .await
        {
            Ok(others) => shared.hub.set_others_listening(others),
            Err(e) => {
                shared.hub.set_others_listening(true);
                tracing::warn!(error = %e, "node heartbeat failed");
            }
        }
        let held: Vec<(i64, i64)> = shared.held().iter().map(|(id, h)| (*id, h.token)).collect();
        if !held.is_empty() {
            match shared.store.heartbeat(&held, cfg.lease).await {
                Ok(renewed) => {
                    let renewed: HashSet<i64> = renewed.into_iter().collect();
                    let mut map = shared.held();
                    for (id, token) in held {
                        if renewed.contains(&id) {
                            continue;
                        }
                        // Only drop it if it is still the same attempt (not completed meanwhile).
                        if map.get(&id).is_some_and(|h| h.token == token) {
                            if let Some(c) = map.remove(&id).and_then(|h| h.cancel) {
                                c.cancel();
                            }
                            tracing::warn!(
                                job.id = id,
                                "lease lost (job rescued or cancelled elsewhere); attempt cancelled"
                            );
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "lease heartbeat failed"),
            }
        }
        if !sleep_or_stop(cfg.heartbeat_interval, &stop).await {
            break;
        }
    }
    shared.hub.set_others_listening(true);
}

/// Make jobs of dead workers (expired lease) available again. The dead attempt counts as a
/// failed attempt (error history says the lease expired); a job out of attempts is discarded.
async fn rescuer<S: Clone + Send + Sync + 'static>(
    shared: Arc<Shared<S>>,
    stop: CancellationToken,
) {
    loop {
        match shared.store.rescue().await {
            Ok((rescued, queues)) => {
                if !rescued.is_empty() {
                    tracing::warn!(
                        jobs = rescued.len(),
                        "rescued jobs whose worker stopped renewing its lease"
                    );
                }
                let mut by_kind: HashMap<(String, bool), u64> = HashMap::new();
                for r in rescued {
                    *by_kind.entry((r.kind, r.discarded)).or_default() += 1;
                }
                for ((kind, discarded), n) in by_kind {
                    m::count(m::RESCUED, &kind, n);
                    if discarded {
                        m::count(m::DISCARDED, &kind, n);
                    }
                }
                for q in queues {
                    shared.hub.wake(&q);
                }
            }
            Err(e) => tracing::warn!(error = %e, "rescuing expired leases failed"),
        }
        if !sleep_or_stop(shared.config.rescue_interval, &stop).await {
            break;
        }
    }
}

/// Move scheduled and retryable jobs whose time has come to available, sleeping until the next
/// one is due (or a poll interval, or an in-process enqueue of a future job).
async fn stager<S: Clone + Send + Sync + 'static>(shared: Arc<Shared<S>>, stop: CancellationToken) {
    loop {
        let mut wait = shared.config.poll_interval;
        shared.hub.stager_running(wait);
        match shared.store.stage().await {
            Ok(staged) => {
                for q in &staged.queues {
                    shared.hub.wake(q);
                }
                if staged.promoted >= 10_000 {
                    continue;
                }
                if let Some(next) = staged.next_due {
                    let until = (next - Utc::now()).to_std().unwrap_or(Duration::ZERO);
                    wait = wait.min(until + Duration::from_millis(1));
                }
            }
            Err(e) => tracing::warn!(error = %e, "promoting due jobs failed"),
        }
        // Enqueues of jobs due after this need not wake it (a permit stored meanwhile still does).
        shared.hub.stager_sleeping_until(
            Utc::now() + chrono::TimeDelta::from_std(wait).unwrap_or_default(),
        );
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = shared.hub.stager().notified() => {}
            _ = stop.cancelled() => break,
        }
    }
}

/// Prune old finished jobs and refresh the queue-depth gauges.
async fn housekeeping<S: Clone + Send + Sync + 'static>(
    shared: Arc<Shared<S>>,
    stop: CancellationToken,
) {
    let cfg = &shared.config;
    let mut prune = tokio::time::interval(cfg.prune_interval);
    let mut gauges = tokio::time::interval(cfg.metrics_interval);
    let mut seen: HashSet<(String, String)> = HashSet::new();
    loop {
        tokio::select! {
            _ = prune.tick() => {
                let now = Utc::now();
                let completed = now - chrono::TimeDelta::from_std(cfg.retention_completed).unwrap_or(chrono::TimeDelta::days(1));
                let discarded = now - chrono::TimeDelta::from_std(cfg.retention_discarded).unwrap_or(chrono::TimeDelta::days(7));
                match shared.store.prune(completed, discarded).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(jobs = n, "pruned finished jobs"),
                    Err(e) => tracing::warn!(error = %e, "pruning jobs failed"),
                }
            }
            _ = gauges.tick() => {
                match shared.store.queue_depths().await {
                    Ok(rows) => {
                        let mut now_seen = HashSet::new();
                        for (queue, state, n) in rows {
                            m::queue_depth(&queue, &state, n as f64);
                            now_seen.insert((queue, state));
                        }
                        for (queue, state) in seen.difference(&now_seen) {
                            m::queue_depth(queue, state, 0.0);
                        }
                        seen = now_seen;
                    }
                    Err(e) => tracing::warn!(error = %e, "reading queue depths failed"),
                }
            }
            _ = stop.cancelled() => break,
        }
    }
}

/// PostgreSQL: wake the queue named by each notification; after a lost connection, wake them all
/// (notifications sent meanwhile are gone).
async fn listen<S: Clone + Send + Sync + 'static>(
    shared: Arc<Shared<S>>,
    mut listener: PgListener,
    stop: CancellationToken,
) {
    loop {
        tokio::select! {
            n = listener.recv() => match n {
                Ok(n) => shared.hub.wake(n.payload()),
                Err(e) => {
                    tracing::warn!(error = %e, "job notifications interrupted; polling until they resume");
                    for (q, _) in &shared.config.queues {
                        shared.hub.wake(q);
                    }
                    if !sleep_or_stop(Duration::from_millis(500), &stop).await {
                        break;
                    }
                }
            },
            _ = stop.cancelled() => break,
        }
    }
}

/// Take each periodic task's due slot (compare-and-set on `last_slot`), run-now requests, and
/// refresh the last-run-age gauges.
async fn scheduler<S: Clone + Send + Sync + 'static>(
    shared: Arc<Shared<S>>,
    stop: CancellationToken,
) {
    loop {
        let now = Utc::now();
        match shared.store.periodic_rows().await {
            Ok(rows) => {
                let rows: HashMap<String, _> =
                    rows.into_iter().map(|r| (r.name.clone(), r)).collect();
                for task in &shared.periodic {
                    let Some(row) = rows.get(&task.name) else {
                        continue;
                    };
                    let due = task.schedule.latest_at_or_before(now);
                    if let Some(due) = due.filter(|d| row.last_slot.is_none_or(|last| last < *d)) {
                        {
                            let on_time = now - due <= task.grace(due);
                            let run =
                                !row.paused && (task.catch_up == CatchUp::Coalesce || on_time);
                            let job = if run {
                                match task.job_for(&slot_label(due)) {
                                    Ok(j) => Some(j),
                                    Err(e) => {
                                        tracing::error!(task = %task.name, error = %e, "periodic job arguments cannot be serialized");
                                        None
                                    }
                                }
                            } else {
                                None
                            };
                            let queue = job.as_ref().map(|j| j.queue.clone());
                            let fire = SlotFire {
                                name: &task.name,
                                slot: due,
                                next_run: task.schedule.next_after(due),
                                job,
                            };
                            match shared.store.periodic_fire(fire).await {
                                Ok(Some(id)) => {
                                    if let (Some(q), Some(id)) = (queue, id) {
                                        m::enqueued(task.kind, 1);
                                        shared.hub.wake(&q);
                                        tracing::info!(task = %task.name, slot = %due, job.id = id, "periodic task enqueued");
                                    } else {
                                        tracing::debug!(task = %task.name, slot = %due, "periodic slot passed without a run");
                                    }
                                }
                                Ok(None) => {}
                                Err(e) => {
                                    tracing::warn!(task = %task.name, error = %e, "taking periodic slot failed")
                                }
                            }
                        }
                    }
                    if let Some(requested) = row.run_now_requested_at {
                        let label = format!("now-{}", slot_label(requested));
                        if let Ok(job) = task.job_for(&label) {
                            let queue = job.queue.clone();
                            match shared
                                .store
                                .periodic_take_run_now(&task.name, requested, job)
                                .await
                            {
                                Ok(Some(Some(id))) => {
                                    m::enqueued(task.kind, 1);
                                    shared.hub.wake(&queue);
                                    tracing::info!(task = %task.name, job.id = id, "periodic task run on request");
                                }
                                Ok(_) => {}
                                Err(e) => {
                                    tracing::warn!(task = %task.name, error = %e, "run-now request failed")
                                }
                            }
                        }
                    }
                    if let Some(last) = row.last_run_at {
                        m::periodic_age(&task.name, (now - last).as_seconds_f64().max(0.0));
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "reading periodic tasks failed"),
        }
        let now = Utc::now();
        let next = shared
            .periodic
            .iter()
            .filter_map(|t| t.schedule.next_after(now))
            .min();
        let mut wait = Duration::from_secs(1);
        if let Some(next) = next {
            let until = (next - now).to_std().unwrap_or(Duration::ZERO) + Duration::from_millis(2);
            wait = wait.min(until);
        }
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = shared.hub.scheduler().notified() => {}
            _ = stop.cancelled() => break,
        }
    }
}
