//! The OpenAPI document of the HTTP API, served at `/api/v1/openapi.json`, printed by
//! `posada openapi`, and read by people at `/api/docs`.
//!
//! The JSON API is described from the code: each handler carries `#[utoipa::path]` (method, path,
//! parameters, body, every status it answers) and the types it takes and returns derive
//! `ToSchema`, so a field added to an answer is in the document without anyone remembering it.
//! What JSON Schema can say that serde cannot tell utoipa is added here, once, for every
//! operation ([`finish`]): request bodies are closed (the `Json` extractor refuses unknown
//! members), integers carry their type's bounds, and text parameters exclude NUL. The owner's
//! and guests' HTML pages have no JSON types to derive from; their operations are described in
//! `openapi/pages.json` and merged in. Tests keep all of it true: a snapshot, every route
//! documented and every documented operation routed (`tests/api/openapi.rs`), and schemathesis
//! checking the real answers against the document on both backends (`tests/api/api_fuzz.rs`).

use std::borrow::Cow;
use std::sync::LazyLock;

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use minijinja::{Environment, context};
use serde::Serialize;
use serde_json::{Map, Value, json};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::Schema;
use utoipa::{OpenApi, PartialSchema, ToSchema};

use super::Problem;
use crate::app::FieldError;
use crate::app::booking::Alternatives;
use crate::state::AppState;

/// The JSON API's operations and the schemas they use (found from the operations).
#[derive(OpenApi)]
#[openapi(
    paths(
        super::health::healthz,
        super::health::readyz,
        super::health::livez,
        document,
        reference_page,
        reference_css,
        super::api::list_accommodations,
        super::api::get_accommodation,
        super::api::availability_calendar,
        super::api::quote,
        super::api::create_hold,
        super::api::get_own_reservation,
        super::api::cancel_own_reservation,
        super::admin::list_accommodations,
        super::admin::create_accommodation,
        super::admin::get_accommodation,
        super::admin::update_accommodation,
        super::admin::delete_accommodation,
        super::admin::list_reservations,
        super::admin::export_csv,
        super::admin::get_reservation,
        super::admin::confirm,
        super::admin::cancel,
        super::admin::no_show,
        super::admin::list_blocks,
        super::admin::create_block,
        super::admin::get_block,
        super::admin::update_block,
        super::admin::delete_block,
        super::ical::export,
        super::ical::list_feeds,
        super::ical::create_feed,
        super::ical::get_feed,
        super::ical::update_feed,
        super::ical::delete_feed,
        super::ical::sync_now,
        super::ical::export_urls,
        super::ical::rotate_export,
        super::ical::list_conflicts,
        super::admin_conversations::list,
        super::admin_conversations::detail,
        super::admin_conversations::reply,
        super::admin_conversations::resolve,
        super::admin_conversations::switch_assistant,
        super::admin_jobs::tasks,
        super::admin_jobs::task_run,
        super::admin_jobs::task_pause,
        super::admin_jobs::task_resume,
        super::admin_jobs::jobs,
        super::admin_jobs::stats,
        super::admin_jobs::job,
        super::admin_jobs::retry,
        super::admin_jobs::cancel,
        super::admin_jobs::queue_pause,
        super::admin_jobs::queue_resume,
        super::webhooks::mercadopago,
        super::webhooks::whatsapp_verify,
        super::webhooks::whatsapp_delivery,
    ),
    components(schemas(super::admin::BlockSourceName)),
    tags(
        (name = "public", description = "Guests: accommodations, calendars, quotes, and their own holds (code + access token). No token needed."),
        (name = "admin", description = "The owner's API: accommodations and prices, reservations, blocks, WhatsApp conversations. Bearer token from `posada admin create-token`."),
        (name = "ical", description = "Channel calendars: feeds imported from Airbnb, Booking.com, Vrbo…, our export URLs, and conflicts."),
        (name = "operations", description = "Health, the document itself, periodic tasks, jobs and queues."),
        (name = "webhooks", description = "Notifications from Mercado Pago and WhatsApp, checked by their signatures."),
        (name = "dashboard", description = "The owner's web app (HTML forms with a session cookie and a CSRF token)."),
        (name = "guest pages", description = "The guests' booking pages and the embeddable widget (HTML)."),
    ),
)]
struct ApiDoc;

