//! The clients' side: every request goes to one of the API nodes like a load balancer would send
//! it (a refused connection goes to the other node), and every outcome is counted: the status, the
//! latency, a client timeout (a hang), a connection cut in the middle of a request.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rand::Rng;
use serde_json::Value;

use crate::proxy::lock;

/// How long a client waits for an answer before it counts the request as hung.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(20);

/// A window of the run, in seconds since its start; `end` is `None` while it lasts.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    /// Start.
    pub start: f64,
    /// End.
    pub end: Option<f64>,
}

impl Window {
    /// Whether `t` falls in the window widened by `before` and `after` seconds.
    pub fn contains(&self, t: f64, before: f64, after: f64) -> bool {
        t >= self.start - before && self.end.is_none_or(|e| t <= e + after)
    }
}

/// What the clients saw.
#[derive(Debug, Default)]
pub struct Stats {
    /// Requests sent (a fail-over to the other node is the same request).
    pub requests: u64,
    /// Answers by route and status.
    pub statuses: BTreeMap<&'static str, BTreeMap<u16, u64>>,
    /// Latency of every answer, in milliseconds, by route.
    pub latencies: BTreeMap<&'static str, Vec<f64>>,
    /// Requests that got no answer within [`CLIENT_TIMEOUT`]: (time, route).
    pub timeouts: Vec<(f64, &'static str)>,
    /// Connections refused by a node that was down, sent to the other node instead.
    pub failovers: u64,
    /// Requests cut in the middle (connection reset): (time, route, error).
    pub cut: Vec<(f64, &'static str, String)>,
    /// 5xx answers: (time, route, status).
    pub server_errors: Vec<(f64, &'static str, u16)>,
    /// Answers no client of this route expects (e.g. 422 to a valid hold): (time, route, status, body).
    pub unexpected: Vec<(f64, &'static str, u16, String)>,
}

/// The HTTP side of the run.
pub struct Traffic {
    client: reqwest::Client,
    ports: [u16; 2],
    t0: Instant,
    /// What was seen.
    pub stats: Mutex<Stats>,
}

/// An answer: status and JSON body (`Null` when not JSON).
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// Body.
    pub body: Value,
}

impl Traffic {
    /// Clients for API nodes on `ports`.
    pub fn new(ports: [u16; 2], t0: Instant) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .timeout(CLIENT_TIMEOUT)
            .connect_timeout(Duration::from_secs(2))
            .pool_max_idle_per_host(32)
            .build()?;
        Ok(Self {
            client,
            ports,
            t0,
            stats: Mutex::default(),
        })
    }

    /// Seconds since the run started.
    pub fn now(&self) -> f64 {
        self.t0.elapsed().as_secs_f64()
    }

    /// The port of API node `i` (0 or 1).
    pub fn port(&self, i: usize) -> u16 {
        self.ports[i % 2]
    }

    /// The HTTP client.
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// Send a request built by `build(base_url)` to a node chosen at random (the other one if it
    /// refuses the connection). `expected` lists the statuses this route may answer besides 503.
    pub async fn send(
        &self,
        route: &'static str,
        expected: &[u16],
        build: impl Fn(&str) -> reqwest::RequestBuilder,
    ) -> Option<Answer> {
        lock(&self.stats).requests += 1;
        let first = rand::rng().random_range(0..2usize);
        for attempt in 0..40usize {
            let port = self.ports[(first + attempt) % 2];
            let started = Instant::now();
            let sent = build(&format!("http://127.0.0.1:{port}")).send().await;
            let result = match sent {
                Ok(res) => {
                    let status = res.status().as_u16();
                    res.bytes().await.map(|b| (status, b))
                }
                Err(e) => Err(e),
            };
            let t = self.now();
            match result {
                Ok((status, bytes)) => {
                    let ms = started.elapsed().as_secs_f64() * 1000.0;
                    let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
                    let mut st = lock(&self.stats);
                    *st.statuses
                        .entry(route)
                        .or_default()
                        .entry(status)
                        .or_default() += 1;
                    st.latencies.entry(route).or_default().push(ms);
                    if status >= 500 {
                        st.server_errors.push((t, route, status));
                    } else if !expected.contains(&status) {
                        let text = String::from_utf8_lossy(&bytes);
                        st.unexpected
                            .push((t, route, status, text.chars().take(300).collect()));
                    }
                    return Some(Answer { status, body });
                }
                Err(e) if e.is_timeout() => {
                    lock(&self.stats).timeouts.push((t, route));
                    return None;
                }
                Err(e) if e.is_connect() => {
                    lock(&self.stats).failovers += 1;
                    if attempt % 2 == 1 {
                        tokio::time::sleep(Duration::from_millis(250)).await;
                    }
                }
                Err(e) => {
                    lock(&self.stats).cut.push((t, route, format!("{e:#}")));
                    return None;
                }
            }
        }
        lock(&self.stats)
            .cut
            .push((self.now(), route, "no node accepted a connection".into()));
        None
    }
}

/// The `p`-quantile (0..=1) of sorted values.
pub fn quantile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}
