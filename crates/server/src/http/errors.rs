//! The one place where the application core's errors become HTTP answers.
//!
//! Use cases return [`AppError`] and know nothing of HTTP; handlers write `?` and this module
//! decides the status, the problem type and the members (alternatives for taken dates, the state
//! for a refused move, `Retry-After` when the database or a provider is down). Keeping it in one
//! module keeps the answers consistent: a duplicate is 409 everywhere, a database outage 503
//! everywhere.

use axum::http::StatusCode;
use posada_store::StoreError;

use super::problem::Problem;
use crate::app::AppError;

/// Seconds a client is asked to wait after a database or provider outage.
const OUTAGE_RETRY_AFTER_SECONDS: u64 = 60;

impl From<AppError> for Problem {
    fn from(e: AppError) -> Problem {
        match e {
            AppError::Invalid(errors) => Problem::validation(errors),
            AppError::NotFound(what) => Problem::not_found(what),
            AppError::Duplicate(what) => Problem::conflict(
                "duplicate",
                "Already used",
                format!("that {what} is already used"),
            )
            .with("field", what),
            AppError::DatesTaken(alternatives) => Problem::conflict(
                "dates-taken",
                "The dates are not available",
                "some of the requested nights are already taken",
            )
            .with("alternatives", &*alternatives),
            AppError::HoldExpired => {
                Problem::new(StatusCode::GONE, "hold-expired", "The hold expired").detail(
                    "the pre-reservation expired before it was confirmed; ask for the dates again",
                )
            }
            AppError::IllegalTransition { state, event } => Problem::conflict(
                "illegal-transition",
                "Not allowed in the reservation's current state",
                format!("cannot {event} a reservation that is {state}"),
            )
            .with("state", state),
            AppError::Conflict {
                kind,
                title,
                detail,
            } => Problem::conflict(kind, title, detail),
            AppError::WindowClosed(at) => Problem::conflict(
                "whatsapp-window-closed",
                "WhatsApp's 24 h window is closed",
                format!(
                    "the guest last wrote more than 24 h ago (the window closed at {}); free-form messages are allowed only within 24 h of the guest's last message, so the guest must write first",
                    at.to_rfc3339()
                ),
            )
            .with("window_open_until", at),
            AppError::NotConfigured(what) => Problem::unavailable(what),
            AppError::Refused(why) => Problem::new(
                StatusCode::BAD_GATEWAY,
                "whatsapp-refused",
                "WhatsApp refused the message",
            )
            .detail(why),
            AppError::DatabaseUnavailable => Problem::database_unavailable(),
            AppError::Unavailable(why) => {
                tracing::warn!(error = %why, "request answered 503: a dependency is unavailable");
                Problem::unavailable(why).retry_after(OUTAGE_RETRY_AFTER_SECONDS)
            }
            AppError::Internal(e) if crate::app::error::is_outage_in(&e) => {
                Problem::database_unavailable()
            }
            AppError::Internal(e) => Problem::internal(format!("{e:#}")),
        }
    }
}

impl Problem {
    /// 503 with `Retry-After` for a database outage. Not logged here: the response carries
    /// [`DatabaseOutage`], and the middleware tells the node's
    /// [`crate::app::health::DatabaseReachability`], which logs the outage once.
    pub fn database_unavailable() -> Problem {
        Problem::unavailable("the database is unavailable, try again later")
            .retry_after(OUTAGE_RETRY_AFTER_SECONDS)
            .database_outage()
    }
}

/// Marks a response refused because the database is unreachable.
#[derive(Debug, Clone, Copy)]
pub struct DatabaseOutage;

impl From<StoreError> for Problem {
    fn from(e: StoreError) -> Problem {
        AppError::from(e).into()
    }
}

/// Middleware: a response refused for a database outage tells the node's
/// [`crate::app::health::DatabaseReachability`], which logs the outage once (not once a request).
pub async fn note_database_outages(
    axum::extract::State(state): axum::extract::State<crate::state::AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let response = next.run(req).await;
    if response.extensions().get::<DatabaseOutage>().is_some() {
        state.database().unreachable();
    }
    response
}
