//! Enqueue: inside the caller's transaction, unique keys, cancel by key, run_at, priorities.

use std::time::Duration;

use chrono::Utc;
use posada_db::both_backends;
use posada_db::testing::TestDb;
use posada_jobs::{Engine, EngineConfig, JobOptions, JobState, NewJob};

use crate::support::*;

async fn transactional_enqueue(t: TestDb) {
    let jobs = migrated(&t).await;
    let probe = Probe::default();
    let engine = Engine::new(jobs.clone(), probe.clone(), fast_config())
        .register::<Echo>()
        .start()
        .await
        .unwrap();

    let mut tx = t.db.begin().await.unwrap();
    let rolled = jobs
        .enqueue_in(
            tx.conn(),
            &Echo {
                label: "rolled-back".into(),
            },
            JobOptions::default(),
        )
        .await
        .unwrap();
    assert!(rolled.is_some());
    tx.rollback().await.unwrap();

    let mut tx = t.db.begin().await.unwrap();
    let id = jobs
        .enqueue_in(
            tx.conn(),
            &Echo {
                label: "committed".into(),
            },
            JobOptions::default(),
        )
        .await
        .unwrap()
        .unwrap();
    jobs.commit(tx).await.unwrap();

    wait_state(&jobs, id, JobState::Completed, Duration::from_secs(5)).await;
    assert_eq!(probe.labels(), vec!["committed".to_string()]);
    assert_eq!(
        count_jobs(&t.db).await,
        1,
        "the rolled-back job must not exist"
    );
    engine.shutdown().await;
}

async fn unique_keys(t: TestDb) {
    let jobs = migrated(&t).await;
    let later = JobOptions {
        run_at: Some(Utc::now() + chrono::TimeDelta::hours(1)),
        unique_key: Some("reminder:1".into()),
        ..JobOptions::default()
    };
    let first = jobs
        .enqueue(&Echo { label: "a".into() }, later.clone())
        .await
        .unwrap();
    assert!(first.is_some());
    let dup = jobs
        .enqueue(&Echo { label: "b".into() }, later.clone())
        .await
        .unwrap();
    assert_eq!(dup, None, "a live job holds the key");

    // Batch: a key repeated inside the batch and a key already live are both skipped.
    let batch = vec![
        NewJob::new(&Echo { label: "c".into() }, JobOptions::unique("k:2")).unwrap(),
        NewJob::new(&Echo { label: "d".into() }, JobOptions::unique("k:2")).unwrap(),
        NewJob::new(
            &Echo { label: "e".into() },
            JobOptions::unique("reminder:1"),
        )
        .unwrap(),
        NewJob::new(&Echo { label: "f".into() }, JobOptions::default()).unwrap(),
        NewJob::new(&Echo { label: "g".into() }, JobOptions::default()).unwrap(),
    ];
    assert_eq!(jobs.enqueue_many(batch).await.unwrap(), 3);

    // Concurrent inserts of one key: exactly one wins.
    let mut tasks = Vec::new();
    for i in 0..12 {
        let jobs = jobs.clone();
        tasks.push(tokio::spawn(async move {
            jobs.enqueue(
                &Echo {
                    label: format!("c{i}"),
                },
                JobOptions::unique("race"),
            )
            .await
            .unwrap()
        }));
    }
    let mut won = 0;
    for t in tasks {
        if t.await.unwrap().is_some() {
            won += 1;
        }
    }
    assert_eq!(won, 1);
    assert_eq!(count_jobs(&t.db).await, 1 + 3 + 1);

    // A finished job frees its key.
    let probe = Probe::default();
    let engine = Engine::new(jobs.clone(), probe.clone(), fast_config())
        .register::<Echo>()
        .start()
        .await
        .unwrap();
    eventually(Duration::from_secs(5), "k:2 to run", || async {
        probe.count() >= 4
    })
    .await;
    engine.shutdown().await;
    let again = jobs
        .enqueue(
            &Echo {
                label: "again".into(),
            },
            JobOptions::unique("k:2"),
        )
        .await
        .unwrap();
    assert!(again.is_some(), "key of a completed job is free again");
}

