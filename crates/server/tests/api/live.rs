//! The owner app's live stream (`/dashboard/events`, Server-Sent Events): committed changes
//! arrive as named events, only to a logged-in owner, and on PostgreSQL across nodes.

use std::time::Duration;

use posada_server::config::Secret;

use crate::helpers::{Backend, TestApp, dashboard_cookie, days_from_now};

const PASSWORD: &str = "una clave larga del dueño";

async fn spawn(backend: Backend) -> TestApp {
    let hash = posada_server::http::dashboard::hash_password(PASSWORD).unwrap();
    TestApp::spawn_with(backend, |s| {
        s.owner_password_hash = Some(Secret::new(hash));
    })
    .await
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Read the stream until every one of `wanted` event names has arrived (fails after 20 s).
async fn events_until(res: &mut reqwest::Response, wanted: &[&str]) -> String {
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !wanted
        .iter()
        .all(|w| seen.contains(&format!("event: {w}\n")))
    {
        let chunk = tokio::time::timeout_at(deadline, res.chunk())
            .await
            .unwrap_or_else(|_| panic!("no {wanted:?} within 20 s; got:\n{seen}"))
            .unwrap()
            .expect("the stream stays open");
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    seen
}

async fn a_new_hold_reaches_the_owners_open_stream(backend: Backend) {
    let app = spawn(backend).await;
    app.create_accommodation("lago", 1_000_000).await;
    let client = client();
    // No session: refused, no stream.
    let res = client
        .get(app.url("/dashboard/events"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let cookie = dashboard_cookie(&app, &client, PASSWORD).await;
    let mut stream = client
        .get(app.url("/dashboard/events"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    assert_eq!(stream.headers()["content-type"], "text/event-stream");
    let res = app
        .pre_reserve("lago", &days_from_now(5), &days_from_now(7))
        .await;
    assert_eq!(res.status(), 201);
    let seen = events_until(&mut stream, &["reservation", "calendar"]).await;
    // Ids only: the guest's name, e-mail and phone never travel on the stream.
    assert!(!seen.contains("Ana"), "{seen}");
    assert!(!seen.contains("example.com"), "{seen}");
    app.stop().await;
}

/// Two nodes on one PostgreSQL database: the owner's page is served by one, the guest books on
/// the other, and the change still arrives (LISTEN/NOTIFY); the other node's availability cache
/// drops the nights too.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn changes_on_another_node_reach_the_stream() {
    let a = spawn(Backend::Postgres).await;
    a.create_accommodation("lago", 1_000_000).await;
    let b = a.spawn_node().await;
    let client = client();
    // The guest's availability read on node B fills its cache.
    let availability = format!(
        "/api/v1/accommodations/lago/availability?from={}&until={}",
        days_from_now(1),
        days_from_now(20)
    );
    let before: serde_json::Value = client
        .get(b.url(&availability))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let cookie = dashboard_cookie(&a, &client, PASSWORD).await;
    let mut stream = client
        .get(b.url("/dashboard/events"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    let res = a
        .pre_reserve("lago", &days_from_now(5), &days_from_now(7))
        .await;
    assert_eq!(res.status(), 201);
    events_until(&mut stream, &["reservation", "calendar"]).await;
    let after: serde_json::Value = client
        .get(b.url(&availability))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_ne!(before, after, "node B sees the nights taken on node A");
    b.stop().await;
    a.stop().await;
}

crate::on_both!(a_new_hold_reaches_the_owners_open_stream);
