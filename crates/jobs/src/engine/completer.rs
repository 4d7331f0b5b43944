//! The completer: one task that records finished attempts in batches.
//!
//! Handlers hand their outcome over a channel and move on; the completer takes everything that
//! has arrived, writes all completions in one statement and all failures in another, and only
//! then lets go of the jobs (a completion rejected by the attempt token is logged, not applied).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::Shared;
use crate::metrics as m;
use crate::store::Failure;

/// How an attempt ended.
#[derive(Debug)]
pub(crate) enum Outcome {
    Completed {
        id: i64,
        token: i64,
        kind: &'static str,
        periodic: Option<String>,
        duration: Duration,
    },
    Failed {
        id: i64,
        token: i64,
        kind: &'static str,
        message: String,
        retry_at: Option<DateTime<Utc>>,
        periodic: Option<String>,
        duration: Duration,
    },
}

pub(super) async fn run<S: Clone + Send + Sync + 'static>(
    shared: Arc<Shared<S>>,
    mut rx: mpsc::UnboundedReceiver<Outcome>,
    stop: CancellationToken,
) {
    let max = shared.config.completion_batch;
    loop {
        let first = tokio::select! {
            o = rx.recv() => o,
            _ = stop.cancelled() => None,
        };
        let Some(first) = first else {
            let mut rest = Vec::new();
            while let Ok(o) = rx.try_recv() {
                rest.push(o);
            }
            if !rest.is_empty() {
                flush(&shared, rest).await;
            }
            break;
        };
        let mut batch = Vec::with_capacity(64);
        batch.push(first);
        while batch.len() < max {
            match rx.try_recv() {
                Ok(o) => batch.push(o),
                Err(_) => break,
            }
        }
        flush(&shared, batch).await;
    }
}

/// Retry a bookkeeping write a few times: losing it only means the job runs again after its
/// lease expires, but that is worth avoiding during a short database hiccup.
async fn with_retries<T, F, Fut>(what: &str, mut f: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, sqlx::Error>>,
{
    for attempt in 1..=5u64 {
        match f().await {
            Ok(v) => return Some(v),
            Err(e) => {
                tracing::warn!(error = %e, attempt, "recording {what} failed");
                tokio::time::sleep(Duration::from_millis(50 * attempt * attempt)).await;
            }
        }
    }
    tracing::error!(
        "giving up recording {what}; the jobs will run again after their lease expires"
    );
    None
}

async fn flush<S: Clone + Send + Sync + 'static>(shared: &Shared<S>, batch: Vec<Outcome>) {
    let mut done: Vec<(i64, i64)> = Vec::new();
    let mut done_meta: HashMap<i64, (&'static str, Option<String>, Duration)> = HashMap::new();
    let mut failures: Vec<Failure> = Vec::new();
    let mut failure_meta: HashMap<i64, (&'static str, Option<String>, Duration, bool)> =
        HashMap::new();
    for o in batch {
        match o {
            Outcome::Completed {
                id,
                token,
                kind,
                periodic,
                duration,
            } => {
                done.push((id, token));
                done_meta.insert(id, (kind, periodic, duration));
            }
            Outcome::Failed {
                id,
                token,
                kind,
                message,
                retry_at,
                periodic,
                duration,
            } => {
                failure_meta.insert(id, (kind, periodic, duration, retry_at.is_some()));
                failures.push(Failure {
                    id,
                    token,
                    message,
                    retry_at,
                });
            }
        }
    }
    let now = Utc::now();
    if !done.is_empty() {
        let accepted = with_retries("completions", || shared.store.complete(&done)).await;
        if let Some(accepted) = accepted {
            let mut by_kind: HashMap<&'static str, u64> = HashMap::new();
            for id in &accepted {
                if let Some((kind, periodic, duration)) = done_meta.remove(id) {
                    *by_kind.entry(kind).or_default() += 1;
                    m::run_duration(kind, duration.as_secs_f64());
                    if let Some(task) = periodic {
                        let ms = i64::try_from(duration.as_millis()).unwrap_or(i64::MAX);
                        if let Err(e) = shared.store.periodic_record_run(&task, now, ms, None).await
                        {
                            tracing::warn!(error = %e, task = %task, "recording periodic run failed");
                        }
                    }
                }
            }
            for (kind, n) in by_kind {
                m::count(m::COMPLETED, kind, n);
            }
            shared
                .completed
                .fetch_add(accepted.len() as u64, Ordering::Relaxed);
            for (id, (kind, _, _)) in &done_meta {
                tracing::warn!(
                    job.id = id,
                    job.kind = kind,
                    "completion rejected: the attempt no longer owns the job (lease lost or cancelled)"
                );
            }
        }
    }
    if !failures.is_empty() {
        let accepted = with_retries("failed attempts", || {
            shared.store.fail(&failures, &shared.config.node_id)
        })
        .await;
        if let Some(accepted) = accepted {
            let mut any_retry = false;
            for id in &accepted {
                if let Some((kind, periodic, duration, retry)) = failure_meta.get(id) {
                    m::count(m::FAILED, kind, 1);
                    m::count(if *retry { m::RETRIED } else { m::DISCARDED }, kind, 1);
                    m::run_duration(kind, duration.as_secs_f64());
                    any_retry |= *retry;
                    if let Some(task) = periodic {
                        let ms = i64::try_from(duration.as_millis()).unwrap_or(i64::MAX);
                        let msg = failures
                            .iter()
                            .find(|f| f.id == *id)
                            .map(|f| f.message.as_str());
                        if let Err(e) = shared.store.periodic_record_run(task, now, ms, msg).await {
                            tracing::warn!(error = %e, task = %task, "recording periodic run failed");
                        }
                    }
                }
            }
            shared
                .failed
                .fetch_add(accepted.len() as u64, Ordering::Relaxed);
            if any_retry {
                shared.hub.wake_stager();
            }
        }
    }
    let mut held = shared.held();
    for (id, _) in &done {
        held.remove(id);
    }
    for f in &failures {
        held.remove(&f.id);
    }
}
