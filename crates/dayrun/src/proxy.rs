//! A TCP proxy between the posada processes and PostgreSQL that the harness can switch to refuse:
//! every open connection is cut and new ones are closed as soon as they are accepted, the way a
//! database that went away looks to its clients.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;

/// The running proxy. Dropping it stops accepting (open connections end with their tasks).
pub struct Proxy {
    addr: SocketAddr,
    refusing: Arc<AtomicBool>,
    links: Arc<Mutex<Vec<AbortHandle>>>,
    accept: AbortHandle,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut_all();
    }
}

impl Proxy {
    /// Listens on 127.0.0.1 (a free port) and forwards to `upstream`.
    pub async fn start(upstream: SocketAddr) -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let refusing = Arc::new(AtomicBool::new(false));
        let links: Arc<Mutex<Vec<AbortHandle>>> = Arc::default();
        let (r, l) = (refusing.clone(), links.clone());
        let accept = tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    continue;
                };
                if r.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let task = tokio::spawn(async move {
                    let Ok(mut server) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    let mut client = client;
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                });
                let mut links = lock(&l);
                links.retain(|h| !h.is_finished());
                links.push(task.abort_handle());
            }
        })
        .abort_handle();
        Ok(Self {
            addr,
            refusing,
            links,
            accept,
        })
    }

    /// Where posada connects.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Cut every connection and refuse new ones until [`Self::accept`].
    pub fn refuse(&self) {
        self.refusing.store(true, Ordering::SeqCst);
        self.cut_all();
    }

    /// Forward again.
    pub fn accept(&self) {
        self.refusing.store(false, Ordering::SeqCst);
    }

    fn cut_all(&self) {
        for link in lock(&self.links).drain(..) {
            link.abort();
        }
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
