//! A day on several nodes: two `posada serve` and two `posada worker` processes on one fresh
//! PostgreSQL database, the fake providers of `posada-testkit`, and a compressed day of guests
//! (quoting, holding — many racing for the same weekends —, paying with Mercado Pago notifications
//! that arrive twice, late and out of order, cancelling), channel feeds that change, guests writing
//! on WhatsApp and periodic tasks firing every few seconds. During it a worker and an API node are
//! killed with SIGKILL (and started again), the database refuses connections for a while and the
//! WhatsApp API hangs. Afterwards the invariants are checked on the database and on what the fakes
//! received ([`checks`]), and a [`Report`] lists the figures and every violation.
//!
//! The binary is `posada-day` (`cargo run -p posada-dayrun --release -- --help`); CI runs a short
//! day from the server's integration tests (`tests/api/day.rs`).

mod checks;
pub mod nodes;
pub mod proxy;
pub mod traffic;
mod workload;

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use posada_testkit::{FakeChannel, FakeMercadoPago, FakeWhatsApp, SmtpSink};
use sqlx::Connection;

use crate::nodes::{Node, free_port, run_once};
use crate::proxy::Proxy;
use crate::traffic::{Traffic, Window};

/// Secrets the fakes and posada share for the run.
pub const MP_SECRET: &str = "day-mp-webhook-secret";
/// WhatsApp app secret (signs inbound deliveries).
pub const WA_SECRET: &str = "day-wa-app-secret";
/// The WhatsApp phone number id posada sends from.
pub const WA_PHONE_ID: &str = "1234567890";
/// The owner's e-mail.
pub const OWNER_EMAIL: &str = "duenia@posada.example";

/// What to run.
#[derive(Debug, Clone)]
pub struct Config {
    /// The `posada` binary.
    pub posada_bin: PathBuf,
    /// Any URL of the PostgreSQL server (its host, port, user and password are used; a fresh
    /// database is made for the run and dropped afterwards unless `keep`).
    pub postgres_url: String,
    /// How long guests keep coming.
    pub duration: Duration,
    /// Concurrent guests.
    pub guests: usize,
    /// How long the database refuses connections.
    pub outage: Duration,
    /// How long the WhatsApp API hangs.
    pub hang: Duration,
    /// `DB_MAX_CONNECTIONS` of each of the four processes (PostgreSQL allows 100 connections by
    /// default, shared with whatever else runs on it).
    pub db_max_connections: u32,
    /// Keep the database and the logs.
    pub keep: bool,
}

impl Config {
    /// The defaults of `posada-day`: a 3-minute day, 12 guests, a 10-second database outage and a
    /// one-minute WhatsApp hang.
    pub fn new(posada_bin: PathBuf, postgres_url: &str) -> Self {
        Self {
            posada_bin,
            postgres_url: postgres_url.to_owned(),
            duration: Duration::from_secs(180),
            guests: 12,
            outage: Duration::from_secs(10),
            hang: Duration::from_secs(60),
            db_max_connections: 8,
            keep: false,
        }
    }
}

/// When each disruption happened, in seconds since the day started.
#[derive(Debug, Default, Clone)]
pub struct Disruptions {
    /// `kill -9` of `worker-1` until it runs again.
    pub worker_kill: Option<Window>,
    /// `kill -9` of `api-2` until it answers again.
    pub api_kill: Option<Window>,
    /// The database refusing connections.
    pub db_outage: Option<Window>,
    /// The WhatsApp API not answering.
    pub provider_hang: Option<Window>,
}

/// The figures of a run and what went wrong.
#[derive(Debug, Default)]
pub struct Report {
    /// Lines of figures, in order (name, value).
    pub figures: Vec<(String, String)>,
    /// Every broken promise, one sentence each. Empty means a clean day.
    pub violations: Vec<String>,
    /// Where the logs of the posada processes are.
    pub log_dir: PathBuf,
}

impl Report {
    pub(crate) fn figure(&mut self, name: &str, value: impl fmt::Display) {
        self.figures.push((name.to_owned(), value.to_string()));
    }

    pub(crate) fn violation(&mut self, what: impl Into<String>) {
        self.violations.push(what.into());
    }

    /// The value of figure `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.figures
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The value of figure `name` as a number (0 when absent).
    pub fn number(&self, name: &str) -> u64 {
        self.get(name)
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let width = self.figures.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
        for (name, value) in &self.figures {
            writeln!(f, "{name:width$}  {value}")?;
        }
        writeln!(f, "{:width$}  {}", "violations", self.violations.len())?;
        for v in &self.violations {
            writeln!(f, "  VIOLATION: {v}")?;
        }
        if self.log_dir.as_os_str().is_empty() {
            writeln!(f, "logs: removed (no violation; --keep keeps them)")
        } else {
            writeln!(f, "logs: {}", self.log_dir.display())
        }
    }
}

