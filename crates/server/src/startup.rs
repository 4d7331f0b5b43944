//! Building and running the application: the HTTP server, the job workers and the scheduler in
//! one process (`serve`), or workers and scheduler alone (`worker`).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::OnceLock;
use std::time::Duration;

use anyhow::Context;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use posada_db::{ConnectOptions, Db};
use tokio::net::TcpListener;

use crate::app::{Clock, SystemClock};
use crate::config::Settings;
use crate::state::AppState;

/// The process-wide metrics recorder (installed once; later calls reuse it).
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new();
            // Real histograms (not summaries) for every `_seconds` family.
            let builder = builder
                .set_buckets(crate::http::metrics::SECONDS_BUCKETS)
                .unwrap_or_else(|_| PrometheusBuilder::new());
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            // Another recorder may already be installed (tests): keep ours for rendering anyway.
            let _ = metrics::set_global_recorder(recorder);
            crate::http::metrics::describe_all();
            handle
        })
        .clone()
}

/// Open the database named by the settings and apply pending migrations.
pub async fn open_database(settings: &Settings) -> anyhow::Result<Db> {
    let db = Db::connect(
        &settings.database_url,
        &ConnectOptions {
            max_connections: settings.db_max_connections,
            ..ConnectOptions::default()
        },
    )
    .await?;
    let ran = crate::migrations::run(&db)
        .await
        .context("applying database migrations")?;
    if ran > 0 {
        tracing::info!(migrations.applied = ran, "database migrated");
    }
    Ok(db)
}

/// What to run in this process.
#[derive(Debug, Clone, Copy)]
pub struct Roles {
    /// Serve HTTP.
    pub http: bool,
    /// Run job workers (and the scheduler when enabled in settings).
    pub workers: bool,
}

/// A built application, ready to run.
pub struct Application {
    state: AppState,
    listener: Option<TcpListener>,
    roles: Roles,
}

impl Application {
    /// Connect, migrate, bind the listener (port 0 picks a free port).
    pub async fn build(
        settings: Settings,
        listen: Option<SocketAddr>,
        roles: Roles,
    ) -> anyhow::Result<Application> {
        Self::build_with_clock(settings, listen, roles, Arc::new(SystemClock)).await
    }

    /// [`Application::build`] on `clock` (tests hand in a [`crate::app::ManualClock`]).
    pub async fn build_with_clock(
        settings: Settings,
        listen: Option<SocketAddr>,
        roles: Roles,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<Application> {
        let db = open_database(&settings).await?;
        let state = AppState::with_clock(db, settings.clone(), metrics_handle(), clock);
        // Every metric family visible from the first scrape (issue 16).
        crate::http::metrics::register_known(&state).await;
        let listener = if roles.http {
            let addr = match listen {
                Some(a) => a,
                None => settings.listen_addr()?,
            };
            Some(TcpListener::bind(addr).await.with_context(|| {
                format!("cannot listen on {addr} (setting POSADA_LISTEN or --listen)")
            })?)
        } else {
            None
        };
        Ok(Application {
            state,
            listener,
            roles,
        })
    }

    /// The bound HTTP address, if serving HTTP.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.listener.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// The shared state (tests use it to reach the database).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Run until `shutdown` resolves, then drain: stop accepting, finish in-flight requests and
    /// jobs within the soft timeout.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let state = self.state.clone();
        let grace = Duration::from_secs(state.settings().shutdown_timeout_seconds);
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        // The engine first: its periodic tasks are registered before the first request can ask
        // for them.
        if self.roles.workers {
            let engine = crate::jobs::register(
                posada_jobs::Engine::new(
                    state.jobs().clone(),
                    state.clone(),
                    crate::jobs::engine_config(&state),
                ),
                &state,
            )?
            .start()
            .await
            .context("starting the job engine")?;
            tracing::info!(
                node = engine.node_id(),
                scheduler = state.settings().enable_scheduled_tasks,
                "job engine started"
            );
            state.set_engine(engine);
        }
        // Changes committed on other nodes (PostgreSQL) reach this node's caches and live pages.
        let relay = {
            let remote = state.clone();
            crate::app::events::relay(state.db().clone(), state.events(), move |e| {
                remote.publish_remote(e)
            })
            .await
            .context("listening to the other nodes' changes")?
            .unwrap_or_default()
        };
        let http = self.listener.map(|listener| {
            let mut rx = stop_rx.clone();
            tracing::info!(listen = %listener.local_addr().map(|a| a.to_string()).unwrap_or_default(), "http server listening");
            tokio::spawn(crate::http::serve(listener, state.clone(), async move {
                let _ = rx.wait_for(|s| *s).await;
            }))
        });
        shutdown.await;
        tracing::info!(grace_s = grace.as_secs(), "shutting down: draining");
        state.start_draining();
        // Keep serving with /readyz failing so load balancers stop sending traffic first.
        let drain_delay = Duration::from_secs(state.settings().shutdown_drain_delay_seconds);
        if http.is_some() && !drain_delay.is_zero() {
            tokio::time::sleep(drain_delay).await;
        }
        let _ = stop_tx.send(true);
        if let Some(http) = http {
            match tokio::time::timeout(grace, http).await {
                Ok(Ok(Ok(()))) => {}
                Ok(Ok(Err(e))) => tracing::error!(error = %e, "http server stopped with an error"),
                Ok(Err(e)) => tracing::error!(error = %e, "http server task failed"),
                Err(_) => tracing::warn!("http requests still running after the grace period"),
            }
        }
        if let Some(engine) = state.take_engine() {
            engine.shutdown().await;
        }
        relay.iter().for_each(|task| task.abort());
        state.db().close().await;
        tracing::info!("stopped");
        Ok(())
    }
}

/// Resolves on SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
