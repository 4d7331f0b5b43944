//! Prometheus metrics: `GET /metrics` renders the process-wide recorder, a middleware counts and
//! times every request by route template, and [`describe_all`] gives every metric family posada
//! emits its HELP text and type at start-up, so the exposition is complete before the first event.
//!
//! Labels are low-cardinality on purpose: the route template (`/api/v1/reservations/{code}`), never
//! the raw path; never a client address, a phone or a reservation code.

use std::sync::Once;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::Problem;
use crate::state::AppState;

/// `GET /metrics`: the Prometheus text exposition; with `METRICS_TOKEN` set, only for
/// `Authorization: Bearer <token>`.
pub async fn render(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(token) = &state.settings().metrics_token
        && !bearer_is(&headers, token.expose())
    {
        let mut response = Problem::unauthorized(
            "send the metrics token (setting METRICS_TOKEN) as `Authorization: Bearer <token>`",
        )
        .into_response();
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"metrics\""),
        );
        return response;
    }
    refresh_queue_depth(&state).await;
    let body = state.metrics().render();
    let mut response = body.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}

/// Whether the request carries `Authorization: Bearer <expected>` (compared as SHA-256 digests,
/// so the time taken says nothing about the token).
fn bearer_is(headers: &HeaderMap, expected: &str) -> bool {
    use sha2::{Digest, Sha256};
    let Some((scheme, given)) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
    else {
        return false;
    };
    let (a, b) = (
        Sha256::digest(given.trim().as_bytes()),
        Sha256::digest(expected.as_bytes()),
    );
    scheme.eq_ignore_ascii_case("bearer")
        && a.iter()
            .zip(b.iter())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Middleware: `http_requests_total{method,route,status}` and
/// `http_request_duration_seconds{method,route}`.
pub async fn track(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let method = normalize_method(req.method().as_str());
    let started = Instant::now();
    let response = next.run(req).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("http_requests_total", "method" => method, "route" => route.clone(), "status" => status)
        .increment(1);
    metrics::histogram!("http_request_duration_seconds", "method" => method, "route" => route)
        .record(started.elapsed().as_secs_f64());
    response
}

/// Methods outside the usual set collapse into `other` (a client picks the method freely).
fn normalize_method(m: &str) -> &'static str {
    match m {
        "GET" => "GET",
        "HEAD" => "HEAD",
        "POST" => "POST",
        "PUT" => "PUT",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        "OPTIONS" => "OPTIONS",
        _ => "other",
    }
}

/// Buckets of every `_seconds` histogram: 5 ms to 60 s.
pub const SECONDS_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

