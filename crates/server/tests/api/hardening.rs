//! Smaller findings of the outside probe (issue 15 #10): an upper-case guest access token, a
//! panicking handler, a token for `/metrics`, and no raw database error on the public health
//! routes. (The session cookie's `Secure` flag is checked with the dashboard login in `auth`.)

use axum::Router;
use axum::routing::get;
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::helpers::{Backend, TestApp, days_from_now};
use crate::on_both;

async fn an_upper_case_access_token_is_accepted(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_accommodation("coihue", 3_000_000).await;
    let hold: Value = app
        .pre_reserve("coihue", &days_from_now(10), &days_from_now(12))
        .await
        .json()
        .await
        .unwrap();
    let code = hold["code"].as_str().unwrap();
    let token = hold["access_token"].as_str().unwrap();
    for presented in [
        token.to_string(),
        token.to_uppercase(),
        format!(" {} ", token.to_uppercase()),
    ] {
        let res = app
            .client
            .get(app.url(&format!("/api/v1/reservations/{code}")))
            .header("X-Access-Token", &presented)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "token {presented:?}");
    }
    // Another token, in any case, is still refused.
    let res = app
        .client
        .get(app.url(&format!("/api/v1/reservations/{code}")))
        .header("X-ACCESS-TOKEN", "A".repeat(32))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
}

async fn public_health_routes_show_no_raw_database_error(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    // Served once: the job engine has started (it starts before the listener serves).
    assert_eq!(app.get("/api/v1/livez").await.status(), 200);
    app.state.db().close().await;
    let res = app.get("/api/v1/healthz").await;
    assert_eq!(res.status(), 503);
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        body["checks"]["database"]["error"], "the database refused the check query",
        "{body}"
    );
    let res = app.get("/api/v1/readyz").await;
    assert_eq!(res.status(), 503);
    let ready: Value = res.json().await.unwrap();
    assert_eq!(ready["reasons"][0], "database: not answering", "{ready}");
    // What sqlx says (a closed pool, a host, a user) stays in the log.
    for text in [body.to_string(), ready.to_string()] {
        let lower = text.to_lowercase();
        for raw in ["pool", "sqlx", "postgres://", "sqlite://", "connection"] {
            assert!(!lower.contains(raw), "{raw} in {text}");
        }
    }
}

/// A NUL character in a path segment, a JSON string or a query parameter is the same 422 naming
/// the field on both backends (PostgreSQL cannot store it; issue 15 #4).
async fn nul_characters_answer_422_naming_the_field(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_accommodation("coihue", 3_000_000).await;
    async fn field_of(res: reqwest::Response) -> String {
        assert_eq!(res.status(), 422);
        assert_eq!(res.headers()["content-type"], "application/problem+json");
        let body: Value = res.json().await.unwrap();
        body["errors"][0]["field"].as_str().unwrap().to_string()
    }
    assert_eq!(
        field_of(app.get("/api/v1/accommodations/%00").await).await,
        "slug"
    );
    assert_eq!(
        field_of(app.get("/api/v1/accommodations/co%00ihue/quote").await).await,
        "slug"
    );
    assert_eq!(
        field_of(app.get("/api/v1/reservations/AB%00CD").await).await,
        "code"
    );
    assert_eq!(field_of(app.get("/ical/%00.ics").await).await, "file");
    let hold = |guest: Value, notes: &str| {
        json!({
            "accommodation": "coihue",
            "check_in": days_from_now(10),
            "check_out": days_from_now(12),
            "guests": 2,
            "guest": guest,
            "notes": notes,
        })
    };
    let ana =
        json!({"name": "Ana Pérez", "email": "ana@example.com", "phone": "+54 9 11 5555-1234"});
    for (guest, notes, field) in [
        (
            json!({"name": "Ana\u{0}", "email": "ana@example.com", "phone": "+54 9 11 5555-1234"}),
            "",
            "guest.name",
        ),
        (
            json!({"name": "Ana", "email": "ana\u{0}@example.com", "phone": "+54 9 11 5555-1234"}),
            "",
            "guest.email",
        ),
        (ana.clone(), "llegamos\u{0}tarde", "notes"),
    ] {
        let res = app.post("/api/v1/reservations", &hold(guest, notes)).await;
        assert_eq!(field_of(res).await, field);
    }
    assert_eq!(
        field_of(app.admin_get("/api/v1/admin/reservations?q=%00").await).await,
        "q"
    );
    // Nothing was held, and ordinary text still works.
    let res = app
        .post("/api/v1/reservations", &hold(ana, "llegamos tarde"))
        .await;
    assert_eq!(res.status(), 201);
}

