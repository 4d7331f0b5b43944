//! Rate limits over HTTP: per client and route class, health and metrics exempt, `Retry-After` on
//! 429, `X-Forwarded-For` believed only from trusted proxies, shared across nodes through the real
//! Redis, and allowed (but counted and reported) when Redis fails.

use std::time::Duration;

use posada_server::http::middleware::OpsExt;
use serde_json::Value;

use crate::helpers::{Backend, TestApp};
use crate::on_both;

async fn get_as(app: &TestApp, path: &str, forwarded_for: Option<&str>) -> reqwest::Response {
    let mut req = app.client.get(app.url(path));
    if let Some(ip) = forwarded_for {
        req = req.header("X-Forwarded-For", ip);
    }
    req.send().await.unwrap()
}

async fn metric_value(app: &TestApp, needle: &str) -> f64 {
    let text = app.get("/metrics").await.text().await.unwrap();
    text.lines()
        .filter(|l| l.starts_with(needle))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

async fn in_process_limits_per_class(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| {
        s.rate_limit_public_per_minute = 3;
        s.rate_limit_admin_per_minute = 5;
    })
    .await;
    for _ in 0..3 {
        assert_eq!(app.get("/api/v1/accommodations").await.status(), 200);
    }
    let res = app.get("/api/v1/accommodations").await;
    assert_eq!(res.status(), 429);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    let retry: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=20).contains(&retry), "retry-after {retry}");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["status"], 429);
    // Health and metrics are never limited.
    for _ in 0..10 {
        assert_eq!(app.get("/api/v1/healthz").await.status(), 200);
        assert_eq!(app.get("/api/v1/readyz").await.status(), 200);
        assert_eq!(app.get("/metrics").await.status(), 200);
    }
    // The admin class has its own allowance.
    for _ in 0..5 {
        assert_eq!(
            app.admin_get("/api/v1/admin/jobs/stats").await.status(),
            200
        );
    }
    assert_eq!(
        app.admin_get("/api/v1/admin/jobs/stats").await.status(),
        429
    );
    // Counted by route template.
    let text = app.get("/metrics").await.text().await.unwrap();
    assert!(
        text.lines()
            .any(|l| l.starts_with("rate_limit_blocked_total")
                && l.contains("route=\"/api/v1/accommodations\"")
                && l.contains("class=\"public\"")),
        "{text}"
    );
}

async fn forwarded_for_only_from_trusted_proxies(backend: Backend) {
    // Not trusted: a forged X-Forwarded-For does not buy a new allowance.
    let app = TestApp::spawn_with(backend, |s| s.rate_limit_public_per_minute = 2).await;
    for ip in ["1.1.1.1", "2.2.2.2"] {
        assert_eq!(
            get_as(&app, "/api/v1/accommodations", Some(ip))
                .await
                .status(),
            200
        );
    }
    assert_eq!(
        get_as(&app, "/api/v1/accommodations", Some("3.3.3.3"))
            .await
            .status(),
        429
    );

    // Behind a trusted proxy (the test client is the proxy): each forwarded client counts apart.
    let app = TestApp::spawn_with(backend, |s| {
        s.rate_limit_public_per_minute = 2;
        s.trusted_proxies = "127.0.0.0/8, ::1".into();
    })
    .await;
    for _ in 0..2 {
        assert_eq!(
            get_as(&app, "/api/v1/accommodations", Some("198.51.100.7"))
                .await
                .status(),
            200
        );
    }
    assert_eq!(
        get_as(&app, "/api/v1/accommodations", Some("198.51.100.7"))
            .await
            .status(),
        429
    );
    assert_eq!(
        get_as(&app, "/api/v1/accommodations", Some("198.51.100.8"))
            .await
            .status(),
        200
    );
    // A client-supplied hop to the left of the real one is not believed.
    assert_eq!(
        get_as(
            &app,
            "/api/v1/accommodations",
            Some("203.0.113.1, 198.51.100.7")
        )
        .await
        .status(),
        429
    );
}

on_both!(
    in_process_limits_per_class,
    forwarded_for_only_from_trusted_proxies
);