/// Every counter posada emits outside the job engine: (name, help).
pub const COUNTERS: &[(&str, &str)] = &[
    (
        "http_requests_total",
        "HTTP requests answered, by method, route template and status.",
    ),
    (
        "http_accept_errors_total",
        "Connections the server could not accept (usually out of file descriptors); it pauses and goes on.",
    ),
    (
        "http_connections_refused_total",
        "Connections closed on arrival, by reason (per_ip: HTTP_MAX_CONNECTIONS_PER_IP reached).",
    ),
    (
        "prereservations_expired_total",
        "Holds (pre-reservations) expired, by accommodation.",
    ),
    (
        "prereservation_reminders_sent_total",
        "Hold-expiry reminders requested, by channel.",
    ),
    (
        "reservations_created_total",
        "Reservations (holds) created, by channel.",
    ),
    (
        "reservations_date_overlap_total",
        "Hold requests refused because the dates were taken.",
    ),
    (
        "rate_limit_blocked_total",
        "Requests refused by a rate limit, by route template and route class.",
    ),
    (
        "rate_limit_redis_errors_total",
        "Rate-limit checks that could not reach Redis (the request was allowed).",
    ),
    (
        "rate_limit_redis_skipped_total",
        "Requests allowed without asking Redis while the limiter backs off after a Redis failure.",
    ),
    (
        "dashboard_password_checks_total",
        "Dashboard passwords checked with argon2 (bounded per client by the login lockout).",
    ),
    (
        "idempotency_replays_total",
        "Requests answered from a stored Idempotency-Key response.",
    ),
    (
        "notifications_sent_total",
        "Notifications handed to a provider, by channel and template.",
    ),
    (
        "notifications_failed_total",
        "Notification delivery attempts that failed, by channel.",
    ),
    (
        "notifications_not_configured_total",
        "Notifications recorded but not sent because the channel is not configured, by channel.",
    ),
    (
        "availability_cache_hits_total",
        "Availability calendar reads answered from the node's short cache (AVAILABILITY_CACHE_MS).",
    ),
    (
        "webhook_signature_rejected_total",
        "Webhook deliveries refused because their signature did not verify, by provider.",
    ),
    (
        "whatsapp_send_retries_total",
        "WhatsApp sends retried after a failure.",
    ),
    (
        "payments_received_total",
        "Payment notifications received, by provider and status.",
    ),
    (
        "alerts_raised_total",
        "Owner alerts raised (each occurrence once), by kind.",
    ),
    (
        "daily_reports_sent_total",
        "Daily reports written to the owner's outbox.",
    ),
    (
        "whatsapp_messages_received_total",
        "Guest WhatsApp messages stored, by kind.",
    ),
    (
        "conversations_handed_off_total",
        "Guest WhatsApp messages that handed the conversation to a person, by reason.",
    ),
    (
        "whatsapp_button_actions_total",
        "Guest taps on the hold reminder's buttons acted on, by action and outcome.",
    ),
    (
        "whatsapp_replies_sent_total",
        "Free-form WhatsApp replies the owner sent from the admin API.",
    ),
    (
        "whatsapp_deliveries_duplicate_total",
        "WhatsApp webhook deliveries acknowledged while the same delivery was still queued.",
    ),
    (
        "assistant_transcriptions_total",
        "Guest voice notes handled by POSADA_STT_COMMAND, by outcome (transcribed or why not).",
    ),
    (
        "notifications_held_for_order_total",
        "Guest WhatsApp deliveries that waited for an earlier message to the same guest to go out first.",
    ),
    (
        "conversations_expired_total",
        "Conversation hand-off states cleared by the cleanup because the 24 h window closed.",
    ),
    (
        "database_outages_total",
        "Times the database stopped answering (counted once per outage).",
    ),
    (
        "unit_of_work_retries_total",
        "Write transactions retried after a serialization conflict or busy database, by use case.",
    ),
    (
        "assistant_messages_answered_total",
        "Guest WhatsApp messages the assistant decided on, by outcome.",
    ),
];

/// Every histogram posada emits outside the job engine: (name, help).
pub const HISTOGRAMS: &[(&str, &str)] = &[
    (
        "http_request_duration_seconds",
        "HTTP request duration, by method and route template.",
    ),
    (
        "prereservation_expiry_job_duration_seconds",
        "Run time of expiring one hold.",
    ),
];

/// Every gauge posada emits outside the job engine: (name, help).
pub const GAUGES: &[(&str, &str)] = &[
    (
        "circuit_breaker_open",
        "1 while a provider's circuit breaker is open, by provider.",
    ),
    ("alerts_open", "Owner alerts currently open."),
];

/// Every job kind the server registers (labels of the `jobs_*` families).
pub fn job_kinds() -> Vec<&'static str> {
    use crate::jobs::*;
    use posada_jobs::Job;
    vec![
        expire_hold::ExpireHold::KIND,
        hold_reminder::HoldReminder::KIND,
        checkin_reminder::CheckInReminder::KIND,
        complete_stay::CompleteStay::KIND,
        expiration_sweep::ExpirationSweep::KIND,
        completion_pass::CompletionPass::KIND,
        deliver_notification::DeliverNotification::KIND,
        create_payment_link::CreatePaymentLink::KIND,
        process_payment::ProcessPayment::KIND,
        guest_button_reply::GuestButtonReply::KIND,
        assistant_reply::AssistantReply::KIND,
        sync_feed::SyncFeed::KIND,
        sync_all_feeds::SyncAllFeeds::KIND,
        daily_report::DailyReport::KIND,
        alert_check::AlertCheck::KIND,
        cleanup::Cleanup::KIND,
    ]
}

