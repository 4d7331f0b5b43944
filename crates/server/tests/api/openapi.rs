//! The OpenAPI document is served, stable (snapshot), every operation it lists is routed, every
//! route the code declares is documented, the real answers match it, and its reference page is
//! served from our own origin.

use serde_json::Value;

use crate::helpers::{Backend, TestApp};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_document_is_served_and_every_operation_is_routed() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let res = app.get("/api/v1/openapi.json").await;
    assert_eq!(res.status(), 200);
    let doc: Value = res.json().await.unwrap();
    assert_eq!(&doc, posada_server::http::openapi::document_value());
    insta::assert_json_snapshot!("openapi", doc);

    let mut checked = 0;
    for (path, ops) in doc["paths"].as_object().unwrap() {
        let concrete = path
            .replace("{slug}", "nope")
            .replace("{code}", "AAAAA-AAAAA")
            .replace("{id}", "999999");
        for method in ops.as_object().unwrap().keys() {
            let req = app
                .client
                .request(method.to_uppercase().parse().unwrap(), app.url(&concrete))
                .bearer_auth(&app.admin_token);
            let res = req.send().await.unwrap();
            let status = res.status().as_u16();
            let body: Value = res.json().await.unwrap_or(Value::Null);
            assert_ne!(status, 405, "{method} {path} is documented but not routed");
            assert!(
                !(status == 404 && body["detail"] == "route not found"),
                "{method} {path} is documented but not routed"
            );
            checked += 1;
        }
    }
    assert!(checked > 20);
}

/// The Rust files under `dir`, its subfolders included.
fn rust_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}

/// Every `.route("path", get(..).post(..))` in `src/http/**/*.rs`, as (path, method) pairs.
fn routes_in_code() -> std::collections::BTreeSet<(String, String)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/http");
    let mut found = std::collections::BTreeSet::new();
    for path in rust_files(&dir) {
        let text = std::fs::read_to_string(path).unwrap();
        let compact: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
        for part in compact.split(".route(").skip(1) {
            let Some(rest) = part.trim_start().strip_prefix('"') else {
                continue;
            };
            let Some((path, tail)) = rest.split_once('"') else {
                continue;
            };
            // The handlers are the rest of this `.route(` call: up to its closing parenthesis.
            let mut depth = 1;
            let mut end = tail.len();
            for (i, c) in tail.char_indices() {
                match c {
                    '(' => depth += 1,
                    ')' => {
                        depth -= 1;
                        if depth == 0 {
                            end = i;
                            break;
                        }
                    }
                    _ => {}
                }
            }
            for method in ["get", "post", "put", "delete"] {
                let call = format!("{method}(");
                if tail[..end].match_indices(&call).any(|(i, _)| {
                    i == 0
                        || !tail.as_bytes()[i - 1].is_ascii_alphanumeric()
                            && tail.as_bytes()[i - 1] != b'_'
                }) {
                    found.insert((path.to_string(), method.to_string()));
                }
            }
        }
    }
    found
}

#[test]
fn every_route_in_the_code_is_documented() {
    let doc = posada_server::http::openapi::document_value();
    let mut documented = std::collections::BTreeSet::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for method in ops.as_object().unwrap().keys() {
            documented.insert((path.clone(), method.clone()));
        }
    }
    let code = routes_in_code();
    assert!(code.len() > 40, "the route scan found too little: {code:?}");
    let missing: Vec<_> = code.difference(&documented).collect();
    assert!(
        missing.is_empty(),
        "routes missing from the OpenAPI document: {missing:?}"
    );
    let stale: Vec<_> = documented.difference(&code).collect();
    assert!(
        stale.is_empty(),
        "the OpenAPI document has routes the code does not have: {stale:?}"
    );
}

