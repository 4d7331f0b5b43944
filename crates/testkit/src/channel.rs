//! A fake channel (Airbnb, Booking.com, Vrbo) serving iCal feeds over HTTP the way real servers do:
//! ETag and Last-Modified with 304 on a conditional GET, gzip when asked, and the failures a sync job
//! must survive: status codes, redirect chains, a slow answer, an oversized body. Logs every request.

use std::collections::HashMap;
use std::convert::Infallible;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderValue, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use crate::server::{RecordedRequest, Server, lock, serve};

/// A request the channel received, with what it answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelRequest {
    /// The request.
    pub request: RecordedRequest,
    /// The status answered.
    pub status: u16,
    /// Whether the body was sent gzipped.
    pub gzipped: bool,
}

#[derive(Debug, Clone)]
enum Route {
    Feed {
        body: Bytes,
        etag: String,
        last_modified: SystemTime,
    },
    Status {
        code: u16,
        body: String,
    },
    Redirect {
        to: String,
        code: u16,
    },
    Slow {
        delay: Duration,
        body: Bytes,
    },
    Huge {
        size: usize,
        declare_length: bool,
    },
}

struct ChannelState {
    routes: HashMap<String, Route>,
    requests: Vec<ChannelRequest>,
    gzip: bool,
    held: HashMap<String, Hold>,
}

/// The server's side of a [`HeldRequest`].
pub(crate) struct Hold {
    pub(crate) arrived: tokio::sync::oneshot::Sender<()>,
    pub(crate) release: tokio::sync::oneshot::Receiver<()>,
}

/// A [`HeldRequest`] for the test and the [`Hold`] for the fake that holds it.
pub(crate) fn hold_pair() -> (HeldRequest, Hold) {
    let (arrived_tx, arrived_rx) = tokio::sync::oneshot::channel();
    let (release_tx, release_rx) = tokio::sync::oneshot::channel();
    (
        HeldRequest {
            arrived: Some(arrived_rx),
            release: Some(release_tx),
        },
        Hold {
            arrived: arrived_tx,
            release: release_rx,
        },
    )
}

/// The next request to a path, held by the fake: the test learns when it arrived and decides when
/// it is answered (with what the path served when it arrived), with no sleeps.
pub struct HeldRequest {
    arrived: Option<tokio::sync::oneshot::Receiver<()>>,
    release: Option<tokio::sync::oneshot::Sender<()>>,
}

impl HeldRequest {
    /// Wait until the request reached the fake.
    pub async fn arrived(&mut self) {
        if let Some(arrived) = self.arrived.take() {
            let _ = arrived.await;
        }
    }

    /// Let the fake answer it.
    pub fn release(&mut self) {
        if let Some(release) = self.release.take() {
            let _ = release.send(());
        }
    }
}

impl Drop for HeldRequest {
    fn drop(&mut self) {
        self.release();
    }
}

/// The fake. Dropping it stops the server.
pub struct FakeChannel {
    base_url: String,
    state: Arc<Mutex<ChannelState>>,
    _server: Server,
}

impl FakeChannel {
    /// Starts the fake on 127.0.0.1 with a free port. Unknown paths answer 404.
    pub async fn start() -> Self {
        let state = Arc::new(Mutex::new(ChannelState {
            routes: HashMap::new(),
            requests: Vec::new(),
            gzip: true,
            held: HashMap::new(),
        }));
        let server = serve(Router::new().fallback(handle).with_state(state.clone())).await;
        Self {
            base_url: format!("http://{}", server.addr),
            state,
            _server: server,
        }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base_url(&self) -> String {
        self.base_url.clone()
    }

    /// The full URL of `path` (`/airbnb/1.ics` → `http://127.0.0.1:<port>/airbnb/1.ics`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url, normalize(path))
    }

    /// Serves `body` at `path` with a fresh ETag (a hash of the body) and Last-Modified (now, unless
    /// the body is unchanged). Replaces whatever `path` served.
    pub fn set_feed(&self, path: &str, body: impl Into<Vec<u8>>) {
        let body = Bytes::from(body.into());
        let etag = format!("\"{}\"", &hex::encode(Sha256::digest(&body))[..16]);
        let mut st = lock(&self.state);
        let path = normalize(path);
        let last_modified = match st.routes.get(&path) {
            Some(Route::Feed {
                etag: old,
                last_modified,
                ..
            }) if *old == etag => *last_modified,
            _ => SystemTime::now(),
        };
        st.routes.insert(
            path,
            Route::Feed {
                body,
                etag,
                last_modified,
            },
        );
    }