/// Live job states, the labels of `jobs_queue_depth`.
const LIVE_STATES: [posada_jobs::JobState; 4] = [
    posada_jobs::JobState::Available,
    posada_jobs::JobState::Scheduled,
    posada_jobs::JobState::Running,
    posada_jobs::JobState::Retryable,
];

/// Set `jobs_queue_depth{queue,state}` from the database (every scrape, so every node shows the
/// shared queue as it is; the `default` queue's states are always present).
async fn refresh_queue_depth(state: &AppState) {
    let Ok(rows) = state.jobs().admin().stats().await else {
        return;
    };
    let mut depth: std::collections::BTreeMap<(String, &'static str), f64> = LIVE_STATES
        .iter()
        .map(|s| (("default".to_string(), s.as_str()), 0.0))
        .collect();
    for row in rows {
        if LIVE_STATES.contains(&row.state) {
            *depth
                .entry((row.queue.clone(), row.state.as_str()))
                .or_insert(0.0) += row.count as f64;
        }
    }
    for ((queue, job_state), n) in depth {
        metrics::gauge!(posada_jobs::metrics::QUEUE_DEPTH, "queue" => queue, "state" => job_state)
            .set(n);
    }
}

/// Make every metric family visible from the first scrape: counters at 0 and histograms empty for
/// the labels known at start (job kinds, channels, providers, statuses, alert kinds, and the
/// accommodations and feeds in the database), gauges read from the database. Adding 0 never
/// changes a value, so calling it again is harmless. Families labelled by accommodation have
/// series only once an accommodation exists.
pub async fn register_known(state: &AppState) {
    describe_all();
    crate::app::channels::describe_metrics();
    fn zero(name: &'static str, labels: &[(&'static str, &str)]) {
        let labels: Vec<metrics::Label> = labels
            .iter()
            .map(|(k, v)| metrics::Label::new(*k, v.to_string()))
            .collect();
        metrics::counter!(name, labels).increment(0);
    }
    for name in [
        "http_accept_errors_total",
        "reservations_date_overlap_total",
        "rate_limit_redis_errors_total",
        "rate_limit_redis_skipped_total",
        "dashboard_password_checks_total",
        "idempotency_replays_total",
        "availability_cache_hits_total",
        "whatsapp_send_retries_total",
        "daily_reports_sent_total",
        "whatsapp_replies_sent_total",
        "conversations_expired_total",
        "database_outages_total",
        "ical_conflicts_total",
        "whatsapp_deliveries_duplicate_total",
    ] {
        zero(name, &[]);
    }
    for channel in ["whatsapp", "email"] {
        zero(
            "notifications_held_for_order_total",
            &[("channel", channel)],
        );
    }
    zero(
        "assistant_transcriptions_total",
        &[("outcome", "transcribed")],
    );
    zero(
        "http_requests_total",
        &[("method", "GET"), ("route", "/metrics"), ("status", "200")],
    );
    let _ = metrics::histogram!("http_request_duration_seconds", "method" => "GET", "route" => "/metrics");
    let _ = metrics::histogram!("prereservation_expiry_job_duration_seconds");
    let _ = metrics::histogram!("ical_sync_duration_seconds");
    zero("http_connections_refused_total", &[("reason", "per_ip")]);
    for class in ["public", "webhooks", "admin"] {
        let route = match class {
            "public" => "/api/v1/reservations",
            "webhooks" => "/api/v1/webhooks/mercadopago",
            _ => "/api/v1/admin/reservations",
        };
        zero(
            "rate_limit_blocked_total",
            &[("route", route), ("class", class)],
        );
    }
    for channel in ["api", "whatsapp"] {
        zero("reservations_created_total", &[("channel", channel)]);
    }
    for channel in ["whatsapp", "email"] {
        zero(
            "prereservation_reminders_sent_total",
            &[("channel", channel)],
        );
        zero("notifications_failed_total", &[("channel", channel)]);
        zero(
            "notifications_not_configured_total",
            &[("channel", channel)],
        );
    }
    for (channel, template) in [("whatsapp", "hold_created"), ("email", "hold_created")] {
        zero(
            "notifications_sent_total",
            &[("channel", channel), ("template", template)],
        );
    }
    for provider in ["mercadopago", "whatsapp"] {
        zero(
            "webhook_signature_rejected_total",
            &[("provider", provider)],
        );
    }
    for provider in [
        crate::notify::services::provider::MERCADOPAGO,
        crate::notify::services::provider::WHATSAPP,
        crate::notify::services::provider::SMTP,
    ] {
        metrics::gauge!("circuit_breaker_open", "provider" => provider).increment(0.0);
    }
    metrics::gauge!("alerts_open").increment(0.0);
    for status in [
        "approved",
        "pending",
        "in_process",
        "rejected",
        "cancelled",
        "refunded",
    ] {
        zero("payments_received_total", &[("status", status)]);
    }
    for kind in [
        "feed_stale",
        "conflicts_open",
        "refund_needed",
        "jobs_discarded",
        "conversation_unanswered",
        "circuit_open",
    ] {
        zero("alerts_raised_total", &[("kind", kind)]);
    }
    zero("whatsapp_messages_received_total", &[("kind", "text")]);
    for reason in [
        crate::app::conversations::REASON_GUEST_MESSAGE,
        crate::app::conversations::REASON_BUTTON_UNMATCHED,
        crate::app::conversations::REASON_NO_PAYMENT_LINK,
    ] {
        zero("conversations_handed_off_total", &[("reason", reason)]);
    }
    for action in ["pay", "cancel"] {
        zero(
            "whatsapp_button_actions_total",
            &[("action", action), ("outcome", "handed_off")],
        );
    }
    for outcome in [
        "hold_requested",
        "cancel_requested",
        "handed_off",
        "rate_limited",
    ] {
        zero("assistant_messages_answered_total", &[("outcome", outcome)]);
    }
    zero("unit_of_work_retries_total", &[("use_case", "create_hold")]);
    for kind in job_kinds() {
        for name in [
            posada_jobs::metrics::ENQUEUED,
            posada_jobs::metrics::COMPLETED,
            posada_jobs::metrics::FAILED,
            posada_jobs::metrics::RETRIED,
            posada_jobs::metrics::DISCARDED,
            posada_jobs::metrics::RESCUED,
        ] {
            zero(name, &[("kind", kind)]);
        }
        let _ = metrics::histogram!(posada_jobs::metrics::RUN_DURATION, "kind" => kind);
    }
    // What the database knows: accommodations and their feeds.
    if let Ok(list) = posada_store::accommodations::list(state.db(), false).await {
        for a in &list {
            zero(
                "prereservations_expired_total",
                &[("accommodation_id", &a.accommodation.id.to_string())],
            );
        }
    }
    if let Ok(feeds) = posada_store::feeds::list(state.db(), None).await {
        let mut seen = std::collections::BTreeSet::new();
        for f in &feeds {
            let acc = f.accommodation_id.to_string();
            zero(
                "ical_events_imported_total",
                &[("accommodation_id", &acc), ("source", &f.channel)],
            );
            if seen.insert(f.accommodation_id) {
                for error_type in [
                    "timeout",
                    "connect",
                    "http_status",
                    "too_large",
                    "redirect",
                    "parse",
                    "other",
                ] {
                    zero(
                        "ical_sync_errors_total",
                        &[("accommodation_id", &acc), ("error_type", error_type)],
                    );
                }
                crate::app::channels::refresh_age_gauge(state, f.accommodation_id).await;
            }
        }
    }
    refresh_queue_depth(state).await;
}

/// Give every metric family its HELP text and type (idempotent).
pub fn describe_all() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        posada_jobs::metrics::describe();
        for (name, help) in COUNTERS {
            metrics::describe_counter!(*name, *help);
        }
        for (name, help) in HISTOGRAMS {
            metrics::describe_histogram!(*name, metrics::Unit::Seconds, *help);
        }
        for (name, help) in GAUGES {
            metrics::describe_gauge!(*name, *help);
        }
    });
}
