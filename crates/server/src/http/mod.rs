//! The HTTP surface: one router, one middleware stack, one file per group of routes.

pub mod admin;
pub mod admin_conversations;
pub mod admin_jobs;
pub mod api;
pub mod auth;
pub mod connections;
pub mod dashboard;
pub mod errors;
pub mod guest;
pub mod health;
pub mod html;
pub mod ical;
pub mod idempotency;
pub mod json;
pub mod metrics;
pub mod middleware;
pub mod openapi;
pub mod problem;
pub mod ratelimit;
pub mod security;
pub mod trace;
pub mod webhooks;

use axum::Router;
use axum::routing::get;

use crate::state::AppState;

pub use auth::Admin;
pub use json::{Json, Path, Query};
pub use problem::{FieldError, Problem};

/// Serve the whole router on `listener` with the connection limits (header-read timeout, caps)
/// until `shutdown` resolves, then drain open connections.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use middleware::OpsExt;
    let limits =
        connections::Limits::from_settings(state.settings(), state.ops().trusted_proxies.clone());
    connections::serve(listener, router(state), limits, shutdown).await
}

/// Build the whole router.
pub fn router(state: AppState) -> Router {
    let routes = Router::new()
        // The owner's way in (the guest booking page will take `/` once it exists).
        .route(
            "/",
            get(|| async { axum::response::Redirect::to("/dashboard") }),
        )
        .route("/api/v1/healthz", get(health::healthz))
        .route("/api/v1/readyz", get(health::readyz))
        .route("/api/v1/livez", get(health::livez))
        .merge(openapi::routes())
        .merge(api::routes())
        .merge(admin::routes())
        .merge(webhooks::routes())
        .route("/metrics", get(metrics::render))
        .merge(admin_jobs::routes())
        .merge(admin_conversations::routes())
        .merge(dashboard::routes())
        .merge(ical::routes())
        .merge(guest::routes())
        .fallback(|| async { Problem::not_found("route") });
    // The middleware stack (order and contents) lives in `middleware::stack`.
    middleware::stack(routes, &state).with_state(state)
}
