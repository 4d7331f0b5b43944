//! The dashboard's login lockout: claiming a password check and counting it are one atomic step,
//! so parallel guesses get no more checks than allowed, and nothing clears an active lock.

use chrono::{Duration, Utc};
use posada_db::both_backends;
use posada_db::testing::TestDb;
use posada_store::ops::{self, LoginAttempt};

use super::migrated;

const MAX: i64 = 5;

fn lock() -> Duration {
    Duration::minutes(15)
}

async fn attempts_are_counted_before_the_check_and_lock_after_the_last(t: TestDb) {
    migrated(&t).await;
    let now = Utc::now();
    for n in 1..MAX {
        let got = ops::claim_login_attempt(&t.db, "1.2.3.4", now, MAX, lock())
            .await
            .unwrap();
        assert_eq!(
            got,
            LoginAttempt::Allowed { locks_until: None },
            "attempt {n}"
        );
    }
    // The last allowed check starts the lock (a right password would clear it).
    let got = ops::claim_login_attempt(&t.db, "1.2.3.4", now, MAX, lock())
        .await
        .unwrap();
    let LoginAttempt::Allowed {
        locks_until: Some(until),
    } = got
    else {
        panic!("the fifth attempt is checked and locks: {got:?}");
    };
    assert!(until > now + Duration::minutes(14));
    // Later attempts are refused without a check, and do not move or clear the lock.
    for later in [now, now + Duration::minutes(5), now + Duration::minutes(14)] {
        let got = ops::claim_login_attempt(&t.db, "1.2.3.4", later, MAX, lock())
            .await
            .unwrap();
        let LoginAttempt::Locked { until: u } = got else {
            panic!("locked: {got:?}");
        };
        assert_eq!(u.timestamp(), until.timestamp());
    }
    // Another client has its own count.
    let got = ops::claim_login_attempt(&t.db, "5.6.7.8", now, MAX, lock())
        .await
        .unwrap();
    assert_eq!(got, LoginAttempt::Allowed { locks_until: None });
    // Once the lock has run out a new count starts.
    let after = until + Duration::seconds(1);
    let got = ops::claim_login_attempt(&t.db, "1.2.3.4", after, MAX, lock())
        .await
        .unwrap();
    assert_eq!(got, LoginAttempt::Allowed { locks_until: None });
    // A right password forgets the count.
    ops::clear_login_failures(&t.db, "1.2.3.4").await.unwrap();
    for _ in 1..MAX {
        let got = ops::claim_login_attempt(&t.db, "1.2.3.4", after, MAX, lock())
            .await
            .unwrap();
        assert_eq!(got, LoginAttempt::Allowed { locks_until: None });
    }
    // Attempts older than the window (with no lock) no longer count.
    let much_later = after + Duration::minutes(16);
    let got = ops::claim_login_attempt(&t.db, "1.2.3.4", much_later, MAX, lock())
        .await
        .unwrap();
    assert_eq!(got, LoginAttempt::Allowed { locks_until: None });
}

async fn parallel_attempts_get_no_more_checks_than_allowed(t: TestDb) {
    migrated(&t).await;
    let now = Utc::now();
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let db = t.db.clone();
        set.spawn(async move {
            ops::claim_login_attempt(&db, "9.9.9.9", now, MAX, lock())
                .await
                .unwrap()
        });
    }
    let mut allowed: i64 = 0;
    let mut locking = 0;
    while let Some(got) = set.join_next().await {
        match got.unwrap() {
            LoginAttempt::Allowed { locks_until } => {
                allowed += 1;
                locking += usize::from(locks_until.is_some());
            }
            LoginAttempt::Locked { .. } => {}
        }
    }
    assert_eq!(
        allowed, MAX,
        "password checks allowed out of 50 parallel attempts"
    );
    assert_eq!(locking, 1, "exactly one attempt started the lock");
    let got = ops::claim_login_attempt(&t.db, "9.9.9.9", now, MAX, lock())
        .await
        .unwrap();
    assert!(matches!(got, LoginAttempt::Locked { .. }), "{got:?}");
}

both_backends!(
    attempts_are_counted_before_the_check_and_lock_after_the_last,
    parallel_attempts_get_no_more_checks_than_allowed
);
