//! The benchmark's own engine: it runs the bench jobs waiting in the database and nothing else,
//! so production engines need not know the bench kind.

use posada_db::both_backends;
use posada_db::testing::TestDb;
use posada_jobs::bench::NoopBenchJob;
use posada_jobs::{JobOptions, JobState, NewJob};

use crate::support::*;

async fn work_drains_the_bench_jobs_and_leaves_other_kinds(t: TestDb) {
    let jobs = migrated(&t).await;
    let batch: Vec<NewJob> = (0..40)
        .map(|_| NewJob::new(&NoopBenchJob { enqueued_at_us: 0 }, JobOptions::default()).unwrap())
        .collect();
    jobs.enqueue_many(batch).await.unwrap();
    let other = jobs
        .enqueue(
            &Echo {
                label: "not a bench job".into(),
            },
            JobOptions::default(),
        )
        .await
        .unwrap()
        .unwrap();

    let ran = posada_jobs::bench::work(t.db.clone(), 4).await.unwrap();
    assert_eq!(ran, 40);
    let stats = jobs.admin().stats().await.unwrap();
    let bench: Vec<_> = stats
        .iter()
        .filter(|r| r.kind == NoopBenchJob::KIND_NAME)
        .collect();
    assert_eq!(bench.len(), 1, "{stats:?}");
    assert_eq!(bench[0].state, JobState::Completed);
    assert_eq!(bench[0].count, 40);
    let echo = jobs.admin().get(other).await.unwrap().unwrap();
    assert_eq!(
        echo.job.state,
        JobState::Available,
        "not the bench's to run"
    );
}

both_backends!(work_drains_the_bench_jobs_and_leaves_other_kinds);
