//! Operations over HTTP: the metrics exposition (checked by an independent parser), security
//! headers and CORS, body limits, health driven by real conditions, readiness while draining, and
//! the trace id from a request to the log lines of the job it enqueued.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use posada_jobs::NewJob;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{Backend, TestApp, days_from_now, eventually};
use crate::on_both;

/// Parse a Prometheus text exposition with the reference Python parser; one JSON object per family.
fn parse_exposition(text: &str) -> Vec<Value> {
    let script = r#"
import sys, json
from prometheus_client.parser import text_string_to_metric_families
out = []
for f in text_string_to_metric_families(sys.stdin.read()):
    out.append({"name": f.name, "type": f.type, "help": f.documentation,
                "samples": [{"name": s.name, "labels": s.labels, "value": s.value} for s in f.samples]})
print(json.dumps(out))
"#;
    let mut child = Command::new("python3")
        .arg("-c")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs (pip install -r .ci/requirements.txt)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the Prometheus parser refused the exposition: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn metrics_parse_with_help_and_type_for_every_family() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.create_accommodation("lago", 5_000_000).await;
    let res = app
        .pre_reserve("lago", &days_from_now(10), &days_from_now(12))
        .await;
    assert_eq!(res.status(), 201);
    let code = res.json::<Value>().await.unwrap()["code"]
        .as_str()
        .unwrap()
        .to_string();
    // Taken dates: counted as an overlap.
    let res = app
        .pre_reserve("lago", &days_from_now(11), &days_from_now(13))
        .await;
    assert_eq!(res.status(), 409);
    // A path with a parameter and one no route matches.
    app.get(&format!("/api/v1/reservations/{code}")).await;
    app.get("/no/such/route/555-1234").await;

    let res = app.get("/metrics").await;
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let text = res.text().await.unwrap();
    let families = parse_exposition(&text);
    assert!(families.len() > 5, "{text}");
    for f in &families {
        assert!(
            !f["help"].as_str().unwrap_or_default().is_empty(),
            "family {} has no HELP:\n{text}",
            f["name"]
        );
        assert_ne!(f["type"], "unknown", "family {} has no TYPE", f["name"]);
    }
    let family = |name: &str| {
        families
            .iter()
            .find(|f| f["name"] == name)
            .unwrap_or_else(|| panic!("no family {name} in:\n{text}"))
            .clone()
    };
    // Counters are named without `_total` by the parser.
    let http = family("http_requests");
    assert_eq!(http["type"], "counter");
    let routes: Vec<String> = http["samples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["labels"]["route"].as_str().unwrap().to_string())
        .collect();
    assert!(routes.contains(&"/api/v1/reservations".to_string()));
    assert!(routes.contains(&"/api/v1/reservations/{code}".to_string()));
    assert!(routes.contains(&"unmatched".to_string()));
    assert!(
        !text.contains(&code) && !text.contains("555-1234") && !text.contains("127.0.0.1"),
        "raw paths or addresses leaked into labels"
    );
    let statuses: Vec<&str> = http["samples"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| {
            s["labels"]["route"] == "/api/v1/reservations" && s["labels"]["method"] == "POST"
        })
        .map(|s| s["labels"]["status"].as_str().unwrap())
        .collect();
    assert!(
        statuses.contains(&"201") && statuses.contains(&"409"),
        "{statuses:?}"
    );
    assert_eq!(family("http_request_duration_seconds")["type"], "histogram");
    assert_eq!(family("reservations_created")["type"], "counter");
    assert_eq!(family("reservations_date_overlap")["type"], "counter");
    // The job engine's families are described too.
    assert_eq!(family("jobs_enqueued")["type"], "counter");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn security_headers_on_every_response_and_cors_closed_by_default() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    for path in ["/api/v1/healthz", "/api/v1/nope", "/dashboard/login"] {
        let res = app
            .client
            .get(app.url(path))
            .header("Origin", "https://evil.example")
            .send()
            .await
            .unwrap();
        let h = res.headers();
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["x-frame-options"], "DENY");
        assert_eq!(h["referrer-policy"], "no-referrer");
        assert!(h.contains_key("content-security-policy"));
        assert!(!h.contains_key("access-control-allow-origin"));
        assert!(
            !h.contains_key("strict-transport-security"),
            "no HSTS over http"
        );
    }
    let csp = app.get("/dashboard/login").await.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(csp.contains("frame-ancestors 'none'") && csp.contains("form-action 'self'"));

    let app = TestApp::spawn_with(Backend::Sqlite, |s| {
        s.cors_allowed_origins = "https://reservas.example".into();
        s.posada_public_url = "https://posada.example".into();
    })
    .await;
    let preflight = |origin: &'static str| {
        app.client
            .request(reqwest::Method::OPTIONS, app.url("/api/v1/reservations"))
            .header("Origin", origin)
            .header("Access-Control-Request-Method", "POST")
            .header(
                "Access-Control-Request-Headers",
                "content-type,idempotency-key",
            )
            .send()
    };
    let ok = preflight("https://reservas.example").await.unwrap();
    assert_eq!(
        ok.headers()["access-control-allow-origin"],
        "https://reservas.example"
    );
    let other = preflight("https://evil.example").await.unwrap();
    assert!(!other.headers().contains_key("access-control-allow-origin"));
    let res = app.get("/api/v1/livez").await;
    assert!(
        res.headers()["strict-transport-security"]
            .to_str()
            .unwrap()
            .contains("max-age=")
    );
}