    /// Answers `code` with a short body at `path`.
    pub fn set_status(&self, path: &str, code: u16) {
        let body = format!("status {code}");
        lock(&self.state)
            .routes
            .insert(normalize(path), Route::Status { code, body });
    }

    /// Redirects `from` to `to` (a path on this server or an absolute URL) with 302.
    pub fn redirect(&self, from: &str, to: &str) {
        let to = if to.starts_with("http://") || to.starts_with("https://") {
            to.to_owned()
        } else {
            normalize(to)
        };
        lock(&self.state)
            .routes
            .insert(normalize(from), Route::Redirect { to, code: 302 });
    }

    /// A chain of `hops` redirects starting at `start` and ending at `target`: `start` →
    /// `start/hop1` → … → `target`. Returns the URL to fetch.
    pub fn redirect_chain(&self, start: &str, hops: usize, target: &str) -> String {
        let start = normalize(start);
        let mut from = start.clone();
        for hop in 1..hops {
            let next = format!("{start}/hop{hop}");
            self.redirect(&from, &next);
            from = next;
        }
        if hops > 0 {
            self.redirect(&from, target);
        }
        self.url(&start)
    }

    /// Serves `body` at `path` only after `delay`, for timeout tests.
    pub fn set_slow(&self, path: &str, delay: Duration, body: impl Into<Vec<u8>>) {
        lock(&self.state).routes.insert(
            normalize(path),
            Route::Slow {
                delay,
                body: Bytes::from(body.into()),
            },
        );
    }

    /// Streams `size` bytes of calendar-looking text at `path`, with or without Content-Length.
    pub fn set_huge(&self, path: &str, size: usize, declare_length: bool) {
        lock(&self.state).routes.insert(
            normalize(path),
            Route::Huge {
                size,
                declare_length,
            },
        );
    }

    /// Stops serving `path` (404 from now on).
    pub fn remove(&self, path: &str) {
        lock(&self.state).routes.remove(&normalize(path));
    }

    /// Hold the next request to `path` until the returned handle is released (or dropped).
    pub fn hold_next(&self, path: &str) -> HeldRequest {
        let (arrived_tx, arrived_rx) = tokio::sync::oneshot::channel();
        let (release_tx, release_rx) = tokio::sync::oneshot::channel();
        lock(&self.state).held.insert(
            normalize(path),
            Hold {
                arrived: arrived_tx,
                release: release_rx,
            },
        );
        HeldRequest {
            arrived: Some(arrived_rx),
            release: Some(release_tx),
        }
    }

    /// Whether feeds are gzipped for clients that accept gzip (default true).
    pub fn set_gzip(&self, enabled: bool) {
        lock(&self.state).gzip = enabled;
    }

    /// Every request received, in order.
    pub fn requests(&self) -> Vec<ChannelRequest> {
        lock(&self.state).requests.clone()
    }

    /// Requests received for `path`.
    pub fn requests_to(&self, path: &str) -> Vec<ChannelRequest> {
        let path = normalize(path);
        lock(&self.state)
            .requests
            .iter()
            .filter(|r| r.request.path == path)
            .cloned()
            .collect()
    }
}

fn normalize(path: &str) -> String {
    if path.starts_with('/') {
        path.to_owned()
    } else {
        format!("/{path}")
    }
}

