//! `Idempotency-Key` for every POST: the first answer for (route, caller, key) is stored for 48 h
//! and replayed for a retry with the same body; the same key with another body is refused (422);
//! a retry arriving while the first request still runs is told to wait (409).
//!
//! The scope is the route template plus who is calling (a hash of the bearer token or dashboard
//! session, else the client address), so two callers can never read each other's answers. Server
//! errors and authentication failures are not stored: the key is released so a retry runs again.

use std::time::Duration;

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use posada_store::idempotency::{self, Claim};

use super::Problem;
use super::security::{ClientIp, too_large};
use crate::state::AppState;

/// How long answers are kept.
pub const KEEP_FOR: Duration = Duration::from_secs(48 * 3600);

/// Header set on a replayed answer.
pub const REPLAYED_HEADER: &str = "idempotent-replayed";

/// Who is calling, as a short non-reversible tag.
fn principal(req: &Request) -> String {
    if let Some(auth) = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        return format!("token:{}", &posada_store::sha256_hex(auth.as_bytes())[..16]);
    }
    if let Some(session) = super::dashboard::session_cookie(req.headers()) {
        return format!(
            "session:{}",
            &posada_store::sha256_hex(session.as_bytes())[..16]
        );
    }
    match req.extensions().get::<ClientIp>() {
        Some(ip) => format!("client:{}", ip.0),
        None => "client:unknown".to_string(),
    }
}

fn acceptable_key(k: &str) -> bool {
    !k.is_empty() && k.len() <= 255 && k.bytes().all(|b| (0x21..=0x7e).contains(&b))
}

/// Middleware: apply `Idempotency-Key` to POST requests that carry one.
pub async fn idempotency(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if req.method() != Method::POST {
        return next.run(req).await;
    }
    let Some(key) = req
        .headers()
        .get("idempotency-key")
        .map(|v| v.to_str().map(str::to_string))
    else {
        return next.run(req).await;
    };
    let Some(key) = key.ok().filter(|k| acceptable_key(k)) else {
        return Problem::field(
            "Idempotency-Key",
            "use 1 to 255 visible ASCII characters, e.g. a UUID",
        )
        .into_response();
    };
    let Some(route) = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
    else {
        // No route: the answer is a 404 anyway.
        return next.run(req).await;
    };
    let scope = format!("POST {route} {}", principal(&req));
    let (parts, body) = req.into_parts();
    let bytes = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(b) => b,
        Err(e) => {
            let limit = state.settings().max_body_bytes;
            let too_big = std::error::Error::source(&e)
                .map(|s| s.is::<http_body_util::LengthLimitError>())
                .unwrap_or(false)
                || e.to_string().contains("length limit");
            return if too_big {
                too_large(limit).into_response()
            } else {
                Problem::bad_request(format!("the body could not be read: {e}")).into_response()
            };
        }
    };
    let hash = posada_store::sha256_hex(&bytes);
    let ttl = chrono::Duration::from_std(KEEP_FOR).unwrap_or(chrono::Duration::hours(48));
    let claim = match idempotency::claim(state.db(), &scope, &key, &hash, ttl, state.now()).await {
        Ok(c) => c,
        Err(e) => return Problem::from(e).into_response(),
    };
    match claim {
        Claim::New => {}
        Claim::Replay { status, body } => {
            metrics::counter!("idempotency_replays_total").increment(1);
            return replay(status, body);
        }
        Claim::Mismatch => {
            return Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency-key-reused",
                "Idempotency-Key reused with another request",
            )
            .detail("this Idempotency-Key was used with a different body; use a new key for a new request")
            .into_response();
        }
        Claim::InFlight => {
            return Problem::conflict(
                "idempotency-in-flight",
                "A request with this Idempotency-Key is still running",
                "the first request with this Idempotency-Key has not finished; retry shortly to get its answer",
            )
            .retry_after(1)
            .into_response();
        }
    }
    let req = Request::from_parts(parts, Body::from(bytes));
    let response = next.run(req).await;
    let status = response.status();
    let keep = !(status.is_server_error()
        || matches!(
            status,
            StatusCode::UNAUTHORIZED
                | StatusCode::FORBIDDEN
                | StatusCode::TOO_MANY_REQUESTS
                | StatusCode::REQUEST_TIMEOUT
        ));
    if !keep {
        if let Err(e) = idempotency::release(state.db(), &scope, &key).await {
            tracing::warn!(error = %e, "could not release an idempotency key");
        }
        return response;
    }
    let (parts, body) = response.into_parts();
    let body = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(b) => b,
        Err(e) => {
            let _ = idempotency::release(state.db(), &scope, &key).await;
            return Problem::internal(format!("reading the response: {e}")).into_response();
        }
    };
    let text = String::from_utf8_lossy(&body).into_owned();
    if let Err(e) = idempotency::complete(state.db(), &scope, &key, status.as_u16(), &text).await {
        tracing::warn!(error = %e, "could not store an idempotent answer");
    }
    Response::from_parts(parts, Body::from(body))
}

fn replay(status: u16, body: String) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    let content_type = if status.is_client_error() || status.is_server_error() {
        "application/problem+json"
    } else {
        "application/json"
    };
    let mut response = (status, body).into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(REPLAYED_HEADER, HeaderValue::from_static("true"));
    response
}
