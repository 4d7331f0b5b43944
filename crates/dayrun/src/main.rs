//! `posada-day`: run a compressed day on two API nodes and two workers (see the crate docs and
//! the README's "A day on several nodes").

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

/// A compressed day on 2 `posada serve` + 2 `posada worker` on one PostgreSQL database, with
/// kill -9, a database outage and a hanging provider; exits 1 on any violation.
#[derive(Debug, Parser)]
#[command(name = "posada-day", version, about)]
struct Args {
    /// The posada binary (build it first: `cargo build --release -p posada-server`).
    #[arg(long, default_value = "target/release/posada")]
    posada: PathBuf,
    /// The PostgreSQL server (a fresh database is made on it for the run).
    #[arg(
        long,
        env = "TEST_DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    postgres: String,
    /// How long guests keep coming, in seconds.
    #[arg(long, default_value_t = 180)]
    seconds: u64,
    /// Concurrent guests.
    #[arg(long, default_value_t = 12)]
    guests: usize,
    /// Seconds the database refuses connections.
    #[arg(long, default_value_t = 10)]
    outage_seconds: u64,
    /// Seconds the WhatsApp API hangs.
    #[arg(long, default_value_t = 60)]
    hang_seconds: u64,
    /// DB_MAX_CONNECTIONS of each posada process.
    #[arg(long, default_value_t = 8)]
    db_connections: u32,
    /// Keep the database and the logs afterwards.
    #[arg(long)]
    keep: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let mut cfg = posada_dayrun::Config::new(args.posada, &args.postgres);
    cfg.duration = Duration::from_secs(args.seconds);
    cfg.guests = args.guests;
    cfg.outage = Duration::from_secs(args.outage_seconds);
    cfg.hang = Duration::from_secs(args.hang_seconds);
    cfg.db_max_connections = args.db_connections;
    cfg.keep = args.keep;
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(posada_dayrun::run(&cfg)) {
        Ok(report) => {
            print!("{report}");
            if report.violations.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("error: the day could not run: {e:#}");
            ExitCode::from(2)
        }
    }
}
