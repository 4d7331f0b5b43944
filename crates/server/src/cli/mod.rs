//! The command line: `serve`, `worker`, `migrate`, `jobs …`, `bench …`, `admin …`, `backup`,
//! `restore`, `assistant …`, `completions`.
//!
//! Every command reads the same settings as the server, except `assistant` and `completions`,
//! which are pure and run before settings are loaded. Errors are printed as one sentence that
//! names the setting or argument to fix, with exit status 2 for bad input and 1 for failures.
//!
//! Logs go to standard error; what a command prints as its result (a token, a list, JSON) goes
//! alone to standard output. Progress of long work is drawn on standard error only when it is a
//! terminal ([`progress`]).

use std::net::SocketAddr;
use std::process::ExitCode;

pub mod admin;
pub mod assistant;
pub mod backup;
pub mod bench;
pub mod bench_api;
pub mod bench_ical;
pub mod bench_pages;
pub mod bench_whatsapp;
pub mod jobs;
pub mod progress;
pub mod restore;
pub mod start;

use clap::{Parser, Subcommand};

use crate::config::Settings;
use crate::startup::{Application, Roles, shutdown_signal};

/// posada: reservations and automation for small lodging businesses.
#[derive(Debug, Parser)]
#[command(
    name = "posada",
    version,
    about,
    after_help = "Examples:
  posada serve                      # API, dashboard, jobs and scheduler on 127.0.0.1:8080
  TOKEN=$(posada admin create-token)  # an API token, printed alone on standard output
  posada admin set-password         # the dashboard password (at least 10 characters)
  posada completions bash > /etc/bash_completion.d/posada

Settings come from the environment and posada.toml (see deploy/posada.toml)."
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the whole system in one process: HTTP API, job workers and scheduler.
    #[command(
        after_help = "Example:\n  DATABASE_URL=sqlite:///var/lib/posada/posada.db posada serve --listen 0.0.0.0:8080"
    )]
    Serve {
        /// Address to listen on (overrides POSADA_LISTEN).
        #[arg(long)]
        listen: Option<SocketAddr>,
    },
    /// Run job workers and the scheduler, without HTTP.
    #[command(after_help = "Example:\n  DATABASE_URL=postgres://posada@db/posada posada worker")]
    Worker,
    /// Apply pending database migrations and exit (`--dry-run`: only list them).
    #[command(
        after_help = "Examples:\n  posada migrate --dry-run   # list what would run\n  posada migrate"
    )]
    Migrate {
        /// Print the pending migrations (set, version, name) and change nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Job engine administration: stats, list, show, retry, cancel, queues, periodic tasks.
    #[command(subcommand, after_help = "Example:\n  posada jobs stats")]
    Jobs(jobs::JobsCommand),
    /// Benchmarks.
    #[command(subcommand, after_help = "Example:\n  posada bench jobs --jobs 5000")]
    Bench(bench::BenchCommand),
    /// Owner set-up: API tokens and the dashboard password.
    #[command(
        subcommand,
        after_help = "Examples:\n  TOKEN=$(posada admin create-token --name laptop)\n  posada admin set-password   # asks twice, without echo; at least 10 characters"
    )]
    Admin(admin::AdminCommand),
    /// Copy the SQLite database to FILE while posada runs (PostgreSQL: use pg_dump).
    #[command(after_help = "Example:\n  posada backup /var/backups/posada/posada-$(date +%F).db")]
    Backup {
        /// Where to write the copy (must not exist).
        file: std::path::PathBuf,
    },
    /// Replace the SQLite database with a backup FILE (refused while posada runs on it; the
    /// replaced database is kept next to it).
    #[command(
        after_help = "Example:\n  systemctl stop posada && posada restore /var/backups/posada/posada-2027-03-10.db && systemctl start posada"
    )]
    Restore {
        /// A backup made by `posada backup`.
        file: std::path::PathBuf,
    },
    /// Guest assistant: `understand` reads JSON lines of messages (no database, no settings).
    #[command(
        subcommand,
        after_help = "Example:\n  echo '{\"text\":\"hay lugar el finde?\"}' | posada assistant understand"
    )]
    Assistant(assistant::AssistantCommand),
    /// Ask a running server whether it is alive (exit 0) or not (exit 1): the container health
    /// check, which needs no curl in the image.
    #[command(after_help = "Example:\n  posada health --url http://127.0.0.1:8080/api/v1/livez")]
    Health {
        /// The URL to ask (any 2xx answer is healthy).
        #[arg(long, default_value = "http://127.0.0.1:8080/api/v1/livez")]
        url: String,
    },
    /// Print the HTTP API's OpenAPI document (JSON, as served at /api/v1/openapi.json).
    #[command(after_help = "Example:\n  posada openapi > openapi.json")]
    Openapi,
    /// Print a shell completion script.
    #[command(
        after_help = "Example:\n  posada completions bash > ~/.local/share/bash-completion/completions/posada"
    )]
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