/// The document's introduction.
const DESCRIPTION: &str = "Reservations and automation for small lodging businesses. Errors are \
RFC 9457 problem+json; validation errors list the fields at fault; 409 for taken dates carries the \
nearest free alternatives.\n\nRequest bodies are read strictly: a member the endpoint does not \
know is refused with 422 naming it (`errors[].field`, e.g. `precio` or \
`pricing.base_nightly.moneda`), never ignored; a value of the wrong type, an unknown enum value or \
a date in another format is 422 naming the field by its path (`pricing.base_nightly.currency`, \
`photos[0].position`) with a message saying what is accepted (dates: YYYY-MM-DD); only a body that \
is not JSON is 400. `errors[].message` is written in es-AR for the person filling the form; \
`title` and `detail` in English for the developer.\n\nAmounts are integer minor units \
(centavos): `{\"minor\": 4500000, \"currency\": \"ARS\"}` is $ 45.000,00.";

/// The HTML pages' operations, described by hand (they have no JSON types to derive from).
const PAGES: &str = include_str!("../../openapi/pages.json");

/// The finished document.
static DOCUMENT: LazyLock<Value> = LazyLock::new(build);

/// The document as a JSON value.
pub fn document_value() -> &'static Value {
    &DOCUMENT
}

/// The document as pretty JSON text (what `posada openapi` prints and the server serves).
pub fn document_json() -> &'static str {
    static TEXT: LazyLock<String> =
        LazyLock::new(|| serde_json::to_string_pretty(document_value()).unwrap_or_default());
    &TEXT
}

fn build() -> Value {
    let generated = serde_json::to_value(ApiDoc::openapi()).unwrap_or(Value::Null);
    let pages: Value = serde_json::from_str(PAGES).unwrap_or(Value::Null);
    finish(generated, pages)
}

/// Add to the generated document what the code states in other ways than types: the title,
/// introduction and security scheme; the HTML pages; optional and closed request bodies; integer
/// bounds; parameters that are left out rather than null; text parameters without NUL.
fn finish(mut doc: Value, pages: Value) -> Value {
    doc["info"] = json!({
        "title": "posada",
        "version": env!("CARGO_PKG_VERSION"),
        "description": DESCRIPTION,
    });
    doc["components"]["securitySchemes"] = json!({
        "bearer": {
            "type": "http",
            "scheme": "bearer",
            "description": "Admin API token (`posada admin create-token`); read tokens may only GET",
        }
    });
    if let (Some(paths), Value::Object(pages)) = (doc["paths"].as_object_mut(), pages) {
        paths.extend(pages);
    }
    optional_bodies(&mut doc);
    let closed = request_body_schemas(&doc);
    if let Some(schemas) = doc["components"]["schemas"].as_object_mut() {
        for name in closed {
            if let Some(schema) = schemas.get_mut(&name).and_then(Value::as_object_mut) {
                schema.insert("additionalProperties".into(), Value::Bool(false));
            }
        }
    }
    bound_integers(&mut doc);
    if let Some(paths) = doc["paths"].as_object_mut() {
        for item in paths.values_mut() {
            for op in item
                .as_object_mut()
                .into_iter()
                .flat_map(|o| o.values_mut())
            {
                let params = op.get_mut("parameters").and_then(Value::as_array_mut);
                for param in params.into_iter().flatten() {
                    let schema = &mut param["schema"];
                    // An `Option` parameter is one that may be left out (`required: false`); a
                    // query string or header has no JSON `null`.
                    if let Some(types) = schema["type"].as_array() {
                        let types: Vec<Value> =
                            types.iter().filter(|t| *t != "null").cloned().collect();
                        if let [only] = types.as_slice() {
                            schema["type"] = only.clone();
                        }
                    }
                    if schema["type"] == "string" && schema.get("pattern").is_none() {
                        schema["pattern"] = json!("^[^\\u0000]*$");
                    }
                }
            }
        }
    }
    doc
}

/// A handler that takes `Option<Json<T>>` accepts no body at all, not a JSON `null`: utoipa
/// describes it as "null or T"; the document says "T, not required".
fn optional_bodies(doc: &mut Value) {
    for item in doc["paths"]
        .as_object_mut()
        .into_iter()
        .flat_map(|p| p.values_mut())
    {
        for op in item
            .as_object_mut()
            .into_iter()
            .flat_map(|o| o.values_mut())
        {
            // `pointer_mut`, not indexing: indexing a missing member would insert it.
            let Some(schema) = op.pointer_mut("/requestBody/content/application~1json/schema")
            else {
                continue;
            };
            let Some(options) = schema["oneOf"].as_array() else {
                continue;
            };
            let (nulls, rest): (Vec<&Value>, Vec<&Value>) =
                options.iter().partition(|o| o["type"] == "null");
            if nulls.len() == 1 && rest.len() == 1 {
                *schema = rest[0].clone();
                op["requestBody"]["required"] = Value::Bool(false);
            }
        }
    }
}

