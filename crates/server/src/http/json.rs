//! The request extractors every handler uses (JSON body, query, path), whose rejections are
//! problem+json: malformed JSON is 400; a member the endpoint does not know, a field of the wrong
//! type, shape or format, or a missing one is 422 naming the field by its path
//! ([`from_json_bytes`]).
//!
//! They are also the one place where text containing a NUL character is refused (422 naming the
//! field or parameter): PostgreSQL cannot store it in `TEXT` and SQLite would, so refusing it at
//! the door gives both backends the same answer and keeps it out of every use case.

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
        let (parts, body) = req.into_parts();
        let bytes = axum::body::Bytes::from_request(Request::from_parts(parts, body), state)
            .await
            .map_err(|e| rejection_problem(JsonRejection::BytesRejection(e)))?;
        if let Some(field) = nul_in_json(&bytes) {
            return Err(nul_problem(field));
        }
        from_json_bytes(&bytes).map(Json)
    }
}

/// The 422 for text carrying a NUL character.
fn nul_problem(field: String) -> Problem {
    Problem::validation(vec![FieldError {
        field,
        message: "must not contain a NUL character".into(),
    }])
}

/// The path (`guest.name`, `photos[0].url`) of the first key or string in a JSON body that holds
/// a NUL character (only ever written `\u0000` in valid JSON, so most bodies are not walked).
fn nul_in_json(bytes: &[u8]) -> Option<String> {
    const ESCAPED_NUL: &[u8] = b"\\u0000";
    if !bytes
        .windows(ESCAPED_NUL.len())
        .any(|w| w.eq_ignore_ascii_case(ESCAPED_NUL))
    {
        return None;
    }
    let value: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    fn walk(value: &serde_json::Value, path: &str) -> Option<String> {
        let named = |p: &str| {
            if p.is_empty() {
                "body".to_string()
            } else {
                p.to_string()
            }
        };
        match value {
            serde_json::Value::String(s) if s.contains('\0') => Some(named(path)),
            serde_json::Value::Array(items) => items
                .iter()
                .enumerate()
                .find_map(|(i, v)| walk(v, &format!("{}[{i}]", named(path)))),
            serde_json::Value::Object(map) => map.iter().find_map(|(k, v)| {
                let here = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                if k.contains('\0') {
                    Some(here)
                } else {
                    walk(v, &here)
                }
            }),
            _ => None,
        }
    }
    walk(&value, "")
}

