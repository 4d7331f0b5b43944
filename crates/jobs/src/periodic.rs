//! Periodic tasks: interval and cron schedules (cron in a time zone), run exactly once per slot
//! across any number of nodes.
//!
//! Each task has a durable row whose `last_slot` only moves forward by compare-and-set, in the
//! same transaction that enqueues the slot's job (with unique key `periodic:<name>:<slot>`). So a
//! slot is taken by one node only, a restart never repeats it, and slots missed while every node
//! was down are noticed on start and run once (coalesced) or let pass ([`CatchUp::Skip`]).
//! Interval slots are aligned on the Unix epoch, so every node computes the same slots.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::Tz;

use crate::JobsError;
use crate::job::{Job, JobOptions, NewJob};

/// Time zone of cron schedules unless told otherwise.
pub const DEFAULT_TZ: Tz = chrono_tz::America::Argentina::Buenos_Aires;

/// What to do with slots missed while no scheduler was running.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CatchUp {
    /// Run once for all the missed slots (the default).
    #[default]
    Coalesce,
    /// Let missed slots pass; run only slots taken on time.
    Skip,
}

/// When a task runs.
#[derive(Debug, Clone)]
pub enum Schedule {
    /// Every fixed interval, slots aligned on the Unix epoch.
    Every(Duration),
    /// A cron expression (5 fields, or 6 with seconds) read in a time zone.
    Cron {
        /// The expression as given.
        expr: String,
        /// Parsed form.
        cron: Box<croner::Cron>,
        /// Zone the expression is read in.
        tz: Tz,
    },
}

impl Schedule {
    /// The latest slot at or before `now`.
    pub fn latest_at_or_before(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Schedule::Every(every) => {
                let ms = i64::try_from(every.as_millis()).ok()?.max(1);
                let t = now.timestamp_millis().div_euclid(ms) * ms;
                DateTime::from_timestamp_millis(t)
            }
            Schedule::Cron { cron, tz, .. } => cron
                .find_previous_occurrence(&now.with_timezone(tz), true)
                .ok()
                .map(|t| t.with_timezone(&Utc)),
        }
    }

    /// The first slot strictly after `t`.
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Schedule::Every(every) => {
                let ms = i64::try_from(every.as_millis()).ok()?.max(1);
                let n = (t.timestamp_millis().div_euclid(ms) + 1) * ms;
                DateTime::from_timestamp_millis(n)
            }
            Schedule::Cron { cron, tz, .. } => cron
                .find_next_occurrence(&t.with_timezone(tz), false)
                .ok()
                .map(|t| t.with_timezone(&Utc)),
        }
    }

    /// How text shows it (`every 30s`, or the cron expression).
    pub fn describe(&self) -> String {
        match self {
            Schedule::Every(d) => format!("every {}ms", d.as_millis()),
            Schedule::Cron { expr, .. } => expr.clone(),
        }
    }

    /// Time zone name (`UTC` for intervals).
    pub fn tz_name(&self) -> String {
        match self {
            Schedule::Every(_) => "UTC".to_string(),
            Schedule::Cron { tz, .. } => tz.name().to_string(),
        }
    }
}

type MakeArgs = Arc<dyn Fn() -> Result<String, serde_json::Error> + Send + Sync>;

/// A job enqueued on a schedule. Build with [`PeriodicTask::every`] or [`PeriodicTask::cron`] and
/// give it to [`crate::Engine::periodic`].
#[derive(Clone)]
pub struct PeriodicTask {
    pub(crate) name: String,
    pub(crate) schedule: Schedule,
    pub(crate) catch_up: CatchUp,
    pub(crate) kind: &'static str,
    pub(crate) queue: String,
    pub(crate) priority: i16,
    pub(crate) max_attempts: i32,
    pub(crate) make: MakeArgs,
}

impl std::fmt::Debug for PeriodicTask {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeriodicTask")
            .field("name", &self.name)
            .field("schedule", &self.schedule.describe())
            .field("catch_up", &self.catch_up)
            .field("kind", &self.kind)
            .finish()
    }
}

impl PeriodicTask {
    fn build<J: Job>(
        name: String,
        schedule: Schedule,
        make: impl Fn() -> J + Send + Sync + 'static,
    ) -> PeriodicTask {
        PeriodicTask {
            name,
            schedule,
            catch_up: CatchUp::default(),
            kind: J::KIND,
            queue: J::QUEUE.to_string(),
            priority: J::PRIORITY,
            max_attempts: J::MAX_ATTEMPTS,
            make: Arc::new(move || serde_json::to_string(&make())),
        }
    }

    /// Run `make()`'s job every `every` (slots aligned on the Unix epoch).
    pub fn every<J: Job>(
        name: impl Into<String>,
        every: Duration,
        make: impl Fn() -> J + Send + Sync + 'static,
    ) -> PeriodicTask {
        Self::build(
            name.into(),
            Schedule::Every(every.max(Duration::from_millis(1))),
            make,
        )
    }