/// Whether `value` is an instance of `schema` (resolving `$ref`s in `doc`), as far as the
/// document uses JSON Schema: types, formats of dates, enums, required and closed objects, items,
/// `oneOf`/`anyOf`/`allOf`, bounds. Returns the first mismatch, with its path.
fn conforms(doc: &Value, schema: &Value, value: &Value, at: &str) -> Result<(), String> {
    if let Some(name) = schema["$ref"].as_str() {
        let name = name.trim_start_matches("#/components/schemas/");
        let target = &doc["components"]["schemas"][name];
        assert!(!target.is_null(), "dangling reference {name}");
        return conforms(doc, target, value, at);
    }
    for part in schema["allOf"].as_array().into_iter().flatten() {
        conforms(doc, part, value, at)?;
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(options) = schema[key].as_array() {
            let matching = options
                .iter()
                .filter(|o| conforms(doc, o, value, at).is_ok())
                .count();
            let ok = if key == "oneOf" {
                matching == 1
            } else {
                matching >= 1
            };
            if !ok {
                return Err(format!(
                    "{at}: {value} matches {matching} of {key} {schema}"
                ));
            }
        }
    }
    let types: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    if !types.is_empty() {
        let actual = match value {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        };
        let fits = types.contains(&actual) || (actual == "integer" && types.contains(&"number"));
        if !fits {
            return Err(format!(
                "{at}: {value} is {actual}, the document says {types:?}"
            ));
        }
    }
    if let Some(values) = schema["enum"].as_array()
        && !values.contains(value)
    {
        return Err(format!("{at}: {value} is not one of {values:?}"));
    }
    if let (Some(format), Some(text)) = (schema["format"].as_str(), value.as_str()) {
        let ok = match format {
            "date" => chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").is_ok(),
            "date-time" => chrono::DateTime::parse_from_rfc3339(text).is_ok(),
            _ => true,
        };
        if !ok {
            return Err(format!("{at}: {text:?} is not a {format}"));
        }
    }
    if let Some(n) = value.as_f64()
        && (schema["minimum"].as_f64().is_some_and(|m| n < m)
            || schema["maximum"].as_f64().is_some_and(|m| n > m))
    {
        return Err(format!("{at}: {n} is out of the documented bounds"));
    }
    if let Value::Object(members) = value {
        let properties = schema["properties"].as_object();
        for required in schema["required"].as_array().into_iter().flatten() {
            let name = required.as_str().unwrap_or_default();
            if !members.contains_key(name) {
                return Err(format!("{at}: the required member `{name}` is missing"));
            }
        }
        for (name, member) in members {
            match properties.and_then(|p| p.get(name)) {
                Some(property) => conforms(doc, property, member, &format!("{at}.{name}"))?,
                None if schema["additionalProperties"] == false => {
                    return Err(format!("{at}: `{name}` is not in the closed schema"));
                }
                None => {}
            }
        }
    }
    if let (Value::Array(items), Some(item_schema)) = (value, schema.get("items")) {
        for (i, item) in items.iter().enumerate() {
            conforms(doc, item_schema, item, &format!("{at}[{i}]"))?;
        }
    }
    Ok(())
}

/// Whether an answer has a status the document lists for `method path`, and (for JSON) a body
/// that is an instance of the schema documented for that status; also that every member the
/// code sent is named by the schema (no undocumented fields).
async fn documented(doc: &Value, method: &str, path: &str, res: reqwest::Response) -> (u16, Value) {
    let status = res.status().as_u16();
    let content_type = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let text = res.text().await.unwrap();
    let op = &doc["paths"][path][method];
    assert!(op.is_object(), "{method} {path} is not documented");
    let answer = &op["responses"][status.to_string()];
    assert!(
        answer.is_object(),
        "{method} {path} answered {status}, which the document does not list: {text}"
    );
    let media = content_type.split(';').next().unwrap_or("").trim();
    let schema = &answer["content"][media]["schema"];
    assert!(
        text.is_empty() || schema.is_object(),
        "{method} {path} {status} answered {media}, which the document does not list"
    );
    let body: Value = if media.ends_with("json") {
        serde_json::from_str(&text).unwrap()
    } else {
        Value::String(text)
    };
    if schema.is_object() {
        if let Err(e) = conforms(doc, schema, &body, "body") {
            panic!("{method} {path} {status}: {e}\n{body:#}");
        }
        undocumented_members(doc, schema, &body, &format!("{method} {path} {status}"));
    }
    (status, body)
}