/// Entry point for the binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    // Pure commands first: no settings file, database, logging or runtime needed.
    if let Command::Assistant(command) = &cli.command {
        return assistant::run(command);
    }
    if let Command::Health { url } = &cli.command {
        return health(url);
    }
    if let Command::Openapi = &cli.command {
        println!("{}", crate::http::openapi::document_json());
        return ExitCode::SUCCESS;
    }
    if let Command::Completions { shell } = &cli.command {
        use clap::CommandFactory;
        clap_complete::generate(
            *shell,
            &mut Cli::command(),
            "posada",
            &mut std::io::stdout(),
        );
        return ExitCode::SUCCESS;
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
    let Some(runtime) = runtime(tokio::runtime::Builder::new_multi_thread()) else {
        return ExitCode::FAILURE;
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
            let lock = start::DatabaseInUse::hold(&settings.database_url)?;
            let app = Application::build(
                settings,
                listen,
                Roles {
                    http: true,
                    workers: true,
                },
            )
            .await?;
            start::print_banner(&app).await;
            let result = app.run_until_stopped(shutdown_signal()).await;
            drop(lock);
            result
        }
        Command::Worker => {
            let lock = start::DatabaseInUse::hold(&settings.database_url)?;
            let app = Application::build(
                settings,
                None,
                Roles {
                    http: false,
                    workers: true,
                },
            )
            .await?;
            let result = app.run_until_stopped(shutdown_signal()).await;
            drop(lock);
            result
        }
        Command::Jobs(cmd) => jobs::run(&settings, cmd).await,
        Command::Bench(cmd) => bench::run(&settings, cmd).await,
        Command::Admin(cmd) => admin::run(&settings, cmd).await,
        Command::Backup { file } => backup::run(&settings, &file).await,
        Command::Restore { file } => restore::run(&settings, &file).await,
        // Handled in `main` before settings are loaded; kept so the match stays total.
        Command::Assistant(command) => Ok(assistant::execute(&command)?),
        Command::Completions { .. } | Command::Health { .. } | Command::Openapi => Ok(()),
        Command::Migrate { dry_run } => migrate(&settings, dry_run).await,
    }
}

/// Build the async runtime, saying why on standard error when it cannot be.
fn runtime(mut builder: tokio::runtime::Builder) -> Option<tokio::runtime::Runtime> {
    match builder.enable_all().build() {
        Ok(rt) => Some(rt),
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            None
        }
    }
}

/// `posada health`: GET `url` within 5 s; healthy on a 2xx answer.
fn health(url: &str) -> ExitCode {
    posada_integrations::install_crypto_provider();
    let Some(runtime) = runtime(tokio::runtime::Builder::new_current_thread()) else {
        return ExitCode::FAILURE;
    };
    let answer = runtime.block_on(async {
        reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(5))
            .build()?
            .get(url)
            .send()
            .await
    });
    match answer {
        Ok(res) if res.status().is_success() => {
            println!("healthy: {url} answered {}", res.status());
            ExitCode::SUCCESS
        }
        Ok(res) => {
            eprintln!("unhealthy: {url} answered {}", res.status());
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("unhealthy: {url} did not answer: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `posada migrate [--dry-run]`.
async fn migrate(settings: &Settings, dry_run: bool) -> anyhow::Result<()> {
    let db = posada_db::Db::connect(
        &settings.database_url,
        &posada_db::ConnectOptions::default(),
    )
    .await?;
    let shown = posada_db::redact_url(&settings.database_url);
    let result = async {
        let pending = crate::migrations::pending_list(&db).await?;
        if dry_run {
            if pending.is_empty() {
                println!("no pending migrations: {shown} is up to date");
            } else {
                println!("{} pending migration(s) for {shown}:", pending.len());
                for (set, m) in &pending {
                    println!("{set} {} {}", m.version, m.name);
                }
            }
            return Ok(());
        }
        let total = pending.len();
        let bar = progress::Progress::start("migrating");
        let mut done = 0;
        let ran = crate::migrations::run_with(&db, &mut |set, m| {
            done += 1;
            bar.line(&format!(
                "applied {set} {} {} ({done}/{total})",
                m.version, m.name
            ));
        })
        .await;
        bar.finish();
        let ran = ran?;
        if ran == 0 {
            println!("database at {shown} is up to date");
        } else {
            println!("applied {ran} migration(s); database at {shown} is up to date");
        }
        anyhow::Ok(())
    }
    .await;
    db.close().await;
    result
}