    /// Run `make()`'s job at the times of cron expression `expr` read in `tz` (e.g.
    /// `"0 8 * * *"`, [`DEFAULT_TZ`]).
    pub fn cron<J: Job>(
        name: impl Into<String>,
        expr: &str,
        tz: Tz,
        make: impl Fn() -> J + Send + Sync + 'static,
    ) -> Result<PeriodicTask, JobsError> {
        let name = name.into();
        let cron = croner::parser::CronParser::builder()
            .seconds(croner::parser::Seconds::Optional)
            .build()
            .parse(expr)
            .map_err(|e| JobsError::Schedule {
                task: name.clone(),
                reason: e.to_string(),
            })?;
        Ok(Self::build(
            name,
            Schedule::Cron {
                expr: expr.to_string(),
                cron: Box::new(cron),
                tz,
            },
            make,
        ))
    }

    /// Choose what happens to slots missed while no scheduler ran.
    pub fn catch_up(mut self, policy: CatchUp) -> Self {
        self.catch_up = policy;
        self
    }

    /// Override queue, priority or max attempts (run time and unique key are the scheduler's).
    pub fn options(mut self, opts: JobOptions) -> Self {
        if let Some(q) = opts.queue {
            self.queue = q;
        }
        if let Some(p) = opts.priority {
            self.priority = p;
        }
        if let Some(m) = opts.max_attempts {
            self.max_attempts = m.max(1);
        }
        self
    }

    /// The task's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its schedule.
    pub fn schedule(&self) -> &Schedule {
        &self.schedule
    }

    /// The job for one slot (or a run-now request), keyed so a slot can only be enqueued once.
    pub(crate) fn job_for(&self, slot_label: &str) -> Result<NewJob, serde_json::Error> {
        Ok(NewJob {
            kind: self.kind.to_string(),
            queue: self.queue.clone(),
            args: (self.make)()?,
            priority: self.priority,
            max_attempts: self.max_attempts,
            run_at: None,
            unique_key: Some(format!("periodic:{}:{}", self.name, slot_label)),
            trace_id: None,
        })
    }

    /// How late a slot may be taken and still count as on time (for [`CatchUp::Skip`]): a
    /// quarter of the period, at most a minute.
    pub(crate) fn grace(&self, slot: DateTime<Utc>) -> TimeDelta {
        let period = self
            .schedule
            .next_after(slot)
            .map(|n| n - slot)
            .unwrap_or(TimeDelta::seconds(60));
        (period / 4).min(TimeDelta::seconds(60))
    }
}

/// Slot label used in unique keys: basic ISO 8601 in UTC, no colons (`20261120T110000.000Z`).
pub(crate) fn slot_label(slot: DateTime<Utc>) -> String {
    slot.format("%Y%m%dT%H%M%S%.3fZ").to_string()
}

/// The task name inside a periodic job's unique key.
pub(crate) fn task_of_key(key: &str) -> Option<&str> {
    key.strip_prefix("periodic:")
        .and_then(|rest| rest.rsplit_once(':'))
        .map(|(name, _)| name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn interval_slots_align_on_the_epoch() {
        let s = Schedule::Every(Duration::from_secs(10));
        let now = Utc.with_ymd_and_hms(2026, 11, 20, 8, 0, 17).unwrap();
        let latest = s.latest_at_or_before(now).unwrap();
        assert_eq!(
            latest,
            Utc.with_ymd_and_hms(2026, 11, 20, 8, 0, 10).unwrap()
        );
        assert_eq!(
            s.next_after(latest).unwrap(),
            Utc.with_ymd_and_hms(2026, 11, 20, 8, 0, 20).unwrap()
        );
    }

    #[test]
    fn cron_reads_in_its_time_zone() {
        let task = PeriodicTask::cron::<Dummy>("daily", "0 8 * * *", DEFAULT_TZ, || Dummy).unwrap();
        // 12:30 UTC is 09:30 in Buenos Aires (UTC-3): the latest 08:00 there is 11:00 UTC today.
        let now = Utc.with_ymd_and_hms(2026, 11, 20, 12, 30, 0).unwrap();
        let latest = task.schedule.latest_at_or_before(now).unwrap();
        assert_eq!(
            latest,
            Utc.with_ymd_and_hms(2026, 11, 20, 11, 0, 0).unwrap()
        );
        assert_eq!(
            task.schedule.next_after(latest).unwrap(),
            Utc.with_ymd_and_hms(2026, 11, 21, 11, 0, 0).unwrap()
        );
        assert!(PeriodicTask::cron::<Dummy>("bad", "61 * * * *", DEFAULT_TZ, || Dummy).is_err());
    }

    #[test]
    fn keys_name_their_task() {
        let slot = Utc.with_ymd_and_hms(2026, 11, 20, 11, 0, 0).unwrap();
        let key = format!("periodic:ical:sync:{}", slot_label(slot));
        assert_eq!(key, "periodic:ical:sync:20261120T110000.000Z");
        assert_eq!(task_of_key(&key), Some("ical:sync"));
        assert_eq!(task_of_key("reminder:42"), None);
    }

    #[derive(serde::Serialize, serde::Deserialize)]
    struct Dummy;
    impl Job for Dummy {
        type State = ();
        const KIND: &'static str = "dummy";
        async fn run(self, _ctx: crate::JobContext<()>) -> anyhow::Result<()> {
            Ok(())
        }
    }
}
