//! The HTTP plumbing shared by the fakes: serve an axum router on 127.0.0.1:0 for as long as the fake
//! lives, and record requests.

use std::net::SocketAddr;
use std::sync::{Mutex, MutexGuard};

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Largest request body a fake reads.
const MAX_BODY: usize = 16 * 1024 * 1024;

/// A running HTTP server. Dropping it stops accepting connections and closes idle keep-alive ones,
/// so a client that pooled a connection sees the server gone too; requests in flight may finish.
#[derive(Debug)]
pub(crate) struct Server {
    pub(crate) addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    _task: JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            // The server task may already be gone; nothing to stop then.
            let _ = shutdown.send(());
        }
    }
}

/// Binds 127.0.0.1 on a free port. A test cannot go on without its fake, so failing to bind panics
/// with the reason.
pub(crate) async fn bind_local() -> TcpListener {
    match TcpListener::bind("127.0.0.1:0").await {
        Ok(listener) => listener,
        Err(err) => panic!("fake server could not bind 127.0.0.1:0: {err}"),
    }
}

pub(crate) async fn serve(router: Router) -> Server {
    let listener = bind_local().await;
    let addr = match listener.local_addr() {
        Ok(addr) => addr,
        Err(err) => panic!("fake server has no local address: {err}"),
    };
    let (shutdown, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let serving = axum::serve(listener, router).with_graceful_shutdown(async move {
            let _ = stopped.await;
        });
        if let Err(err) = serving.await {
            eprintln!("fake server on {addr} stopped: {err}");
        }
    });
    Server {
        addr,
        shutdown: Some(shutdown),
        _task: task,
    }
}

/// A request a fake received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    /// `GET`, `POST`…
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// The query string, if any.
    pub query: Option<String>,
    /// Headers in arrival order, names lowercased.
    pub headers: Vec<(String, String)>,
    /// The raw body.
    pub body: Vec<u8>,
}

impl RecordedRequest {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON, if it is JSON.
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// Reads and records an incoming request.
    pub(crate) async fn capture(request: Request<Body>) -> Self {
        let (parts, body) = request.into_parts();
        let body = axum::body::to_bytes(body, MAX_BODY)
            .await
            .map(|b| b.to_vec())
            .unwrap_or_default();
        Self {
            method: parts.method.to_string(),
            path: parts.uri.path().to_owned(),
            query: parts.uri.query().map(str::to_owned),
            headers: parts
                .headers
                .iter()
                .map(|(n, v)| {
                    (
                        n.as_str().to_owned(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect(),
            body,
        }
    }
}

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
