//! Operator queries: counts, listing with filters and pages, one job, retry conflicts.

use chrono::Utc;
use posada_db::both_backends;
use posada_db::testing::TestDb;
use posada_jobs::{JobOptions, JobState, JobsError, ListFilter, NewJob, Page};

use crate::support::*;

async fn stats_list_and_get(t: TestDb) {
    let jobs = migrated(&t).await;
    let batch: Vec<NewJob> = (0..7)
        .map(|i| {
            NewJob::new(
                &Echo {
                    label: format!("j{i}"),
                },
                JobOptions::default(),
            )
            .unwrap()
        })
        .collect();
    jobs.enqueue_many(batch).await.unwrap();
    let later = JobOptions {
        run_at: Some(Utc::now() + chrono::TimeDelta::hours(1)),
        queue: Some("mail".into()),
        trace_id: Some("trace-123".into()),
        unique_key: Some("mail:1".into()),
        ..JobOptions::default()
    };
    let scheduled = jobs
        .enqueue(&Flaky { fail_until: 0 }, later)
        .await
        .unwrap()
        .unwrap();

    let admin = jobs.admin();
    let stats = admin.stats().await.unwrap();
    let find = |q: &str, s: JobState| {
        stats
            .iter()
            .find(|r| r.queue == q && r.state == s)
            .map(|r| r.count)
    };
    assert_eq!(find("default", JobState::Available), Some(7));
    assert_eq!(find("mail", JobState::Scheduled), Some(1));

    let filter = ListFilter {
        state: Some(JobState::Available),
        ..ListFilter::default()
    };
    let page1 = admin
        .list(
            &filter,
            Page {
                limit: 4,
                before_id: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(page1.len(), 4);
    assert!(page1.windows(2).all(|w| w[0].id > w[1].id), "newest first");
    let page2 = admin
        .list(
            &filter,
            Page {
                limit: 4,
                before_id: Some(page1.last().unwrap().id),
            },
        )
        .await
        .unwrap();
    assert_eq!(page2.len(), 3);
    let by_queue = ListFilter {
        queue: Some("mail".into()),
        ..ListFilter::default()
    };
    assert_eq!(
        admin.list(&by_queue, Page::default()).await.unwrap().len(),
        1
    );

    let detail = admin.get(scheduled).await.unwrap().unwrap();
    assert_eq!(detail.job.kind, "test.flaky");
    assert_eq!(detail.job.trace_id.as_deref(), Some("trace-123"));
    assert_eq!(detail.args, serde_json::json!({ "fail_until": 0 }));
    assert!(admin.get(i64::MAX).await.unwrap().is_none());

    // Retrying a cancelled job whose key has been taken again is refused.
    assert!(admin.cancel(scheduled).await.unwrap());
    jobs.enqueue(&Flaky { fail_until: 0 }, JobOptions::unique("mail:1"))
        .await
        .unwrap()
        .unwrap();
    match admin.retry(scheduled).await {
        Err(JobsError::UniqueConflict { id, key }) => {
            assert_eq!(id, scheduled);
            assert_eq!(key, "mail:1");
        }
        other => panic!("expected a unique conflict, got {other:?}"),
    }
}

both_backends!(stats_list_and_get);
