//! Crash safety: a worker process killed with SIGKILL mid-job loses the job to another node
//! within the lease, and the dead attempt's token is fenced off.

use std::process::Stdio;
use std::time::{Duration, Instant};

use posada_db::both_backends;
use posada_db::testing::TestDb;
use posada_jobs::{Engine, JobOptions, JobState, testing};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::support::*;

const LEASE_MS: u64 = 2000;

async fn killed_worker_job_completes_elsewhere(t: TestDb) {
    let jobs = migrated(&t).await;
    let id = jobs
        .enqueue(
            &CrashProbe {
                label: "survivor".into(),
            },
            JobOptions::default(),
        )
        .await
        .unwrap()
        .unwrap();

    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_posada-jobs-crash-worker"))
        .env("POSADA_JOBS_URL", &t.url)
        .env("POSADA_JOBS_LEASE_MS", LEASE_MS.to_string())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let started = tokio::time::timeout(Duration::from_secs(15), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if line.starts_with("started job") {
                return line;
            }
        }
        panic!("worker exited before starting the job");
    })
    .await
    .expect("worker started the job");
    assert!(started.contains(&format!("job {id} ")), "{started}");
    let detail = jobs.admin().get(id).await.unwrap().unwrap();
    assert_eq!(detail.job.state, JobState::Running);
    assert_eq!(detail.job.node_id.as_deref(), Some("crash-worker"));
    let dead_token = token_of(&t.db, id).await.unwrap();

    // SIGKILL: no shutdown, no release.
    child.start_kill().unwrap();
    child.wait().await.unwrap();
    let killed_at = Instant::now();

    let probe = Probe::default();
    let engine = Engine::new(jobs.clone(), probe.clone(), fast_config())
        .register::<CrashProbe>()
        .start()
        .await
        .unwrap();
    wait_state(
        &jobs,
        id,
        JobState::Completed,
        Duration::from_millis(LEASE_MS + 3000),
    )
    .await;
    let took = killed_at.elapsed();
    assert!(
        took <= Duration::from_millis(LEASE_MS + 2000),
        "took {took:?}"
    );
    assert_eq!(probe.labels(), vec!["survivor".to_string()]);
    let detail = jobs.admin().get(id).await.unwrap().unwrap();
    assert_eq!(detail.job.attempt, 2, "the dead attempt counts");
    assert_eq!(detail.errors.len(), 1);
    assert!(
        detail.errors[0].message.contains("lease expired"),
        "{:?}",
        detail.errors
    );
    assert_eq!(detail.errors[0].node_id.as_deref(), Some("crash-worker"));

    // The dead attempt's late completion and heartbeat are rejected.
    assert!(!testing::complete_as(&t.db, id, dead_token).await.unwrap());
    assert!(!testing::heartbeat_as(&t.db, id, dead_token).await.unwrap());
    assert_eq!(state_of(&jobs, id).await, JobState::Completed);
    engine.shutdown().await;
}

async fn fencing_rejects_stale_attempts(t: TestDb) {
    let jobs = migrated(&t).await;
    let id = jobs
        .enqueue(&CrashProbe { label: "f".into() }, JobOptions::default())
        .await
        .unwrap()
        .unwrap();
    let kinds = ["test.crash_probe"];
    let first = testing::claim_as(
        &t.db,
        "crash",
        &kinds,
        10,
        "node-a",
        Duration::from_millis(50),
    )
    .await
    .unwrap();
    assert_eq!(first.len(), 1);
    let (_, old) = first[0];
    // Nobody else can claim it while the lease holds.
    assert!(
        testing::claim_as(&t.db, "crash", &kinds, 10, "node-b", Duration::from_secs(5))
            .await
            .unwrap()
            .is_empty()
    );
    tokio::time::sleep(Duration::from_millis(120)).await;
    assert_eq!(testing::rescue(&t.db).await.unwrap(), 1);
    let second = testing::claim_as(&t.db, "crash", &kinds, 10, "node-b", Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(second.len(), 1);
    let (_, new) = second[0];
    assert_ne!(old, new);
    assert!(
        !testing::heartbeat_as(&t.db, id, old).await.unwrap(),
        "stale heartbeat accepted"
    );
    assert!(
        !testing::complete_as(&t.db, id, old).await.unwrap(),
        "stale completion accepted"
    );
    assert_eq!(state_of(&jobs, id).await, JobState::Running);
    assert!(testing::heartbeat_as(&t.db, id, new).await.unwrap());
    assert!(testing::complete_as(&t.db, id, new).await.unwrap());
    assert_eq!(state_of(&jobs, id).await, JobState::Completed);
    assert!(
        !testing::complete_as(&t.db, id, new).await.unwrap(),
        "completed twice"
    );
}

both_backends!(
    killed_worker_job_completes_elsewhere,
    fencing_rejects_stale_attempts
);
