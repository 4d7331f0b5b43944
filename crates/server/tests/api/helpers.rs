//! `TestApp`: the real application (HTTP, workers, scheduler) on port 0 with a fresh database,
//! and helpers that read like the user's actions.
#![allow(
    dead_code,
    reason = "shared by every test module; not each uses every helper"
)]

use std::net::SocketAddr;
use std::time::Duration;

use std::sync::Arc;

use posada_db::testing::TestDb;
use posada_jobs::{JobState, JobSummary, ListFilter, Page};
use posada_server::app::ManualClock;
use posada_server::config::Settings;
use posada_server::startup::{Application, Roles};
use posada_server::state::AppState;
use serde_json::{Value, json};
use tokio::sync::oneshot;

/// Which backend a test runs on.
#[derive(Debug, Clone, Copy)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A running posada.
pub struct TestApp {
    pub addr: SocketAddr,
    pub base: String,
    pub client: reqwest::Client,
    pub state: AppState,
    /// The application's clock: tests move it instead of rewriting timestamps.
    pub clock: Arc<ManualClock>,
    pub admin_token: String,
    pub read_token: String,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    pub test_db: TestDb,
}

/// How long [`TestApp::run_pending_jobs`] waits for the jobs due now to finish.
pub const PENDING_JOBS_TIMEOUT: Duration = Duration::from_secs(60);

/// Settings for tests: quick intervals, no scheduler noise unless asked.
pub fn test_settings(url: &str) -> Settings {
    Settings {
        database_url: url.to_string(),
        posada_listen: "127.0.0.1:0".into(),
        log_format: "json".into(),
        shutdown_timeout_seconds: 5,
        ..Settings::default()
    }
}

impl TestApp {
    /// Start with default test settings.
    pub async fn spawn(backend: Backend) -> TestApp {
        Self::spawn_with(backend, |_| {}).await
    }

