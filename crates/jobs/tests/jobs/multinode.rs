//! Several nodes on one PostgreSQL database: every job runs exactly once, and a periodic task
//! runs once per slot.

use std::collections::HashMap;
use std::time::Duration;

use posada_db::testing::TestDb;
use posada_jobs::{Engine, EngineConfig, JobOptions, Jobs, NewJob, PeriodicTask};

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_nodes_drain_ten_thousand_jobs_once_each() {
    let t = TestDb::postgres().await;
    let jobs = migrated(&t).await;
    let probe = Probe::default();
    let mut engines = Vec::new();
    for i in 0..3 {
        let node_jobs = Jobs::new(t.another_pool().await);
        let config = EngineConfig {
            node_id: format!("node-{i}"),
            ..fast_config()
        };
        engines.push(
            Engine::new(node_jobs, probe.clone(), config)
                .register::<Count>()
                .start()
                .await
                .unwrap(),
        );
    }
    let batch: Vec<NewJob> = (0..10_000)
        .map(|n| NewJob::new(&Count { n }, JobOptions::default()).unwrap())
        .collect();
    assert_eq!(jobs.enqueue_many(batch).await.unwrap(), 10_000);
    eventually(Duration::from_secs(30), "10,000 completions", || async {
        engines.iter().map(|e| e.completed_count()).sum::<u64>() >= 10_000
    })
    .await;
    let per_node: Vec<u64> = engines.iter().map(|e| e.completed_count()).collect();
    for e in engines {
        e.shutdown().await;
    }
    let counts = probe.counts.lock().unwrap().clone();
    assert_eq!(counts.len(), 10_000, "jobs lost");
    assert!(counts.values().all(|c| *c == 1), "a job ran twice");
    assert!(
        per_node.iter().filter(|n| **n > 0).count() >= 2,
        "work shared: {per_node:?}"
    );
    let stats = jobs.admin().stats().await.unwrap();
    let completed: i64 = stats
        .iter()
        .filter(|r| r.state == posada_jobs::JobState::Completed)
        .map(|r| r.count)
        .sum();
    assert_eq!(completed, 10_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_schedulers_one_run_per_slot() {
    let t = TestDb::postgres().await;
    let jobs = migrated(&t).await;
    let probe = Probe::default();
    let mut engines = Vec::new();
    for i in 0..3 {
        let config = EngineConfig {
            node_id: format!("sched-{i}"),
            enable_scheduler: true,
            ..fast_config()
        };
        engines.push(
            Engine::new(Jobs::new(t.another_pool().await), probe.clone(), config)
                .register::<Echo>()
                .periodic(PeriodicTask::every(
                    "each-second",
                    Duration::from_secs(1),
                    || Echo {
                        label: "tick".into(),
                    },
                ))
                .start()
                .await
                .unwrap(),
        );
    }
    tokio::time::sleep(Duration::from_secs(10)).await;
    for e in engines {
        e.shutdown().await;
    }
    let runs = probe.runs.lock().unwrap().clone();
    let filter = posada_jobs::ListFilter {
        kind: Some("test.echo".into()),
        ..Default::default()
    };
    let listed = jobs
        .admin()
        .list(
            &filter,
            posada_jobs::Page {
                limit: 100,
                before_id: None,
            },
        )
        .await
        .unwrap();
    let mut per_slot: HashMap<String, usize> = HashMap::new();
    for j in &listed {
        *per_slot.entry(j.unique_key.clone().unwrap()).or_default() += 1;
    }
    assert!(
        per_slot.values().all(|n| *n == 1),
        "a slot ran twice: {per_slot:?}"
    );
    assert!(
        (9..=11).contains(&listed.len()),
        "one run per second over 10 s: {}",
        listed.len()
    );
    assert_eq!(runs.len(), listed.len(), "every enqueued slot ran once");
}

/// The notifications received on the jobs channel up to (not including) a marker sent now:
/// `NOTIFY`s arrive in commit order, so whatever was committed before the marker is in the list.
async fn notified_before_marker(
    db: &posada_db::Db,
    listener: &mut sqlx::postgres::PgListener,
) -> Vec<String> {
    let posada_db::Db::Postgres(pool) = db else {
        unreachable!("PostgreSQL test")
    };
    sqlx::query("SELECT pg_notify('posada_jobs', 'marker')")
        .execute(pool)
        .await
        .unwrap();
    let mut got = Vec::new();
    loop {
        let n = tokio::time::timeout(Duration::from_secs(10), listener.recv())
            .await
            .expect("the marker arrives")
            .unwrap();
        if n.payload() == "marker" {
            return got;
        }
        got.push(n.payload().to_string());
    }
}

/// Enqueue a job through `jobs` (numbered on from `n`), then read what was announced before a
/// marker, until that is `want`, at most 50 times (a heartbeat apart is enough); whether it was.
async fn enqueue_until_announced(
    db: &posada_db::Db,
    listener: &mut sqlx::postgres::PgListener,
    jobs: &Jobs,
    n: &mut i64,
    want: &[&str],
) -> bool {
    for _ in 0..50 {
        *n += 1;
        jobs.enqueue(&Count { n: *n }, JobOptions::default())
            .await
            .unwrap();
        if notified_before_marker(db, listener).await == want {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn notify_is_sent_only_while_another_node_runs_workers() {
    let t = TestDb::postgres().await;
    let jobs = migrated(&t).await;
    let posada_db::Db::Postgres(pool) = &t.db else {
        unreachable!("PostgreSQL test")
    };
    let mut listener = sqlx::postgres::PgListener::connect_with(pool)
        .await
        .unwrap();
    listener.listen("posada_jobs").await.unwrap();
    let probe = Probe::default();
    let solo_jobs = Jobs::new(t.another_pool().await);
    let solo = Engine::new(
        solo_jobs.clone(),
        probe.clone(),
        EngineConfig {
            node_id: "solo".into(),
            ..fast_config()
        },
    )
    .register::<Count>()
    .start()
    .await
    .unwrap();
    // Alone (once its first heartbeat has seen so): its own workers are woken in process, and
    // nothing is announced.
    let mut n = 0;
    let silent = enqueue_until_announced(&t.db, &mut listener, &solo_jobs, &mut n, &[]).await;
    assert!(silent, "the lone node kept announcing its jobs");
    eventually(
        Duration::from_secs(10),
        "the lone node's jobs done",
        || async { solo.completed_count() == n as u64 },
    )
    .await;
    // A process without workers for the queue still announces its jobs.
    n += 1;
    jobs.enqueue(&Count { n }, JobOptions::default())
        .await
        .unwrap();
    assert_eq!(
        notified_before_marker(&t.db, &mut listener).await,
        vec!["default"]
    );

    // Another node starts: from the solo node's next heartbeat on, its jobs are announced.
    let other = Engine::new(
        Jobs::new(t.another_pool().await),
        probe.clone(),
        EngineConfig {
            node_id: "other".into(),
            ..fast_config()
        },
    )
    .register::<Count>()
    .start()
    .await
    .unwrap();
    let announced =
        enqueue_until_announced(&t.db, &mut listener, &solo_jobs, &mut n, &["default"]).await;
    assert!(
        announced,
        "the solo node never announced a job after the other node started"
    );
    eventually(Duration::from_secs(10), "every job done", || async {
        solo.completed_count() + other.completed_count() == n as u64
    })
    .await;
    solo.shutdown().await;
    other.shutdown().await;
    let counts = probe.counts.lock().unwrap().clone();
    assert_eq!(counts.len(), n as usize);
    assert!(counts.values().all(|c| *c == 1), "a job ran twice");
}
