//! Run the job-engine benchmark against a fresh database and print the JSON report.
//!
//! `cargo run --release -p posada-jobs --example bench -- sqlite|postgres [JOBS] [CONCURRENCY] [all|enqueue|drain]`
//! (a split phase only makes sense against a database that outlives the run: use `bench::run`
//! from the server's `posada bench jobs` for that; this example always uses a fresh database).
//! PostgreSQL: a new database is created on `BENCH_DATABASE_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`) and dropped afterwards.

use posada_db::{ConnectOptions, Db};
use posada_jobs::bench::{self, BenchOptions, BenchPhase};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let backend = args.first().map(String::as_str).unwrap_or("sqlite");
    let jobs: u64 = args.get(1).and_then(|v| v.parse().ok()).unwrap_or(20_000);
    let concurrency: usize = args.get(2).and_then(|v| v.parse().ok()).unwrap_or(16);
    let phase = match args.get(3).map(String::as_str) {
        Some("enqueue") => BenchPhase::Enqueue,
        Some("drain") => BenchPhase::Drain,
        _ => BenchPhase::All,
    };
    let opts = BenchOptions {
        jobs,
        concurrency,
        phase,
    };
    let report = match backend {
        "postgres" => {
            let admin_url = std::env::var("BENCH_DATABASE_URL")
                .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string());
            let name = format!("posada_bench_{}", uuid::Uuid::new_v4().simple());
            let admin = Db::connect(&admin_url, &ConnectOptions::default()).await?;
            let pool = admin
                .as_postgres()
                .ok_or_else(|| anyhow::anyhow!("not a PostgreSQL URL"))?;
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(pool)
                .await?;
            let url = format!(
                "{}/{name}",
                admin_url.rsplit_once('/').map_or("", |(a, _)| a)
            );
            let db = Db::connect(&url, &ConnectOptions::default()).await?;
            let report = bench::run(db.clone(), opts).await;
            db.close().await;
            sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)"))
                .execute(pool)
                .await?;
            report?
        }
        _ => {
            let dir = std::env::temp_dir().join(format!("posada-bench-{}", std::process::id()));
            std::fs::create_dir_all(&dir)?;
            let url = format!("sqlite://{}", dir.join("bench.db").display());
            let db = Db::connect(&url, &ConnectOptions::default()).await?;
            let report = bench::run(db.clone(), opts).await;
            db.close().await;
            let _ = std::fs::remove_dir_all(&dir);
            report?
        }
    };
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}
