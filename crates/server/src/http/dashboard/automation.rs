//! Automatización: periodic tasks and jobs, for a person.

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::post;

use super::session::{NoFields, OwnerForm};
use crate::http::{Path, Problem};
use crate::state::AppState;

/// This section's templates (name, source), registered by `render`.
pub const TEMPLATES: &[(&str, &str)] = &[];

/// This section's routes.
pub fn routes() -> Router<AppState> {
    Router::new().route("/dashboard/tasks/{name}/run", post(run_task))
}

/// `POST /dashboard/tasks/{name}/run`: ask the scheduler to run a periodic task now.
pub async fn run_task(
    State(state): State<AppState>,
    Path(name): Path<String>,
    _: OwnerForm<NoFields>,
) -> Result<Response, Problem> {
    let found = state
        .jobs()
        .admin()
        .periodic_run_now(&name)
        .await
        .map_err(crate::app::AppError::from)?;
    if !found {
        return Err(Problem::not_found("periodic task"));
    }
    tracing::info!(task = %name, "periodic task run requested from the dashboard");
    Ok(Redirect::to("/dashboard").into_response())
}
