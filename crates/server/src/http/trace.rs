//! Trace ids: taken from `X-Trace-ID` / `X-Request-ID` or generated, returned on the response,
//! attached to every log line of the request (a span) and handed to the jobs it enqueues.

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

/// Header we answer with.
pub static TRACE_HEADER: HeaderName = HeaderName::from_static("x-trace-id");

/// The request's trace id, available to handlers as an extension.
#[derive(Debug, Clone)]
pub struct TraceId(pub String);

fn acceptable(v: &str) -> bool {
    !v.is_empty()
        && v.len() <= 128
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}

/// Paths that carry a guest's phone (`/api/v1/admin/conversations/{phone}…`).
const PHONE_PATH_PREFIX: &str = "/api/v1/admin/conversations/";

/// Paths that carry a calendar export's secret token (`/ical/{token}.ics`).
const EXPORT_PATH_PREFIX: &str = "/ical/";

/// The request path as logs may show it: a guest's phone in it is masked, and an export URL's
/// secret token is replaced whole (it opens the calendar).
pub fn loggable_path(path: &str) -> std::borrow::Cow<'_, str> {
    if path.starts_with(EXPORT_PATH_PREFIX) {
        return "/ical/***.ics".into();
    }
    let Some(rest) = path.strip_prefix(PHONE_PATH_PREFIX) else {
        return path.into();
    };
    let (phone, tail) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    format!(
        "{PHONE_PATH_PREFIX}{}{tail}",
        super::security::mask_phone(phone)
    )
    .into()
}

/// Middleware: pick or make the trace id, run the request inside a span that carries it.
pub async fn trace_id(mut req: Request, next: Next) -> Response {
    let incoming = ["x-trace-id", "x-request-id"].iter().find_map(|h| {
        req.headers()
            .get(*h)
            .and_then(|v| v.to_str().ok())
            .filter(|v| acceptable(v))
            .map(str::to_string)
    });
    let id = incoming.unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
    req.extensions_mut().insert(TraceId(id.clone()));
    let span = tracing::info_span!("http", trace_id = %id, method = %req.method(), path = %loggable_path(req.uri().path()));
    let mut response = next.run(req).instrument(span).await;
    if let Ok(v) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(TRACE_HEADER.clone(), v);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::loggable_path;

    #[test]
    fn phones_in_paths_are_masked() {
        assert_eq!(
            loggable_path("/api/v1/admin/conversations/5491155551234/reply"),
            "/api/v1/admin/conversations/***34/reply"
        );
        assert_eq!(
            loggable_path("/api/v1/admin/conversations/5491155551234"),
            "/api/v1/admin/conversations/***34"
        );
        assert_eq!(
            loggable_path("/api/v1/admin/conversations"),
            "/api/v1/admin/conversations"
        );
        assert_eq!(
            loggable_path("/api/v1/reservations/7"),
            "/api/v1/reservations/7"
        );
    }

    #[test]
    fn export_tokens_in_paths_are_masked() {
        let token = "4f1c0ffee4f1c0ffee4f1c0ffee4f1c0ffee4f1c0ffee42";
        for path in [
            format!("/ical/{token}.ics"),
            format!("/ical/{token}"),
            "/ical/".to_string(),
        ] {
            let shown = loggable_path(&path);
            assert_eq!(shown, "/ical/***.ics");
            assert!(!shown.contains("c0ffee"));
        }
    }
}
