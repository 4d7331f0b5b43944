//! Inbound webhooks from Mercado Pago and WhatsApp.
//!
//! Both read the raw body and check the provider's signature before anything else; a bad signature
//! is a 401 and nothing is stored. Mercado Pago's notification only names a payment: the handler
//! enqueues `ProcessPayment` (unique while live, so a burst of duplicates is one job) and answers at
//! once; the job reads the payment from the API. A WhatsApp delivery is checked and queued
//! for the `whatsapp.delivery` job in one statement; the job updates message statuses and the 24 h
//! conversation window, deduplicated on (wamid, event), and stores each new guest message, which
//! is answered by the assistant, acted on by a job (the reminders' `pay:`/`cancel:` buttons) or
//! handed to a person (see [`crate::app::conversations`]).

use std::collections::HashMap;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use posada_integrations::{SignatureError, WebhookPayload};
use serde::Serialize;
use utoipa::ToSchema;

use crate::app::conversations::DeliveryQueued;
use crate::http::Problem;
use crate::http::trace::TraceId;
use crate::state::AppState;

/// The webhook routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/webhooks/mercadopago", post(mercadopago))
        .route(
            "/api/v1/webhooks/whatsapp",
            get(whatsapp_verify).post(whatsapp_delivery),
        )
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// A Mercado Pago payment id: digits in practice; letters, `-` and `_` tolerated.
fn valid_payment_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// What a notification was taken for.
#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationReceived {
    /// Always true.
    received: bool,
    /// The notification's type when it is not about a payment (nothing is done with it).
    #[serde(skip_serializing_if = "Option::is_none")]
    ignored: Option<String>,
}

