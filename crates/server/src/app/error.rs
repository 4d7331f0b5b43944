//! What a use case can answer besides success, with no HTTP in it.
//!
//! Every use case of the application core returns [`AppError`] (crates.io's `util/errors` shape):
//! the variants say what the caller must know — a field is wrong, a thing is missing or taken, the
//! move is not allowed now, the database is unreachable — and `http::errors` is the one place that
//! turns them into problem+json. Storage errors are translated here, once, so a duplicate, a
//! missing row or a reference still in use never reaches a client as a 500.

use posada_domain::ValidationErrors;
use posada_store::StoreError;
use serde::Serialize;

use super::booking::Alternatives;

/// One field at fault, named as the caller wrote it (`check_in`, `guest.email`).
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct FieldError {
    /// The field.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

impl FieldError {
    /// A field error.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> FieldError {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Why a use case did not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Fields at fault.
    #[error("invalid input: {0:?}")]
    Invalid(Vec<FieldError>),
    /// No such thing (accommodation, reservation, block, feed, conversation, …).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A unique value (slug, URL, key) is already used; names the field.
    #[error("{0} is already used")]
    Duplicate(&'static str),
    /// The nights are taken; the nearest free alternatives attached.
    #[error("the dates are taken")]
    DatesTaken(Box<Alternatives>),
    /// The hold ran out before it was confirmed.
    #[error("the hold expired")]
    HoldExpired,
    /// The move is not allowed from the reservation's current state.
    #[error("cannot {event} a reservation that is {state}")]
    IllegalTransition {
        /// Current state.
        state: &'static str,
        /// Attempted move.
        event: &'static str,
    },
    /// The request cannot be done in the current state of things (a closed messaging window, a
    /// missing integration, …): `kind` is a stable slug, `detail` says what to do.
    #[error("{detail}")]
    Conflict {
        /// Stable slug (`window-closed`, `not-configured`, …).
        kind: &'static str,
        /// Short summary.
        title: &'static str,
        /// What happened and what to do.
        detail: String,
    },
    /// WhatsApp's 24 h window after the guest's last message closed at this instant: free-form
    /// messages must wait for the guest to write.
    #[error("the 24 h window closed at {0}")]
    WindowClosed(chrono::DateTime<chrono::Utc>),
    /// The integration the use case needs is not configured (says which settings to set).
    #[error("{0}")]
    NotConfigured(String),
    /// An outside service refused the request for good.
    #[error("{0}")]
    Refused(String),
    /// An outside service (WhatsApp, Mercado Pago) cannot be reached now: try again later.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// The database cannot be reached now (refused connections, a closed pool, a pool timeout):
    /// try again later. Not logged per request: the node logs the outage's start and end once
    /// ([`crate::app::health::DatabaseReachability`]).
    #[error("the database is unavailable")]
    DatabaseUnavailable,
    /// Anything else (a bug, corrupt data): logged once where it is answered.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl AppError {
    /// One field at fault.
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> AppError {
        AppError::Invalid(vec![FieldError::new(field, message)])
    }

    /// An internal error with a message.
    pub fn internal(message: impl std::fmt::Display) -> AppError {
        AppError::Internal(anyhow::anyhow!("{message}"))
    }
}

/// Whether a database error means the database cannot be reached (rather than a bad statement):
/// such failures are answered "try again" instead of "internal error".
pub fn is_outage(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => true,
        // A server (or a proxy in front of it) that accepts the connection and closes it at once:
        // sqlx reads the end of the stream as a zero answer byte to its SSLRequest and reports a
        // protocol error instead of an I/O one.
        sqlx::Error::Protocol(message) => {
            message.contains("unexpected response from SSLRequest: 0x00")
        }
        _ => false,
    }
}

/// Whether any cause in `e`'s chain is a database outage (see [`is_outage`]): a storage or job
/// error that reached a handler as `anyhow` is still answered 503.
pub fn is_outage_in(e: &anyhow::Error) -> bool {
    e.chain()
        .any(|cause| match cause.downcast_ref::<sqlx::Error>() {
            Some(e) => is_outage(e),
            None => match cause.downcast_ref::<StoreError>() {
                Some(StoreError::Sqlx(e)) => is_outage(e),
                _ => false,
            },
        })
}

impl AppError {
    /// Whether the database gave up this transaction because of a concurrent one (PostgreSQL's
    /// deadlock `40P01` or serialization failure `40001`): running the unit of work again is the
    /// answer, never an error for the caller.
    pub fn is_transient(&self) -> bool {
        let AppError::Internal(e) = self else {
            return false;
        };
        e.chain().any(|cause| {
            let db = match cause.downcast_ref::<sqlx::Error>() {
                Some(sqlx::Error::Database(db)) => Some(db.code()),
                _ => match cause.downcast_ref::<StoreError>() {
                    Some(StoreError::Sqlx(sqlx::Error::Database(db))) => Some(db.code()),
                    _ => None,
                },
            };
            matches!(db, Some(Some(code)) if code == "40P01" || code == "40001")
        })
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => AppError::NotFound(what),
            StoreError::Duplicate(what) => AppError::Duplicate(what),
            StoreError::Overlap => AppError::DatesTaken(Box::default()),
            StoreError::Sqlx(e) => e.into(),
            other => AppError::Internal(other.into()),
        }
    }
}

impl From<sqlx::Error> for AppError {
    fn from(e: sqlx::Error) -> Self {
        if is_outage(&e) {
            tracing::debug!(error = %e, "the database is unreachable");
            AppError::DatabaseUnavailable
        } else {
            match StoreError::from(e) {
                StoreError::Sqlx(e) => AppError::Internal(e.into()),
                translated => translated.into(),
            }
        }
    }
}

impl From<posada_jobs::JobsError> for AppError {
    fn from(e: posada_jobs::JobsError) -> Self {
        let e = anyhow::Error::from(e);
        if is_outage_in(&e) {
            AppError::DatabaseUnavailable
        } else {
            AppError::Internal(e)
        }
    }
}

impl From<serde_json::Error> for AppError {
    fn from(e: serde_json::Error) -> Self {
        AppError::Internal(anyhow::anyhow!("serializing: {e}"))
    }
}

impl From<ValidationErrors> for AppError {
    fn from(errors: ValidationErrors) -> Self {
        AppError::Invalid(
            errors
                .0
                .into_iter()
                .map(|e| FieldError::new(e.field, e.message))
                .collect(),
        )
    }
}
