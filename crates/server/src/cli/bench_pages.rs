//! `posada bench pages`: how fast the owner's web app answers on a realistic database.
//!
//! Starts posada in this process (HTTP only: nothing runs the jobs while pages are measured) on
//! the chosen database, fills it through the application core — `--units` units, `--reservations`
//! holds spread over the coming year (every other one confirmed) — then puts `--jobs` finished
//! jobs in the jobs table with the job engine's own benchmark, their finish times spread over the
//! last `--history-days`. It logs in as the owner and GETs
//! every section of the web app (and a reservation's, a unit's detail) `--requests` times each,
//! `--clients` at a time, after a warm-up; it prints each page's p50/p95/p99 in milliseconds
//! (measured at the client on the same machine: an upper bound of the server's time).

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Days;
use serde_json::json;
use tokio::sync::Semaphore;

use super::bench::BenchBackend;
use crate::app::accommodations::AccommodationIn;
use crate::app::booking::HoldRequest;
use crate::config::Settings;
use crate::startup::{Application, Roles};

/// Options of `posada bench pages`.
#[derive(Debug, clap::Args)]
pub struct PagesBench {
    /// Database kind.
    #[arg(long, value_enum, default_value = "sqlite")]
    backend: BenchBackend,
    /// Database to use (default: a temporary SQLite file; required for PostgreSQL — use a
    /// scratch database, the bench writes into it).
    #[arg(long)]
    database_url: Option<String>,
    /// Units to create.
    #[arg(long, default_value_t = 20)]
    units: usize,
    /// Reservations to create (spread over the units, 2 nights each).
    #[arg(long, default_value_t = 2_000)]
    reservations: usize,
    /// Finished jobs to add to the jobs table.
    #[arg(long, default_value_t = 100_000)]
    jobs: u64,
    /// Days the finished jobs are spread over (as a real history is).
    #[arg(long, default_value_t = 7)]
    history_days: u32,
    /// Requests per page.
    #[arg(long, default_value_t = 200)]
    requests: usize,
    /// Concurrent clients.
    #[arg(long, default_value_t = 4)]
    clients: usize,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

const PASSWORD: &str = "bench-owner-password";

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * (sorted.len() as f64 - 1.0)).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn round(ms: f64) -> f64 {
    (ms * 100.0).round() / 100.0
}

/// Run the benchmark.
pub async fn run(opts: PagesBench) -> anyhow::Result<()> {
    if opts.units == 0 || opts.requests == 0 || opts.clients == 0 {
        anyhow::bail!("--units, --requests and --clients must be at least 1");
    }
    let tmp = tempfile::tempdir()?;
    let url = match (opts.backend, opts.database_url) {
        (_, Some(url)) => url,
        (BenchBackend::Sqlite, None) => {
            format!("sqlite://{}", tmp.path().join("bench.db").display())
        }
        (BenchBackend::Postgres, None) => anyhow::bail!(
            "--database-url postgres://… is required for --backend postgres (a scratch database)"
        ),
    };
    let settings = Settings {
        database_url: url,
        posada_listen: "127.0.0.1:0".into(),
        rate_limit_public_per_minute: 10_000_000,
        rate_limit_admin_per_minute: 10_000_000,
        ..Settings::default()
    };
    let app = Application::build(
        settings,
        Some("127.0.0.1:0".parse()?),
        Roles {
            http: true,
            workers: false,
        },
    )
    .await?;
    let addr = app
        .local_addr()
        .ok_or_else(|| anyhow::anyhow!("the bench server has no address"))?;
    let state = app.state().clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until_stopped(async move {
        let _ = stopped.await;
    }));

    let progress = super::progress::Progress::start("filling the database");
    let seeded = seed(&state, opts.units, opts.reservations).await;
    let jobs = posada_jobs::bench::run(
        state.db().clone(),
        posada_jobs::bench::BenchOptions {
            jobs: opts.jobs,
            concurrency: 16,
            phase: posada_jobs::bench::BenchPhase::All,
        },
    )
    .await;
    progress.finish();
    let (first_code, first_slug) = seeded?;
    jobs?;
    // A history of `--history-days`, not a minute's worth.
    posada_jobs::bench::spread_finished(state.db(), opts.history_days).await?;
    let phc = crate::app::owner::hash_password(PASSWORD).map_err(anyhow::Error::msg)?;
    posada_store::ops::set_owner_password_hash(state.db(), &phc, state.now()).await?;

    let base = format!("http://{addr}");
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(64)
        .build()?;
    let cookie = login(&client, &base).await?;
    let pages = [
        "/dashboard".to_string(),
        "/dashboard/calendario".into(),
        "/dashboard/reservas".into(),
        format!("/dashboard/reservas/{first_code}"),
        "/dashboard/alojamientos".into(),
        format!("/dashboard/alojamientos/{first_slug}"),
        "/dashboard/canales".into(),
        "/dashboard/conversaciones".into(),
        "/dashboard/automatizacion".into(),
        "/dashboard/cuenta".into(),
    ];
    let progress = super::progress::Progress::start("measuring the pages");
    let mut results = Vec::new();
    for page in &pages {
        let url = format!("{base}{page}");
        let (mut ms, status, bytes) =
            measure(&client, &url, &cookie, opts.requests, opts.clients).await?;
        ms.sort_by(f64::total_cmp);
        results.push(json!({
            "page": page,
            "status": status,
            "bytes": bytes,
            "p50_ms": round(percentile(&ms, 50.0)),
            "p95_ms": round(percentile(&ms, 95.0)),
            "p99_ms": round(percentile(&ms, 99.0)),
        }));
    }
    progress.finish();
    let report = json!({
        "backend": state.db().backend().as_str(),
        "units": opts.units,
        "reservations": opts.reservations,
        "jobs_in_table": posada_jobs_count(&state).await?,
        "requests_per_page": opts.requests,
        "clients": opts.clients,
        "pages": results,
    });
    let _ = stop.send(());
    let _ = tokio::time::timeout(Duration::from_secs(30), server).await;
    if opts.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!("{}", serde_json::to_string_pretty(&report)?);
    }
    Ok(())
}

