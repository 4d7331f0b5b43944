//! Periodic tasks, jobs and queues driven over the admin HTTP API, and `Idempotency-Key` on POSTs.

use std::time::Duration;

use posada_jobs::JobOptions;
use posada_server::jobs::expire_hold::ExpireHold;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, days_from_now, eventually};
use crate::on_both;

async fn json_of(res: reqwest::Response) -> (u16, Value) {
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn tasks_are_listed_and_driven(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    // The scheduler registers its tasks one by one at start: wait for all of them.
    let expected = [
        "daily-report",
        "alert-check",
        "cleanup",
        "expiration-sweep",
        "completion-pass",
    ];
    let tasks = eventually(Duration::from_secs(10), || async {
        let (_, body) = json_of(app.admin_get("/api/v1/admin/tasks").await).await;
        let items = body["items"].as_array()?.clone();
        expected
            .iter()
            .all(|name| items.iter().any(|t| t["name"] == *name))
            .then_some(items)
    })
    .await;
    let task = |name: &str| tasks.iter().find(|t| t["name"] == name).unwrap().clone();
    let report = task("daily-report");
    assert_eq!(report["schedule"], "0 8 * * *");
    assert_eq!(report["time_zone"], "America/Argentina/Buenos_Aires");
    assert!(report["next_run_at"].is_string(), "{report}");
    assert_eq!(report["paused"], false);
    for name in [
        "alert-check",
        "cleanup",
        "expiration-sweep",
        "completion-pass",
    ] {
        let t = task(name);
        for field in ["last_run_at", "last_duration_ms", "last_error"] {
            assert!(t.get(field).is_some(), "{name} lacks {field}");
        }
    }

    // Pause and resume.
    let (status, _) = json_of(
        app.admin_post("/api/v1/admin/tasks/cleanup/pause", &json!({}))
            .await,
    )
    .await;
    assert_eq!(status, 200);
    let (_, body) = json_of(app.admin_get("/api/v1/admin/tasks").await).await;
    let cleanup = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "cleanup")
        .unwrap()
        .clone();
    assert_eq!(cleanup["paused"], true);
    let (status, _) = json_of(
        app.admin_post("/api/v1/admin/tasks/cleanup/resume", &json!({}))
            .await,
    )
    .await;
    assert_eq!(status, 200);

    // Run now: the scheduler takes it within about a second and records the run.
    let (status, _) = json_of(
        app.admin_post("/api/v1/admin/tasks/cleanup/run", &json!({}))
            .await,
    )
    .await;
    assert_eq!(status, 202);
    let ran = eventually(Duration::from_secs(15), || async {
        let (_, body) = json_of(app.admin_get("/api/v1/admin/tasks").await).await;
        let t = body["items"]
            .as_array()?
            .iter()
            .find(|t| t["name"] == "cleanup")?
            .clone();
        (t["last_run_at"].is_string()).then_some(t)
    })
    .await;
    assert_eq!(ran["paused"], false);
    assert!(ran["last_duration_ms"].as_i64().unwrap() >= 0);
    assert!(ran["last_error"].is_null(), "{ran}");

    let (status, body) = json_of(
        app.admin_post("/api/v1/admin/tasks/nope/run", &json!({}))
            .await,
    )
    .await;
    assert_eq!(status, 404, "{body}");
}

/// An expiry job for a reservation that does not exist: runs and completes doing nothing.
async fn enqueue_expiry(app: &TestApp, queue: &str, reservation_id: i64) -> i64 {
    app.state
        .jobs()
        .enqueue(
            &ExpireHold { reservation_id },
            JobOptions {
                queue: Some(queue.into()),
                trace_id: Some("tasks-test".into()),
                ..JobOptions::default()
            },
        )
        .await
        .unwrap()
        .unwrap()
}

