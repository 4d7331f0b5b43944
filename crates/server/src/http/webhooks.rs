//! Inbound webhooks from Mercado Pago and WhatsApp.
//!
//! Both read the raw body and check the provider's signature before anything else; a bad signature
//! is a 401 and nothing is stored. Mercado Pago's notification only names a payment: the handler
//! enqueues `ProcessPayment` (unique while live, so a burst of duplicates is one job) and answers at
//! once; the job reads the payment from the API. WhatsApp deliveries update message statuses and
//! the 24 h conversation window, deduplicated on (wamid, event); each new guest message is stored
//! and either acted on by a job (the hold reminder's `pay:`/`cancel:` buttons) or hands the
//! conversation to a person (see [`crate::conversations`]), in the same transaction.

use std::collections::HashMap;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use posada_integrations::whatsapp::DeliveryStatus;
use posada_integrations::{SignatureError, WebhookPayload};
use posada_jobs::JobOptions;
use posada_store::conversations;
use serde_json::json;

use crate::http::Problem;
use crate::http::trace::TraceId;
use crate::jobs::payments::{ProcessPayment, process_key};
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

/// `POST /api/v1/webhooks/mercadopago`: signed notifications (`?data.id=…&type=payment` with
/// `x-signature` and `x-request-id`) and the legacy IPN form (`?topic=payment&id=…`, unsigned, verified
/// by reading the payment through the API in the job).
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
    let legacy =
        signature.is_none() && query.contains_key("topic") && !query.contains_key("data.id");
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
                    Utc::now(),
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
            axum::Json(json!({"received": true, "ignored": kind})),
        )
            .into_response();
    }
    let Some(payment_id) = payment_id.filter(|id| valid_payment_id(id)) else {
        return Problem::bad_request("the notification names no valid payment id").into_response();
    };
    let job = ProcessPayment {
        payment_id: payment_id.to_string(),
    };
    let trace_id = trace.map(|t| t.0.0.clone());
    let mut enqueued = state
        .jobs()
        .enqueue(
            &job,
            JobOptions {
                unique_key: Some(process_key(payment_id)),
                trace_id: trace_id.clone(),
                ..JobOptions::default()
            },
        )
        .await;
    if let Ok(None) = enqueued {
        // A job for this payment is live, and may already be past its look-up at the API: this
        // notification can carry a newer status (approved, then refunded), so one follow-up
        // look-up runs shortly after. Further duplicates meanwhile are absorbed by its key.
        enqueued = state
            .jobs()
            .enqueue(
                &job,
                JobOptions {
                    unique_key: Some(format!("{}:again", process_key(payment_id))),
                    run_at: Some(chrono::Utc::now() + chrono::Duration::seconds(2)),
                    trace_id,
                    ..JobOptions::default()
                },
            )
            .await;
    }
    match enqueued {
        Ok(_) => (StatusCode::OK, axum::Json(json!({"received": true}))).into_response(),
        Err(e) => Problem::internal(format!("enqueueing the payment job: {e}")).into_response(),
    }
}

/// `GET /api/v1/webhooks/whatsapp`: Meta's subscription handshake.
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

/// `POST /api/v1/webhooks/whatsapp`: statuses of our messages and inbound messages.
async fn whatsapp_delivery(
    State(state): State<AppState>,
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
    let payload = match WebhookPayload::parse(&body) {
        Ok(p) => p,
        Err(e) => return Problem::bad_request(format!("unreadable delivery: {e}")).into_response(),
    };
    match record_delivery(&state, &payload).await {
        Ok((statuses, messages)) => (
            StatusCode::OK,
            axum::Json(json!({"statuses": statuses, "messages": messages})),
        )
            .into_response(),
        Err(e) => Problem::internal(format!("recording the delivery: {e:#}")).into_response(),
    }
}

/// Apply a delivery in one transaction; returns how many statuses and messages were new.
async fn record_delivery(
    state: &AppState,
    payload: &WebhookPayload,
) -> anyhow::Result<(usize, usize)> {
    let mut tx = state.db().begin().await?;
    let mut statuses = 0;
    for (_, update) in payload.statuses() {
        let Some(wamid) = update.id.as_deref() else {
            continue;
        };
        let status = update.status.as_str();
        if !conversations::first_sighting(tx.conn(), wamid, status).await? {
            continue;
        }
        statuses += 1;
        let error = (update.status == DeliveryStatus::Failed).then(|| {
            update
                .errors
                .iter()
                .map(|e| {
                    let details = e
                        .error_data
                        .as_ref()
                        .and_then(|d| d.details.as_deref())
                        .or(e.message.as_deref())
                        .or(e.title.as_deref())
                        .unwrap_or("");
                    format!("{}: {details}", e.code.unwrap_or(0))
                })
                .collect::<Vec<_>>()
                .join("; ")
        });
        conversations::apply_delivery_status(tx.conn(), wamid, status, error.as_deref()).await?;
    }
    let mut messages = 0;
    for (_, message) in payload.messages() {
        let (Some(wamid), Some(from)) = (message.id.as_deref(), message.from.as_deref()) else {
            continue;
        };
        if !conversations::first_sighting(tx.conn(), wamid, "message").await? {
            continue;
        }
        messages += 1;
        let at = message
            .timestamp
            .as_deref()
            .and_then(|t| t.parse::<i64>().ok())
            .and_then(|t| DateTime::from_timestamp(t, 0))
            .map_or_else(Utc::now, |t| t.min(Utc::now()));
        let digits = crate::conversations::digits(from);
        if digits.is_empty() {
            continue;
        }
        conversations::record_inbound(tx.conn(), &digits, at).await?;
        crate::conversations::receive(state, &mut tx, &digits, wamid, &message.content, at).await?;
    }
    state.jobs().commit(tx).await?;
    Ok((statuses, messages))
}