/// Send a raw chunked POST (no Content-Length) and return the status line and body.
async fn raw_chunked_post(app: &TestApp, path: &str, body: &[u8]) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        app.addr
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    for chunk in body.chunks(8192) {
        // The server may answer and close before the whole body is sent.
        if stream
            .write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
            .await
            .is_err()
            || stream.write_all(chunk).await.is_err()
            || stream.write_all(b"\r\n").await.is_err()
        {
            break;
        }
    }
    let _ = stream.write_all(b"0\r\n\r\n").await;
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response).await;
    let text = String::from_utf8_lossy(&response).to_string();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn oversized_bodies_are_413_problems() {
    let app = TestApp::spawn_with(Backend::Sqlite, |s| s.max_body_bytes = 4096).await;
    let big = json!({"accommodation": "x".repeat(10_000)});
    // Declared length over the limit.
    let res = app.post("/api/v1/reservations", &big).await;
    assert_eq!(res.status(), 413);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["status"], 413);
    assert_eq!(body["limit_bytes"], 4096);
    // No declared length: refused while reading.
    let (status, text) =
        raw_chunked_post(&app, "/api/v1/reservations", big.to_string().as_bytes()).await;
    assert_eq!(status, 413, "{text}");
    assert!(text.contains("application/problem+json"), "{text}");
    // Within the limit the request is read normally (here: unknown accommodation).
    let res = app
        .pre_reserve("nada", &days_from_now(3), &days_from_now(4))
        .await;
    assert_ne!(res.status(), 413);
}

/// Hold the database's write lock from outside the server until the returned sender is dropped
/// or fired: SQLite `BEGIN IMMEDIATE` on the same file, PostgreSQL `LOCK TABLE accommodations`.
async fn hold_write_lock(backend: Backend, url: &str) -> tokio::sync::oneshot::Sender<()> {
    use sqlx::Connection;
    let (release, released) = tokio::sync::oneshot::channel::<()>();
    let (locked, is_locked) = tokio::sync::oneshot::channel::<()>();
    let url = url.to_string();
    tokio::spawn(async move {
        match backend {
            Backend::Sqlite => {
                let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
                sqlx::query("BEGIN IMMEDIATE")
                    .execute(&mut c)
                    .await
                    .unwrap();
                let _ = locked.send(());
                let _ = released.await;
                sqlx::query("ROLLBACK").execute(&mut c).await.unwrap();
            }
            Backend::Postgres => {
                let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
                sqlx::query("BEGIN").execute(&mut c).await.unwrap();
                sqlx::query("LOCK TABLE accommodations IN EXCLUSIVE MODE")
                    .execute(&mut c)
                    .await
                    .unwrap();
                let _ = locked.send(());
                let _ = released.await;
                sqlx::query("ROLLBACK").execute(&mut c).await.unwrap();
            }
        }
    });
    is_locked.await.unwrap();
    release
}

