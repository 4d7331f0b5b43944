//! The owner's web app, server-rendered in Spanish from the same binary, under `/dashboard`.
//!
//! - [`session`]: login, logout, the session and CSRF checks every page and form goes through
//!   (pages take an [`Owner`], forms an [`OwnerForm`]).
//! - [`render`]: the embedded templates (`templates/dashboard/`), the shared layout and menu,
//!   the CSS and JS.
//! - [`live`]: the Server-Sent Events stream live pages refresh from.
//! - One module per section, each with its `routes()` and its `TEMPLATES`: [`today`] (Hoy),
//!   [`calendar`], [`reservations`], [`units`] (Alojamientos y precios), [`channels`],
//!   [`conversations`], [`automation`], [`account`].
//!
//! Handlers only translate: every read and write is a use case of the application core or a
//! store query, the same ones the admin API uses. Pages work without JavaScript; the embedded
//! `dashboard.js` adds live updates.

pub mod account;
pub mod automation;
pub mod calendar;
pub mod channels;
pub mod conversations;
pub mod live;
pub mod render;
pub mod reservations;
pub mod session;
pub mod today;
pub mod units;

use axum::Router;
use axum::routing::get;

use crate::state::AppState;

pub use session::{
    COOKIE, LOCKOUT_MINUTES, LOGIN_CSRF_COOKIE, MAX_FAILURES, NoFields, Owner, OwnerForm,
    SESSION_HOURS, hash_password, session_cookie,
};

/// The owner app's routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .merge(session::routes())
        .route("/dashboard/events", get(live::events))
        .route("/static/dashboard.css", get(render::css))
        .route("/static/dashboard.js", get(render::js))
        .merge(today::routes())
        .merge(calendar::routes())
        .merge(reservations::routes())
        .merge(units::routes())
        .merge(channels::routes())
        .merge(conversations::routes())
        .merge(automation::routes())
        .merge(account::routes())
}
