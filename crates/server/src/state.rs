//! What every entry point and use case shares: the database, the job client, the settings, the
//! clock, the committed-change events, the node's draining flag and the metrics exporter.
//!
//! An entry point that needs state of its own per application (the HTTP layer's rate limiter and
//! health cache) keeps it in [`AppState::entry_state`], opaque to the core.

use std::any::Any;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use chrono::{DateTime, NaiveDate, Utc};

use metrics_exporter_prometheus::PrometheusHandle;
use posada_db::Db;
use posada_jobs::{EngineHandle, Jobs};

use crate::app::catalog::{Catalog, TakenCache};
use crate::app::{Clock, Event, Events, SystemClock};
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
    ical: crate::app::channels::IcalService,
    entry: OnceLock<Box<dyn Any + Send + Sync>>,
    services: Arc<Services>,
    catalog: Catalog,
    taken: TakenCache,
    clock: Arc<dyn Clock>,
    events: Events,
    database: crate::app::health::DatabaseReachability,
    links: crate::app::guest_links::LinkKey,
}

impl AppState {
    /// Assemble the state, on the machine's clock.
    pub fn new(db: Db, settings: Settings, metrics: PrometheusHandle) -> AppState {
        AppState::with_clock(db, settings, metrics, Arc::new(SystemClock))
    }

    /// Assemble the state on `clock` (tests hand in a clock they can move).
    pub fn with_clock(
        db: Db,
        settings: Settings,
        metrics: PrometheusHandle,
        clock: Arc<dyn Clock>,
    ) -> AppState {
        let taken = TakenCache::new(std::time::Duration::from_millis(
            settings.availability_cache_ms,
        ));
        AppState {
            inner: Arc::new(Inner {
                jobs: Jobs::new(db.clone()),
                ical: crate::app::channels::IcalService::new(&settings),
                entry: OnceLock::new(),
                services: Arc::new(Services::from_settings(&settings)),
                db,
                settings,
                draining: AtomicBool::new(false),
                metrics,
                engine: Mutex::new(None),
                catalog: Default::default(),
                taken,
                clock,
                events: Events::new(),
                database: Default::default(),
                links: Default::default(),
            }),
        }
    }

    /// The current instant, by the application's clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.inner.clock.now()
    }

    /// The owner's local date today (`TIMEZONE`), by the application's clock.
    pub fn today(&self) -> NaiveDate {
        crate::app::clock::local_date(self.now(), self.settings().tz())
    }

    /// Accommodations read recently, by slug.
    pub fn catalog(&self) -> &Catalog {
        &self.inner.catalog
    }

    /// Nights taken, as the public availability calendar reads them.
    pub fn taken_cache(&self) -> &TakenCache {
        &self.inner.taken
    }

    /// Announce a committed change: the node's caches react, then every subscriber hears it.
    pub fn publish(&self, event: Event) {
        if let Event::CalendarChanged { .. } = event {
            self.inner.taken.changed();
        }
        self.inner.events.publish(event);
    }

    /// Announce a change another node committed (told through PostgreSQL): the node's caches
    /// react and subscribers hear it, but it is not told again. `None`: changes may have been
    /// missed (the connection was lost); caches are dropped and live pages catch up.
    pub fn publish_remote(&self, event: Option<Event>) {
        match event {
            Some(event) => {
                if let Event::CalendarChanged { .. } = event {
                    self.inner.taken.changed();
                }
                self.inner.events.publish_remote(event);
            }
            None => {
                self.inner.taken.changed();
                self.inner.events.resync();
            }
        }
    }

    /// The committed changes, for live pages.
    pub fn events(&self) -> &Events {
        &self.inner.events
    }

    /// The per-application state of an entry point, made by `init` on first use. `None` only if
    /// another type was stored first (one entry point, one type).
    pub fn entry_state<T: Any + Send + Sync>(&self, init: impl FnOnce() -> T) -> Option<&T> {
        self.inner
            .entry
            .get_or_init(|| Box::new(init()))
            .downcast_ref::<T>()
    }

    /// The key that signs guests' reservation links (read or made on first use).
    pub fn links(&self) -> &crate::app::guest_links::LinkKey {
        &self.inner.links
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

    /// Channel calendar sync services (the feed fetcher).
    pub fn ical(&self) -> &crate::app::channels::IcalService {
        &self.inner.ical
    }

    /// The Prometheus exporter.
    pub fn metrics(&self) -> &PrometheusHandle {
        &self.inner.metrics
    }

    /// Whether requests find the database reachable (outage transitions logged once).
    pub fn database(&self) -> &crate::app::health::DatabaseReachability {
        &self.inner.database
    }
}