fn rejection_problem(rejection: JsonRejection) -> Problem {
    match rejection {
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

/// Read a JSON body as `T`, strictly: a member `T` does not know is refused (422 naming it, e.g.
/// `precio` or `pricing.extra`) instead of being silently dropped; a value of the wrong type or
/// shape is 422 naming its field by path (`pricing.base_nightly.currency`) with a sentence saying
/// what is accepted; only text that is not JSON at all is 400.
///
/// Field messages are written for the person filling the form, in es-AR like the use cases'
/// validation messages; the problem's title stays English for the client developer.
pub fn from_json_bytes<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Problem> {
    let mut unknown: Vec<String> = Vec::new();
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let mut track = |path: serde_ignored::Path<'_>| unknown.push(ignored_path(&path));
    let result: Result<T, _> =
        serde_path_to_error::deserialize(serde_ignored::Deserializer::new(&mut de, &mut track));
    let value = match result {
        Ok(value) => value,
        Err(e) => {
            let path = e.path().to_string();
            let inner = e.into_inner();
            return Err(match inner.classify() {
                serde_json::error::Category::Data => {
                    let field = if path == "." {
                        missing_field(&inner.to_string()).unwrap_or_else(|| "body".to_string())
                    } else {
                        path
                    };
                    let message = field_message(&field, &inner);
                    Problem::validation(vec![FieldError { field, message }])
                }
                _ => Problem::bad_request(format!("the body is not valid JSON: {inner}")),
            });
        }
    };
    if let Err(e) = de.end() {
        return Err(Problem::bad_request(format!(
            "the body is not valid JSON: {e}"
        )));
    }
    if !unknown.is_empty() {
        return Err(Problem::validation(
            unknown
                .into_iter()
                .map(|field| FieldError {
                    field,
                    message: "campo desconocido: este endpoint no lo admite; revisá el nombre"
                        .to_string(),
                })
                .collect(),
        ));
    }
    Ok(value)
}

/// `guest.name`, `photos[0].url`: the same notation as validation errors.
fn ignored_path(path: &serde_ignored::Path<'_>) -> String {
    use serde_ignored::Path;
    match path {
        Path::Root => String::new(),
        Path::Seq { parent, index } => format!("{}[{index}]", ignored_path(parent)),
        Path::Map { parent, key } => {
            let parent = ignored_path(parent);
            if parent.is_empty() {
                key.clone()
            } else {
                format!("{parent}.{key}")
            }
        }
        Path::Some { parent }
        | Path::NewtypeStruct { parent }
        | Path::NewtypeVariant { parent } => ignored_path(parent),
    }
}

/// The field of serde's "missing field `x`".
fn missing_field(text: &str) -> Option<String> {
    text.strip_prefix("missing field `")
        .and_then(|r| r.split('`').next())
        .map(str::to_string)
}

/// What a person can act on, from serde's error: the accepted values of an enum, the expected
/// date or time format, the expected type; never "line 1 column 103".
fn field_message(field: &str, error: &serde_json::Error) -> String {
    let text = error.to_string();
    // serde_json appends " at line L column C"; the path already says where.
    let text = match text.rfind(" at line ") {
        Some(i) => text[..i].to_string(),
        None => text,
    };
    if text.starts_with("missing field `") {
        return "falta este campo (es obligatorio)".to_string();
    }
    if let Some(rest) = text.strip_prefix("unknown variant `") {
        let expected = rest.split_once("expected ").map(|(_, e)| e).unwrap_or("");
        let options: Vec<&str> = expected
            .trim_start_matches("one of ")
            .split(['`', ','])
            .map(str::trim)
            .filter(|s| !s.is_empty() && *s != "or")
            .collect();
        return match options.as_slice() {
            [] => "valor no admitido".to_string(),
            [one] => format!("debe ser {one}"),
            [init @ .., last] => format!("debe ser {} o {last}", init.join(", ")),
        };
    }
    if is_chrono_parse_error(&text) {
        let leaf = field.rsplit(['.', ']']).next().unwrap_or(field);
        return if leaf.ends_with("_at") || leaf == "at" || leaf == "until" || leaf == "since" {
            "debe ser una fecha y hora RFC 3339, p. ej. 2027-03-10T14:00:00-03:00".to_string()
        } else if leaf.contains("time") {
            "debe ser una hora con el formato HH:MM, p. ej. 14:00".to_string()
        } else {
            "debe ser una fecha con el formato AAAA-MM-DD (YYYY-MM-DD), p. ej. 2027-03-10"
                .to_string()
        };
    }
    for prefix in ["invalid type: ", "invalid value: "] {
        if let Some((got, expected)) = text
            .strip_prefix(prefix)
            .and_then(|rest| rest.split_once(", expected "))
        {
            return format!("debe ser {} (llegó {got})", expected_es(expected));
        }
    }
    text
}

/// chrono's parse errors, which are all a date, time or timestamp in the wrong format says.
fn is_chrono_parse_error(text: &str) -> bool {
    [
        "input contains invalid characters",
        "premature end of input",
        "trailing input",
        "input is out of range",
        "no possible date and time matching input",
        "input is not enough for unique date and time",
    ]
    .iter()
    .any(|m| text.starts_with(m))
}

/// serde's "expected …" in words.
fn expected_es(expected: &str) -> String {
    match expected {
        "a string" => "un texto".to_string(),
        "a boolean" => "true o false".to_string(),
        "i64" | "i32" | "u64" | "u32" | "u16" | "u8" | "i16" | "usize" => {
            "un número entero".to_string()
        }
        "f64" | "f32" => "un número".to_string(),
        "a sequence" => "una lista".to_string(),
        "struct" => "un objeto".to_string(),
        e if e.starts_with("struct ") || e.starts_with("a map") => "un objeto".to_string(),
        e if e.starts_with("a sequence") || e.starts_with("an array") => "una lista".to_string(),
        e => e.to_string(),
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
        if let Some((name, _)) = form_urlencoded::parse(query.as_bytes())
            .find(|(k, v)| k.contains('\0') || v.contains('\0'))
        {
            return Err(nul_problem(name.into_owned()));
        }
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

/// Like `axum::extract::Path`, with problem+json rejections: a segment holding a NUL character is
/// 422 naming the parameter; one that does not parse as the parameter's type is 400.
#[derive(Debug, Clone, Copy, Default)]
pub struct Path<T>(pub T);

impl<T, S> axum::extract::FromRequestParts<S> for Path<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        if let Ok(raw) = axum::extract::RawPathParams::from_request_parts(parts, state).await
            && let Some((name, _)) = raw.iter().find(|(_, v)| v.contains('\0'))
        {
            return Err(nul_problem(name.to_string()));
        }
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(Path(v)),
            Err(rejection) => Err(Problem::new(
                rejection.status(),
                "bad-request",
                "The request could not be read",
            )
            .detail(rejection.body_text())),
        }
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
        if let Some(field) = nul_in_json(&bytes) {
            return Err(nul_problem(field));
        }
        from_json_bytes(&bytes).map(|v| Some(Json(v)))
    }
}