async fn cancel_by_key(t: TestDb) {
    let jobs = migrated(&t).await;
    let opts = JobOptions {
        run_at: Some(Utc::now() + chrono::TimeDelta::hours(2)),
        unique_key: Some("reminder:42".into()),
        ..JobOptions::default()
    };
    let id = jobs
        .enqueue(&Echo { label: "r".into() }, opts)
        .await
        .unwrap()
        .unwrap();
    let other = jobs
        .enqueue(
            &Echo { label: "o".into() },
            JobOptions::unique("reminder:43"),
        )
        .await
        .unwrap()
        .unwrap();

    // Cancelled in a transaction that rolls back: nothing changes.
    let mut tx = t.db.begin().await.unwrap();
    assert_eq!(
        jobs.cancel_by_key(tx.conn(), "reminder:42").await.unwrap(),
        1
    );
    tx.rollback().await.unwrap();
    assert_eq!(state_of(&jobs, id).await, JobState::Scheduled);

    let mut tx = t.db.begin().await.unwrap();
    assert_eq!(
        jobs.cancel_by_key(tx.conn(), "reminder:42").await.unwrap(),
        1
    );
    jobs.commit(tx).await.unwrap();
    assert_eq!(state_of(&jobs, id).await, JobState::Cancelled);
    assert_eq!(state_of(&jobs, other).await, JobState::Available);
    // Nothing live is left under the key, so cancelling again does nothing, and the key is free.
    let mut tx = t.db.begin().await.unwrap();
    assert_eq!(
        jobs.cancel_by_key(tx.conn(), "reminder:42").await.unwrap(),
        0
    );
    tx.commit().await.unwrap();
    assert!(
        jobs.enqueue(
            &Echo { label: "r2".into() },
            JobOptions::unique("reminder:42")
        )
        .await
        .unwrap()
        .is_some()
    );
    // Cancel by id.
    assert!(jobs.cancel(other).await.unwrap());
    assert!(!jobs.cancel(other).await.unwrap());
}

async fn run_at_honoured(t: TestDb) {
    let jobs = migrated(&t).await;
    let probe = Probe::default();
    let engine = Engine::new(jobs.clone(), probe.clone(), fast_config())
        .register::<Echo>()
        .start()
        .await
        .unwrap();
    let run_at = Utc::now() + chrono::TimeDelta::milliseconds(700);
    let id = jobs
        .enqueue(
            &Echo {
                label: "later".into(),
            },
            JobOptions::at(run_at),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(state_of(&jobs, id).await, JobState::Scheduled);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(probe.count(), 0, "ran before its run_at");
    wait_state(&jobs, id, JobState::Completed, Duration::from_secs(3)).await;
    let detail = jobs.admin().get(id).await.unwrap().unwrap();
    let started = detail.job.attempted_at.unwrap();
    assert!(
        started >= run_at,
        "started {started} before run_at {run_at}"
    );
    assert!(
        started - run_at < chrono::TimeDelta::milliseconds(300),
        "late: {started} vs {run_at}"
    );
    engine.shutdown().await;
}

async fn priorities_honoured(t: TestDb) {
    let jobs = migrated(&t).await;
    let mut batch = Vec::new();
    for i in 0..5 {
        batch.push(
            NewJob::new(
                &Echo {
                    label: format!("low{i}"),
                },
                JobOptions::default(),
            )
            .unwrap(),
        );
    }
    for i in 0..3 {
        let opts = JobOptions {
            priority: Some(10),
            ..JobOptions::default()
        };
        batch.push(
            NewJob::new(
                &Echo {
                    label: format!("high{i}"),
                },
                opts,
            )
            .unwrap(),
        );
    }
    let opts = JobOptions {
        priority: Some(-5),
        ..JobOptions::default()
    };
    batch.push(
        NewJob::new(
            &Echo {
                label: "lowest".into(),
            },
            opts,
        )
        .unwrap(),
    );
    jobs.enqueue_many(batch).await.unwrap();

    let probe = Probe::default();
    let config = EngineConfig {
        queues: vec![("default".into(), 1)],
        ..fast_config()
    };
    let engine = Engine::new(jobs.clone(), probe.clone(), config)
        .register::<Echo>()
        .start()
        .await
        .unwrap();
    eventually(Duration::from_secs(5), "all to run", || async {
        probe.count() == 9
    })
    .await;
    engine.shutdown().await;
    let order = probe.labels();
    assert_eq!(
        order,
        vec![
            "high0", "high1", "high2", "low0", "low1", "low2", "low3", "low4", "lowest"
        ]
    );
}

both_backends!(
    transactional_enqueue,
    unique_keys,
    cancel_by_key,
    run_at_honoured,
    priorities_honoured
);