fn redis_url() -> String {
    std::env::var("REDIS_TEST_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// Fixed one-minute windows: keep a test from straddling two of them.
async fn away_from_window_edge() {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        % 60;
    if secs > 50 {
        tokio::time::sleep(Duration::from_secs(61 - secs)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_shares_the_limit_across_nodes() {
    let prefix = format!("posada-test:{}", uuid::Uuid::new_v4().simple());
    let settings = |s: &mut posada_server::config::Settings| {
        s.redis_url = Some(posada_server::config::Secret::new(redis_url()));
        s.rate_limit_redis_prefix = prefix.clone();
        s.rate_limit_public_per_minute = 3;
    };
    let node_a = TestApp::spawn_with(Backend::Sqlite, settings).await;
    let node_b = TestApp::spawn_with(Backend::Sqlite, settings).await;
    away_from_window_edge().await;
    assert_eq!(node_a.get("/api/v1/accommodations").await.status(), 200);
    assert_eq!(node_a.get("/api/v1/accommodations").await.status(), 200);
    assert_eq!(node_b.get("/api/v1/accommodations").await.status(), 200);
    let res = node_b.get("/api/v1/accommodations").await;
    assert_eq!(res.status(), 429, "the fourth request across both nodes");
    assert!(res.headers().contains_key("retry-after"));
    assert_eq!(node_a.get("/api/v1/accommodations").await.status(), 429);

    // The count lives in Redis under the configured prefix.
    let client = redis::Client::open(redis_url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}:*"))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert!(keys[0].starts_with(&format!("{prefix}:public:127.0.0.1:")));
    let ttl: i64 = redis::cmd("PTTL")
        .arg(&keys[0])
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(ttl > 0 && ttl <= 61_000, "ttl {ttl}");

    let body = crate::helpers::health_until(&node_a, |h| h["checks"]["redis"].is_object()).await;
    assert_eq!(body["checks"]["redis"]["status"], "healthy", "{body}");
    let _: () = redis::cmd("DEL")
        .arg(&keys)
        .query_async(&mut conn)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_failure_allows_counts_and_degrades_health() {
    // Nothing listens on port 1.
    let app = TestApp::spawn_with(Backend::Sqlite, |s| {
        s.redis_url = Some(posada_server::config::Secret::new("redis://127.0.0.1:1"));
        s.rate_limit_public_per_minute = 1;
        // Long enough that the whole test runs inside one back-off.
        s.rate_limit_redis_backoff_seconds = 600;
    })
    .await;
    for _ in 0..4 {
        assert_eq!(app.get("/api/v1/accommodations").await.status(), 200);
    }
    assert!(metric_value(&app, "rate_limit_redis_errors_total").await >= 1.0);
    let res = app.get("/api/v1/healthz").await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["status"], "degraded", "{body}");
    assert_eq!(body["checks"]["redis"]["status"], "degraded");
    assert!(body["checks"]["redis"]["error"].is_string());
}

/// Issue 15 #9: after one failure the limiter leaves a down Redis alone for the back-off period:
/// the requests that follow are allowed without trying it (counted), and `/healthz` says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_down_redis_is_tried_once_per_backoff_not_on_every_request() {
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let app = TestApp::spawn_with(Backend::Sqlite, |s| {
        s.redis_url = Some(posada_server::config::Secret::new(format!(
            "redis://127.0.0.1:{closed}"
        )));
        s.rate_limit_public_per_minute = 1;
        s.rate_limit_redis_backoff_seconds = 600;
    })
    .await;
    let limiter = &app.state.ops().limiter;
    assert_eq!(limiter.redis_attempts(), 0);
    for _ in 0..20 {
        assert_eq!(app.get("/api/v1/accommodations").await.status(), 200);
    }
    assert_eq!(
        limiter.redis_attempts(),
        1,
        "one try, then the back-off skips Redis"
    );
    assert!(metric_value(&app, "rate_limit_redis_skipped_total").await >= 19.0);
    let body = crate::helpers::health_until(&app, |h| h["checks"]["redis"].is_object()).await;
    assert_eq!(body["status"], "degraded", "{body}");
    let redis = &body["checks"]["redis"];
    assert_eq!(redis["status"], "degraded", "{body}");
    assert!(redis["backing_off_seconds"].as_u64().unwrap() > 0, "{body}");
    assert!(redis["skipped_total"].as_u64().unwrap() >= 19, "{body}");
    // Still one attempt: health checks do not count, requests keep skipping.
    for _ in 0..5 {
        assert_eq!(app.get("/api/v1/accommodations").await.status(), 200);
    }
    assert_eq!(limiter.redis_attempts(), 1);
}
