//! One error type for every HTTP answer that is not a success: RFC 9457 problem+json.
//!
//! Handlers return `Result<_, Problem>`; the body always says what went wrong in words a client
//! developer can act on, and validation errors name the field at fault. Internal errors are logged
//! once here, with their cause, and answered without it.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Map, Value};

/// An RFC 9457 problem (boxed: handlers return it by value in `Result`s).
#[derive(Debug, Clone, Serialize)]
#[serde(transparent)]
pub struct Problem(Box<ProblemBody>);

/// The members of a problem document.
#[derive(Debug, Clone, Serialize)]
pub struct ProblemBody {
    /// A URI naming the kind of problem (`/problems/<slug>`).
    #[serde(rename = "type")]
    pub kind: String,
    /// Short summary of the kind.
    pub title: String,
    /// HTTP status.
    pub status: u16,
    /// What happened this time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Fields at fault (validation errors).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// Extension members (e.g. `alternatives` for taken dates).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
    #[serde(skip)]
    retry_after: Option<u64>,
    #[serde(skip)]
    database_outage: bool,
}

pub use crate::app::FieldError;

impl Problem {
    /// A problem of kind `slug` with `status` and `title`.
    pub fn new(status: StatusCode, slug: &str, title: &str) -> Problem {
        Problem(Box::new(ProblemBody {
            kind: format!("/problems/{slug}"),
            title: title.to_string(),
            status: status.as_u16(),
            detail: None,
            errors: Vec::new(),
            extra: Map::new(),
            retry_after: None,
            database_outage: false,
        }))
    }

    /// The document's members.
    pub fn body(&self) -> &ProblemBody {
        &self.0
    }

    /// Add the detail sentence.
    pub fn detail(mut self, detail: impl Into<String>) -> Problem {
        self.0.detail = Some(detail.into());
        self
    }

    /// Add an extension member.
    pub fn with(mut self, key: &str, value: impl Serialize) -> Problem {
        self.0.extra.insert(
            key.to_string(),
            serde_json::to_value(value).unwrap_or(Value::Null),
        );
        self
    }

    /// Mark the answer as caused by a database outage (the response carries
    /// [`super::errors::DatabaseOutage`] for the middleware that logs outages once).
    pub fn database_outage(mut self) -> Problem {
        self.0.database_outage = true;
        self
    }

    /// Ask the client to come back after `seconds` (sets `Retry-After`).
    pub fn retry_after(mut self, seconds: u64) -> Problem {
        self.0.retry_after = Some(seconds);
        self
    }

    /// 422: the request is well-formed but a field is not acceptable.
    pub fn validation(errors: Vec<FieldError>) -> Problem {
        let detail = errors
            .iter()
            .map(|e| format!("{}: {}", e.field, e.message))
            .collect::<Vec<_>>()
            .join("; ");
        let mut p = Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
            "The request has invalid fields",
        )
        .detail(detail);
        p.0.errors = errors;
        p
    }

    /// 422 for one field.
    pub fn field(field: &str, message: impl Into<String>) -> Problem {
        Problem::validation(vec![FieldError {
            field: field.to_string(),
            message: message.into(),
        }])
    }

    /// 400: the body is not what the endpoint reads (bad JSON, wrong types).
    pub fn bad_request(detail: impl Into<String>) -> Problem {
        Problem::new(
            StatusCode::BAD_REQUEST,
            "bad-request",
            "The request could not be read",
        )
        .detail(detail)
    }

    /// 404.
    pub fn not_found(what: &str) -> Problem {
        Problem::new(StatusCode::NOT_FOUND, "not-found", "Not found")
            .detail(format!("{what} not found"))
    }

    /// 401.
    pub fn unauthorized(detail: impl Into<String>) -> Problem {
        Problem::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Authentication required",
        )
        .detail(detail)
    }

    /// 403.
    pub fn forbidden(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::FORBIDDEN, "forbidden", "Not allowed").detail(detail)
    }

    /// 409.
    pub fn conflict(slug: &str, title: &str, detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::CONFLICT, slug, title).detail(detail)
    }

    /// 500, logging the cause once.
    pub fn internal(err: impl std::fmt::Display) -> Problem {
        tracing::error!(error = %err, "request failed");
        Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal error",
        )
        .detail("the server could not complete the request; it has been logged")
    }

    /// 503.
    pub fn unavailable(detail: impl Into<String>) -> Problem {
        Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "Service unavailable",
        )
        .detail(detail)
    }

    /// The HTTP status.
    pub fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.0.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = self.status_code();
        let retry_after = self.0.retry_after;
        let database_outage = self.0.database_outage;
        let mut response = (status, Json(self)).into_response();
        if database_outage {
            response
                .extensions_mut()
                .insert(super::errors::DatabaseOutage);
        }
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(v) = retry_after.and_then(|s| HeaderValue::from_str(&s.to_string()).ok()) {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        response
    }
}

impl From<anyhow::Error> for Problem {
    fn from(err: anyhow::Error) -> Problem {
        crate::app::AppError::Internal(err).into()
    }
}
