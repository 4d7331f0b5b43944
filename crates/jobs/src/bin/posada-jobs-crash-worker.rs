//! A worker process for the engine's crash test: it runs an engine with one kind whose handler
//! marks that it started and then hangs, so the test can kill the process (SIGKILL) mid-job and
//! check that another node takes the job over.
//!
//! Settings come from the environment: `POSADA_JOBS_URL` (database), `POSADA_JOBS_LEASE_MS`.

use std::time::Duration;

use posada_db::{ConnectOptions, Db};
use posada_jobs::{Engine, EngineConfig, Job, JobContext, Jobs};
use serde::{Deserialize, Serialize};

/// The crash test's job: on this worker it hangs until killed.
#[derive(Serialize, Deserialize)]
struct CrashProbe {
    label: String,
}

impl Job for CrashProbe {
    type State = ();
    const KIND: &'static str = "test.crash_probe";
    const QUEUE: &'static str = "crash";

    fn timeout() -> Duration {
        Duration::from_secs(600)
    }

    async fn run(self, ctx: JobContext<()>) -> anyhow::Result<()> {
        println!("started job {} attempt {}", ctx.job_id, ctx.attempt);
        tokio::time::sleep(Duration::from_secs(600)).await;
        Ok(())
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let url = std::env::var("POSADA_JOBS_URL")?;
    let lease_ms: u64 = std::env::var("POSADA_JOBS_LEASE_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let db = Db::connect(&url, &ConnectOptions::default()).await?;
    let config = EngineConfig {
        node_id: "crash-worker".to_string(),
        queues: vec![("crash".to_string(), 4)],
        lease: Duration::from_millis(lease_ms),
        heartbeat_interval: Duration::from_millis(lease_ms / 4),
        poll_interval: Duration::from_millis(50),
        enable_scheduler: false,
        ..EngineConfig::default()
    };
    let engine = Engine::new(Jobs::new(db), (), config)
        .register::<CrashProbe>()
        .start()
        .await?;
    println!("ready {}", engine.node_id());
    tokio::signal::ctrl_c().await?;
    engine.shutdown().await;
    Ok(())
}