async fn handle(State(state): State<Arc<Mutex<ChannelState>>>, request: Request<Body>) -> Response {
    let recorded = RecordedRequest::capture(request).await;
    let (route, gzip_enabled, hold) = {
        let mut st = lock(&state);
        let hold = st.held.remove(&recorded.path);
        (st.routes.get(&recorded.path).cloned(), st.gzip, hold)
    };
    if let Some(hold) = hold {
        let _ = hold.arrived.send(());
        let _ = hold.release.await;
    }
    let accepts_gzip = recorded
        .header("accept-encoding")
        .is_some_and(|v| v.contains("gzip"));
    let gzip = gzip_enabled && accepts_gzip;
    let (response, gzipped) = match route {
        None => ((StatusCode::NOT_FOUND, "not found").into_response(), false),
        Some(Route::Status { code, body }) => (
            (
                StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                body,
            )
                .into_response(),
            false,
        ),
        Some(Route::Redirect { to, code }) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::FOUND);
            ((status, [(header::LOCATION, to)]).into_response(), false)
        }
        Some(Route::Slow { delay, body }) => {
            tokio::time::sleep(delay).await;
            calendar_response(StatusCode::OK, body, None, None, gzip)
        }
        Some(Route::Huge {
            size,
            declare_length,
        }) => (huge_response(size, declare_length), false),
        Some(Route::Feed {
            body,
            etag,
            last_modified,
        }) => {
            let last_modified_text = httpdate::fmt_http_date(last_modified);
            if not_modified(&recorded, &etag, last_modified) {
                let response = (
                    StatusCode::NOT_MODIFIED,
                    [
                        (header::ETAG, etag),
                        (header::LAST_MODIFIED, last_modified_text),
                    ],
                )
                    .into_response();
                (response, false)
            } else {
                calendar_response(
                    StatusCode::OK,
                    body,
                    Some(etag),
                    Some(last_modified_text),
                    gzip,
                )
            }
        }
    };
    let status = response.status().as_u16();
    lock(&state).requests.push(ChannelRequest {
        request: recorded,
        status,
        gzipped,
    });
    response
}

/// If-None-Match wins over If-Modified-Since, as RFC 9110 says.
fn not_modified(request: &RecordedRequest, etag: &str, last_modified: SystemTime) -> bool {
    if let Some(candidates) = request.header("if-none-match") {
        return candidates
            .split(',')
            .map(str::trim)
            .any(|c| c == "*" || c.trim_start_matches("W/") == etag);
    }
    if let Some(since) = request
        .header("if-modified-since")
        .and_then(|s| httpdate::parse_http_date(s).ok())
    {
        // HTTP dates have one-second resolution.
        let modified_secs = last_modified
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let since_secs = since
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        return modified_secs <= since_secs;
    }
    false
}

fn calendar_response(
    status: StatusCode,
    body: Bytes,
    etag: Option<String>,
    last_modified: Option<String>,
    gzip: bool,
) -> (Response, bool) {
    let (body, gzipped) = if gzip {
        match gzip_bytes(&body) {
            Some(compressed) => (Bytes::from(compressed), true),
            None => (body, false),
        }
    } else {
        (body, false)
    };
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/calendar; charset=utf-8"),
    );
    if gzipped {
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    if let Some(etag) = etag.and_then(|e| HeaderValue::from_str(&e).ok()) {
        headers.insert(header::ETAG, etag);
    }
    if let Some(lm) = last_modified.and_then(|l| HeaderValue::from_str(&l).ok()) {
        headers.insert(header::LAST_MODIFIED, lm);
    }
    (response, gzipped)
}

fn gzip_bytes(body: &[u8]) -> Option<Vec<u8>> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(body).ok()?;
    encoder.finish().ok()
}

fn huge_response(size: usize, declare_length: bool) -> Response {
    const CHUNK: usize = 64 * 1024;
    let line = b"X-FILLER:posada huge feed test line padding padding padding padding\r\n";
    let chunk: Vec<u8> = line.iter().copied().cycle().take(CHUNK).collect();
    let chunk = Bytes::from(chunk);
    let full_chunks = size / CHUNK;
    let rest = size % CHUNK;
    let mut pieces: Vec<Bytes> = std::iter::repeat_n(chunk.clone(), full_chunks).collect();
    if rest > 0 {
        pieces.push(chunk.slice(..rest));
    }
    let stream = futures::stream::iter(pieces.into_iter().map(Ok::<_, Infallible>));
    let mut response = Response::new(Body::from_stream(stream));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/calendar; charset=utf-8"),
    );
    if declare_length && let Ok(len) = HeaderValue::from_str(&size.to_string()) {
        headers.insert(header::CONTENT_LENGTH, len);
    }
    response
}
