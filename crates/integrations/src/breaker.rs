//! A circuit breaker per provider (Mercado Pago, WhatsApp, SMTP): after a run of consecutive failures
//! the breaker opens and callers stop hammering a provider that is down; after a cool-down one trial
//! call is let through (half-open) and its outcome closes or reopens the circuit. While open, callers
//! reschedule their work instead of failing it. The clock is injectable so tests never sleep.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, Utc};

/// Where the breaker reads the time from.
pub trait Clock: Send + Sync {
    /// The current instant.
    fn now(&self) -> DateTime<Utc>;
}

/// The wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that moves only when told to, for tests.
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<DateTime<Utc>>,
}

impl ManualClock {
    /// A clock standing at `start`.
    pub fn new(start: DateTime<Utc>) -> Self {
        Self {
            now: Mutex::new(start),
        }
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        let mut now = lock(&self.now);
        *now += chrono::Duration::from_std(by).unwrap_or(chrono::Duration::MAX);
    }

    /// Puts the clock at `at`.
    pub fn set(&self, at: DateTime<Utc>) {
        *lock(&self.now) = at;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *lock(&self.now)
    }
}

/// When the breaker trips and how long it stays open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerConfig {
    /// Consecutive failures that open the circuit.
    pub failure_threshold: u32,
    /// How long the circuit stays open before one trial call is allowed.
    pub cool_down: Duration,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            failure_threshold: 5,
            cool_down: Duration::from_secs(60),
        }
    }
}

/// The breaker's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// Calls go through.
    Closed,
    /// Calls are refused until the cool-down has passed.
    Open,
    /// The cool-down passed: one trial call is (or may be) in flight.
    HalfOpen,
}

impl BreakerState {
    /// `closed`, `open` or `half_open`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Closed => "closed",
            Self::Open => "open",
            Self::HalfOpen => "half_open",
        }
    }
}

/// The breaker refused a call: try again after `retry_after`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("circuit breaker for {provider} is open; retry in {}s", retry_after.as_secs())]
pub struct BreakerOpen {
    /// The provider whose circuit is open.
    pub provider: String,
    /// How long until a call may be tried again.
    pub retry_after: Duration,
}

#[derive(Debug)]
struct Inner {
    state: BreakerState,
    consecutive_failures: u32,
    opened_at: Option<DateTime<Utc>>,
    /// When the half-open trial was handed out; a trial that never reports back (a crash mid-call)
    /// does not block the provider forever: another is allowed after one more cool-down.
    trial_started_at: Option<DateTime<Utc>>,
}

/// A circuit breaker for one provider. Cheap to share behind an `Arc`; all methods take `&self`.
pub struct CircuitBreaker {
    provider: String,
    config: BreakerConfig,
    clock: Arc<dyn Clock>,
    inner: Mutex<Inner>,
}

impl fmt::Debug for CircuitBreaker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CircuitBreaker")
            .field("provider", &self.provider)
            .field("config", &self.config)
            .field("inner", &*lock(&self.inner))
            .finish()
    }
}

impl CircuitBreaker {
    /// A closed breaker for `provider` on the wall clock.
    pub fn new(provider: impl Into<String>, config: BreakerConfig) -> Self {
        Self::with_clock(provider, config, Arc::new(SystemClock))
    }

    /// A closed breaker reading time from `clock`.
    pub fn with_clock(
        provider: impl Into<String>,
        config: BreakerConfig,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let breaker = Self {
            provider: provider.into(),
            config,
            clock,
            inner: Mutex::new(Inner {
                state: BreakerState::Closed,
                consecutive_failures: 0,
                opened_at: None,
                trial_started_at: None,
            }),
        };
        breaker.publish(BreakerState::Closed);
        breaker
    }

    /// The provider this breaker guards.
    pub fn provider(&self) -> &str {
        &self.provider
    }

    /// Asks whether a call may go out now. `Ok` while closed, and once per cool-down while half-open
    /// (the trial); `Err` with the time to wait otherwise.
    pub fn check(&self) -> Result<(), BreakerOpen> {
        let now = self.clock.now();
        let mut inner = lock(&self.inner);
        match inner.state {
            BreakerState::Closed => Ok(()),
            BreakerState::Open => {
                let opened_at = inner.opened_at.unwrap_or(now);
                let remaining = self.remaining(opened_at, now);
                if remaining.is_zero() {
                    inner.state = BreakerState::HalfOpen;
                    inner.trial_started_at = Some(now);
                    drop(inner);
                    self.publish(BreakerState::HalfOpen);
                    tracing::info!(provider = %self.provider, "circuit breaker half-open: letting one trial call through");
                    Ok(())
                } else {
                    Err(self.refusal(remaining))
                }
            }
            BreakerState::HalfOpen => {
                let started = inner.trial_started_at.unwrap_or(now);
                let remaining = self.remaining(started, now);
                if remaining.is_zero() {
                    inner.trial_started_at = Some(now);
                    Ok(())
                } else {
                    Err(self.refusal(remaining))
                }
            }
        }
    }

    /// Records a successful call: the circuit closes and the failure count resets.
    pub fn record_success(&self) {
        let mut inner = lock(&self.inner);
        let was = inner.state;
        inner.state = BreakerState::Closed;
        inner.consecutive_failures = 0;
        inner.opened_at = None;
        inner.trial_started_at = None;
        drop(inner);
        if was != BreakerState::Closed {
            tracing::info!(provider = %self.provider, "circuit breaker closed after a successful call");
            self.publish(BreakerState::Closed);
        }
    }