async fn jobs_are_listed_inspected_retried_and_cancelled(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_accommodation("sierra", 3_000_000).await;
    let res = app
        .pre_reserve("sierra", &days_from_now(5), &days_from_now(7))
        .await;
    assert_eq!(res.status(), 201);
    // The hold's expiry job waits for its time; running it now fails (the hold is not due) and
    // records the error.
    let (_, body) = json_of(
        app.admin_get("/api/v1/admin/jobs?kind=reservation.expire_hold&state=scheduled")
            .await,
    )
    .await;
    let id = body["items"][0]["id"].as_i64().unwrap();
    let (status, _) = json_of(
        app.admin_post(&format!("/api/v1/admin/jobs/{id}/retry"), &json!({}))
            .await,
    )
    .await;
    assert_eq!(status, 202);
    let detail = eventually(Duration::from_secs(10), || async {
        let (_, body) = json_of(app.admin_get(&format!("/api/v1/admin/jobs/{id}")).await).await;
        (!body["errors"].as_array()?.is_empty() && body["state"] != "running").then_some(body)
    })
    .await;
    assert_eq!(detail["kind"], "reservation.expire_hold");
    assert_eq!(detail["state"], "retryable", "{detail}");
    assert!(detail["args"]["reservation_id"].is_i64());
    assert!(detail["trace_id"].is_string());
    assert!(
        detail["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("not due"),
        "{detail}"
    );

    // Filters and pagination (a job on a queue no worker serves stays where it is).
    let second = enqueue_expiry(&app, "other", 999_999).await;
    let (status, body) = json_of(
        app.admin_get("/api/v1/admin/jobs?kind=reservation.expire_hold&limit=1")
            .await,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["items"].as_array().unwrap().len(), 1);
    assert_eq!(body["items"][0]["id"], second);
    let next = body["next_before_id"].as_i64().unwrap();
    let (_, body) = json_of(
        app.admin_get(&format!(
            "/api/v1/admin/jobs?kind=reservation.expire_hold&limit=1&before_id={next}"
        ))
        .await,
    )
    .await;
    assert_eq!(body["items"][0]["id"], id);
    let (_, body) = json_of(app.admin_get("/api/v1/admin/jobs?queue=other").await).await;
    let items = body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["queue"], "other");
    let (_, body) = json_of(app.admin_get("/api/v1/admin/jobs?state=retryable").await).await;
    assert!(
        body["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|j| j["id"] == id)
    );
    let (status, body) = json_of(app.admin_get("/api/v1/admin/jobs?state=bogus").await).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["errors"][0]["field"], "state");
    let (status, _) = json_of(app.admin_get("/api/v1/admin/jobs/999999").await).await;
    assert_eq!(status, 404);

    // Cancel, and a second cancel is a conflict.
    let (status, _) = json_of(
        app.admin_post(&format!("/api/v1/admin/jobs/{id}/cancel"), &json!({}))
            .await,
    )
    .await;
    assert_eq!(status, 200);
    let (_, body) = json_of(app.admin_get(&format!("/api/v1/admin/jobs/{id}")).await).await;
    assert_eq!(body["state"], "cancelled");
    let (status, _) = json_of(
        app.admin_post(&format!("/api/v1/admin/jobs/{id}/cancel"), &json!({}))
            .await,
    )
    .await;
    assert_eq!(status, 409);
    // Retry brings it back.
    let (status, _) = json_of(
        app.admin_post(&format!("/api/v1/admin/jobs/{id}/retry"), &json!({}))
            .await,
    )
    .await;
    assert_eq!(status, 202);
    let (_, body) = json_of(app.admin_get(&format!("/api/v1/admin/jobs/{id}")).await).await;
    assert_ne!(body["state"], "cancelled");
    let (status, _) = json_of(
        app.admin_post("/api/v1/admin/jobs/999999/retry", &json!({}))
            .await,
    )
    .await;
    assert_eq!(status, 404);

    // Stats.
    let (status, stats) = json_of(app.admin_get("/api/v1/admin/jobs/stats").await).await;
    assert_eq!(status, 200);
    assert!(
        stats["by_state"]["available"].as_i64().unwrap() >= 1,
        "{stats}"
    );
    assert!(
        stats["rows"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["kind"] == "reservation.expire_hold" && r["queue"] == "other")
    );
}

async fn queues_pause_and_resume(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (status, _) = json_of(
        app.admin_post("/api/v1/admin/queues/default/pause", &json!({}))
            .await,
    )
    .await;
    assert_eq!(status, 200);
    let (_, stats) = json_of(app.admin_get("/api/v1/admin/jobs/stats").await).await;
    assert_eq!(stats["paused_queues"], json!(["default"]));
    // A job on the paused queue waits.
    let id = enqueue_expiry(&app, "default", 999_999).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (_, body) = json_of(app.admin_get(&format!("/api/v1/admin/jobs/{id}")).await).await;
    assert_eq!(body["state"], "available");
    let (status, _) = json_of(
        app.admin_post("/api/v1/admin/queues/default/resume", &json!({}))
            .await,
    )
    .await;
    assert_eq!(status, 200);
    eventually(Duration::from_secs(10), || async {
        let (_, body) = json_of(app.admin_get(&format!("/api/v1/admin/jobs/{id}")).await).await;
        (body["state"] == "completed").then_some(())
    })
    .await;
    let (status, _) = json_of(
        app.admin_post("/api/v1/admin/queues/bad%20name/pause", &json!({}))
            .await,
    )
    .await;
    assert_eq!(status, 422);
}

