//! Fetching a channel's iCal feed the way a careful client should: conditional GET (ETag,
//! Last-Modified), a browser-like User-Agent (Airbnb is reported to refuse others), gzip, bounded
//! redirects, a timeout, and a body size limit enforced while streaming so a huge or endless answer
//! never fills memory. Errors carry a kind used as a metric label.

use std::fmt;
use std::time::Duration;

use reqwest::header::{
    ACCEPT, CONTENT_LENGTH, ETAG, HeaderMap, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED,
};

/// The default User-Agent: browser-like, and says who we are.
pub const DEFAULT_USER_AGENT: &str = concat!(
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36 posada/",
    env!("CARGO_PKG_VERSION")
);

/// Limits and manners of the fetcher.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchConfig {
    /// Whole-request timeout, body included.
    pub timeout: Duration,
    /// Largest body accepted (after gzip decoding).
    pub max_bytes: usize,
    /// Redirects followed before giving up.
    pub max_redirects: usize,
    /// User-Agent header.
    pub user_agent: String,
    /// Ask for and decode gzip.
    pub gzip: bool,
}

impl Default for FetchConfig {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(20),
            max_bytes: 5 * 1024 * 1024,
            max_redirects: 5,
            user_agent: DEFAULT_USER_AGENT.to_owned(),
            gzip: true,
        }
    }
}

/// What a fetch brought back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchOutcome {
    /// 304: the feed has not changed since the ETag / Last-Modified we sent.
    NotModified,
    /// A 2xx answer with its body.
    Fetched {
        /// The body (decoded if it came gzipped).
        body: Vec<u8>,
        /// The answer's ETag, to send next time.
        etag: Option<String>,
        /// The answer's Last-Modified, to send next time.
        last_modified: Option<String>,
        /// HTTP status.
        status: u16,
    },
}

/// Why a fetch failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FetchErrorKind {
    /// The timeout passed.
    Timeout,
    /// Could not connect (DNS, refused, TLS handshake).
    Connect,
    /// A non-2xx, non-304 answer.
    HttpStatus(u16),
    /// The body exceeded the size limit.
    TooLarge,
    /// Too many redirects.
    Redirects,
    /// Anything else (bad URL, broken body…).
    Other,
}

/// A failed fetch.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct FetchError {
    /// The class of failure.
    pub kind: FetchErrorKind,
    /// What happened, for the feed's status.
    pub message: String,
}

impl FetchError {
    fn new(kind: FetchErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    /// `timeout`, `connect`, `http_status`, `too_large`, `redirect` or `other`: the metric label.
    pub fn kind_label(&self) -> &'static str {
        match self.kind {
            FetchErrorKind::Timeout => "timeout",
            FetchErrorKind::Connect => "connect",
            FetchErrorKind::HttpStatus(_) => "http_status",
            FetchErrorKind::TooLarge => "too_large",
            FetchErrorKind::Redirects => "redirect",
            FetchErrorKind::Other => "other",
        }
    }

    fn from_transport(err: &reqwest::Error) -> Self {
        let kind = if err.is_timeout() {
            FetchErrorKind::Timeout
        } else if err.is_redirect() {
            FetchErrorKind::Redirects
        } else if err.is_connect() {
            FetchErrorKind::Connect
        } else {
            FetchErrorKind::Other
        };
        // reqwest's Display hides the cause chain; keep it for the operator.
        let mut message = err.to_string();
        let mut source = std::error::Error::source(err);
        while let Some(cause) = source {
            message.push_str(": ");
            message.push_str(&cause.to_string());
            source = cause.source();
        }
        Self::new(kind, message)
    }
}

/// Fetches feeds. Cheap to clone; share one across feeds (it pools connections).
#[derive(Clone)]
pub struct FeedFetcher {
    http: reqwest::Client,
    max_bytes: usize,
}

impl fmt::Debug for FeedFetcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FeedFetcher")
            .field("max_bytes", &self.max_bytes)
            .finish_non_exhaustive()
    }
}

impl FeedFetcher {
    /// Builds the HTTP client for `config`.
    pub fn new(config: FetchConfig) -> Result<Self, FetchError> {
        crate::install_crypto_provider();
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .redirect(reqwest::redirect::Policy::limited(config.max_redirects))
            .user_agent(config.user_agent)
            .gzip(config.gzip)
            .build()
            .map_err(|e| {
                FetchError::new(FetchErrorKind::Other, format!("building HTTP client: {e}"))
            })?;
        Ok(Self {
            http,
            max_bytes: config.max_bytes,
        })
    }

    /// GETs `url`, conditionally when `etag` / `last_modified` from the previous success are given.
    pub async fn fetch(
        &self,
        url: &str,
        etag: Option<&str>,
        last_modified: Option<&str>,
    ) -> Result<FetchOutcome, FetchError> {
        let mut request = self
            .http
            .get(url)
            .header(ACCEPT, "text/calendar, text/plain;q=0.9, */*;q=0.8");
        if let Some(etag) = etag.filter(|e| !e.is_empty()) {
            request = request.header(IF_NONE_MATCH, etag);
        }
        if let Some(last_modified) = last_modified.filter(|l| !l.is_empty()) {
            request = request.header(IF_MODIFIED_SINCE, last_modified);
        }
        let mut response = request
            .send()
            .await
            .map_err(|e| FetchError::from_transport(&e))?;
        let status = response.status();
        if status == reqwest::StatusCode::NOT_MODIFIED {
            return Ok(FetchOutcome::NotModified);
        }
        if !status.is_success() {
            return Err(FetchError::new(
                FetchErrorKind::HttpStatus(status.as_u16()),
                format!("feed answered HTTP {status}"),
            ));
        }
        let headers = response.headers().clone();
        if let Some(declared) = declared_length(&headers)
            && declared > self.max_bytes as u64
        {
            return Err(self.too_large(&format!("declared length {declared}")));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| FetchError::from_transport(&e))?
        {
            if body.len() + chunk.len() > self.max_bytes {
                return Err(self.too_large(&format!(
                    "more than {} bytes received",
                    body.len() + chunk.len()
                )));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(FetchOutcome::Fetched {
            body,
            etag: header_text(&headers, ETAG),
            last_modified: header_text(&headers, LAST_MODIFIED),
            status: status.as_u16(),
        })
    }

    fn too_large(&self, what: &str) -> FetchError {
        FetchError::new(
            FetchErrorKind::TooLarge,
            format!("feed larger than {} bytes: {what}", self.max_bytes),
        )
    }
}

/// Content-Length, unless the body is compressed (then it is the compressed size and says nothing
/// about what decoding will produce; the streaming check covers that case).
fn declared_length(headers: &HeaderMap) -> Option<u64> {
    if headers.contains_key(reqwest::header::CONTENT_ENCODING) {
        return None;
    }
    headers
        .get(CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

fn header_text(headers: &HeaderMap, name: reqwest::header::HeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}
