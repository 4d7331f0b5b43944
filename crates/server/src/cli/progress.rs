//! Progress of long CLI work (`bench`, `backup`, `migrate`) for a person at a terminal.
//!
//! It is drawn on standard error, and only when standard error is a terminal: piped or redirected
//! to a file (scripts, cron, systemd timers) the command stays quiet and standard output carries
//! only its result.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

/// A ticking status line (`migrating… 3 s`) plus step lines, on a terminal only.
pub struct Progress {
    label: String,
    ticker: Option<tokio::task::JoinHandle<()>>,
}

/// Whether progress is drawn: standard error is a terminal.
pub fn on_terminal() -> bool {
    std::io::stderr().is_terminal()
}

const CLEAR_LINE: &str = "\r\x1b[2K";

impl Progress {
    /// Start drawing `label… N s` (refreshed every quarter second) when on a terminal.
    pub fn start(label: &str) -> Progress {
        let ticker = on_terminal().then(|| {
            let label = label.to_string();
            let started = Instant::now();
            tokio::spawn(async move {
                const SPINNER: [char; 4] = ['|', '/', '-', '\\'];
                let mut tick = 0usize;
                loop {
                    {
                        let mut err = std::io::stderr().lock();
                        let _ = write!(
                            err,
                            "{CLEAR_LINE}{label}… {} {} s",
                            SPINNER[tick % SPINNER.len()],
                            started.elapsed().as_secs()
                        );
                        let _ = err.flush();
                    }
                    tick += 1;
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
            })
        });
        Progress {
            label: label.to_string(),
            ticker,
        }
    }

    /// Whether this progress is drawn.
    pub fn shown(&self) -> bool {
        self.ticker.is_some()
    }

    /// A finished step, printed on its own line above the status line (terminal only).
    pub fn line(&self, text: &str) {
        if self.shown() {
            let mut err = std::io::stderr().lock();
            let _ = writeln!(err, "{CLEAR_LINE}{text}");
            let _ = err.flush();
        }
    }

    /// Stop drawing and clear the status line.
    pub fn finish(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        if let Some(ticker) = self.ticker.take() {
            ticker.abort();
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "{CLEAR_LINE}");
            let _ = err.flush();
        }
    }

    /// The label it was started with.
    pub fn label(&self) -> &str {
        &self.label
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.stop();
    }
}