/// A request stuck longer than `REQUEST_TIMEOUT_SECONDS` (here: waiting on a database lock held
/// by someone else) is answered 503 problem+json; what was stored stays, what the request was
/// writing is not half-stored, and the same request succeeds once the lock is gone.
async fn slow_requests_time_out_with_a_problem(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| s.request_timeout_seconds = 1).await;
    app.create_accommodation("lago", 1_000_000).await;
    let release = hold_write_lock(backend, &app.test_db.url).await;
    let body = json!({
        "name": "Cabaña del bosque",
        "slug": "bosque",
        "kind": "cabin",
        "capacity": 2,
        "pricing": {"base_nightly": {"minor": 900_000, "currency": "ARS"}}
    });
    let res = app.admin_post("/api/v1/admin/accommodations", &body).await;
    assert_eq!(res.status(), 503);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    let problem: Value = res.json().await.unwrap();
    assert_eq!(problem["status"], 503, "{problem}");
    let _ = release.send(());

    // Nothing already stored was lost, nothing was half-written, and the request goes through now.
    let (status, lago) = {
        let res = app.get("/api/v1/accommodations/lago").await;
        (res.status(), res.json::<Value>().await.unwrap())
    };
    assert_eq!(status, 200, "{lago}");
    let res = eventually(Duration::from_secs(15), || async {
        let res = app.admin_post("/api/v1/admin/accommodations", &body).await;
        (res.status() != 503).then_some(res)
    })
    .await;
    let status = res.status();
    let created: Value = res.json().await.unwrap();
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["slug"], "bosque");
    let res = app.get("/api/v1/accommodations").await;
    let list: Value = res.json().await.unwrap();
    let slugs: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["slug"].as_str())
        .collect();
    assert_eq!(
        slugs.iter().filter(|s| **s == "bosque").count(),
        1,
        "{list}"
    );
    assert!(slugs.contains(&"lago"), "{list}");
}

async fn health(app: &TestApp) -> (u16, Value) {
    let res = app.get("/api/v1/healthz").await;
    let status = res.status().as_u16();
    (status, res.json().await.unwrap())
}

async fn health_follows_real_conditions(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    // The engine starts right after the listener: wait for its workers.
    let body = eventually(Duration::from_secs(10), || async {
        let (status, body) = health(&app).await;
        (status == 200 && body["checks"]["jobs"]["workers_alive"].as_u64() >= Some(1))
            .then_some(body)
    })
    .await;
    assert_eq!(body["status"], "healthy", "{body}");
    let jobs = &body["checks"]["jobs"];
    assert_eq!(jobs["status"], "healthy");
    assert!(jobs["workers_alive"].as_u64().unwrap() >= 1, "{body}");
    assert_eq!(jobs["discarded_last_24h"], 0);
    assert_eq!(
        body["checks"]["integrations"]["providers"]["smtp"],
        "not configured"
    );
    assert_eq!(
        body["checks"]["circuit_breakers"]["providers"]["smtp"]["state"],
        "closed"
    );
    match backend {
        Backend::Sqlite => assert!(body["checks"]["disk"]["free_bytes"].as_u64().unwrap() > 0),
        Backend::Postgres => assert!(body["checks"].get("disk").is_none()),
    }

    // Repeated checks keep answering (the slower checks come from a ~1 s cache; how fast it
    // answers is measured by `posada bench api`, see docs/BENCHMARKS.md).
    for _ in 0..40 {
        assert_eq!(app.get("/api/v1/healthz").await.status(), 200);
    }

    // A job waits for a worker for minutes (its queue is paused): degraded.
    let admin = app.state.jobs().admin();
    admin.pause_queue("stuck").await.unwrap();
    app.state
        .jobs()
        .enqueue_new(&NewJob {
            kind: "ops.test_stuck".into(),
            queue: "stuck".into(),
            args: "{}".into(),
            priority: 0,
            max_attempts: 1,
            run_at: Some(chrono::Utc::now() - chrono::Duration::minutes(5)),
            unique_key: None,
            trace_id: None,
        })
        .await
        .unwrap();
    let body = eventually(Duration::from_secs(5), || async {
        let (status, body) = health(&app).await;
        (status == 200 && body["status"] == "degraded").then_some(body)
    })
    .await;
    assert_eq!(body["checks"]["jobs"]["status"], "degraded");
    assert!(
        body["checks"]["jobs"]["oldest_available_age_seconds"]
            .as_i64()
            .unwrap()
            >= 299
    );

    // A provider's circuit opens: degraded, and the breaker is named.
    admin.resume_queue("stuck").await.unwrap();
    let breaker = &app.state.services().smtp_breaker;
    for _ in 0..20 {
        breaker.record_failure();
    }
    let body = eventually(Duration::from_secs(5), || async {
        let (_, body) = health(&app).await;
        (body["checks"]["circuit_breakers"]["status"] == "degraded").then_some(body)
    })
    .await;
    assert_eq!(body["status"], "degraded");
    assert_eq!(
        body["checks"]["circuit_breakers"]["providers"]["smtp"]["state"],
        "open"
    );

    // The database goes away: unhealthy, 503, at once (the database check is never cached).
    app.state.db().close().await;
    let (status, body) = health(&app).await;
    assert_eq!(status, 503);
    assert_eq!(body["status"], "unhealthy");
}

