//! `posada bench api`: load a running server over HTTP the way guests do.
//!
//! It creates its own accommodations through the admin API (so it needs a write token), then
//! measures the availability calendar under concurrent clients (p50/p95/p99), the health check
//! polled by one client (1,000 requests) and under the same load (2,000), and the rate of
//! pre-reservations on distinct dates (with, on Linux, the whole machine's busy CPU time per hold:
//! server, database and client together). A warm-up round of `10 × clients` calendar requests is
//! not counted. Point it at a server whose rate limits are raised for the run (the public API
//! allows 60 requests a minute per client by default).

use crate::app::Clock;
use std::sync::Arc;
use std::time::Instant;

use chrono::Datelike;
use serde_json::{Value, json};
use tokio::sync::Semaphore;

/// Options of `posada bench api`.
#[derive(Debug, clap::Args)]
pub struct BenchApi {
    /// Base URL of the running server.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// A write-scoped admin API token (`posada admin create-token`).
    #[arg(long, env = "POSADA_BENCH_TOKEN")]
    pub token: String,
    /// Concurrent clients.
    #[arg(long, default_value_t = 50)]
    pub clients: usize,
    /// Availability requests in total (20,000 take about a second and a half: fewer make the
    /// p99 a matter of one scheduling hiccup).
    #[arg(long, default_value_t = 20000)]
    pub requests: usize,
    /// Pre-reservations in total (each on distinct nights).
    #[arg(long, default_value_t = 2000)]
    pub holds: usize,
    /// Concurrent clients creating pre-reservations (default: `--clients`).
    #[arg(long)]
    pub hold_clients: Option<usize>,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// Busy and total CPU time of the whole machine so far, in milliseconds over all cores (Linux
/// `/proc/stat`, in clock ticks of 10 ms); `None` elsewhere.
fn machine_cpu() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().next()?.strip_prefix("cpu ")?;
    let ticks: Vec<u64> = line
        .split_whitespace()
        .map(str::parse)
        .collect::<Result<_, _>>()
        .ok()?;
    // user nice system idle iowait irq softirq steal …: busy is all but idle, iowait and steal.
    let get = |i: usize| ticks.get(i).copied().unwrap_or(0);
    let busy = get(0) + get(1) + get(2) + get(5) + get(6);
    let total = busy + get(3) + get(4);
    Some((busy * 10, total * 10))
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

/// `requests` GETs of `url`, `clients` at a time: sorted latencies (ms) of the successful ones,
/// how many failed, and the wall time.
async fn load(
    client: &reqwest::Client,
    url: &str,
    requests: usize,
    clients: usize,
) -> anyhow::Result<(Vec<f64>, usize, std::time::Duration)> {
    let url = Arc::new(url.to_string());
    let gate = Arc::new(Semaphore::new(clients));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(requests);
    for _ in 0..requests {
        let (client, url, gate) = (client.clone(), url.clone(), gate.clone());
        tasks.push(tokio::spawn(async move {
            let _permit = gate.acquire_owned().await.ok()?;
            let t = Instant::now();
            let res = client.get(url.as_str()).send().await.ok()?;
            let ok = res.status().is_success();
            let _ = res.bytes().await;
            ok.then(|| t.elapsed().as_secs_f64() * 1000.0)
        }));
    }
    let mut latencies = Vec::with_capacity(requests);
    let mut failures = 0;
    for t in tasks {
        match t.await? {
            Some(ms) => latencies.push(ms),
            None => failures += 1,
        }
    }
    let elapsed = started.elapsed();
    latencies.sort_by(f64::total_cmp);
    Ok((latencies, failures, elapsed))
}

/// Nights a bench accommodation can take (well inside the 18-month booking window).
const NIGHTS_PER_ACCOMMODATION: usize = 500;

/// Run the benchmark.
pub async fn run(opts: BenchApi) -> anyhow::Result<()> {
    let hold_clients = opts.hold_clients.unwrap_or(opts.clients);
    if opts.clients == 0 || opts.requests == 0 || hold_clients == 0 {
        anyhow::bail!("--clients, --hold-clients and --requests must be at least 1");
    }
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(opts.clients.max(hold_clients) * 2)
        .build()?;
    let base = opts.url.trim_end_matches('/').to_string();
    let run_id = &uuid::Uuid::new_v4().simple().to_string()[..8];

    // Accommodations: enough for every hold to get its own night.
    let accommodations = opts.holds.div_ceil(NIGHTS_PER_ACCOMMODATION).max(1);
    let mut slugs = Vec::new();
    for i in 0..accommodations {
        let slug = format!("bench-{run_id}-{i}");
        let res = client
            .post(format!("{base}/api/v1/admin/accommodations"))
            .bearer_auth(&opts.token)
            .json(
                &json!({"name": format!("Bench {i}"), "slug": slug, "kind": "cabin", "capacity": 4,
                          "pricing": {"base_nightly": {"minor": 5_000_000, "currency": "ARS"}}}),
            )
            .send()
            .await?;
        if !res.status().is_success() {
            anyhow::bail!(
                "creating a bench accommodation failed: {} {}",
                res.status(),
                res.text().await?
            );
        }
        slugs.push(slug);
    }

    // Availability calendar, `clients` at a time.
    let today = crate::app::SystemClock.now().date_naive();
    let month = format!("{:04}-{:02}", today.year(), today.month());
    let url = Arc::new(format!(
        "{base}/api/v1/accommodations/{}/availability?month={month}",
        slugs[0]
    ));
    // A warm-up round (connections, caches) is not counted.
    load(&client, &url, opts.clients * 10, opts.clients).await?;
    let (latencies, failures, calendar_elapsed) =
        load(&client, &url, opts.requests, opts.clients).await?;
    // The health check: one request at a time, as a load balancer or monitor polls it, and under
    // the same concurrency as the calendar.
    let health_url = format!("{base}/api/v1/healthz");
    let health_requests = 2000;
    let (polled, polled_failures, polled_elapsed) =
        load(&client, &health_url, health_requests / 2, 1).await?;
    let (health, health_failures, health_elapsed) =
        load(&client, &health_url, health_requests, opts.clients).await?;
    let gate = Arc::new(Semaphore::new(hold_clients));

    // Pre-reservations on distinct nights, `hold_clients` at a time.
    let cpu_before = machine_cpu();
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(opts.holds);
    for i in 0..opts.holds {
        let (client, gate, base) = (client.clone(), gate.clone(), base.clone());
        let slug = slugs[i / NIGHTS_PER_ACCOMMODATION].clone();
        let check_in = today + chrono::Duration::days(1 + (i % NIGHTS_PER_ACCOMMODATION) as i64);
        tasks.push(tokio::spawn(async move {
            let _permit = gate.acquire_owned().await.ok()?;
            let body = json!({"accommodation": slug, "check_in": check_in, "check_out": check_in + chrono::Duration::days(1),
                              "guests": 2, "guest": {"name": "Bench", "email": format!("bench{i}@example.com")}});
            let res = client.post(format!("{base}/api/v1/reservations")).json(&body).send().await.ok()?;
            Some(res.status().as_u16())
        }));
    }
    let mut created = 0usize;
    let mut hold_failures = 0usize;
    for t in tasks {
        match t.await? {
            Some(201) => created += 1,
            _ => hold_failures += 1,
        }
    }
    let holds_elapsed = started.elapsed();
    // The whole machine's busy CPU time per hold (server, database and this client together):
    // steadier than holds/s on a machine whose speed or other load varies.
    let (cpu_ms_per_hold, utilization) = match (cpu_before, machine_cpu()) {
        (Some(a), Some(b)) if created > 0 && b.1 > a.1 => (
            Some((b.0 - a.0) as f64 / created as f64),
            Some((b.0 - a.0) as f64 / (b.1 - a.1) as f64),
        ),
        _ => (None, None),
    };

    let report: Value = json!({
        "clients": opts.clients,
        "availability": {
            "requests": opts.requests,
            "failures": failures,
            "per_s": latencies.len() as f64 / calendar_elapsed.as_secs_f64().max(1e-9),
            "latency_ms": {"p50": percentile(&latencies, 0.50), "p95": percentile(&latencies, 0.95), "p99": percentile(&latencies, 0.99)},
        },
        "health": {
            "requests": health_requests,
            "failures": health_failures,
            "per_s": health.len() as f64 / health_elapsed.as_secs_f64().max(1e-9),
            "latency_ms": {"p50": percentile(&health, 0.50), "p95": percentile(&health, 0.95), "p99": percentile(&health, 0.99)},
        },
        "health_one_client": {
            "requests": health_requests / 2,
            "failures": polled_failures,
            "per_s": polled.len() as f64 / polled_elapsed.as_secs_f64().max(1e-9),
            "latency_ms": {"p50": percentile(&polled, 0.50), "p95": percentile(&polled, 0.95), "p99": percentile(&polled, 0.99)},
        },
        "holds": {
            "clients": hold_clients,
            "requested": opts.holds,
            "created": created,
            "failures": hold_failures,
            "per_s": created as f64 / holds_elapsed.as_secs_f64().max(1e-9),
            "machine_cpu_ms_per_hold": cpu_ms_per_hold,
            "machine_cpu_utilization": utilization,
        },
    });
    if opts.json {
        println!("{report}");
    } else {
        println!("{}", serde_json::to_string_pretty(&report)?);
    }
    Ok(())
}
