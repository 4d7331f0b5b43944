//! The owner's watch: the daily report e-mail, the alert checks (each alert goes out once per
//! occurrence, and again only after it clears and comes back; guest conversations handed to a
//! person and unanswered for over an hour are one of them), and the hourly housekeeping.
//!
//! Messages to the owner are outbox rows (template `owner_daily_report` / `owner_alert`, data with
//! the rendered `subject` and `text`) written by the unit of work with their delivery jobs; alerts
//! also go to a Slack-compatible webhook when `SLACK_WEBHOOK_URL` is set.

use serde_json::json;

use super::error::AppError;
use super::uow::UnitOfWork;
use crate::state::AppState;

/// Write one message for the owner's e-mail (if `OWNER_EMAIL` is set), with its delivery job;
/// returns whether a new row was written (`dedupe_key` already used: no).
async fn owner_email(
    state: &AppState,
    template: &str,
    subject: &str,
    text: &str,
    dedupe_key: &str,
    trace_id: Option<&str>,
) -> Result<bool, AppError> {
    if state
        .settings()
        .owner_email
        .as_deref()
        .is_none_or(str::is_empty)
    {
        tracing::warn!(
            template,
            "OWNER_EMAIL is not set: the owner's message is not recorded"
        );
        return Ok(false);
    }
    let data = json!({ "subject": subject, "text": text });
    let mut uow = UnitOfWork::begin(state).await?.with_trace(trace_id);
    let written = uow.message_owner_email(template, &data, dedupe_key).await?;
    uow.commit().await?;
    Ok(written)
}

/// Prepare today's report and write it for the owner (once per day: a retry or a second run the
/// same day writes nothing new).
pub async fn send_daily_report(state: &AppState, trace_id: Option<&str>) -> anyhow::Result<()> {
    let today = state.today();
    let report = super::report::gather(state, today).await?;
    let (subject, text) = super::report::render(&report);
    let written = owner_email(
        state,
        "owner_daily_report",
        &subject,
        &text,
        &format!("daily_report:{today}"),
        trace_id,
    )
    .await?;
    if written {
        metrics::counter!("daily_reports_sent_total").increment(1);
    }
    tracing::info!(report.day = %today, written, "daily report prepared");
    Ok(())
}

/// One condition found by the alert checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Identifies the condition across checks.
    pub key: String,
    /// The check.
    pub kind: &'static str,
    /// For the owner, in Spanish.
    pub detail: String,
}

/// Every check's kind, so a kind with no findings clears its alerts.
pub const ALERT_KINDS: &[&str] = &[
    "feed_stale",
    "conflicts_open",
    "refund_needed",
    "jobs_discarded",
    "circuit_open",
    "conversation_unanswered",
];

/// A guest conversation handed to a person raises an alert after waiting this long.
pub const CONVERSATION_UNANSWERED_AFTER: chrono::Duration = chrono::Duration::hours(1);

/// Prefix of the alert key of an unanswered conversation (followed by the phone digits).
const CONVERSATION_KEY_PREFIX: &str = "conversation_unanswered:";

/// An alert key as logs may show it: a guest's phone is masked.
pub fn loggable_key(key: &str) -> String {
    match key.strip_prefix(CONVERSATION_KEY_PREFIX) {
        Some(phone) => format!(
            "{CONVERSATION_KEY_PREFIX}{}",
            crate::telemetry::mask_phone(phone)
        ),
        None => key.to_string(),
    }
}

/// Run every check once.
pub async fn findings(state: &AppState) -> anyhow::Result<Vec<Finding>> {
    let now = state.now();
    let db = state.db();
    let mut out = Vec::new();
    for feed in posada_store::ops::stale_feeds(db, now - chrono::Duration::minutes(60)).await? {
        let since = feed
            .last_success_at
            .map(|t| {
                t.with_timezone(&state.settings().tz())
                    .format("%d/%m %H:%M")
                    .to_string()
            })
            .unwrap_or_else(|| "nunca".to_string());
        out.push(Finding {
            key: format!("feed_stale:{}", feed.id),
            kind: "feed_stale",
            detail: format!(
                "El calendario de {} (alojamiento {}) no se sincroniza hace más de una hora (última vez: {since}).",
                feed.channel,
                feed.accommodation_id
            ),
        });
    }
    let conflicts = posada_store::ops::open_conflicts(db).await?;
    if conflicts > 0 {
        out.push(Finding {
            key: "conflicts_open".to_string(),
            kind: "conflicts_open",
            detail: format!(
                "Hay {conflicts} conflicto(s) de calendario sin resolver: un canal bloqueó fechas de una reserva."
            ),
        });
    }
    for code in posada_store::ops::refunds_needed(db).await? {
        out.push(Finding {
            key: format!("refund_needed:{code}"),
            kind: "refund_needed",
            detail: format!("La reserva {code} necesita un reintegro."),
        });
    }
    let jobs = posada_store::ops::jobs_health(db, now).await?;
    if jobs.discarded_last_24h > 0 {
        out.push(Finding {
            key: "jobs_discarded".to_string(),
            kind: "jobs_discarded",
            detail: format!(
                "{} tarea(s) en segundo plano fallaron definitivamente en las últimas 24 h (ver /api/v1/admin/jobs?state=discarded).",
                jobs.discarded_last_24h
            ),
        });
    }
    let tz = state.settings().tz();
    for c in posada_store::conversations::unanswered_since(db, now - CONVERSATION_UNANSWERED_AFTER)
        .await?
    {
        let phone = &c.conversation.phone;
        let who = match (&c.guest_name, &c.reservation_code) {
            (Some(name), Some(code)) => format!("{name} (+{phone}, reserva {code})"),
            (Some(name), None) => format!("{name} (+{phone})"),
            _ => format!("El número +{phone}"),
        };
        let since = c
            .conversation
            .awaiting_since
            .map(|t| t.with_timezone(&tz).format("%d/%m %H:%M").to_string())
            .unwrap_or_default();
        out.push(Finding {
            key: format!("{CONVERSATION_KEY_PREFIX}{phone}"),
            kind: "conversation_unanswered",
            detail: format!(
                "{who} escribió por WhatsApp y espera una respuesta desde el {since} (hace más de una hora). Respondé desde /api/v1/admin/conversations/{phone}/reply o marcá la conversación como resuelta."
            ),
        });
    }
    let services = state.services();
    for breaker in [
        &services.mercadopago_breaker,
        &services.whatsapp_breaker,
        &services.smtp_breaker,
    ] {
        let open_long = breaker.state() != posada_integrations::breaker::BreakerState::Closed
            && breaker
                .opened_at()
                .is_some_and(|t| now - t > chrono::Duration::minutes(10));
        if open_long {
            out.push(Finding {
                key: format!("circuit_open:{}", breaker.provider()),
                kind: "circuit_open",
                detail: format!(
                    "La conexión con {} está cortada (circuito abierto) hace más de 10 minutos.",
                    breaker.provider()
                ),
            });
        }
    }
    Ok(out)
}