/// With the database gone (its pool closed under the running app), public, guest and admin routes
/// — those that read the store directly and those that write through a unit of work — answer 503
/// problem+json with `Retry-After`, and the node counts (and logs) one outage, not one per
/// request (issue 15 #7).
async fn a_database_outage_answers_503_and_is_logged_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acc = app.create_accommodation("coihue", 3_000_000).await["id"]
        .as_i64()
        .unwrap();
    assert_eq!(app.get("/api/v1/accommodations").await.status(), 200);
    assert_eq!(app.state.database().outages(), 0);
    app.state.db().close().await;
    for round in 0..3 {
        for res in [
            app.get("/api/v1/accommodations").await,
            app.get("/api/v1/accommodations/coihue").await,
            app.pre_reserve("coihue", &days_from_now(10), &days_from_now(12))
                .await,
            app.admin_get("/api/v1/admin/reservations").await,
            app.admin_get(&format!("/api/v1/admin/accommodations/{acc}"))
                .await,
            app.admin_get("/api/v1/admin/blocks").await,
            app.admin_get("/api/v1/admin/feeds").await,
        ] {
            let url = res.url().to_string();
            assert_eq!(res.status(), 503, "{url} (round {round})");
            assert_eq!(
                res.headers()["content-type"],
                "application/problem+json",
                "{url}"
            );
            assert_eq!(res.headers()["retry-after"], "60", "{url}");
            let body: Value = res.json().await.unwrap();
            assert_eq!(body["status"], 503, "{url}: {body}");
        }
    }
    assert_eq!(app.state.database().outages(), 1, "one outage, logged once");
    assert!(app.state.database().is_down());
}

on_both!(
    a_database_outage_answers_503_and_is_logged_once,
    nul_characters_answer_422_naming_the_field,
    an_upper_case_access_token_is_accepted,
    public_health_routes_show_no_raw_database_error
);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_panicking_handler_answers_a_500_problem() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    // The real middleware stack around a route that panics.
    let routes: Router<posada_server::state::AppState> = Router::new().route(
        "/api/v1/boom",
        get(|| async {
            panic!("boom");
            #[expect(unreachable_code, reason = "the handler's type needs a response")]
            ""
        }),
    );
    let router =
        posada_server::http::middleware::stack(routes, &app.state).with_state(app.state.clone());
    let res = router
        .oneshot(
            axum::http::Request::get("/api/v1/boom")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(res.status(), 500);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    assert!(res.headers().contains_key("x-trace-id"));
    let body = axum::body::to_bytes(res.into_body(), 64 * 1024)
        .await
        .unwrap();
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["status"], 500);
    assert!(
        !body.to_string().contains("boom"),
        "the panic's text stays in the log: {body}"
    );
    // The server itself goes on.
    assert_eq!(app.get("/api/v1/livez").await.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn metrics_can_require_a_bearer_token() {
    let app = TestApp::spawn_with(Backend::Sqlite, |s| {
        s.metrics_token = Some(posada_server::config::Secret::new("scrape-me-7f3a"));
    })
    .await;
    let res = app.get("/metrics").await;
    assert_eq!(res.status(), 401);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    assert!(res.headers().contains_key("www-authenticate"));
    for wrong in [
        "Bearer nope",
        "Basic c2NyYXBlLW1lLTdmM2E=",
        "scrape-me-7f3a",
    ] {
        let res = app
            .client
            .get(app.url("/metrics"))
            .header("Authorization", wrong)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401, "{wrong}");
    }
    let res = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth("scrape-me-7f3a")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("http_requests_total"));
    // Without the setting, /metrics stays open (as the other tests use it).
    let open = TestApp::spawn(Backend::Sqlite).await;
    assert_eq!(open.get("/metrics").await.status(), 200);
}
