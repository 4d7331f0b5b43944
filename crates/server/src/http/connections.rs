//! The HTTP server loop: accepting connections and handing them to hyper, with the limits that
//! keep slow or hostile clients from taking the server down.
//!
//! `axum::serve` has no header-read timeout and no connection cap: 1,100 connections that never
//! finished their headers used every file descriptor and every request timed out. Here a
//! connection must send a whole request head within `HTTP_HEADER_READ_TIMEOUT_SECONDS` of opening
//! (or of its previous response), at most `HTTP_MAX_CONNECTIONS` are served at once (more wait in
//! the kernel's backlog until a slot frees up), and one client address holds at most
//! `HTTP_MAX_CONNECTIONS_PER_IP` (a reverse proxy carries many clients on its connections, so
//! loopback peers — a proxy on the same host — and `TRUSTED_PROXIES` are exempt). An
//! accept error (out of file descriptors) pauses accepting briefly instead of ending the loop.
//! HTTP/1.1 only: HTTP/2's connection preface would have to be read before any header timeout
//! applies.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use ipnet::IpNet;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt;

use crate::config::Settings;

/// How long accepting pauses after an accept error (usually: out of file descriptors).
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(50);

/// The limits of the server loop.
#[derive(Debug, Clone)]
pub struct Limits {
    /// A connection must send a whole request head within this.
    pub header_read_timeout: Duration,
    /// Connections served at once.
    pub max_connections: usize,
    /// Connections one client address may hold.
    pub max_connections_per_ip: usize,
    /// Peers exempt from the per-address cap.
    pub exempt_from_per_ip: Vec<IpNet>,
}

impl Limits {
    /// From the (validated) settings: loopback and `TRUSTED_PROXIES` are exempt from the
    /// per-address cap.
    pub fn from_settings(settings: &Settings, trusted_proxies: Vec<IpNet>) -> Limits {
        let mut exempt = trusted_proxies;
        exempt.extend(
            ["127.0.0.0/8", "::1/128"]
                .iter()
                .filter_map(|n| n.parse::<IpNet>().ok()),
        );
        Limits {
            header_read_timeout: Duration::from_secs(settings.http_header_read_timeout_seconds),
            max_connections: settings.http_max_connections.max(1),
            max_connections_per_ip: settings.http_max_connections_per_ip.max(1),
            exempt_from_per_ip: exempt,
        }
    }
}

/// Open connections per client address.
#[derive(Default)]
struct PerIp {
    open: Mutex<HashMap<IpAddr, usize>>,
}

/// One connection counted against its address; uncounted when dropped.
struct IpSlot {
    per_ip: Arc<PerIp>,
    ip: IpAddr,
}

impl PerIp {
    fn take(self: &Arc<Self>, ip: IpAddr, max: usize) -> Option<IpSlot> {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let n = open.entry(ip).or_insert(0);
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(IpSlot {
            per_ip: Arc::clone(self),
            ip,
        })
    }
}

impl Drop for IpSlot {
    fn drop(&mut self) {
        let mut open = self.per_ip.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = open.get_mut(&self.ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

/// Serve `app` on `listener` until `shutdown` resolves, then stop accepting and wait for the open
/// connections to finish their requests (the caller bounds that wait).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let per_ip = Arc::new(PerIp::default());
    let graceful = GracefulShutdown::new();
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    let mut last_accept_error_log: Option<Instant> = None;
    tokio::pin!(shutdown);
    loop {
        // A free slot first: beyond the cap, clients wait in the backlog instead of holding a
        // file descriptor here.
        let slot = tokio::select! {
            slot = Arc::clone(&slots).acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                metrics::counter!("http_accept_errors_total").increment(1);
                if last_accept_error_log.is_none_or(|at| at.elapsed() > Duration::from_secs(10)) {
                    last_accept_error_log = Some(Instant::now());
                    tracing::warn!(error = %e, "cannot accept connections; pausing briefly");
                }
                drop(slot);
                tokio::select! {
                    () = tokio::time::sleep(ACCEPT_ERROR_PAUSE) => continue,
                    () = &mut shutdown => break,
                }
            }
        };
        let ip = peer.ip().to_canonical();
        let exempt = limits.exempt_from_per_ip.iter().any(|n| n.contains(&ip));
        let ip_slot = if exempt {
            None
        } else {
            match per_ip.take(ip, limits.max_connections_per_ip) {
                Some(s) => Some(s),
                None => {
                    metrics::counter!("http_connections_refused_total", "reason" => "per_ip")
                        .increment(1);
                    tracing::debug!(client = %ip, "too many connections from one address; closed");
                    drop(stream);
                    continue;
                }
            }
        };
        let _ = stream.set_nodelay(true);
        let connection = builder.serve_connection(TokioIo::new(stream), service(app.clone(), peer));
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
            drop(ip_slot);
            drop(slot);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// The router as a hyper service for one connection, with its peer address as `ConnectInfo`.
fn service(
    app: Router,
    peer: SocketAddr,
) -> impl hyper::service::Service<
    hyper::Request<hyper::body::Incoming>,
    Response = axum::response::Response,
    Error = std::convert::Infallible,
    Future = impl Future<Output = Result<axum::response::Response, std::convert::Infallible>> + Send,
> + Clone {
    hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
        req.extensions_mut().insert(ConnectInfo(peer));
        app.clone().oneshot(req.map(axum::body::Body::new))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_and_trusted_proxies_are_exempt_from_the_per_address_cap() {
        let trusted = vec!["10.0.0.0/8".parse().unwrap()];
        let limits = Limits::from_settings(&Settings::default(), trusted);
        let exempt = |ip: &str| {
            let ip: IpAddr = ip.parse().unwrap();
            limits.exempt_from_per_ip.iter().any(|n| n.contains(&ip))
        };
        assert!(exempt("127.0.0.1"));
        assert!(exempt("::1"));
        assert!(exempt("10.1.2.3"));
        assert!(!exempt("203.0.113.7"));
        assert_eq!(limits.max_connections_per_ip, 64);
    }
}