/// The PostgreSQL server of `url`: (address, URL prefix `postgres://user[:password]@host:port`).
async fn postgres_server(url: &str) -> anyhow::Result<(SocketAddr, String)> {
    let parsed = reqwest::Url::parse(url)?;
    let host = parsed.host_str().unwrap_or("127.0.0.1").to_owned();
    let port = parsed.port().unwrap_or(5432);
    let addr = tokio::net::lookup_host((host.as_str(), port))
        .await
        .ok()
        .and_then(|mut a| a.next());
    let addr = match addr {
        Some(a) => a,
        None => format!("{host}:{port}").parse()?,
    };
    let user = if parsed.username().is_empty() {
        "postgres"
    } else {
        parsed.username()
    };
    let auth = match parsed.password() {
        Some(p) => format!("{user}:{p}"),
        None => user.to_owned(),
    };
    Ok((addr, auth))
}

/// Everything the run started; dropped at the end.
pub(crate) struct World {
    pub mp: FakeMercadoPago,
    pub wa: FakeWhatsApp,
    pub smtp: SmtpSink,
    pub channel: FakeChannel,
    pub proxy: Proxy,
    pub traffic: Arc<Traffic>,
    pub token: String,
    pub db_url: String,
}

/// Run a day. `Err` means the harness itself could not run (no database, a node that never
/// started); broken promises are in [`Report::violations`].
pub async fn run(cfg: &Config) -> anyhow::Result<Report> {
    posada_integrations::install_crypto_provider();
    let (pg_addr, auth) = postgres_server(&cfg.postgres_url).await?;
    let stamp = chrono::Utc::now().format("%Y%m%d%H%M%S");
    let db_name = format!("posada_day_{stamp}_{}", std::process::id());
    let dir = std::env::temp_dir().join(&db_name);
    std::fs::create_dir_all(&dir)?;
    let admin_url = format!("postgres://{auth}@{pg_addr}/postgres");
    let mut admin = sqlx::PgConnection::connect(&admin_url).await?;
    sqlx::query(&format!("CREATE DATABASE {db_name}"))
        .execute(&mut admin)
        .await?;
    let mut result = run_on(cfg, pg_addr, &auth, &db_name, &dir).await;
    if !cfg.keep {
        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {db_name} WITH (FORCE)"))
            .execute(&mut admin)
            .await;
        if let Ok(report) = result.as_mut()
            && report.violations.is_empty()
        {
            let _ = std::fs::remove_dir_all(&dir);
            report.log_dir = PathBuf::new();
        }
    }
    result
}