async fn readiness_fails_while_draining(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| s.shutdown_drain_delay_seconds = 3).await;
    assert_eq!(app.get("/api/v1/readyz").await.status(), 200);
    let client = app.client.clone();
    let base = app.base.clone();
    let stopping = tokio::spawn(app.stop());
    let body = eventually(Duration::from_secs(3), || async {
        let res = client
            .get(format!("{base}/api/v1/readyz"))
            .send()
            .await
            .ok()?;
        (res.status() == 503).then_some(())?;
        res.json::<Value>().await.ok()
    })
    .await;
    assert_eq!(body["ready"], false);
    assert!(
        body["reasons"]
            .as_array()
            .unwrap()
            .contains(&json!("draining"))
    );
    // Still alive and serving while it drains.
    let live = client
        .get(format!("{base}/api/v1/livez"))
        .send()
        .await
        .unwrap();
    assert_eq!(live.status(), 200);
    stopping.await.unwrap();
    assert!(
        client
            .get(format!("{base}/api/v1/livez"))
            .send()
            .await
            .is_err(),
        "the listener is closed after draining"
    );
}

on_both!(
    health_follows_real_conditions,
    readiness_fails_while_draining,
    slow_requests_time_out_with_a_problem
);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn trace_id_goes_from_the_request_to_the_jobs_and_their_logs() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("posada.db").display());
    // `posada serve` as a child process with JSON logs on standard error.
    let served = crate::cli::Served::start(&url, &[]).await;
    let client = reqwest::Client::new();
    // An admin token, written straight into the server's database.
    let db = posada_db::Db::connect(&url, &posada_db::ConnectOptions::default())
        .await
        .unwrap();
    let token = format!("adm_{}", uuid::Uuid::new_v4().simple());
    posada_store::tokens::create(&db, "trace-test", "write", &token, chrono::Utc::now())
        .await
        .unwrap();
    let res = client
        .post(format!("{}/api/v1/admin/accommodations", served.base))
        .bearer_auth(&token)
        .json(&json!({
            "name": "Cabaña Traza", "slug": "traza", "kind": "cabin", "capacity": 4,
            "pricing": {"base_nightly": {"minor": 5_000_000, "currency": "ARS"}}
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());

    let trace = format!("trace-{}", uuid::Uuid::new_v4().simple());
    let res = client
        .post(format!("{}/api/v1/reservations", served.base))
        .header("X-Trace-ID", &trace)
        .json(&json!({
            "accommodation": "traza", "check_in": days_from_now(20), "check_out": days_from_now(22),
            "guests": 2, "guest": {"name": "Ana Pérez", "email": "ana.perez@example.com", "phone": "+54 9 11 5555-1234"}
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    assert_eq!(res.headers()["x-trace-id"], trace.as_str());
    let hold: Value = res.json().await.unwrap();
    let code = hold["code"].as_str().unwrap().to_string();

    // Every job the request enqueued (expiry, reminder, message deliveries) carries its trace id.
    let jobs: Vec<(i64, String, Option<String>)> = eventually(Duration::from_secs(10), || async {
        let rows: Vec<(i64, String, Option<String>)> = sqlx::query_as(
            "SELECT id, kind, trace_id FROM jobs WHERE kind LIKE 'reservation.%' OR kind = 'notification.deliver' ORDER BY id",
        )
        .fetch_all(db.as_sqlite().unwrap())
        .await
        .unwrap();
        rows.iter().any(|(_, k, _)| k == "notification.deliver").then_some(rows)
    })
    .await;
    assert!(jobs.iter().any(|(_, k, _)| k == "reservation.expire_hold"));
    for (_, kind, t) in &jobs {
        assert_eq!(t.as_deref(), Some(trace.as_str()), "job {kind}");
    }

    // The delivery jobs run at once (no channel is configured, so they record that) and their
    // log lines carry the request's trace id through the engine's job span.
    let line = eventually(Duration::from_secs(20), || async {
        served
            .stderr
            .lock()
            .unwrap()
            .iter()
            .find(|l| l.contains("message not sent"))
            .cloned()
    })
    .await;
    let logged: Value = serde_json::from_str(&line).unwrap();
    assert!(line.contains(&trace), "{line}");
    assert!(logged["span"].is_object(), "{line}");

    // The request's own log lines carry it as well, and no line shows the guest's contacts.
    let lines = served.stderr.lock().unwrap().clone();
    assert!(
        lines
            .iter()
            .any(|l| l.contains("hold created") && l.contains(&trace)),
        "{lines:#?}"
    );
    for l in &lines {
        assert!(
            !l.contains("ana.perez@example.com") && !l.contains("5555-1234"),
            "a guest contact leaked into the logs: {l}"
        );
    }
    assert!(lines.iter().any(|l| l.contains(&code)));
    // They appear masked instead: enough to tell guests apart, not enough to reach them.
    let created = lines.iter().find(|l| l.contains("hold created")).unwrap();
    assert!(created.contains("a***@example.com"), "{created}");
    assert!(created.contains("***34"), "{created}");
    // Each message's log line names its recipient masked (the e-mail's job may still be running).
    eventually(Duration::from_secs(20), || async {
        served
            .stderr
            .lock()
            .unwrap()
            .iter()
            .any(|l| l.contains("message not sent") && l.contains("a***@example.com"))
            .then_some(())
    })
    .await;
    db.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn backup_copies_a_running_sqlite_database() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.create_accommodation("copia", 2_000_000).await;
    let res = app
        .pre_reserve("copia", &days_from_now(4), &days_from_now(6))
        .await;
    assert_eq!(res.status(), 201);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("backup.db");
    let run = |url: &str, file: &std::path::Path| {
        Command::new(env!("CARGO_BIN_EXE_posada"))
            .arg("backup")
            .arg(file)
            .env("DATABASE_URL", url)
            .env("POSADA_CONFIG", "/nonexistent/posada.toml")
            .output()
            .unwrap()
    };
    let out = run(&app.test_db.url, &file);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The copy is a whole database with the reservation in it.
    let copy = posada_db::Db::connect(
        &format!("sqlite://{}", file.display()),
        &posada_db::ConnectOptions::default(),
    )
    .await
    .unwrap();
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM reservations")
        .fetch_one(copy.as_sqlite().unwrap())
        .await
        .unwrap();
    assert_eq!(n, 1);
    copy.close().await;
    // Not over an existing file.
    let out = run(&app.test_db.url, &file);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("already exists"));
    // PostgreSQL: a clear pointer to pg_dump.
    let out = run(
        "postgres://postgres@127.0.0.1:5432/test",
        &dir.path().join("pg.db"),
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("pg_dump"));
}