/// A Mercado Pago payment notification.
///
/// Signed notifications (`?data.id=…&type=payment` with
/// `x-signature` and `x-request-id`) and, only while `MERCADOPAGO_WEBHOOK_SECRET` is not set, the
/// legacy IPN form (`?topic=payment&id=…`, unsigned, verified by reading the payment through the API
/// in the job). With a secret set, an unsigned notification of either form is a 401.
#[utoipa::path(
    post,
    path = "/api/v1/webhooks/mercadopago",
    tag = "webhooks",
    params(
        ("data.id" = Option<String>, Query, description = "The payment id (signed form)"),
        ("type" = Option<String>, Query, description = "`payment` for payments (signed form)"),
        ("topic" = Option<String>, Query, description = "`payment` (legacy unsigned form)"),
        ("id" = Option<String>, Query, description = "The payment id (legacy unsigned form)"),
        ("x-signature" = Option<String>, Header, description = "`ts=…,v1=…`: HMAC-SHA256 over the id, the request id and the timestamp"),
        ("x-request-id" = Option<String>, Header, description = "Mercado Pago's request id, part of the signed text"),
    ),
    responses(
        (status = 200, description = "Accepted: a payment look-up is queued (at most 3 per payment id a minute), or the notification is ignored", body = NotificationReceived),
        (status = 400, description = "The notification names no valid payment id", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "The signature is missing, malformed, stale or wrong", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Mercado Pago is not configured on this server", body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn mercadopago(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
    trace: Option<axum::Extension<TraceId>>,
    headers: HeaderMap,
    _body: Bytes,
) -> Response {
    let settings = state.settings();
    if state.services().mercadopago.is_none() {
        return Problem::unavailable("mercado pago is not configured on this server")
            .into_response();
    }
    let signature = header(&headers, "x-signature");
    // With a secret configured every notification must be signed: the legacy unsigned form is
    // read only on a server that has no secret to check against.
    let legacy = settings.mercadopago_webhook_secret.is_none()
        && signature.is_none()
        && query.contains_key("topic")
        && !query.contains_key("data.id");
    let (kind, payment_id) = if legacy {
        (
            query.get("topic").map(String::as_str).unwrap_or(""),
            query.get("id").map(String::as_str),
        )
    } else {
        let data_id = query.get("data.id").map(String::as_str);
        match settings.mercadopago_webhook_secret.as_ref() {
            Some(secret) => {
                let max_age = Duration::from_secs(settings.mercadopago_webhook_max_age_seconds);
                if let Err(e) = posada_integrations::verify_webhook_signature(
                    secret.expose(),
                    signature,
                    header(&headers, "x-request-id"),
                    data_id,
                    state.now(),
                    (max_age > Duration::ZERO).then_some(max_age),
                ) {
                    metrics::counter!("webhook_signature_rejected_total", "provider" => "mercadopago").increment(1);
                    tracing::warn!(error = %e, "mercado pago notification refused");
                    let detail = match e {
                        SignatureError::Stale => "the x-signature timestamp is too old",
                        SignatureError::Missing => "x-signature header missing",
                        SignatureError::Malformed => "x-signature header malformed",
                        SignatureError::Mismatch => "x-signature does not match",
                    };
                    return Problem::unauthorized(detail).into_response();
                }
            }
            None => {
                // Without a secret nothing can be checked here; the job still reads the payment from
                // the API, so a forged notification changes nothing.
                tracing::warn!(
                    "MERCADOPAGO_WEBHOOK_SECRET not set: notification accepted unsigned, verified through the API"
                );
            }
        }
        (
            query
                .get("type")
                .or_else(|| query.get("topic"))
                .map(String::as_str)
                .unwrap_or(""),
            data_id,
        )
    };
    if kind != "payment" {
        // merchant_order, plan, subscription…: nothing posada acts on.
        return (
            StatusCode::OK,
            axum::Json(NotificationReceived {
                received: true,
                ignored: Some(kind.to_string()),
            }),
        )
            .into_response();
    }
    let Some(payment_id) = payment_id.filter(|id| valid_payment_id(id)) else {
        return Problem::bad_request("the notification names no valid payment id").into_response();
    };
    let trace_id = trace.map(|t| t.0.0.clone());
    match crate::app::payments::notification_received(&state, payment_id, trace_id.as_deref()).await
    {
        Ok(()) => (
            StatusCode::OK,
            axum::Json(NotificationReceived {
                received: true,
                ignored: None,
            }),
        )
            .into_response(),
        Err(e) => Problem::from(e).into_response(),
    }
}

/// WhatsApp subscription handshake (Meta's).
#[utoipa::path(
    get,
    path = "/api/v1/webhooks/whatsapp",
    tag = "webhooks",
    params(
        ("hub.mode" = Option<String>, Query, description = "`subscribe`"),
        ("hub.verify_token" = Option<String>, Query, description = "Must equal `WHATSAPP_VERIFY_TOKEN`"),
        ("hub.challenge" = Option<String>, Query, description = "Echoed back when the token matches"),
    ),
    responses(
        (status = 200, description = "The challenge", body = String, content_type = "text/plain"),
        (status = 403, description = "The token does not match, or WHATSAPP_VERIFY_TOKEN is not set", body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn whatsapp_verify(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let Some(expected) = state.settings().whatsapp_verify_token.as_ref() else {
        return Problem::forbidden("WHATSAPP_VERIFY_TOKEN is not set").into_response();
    };
    match posada_integrations::whatsapp::verify_subscription(
        query.get("hub.mode").map(String::as_str),
        query.get("hub.verify_token").map(String::as_str),
        query.get("hub.challenge").map(String::as_str),
        expected.expose(),
    ) {
        Some(challenge) => (StatusCode::OK, challenge.to_string()).into_response(),
        None => Problem::forbidden("verification token does not match").into_response(),
    }
}

/// What a delivery was taken for.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryReceived {
    /// Always true.
    received: bool,
    /// The job that applies this delivery; null when the same delivery is already queued.
    job_id: Option<i64>,
    /// The same delivery (byte for byte) was already queued and not yet applied.
    duplicate: bool,
}

/// WhatsApp deliveries: inbound messages and the statuses of ours.
///
/// Statuses of our messages and inbound messages. Checked
/// (signature, then payload) and queued for `whatsapp.delivery`; applied by that job.
#[utoipa::path(
    post,
    path = "/api/v1/webhooks/whatsapp",
    tag = "webhooks",
    params(("X-Hub-Signature-256" = Option<String>, Header, description = "`sha256=…`: HMAC-SHA256 of the raw body with the app secret")),
    request_body(content = Object, description = "Meta's delivery (messages and statuses)"),
    responses(
        (status = 200, description = "Accepted: queued for the whatsapp.delivery job", body = DeliveryReceived),
        (status = 400, description = "The delivery is not readable", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "The signature does not match, or WHATSAPP_APP_SECRET is not set", body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn whatsapp_delivery(
    State(state): State<AppState>,
    trace: Option<axum::Extension<TraceId>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(secret) = state.settings().whatsapp_app_secret.as_ref() else {
        return Problem::unauthorized(
            "WHATSAPP_APP_SECRET is not set: deliveries cannot be verified",
        )
        .into_response();
    };
    let signature = header(&headers, "x-hub-signature-256").unwrap_or("");
    if !posada_integrations::verify_signature(secret.expose(), signature, &body) {
        metrics::counter!("webhook_signature_rejected_total", "provider" => "whatsapp")
            .increment(1);
        tracing::warn!("whatsapp delivery refused: bad X-Hub-Signature-256");
        return Problem::unauthorized("X-Hub-Signature-256 does not match").into_response();
    }
    if let Err(e) = WebhookPayload::parse(&body) {
        return Problem::bad_request(format!("unreadable delivery: {e}")).into_response();
    }
    // Valid JSON is valid UTF-8.
    let Ok(text) = std::str::from_utf8(&body) else {
        return Problem::bad_request("unreadable delivery: not UTF-8").into_response();
    };
    let trace_id = trace.map(|t| t.0.0.clone());
    match crate::app::conversations::delivery_received(&state, text, trace_id.as_deref()).await {
        Ok(queued) => {
            let (job_id, duplicate) = match queued {
                DeliveryQueued::Queued(id) => (Some(id), false),
                DeliveryQueued::AlreadyQueued => (None, true),
            };
            (
                StatusCode::OK,
                axum::Json(DeliveryReceived {
                    received: true,
                    job_id,
                    duplicate,
                }),
            )
                .into_response()
        }
        Err(e) => Problem::from(e).into_response(),
    }
}