async fn run_on(
    cfg: &Config,
    pg_addr: SocketAddr,
    auth: &str,
    db_name: &str,
    dir: &std::path::Path,
) -> anyhow::Result<Report> {
    let mut report = Report {
        log_dir: dir.to_owned(),
        ..Report::default()
    };
    let direct_url = format!("postgres://{auth}@{pg_addr}/{db_name}");
    let mp = FakeMercadoPago::start().await;
    let wa = FakeWhatsApp::start().await;
    let smtp = SmtpSink::start().await;
    let channel = FakeChannel::start().await;
    let proxy = Proxy::start(pg_addr).await?;
    let proxied_url = format!("postgres://{auth}@{}/{db_name}", proxy.addr());
    let ports = [free_port()?, free_port()?];
    let mut env: Vec<(String, String)> = [
        ("LOG_FORMAT", "json"),
        ("RUST_LOG", "info,sqlx=warn,tower_http=warn"),
        ("TIMEZONE", "America/Argentina/Buenos_Aires"),
        ("JOB_CONCURRENCY", "8"),
        ("SHUTDOWN_TIMEOUT_SECONDS", "5"),
        ("SHUTDOWN_DRAIN_DELAY_SECONDS", "0"),
        ("PRERESERVATION_TTL_MINUTES", "1"),
        ("JOB_EXPIRATION_INTERVAL_SECONDS", "2"),
        ("JOB_ICAL_INTERVAL_SECONDS", "30"),
        ("ALERT_CHECK_INTERVAL_SECONDS", "10"),
        ("ICAL_FETCH_TIMEOUT_SECONDS", "5"),
        ("RATE_LIMIT_PUBLIC_PER_MINUTE", "1000000"),
        ("RATE_LIMIT_WEBHOOKS_PER_MINUTE", "1000000"),
        ("RATE_LIMIT_ADMIN_PER_MINUTE", "1000000"),
        ("HTTP_MAX_CONNECTIONS_PER_IP", "100000"),
        ("REQUEST_TIMEOUT_SECONDS", "15"),
        ("MERCADOPAGO_ACCESS_TOKEN", "TEST-day-mp-token"),
        ("MERCADOPAGO_WEBHOOK_SECRET", MP_SECRET),
        ("WHATSAPP_ACCESS_TOKEN", "TEST-day-wa-token"),
        ("WHATSAPP_PHONE_NUMBER_ID", WA_PHONE_ID),
        ("WHATSAPP_APP_SECRET", WA_SECRET),
        ("WHATSAPP_VERIFY_TOKEN", "day-verify"),
        ("SMTP_SECURITY", "plain"),
        ("SMTP_FROM", "Cabañas del Día <reservas@posada.example>"),
        ("OWNER_EMAIL", OWNER_EMAIL),
        ("INTEGRATION_TIMEOUT_SECONDS", "3"),
        ("INTEGRATION_RETRY_BASE_MS", "200"),
        ("BREAKER_COOL_DOWN_MS", "3000"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    env.extend([
        (
            "DB_MAX_CONNECTIONS".to_owned(),
            cfg.db_max_connections.to_string(),
        ),
        ("MERCADOPAGO_BASE_URL".to_owned(), mp.base_url()),
        ("WHATSAPP_GRAPH_URL".to_owned(), wa.base_url()),
        ("SMTP_HOST".to_owned(), smtp.host()),
        ("SMTP_PORT".to_owned(), smtp.port().to_string()),
        (
            "POSADA_PUBLIC_URL".to_owned(),
            format!("http://127.0.0.1:{}", ports[0]),
        ),
    ]);
    let mut once_env = env.clone();
    once_env.push(("DATABASE_URL".to_owned(), direct_url.clone()));
    run_once(&cfg.posada_bin, dir, &once_env, &["migrate"]).await?;
    let token = run_once(
        &cfg.posada_bin,
        dir,
        &once_env,
        &["admin", "create-token", "--name", "day", "--scope", "write"],
    )
    .await?;
    env.push(("DATABASE_URL".to_owned(), proxied_url));
    let mut nodes = vec![
        Node::new("api-1", Some(ports[0]), &cfg.posada_bin, dir, env.clone()),
        Node::new("api-2", Some(ports[1]), &cfg.posada_bin, dir, env.clone()),
        Node::new("worker-1", None, &cfg.posada_bin, dir, env.clone()),
        Node::new("worker-2", None, &cfg.posada_bin, dir, env.clone()),
    ];
    for node in &mut nodes {
        node.start()?;
    }
    let probe = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()?;
    for node in &nodes {
        node.wait_ready(&probe, Duration::from_secs(60)).await?;
    }
    let t0 = Instant::now();
    let world = Arc::new(World {
        mp,
        wa,
        smtp,
        channel,
        proxy,
        traffic: Arc::new(Traffic::new(ports, t0)?),
        token,
        db_url: direct_url,
    });
    let setup = workload::setup(&world).await?;
    let deadline = t0 + cfg.duration;
    let load = tokio::spawn(workload::drive(
        world.clone(),
        setup.clone(),
        cfg.guests,
        deadline,
    ));
    let disruptions = disrupt(cfg, &world, &mut nodes, &probe, t0).await?;
    let counts = load.await??;
    let drive_secs = world.traffic.now();
    for node in &mut nodes {
        if let Some(exit) = node.exited() {
            report.violation(exit);
        }
    }
    report.figure(
        "day",
        format!(
            "{} s of guests, {} at a time; the last late notification at {drive_secs:.1} s",
            cfg.duration.as_secs(),
            cfg.guests
        ),
    );
    let drain_started = Instant::now();
    let drained = checks::drain(&world).await;
    let drain_secs = drain_started.elapsed().as_secs_f64();
    if let Err(e) = drained {
        report.violation(format!("the system did not settle: {e}"));
    }
    checks::check(&world, &setup, &counts, &disruptions, &mut report).await?;
    report.figure(
        "settling after the day",
        format!(
            "{drain_secs:.1} s (until no hold is held, no job is overdue and no message is queued)"
        ),
    );
    for node in &mut nodes {
        node.kill9().await;
    }
    Ok(report)
}

/// The disruptions, at fixed fractions of the day: `kill -9` of `worker-1` at 12 %, of `api-2`
/// at 25 %, the database refusing connections at 40 %, the WhatsApp API hanging from 60 %.
async fn disrupt(
    cfg: &Config,
    world: &World,
    nodes: &mut [Node],
    probe: &reqwest::Client,
    t0: Instant,
) -> anyhow::Result<Disruptions> {
    let at = |fraction: f64| t0 + cfg.duration.mul_f64(fraction);
    let now = || t0.elapsed().as_secs_f64();
    let mut d = Disruptions::default();

    tokio::time::sleep_until(at(0.12).into()).await;
    let start = now();
    nodes[2].kill9().await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    nodes[2].start()?;
    d.worker_kill = Some(Window {
        start,
        end: Some(now()),
    });

    tokio::time::sleep_until(at(0.25).into()).await;
    let start = now();
    nodes[1].kill9().await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    nodes[1].start()?;
    nodes[1].wait_ready(probe, Duration::from_secs(60)).await?;
    d.api_kill = Some(Window {
        start,
        end: Some(now()),
    });

    tokio::time::sleep_until(at(0.40).into()).await;
    let start = now();
    world.proxy.refuse();
    tokio::time::sleep(cfg.outage).await;
    world.proxy.accept();
    d.db_outage = Some(Window {
        start,
        end: Some(now()),
    });

    tokio::time::sleep_until(at(0.60).into()).await;
    let start = now();
    world.wa.hang();
    tokio::time::sleep(cfg.hang).await;
    world.wa.resume();
    d.provider_hang = Some(Window {
        start,
        end: Some(now()),
    });
    Ok(d)
}
