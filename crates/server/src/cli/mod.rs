//! The command line: `serve`, `worker`, `migrate`, `jobs …`, `bench …`, `admin …`, `backup`,
//! `assistant …`.
//!
//! Every command reads the same settings as the server, except `assistant`, which is pure and runs
//! before settings are loaded. Errors are printed as one sentence that names the setting or argument
//! to fix, with exit status 2 for bad input and 1 for failures.

use std::net::SocketAddr;
use std::process::ExitCode;

pub mod admin;
pub mod assistant;
pub mod backup;
pub mod bench;
pub mod bench_api;
pub mod bench_ical;
pub mod bench_whatsapp;
pub mod jobs;

use clap::{Parser, Subcommand};

use crate::config::Settings;
use crate::startup::{Application, Roles, shutdown_signal};

/// posada: reservations and automation for small lodging businesses.
#[derive(Debug, Parser)]
#[command(name = "posada", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the whole system in one process: HTTP API, job workers and scheduler.
    Serve {
        /// Address to listen on (overrides POSADA_LISTEN).
        #[arg(long)]
        listen: Option<SocketAddr>,
    },
    /// Run job workers and the scheduler, without HTTP.
    Worker,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Job engine administration: stats, list, show, retry, cancel, queues, periodic tasks.
    #[command(subcommand)]
    Jobs(jobs::JobsCommand),
    /// Benchmarks.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    /// Owner set-up: API tokens.
    #[command(subcommand)]
    Admin(admin::AdminCommand),
    /// Copy the SQLite database to FILE while posada runs (PostgreSQL: use pg_dump).
    Backup {
        /// Where to write the copy (must not exist).
        file: std::path::PathBuf,
    },
    /// Guest assistant: `understand` reads JSON lines of messages (no database, no settings).
    #[command(subcommand)]
    Assistant(assistant::AssistantCommand),
}

/// Entry point for the binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    // Pure commands first: no settings file, database, logging or runtime needed.
    if let Command::Assistant(command) = &cli.command {
        return assistant::run(command);
    }
    let settings = match Settings::load() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    crate::telemetry::init(&settings.log_format);
    posada_integrations::install_crypto_provider();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli, settings)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli, settings: Settings) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve { listen } => {
            let app = Application::build(
                settings,
                listen,
                Roles {
                    http: true,
                    workers: true,
                },
            )
            .await?;
            app.run_until_stopped(shutdown_signal()).await
        }
        Command::Worker => {
            let app = Application::build(
                settings,
                None,
                Roles {
                    http: false,
                    workers: true,
                },
            )
            .await?;
            app.run_until_stopped(shutdown_signal()).await
        }
        Command::Jobs(cmd) => jobs::run(&settings, cmd).await,
        Command::Bench(cmd) => bench::run(&settings, cmd).await,
        Command::Admin(cmd) => admin::run(&settings, cmd).await,
        Command::Backup { file } => backup::run(&settings, &file).await,
        // Handled in `main` before settings are loaded; kept so the match stays total.
        Command::Assistant(command) => Ok(assistant::execute(&command)?),
        Command::Migrate => {
            let db = crate::startup::open_database(&settings).await?;
            println!(
                "database at {} is up to date",
                posada_db::redact_url(&settings.database_url)
            );
            db.close().await;
            Ok(())
        }
    }
}