/// The component schemas that are JSON request bodies (closed by [`finish`]).
fn request_body_schemas(doc: &Value) -> Vec<String> {
    let mut names = Vec::new();
    for item in doc["paths"]
        .as_object()
        .into_iter()
        .flat_map(|p| p.values())
    {
        for op in item.as_object().into_iter().flat_map(|o| o.values()) {
            let schema = &op["requestBody"]["content"]["application/json"]["schema"];
            let refs = std::iter::once(schema).chain(
                schema["oneOf"]
                    .as_array()
                    .into_iter()
                    .chain(schema["anyOf"].as_array())
                    .flatten(),
            );
            for r in refs {
                if let Some(name) = r["$ref"]
                    .as_str()
                    .and_then(|r| r.strip_prefix("#/components/schemas/"))
                {
                    names.push(name.to_string());
                }
            }
        }
    }
    names
}

/// Every integer schema without bounds gets its format's (`int32`, `int64`): a value outside them
/// is refused by the server, so the document must not invite it.
fn bound_integers(value: &mut Value) {
    match value {
        Value::Object(map) => {
            let is_integer = map.get("type").is_some_and(|t| {
                t == "integer"
                    || t.as_array()
                        .is_some_and(|a| a.iter().any(|t| t == "integer"))
            });
            if is_integer {
                let (min, max) = match map.get("format").and_then(Value::as_str) {
                    Some("int32") => (i64::from(i32::MIN), i64::from(i32::MAX)),
                    _ => (i64::MIN, i64::MAX),
                };
                map.entry("minimum").or_insert(json!(min));
                map.entry("maximum").or_insert(json!(max));
            }
            for v in map.values_mut() {
                bound_integers(v);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(bound_integers),
        _ => {}
    }
}

/// The members of a problem document (the type keeps extension members in a map; the ones
/// posada sends are named here).
#[derive(Serialize, ToSchema)]
#[schema(
    description = "An RFC 9457 problem: what went wrong, and for validation errors the fields at fault."
)]
struct ProblemDocument {
    /// A URI naming the kind of problem (`/problems/<slug>`).
    #[serde(rename = "type")]
    kind: String,
    /// Short summary of the kind (English).
    title: String,
    /// The HTTP status.
    status: u16,
    /// What happened this time (English).
    detail: Option<String>,
    /// The fields at fault (validation errors); `message` in es-AR.
    errors: Option<Vec<FieldError>>,
    /// For taken dates (409): the nearest free alternatives.
    alternatives: Option<Alternatives>,
    /// For a duplicate (409): what is already used (`slug`, `feed`, …).
    field: Option<String>,
    /// For a move the reservation's state does not allow (409): that state.
    state: Option<String>,
    /// For a closed WhatsApp window (409): when it closed.
    window_open_until: Option<chrono::DateTime<chrono::Utc>>,
    /// For a body over the limit (413): the limit.
    limit_bytes: Option<u64>,
}

impl PartialSchema for Problem {
    fn schema() -> RefOr<Schema> {
        ProblemDocument::schema()
    }
}

impl ToSchema for Problem {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Problem")
    }

    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        ProblemDocument::schemas(schemas);
    }
}

/// The document's routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/openapi.json", get(document))
        .route("/api/docs", get(reference_page))
        .route("/api/docs/docs.css", get(reference_css))
}

/// The OpenAPI document of this API.
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "operations",
    responses((status = 200, description = "The document (OpenAPI 3.1)", body = Object)),
)]
pub async fn document() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        document_json(),
    )
}

/// The page's policy: its own style sheet, nothing else (no script at all).
const PAGE_CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; \
frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// The API reference for people.
///
/// Every operation and schema of the document, rendered here: no script, no outside asset.
#[utoipa::path(
    get,
    path = "/api/docs",
    tag = "operations",
    responses((status = 200, description = "The reference page", body = String, content_type = "text/html")),
)]
pub async fn reference_page() -> Response {
    let html = render_reference(document_value()).unwrap_or_else(|e| {
        tracing::error!(error = %e, "the API reference page did not render");
        String::from(
            "<!doctype html><title>posada API</title><p>The reference did not render; \
            the document is at <a href=\"/api/v1/openapi.json\">/api/v1/openapi.json</a>.",
        )
    });
    let mut response = Html(html).into_response();
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(PAGE_CSP),
    );
    response
}

