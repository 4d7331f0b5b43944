//! `posada bench …`: the project's own benchmarks (figures go to docs/BENCHMARKS.md).

use clap::{Subcommand, ValueEnum};
use posada_db::{ConnectOptions, Db};
use posada_jobs::bench::{BenchOptions, BenchPhase};

use crate::config::Settings;

/// Which database to measure.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum BenchBackend {
    /// A fresh SQLite file (or `--database-url`).
    Sqlite,
    /// PostgreSQL at `--database-url` or DATABASE_URL.
    Postgres,
}

/// Which part of the job benchmark.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Phase {
    /// Everything.
    All,
    /// Insert only (leave the jobs for `--phase work` processes and `--phase drain`).
    Enqueue,
    /// Drain what is there (with any `--phase work` processes), then latency.
    Drain,
    /// Run the waiting bench jobs on a bench-only engine until none is left (needs
    /// `--database-url`); for extra worker processes next to `--phase drain`.
    Work,
}

/// Benchmarks.
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Channel sync: parse throughput of a 10,000-event feed, and 200 feeds synced from a
    /// local server with bounded concurrency.
    Ical(super::bench_ical::IcalBench),
    /// Job engine: batch and single insert rate, drain rate, enqueue-to-start latency.
    Jobs {
        /// Database kind.
        #[arg(long, value_enum, default_value = "sqlite")]
        backend: BenchBackend,
        /// Jobs to insert and drain.
        #[arg(long, default_value_t = 20_000)]
        jobs: u64,
        /// Worker concurrency.
        #[arg(long, default_value_t = 16)]
        concurrency: usize,
        /// Only one phase.
        #[arg(long, value_enum, default_value = "all")]
        phase: Phase,
        /// Database to use (default: a temporary SQLite file; for PostgreSQL, DATABASE_URL).
        #[arg(long)]
        database_url: Option<String>,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// HTTP API against a running server: availability latency under load, holds per second.
    Api(super::bench_api::BenchApi),
    /// WhatsApp: webhook acknowledgement under a steady delivery rate, and the time from a
    /// guest's message to the reply handed to WhatsApp (in-process server, local Graph stand-in).
    Whatsapp(super::bench_whatsapp::WhatsappBench),
    /// The owner's web app: every page's latency on a database with thousands of reservations
    /// and a hundred thousand jobs (in-process server).
    Pages(super::bench_pages::PagesBench),
}

/// Run a bench subcommand.
pub async fn run(settings: &Settings, cmd: BenchCommand) -> anyhow::Result<()> {
    match cmd {
        BenchCommand::Ical(args) => super::bench_ical::run(args).await,
        BenchCommand::Api(opts) => super::bench_api::run(opts).await,
        BenchCommand::Whatsapp(opts) => super::bench_whatsapp::run(opts).await,
        BenchCommand::Pages(opts) => super::bench_pages::run(opts).await,
        BenchCommand::Jobs {
            backend,
            jobs,
            concurrency,
            phase,
            database_url,
            json,
        } => {
            if jobs == 0 || concurrency == 0 {
                anyhow::bail!("--jobs and --concurrency must be at least 1");
            }
            if matches!(phase, Phase::Work)
                && database_url.is_none()
                && matches!(backend, BenchBackend::Sqlite)
            {
                anyhow::bail!(
                    "--phase work drains another process's jobs: give it that database's --database-url"
                );
            }
            let tmp = tempfile::tempdir()?;
            let url = match (backend, database_url) {
                (_, Some(url)) => url,
                (BenchBackend::Sqlite, None) => {
                    format!("sqlite://{}", tmp.path().join("bench.db").display())
                }
                (BenchBackend::Postgres, None) if settings.database_url.starts_with("postgres") => {
                    settings.database_url.clone()
                }
                (BenchBackend::Postgres, None) => anyhow::bail!(
                    "--backend postgres needs --database-url postgres://… or DATABASE_URL set to PostgreSQL"
                ),
            };
            let matches = match backend {
                BenchBackend::Sqlite => url.starts_with("sqlite:"),
                BenchBackend::Postgres => url.starts_with("postgres"),
            };
            if !matches {
                anyhow::bail!(
                    "--backend {backend:?} does not match the database URL {}",
                    posada_db::redact_url(&url)
                );
            }
            let db = Db::connect(
                &url,
                &ConnectOptions {
                    max_connections: 32,
                    ..ConnectOptions::default()
                },
            )
            .await?;
            let phase = match phase {
                Phase::All => BenchPhase::All,
                Phase::Enqueue => BenchPhase::Enqueue,
                Phase::Drain => BenchPhase::Drain,
                Phase::Work => {
                    let started = std::time::Instant::now();
                    let ran = posada_jobs::bench::work(db.clone(), concurrency).await;
                    let took = started.elapsed();
                    let backend = db.backend().as_str();
                    db.close().await;
                    let ran = ran?;
                    let report = serde_json::json!({
                        "backend": backend,
                        "phase": "work",
                        "concurrency": concurrency,
                        "ran": ran,
                        "seconds": (took.as_secs_f64() * 1000.0).round() / 1000.0,
                    });
                    println!("{}", serde_json::to_string(&report)?);
                    return Ok(());
                }
            };
            let progress = super::progress::Progress::start("benchmarking the job engine");
            let report = posada_jobs::bench::run(
                db.clone(),
                BenchOptions {
                    jobs,
                    concurrency,
                    phase,
                },
            )
            .await;
            progress.finish();
            let report = report?;
            db.close().await;
            if json {
                println!("{}", serde_json::to_string(&report)?);
            } else {
                println!("{}", serde_json::to_string_pretty(&report)?);
            }
            Ok(())
        }
    }
}
