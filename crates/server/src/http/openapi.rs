//! The OpenAPI document of the HTTP API, served at `/api/v1/openapi.json`.
//!
//! It is written by hand next to the code (`crates/server/openapi/openapi.json`) and kept true by
//! tests: a snapshot of the served document, and a walk over every documented operation that
//! checks the router answers it.

use axum::http::header;
use axum::response::IntoResponse;

/// The document.
pub const DOCUMENT: &str = include_str!("../../openapi/openapi.json");

/// `GET /api/v1/openapi.json`
pub async fn document() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], DOCUMENT)
}
