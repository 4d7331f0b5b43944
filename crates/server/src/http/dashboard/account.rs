//! Cuenta: the owner's password.

use axum::Router;

use crate::state::AppState;

/// This section's templates (name, source), registered by `render`.
pub const TEMPLATES: &[(&str, &str)] = &[];

/// This section's routes.
pub fn routes() -> Router<AppState> {
    Router::new()
}