async fn post_with_key(app: &TestApp, key: &str, body: &Value) -> reqwest::Response {
    app.client
        .post(app.url("/api/v1/reservations"))
        .header("Idempotency-Key", key)
        .json(body)
        .send()
        .await
        .unwrap()
}

fn hold_request(slug: &str, from: i64, to: i64) -> Value {
    json!({
        "accommodation": slug, "check_in": days_from_now(from), "check_out": days_from_now(to),
        "guests": 2, "guest": {"name": "Ana Pérez", "email": "ana@example.com"}
    })
}

async fn reservations_of(app: &TestApp) -> i64 {
    let (_, body) = json_of(app.admin_get("/api/v1/admin/reservations").await).await;
    body["total"].as_i64().unwrap_or_else(|| {
        body["items"]
            .as_array()
            .map(|a| a.len() as i64)
            .unwrap_or(0)
    })
}

async fn idempotency_replays_refuses_and_waits(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_accommodation("rio", 3_000_000).await;
    let body = hold_request("rio", 30, 33);
    let first = post_with_key(&app, "key-1", &body).await;
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    // Same key, same body: the stored answer, byte for byte, and no second hold.
    let again = post_with_key(&app, "key-1", &body).await;
    assert_eq!(again.status(), 201);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let again: Value = again.json().await.unwrap();
    assert_eq!(again, first);
    assert_eq!(reservations_of(&app).await, 1);
    // Same key, another body: refused.
    let other = post_with_key(&app, "key-1", &hold_request("rio", 40, 42)).await;
    assert_eq!(other.status(), 422);
    assert_eq!(other.headers()["content-type"], "application/problem+json");
    // The same key from another caller is another key.
    let res = app
        .client
        .post(app.url("/api/v1/admin/tasks/cleanup/run"))
        .bearer_auth(&app.admin_token)
        .header("Idempotency-Key", "key-1")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);

    // Two identical requests at once: one runs, the other is told it is in flight (or gets the
    // replay if the first finished first) — never a second hold.
    let body = hold_request("rio", 50, 52);
    let (a, b) = tokio::join!(
        post_with_key(&app, "key-2", &body),
        post_with_key(&app, "key-2", &body)
    );
    let mut statuses = [a.status().as_u16(), b.status().as_u16()];
    statuses.sort();
    assert!(
        statuses == [201, 409] || statuses == [201, 201],
        "statuses {statuses:?}"
    );
    for r in [&a, &b] {
        if r.status() == 409 {
            assert!(r.headers().contains_key("retry-after"));
        }
    }
    assert_eq!(reservations_of(&app).await, 2);
    // A replay after the first finished.
    let res = post_with_key(&app, "key-2", &body).await;
    assert_eq!(res.status(), 201);
    assert_eq!(res.headers()["idempotent-replayed"], "true");
    // The in-flight state, observed directly: a claim not completed answers 409.
    use sha2::Digest;
    let held = hold_request("rio", 60, 61);
    let hash = hex::encode(sha2::Sha256::digest(serde_json::to_vec(&held).unwrap()));
    let claimed = posada_store::idempotency::claim(
        app.state.db(),
        "POST /api/v1/reservations client:127.0.0.1",
        "key-3",
        &hash,
        chrono::Duration::hours(48),
        chrono::Utc::now(),
    )
    .await
    .unwrap();
    assert_eq!(claimed, posada_store::idempotency::Claim::New);
    let res = post_with_key(&app, "key-3", &held).await;
    assert_eq!(
        res.status(),
        409,
        "a key held by a running request is not run again"
    );
    assert_eq!(res.headers()["retry-after"], "1");
    assert_eq!(reservations_of(&app).await, 2);
    // A bad key is refused before anything runs.
    let res = post_with_key(&app, "", &hold_request("rio", 70, 71)).await;
    assert_eq!(res.status(), 422);
}

on_both!(
    tasks_are_listed_and_driven,
    jobs_are_listed_inspected_retried_and_cancelled,
    queues_pause_and_resume,
    idempotency_replays_refuses_and_waits
);