const CSS: &str = include_str!("../../openapi/docs.css");

/// The reference page's style sheet.
#[utoipa::path(
    get,
    path = "/api/docs/docs.css",
    tag = "operations",
    responses((status = 200, description = "The style sheet", body = String, content_type = "text/css")),
)]
pub async fn reference_css() -> Response {
    crate::http::html::asset("text/css; charset=utf-8", CSS)
}

/// One operation as the page shows it.
#[derive(Debug, Serialize)]
struct OperationView {
    anchor: String,
    method: String,
    path: String,
    summary: String,
    description: String,
    secured: bool,
    parameters: Vec<FieldView>,
    body: Option<BodyView>,
    responses: Vec<ResponseView>,
}

/// A parameter or a schema property.
#[derive(Debug, Serialize)]
struct FieldView {
    name: String,
    place: String,
    kind: TypeView,
    required: bool,
    description: String,
}

/// A type, with the schema it names (linked on the page).
#[derive(Debug, Serialize)]
struct TypeView {
    text: String,
    schema: Option<String>,
}

#[derive(Debug, Serialize)]
struct BodyView {
    content_type: String,
    kind: TypeView,
    required: bool,
    description: String,
}

#[derive(Debug, Serialize)]
struct ResponseView {
    status: String,
    description: String,
    content_type: String,
    kind: Option<TypeView>,
}

#[derive(Debug, Serialize)]
struct TagView {
    name: String,
    description: String,
    operations: Vec<OperationView>,
}

#[derive(Debug, Serialize)]
struct SchemaView {
    name: String,
    description: String,
    kind: TypeView,
    fields: Vec<FieldView>,
    closed: bool,
}

const TEMPLATE: &str = include_str!("../../openapi/docs.html");

static ENV: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::Html);
    if let Err(e) = env.add_template("docs.html", TEMPLATE) {
        tracing::error!(error = %e, "the API reference template does not parse");
    }
    env
});

