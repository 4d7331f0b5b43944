//! What every request handler and job handler shares: the database, the settings, the node's
//! draining flag and the metrics exporter.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use metrics_exporter_prometheus::PrometheusHandle;
use posada_db::Db;
use posada_jobs::{EngineHandle, Jobs};

use crate::config::Settings;
use crate::notify::Services;

/// Shared application state. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    db: Db,
    jobs: Jobs,
    settings: Settings,
    draining: AtomicBool,
    metrics: PrometheusHandle,
    engine: Mutex<Option<EngineHandle>>,
    ical: crate::ical_sync::IcalService,
    ops: Arc<crate::http::middleware::Ops>,
    services: Arc<Services>,
    catalog: crate::booking::catalog::Catalog,
    taken: crate::booking::catalog::TakenCache,
}

impl AppState {
    /// Assemble the state.
    pub fn new(db: Db, settings: Settings, metrics: PrometheusHandle) -> AppState {
        let taken = crate::booking::catalog::TakenCache::new(std::time::Duration::from_millis(
            settings.availability_cache_ms,
        ));
        AppState {
            inner: Arc::new(Inner {
                jobs: Jobs::new(db.clone()),
                ical: crate::ical_sync::IcalService::new(&settings),
                ops: Arc::new(crate::http::middleware::Ops::new(&settings)),
                services: Arc::new(Services::from_settings(&settings)),
                db,
                settings,
                draining: AtomicBool::new(false),
                metrics,
                engine: Mutex::new(None),
                catalog: Default::default(),
                taken,
            }),
        }
    }

    /// Accommodations read recently, by slug.
    pub fn catalog(&self) -> &crate::booking::catalog::Catalog {
        &self.inner.catalog
    }

    /// Nights taken, as the public availability calendar reads them.
    pub fn taken_cache(&self) -> &crate::booking::catalog::TakenCache {
        &self.inner.taken
    }

    /// A calendar write (hold, cancellation, expiry, block, channel sync) committed on this node.
    pub fn calendar_changed(&self) {
        self.inner.taken.changed();
    }

    /// The database.
    pub fn db(&self) -> &Db {
        &self.inner.db
    }

    /// The job client (enqueue, cancel, admin queries).
    pub fn jobs(&self) -> &Jobs {
        &self.inner.jobs
    }

    /// The settings this node started with.
    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    /// Whether the node is shutting down (readiness fails while it drains).
    pub fn is_draining(&self) -> bool {
        self.inner.draining.load(Ordering::Relaxed)
    }

    /// Mark the node as draining.
    pub fn start_draining(&self) {
        self.inner.draining.store(true, Ordering::Relaxed);
    }

    /// Keep this node's running job engine (for health and shutdown).
    pub fn set_engine(&self, engine: EngineHandle) {
        *self.engine_slot() = Some(engine);
    }

    /// Take the engine out to shut it down.
    pub fn take_engine(&self) -> Option<EngineHandle> {
        self.engine_slot().take()
    }

    /// Workers alive on this node, `None` when this node runs no engine.
    pub fn engine_workers(&self) -> Option<(usize, bool)> {
        self.engine_slot()
            .as_ref()
            .map(|e| (e.workers_alive(), e.is_running()))
    }

    fn engine_slot(&self) -> std::sync::MutexGuard<'_, Option<EngineHandle>> {
        self.inner.engine.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Outside services: Mercado Pago, WhatsApp, SMTP clients, their circuit breakers, templates.
    pub fn services(&self) -> &Services {
        &self.inner.services
    }

    /// Operations services: rate limiter, trusted proxies, health cache.
    pub fn ops(&self) -> &crate::http::middleware::Ops {
        &self.inner.ops
    }

    /// Channel calendar sync services (the feed fetcher).
    pub fn ical(&self) -> &crate::ical_sync::IcalService {
        &self.inner.ical
    }

    /// The Prometheus exporter.
    pub fn metrics(&self) -> &PrometheusHandle {
        &self.inner.metrics
    }
}
