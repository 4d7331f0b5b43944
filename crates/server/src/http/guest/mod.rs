//! The guests' pages, server-rendered in Spanish from the same binary: the booking pages
//! (`/reservar`, `/reservar/{slug}`), the embeddable widget (`/reservar/{slug}/widget`,
//! `/widget.js`), and the reservation page (`/reservas/{code}?t={token}`) where Mercado Pago's
//! return URLs land.
//!
//! Handlers only translate: every read and write is a use case of the application core
//! (`app::booking`, `app::payments`, `app::guest_links`), the same ones the JSON API calls, so the
//! public rate limit and the double-booking guard apply exactly as there. Forms work without
//! JavaScript; POSTs carry a signed, time-limited token and must come from our own origin (CSRF).
//! Templates (minijinja, HTML auto-escaped) and the CSS and JS are compiled into the binary.

mod pages;
mod render;

use axum::Router;
use axum::routing::get;

use crate::state::AppState;

pub use render::widget_snippet;

/// The guest pages' routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/reservar", get(pages::index))
        .route("/reservar/{slug}", get(pages::unit).post(pages::book))
        .route("/reservar/{slug}/widget", get(pages::widget))
        .route("/reservas/{code}", get(pages::reservation))
        .route(
            "/reservas/{code}/cancelar",
            axum::routing::post(pages::cancel),
        )
        .route("/widget.js", get(render::widget_js))
        .route("/static/guest.css", get(render::css))
        .route("/static/guest.js", get(render::js))
}
