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
        "conversations_expired_total",
        "Conversation hand-off states cleared by the cleanup because the 24 h window closed.",
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