    /// Start, letting the test adjust settings first.
    pub async fn spawn_with(backend: Backend, adjust: impl FnOnce(&mut Settings)) -> TestApp {
        posada_integrations::install_crypto_provider();
        let test_db = match backend {
            Backend::Sqlite => TestDb::sqlite().await,
            Backend::Postgres => TestDb::postgres().await,
        };
        let mut settings = test_settings(&test_db.url);
        adjust(&mut settings);
        let clock = Arc::new(ManualClock::new());
        let app = Application::build_with_clock(
            settings,
            Some("127.0.0.1:0".parse().unwrap()),
            Roles {
                http: true,
                workers: true,
            },
            clock.clone(),
        )
        .await
        .expect("app builds");
        let addr = app.local_addr().unwrap();
        let state = app.state().clone();
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(app.run_until_stopped(async move {
            let _ = rx.await;
        }));
        let admin_token = format!("adm_{}", uuid::Uuid::new_v4().simple());
        let read_token = format!("ro_{}", uuid::Uuid::new_v4().simple());
        posada_store::tokens::create(
            state.db(),
            "tests",
            "write",
            &admin_token,
            chrono::Utc::now(),
        )
        .await
        .unwrap();
        posada_store::tokens::create(
            state.db(),
            "tests-read",
            "read",
            &read_token,
            chrono::Utc::now(),
        )
        .await
        .unwrap();
        TestApp {
            addr,
            base: format!("http://{addr}"),
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
            state,
            clock,
            admin_token,
            read_token,
            stop: Some(tx),
            task: Some(task),
            test_db,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    pub async fn post(&self, path: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn admin_get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .bearer_auth(&self.admin_token)
            .send()
            .await
            .unwrap()
    }

    pub async fn admin_post(&self, path: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .bearer_auth(&self.admin_token)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn admin_put(&self, path: &str, body: &Value) -> reqwest::Response {
        self.client
            .put(self.url(path))
            .bearer_auth(&self.admin_token)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn admin_delete(&self, path: &str) -> reqwest::Response {
        self.client
            .delete(self.url(path))
            .bearer_auth(&self.admin_token)
            .send()
            .await
            .unwrap()
    }

    /// Create an accommodation through the admin API; returns its JSON.
    pub async fn create_accommodation(&self, slug: &str, nightly_minor: i64) -> Value {
        let res = self
            .admin_post(
                "/api/v1/admin/accommodations",
                &json!({
                    "name": format!("Cabaña {slug}"),
                    "slug": slug,
                    "kind": "cabin",
                    "description": "A orillas del lago",
                    "capacity": 4,
                    "amenities": ["wifi", "parrilla"],
                    "photos": [{"url": format!("https://img.example/{slug}.jpg"), "caption": "Frente", "position": 1, "primary": true}],
                    "directions": "Ruta 40 km 12, tranquera verde",
                    "pricing": {"base_nightly": {"minor": nightly_minor, "currency": "ARS"}}
                }),
            )
            .await;
        let status = res.status();
        let body: Value = res.json().await.unwrap();
        assert_eq!(status, 201, "{body}");
        body
    }

    /// Ask for a hold; returns the raw response.
    pub async fn pre_reserve(
        &self,
        slug: &str,
        check_in: &str,
        check_out: &str,
    ) -> reqwest::Response {
        self.post(
            "/api/v1/reservations",
            &json!({
                "accommodation": slug,
                "check_in": check_in,
                "check_out": check_out,
                "guests": 2,
                "guest": {"name": "Ana Pérez", "email": "ana@example.com", "phone": "+54 9 11 5555-1234"}
            }),
        )
        .await
    }

    /// Return once every job due now has finished — completed, discarded, cancelled, or failed
    /// with its next attempt later — including the jobs those jobs enqueued. The app's own
    /// workers run them; this only watches the engine. Fails, naming what is left, if that takes
    /// longer than [`PENDING_JOBS_TIMEOUT`].
    pub async fn run_pending_jobs(&self) {
        let deadline = tokio::time::Instant::now() + PENDING_JOBS_TIMEOUT;
        loop {
            let pending = self.pending_jobs().await;
            if pending.is_empty() {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "jobs still pending after {PENDING_JOBS_TIMEOUT:?}:\n{}",
                pending
                    .iter()
                    .map(|j| format!(
                        "  #{} {} {} attempt {}/{} run_at {} last_error {:?}",
                        j.id, j.kind, j.state, j.attempt, j.max_attempts, j.run_at, j.last_error
                    ))
                    .collect::<Vec<_>>()
                    .join("\n")
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Jobs due now that have not finished: available, running, or scheduled/retryable with a
    /// `run_at` already past. Empty only when the engine's counts did not move while the states
    /// were read one by one (so a job cannot slip from one unread state to another unseen).
    pub async fn pending_jobs(&self) -> Vec<JobSummary> {
        let admin = self.state.jobs().admin();
        loop {
            let before = admin.stats().await.unwrap();
            let now = chrono::Utc::now();
            let mut pending = Vec::new();
            for state in [
                JobState::Available,
                JobState::Running,
                JobState::Scheduled,
                JobState::Retryable,
            ] {
                let jobs = admin
                    .list(
                        &ListFilter {
                            state: Some(state),
                            ..ListFilter::default()
                        },
                        Page {
                            limit: 1000,
                            before_id: None,
                        },
                    )
                    .await
                    .unwrap();
                let due = matches!(state, JobState::Available | JobState::Running);
                pending.extend(jobs.into_iter().filter(|j| due || j.run_at <= now));
            }
            // Nothing pending counts only if nothing moved while the states were read.
            if !pending.is_empty() || admin.stats().await.unwrap() == before {
                return pending;
            }
        }
    }

    /// Wait until job `id` has finished (completed, discarded or cancelled); fails, naming its
    /// state and last error, after [`PENDING_JOBS_TIMEOUT`].
    pub async fn job_finished(&self, id: i64) {
        let deadline = tokio::time::Instant::now() + PENDING_JOBS_TIMEOUT;
        loop {
            let job = self.state.jobs().admin().get(id).await.unwrap();
            let Some(job) = job else { return };
            if matches!(
                job.job.state,
                JobState::Completed | JobState::Discarded | JobState::Cancelled
            ) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "job #{id} not finished after {PENDING_JOBS_TIMEOUT:?}: {:?}",
                job.job
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Every job of `kind` (newest first), whatever its state.
    pub async fn jobs_of_kind(&self, kind: &str) -> Vec<JobSummary> {
        self.state
            .jobs()
            .admin()
            .list(
                &ListFilter {
                    kind: Some(kind.to_string()),
                    ..ListFilter::default()
                },
                Page {
                    limit: 1000,
                    before_id: None,
                },
            )
            .await
            .unwrap()
    }

    /// Every job of type `J` (newest first), whatever its state.
    pub async fn jobs_of<J: posada_jobs::Job>(&self) -> Vec<JobSummary> {
        self.jobs_of_kind(J::KIND).await
    }

    /// Stop the server (graceful) and wait for it.
    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(15), task).await;
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

/// A date `days` from today in the owner's zone, as `YYYY-MM-DD`.
pub fn days_from_now(days: i64) -> String {
    let today = chrono::Utc::now()
        .with_timezone(&chrono_tz::America::Argentina::Buenos_Aires)
        .date_naive();
    (today + chrono::Duration::days(days)).to_string()
}

/// Poll `check` until it returns `Some`, up to `timeout`.
pub async fn eventually<T, F, Fut>(timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "condition not met within {timeout:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Poll `/api/v1/healthz` until `check` accepts its body (its slower checks are cached for about
/// a second); returns that body.
pub async fn health_until(app: &TestApp, check: impl Fn(&Value) -> bool) -> Value {
    eventually(Duration::from_secs(10), || async {
        let body: Value = app.get("/api/v1/healthz").await.json().await.ok()?;
        check(&body).then_some(body)
    })
    .await
}

/// The dashboard login form as a browser gets it: its CSRF cookie (`name=value`) and the token
/// of its hidden field.
pub async fn login_form(app: &TestApp, client: &reqwest::Client) -> (String, String) {
    let res = client
        .get(app.url("/dashboard/login"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let cookie = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("posada_login_csrf="))
        .expect("the login form sets its CSRF cookie");
    let cookie = cookie.split(';').next().unwrap().to_string();
    let html = res.text().await.unwrap();
    let marker = "name=\"csrf_token\" value=\"";
    let start = html.find(marker).expect("the login form has a CSRF field") + marker.len();
    (cookie, html[start..start + 64].to_string())
}

/// Log in to the dashboard the way a browser does: read the form, post it back with its CSRF
/// cookie.
pub async fn dashboard_login(
    app: &TestApp,
    client: &reqwest::Client,
    password: &str,
) -> reqwest::Response {
    let (cookie, csrf) = login_form(app, client).await;
    client
        .post(app.url("/dashboard/login"))
        .header("Cookie", cookie)
        .form(&[("password", password), ("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap()
}

/// Declare an async test body `async fn name(backend: Backend)` on both backends.
#[macro_export]
macro_rules! on_both {
    ($($name:ident),+ $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                super::$name($crate::helpers::Backend::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                super::$name($crate::helpers::Backend::Postgres).await
            }
        }
    )+};
}

/// Another node of the same installation: the same settings and database as `app`, its own HTTP
/// listener, workers and clock (PostgreSQL: several nodes share the database).
pub struct Node {
    pub base: String,
    pub state: AppState,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl TestApp {
    /// Start another node on this app's database.
    pub async fn spawn_node(&self) -> Node {
        let node = Application::build_with_clock(
            self.state.settings().clone(),
            Some("127.0.0.1:0".parse().unwrap()),
            Roles {
                http: true,
                workers: true,
            },
            self.clock.clone(),
        )
        .await
        .expect("second node builds");
        let addr = node.local_addr().unwrap();
        let state = node.state().clone();
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(node.run_until_stopped(async move {
            let _ = rx.await;
        }));
        Node {
            base: format!("http://{addr}"),
            state,
            stop: Some(tx),
            task: Some(task),
        }
    }
}

impl Node {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(15), task).await;
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

/// The session cookie (`posada_session=…`) of a dashboard login with `password`.
pub async fn dashboard_cookie(app: &TestApp, client: &reqwest::Client, password: &str) -> String {
    let res = dashboard_login(app, client, password).await;
    assert_eq!(res.status(), 303, "logged in");
    res.headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("posada_session="))
        .expect("a session cookie")
        .split(';')
        .next()
        .unwrap()
        .to_string()
}
