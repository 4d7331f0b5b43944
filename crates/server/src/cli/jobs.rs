//! `posada jobs …`: see and drive the job engine from a shell (the same queries as the HTTP admin).

use clap::Subcommand;
use posada_jobs::{JobState, ListFilter, Page};

use crate::config::Settings;

/// Job administration.
#[derive(Debug, Subcommand)]
pub enum JobsCommand {
    /// Counts by queue, state and kind.
    Stats,
    /// List jobs, newest first.
    List {
        /// Only this state (available, scheduled, running, retryable, completed, cancelled, discarded).
        #[arg(long)]
        state: Option<String>,
        /// Only this queue.
        #[arg(long)]
        queue: Option<String>,
        /// Only this kind.
        #[arg(long)]
        kind: Option<String>,
        /// Rows to show.
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// Show jobs older than this id (next page).
        #[arg(long)]
        before: Option<i64>,
    },
    /// One job with its error history.
    Show {
        /// Job id.
        id: i64,
    },
    /// Run a failed, discarded or cancelled job again.
    Retry {
        /// Job id.
        id: i64,
    },
    /// Cancel a job.
    Cancel {
        /// Job id.
        id: i64,
    },
    /// Stop claiming jobs of a queue on every node.
    Pause {
        /// Queue name.
        queue: String,
    },
    /// Resume a paused queue.
    Resume {
        /// Queue name.
        queue: String,
    },
    /// Periodic tasks.
    #[command(subcommand)]
    Periodic(PeriodicCommand),
}

/// Periodic task administration.
#[derive(Debug, Subcommand)]
pub enum PeriodicCommand {
    /// Every periodic task with schedule, last and next run.
    List,
    /// Run a task now (picked up by a node running the scheduler).
    Run {
        /// Task name.
        name: String,
    },
    /// Stop scheduling a task.
    Pause {
        /// Task name.
        name: String,
    },
    /// Schedule a paused task again.
    Resume {
        /// Task name.
        name: String,
    },
}

fn print(value: &impl serde::Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

fn found(done: bool, what: &str) -> anyhow::Result<()> {
    if done {
        println!("{what}: done");
        Ok(())
    } else {
        anyhow::bail!("{what}: nothing changed (unknown id/name, or not in a state that allows it)")
    }
}

/// Run a `jobs` subcommand.
pub async fn run(settings: &Settings, cmd: JobsCommand) -> anyhow::Result<()> {
    let db = crate::startup::open_database(settings).await?;
    let admin = posada_jobs::Jobs::new(db.clone()).admin();
    let result = match cmd {
        JobsCommand::Stats => print(&admin.stats().await?),
        JobsCommand::List {
            state,
            queue,
            kind,
            limit,
            before,
        } => {
            let state = match state {
                Some(s) => Some(s.parse::<JobState>().map_err(|_| anyhow::anyhow!("--state {s:?} is not a job state; use available, scheduled, running, retryable, completed, cancelled or discarded"))?),
                None => None,
            };
            print(
                &admin
                    .list(
                        &ListFilter { queue, state, kind },
                        Page {
                            limit,
                            before_id: before,
                        },
                    )
                    .await?,
            )
        }
        JobsCommand::Show { id } => match admin.get(id).await? {
            Some(job) => print(&job),
            None => anyhow::bail!("no job with id {id}"),
        },
        JobsCommand::Retry { id } => found(admin.retry(id).await?, &format!("retry job {id}")),
        JobsCommand::Cancel { id } => found(admin.cancel(id).await?, &format!("cancel job {id}")),
        JobsCommand::Pause { queue } => {
            admin.pause_queue(&queue).await?;
            println!("queue {queue} paused on every node");
            Ok(())
        }
        JobsCommand::Resume { queue } => {
            admin.resume_queue(&queue).await?;
            println!("queue {queue} resumed");
            Ok(())
        }
        JobsCommand::Periodic(p) => match p {
            PeriodicCommand::List => print(&admin.periodic_list().await?),
            PeriodicCommand::Run { name } => found(
                admin.periodic_run_now(&name).await?,
                &format!("run {name} now"),
            ),
            PeriodicCommand::Pause { name } => {
                found(admin.periodic_pause(&name).await?, &format!("pause {name}"))
            }
            PeriodicCommand::Resume { name } => found(
                admin.periodic_resume(&name).await?,
                &format!("resume {name}"),
            ),
        },
    };
    db.close().await;
    result
}
