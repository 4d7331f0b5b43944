//! A JSON body extractor whose rejections are problem+json: malformed JSON is 400, a field of the
//! wrong type or missing is 422 naming the field.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;

use super::{FieldError, Problem};

/// Like `axum::Json`, with problem+json rejections.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<T, S> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Json(v)),
            Err(rejection) => Err(rejection_problem(rejection)),
        }
    }
}

fn rejection_problem(rejection: JsonRejection) -> Problem {
    match rejection {
        JsonRejection::JsonDataError(e) => {
            // serde's message reads "<path>: <what>" when a field is at fault.
            let text = std::error::Error::source(&e)
                .map(|s| s.to_string())
                .unwrap_or_else(|| e.body_text());
            let (field, message) = match text.split_once(": ") {
                Some((path, msg)) if !path.contains(' ') => (path.to_string(), msg.to_string()),
                _ => {
                    let missing = text
                        .strip_prefix("missing field `")
                        .and_then(|r| r.split('`').next());
                    (missing.unwrap_or("body").to_string(), text.clone())
                }
            };
            Problem::validation(vec![FieldError { field, message }])
        }
        JsonRejection::MissingJsonContentType(_) => Problem::new(
            axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "Send JSON",
        )
        .detail("set `Content-Type: application/json`"),
        JsonRejection::BytesRejection(e) => {
            let status = e.status();
            if status == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                Problem::new(status, "too-large", "The request body is too large")
                    .detail(e.body_text())
            } else {
                Problem::bad_request(e.body_text())
            }
        }
        other => Problem::bad_request(other.body_text()),
    }
}

/// Like `axum::extract::Query`, with problem+json rejections naming the parameter.
#[derive(Debug, Clone, Copy, Default)]
pub struct Query<T>(pub T);

impl<T, S> axum::extract::FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or("");
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(de)
            .map(Query)
            .map_err(|e| {
                let field = e.path().to_string();
                let message = e.inner().to_string();
                let field = if field == "." {
                    message
                        .strip_prefix("missing field `")
                        .and_then(|r| r.split('`').next())
                        .unwrap_or("query")
                        .to_string()
                } else {
                    field
                };
                Problem::validation(vec![FieldError { field, message }])
            })
    }
}

impl<T: serde::Serialize> axum::response::IntoResponse for Json<T> {
    fn into_response(self) -> axum::response::Response {
        axum::Json(self.0).into_response()
    }
}

/// `Option<Json<T>>`: an empty body is `None`; a body that is there must be valid JSON.
impl<T, S> axum::extract::OptionalFromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Option<Self>, Self::Rejection> {
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| Problem::bad_request(e.body_text()))?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        let de = &mut serde_json::Deserializer::from_slice(&bytes);
        serde_path_to_error::deserialize(de)
            .map(|v| Some(Json(v)))
            .map_err(|e| {
                let field = e.path().to_string();
                let field = if field == "." {
                    "body".to_string()
                } else {
                    field
                };
                Problem::validation(vec![FieldError {
                    field,
                    message: e.inner().to_string(),
                }])
            })
    }
}
