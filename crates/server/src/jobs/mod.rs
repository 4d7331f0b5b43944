//! posada's job kinds, one file each: the payload, its queue, priority and unique key, and its
//! `run`, which calls the application core. Also the engine set-up for a node.

pub mod alert_check;
pub mod assistant_reply;
pub mod checkin_reminder;
pub mod cleanup;
pub mod complete_stay;
pub mod completion_pass;
pub mod create_payment_link;
pub mod daily_report;
pub mod deliver_notification;
pub mod expiration_sweep;
pub mod expire_hold;
pub mod guest_button_reply;
pub mod hold_reminder;
pub mod process_payment;
pub mod sync_all_feeds;
pub mod sync_feed;
pub mod transcribe_voice_note;
pub mod whatsapp_delivery;

use posada_jobs::{Engine, EngineConfig, PeriodicTask};
use std::time::Duration;

use crate::state::AppState;

/// Register every job kind and periodic task on an engine.
pub fn register(engine: Engine<AppState>, state: &AppState) -> anyhow::Result<Engine<AppState>> {
    let settings = state.settings();
    let tz = settings.tz();
    crate::app::channels::describe_metrics();
    let engine = engine
        .register::<expire_hold::ExpireHold>()
        .register::<hold_reminder::HoldReminder>()
        .register::<checkin_reminder::CheckInReminder>()
        .register::<complete_stay::CompleteStay>()
        .register::<expiration_sweep::ExpirationSweep>()
        .register::<completion_pass::CompletionPass>()
        .register::<deliver_notification::DeliverNotification>()
        .register::<create_payment_link::CreatePaymentLink>()
        .register::<process_payment::ProcessPayment>()
        .register::<guest_button_reply::GuestButtonReply>()
        .register::<assistant_reply::AssistantReply>()
        .register::<whatsapp_delivery::WhatsappDelivery>()
        .register::<transcribe_voice_note::TranscribeVoiceNote>()
        .register::<sync_feed::SyncFeed>()
        .register::<sync_all_feeds::SyncAllFeeds>()
        .periodic(PeriodicTask::every(
            "ical-sync",
            Duration::from_secs(settings.job_ical_interval_seconds),
            || sync_all_feeds::SyncAllFeeds,
        ))
        .periodic(PeriodicTask::every(
            "expiration-sweep",
            Duration::from_secs(settings.job_expiration_interval_seconds),
            || expiration_sweep::ExpirationSweep,
        ))
        .periodic(PeriodicTask::cron(
            "completion-pass",
            "30 3 * * *",
            tz,
            || completion_pass::CompletionPass,
        )?)
        .register::<daily_report::DailyReport>()
        .register::<alert_check::AlertCheck>()
        .register::<cleanup::Cleanup>()
        .periodic(PeriodicTask::cron(
            "daily-report",
            &crate::app::report::report_cron(&settings.daily_report_time),
            tz,
            || daily_report::DailyReport,
        )?)
        .periodic(PeriodicTask::every(
            "alert-check",
            Duration::from_secs(settings.alert_check_interval_seconds),
            || alert_check::AlertCheck,
        ))
        .periodic(PeriodicTask::every(
            "cleanup",
            Duration::from_secs(3600),
            || cleanup::Cleanup,
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