    /// Records a failed call (one that counts against the provider: 5xx, timeout, connection refused).
    /// Opens the circuit at the threshold, and reopens it when the half-open trial fails.
    pub fn record_failure(&self) {
        let now = self.clock.now();
        let mut inner = lock(&self.inner);
        inner.consecutive_failures = inner.consecutive_failures.saturating_add(1);
        let opens = match inner.state {
            BreakerState::Closed => {
                inner.consecutive_failures >= self.config.failure_threshold.max(1)
            }
            BreakerState::HalfOpen => true,
            BreakerState::Open => false,
        };
        if opens {
            inner.state = BreakerState::Open;
            inner.opened_at = Some(now);
            inner.trial_started_at = None;
            let failures = inner.consecutive_failures;
            drop(inner);
            tracing::warn!(
                provider = %self.provider,
                consecutive_failures = failures,
                cool_down_s = self.config.cool_down.as_secs(),
                "circuit breaker opened"
            );
            self.publish(BreakerState::Open);
        }
    }

    /// The current state. An open breaker whose cool-down has passed still reads `Open` until the next
    /// `check()` turns it half-open.
    pub fn state(&self) -> BreakerState {
        lock(&self.inner).state
    }

    /// When the circuit last opened, if it is not closed.
    pub fn opened_at(&self) -> Option<DateTime<Utc>> {
        lock(&self.inner).opened_at
    }

    /// Consecutive failures recorded since the last success.
    pub fn consecutive_failures(&self) -> u32 {
        lock(&self.inner).consecutive_failures
    }

    fn remaining(&self, since: DateTime<Utc>, now: DateTime<Utc>) -> Duration {
        let elapsed = (now - since).to_std().unwrap_or(Duration::ZERO);
        self.config.cool_down.saturating_sub(elapsed)
    }

    fn refusal(&self, retry_after: Duration) -> BreakerOpen {
        BreakerOpen {
            provider: self.provider.clone(),
            retry_after,
        }
    }

    fn publish(&self, state: BreakerState) {
        let value = match state {
            BreakerState::Closed => 0.0,
            BreakerState::Open | BreakerState::HalfOpen => 1.0,
        };
        metrics::gauge!("circuit_breaker_open", "provider" => self.provider.clone()).set(value);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A poisoned lock only means another thread panicked mid-update of plain data; keep going.
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records the last value set on `circuit_breaker_open{provider}`.
    #[derive(Default)]
    struct GaugeProbe(Arc<Mutex<Vec<(String, f64)>>>);

    struct ProbeGauge {
        labels: String,
        log: Arc<Mutex<Vec<(String, f64)>>>,
    }

    impl metrics::GaugeFn for ProbeGauge {
        fn increment(&self, _: f64) {}
        fn decrement(&self, _: f64) {}
        fn set(&self, value: f64) {
            lock(&self.log).push((self.labels.clone(), value));
        }
    }

    impl metrics::Recorder for GaugeProbe {
        fn describe_counter(
            &self,
            _: metrics::KeyName,
            _: Option<metrics::Unit>,
            _: metrics::SharedString,
        ) {
        }
        fn describe_gauge(
            &self,
            _: metrics::KeyName,
            _: Option<metrics::Unit>,
            _: metrics::SharedString,
        ) {
        }
        fn describe_histogram(
            &self,
            _: metrics::KeyName,
            _: Option<metrics::Unit>,
            _: metrics::SharedString,
        ) {
        }
        fn register_counter(
            &self,
            _: &metrics::Key,
            _: &metrics::Metadata<'_>,
        ) -> metrics::Counter {
            metrics::Counter::noop()
        }
        fn register_gauge(&self, key: &metrics::Key, _: &metrics::Metadata<'_>) -> metrics::Gauge {
            let labels: Vec<String> = key
                .labels()
                .map(|l| format!("{}={}", l.key(), l.value()))
                .collect();
            let labels = format!("{}{{{}}}", key.name(), labels.join(","));
            metrics::Gauge::from_arc(Arc::new(ProbeGauge {
                labels,
                log: self.0.clone(),
            }))
        }
        fn register_histogram(
            &self,
            _: &metrics::Key,
            _: &metrics::Metadata<'_>,
        ) -> metrics::Histogram {
            metrics::Histogram::noop()
        }
    }

    #[test]
    fn gauge_follows_the_state() {
        let probe = GaugeProbe::default();
        let log = probe.0.clone();
        metrics::with_local_recorder(&probe, || {
            let clock = Arc::new(ManualClock::new(Utc::now()));
            let breaker = CircuitBreaker::with_clock(
                "smtp",
                BreakerConfig {
                    failure_threshold: 2,
                    cool_down: Duration::from_secs(10),
                },
                clock.clone(),
            );
            breaker.record_failure();
            breaker.record_failure();
            clock.advance(Duration::from_secs(10));
            assert!(breaker.check().is_ok());
            breaker.record_success();
        });
        let values: Vec<(String, f64)> = lock(&log).clone();
        let name = "circuit_breaker_open{provider=smtp}".to_owned();
        assert_eq!(
            values,
            vec![
                (name.clone(), 0.0),
                (name.clone(), 1.0),
                (name.clone(), 1.0),
                (name, 0.0)
            ]
        );
    }

    #[test]
    fn threshold_of_zero_behaves_like_one() {
        let clock = Arc::new(ManualClock::new(Utc::now()));
        let breaker = CircuitBreaker::with_clock(
            "x",
            BreakerConfig {
                failure_threshold: 0,
                cool_down: Duration::from_secs(1),
            },
            clock,
        );
        assert!(breaker.check().is_ok());
        breaker.record_failure();
        assert_eq!(breaker.state(), BreakerState::Open);
    }
}
