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

/// A short day with every disruption: 75 s of 8 guests (the database refuses connections for 10 s
/// of it, WhatsApp hangs for 15 s; 4 database connections a process), then the checks. No violation, and the day really happened:
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
    // Leave PostgreSQL connections to the tests running next to this one.
    cfg.db_max_connections = 4;
    let report = posada_dayrun::run(&cfg).await.unwrap();
    println!("{report}");
    assert!(report.violations.is_empty(), "{report}");
    for figure in [
        "holds in the database",
        "requests",
        "503 during the database outage",
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
    let (proxy, base, _state, stop, running) =
        node_behind_proxy(&app.test_db.url, false, |_| {}).await;
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

/// The day found e-mails sent twice: the SMTP server accepted a message, the database became
/// unreachable before the row was marked sent, the attempt failed and a later attempt sent the
/// message again. Now a delivery waits the outage out to record what the provider accepted: here
/// the database refuses connections between the message's arrival and the server's `250`, and
/// the guest still gets the message once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_message_accepted_while_the_database_is_unreachable_is_sent_once() {
    posada_integrations::install_crypto_provider();
    let test_db = posada_db::testing::TestDb::postgres().await;
    let smtp = posada_testkit::SmtpSink::start().await;
    let (proxy, base, state, stop, running) = node_behind_proxy(&test_db.url, true, |s| {
        s.smtp_host = Some(smtp.host());
        s.smtp_port = smtp.port();
        s.smtp_security = "plain".into();
        s.smtp_from = Some("Cabañas <reservas@posada.example>".into());
    })
    .await;
    let token = "adm_day_once";
    posada_store::tokens::create(&test_db.db, "tests", "write", token, chrono::Utc::now())
        .await
        .unwrap();
    let client = reqwest::Client::new();
    let res = client
        .post(format!("{base}/api/v1/admin/accommodations"))
        .bearer_auth(token)
        .json(&serde_json::json!({
            "name": "Cabaña Ñire", "slug": "nire", "kind": "cabin", "capacity": 4,
            "pricing": {"base_nightly": {"minor": 3_000_000, "currency": "ARS"}}
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let mut held = smtp.hold_next_message();
    let res = client
        .post(format!("{base}/api/v1/reservations"))
        .json(&serde_json::json!({
            "accommodation": "nire", "check_in": days_from_now(30), "check_out": days_from_now(32),
            "guests": 2, "guest": {"name": "Ana Gómez", "email": "ana@example.com"}
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let code = res.json::<Value>().await.unwrap()["code"]
        .as_str()
        .unwrap()
        .to_string();
    tokio::time::timeout(Duration::from_secs(30), held.arrived())
        .await
        .expect("the hold's e-mail reached the SMTP server");
    proxy.refuse();
    held.release();
    tokio::time::sleep(Duration::from_secs(3)).await;
    proxy.accept();
    // Every message of the hold delivered and no delivery job left.
    crate::helpers::eventually(Duration::from_secs(60), || async {
        let r = posada_store::reservations::get_by_code(state.db(), &code)
            .await
            .ok()??;
        let rows = posada_store::notifications::for_reservation(state.db(), r.id)
            .await
            .ok()?;
        let stats = state.jobs().admin().stats().await.ok()?;
        let live = stats
            .iter()
            .filter(|c| c.state.is_live() && c.count > 0 && c.kind == "notification.deliver")
            .count();
        (!rows.is_empty() && rows.iter().all(|n| n.status != "queued") && live == 0).then_some(())
    })
    .await;
    let to_ana = smtp
        .messages()
        .iter()
        .filter(|m| m.to.iter().any(|t| t == "ana@example.com"))
        .count();
    assert_eq!(to_ana, 1, "the guest's e-mail arrived once");
    let _ = stop.send(());
    running.await.unwrap().unwrap();
}

/// A node (HTTP, and workers if `workers`) on the database of `url`, reached through a proxy the
/// test can switch off: (proxy, base URL, state, stop sender, running task).
async fn node_behind_proxy(
    url: &str,
    workers: bool,
    adjust: impl FnOnce(&mut posada_server::config::Settings),
) -> (
    Proxy,
    String,
    posada_server::state::AppState,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<anyhow::Result<()>>,
) {
    let url = reqwest::Url::parse(url).unwrap();
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
    adjust(&mut settings);
    let node = Application::build(
        settings,
        Some("127.0.0.1:0".parse().unwrap()),
        Roles {
            http: true,
            workers,
        },
    )
    .await
    .unwrap();
    let base = format!("http://{}", node.local_addr().unwrap());
    let state = node.state().clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(node.run_until_stopped(async move {
        let _ = stopped.await;
    }));
    (proxy, base, state, stop, running)
}