/// A description's text: the line breaks of wrapped doc comments joined, paragraphs kept.
fn text(v: &Value) -> String {
    v.as_str()
        .unwrap_or_default()
        .split("\n\n")
        .map(|p| p.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// A schema's type in a few words (`string (date)`, `array of Money`, `Quote or null`).
fn type_view(schema: &Value) -> TypeView {
    if let Some(name) = schema["$ref"].as_str().and_then(|r| r.rsplit('/').next()) {
        return TypeView {
            text: name.to_string(),
            schema: Some(name.to_string()),
        };
    }
    for key in ["oneOf", "anyOf", "allOf"] {
        if let Some(options) = schema[key].as_array() {
            let views: Vec<TypeView> = options.iter().map(type_view).collect();
            let schema_name = views.iter().find_map(|v| v.schema.clone());
            let joiner = if key == "allOf" { " and " } else { " or " };
            return TypeView {
                text: views
                    .into_iter()
                    .map(|v| v.text)
                    .collect::<Vec<_>>()
                    .join(joiner),
                schema: schema_name,
            };
        }
    }
    let types: Vec<String> = match &schema["type"] {
        Value::String(t) => vec![t.clone()],
        Value::Array(ts) => ts.iter().map(text).collect(),
        _ => vec![],
    };
    let mut parts = Vec::new();
    let mut named = None;
    for t in types {
        let part = match t.as_str() {
            "array" => {
                let items = type_view(&schema["items"]);
                named = items.schema.clone();
                format!("array of {}", items.text)
            }
            "null" => "null".to_string(),
            other => match schema["format"].as_str() {
                Some(format) => format!("{other} ({format})"),
                None => other.to_string(),
            },
        };
        parts.push(part);
    }
    let mut text = if parts.is_empty() {
        "any".to_string()
    } else {
        parts.join(" or ")
    };
    if let Some(values) = schema["enum"].as_array() {
        let values: Vec<String> = values
            .iter()
            .map(|v| match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect();
        text = format!("{text}: {}", values.join(", "));
    }
    let mut limits = Vec::new();
    for (key, label) in [
        ("minLength", "min length"),
        ("maxLength", "max length"),
        ("pattern", "pattern"),
    ] {
        if let Some(v) = schema.get(key) {
            let v = v.as_str().map_or_else(|| v.to_string(), str::to_string);
            limits.push(format!("{label} {v}"));
        }
    }
    for (key, label) in [("minimum", "≥"), ("maximum", "≤")] {
        // Only the bounds someone chose, not the integer type's own.
        if let Some(n) = schema[key].as_i64()
            && n.unsigned_abs() < u64::from(u32::MAX) / 2
        {
            limits.push(format!("{label} {n}"));
        }
    }
    if !limits.is_empty() {
        text = format!("{text}; {}", limits.join(", "));
    }
    TypeView {
        text,
        schema: named,
    }
}

fn fields_of(schema: &Value) -> Vec<FieldView> {
    let required: Vec<&str> = schema["required"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let mut fields: Vec<FieldView> = schema["properties"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(name, prop)| FieldView {
            name: name.clone(),
            place: String::new(),
            kind: type_view(prop),
            required: required.contains(&name.as_str()),
            description: text(&prop["description"]),
        })
        .collect();
    for part in schema["allOf"].as_array().into_iter().flatten() {
        fields.extend(fields_of(part));
    }
    fields
}

fn operation_view(method: &str, path: &str, op: &Value) -> OperationView {
    let parameters = op["parameters"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| FieldView {
            name: text(&p["name"]),
            place: text(&p["in"]),
            kind: type_view(&p["schema"]),
            required: p["required"].as_bool().unwrap_or(false),
            description: text(&p["description"]),
        })
        .collect();
    let body = op["requestBody"]["content"]
        .as_object()
        .and_then(|c| c.iter().next())
        .map(|(content_type, media)| BodyView {
            content_type: content_type.clone(),
            kind: type_view(&media["schema"]),
            required: op["requestBody"]["required"].as_bool().unwrap_or(false),
            description: text(&op["requestBody"]["description"]),
        });
    let responses = op["responses"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(status, r)| {
            let media = r["content"].as_object().and_then(|c| c.iter().next());
            ResponseView {
                status: status.clone(),
                description: text(&r["description"]),
                content_type: media.map(|(t, _)| t.clone()).unwrap_or_default(),
                kind: media.map(|(_, m)| type_view(&m["schema"])),
            }
        })
        .collect();
    OperationView {
        anchor: format!("{method}-{path}")
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect(),
        method: method.to_uppercase(),
        path: path.to_string(),
        summary: text(&op["summary"]),
        description: text(&op["description"]),
        secured: op["security"].as_array().is_some_and(|s| !s.is_empty()),
        parameters,
        body,
        responses,
    }
}

/// The reference page for `doc`.
fn render_reference(doc: &Value) -> Result<String, minijinja::Error> {
    let mut tags: Vec<TagView> = doc["tags"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| TagView {
            name: text(&t["name"]),
            description: text(&t["description"]),
            operations: Vec::new(),
        })
        .collect();
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        for (method, op) in item.as_object().into_iter().flatten() {
            let tag = op["tags"][0].as_str().unwrap_or("other").to_string();
            let view = operation_view(method, path, op);
            match tags.iter_mut().find(|t| t.name == tag) {
                Some(t) => t.operations.push(view),
                None => tags.push(TagView {
                    name: tag,
                    description: String::new(),
                    operations: vec![view],
                }),
            }
        }
    }
    let empty = Map::new();
    let schemas: Vec<SchemaView> = doc["components"]["schemas"]
        .as_object()
        .unwrap_or(&empty)
        .iter()
        .map(|(name, schema)| SchemaView {
            name: name.clone(),
            description: text(&schema["description"]),
            kind: type_view(schema),
            fields: fields_of(schema),
            closed: schema["additionalProperties"] == false,
        })
        .collect();
    ENV.get_template("docs.html")?.render(context! {
        title => text(&doc["info"]["title"]),
        version => text(&doc["info"]["version"]),
        description => text(&doc["info"]["description"]),
        tags => minijinja::Value::from(minijinja::value::Serde(&tags)),
        schemas => minijinja::Value::from(minijinja::value::Serde(&schemas)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reference_renders_every_operation_and_schema() {
        let html = render_reference(document_value())
            .unwrap()
            .replace("&#x2f;", "/");
        let doc = document_value();
        for path in doc["paths"].as_object().unwrap().keys() {
            assert!(html.contains(path.as_str()), "{path} is not on the page");
        }
        for name in doc["components"]["schemas"].as_object().unwrap().keys() {
            assert!(html.contains(&format!("id=\"schema-{name}\"")), "{name}");
        }
        assert!(!html.contains("<script"), "the page has no script");
    }
}
