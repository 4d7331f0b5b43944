//! Failures: backoff schedule, error history, discard, manual retry, panics and timeouts.

use std::time::Duration;

use posada_db::both_backends;
use posada_db::testing::TestDb;
use posada_jobs::{Engine, JobOptions, JobState};

use crate::support::*;

async fn backoff_history_discard_and_retry(t: TestDb) {
    let jobs = migrated(&t).await;
    let probe = Probe::default();
    let engine = Engine::new(jobs.clone(), probe.clone(), fast_config())
        .register::<Flaky>()
        .start()
        .await
        .unwrap();
    // Fails on attempts 1..=3; MAX_ATTEMPTS is 3, so it is discarded.
    let id = jobs
        .enqueue(&Flaky { fail_until: 3 }, JobOptions::default())
        .await
        .unwrap()
        .unwrap();
    wait_state(&jobs, id, JobState::Discarded, Duration::from_secs(8)).await;

    let detail = jobs.admin().get(id).await.unwrap().unwrap();
    assert_eq!(detail.job.attempt, 3);
    assert_eq!(detail.errors.len(), 3);
    for (i, e) in detail.errors.iter().enumerate() {
        assert_eq!(e.attempt, i as i32 + 1);
        assert_eq!(e.message, format!("boom on attempt {}", i + 1));
        assert_eq!(e.node_id.as_deref(), Some(engine.node_id()));
    }
    // Backoff: attempt n waits 150 ms * n before attempt n+1. The history's times are stamped
    // when the completer writes its batch, which may lag the failure itself by a few tens of
    // milliseconds on a busy machine, so the lower bound allows that lag.
    for pair in detail.errors.windows(2) {
        let gap = pair[1].at - pair[0].at;
        let expected = chrono::TimeDelta::milliseconds(150 * i64::from(pair[0].attempt) - 100);
        assert!(gap >= expected, "gap {gap} shorter than backoff {expected}");
    }
    assert_eq!(detail.job.last_error.as_deref(), Some("boom on attempt 3"));
    assert!(detail.job.finished_at.is_some());

    // Manual retry: attempt 4 succeeds.
    assert!(jobs.admin().retry(id).await.unwrap());
    wait_state(&jobs, id, JobState::Completed, Duration::from_secs(5)).await;
    let detail = jobs.admin().get(id).await.unwrap().unwrap();
    assert_eq!(detail.job.attempt, 4);
    assert_eq!(probe.count(), 4);
    assert!(!jobs.admin().retry(i64::MAX).await.unwrap());
    engine.shutdown().await;
}

async fn panic_and_timeout_are_failures(t: TestDb) {
    let jobs = migrated(&t).await;
    let probe = Probe::default();
    let engine = Engine::new(jobs.clone(), probe.clone(), fast_config())
        .register::<Panics>()
        .register::<Sleepy>()
        .register::<Echo>()
        .start()
        .await
        .unwrap();
    let panics = jobs
        .enqueue(&Panics, JobOptions::default())
        .await
        .unwrap()
        .unwrap();
    let slow = jobs
        .enqueue(&Sleepy { ms: 2_000 }, JobOptions::default())
        .await
        .unwrap()
        .unwrap();
    wait_state(&jobs, panics, JobState::Discarded, Duration::from_secs(5)).await;
    wait_state(&jobs, slow, JobState::Discarded, Duration::from_secs(5)).await;

    let p = jobs.admin().get(panics).await.unwrap().unwrap();
    assert_eq!(p.errors.len(), 2, "both attempts failed");
    assert!(
        p.errors[0].message.contains("handler exploded"),
        "{:?}",
        p.errors
    );
    let s = jobs.admin().get(slow).await.unwrap().unwrap();
    assert_eq!(s.errors.len(), 1);
    assert!(s.errors[0].message.contains("timed out"), "{:?}", s.errors);
    assert!(
        !probe.labels().contains(&"sleepy-end".to_string()),
        "timed-out attempt kept running"
    );

    // The worker survived the panic: it still runs jobs.
    let ok = jobs
        .enqueue(
            &Echo {
                label: "after".into(),
            },
            JobOptions::default(),
        )
        .await
        .unwrap()
        .unwrap();
    wait_state(&jobs, ok, JobState::Completed, Duration::from_secs(5)).await;
    assert_eq!(engine.workers_alive(), 1);
    engine.shutdown().await;
}

both_backends!(
    backoff_history_discard_and_retry,
    panic_and_timeout_are_failures
);
