//! Periodic tasks: one run per slot, restarts neither repeat nor forget, coalescing, skip,
//! run-now and pause.

use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, Utc};
use posada_db::both_backends;
use posada_db::testing::TestDb;
use posada_jobs::{
    CatchUp, Engine, EngineConfig, EngineHandle, Jobs, ListFilter, Page, PeriodicTask,
};

use crate::support::*;

fn scheduler_config() -> EngineConfig {
    EngineConfig {
        enable_scheduler: true,
        ..fast_config()
    }
}

async fn start(jobs: &Jobs, probe: &Probe, task: PeriodicTask) -> EngineHandle {
    Engine::new(jobs.clone(), probe.clone(), scheduler_config())
        .register::<Echo>()
        .periodic(task)
        .start()
        .await
        .unwrap()
}

/// Slot labels of every job the task enqueued (`now-…` for run-now requests).
async fn slots(jobs: &Jobs) -> Vec<String> {
    let filter = ListFilter {
        kind: Some("test.echo".into()),
        ..ListFilter::default()
    };
    let page = Page {
        limit: 1000,
        before_id: None,
    };
    let mut keys: Vec<String> = jobs
        .admin()
        .list(&filter, page)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|j| j.unique_key)
        .map(|k| k.rsplit_once(':').unwrap().1.to_string())
        .collect();
    keys.sort();
    keys
}

fn parse(label: &str) -> DateTime<Utc> {
    NaiveDateTime::parse_from_str(label, "%Y%m%dT%H%M%S%.3fZ")
        .unwrap()
        .and_utc()
}

async fn once_per_slot_restart_and_coalesce(t: TestDb) {
    let jobs = migrated(&t).await;
    let probe = Probe::default();
    let task = || {
        PeriodicTask::every("tick", Duration::from_secs(1), || Echo {
            label: "tick".into(),
        })
    };
    let engine = start(&jobs, &probe, task()).await;
    eventually(Duration::from_secs(4), "two runs", || async {
        probe.count() >= 2
    })
    .await;
    engine.shutdown().await;
    let before = slots(&jobs).await;
    let last_before = parse(before.last().unwrap());

    // Down for more than two slots.
    tokio::time::sleep(Duration::from_millis(2300)).await;
    let restart = Utc::now();
    let seen = probe.count();
    let engine = start(&jobs, &probe, task()).await;
    eventually(Duration::from_secs(2), "catch-up run", || async {
        probe.count() > seen
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1300)).await;
    engine.shutdown().await;

    let all = slots(&jobs).await;
    let mut dedup = all.clone();
    dedup.dedup();
    assert_eq!(all, dedup, "a slot ran twice: {all:?}");
    let after: Vec<DateTime<Utc>> = all
        .iter()
        .map(|l| parse(l))
        .filter(|s| *s > last_before)
        .collect();
    let missed: Vec<&DateTime<Utc>> = after.iter().filter(|s| **s <= restart).collect();
    assert_eq!(
        missed.len(),
        1,
        "missed slots coalesce into one run: {after:?} (restart {restart})"
    );
    let latest_due =
        DateTime::from_timestamp_millis(restart.timestamp_millis() / 1000 * 1000).unwrap();
    assert_eq!(
        *missed[0], latest_due,
        "the coalesced run is the latest due slot"
    );
    assert!(
        after.iter().any(|s| *s > restart),
        "slots after the restart run: {after:?}"
    );
    let info = jobs.admin().periodic_list().await.unwrap();
    assert_eq!(info.len(), 1);
    assert!(info[0].last_run_at.is_some() && info[0].last_error.is_none());
}

async fn skip_run_now_and_pause(t: TestDb) {
    let jobs = migrated(&t).await;
    let probe = Probe::default();
    let task = || {
        PeriodicTask::every("every2", Duration::from_secs(2), || Echo {
            label: "tick".into(),
        })
        .catch_up(CatchUp::Skip)
    };
    let engine = start(&jobs, &probe, task()).await;
    eventually(Duration::from_secs(5), "one run", || async {
        probe.count() >= 1
    })
    .await;
    engine.shutdown().await;
    // Miss a slot, and restart well past the grace (a quarter period) of the latest one.
    tokio::time::sleep(Duration::from_millis(2000)).await;
    loop {
        let phase = Utc::now().timestamp_millis() % 2000;
        if (800..1300).contains(&phase) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let seen = probe.count();
    let engine = start(&jobs, &probe, task()).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(probe.count(), seen, "skip policy ran a missed slot");

    // Run now: taken by the scheduler within a tick.
    assert!(jobs.admin().periodic_run_now("every2").await.unwrap());
    assert!(!jobs.admin().periodic_run_now("nope").await.unwrap());
    eventually(Duration::from_secs(2), "run-now", || async {
        probe.count() > seen
    })
    .await;
    assert!(slots(&jobs).await.iter().any(|s| s.starts_with("now-")));

    // Paused: slots pass without runs.
    assert!(jobs.admin().periodic_pause("every2").await.unwrap());
    tokio::time::sleep(Duration::from_millis(300)).await;
    let paused_at = probe.count();
    tokio::time::sleep(Duration::from_millis(2300)).await;
    assert_eq!(probe.count(), paused_at, "paused task ran");
    assert!(jobs.admin().periodic_resume("every2").await.unwrap());
    eventually(Duration::from_secs(3), "run after resume", || async {
        probe.count() == paused_at + 1
    })
    .await;
    engine.shutdown().await;
}

both_backends!(once_per_slot_restart_and_coalesce, skip_run_now_and_pause);