/// Record findings; notify the owner of each new occurrence. Returns the keys notified.
pub async fn apply_findings(
    state: &AppState,
    findings: &[Finding],
    trace_id: Option<&str>,
) -> anyhow::Result<Vec<String>> {
    let now = state.now();
    let db = state.db();
    let mut notified = Vec::new();
    for f in findings {
        if posada_store::ops::raise_alert(db, &f.key, f.kind, &f.detail, now).await? {
            let occurrence = posada_store::ops::alert(db, &f.key)
                .await?
                .map(|a| a.occurrences)
                .unwrap_or(1);
            let subject = "⚠ Alerta de posada".to_string();
            owner_email(
                state,
                "owner_alert",
                &subject,
                &f.detail,
                &format!("alert:{}:{occurrence}", f.key),
                trace_id,
            )
            .await?;
            slack(state, &f.detail).await;
            metrics::counter!("alerts_raised_total", "kind" => f.kind).increment(1);
            tracing::warn!(alert.key = %loggable_key(&f.key), alert.kind = f.kind, "alert raised");
            notified.push(f.key.clone());
        }
    }
    for kind in ALERT_KINDS {
        let still: Vec<String> = findings
            .iter()
            .filter(|f| f.kind == *kind)
            .map(|f| f.key.clone())
            .collect();
        for key in posada_store::ops::clear_alerts_except(db, kind, &still, now).await? {
            tracing::info!(alert.key = %loggable_key(&key), "alert cleared");
        }
    }
    let open = posada_store::ops::open_alerts(db).await?.len();
    metrics::gauge!("alerts_open").set(open as f64);
    Ok(notified)
}

/// Post an alert to the Slack-compatible webhook, if configured (failures are logged, not
/// retried: the e-mail is the durable channel).
async fn slack(state: &AppState, text: &str) {
    let Some(url) = &state.settings().slack_webhook_url else {
        return;
    };
    let result = state
        .services()
        .http
        .post(url.expose())
        .json(&json!({ "text": text }))
        .send()
        .await
        .and_then(|r| r.error_for_status());
    if let Err(e) = result {
        tracing::warn!(error = %e.without_url(), "could not post the alert to the Slack webhook");
    }
}

/// Delivered notifications are kept this long.
pub const NOTIFICATION_RETENTION_DAYS: i64 = 90;

/// WhatsApp conversation messages are kept this long.
pub const CONVERSATION_MESSAGE_RETENTION_DAYS: i64 = 90;

/// Hourly housekeeping: expired idempotency keys and dashboard sessions, delivered notifications
/// and WhatsApp conversation messages older than 90 days, and conversation hand-off states whose
/// 24 h window closed. History and audit rows are kept.
pub async fn cleanup(state: &AppState) -> anyhow::Result<()> {
    let db = state.db();
    let now = state.now();
    let keys = posada_store::idempotency::purge_expired(db, now).await?;
    let sessions = posada_store::ops::purge_expired_sessions(db, now).await?;
    let notifications = posada_store::ops::purge_delivered_notifications(
        db,
        now - chrono::Duration::days(NOTIFICATION_RETENTION_DAYS),
    )
    .await?;
    let expired = posada_store::conversations::expire_states(db, now).await?;
    metrics::counter!("conversations_expired_total").increment(expired);
    let messages = posada_store::conversations::purge_messages(
        db,
        now - chrono::Duration::days(CONVERSATION_MESSAGE_RETENTION_DAYS),
    )
    .await?;
    tracing::info!(
        purged.idempotency_keys = keys,
        purged.sessions = sessions,
        purged.notifications = notifications,
        purged.conversation_messages = messages,
        conversations.expired = expired,
        "cleanup done"
    );
    Ok(())
}
