//! Health, readiness and liveness over HTTP.

use crate::helpers::{Backend, TestApp};
use crate::on_both;

async fn healthz_reports_the_database(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let res = app.get("/api/v1/healthz").await;
    assert_eq!(res.status(), 200);
    assert!(res.headers().get("x-trace-id").is_some());
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["status"], "healthy", "{body}");
    assert_eq!(body["checks"]["database"]["status"], "healthy");
    assert!(body["checks"]["database"]["latency_ms"].as_f64().unwrap() >= 0.0);

    let res = app.get("/api/v1/readyz").await;
    assert_eq!(res.status(), 200);
    let res = app.get("/api/v1/livez").await;
    assert_eq!(res.status(), 200);

    // The database goes away: health says unhealthy with 503, readiness fails.
    app.state.db().close().await;
    let res = app.get("/api/v1/healthz").await;
    assert_eq!(res.status(), 503);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["status"], "unhealthy");
    assert_eq!(app.get("/api/v1/readyz").await.status(), 503);
    assert_eq!(app.get("/api/v1/livez").await.status(), 200);
}

async fn unknown_routes_are_problem_json(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let res = app.get("/api/v1/nope").await;
    assert_eq!(res.status(), 404);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["status"], 404);
}

on_both!(
    healthz_reports_the_database,
    unknown_routes_are_problem_json
);

async fn stale_feeds_degrade_then_fail_health(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acc = app.create_accommodation("lenga", 3_000_000).await;
    let res = app
        .admin_post(
            "/api/v1/admin/feeds",
            &serde_json::json!({"accommodation_id": acc["id"], "channel": "airbnb", "url": "http://127.0.0.1:9/feed.ics", "enabled": true}),
        )
        .await;
    assert_eq!(res.status(), 201);

    let health = |expected: &'static str, code: u16| {
        let app = &app;
        async move {
            crate::helpers::eventually(std::time::Duration::from_secs(10), || async {
                let res = app.get("/api/v1/healthz").await;
                let status = res.status().as_u16();
                let body: serde_json::Value = res.json().await.unwrap();
                (body["checks"]["ical"]["status"] == expected && status == code).then_some(body)
            })
            .await
        }
    };
    // The feed never synced (nothing listens on port 9): its age counts from its creation, by
    // the application's clock.
    app.clock.advance(chrono::Duration::minutes(5));
    health("healthy", 200).await;
    app.clock.advance(chrono::Duration::minutes(40));
    let body = health("degraded", 200).await;
    assert_eq!(body["status"], "degraded");
    app.clock.advance(chrono::Duration::minutes(45));
    let body = health("unhealthy", 503).await;
    assert_eq!(body["status"], "unhealthy");
}

on_both!(stale_feeds_degrade_then_fail_health);