async fn posada_jobs_count(state: &crate::state::AppState) -> anyhow::Result<i64> {
    let stats = state.jobs().admin().stats().await?;
    Ok(stats.iter().map(|row| row.count).sum())
}

/// Units `u00`…, and holds on each (2 nights, one free night between), every other one
/// confirmed. Returns a reservation's code and a unit's slug for the detail pages.
async fn seed(
    state: &crate::state::AppState,
    units: usize,
    reservations: usize,
) -> anyhow::Result<(String, String)> {
    for u in 0..units {
        let unit: AccommodationIn = serde_json::from_value(json!({
            "name": format!("Cabaña {u:02}"), "slug": format!("u{u:02}"), "kind": "cabin",
            "capacity": 4,
            "pricing": {"base_nightly": {"minor": 5_000_000, "currency": "ARS"}},
        }))?;
        crate::app::accommodations::create(state, &unit)
            .await
            .map_err(|e| anyhow::anyhow!("creating unit {u}: {e}"))?;
    }
    let today = state.today();
    let mut first = None;
    let gate = Arc::new(Semaphore::new(8));
    let mut tasks = Vec::new();
    for i in 0..reservations {
        let (unit, slot) = (i % units, (i / units) as u64);
        let check_in = today
            .checked_add_days(Days::new(1 + slot * 3))
            .ok_or_else(|| anyhow::anyhow!("dates out of range"))?;
        let check_out = check_in
            .checked_add_days(Days::new(2))
            .ok_or_else(|| anyhow::anyhow!("dates out of range"))?;
        let req: HoldRequest = serde_json::from_value(json!({
            "accommodation": format!("u{unit:02}"),
            "check_in": check_in, "check_out": check_out, "guests": 2,
            "guest": {"name": format!("Huésped {i}"), "email": format!("h{i}@example.com"),
                      "phone": format!("+54 9 11 {:04}-{:04}", i / 10_000, i % 10_000)},
        }))?;
        let (state, gate) = (state.clone(), gate.clone());
        tasks.push(tokio::spawn(async move {
            let _permit = gate.acquire().await?;
            let held = crate::app::booking::create_hold(&state, &req, "web", None)
                .await
                .map_err(|e| anyhow::anyhow!("hold {i}: {e}"))?;
            if i % 2 == 0 {
                crate::app::booking::confirm(
                    &state,
                    held.reservation.id,
                    posada_domain::Actor::Admin,
                    None,
                )
                .await
                .map_err(|e| anyhow::anyhow!("confirming hold {i}: {e}"))?;
            }
            anyhow::Ok(held.reservation.code.to_string())
        }));
    }
    for t in tasks {
        let code = t.await??;
        first.get_or_insert(code);
    }
    Ok((first.unwrap_or_default(), "u00".into()))
}

async fn login(client: &reqwest::Client, base: &str) -> anyhow::Result<String> {
    let res = client.get(format!("{base}/dashboard/login")).send().await?;
    let pre = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("posada_login_csrf="))
        .and_then(|c| c.split(';').next())
        .ok_or_else(|| anyhow::anyhow!("the login form set no CSRF cookie"))?
        .to_string();
    let csrf = pre.trim_start_matches("posada_login_csrf=").to_string();
    let res = client
        .post(format!("{base}/dashboard/login"))
        .header("cookie", &pre)
        .form(&[("password", PASSWORD), ("csrf_token", csrf.as_str())])
        .send()
        .await?;
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("posada_session="))
        .and_then(|c| c.split(';').next())
        .map(str::to_string)
        .ok_or_else(|| anyhow::anyhow!("the owner login failed ({})", res.status()))
}

/// `requests` GETs of `url` (after `clients × 5` not counted), `clients` at a time: the
/// latencies (ms), the status of the last answer and its size.
async fn measure(
    client: &reqwest::Client,
    url: &str,
    cookie: &str,
    requests: usize,
    clients: usize,
) -> anyhow::Result<(Vec<f64>, u16, usize)> {
    let once = |client: reqwest::Client, url: String, cookie: String| async move {
        let t = Instant::now();
        let res = client.get(&url).header("cookie", cookie).send().await?;
        let status = res.status().as_u16();
        let bytes = res.bytes().await?.len();
        anyhow::Ok((t.elapsed().as_secs_f64() * 1000.0, status, bytes))
    };
    for _ in 0..clients * 5 {
        once(client.clone(), url.to_string(), cookie.to_string()).await?;
    }
    let gate = Arc::new(Semaphore::new(clients));
    let mut tasks = Vec::with_capacity(requests);
    for _ in 0..requests {
        let permit = gate.clone().acquire_owned().await?;
        let fut = once(client.clone(), url.to_string(), cookie.to_string());
        tasks.push(tokio::spawn(async move {
            let r = fut.await;
            drop(permit);
            r
        }));
    }
    let mut ms = Vec::with_capacity(requests);
    let (mut status, mut bytes) = (0, 0);
    for t in tasks {
        let (m, s, b) = t.await??;
        ms.push(m);
        (status, bytes) = (s, b);
    }
    Ok((ms, status, bytes))
}
