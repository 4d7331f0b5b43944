//! posada's job kinds (one file per family) and the engine set-up for a node.

pub mod conversations;
pub mod ical;
pub mod notify;
pub mod ops;
pub mod payments;
pub mod reservations;

use posada_jobs::{Engine, EngineConfig, PeriodicTask};
use std::time::Duration;

use crate::state::AppState;

/// Register every job kind and periodic task on an engine.
pub fn register(engine: Engine<AppState>, state: &AppState) -> anyhow::Result<Engine<AppState>> {
    let settings = state.settings();
    let tz = settings.tz();
    crate::ical_sync::describe_metrics();
    let engine = engine
        .register::<reservations::ExpireHold>()
        .register::<reservations::HoldReminder>()
        .register::<reservations::CheckInReminder>()
        .register::<reservations::CompleteStay>()
        .register::<reservations::ExpirationSweep>()
        .register::<reservations::CompletionPass>()
        .register::<notify::DeliverNotification>()
        .register::<payments::CreatePaymentLink>()
        .register::<payments::ProcessPayment>()
        .register::<conversations::GuestButtonReply>()
        .register::<ical::SyncFeed>()
        .register::<ical::SyncAllFeeds>()
        .periodic(PeriodicTask::every(
            "ical-sync",
            Duration::from_secs(settings.job_ical_interval_seconds),
            || ical::SyncAllFeeds,
        ))
        .register_bench_jobs()
        .periodic(PeriodicTask::every(
            "expiration-sweep",
            Duration::from_secs(settings.job_expiration_interval_seconds),
            || reservations::ExpirationSweep,
        ))
        .periodic(PeriodicTask::cron(
            "completion-pass",
            "30 3 * * *",
            tz,
            || reservations::CompletionPass,
        )?)
        .register::<ops::DailyReport>()
        .register::<ops::AlertCheck>()
        .register::<ops::Cleanup>()
        .periodic(PeriodicTask::cron(
            "daily-report",
            &crate::report::report_cron(&settings.daily_report_time),
            tz,
            || ops::DailyReport,
        )?)
        .periodic(PeriodicTask::every(
            "alert-check",
            Duration::from_secs(settings.alert_check_interval_seconds),
            || ops::AlertCheck,
        ))
        .periodic(PeriodicTask::every(
            "cleanup",
            Duration::from_secs(3600),
            || ops::Cleanup,
        ));
    Ok(engine)
}

/// The engine settings for a node, from posada's settings.
pub fn engine_config(state: &AppState) -> EngineConfig {
    let settings = state.settings();
    EngineConfig {
        queues: vec![("default".to_string(), settings.job_concurrency)],
        enable_scheduler: settings.enable_scheduled_tasks,
        shutdown_timeout: Duration::from_secs(settings.shutdown_timeout_seconds),
        ..EngineConfig::default()
    }
}
