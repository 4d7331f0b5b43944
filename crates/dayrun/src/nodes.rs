//! The posada processes: `serve` (HTTP API, workers, scheduler) and `worker` (workers and
//! scheduler), each with its own log file, killed with SIGKILL and started again on demand.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};

/// One posada process.
pub struct Node {
    /// `api-1`, `worker-2`…
    pub name: String,
    /// The port of an API node.
    pub port: Option<u16>,
    bin: PathBuf,
    dir: PathBuf,
    env: Vec<(String, String)>,
    child: Option<Child>,
    /// How many times it was started.
    pub starts: u32,
}

impl Node {
    /// A node that is not started yet.
    pub fn new(
        name: &str,
        port: Option<u16>,
        bin: &Path,
        dir: &Path,
        env: Vec<(String, String)>,
    ) -> Self {
        Self {
            name: name.to_owned(),
            port,
            bin: bin.to_owned(),
            dir: dir.to_owned(),
            env,
            child: None,
            starts: 0,
        }
    }

    /// The log file (stdout and stderr of every start, appended).
    pub fn log_path(&self) -> PathBuf {
        self.dir.join(format!("{}.log", self.name))
    }

    /// Start the process.
    pub fn start(&mut self) -> anyhow::Result<()> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())?;
        let mut cmd = Command::new(&self.bin);
        match self.port {
            Some(port) => cmd.args(["serve", "--listen", &format!("127.0.0.1:{port}")]),
            None => cmd.arg("worker"),
        };
        cmd.current_dir(&self.dir)
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true);
        self.child = Some(cmd.spawn()?);
        self.starts += 1;
        Ok(())
    }

    /// `kill -9`, and wait until it is gone.
    pub async fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill().await;
        }
    }

    /// Whether the process is still running (a node that exited on its own is a failure).
    pub fn exited(&mut self) -> Option<String> {
        let child = self.child.as_mut()?;
        match child.try_wait() {
            Ok(Some(status)) => Some(format!("{} exited on its own: {status}", self.name)),
            _ => None,
        }
    }

    /// For an API node: wait until `/api/v1/livez` answers 200.
    pub async fn wait_ready(
        &self,
        client: &reqwest::Client,
        within: Duration,
    ) -> anyhow::Result<()> {
        let Some(port) = self.port else {
            return Ok(());
        };
        let url = format!("http://127.0.0.1:{port}/api/v1/livez");
        let deadline = Instant::now() + within;
        loop {
            if let Ok(res) = client.get(&url).send().await
                && res.status().is_success()
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                anyhow::bail!(
                    "{} did not answer {url} within {within:?}; see {}",
                    self.name,
                    self.log_path().display()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// A free port on 127.0.0.1 (bound and released).
pub fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Run a one-shot posada command (`migrate`, `admin create-token`) and return its stdout.
pub async fn run_once(
    bin: &Path,
    dir: &Path,
    env: &[(String, String)],
    args: &[&str],
) -> anyhow::Result<String> {
    let out = Command::new(bin)
        .args(args)
        .current_dir(dir)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .stdin(Stdio::null())
        .output()
        .await?;
    if !out.status.success() {
        anyhow::bail!(
            "posada {} failed ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}
