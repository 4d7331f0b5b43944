//! The one source of "now" for the application core and the store calls it makes.
//!
//! Production runs on [`SystemClock`]; tests hand the application a [`ManualClock`] and move it
//! forward (a hold's expiry, a reminder's hour, a stale feed) instead of rewriting timestamps in
//! SQL or sleeping. The generic job engine keeps its own time: it decides *when* a job runs; the
//! application decides *whether* its moment has come, by this clock.

use std::sync::Mutex;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};

/// Tells the time.
pub trait Clock: Send + Sync + 'static {
    /// The current instant.
    fn now(&self) -> DateTime<Utc>;
}

/// The machine's clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that runs with the machine's but can be moved forward (or back) by a test.
#[derive(Debug, Default)]
pub struct ManualClock {
    offset: Mutex<Duration>,
}

impl ManualClock {
    /// A clock showing the machine's time until it is moved.
    pub fn new() -> ManualClock {
        ManualClock::default()
    }

    /// Move the clock by `by` (negative moves it back).
    pub fn advance(&self, by: Duration) {
        let mut offset = self.offset.lock().unwrap_or_else(|p| p.into_inner());
        *offset += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        let offset = *self.offset.lock().unwrap_or_else(|p| p.into_inner());
        Utc::now() + offset
    }
}

/// The local date at `now` in `tz`.
pub fn local_date(now: DateTime<Utc>, tz: chrono_tz::Tz) -> NaiveDate {
    now.with_timezone(&tz).date_naive()
}

/// A local date and time in `tz`, as UTC (the earlier instant in a DST fold; a time in a DST gap
/// is read as UTC rather than refused).
pub fn local_instant(tz: chrono_tz::Tz, date: NaiveDate, time: chrono::NaiveTime) -> DateTime<Utc> {
    let naive = date.and_time(time);
    tz.from_local_datetime(&naive)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| Utc.from_utc_datetime(&naive))
}
