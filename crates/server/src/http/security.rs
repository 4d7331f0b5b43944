//! Protection that applies to every request: who the client is (the peer, or `X-Forwarded-For`
//! only behind a trusted proxy), body size limits, security headers and CORS.
//!
//! The client address is resolved once, here, and put in the request as [`ClientIp`] so that rate
//! limits, idempotency scopes and login lockouts all agree on it; a forged `X-Forwarded-For` from
//! an untrusted peer is ignored.

use std::net::{IpAddr, SocketAddr};

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use ipnet::IpNet;
use tower_http::cors::{AllowOrigin, CorsLayer};

use super::Problem;
use super::middleware::OpsExt;
use crate::config::Settings;
use crate::state::AppState;

/// The client's address as posada believes it (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

pub use crate::config::{parse_origins, parse_proxies};

/// The client address: the TCP peer, or — when the peer is a trusted proxy — the right-most
/// address in `X-Forwarded-For` that is not itself a trusted proxy.
pub fn client_ip(peer: IpAddr, forwarded_for: Option<&str>, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|n| n.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let Some(list) = forwarded_for else {
        return peer;
    };
    let mut client = peer;
    for hop in list.rsplit(',').map(str::trim) {
        let Ok(ip) = hop.parse::<IpAddr>() else {
            // A garbled entry: stop trusting what lies further left.
            break;
        };
        client = ip;
        if !is_trusted(&ip) {
            break;
        }
    }
    client
}

/// Middleware: resolve [`ClientIp`] for the rest of the stack.
pub async fn resolve_client(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(IpAddr::from([127, 0, 0, 1]));
    let xff = req
        .headers()
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>()
        .join(",");
    let ip = client_ip(
        peer,
        (!xff.is_empty()).then_some(xff.as_str()),
        &state.ops().trusted_proxies,
    );
    req.extensions_mut().insert(ClientIp(ip));
    next.run(req).await
}

/// Middleware: a guest's `X-Access-Token` in the form tokens are stored in (trimmed, lower-case
/// hex), so a token typed or pasted in upper case is accepted as `AccessToken::parse` promises.
pub async fn canonical_access_token(mut req: Request, next: Next) -> Response {
    let canonical = req
        .headers()
        .get("x-access-token")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            posada_domain::AccessToken::parse(v)
                .ok()
                .filter(|t| t.as_str() != v)
        })
        .and_then(|t| HeaderValue::from_str(t.as_str()).ok());
    if let Some(value) = canonical {
        req.headers_mut().insert("x-access-token", value);
    }
    next.run(req).await
}

/// What a panicking handler answers: a 500 problem, like any other internal error (the panic is
/// logged with the request's trace id).
pub fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let message = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("a panic without a message");
    Problem::internal(format_args!("the handler panicked: {message}")).into_response()
}

/// Whether a path takes media uploads (the larger body limit).
pub fn is_media_route(path: &str) -> bool {
    path.starts_with("/api/v1/admin/") && (path.ends_with("/photos") || path.contains("/media"))
}

/// Middleware: refuse bodies over the limit with 413 problem+json, before reading them when
/// `Content-Length` says so, while reading them otherwise.
pub async fn limit_body(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let settings = state.settings();
    let limit = if is_media_route(req.uri().path()) {
        settings.media_max_body_bytes
    } else {
        settings.max_body_bytes
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return too_large(limit).into_response();
    }
    let req = req.map(|b| Body::new(http_body_util::Limited::new(b, limit)));
    next.run(req).await
}

/// The 413 problem.
pub fn too_large(limit: usize) -> Problem {
    Problem::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "too-large",
        "The request body is too large",
    )
    .detail(format!("the body may be at most {limit} bytes"))
    .with("limit_bytes", limit)
}

/// Middleware: errors produced by tower layers have empty bodies; give them problem+json bodies
/// so every error a client sees has the same shape.
pub async fn problem_for_bare_errors(req: Request, next: Next) -> Response {
    let response = next.run(req).await;
    let status = response.status();
    if (status.is_client_error() || status.is_server_error())
        && !response.headers().contains_key(header::CONTENT_TYPE)
    {
        let p = match status {
            StatusCode::SERVICE_UNAVAILABLE | StatusCode::REQUEST_TIMEOUT => Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "timeout",
                "The request took too long",
            )
            .detail("the server did not finish the request in time; try again"),
            StatusCode::PAYLOAD_TOO_LARGE => {
                Problem::new(status, "too-large", "The request body is too large")
            }
            other => Problem::new(other, "error", other.canonical_reason().unwrap_or("Error")),
        };
        let mut out = p.into_response();
        for (name, value) in response.headers() {
            if !out.headers().contains_key(name) {
                out.headers_mut().insert(name.clone(), value.clone());
            }
        }
        return out;
    }
    response
}