/// The members of `value` that its schema does not name (open schemas included): every field
/// the code sends must be in the document.
fn undocumented_members(doc: &Value, schema: &Value, value: &Value, at: &str) {
    fn named(doc: &Value, schema: &Value, out: &mut Vec<Value>) {
        if let Some(name) = schema["$ref"].as_str() {
            let name = name.trim_start_matches("#/components/schemas/");
            return named(doc, &doc["components"]["schemas"][name], out);
        }
        for key in ["allOf", "oneOf", "anyOf"] {
            for part in schema[key].as_array().into_iter().flatten() {
                named(doc, part, out);
            }
        }
        out.push(schema.clone());
    }
    let mut schemas = Vec::new();
    named(doc, schema, &mut schemas);
    match value {
        Value::Object(members) => {
            let free_form = schemas.iter().all(|s| s["properties"].is_null())
                || schemas
                    .iter()
                    .any(|s| s["additionalProperties"].is_object());
            for (name, member) in members {
                let property = schemas.iter().find_map(|s| s["properties"].get(name));
                match property {
                    Some(p) => undocumented_members(doc, p, member, &format!("{at}.{name}")),
                    None => assert!(free_form, "{at}: `{name}` is sent but not documented"),
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schemas.iter().find_map(|s| s.get("items")) {
                for item in items {
                    undocumented_members(doc, item_schema, item, &format!("{at}[]"));
                }
            }
        }
        _ => {}
    }
}

/// The answers of a day's work through the API, on both backends: each status is documented for
/// its operation, each body is an instance of its documented schema, and every field sent is
/// named there (`already_queued`, `job_id`, `history`, …).
async fn real_answers_match_the_document(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let doc = posada_server::http::openapi::document_value();
    let acc = app.create_accommodation("cabana-doc", 1_500_000).await;
    let id = acc["id"].as_i64().unwrap();
    let check_in = crate::helpers::days_from_now(20);
    let check_out = crate::helpers::days_from_now(23);

    let get = |path: &'static str, url: String| {
        let app = &app;
        async move { documented(doc, "get", path, app.admin_get(&url).await).await }
    };
    let (status, _) = get("/api/v1/accommodations", "/api/v1/accommodations".into()).await;
    assert_eq!(status, 200);
    get(
        "/api/v1/accommodations/{slug}",
        "/api/v1/accommodations/cabana-doc".into(),
    )
    .await;
    get(
        "/api/v1/accommodations/{slug}",
        "/api/v1/accommodations/no-such".into(),
    )
    .await;
    get(
        "/api/v1/accommodations/{slug}/availability",
        "/api/v1/accommodations/cabana-doc/availability".into(),
    )
    .await;
    let (status, _) = get(
        "/api/v1/accommodations/{slug}/availability",
        "/api/v1/accommodations/cabana-doc/availability?month=13".into(),
    )
    .await;
    assert_eq!(status, 422);
    let (status, _) = get(
        "/api/v1/accommodations/{slug}/quote",
        format!("/api/v1/accommodations/cabana-doc/quote?check_in={check_in}&check_out={check_out}&guests=2"),
    )
    .await;
    assert_eq!(status, 200);

    // A hold, read and listed by the guest and the owner.
    let res = app.pre_reserve("cabana-doc", &check_in, &check_out).await;
    let (status, hold) = documented(doc, "post", "/api/v1/reservations", res).await;
    assert_eq!(status, 201, "{hold}");
    let code = hold["code"].as_str().unwrap().to_string();
    let token = hold["access_token"].as_str().unwrap().to_string();
    let res = app
        .client
        .get(app.url(&format!("/api/v1/reservations/{code}")))
        .header("X-Access-Token", &token)
        .send()
        .await
        .unwrap();
    let (status, _) = documented(doc, "get", "/api/v1/reservations/{code}", res).await;
    assert_eq!(status, 200);
    let res = app.pre_reserve("cabana-doc", &check_in, &check_out).await;
    let (status, taken) = documented(doc, "post", "/api/v1/reservations", res).await;
    assert_eq!(status, 409, "{taken}");
    let (status, page) = get(
        "/api/v1/admin/reservations",
        "/api/v1/admin/reservations".into(),
    )
    .await;
    assert_eq!(status, 200);
    let reservation_id = page["items"][0]["id"].as_i64().unwrap();
    let (status, detail) = get(
        "/api/v1/admin/reservations/{id}",
        format!("/api/v1/admin/reservations/{reservation_id}"),
    )
    .await;
    assert_eq!(status, 200);
    assert!(detail["history"].is_array(), "{detail}");
    let res = app
        .admin_post(
            &format!("/api/v1/admin/reservations/{reservation_id}/confirm"),
            &serde_json::json!({"reason": "seña por transferencia"}),
        )
        .await;
    let (status, _) = documented(doc, "post", "/api/v1/admin/reservations/{id}/confirm", res).await;
    assert_eq!(status, 200);

    // Blocks, feeds, exports, jobs and tasks.
    let res = app
        .admin_post(
            "/api/v1/admin/blocks",
            &serde_json::json!({
                "accommodation_id": id,
                "check_in": crate::helpers::days_from_now(40),
                "check_out": crate::helpers::days_from_now(42),
                "reason": "pintura"
            }),
        )
        .await;
    let (status, _) = documented(doc, "post", "/api/v1/admin/blocks", res).await;
    assert_eq!(status, 201);
    get("/api/v1/admin/blocks", "/api/v1/admin/blocks".into()).await;
    let res = app
        .admin_post(
            "/api/v1/admin/feeds",
            &serde_json::json!({
                "accommodation_id": id,
                "channel": "airbnb",
                "url": "https://www.airbnb.com/calendar/ical/1.ics?s=x"
            }),
        )
        .await;
    let (status, feed) = documented(doc, "post", "/api/v1/admin/feeds", res).await;
    assert_eq!(status, 201, "{feed}");
    let feed_id = feed["id"].as_i64().unwrap();
    get("/api/v1/admin/feeds", "/api/v1/admin/feeds".into()).await;
    let res = app
        .admin_post(
            &format!("/api/v1/admin/feeds/{feed_id}/sync"),
            &serde_json::json!({}),
        )
        .await;
    let (status, sync) = documented(doc, "post", "/api/v1/admin/feeds/{id}/sync", res).await;
    assert_eq!(status, 202);
    assert!(sync["already_queued"].is_boolean(), "{sync}");
    get(
        "/api/v1/admin/accommodations/{id}/ical-exports",
        format!("/api/v1/admin/accommodations/{id}/ical-exports"),
    )
    .await;
    get("/api/v1/admin/conflicts", "/api/v1/admin/conflicts".into()).await;
    let (status, jobs) = get("/api/v1/admin/jobs", "/api/v1/admin/jobs".into()).await;
    assert_eq!(status, 200);
    let job_id = jobs["items"][0]["id"].as_i64().unwrap();
    get(
        "/api/v1/admin/jobs/{id}",
        format!("/api/v1/admin/jobs/{job_id}"),
    )
    .await;
    get(
        "/api/v1/admin/jobs/stats",
        "/api/v1/admin/jobs/stats".into(),
    )
    .await;
    get("/api/v1/admin/tasks", "/api/v1/admin/tasks".into()).await;
    get(
        "/api/v1/admin/conversations",
        "/api/v1/admin/conversations".into(),
    )
    .await;
    let res = app
        .admin_post("/api/v1/admin/queues/default/pause", &serde_json::json!({}))
        .await;
    documented(doc, "post", "/api/v1/admin/queues/{name}/pause", res).await;
    let res = app
        .admin_post(
            "/api/v1/admin/queues/default/resume",
            &serde_json::json!({}),
        )
        .await;
    documented(doc, "post", "/api/v1/admin/queues/{name}/resume", res).await;
    get("/api/v1/healthz", "/api/v1/healthz".into()).await;
    get("/api/v1/readyz", "/api/v1/readyz".into()).await;
    get("/api/v1/livez", "/api/v1/livez".into()).await;
    let res = app.get("/api/v1/admin/reservations").await;
    let (status, _) = documented(doc, "get", "/api/v1/admin/reservations", res).await;
    assert_eq!(status, 401);
    app.stop().await;
}

crate::on_both!(real_answers_match_the_document);

/// `/api/docs` is a page of our own: every operation of the document on it, its style sheet from
/// our origin, no script, no outside asset (its Content-Security-Policy allows nothing else).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_reference_page_is_served_from_our_own_origin() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let res = app.get("/api/docs").await;
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let csp = res.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(csp.contains("default-src 'none'"), "{csp}");
    assert!(csp.contains("style-src 'self'"), "{csp}");
    assert!(
        !csp.contains("http"),
        "the policy names no other origin: {csp}"
    );
    // minijinja escapes `/` as well: read the page's text as a browser would.
    let html = res.text().await.unwrap().replace("&#x2f;", "/");
    assert!(!html.contains("<script"), "no script on the page");
    assert!(!html.contains(" style="), "no inline style on the page");
    // Every asset and link is ours: a path on this origin or an anchor on the page.
    let mut assets = Vec::new();
    for attr in ["src=\"", "href=\""] {
        for part in html.split(attr).skip(1) {
            let target = part.split('"').next().unwrap();
            assert!(
                target.starts_with('/') && !target.starts_with("//") || target.starts_with('#'),
                "{attr}{target}\" leaves our origin"
            );
            if let Some(id) = target.strip_prefix('#') {
                assert!(
                    html.contains(&format!("id=\"{id}\"")),
                    "{target} points nowhere"
                );
            } else {
                assets.push(target.to_string());
            }
        }
    }
    assert!(
        assets.contains(&"/api/docs/docs.css".to_string()),
        "{assets:?}"
    );
    for asset in &assets {
        let res = app.get(asset).await;
        assert_eq!(res.status(), 200, "{asset}");
    }
    let css = app.get("/api/docs/docs.css").await;
    assert_eq!(css.headers()["content-type"], "text/css; charset=utf-8");
    // What a technician looks for: the operations, their statuses, the fields of the answers.
    let doc = posada_server::http::openapi::document_value();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for method in ops.as_object().unwrap().keys() {
            assert!(
                html.contains(&format!(
                    ">{}</span><span class=\"path\">{path}<",
                    method.to_uppercase()
                )),
                "{method} {path} is not on the page"
            );
        }
    }
    for field in ["already_queued", "job_id", "access_token", "next_before_id"] {
        assert!(html.contains(&format!("<code>{field}</code>")), "{field}");
    }
    app.stop().await;
}
