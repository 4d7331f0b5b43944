//! The middleware stack every route runs behind, in one place and in order, and the services it
//! needs ([`Ops`]: rate limiter, trusted proxies, health cache).
//!
//! Outermost first: trace id (so every log line, even of a refused request, carries it) →
//! security headers → HTTP metrics (sees the final status, including 413/429/503) → database
//! outages noted once per transition → problem+json for bare errors → a panic becomes a 500 problem → CORS → client address → the guest's access
//! token in canonical form → rate limit → request timeout → body limit → idempotency → the route.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use ipnet::IpNet;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::timeout::TimeoutLayer;

use super::{idempotency, metrics, ratelimit, security, trace};
use crate::config::Settings;
use crate::state::AppState;

/// Operations services shared by the middleware and the health check.
pub struct Ops {
    /// The rate limiter (in-process or Redis).
    pub limiter: ratelimit::RateLimiter,
    /// `TRUSTED_PROXIES`, parsed.
    pub trusted_proxies: Vec<IpNet>,
    /// The slower health checks, cached for about a second.
    pub health_cache: Mutex<Option<(Instant, super::health::Status, serde_json::Value)>>,
    /// Held by the one request refreshing `health_cache`.
    pub health_refresh: tokio::sync::Mutex<()>,
    /// Dashboard passwords checked with argon2 by this node (what the login lockout bounds).
    password_checks: AtomicU64,
}

/// The HTTP layer's per-application state, kept in the application state for it.
pub trait OpsExt {
    /// Rate limiter, trusted proxies, health cache.
    fn ops(&self) -> &Ops;
}

impl OpsExt for AppState {
    fn ops(&self) -> &Ops {
        static FALLBACK: std::sync::LazyLock<Ops> =
            std::sync::LazyLock::new(|| Ops::new(&Settings::default()));
        self.entry_state(|| Ops::new(self.settings()))
            .unwrap_or(&FALLBACK)
    }
}

impl Ops {
    /// Build from settings (validated).
    pub fn new(settings: &Settings) -> Ops {
        Ops {
            limiter: ratelimit::RateLimiter::new(settings),
            trusted_proxies: security::parse_proxies(&settings.trusted_proxies).unwrap_or_default(),
            health_cache: Mutex::new(None),
            health_refresh: tokio::sync::Mutex::new(()),
            password_checks: AtomicU64::new(0),
        }
    }

    /// Count one dashboard password checked with argon2.
    pub fn count_password_check(&self) {
        self.password_checks.fetch_add(1, Ordering::Relaxed);
        ::metrics::counter!("dashboard_password_checks_total").increment(1);
    }

    /// Dashboard passwords checked with argon2 by this node since it started.
    pub fn password_checks(&self) -> u64 {
        self.password_checks.load(Ordering::Relaxed)
    }
}

/// Put the whole stack around `routes`.
pub fn stack(routes: Router<AppState>, state: &AppState) -> Router<AppState> {
    let settings = state.settings();
    let timeout = Duration::from_secs(settings.request_timeout_seconds);
    // Applied bottom-up by `Router::layer`; ServiceBuilder lists them outermost first.
    let inner = ServiceBuilder::new()
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            security::resolve_client,
        ))
        .layer(axum::middleware::from_fn(security::canonical_access_token))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            ratelimit::limit,
        ))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            timeout,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            security::limit_body,
        ))
        // Our own limit replaces axum's default 2 MB (media routes get more).
        .layer(DefaultBodyLimit::disable())
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            idempotency::idempotency,
        ));
    let routes = routes.layer(inner);
    let routes = match security::cors(settings) {
        Some(cors) => routes.layer(cors),
        None => routes,
    };
    routes.layer(
        ServiceBuilder::new()
            .layer(axum::middleware::from_fn(trace::trace_id))
            .layer(axum::middleware::from_fn_with_state(
                state.clone(),
                security::security_headers,
            ))
            .layer(axum::middleware::from_fn(metrics::track))
            .layer(axum::middleware::from_fn_with_state(
                state.clone(),
                super::errors::note_database_outages,
            ))
            .layer(axum::middleware::from_fn(security::problem_for_bare_errors))
            .layer(CatchPanicLayer::custom(security::panic_response)),
    )
}