const DASHBOARD_CSP: &str = "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// A response extension: the page may be framed by any site (the guest booking widget); it
/// sets its own `frame-ancestors`, and gets no `X-Frame-Options`.
#[derive(Debug, Clone, Copy)]
pub struct Embeddable;

/// Middleware: security headers on every response. A handler that sets its own
/// Content-Security-Policy (the guest pages) keeps it.
pub async fn security_headers(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let dashboard = req.uri().path().starts_with("/dashboard");
    let mut response = next.run(req).await;
    let embeddable = response.extensions().get::<Embeddable>().is_some();
    let h = response.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if !embeddable {
        h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    if !h.contains_key(header::REFERRER_POLICY) {
        h.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        );
    }
    let csp = if dashboard {
        DASHBOARD_CSP
    } else {
        "default-src 'none'; frame-ancestors 'none'"
    };
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(csp),
        );
    }
    h.insert(
        HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    );
    if state.settings().posada_public_url.starts_with("https://") {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        );
    }
    response
}

/// The CORS layer: closed (no CORS headers, so browsers refuse cross-origin calls) unless
/// `CORS_ALLOWED_ORIGINS` lists origins.
pub fn cors(settings: &Settings) -> Option<CorsLayer> {
    let origins = parse_origins(&settings.cors_allowed_origins).ok()?;
    if origins.is_empty() {
        return None;
    }
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods([
                Method::GET,
                Method::POST,
                Method::PUT,
                Method::PATCH,
                Method::DELETE,
            ])
            .allow_headers([
                header::CONTENT_TYPE,
                header::AUTHORIZATION,
                HeaderName::from_static("idempotency-key"),
                HeaderName::from_static("x-access-token"),
                HeaderName::from_static("x-trace-id"),
            ])
            .expose_headers([
                HeaderName::from_static("x-trace-id"),
                header::RETRY_AFTER,
                HeaderName::from_static("idempotent-replayed"),
            ])
            .max_age(std::time::Duration::from_secs(600)),
    )
}

pub use crate::telemetry::{mask_email, mask_phone};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contacts_are_masked() {
        assert_eq!(mask_email("ana.perez@example.com"), "a***@example.com");
        assert_eq!(mask_email("nonsense"), "***");
        assert_eq!(mask_phone("+54 9 11 5555-1234"), "***34");
        assert_eq!(mask_phone(""), "***");
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let trusted = parse_proxies("10.0.0.0/8, 192.168.1.5").unwrap();
        // Untrusted peer: its header is ignored.
        assert_eq!(
            client_ip(ip("203.0.113.9"), Some("1.2.3.4"), &trusted),
            ip("203.0.113.9")
        );
        // Trusted peer: the right-most untrusted hop is the client.
        assert_eq!(
            client_ip(ip("10.1.2.3"), Some("6.6.6.6, 1.2.3.4, 10.0.0.7"), &trusted),
            ip("1.2.3.4")
        );
        assert_eq!(
            client_ip(ip("192.168.1.5"), Some("1.2.3.4"), &trusted),
            ip("1.2.3.4")
        );
        // Trusted peer, no header: the peer.
        assert_eq!(client_ip(ip("10.1.2.3"), None, &trusted), ip("10.1.2.3"));
        // Garbage stops the walk.
        assert_eq!(
            client_ip(ip("10.1.2.3"), Some("1.2.3.4, nonsense"), &trusted),
            ip("10.1.2.3")
        );
        assert!(parse_proxies("10.0.0.0/33").is_err());
        assert!(parse_proxies("").unwrap().is_empty());
    }

    #[test]
    fn origins_must_be_origins() {
        assert_eq!(
            parse_origins("https://a.example, http://localhost:3000/")
                .unwrap()
                .len(),
            2
        );
        assert!(parse_origins("a.example").is_err());
    }
}
