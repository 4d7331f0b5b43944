//! The headers every server-rendered answer shares: the HTML pages (guest pages, the owner's web
//! app, the API reference) and their static assets, all compiled into the binary.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// An HTML page: never cached (it shows live state and, for the owner, private data), with its
/// Content-Security-Policy and Referrer-Policy.
pub fn page(
    status: StatusCode,
    html: String,
    csp: &'static str,
    referrer: &'static str,
) -> Response {
    let mut r = (status, html).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(csp),
    );
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static(referrer));
    r
}

/// A static asset compiled into the binary (CSS, JS), cached for an hour.
pub fn asset(content_type: &'static str, body: &'static str) -> Response {
    let mut r = body.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    r
}
