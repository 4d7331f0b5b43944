//! Graceful shutdown, queue pause/resume, pruning.

use std::time::Duration;

use posada_db::both_backends;
use posada_db::testing::TestDb;
use posada_jobs::{Engine, EngineConfig, JobOptions, JobState};

use crate::support::*;

async fn graceful_shutdown_finishes_in_flight(t: TestDb) {
    let jobs = migrated(&t).await;
    let probe = Probe::default();
    let engine = Engine::new(jobs.clone(), probe.clone(), fast_config())
        .register::<Long>()
        .start()
        .await
        .unwrap();
    let id = jobs
        .enqueue(&Long { ms: 400 }, JobOptions::default())
        .await
        .unwrap()
        .unwrap();
    eventually(Duration::from_secs(5), "job to start", || async {
        probe.labels().contains(&"long-start".to_string())
    })
    .await;
    assert!(engine.is_running());
    engine.shutdown().await;
    assert_eq!(state_of(&jobs, id).await, JobState::Completed);
    assert!(probe.labels().contains(&"long-end".to_string()));

    // Past the soft timeout the attempt is cancelled and the job handed back.
    let probe = Probe::default();
    let config = EngineConfig {
        shutdown_timeout: Duration::from_millis(200),
        ..fast_config()
    };
    let engine = Engine::new(jobs.clone(), probe.clone(), config)
        .register::<Long>()
        .start()
        .await
        .unwrap();
    let id = jobs
        .enqueue(&Long { ms: 20_000 }, JobOptions::default())
        .await
        .unwrap()
        .unwrap();
    eventually(Duration::from_secs(5), "long job to start", || async {
        probe.count() == 1
    })
    .await;
    let started = std::time::Instant::now();
    engine.shutdown().await;
    assert!(started.elapsed() < Duration::from_secs(3));
    let detail = jobs.admin().get(id).await.unwrap().unwrap();
    assert_eq!(detail.job.state, JobState::Available);
    assert_eq!(detail.errors.len(), 1);
    assert!(detail.errors[0].message.contains("shutdown"));
}

async fn pause_and_resume(t: TestDb) {
    let jobs = migrated(&t).await;
    let probe = Probe::default();
    let engine = Engine::new(jobs.clone(), probe.clone(), fast_config())
        .register::<Echo>()
        .start()
        .await
        .unwrap();
    let admin = jobs.admin();
    admin.pause_queue("default").await.unwrap();
    assert_eq!(
        admin.paused_queues().await.unwrap(),
        vec!["default".to_string()]
    );
    let id = jobs
        .enqueue(&Echo { label: "p".into() }, JobOptions::default())
        .await
        .unwrap()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(probe.count(), 0, "paused queue was claimed");
    assert_eq!(state_of(&jobs, id).await, JobState::Available);
    admin.resume_queue("default").await.unwrap();
    assert!(admin.paused_queues().await.unwrap().is_empty());
    wait_state(&jobs, id, JobState::Completed, Duration::from_secs(3)).await;
    engine.shutdown().await;
}

async fn pruning(t: TestDb) {
    let jobs = migrated(&t).await;
    let probe = Probe::default();
    let config = EngineConfig {
        retention_completed: Duration::from_millis(300),
        retention_discarded: Duration::from_secs(3600),
        prune_interval: Duration::from_millis(100),
        ..fast_config()
    };
    let engine = Engine::new(jobs.clone(), probe.clone(), config)
        .register::<Echo>()
        .register::<Sleepy>()
        .start()
        .await
        .unwrap();
    let done = jobs
        .enqueue(&Echo { label: "x".into() }, JobOptions::default())
        .await
        .unwrap()
        .unwrap();
    let discarded = jobs
        .enqueue(&Sleepy { ms: 1000 }, JobOptions::default())
        .await
        .unwrap()
        .unwrap();
    wait_state(
        &jobs,
        discarded,
        JobState::Discarded,
        Duration::from_secs(5),
    )
    .await;
    eventually(
        Duration::from_secs(5),
        "completed job to be pruned",
        || async { jobs.admin().get(done).await.unwrap().is_none() },
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        jobs.admin().get(discarded).await.unwrap().is_some(),
        "discarded kept longer"
    );
    engine.shutdown().await;
}

both_backends!(
    graceful_shutdown_finishes_in_flight,
    pause_and_resume,
    pruning
);
