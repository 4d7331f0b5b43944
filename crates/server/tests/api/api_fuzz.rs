//! The OpenAPI-driven API fuzzer (issue 15, hostile input): schemathesis generates requests from
//! the OpenAPI document the code generates — valid ones and broken ones — against the real server on each backend
//! and checks every answer: no 5xx, the status code is documented for the operation, the body
//! matches the documented schema and content type, and schema-valid requests are accepted (with
//! the per-operation exceptions of `tests/api/schemathesis.toml`, which name the rules JSON Schema
//! cannot say).
//!
//! schemathesis is a Python tool pinned in `.ci/requirements.txt`, which `scripts/test` installs.
//! The run is bounded (`SCHEMATHESIS_MAX_EXAMPLES` per operation, default 25, fixed seed
//! `SCHEMATHESIS_SEED`, default 1) so it stays within a couple of minutes per backend on two cores;
//! raise the examples or change the seed locally to search further.
//!
//! Every operation is exercised. Two kinds of operation can only be exercised up to their guard,
//! because schemathesis cannot produce what gets past it: the webhooks need a provider's HMAC
//! signature (so they are checked for their 401/403 answers to anything unsigned; signed deliveries
//! are covered by `payments.rs` and `conversations.rs`), and the dashboard's forms need a session
//! cookie and its CSRF token (checked for their 401/403/415/422 answers; the logged-in paths are in
//! `auth.rs`).

use std::path::Path;
use std::process::Stdio;

use posada_server::config::Secret;

use crate::helpers::Backend;
use crate::on_both;
use crate::payments::Fixture;

/// The accommodation the run finds: operations that take a slug are pointed at it.
const SLUG: &str = "cabana-fuzz";

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| default.to_string())
}

/// `st` (or `schemathesis`) on the PATH, or a failure that says how to install it.
fn schemathesis_command() -> String {
    for candidate in ["st", "schemathesis"] {
        let found = std::process::Command::new(candidate)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if found {
            return candidate.to_string();
        }
    }
    panic!(
        "schemathesis is not installed: run `python3 -m pip install -r .ci/requirements.txt` \
         (scripts/test does it) so that `st` is on the PATH"
    );
}

async fn openapi_document_holds_under_schemathesis(backend: Backend) {
    let command = schemathesis_command();
    let hash = posada_server::http::dashboard::hash_password("fuzz-owner-password").unwrap();
    let f = Fixture::start_with(backend, |s| {
        // Rate limits are tested elsewhere (ratelimit.rs); here they would only turn the run into
        // 429s.
        s.rate_limit_public_per_minute = 1_000_000;
        s.rate_limit_admin_per_minute = 1_000_000;
        s.rate_limit_webhooks_per_minute = 1_000_000;
        // A dashboard with an owner password, as in production (without one the login form
        // answers 503 "set a password first").
        s.owner_password_hash = Some(Secret::new(hash));
    })
    .await;
    // Something to find: an accommodation (id 1), one hold on it and an owner block.
    f.accommodation(SLUG, 1_500_000).await;
    f.hold(SLUG, 30, 3).await;
    let block = f
        .app
        .admin_post(
            "/api/v1/admin/blocks",
            &serde_json::json!({
                "accommodation_id": 1,
                "check_in": crate::helpers::days_from_now(60),
                "check_out": crate::helpers::days_from_now(62),
                "reason": "pintura"
            }),
        )
        .await;
    assert_eq!(block.status(), 201);

    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = manifest.join("tests/api/schemathesis.toml");
    let report = tempfile::tempdir().unwrap();
    // The document as the code generates it (what the server serves; `openapi.rs` checks that).
    // Loaded from the server's URL, schemathesis would leave out the document's own operation.
    let document = report.path().join("openapi.json");
    std::fs::write(&document, posada_server::http::openapi::document_json()).unwrap();
    let max_examples = env_or("SCHEMATHESIS_MAX_EXAMPLES", "25");
    let seed = env_or("SCHEMATHESIS_SEED", "1");
    let output = tokio::process::Command::new(&command)
        .arg("--no-color")
        .arg("--config-file")
        .arg(&config)
        .arg("run")
        .arg(&document)
        .args(["--url", &f.app.base])
        .args([
            "--header",
            &format!("Authorization: Bearer {}", f.app.admin_token),
        ])
        .args([
            "--checks",
            "not_a_server_error,status_code_conformance,response_schema_conformance,\
             content_type_conformance,positive_data_acceptance",
        ])
        .args(["--phases", "examples,coverage,fuzzing"])
        .args(["--max-examples", &max_examples])
        .args(["--seed", &seed])
        // One worker: the server and the database already share the machine's two cores, and
        // schemathesis 4's coverage phase is not reliable with several threads.
        .args(["--workers", "1"])
        .args(["--request-timeout", "30"])
        .args(["--output-truncate", "false"])
        .args(["--report", "junit"])
        .arg("--report-dir")
        .arg(report.path())
        .env("SCHEMATHESIS_SLUG", SLUG)
        // schemathesis keeps its example database in the working directory: not in the repo.
        .current_dir(report.path())
        .kill_on_drop(true)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let summary = stdout
        .rfind("SUMMARY")
        .map_or(stdout.as_ref(), |i| &stdout[i..]);
    assert!(
        output.status.success(),
        "schemathesis found problems on {backend:?} (seed {seed}, {max_examples} examples):\n\
         {stdout}\n{stderr}"
    );
    // A clean run that tested nothing would prove nothing: every documented operation was tested.
    let doc = posada_server::http::openapi::document_value();
    let operations: usize = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|ops| ops.as_object().unwrap().len())
        .sum();
    let tested = summary
        .lines()
        .find_map(|l| l.trim().strip_prefix("Tested: "))
        .and_then(|n| n.trim().parse::<usize>().ok());
    assert_eq!(
        tested,
        Some(operations),
        "schemathesis did not test every operation:\n{summary}"
    );
    f.app.stop().await;
}

on_both!(openapi_document_holds_under_schemathesis);

/// Regression (found by the API fuzzer, and issue 15 #10): a dashboard form sent as something else
/// than a form answered `415 text/plain`; every refusal is problem+json now.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dashboard_forms_refuse_other_bodies_with_problem_json() {
    let app = crate::helpers::TestApp::spawn(Backend::Sqlite).await;
    for path in [
        "/dashboard/login",
        "/dashboard/logout",
        "/dashboard/tasks/ical-sync/run",
        "/dashboard/conversaciones/0123456789abcdef01234567/responder",
        "/dashboard/conversaciones/0123456789abcdef01234567/atendida",
    ] {
        let res = app
            .client
            .post(app.url(path))
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 415, "{path}");
        assert_eq!(
            res.headers()["content-type"],
            "application/problem+json",
            "{path}"
        );
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body["status"], 415, "{path}");
    }
    // A login form without its password field: 422, problem+json, naming the field.
    let res = app
        .client
        .post(app.url("/dashboard/login"))
        .form(&[("csrf_token", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    let body: serde_json::Value = res.json().await.unwrap();
    assert!(
        body["detail"].as_str().unwrap().contains("password"),
        "{body}"
    );
    app.stop().await;
}
