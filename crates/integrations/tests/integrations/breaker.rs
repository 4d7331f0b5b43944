use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use posada_integrations::{BreakerConfig, BreakerState, CircuitBreaker, ManualClock};

fn breaker() -> (CircuitBreaker, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0).unwrap(),
    ));
    let breaker = CircuitBreaker::with_clock(
        "whatsapp",
        BreakerConfig {
            failure_threshold: 3,
            cool_down: Duration::from_secs(60),
        },
        clock.clone(),
    );
    (breaker, clock)
}

#[test]
fn defaults_are_five_failures_and_sixty_seconds() {
    let config = BreakerConfig::default();
    assert_eq!(config.failure_threshold, 5);
    assert_eq!(config.cool_down, Duration::from_secs(60));
}

#[test]
fn opens_after_consecutive_failures_only() {
    let (breaker, _clock) = breaker();
    breaker.record_failure();
    breaker.record_failure();
    breaker.record_success();
    breaker.record_failure();
    breaker.record_failure();
    assert_eq!(
        breaker.state(),
        BreakerState::Closed,
        "a success resets the count"
    );
    assert!(breaker.check().is_ok());
    breaker.record_failure();
    assert_eq!(breaker.state(), BreakerState::Open);
    assert!(breaker.opened_at().is_some());
    let refused = breaker.check().unwrap_err();
    assert_eq!(refused.provider, "whatsapp");
    assert_eq!(refused.retry_after, Duration::from_secs(60));
}

#[test]
fn half_opens_after_cool_down_with_one_trial_then_closes_on_success() {
    let (breaker, clock) = breaker();
    for _ in 0..3 {
        breaker.record_failure();
    }
    clock.advance(Duration::from_secs(45));
    assert_eq!(
        breaker.check().unwrap_err().retry_after,
        Duration::from_secs(15)
    );
    clock.advance(Duration::from_secs(15));
    assert!(breaker.check().is_ok(), "the trial call goes through");
    assert_eq!(breaker.state(), BreakerState::HalfOpen);
    assert!(breaker.check().is_err(), "only one trial while half-open");
    breaker.record_success();
    assert_eq!(breaker.state(), BreakerState::Closed);
    assert_eq!(breaker.opened_at(), None);
    assert!(breaker.check().is_ok());
    assert_eq!(breaker.consecutive_failures(), 0);
}

#[test]
fn failed_trial_reopens_for_another_cool_down() {
    let (breaker, clock) = breaker();
    for _ in 0..3 {
        breaker.record_failure();
    }
    let first_open = breaker.opened_at().unwrap();
    clock.advance(Duration::from_secs(61));
    assert!(breaker.check().is_ok());
    breaker.record_failure();
    assert_eq!(breaker.state(), BreakerState::Open);
    assert_eq!(
        breaker.opened_at().unwrap(),
        first_open + chrono::Duration::seconds(61)
    );
    assert_eq!(
        breaker.check().unwrap_err().retry_after,
        Duration::from_secs(60)
    );
}

#[test]
fn a_trial_that_never_reports_back_does_not_block_forever() {
    let (breaker, clock) = breaker();
    for _ in 0..3 {
        breaker.record_failure();
    }
    clock.advance(Duration::from_secs(60));
    assert!(breaker.check().is_ok());
    // The trial's worker crashed: neither success nor failure is recorded.
    clock.advance(Duration::from_secs(30));
    assert!(breaker.check().is_err());
    clock.advance(Duration::from_secs(30));
    assert!(
        breaker.check().is_ok(),
        "another trial after one more cool-down"
    );
}
