//! A day on several nodes (issue 15): the `posada-dayrun` harness runs the real `posada` binary of
//! this build as two API nodes and two workers on one fresh PostgreSQL database, drives a short
//! day of guests, payments, channel feeds and WhatsApp messages through `kill -9` of a worker and
//! of an API node, a database that refuses connections and a hanging WhatsApp API, and checks
//! every promise afterwards. The full-length run and its figures are in `docs/RELIABILITY.md`.
//! Also the regression test of the one defect it found: a database that accepts connections and
//! closes them at once was answered 500.

use std::time::Duration;

use posada_dayrun::proxy::Proxy;
use posada_server::startup::{Application, Roles};
use serde_json::Value;

use crate::helpers::{Backend, TestApp, days_from_now, test_settings};

/// A short day with every disruption: 75 s of guests (the database refuses connections for 10 s
/// of it, WhatsApp hangs for 15 s), then the checks. No violation, and the day really happened:
/// holds were confirmed, expired and cancelled, holds raced, messages went out.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_short_day_on_two_api_nodes_and_two_workers_breaks_no_promise() {
    let postgres = std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| posada_db::testing::DEFAULT_TEST_DATABASE_URL.to_string());
    let mut cfg = posada_dayrun::Config::new(env!("CARGO_BIN_EXE_posada").into(), &postgres);
    cfg.duration = Duration::from_secs(75);
    cfg.guests = 8;
    cfg.outage = Duration::from_secs(10);
    cfg.hang = Duration::from_secs(15);
    let report = posada_dayrun::run(&cfg).await.unwrap();
    println!("{report}");
    assert!(report.violations.is_empty(), "{report}");
    for figure in [
        "holds in the database",
        "503 during the database outage",
        "connections refused by a down node, sent to the other",
        "payments recorded",
    ] {
        assert!(report.number(figure) > 0, "{figure}: {report}");
    }
    let states = report.get("  final states").unwrap_or_default();
    for state in ["confirmed", "expired", "cancelled"] {
        assert!(states.contains(state), "no {state} hold: {report}");
    }
    assert!(
        report.number("holds answered 201 / 409") > 0
            && report
                .get("holds answered 201 / 409")
                .is_some_and(|v| !v.contains("/ 0 ")),
        "holds raced: {report}"
    );
}

/// A PostgreSQL that accepts the connection and closes it at once (a proxy in front of a database
/// that went away) made sqlx report a protocol error ("unexpected response from SSLRequest:
/// 0x00"), and every request answered 500. It is an outage: 503 problem+json with `Retry-After`,
/// and the node serves again when the database is back. PostgreSQL only: SQLite has no connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_database_closing_connections_at_once_answers_503_not_500() {
    let app = TestApp::spawn(Backend::Postgres).await;
    app.create_accommodation("maiten", 3_000_000).await;
    let url = reqwest::Url::parse(&app.test_db.url).unwrap();
    let upstream = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap_or(5432));
    let upstream = tokio::net::lookup_host(upstream)
        .await
        .unwrap()
        .next()
        .unwrap();
    let proxy = Proxy::start(upstream).await.unwrap();
    let mut proxied = url.clone();
    proxied.set_port(Some(proxy.addr().port())).unwrap();
    let mut settings = test_settings(proxied.as_str());
    settings.enable_scheduled_tasks = false;
    let node = Application::build(
        settings,
        Some("127.0.0.1:0".parse().unwrap()),
        Roles {
            http: true,
            workers: false,
        },
    )
    .await
    .unwrap();
    let base = format!("http://{}", node.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(node.run_until_stopped(async move {
        let _ = stopped.await;
    }));
    let quote = format!(
        "{base}/api/v1/accommodations/maiten/quote?check_in={}&check_out={}&guests=2",
        days_from_now(20),
        days_from_now(22)
    );
    assert_eq!(app.client.get(&quote).send().await.unwrap().status(), 200);
    proxy.refuse();
    for _ in 0..5 {
        let res = app.client.get(&quote).send().await.unwrap();
        assert_eq!(res.status(), 503);
        assert_eq!(res.headers()["content-type"], "application/problem+json");
        assert!(res.headers().contains_key("retry-after"));
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["status"], 503, "{body}");
    }
    proxy.accept();
    let back = crate::helpers::eventually(Duration::from_secs(20), || async {
        let status = app.client.get(&quote).send().await.unwrap().status();
        (status == 200).then_some(status)
    })
    .await;
    assert_eq!(back, 200);
    let _ = stop.send(());
    running.await.unwrap().unwrap();
}
