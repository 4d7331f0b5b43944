//! The OpenAPI document is served, stable (snapshot), every operation it lists is routed, and
//! every route the code declares is documented.

use serde_json::Value;

use crate::helpers::{Backend, TestApp};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_document_is_served_and_every_operation_is_routed() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let res = app.get("/api/v1/openapi.json").await;
    assert_eq!(res.status(), 200);
    let doc: Value = res.json().await.unwrap();
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
    let doc: Value = serde_json::from_str(posada_server::http::openapi::DOCUMENT).unwrap();
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
        "routes missing from openapi.json: {missing:?}"
    );
    let stale: Vec<_> = documented.difference(&code).collect();
    assert!(
        stale.is_empty(),
        "openapi.json documents routes the code does not have: {stale:?}"
    );
}
