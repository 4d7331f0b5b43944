//! The job engine over HTTP for operators (admin API tokens): periodic tasks (see, run now,
//! pause, resume), jobs (list with filters and pagination, one with its error history, retry,
//! cancel, counts) and queues (pause, resume). The same operations as `posada jobs …`, through
//! the engine's [`posada_jobs::Admin`], so no running engine is needed on this node.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use posada_jobs::{JobState, JobsError, ListFilter, Page};
use serde::Deserialize;
use serde_json::json;

use super::{Admin, Path, Problem, Query};
use crate::state::AppState;

/// The routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/admin/tasks", get(tasks))
        .route("/api/v1/admin/tasks/{name}/run", post(task_run))
        .route("/api/v1/admin/tasks/{name}/pause", post(task_pause))
        .route("/api/v1/admin/tasks/{name}/resume", post(task_resume))
        .route("/api/v1/admin/jobs", get(jobs))
        .route("/api/v1/admin/jobs/stats", get(stats))
        .route("/api/v1/admin/jobs/{id}", get(job))
        .route("/api/v1/admin/jobs/{id}/retry", post(retry))
        .route("/api/v1/admin/jobs/{id}/cancel", post(cancel))
        .route("/api/v1/admin/queues/{name}/pause", post(queue_pause))
        .route("/api/v1/admin/queues/{name}/resume", post(queue_resume))
}

fn engine_error(e: JobsError) -> Problem {
    match e {
        JobsError::UniqueConflict { id, key } => Problem::conflict(
            "job-unique-conflict",
            "Another live job holds this job's unique key",
            format!("job {id} cannot run again while another live job has the unique key {key:?}"),
        ),
        other => crate::app::AppError::from(other).into(),
    }
}

/// `GET /api/v1/admin/tasks`
async fn tasks(_: Admin, State(state): State<AppState>) -> Result<impl IntoResponse, Problem> {
    let tasks = state
        .jobs()
        .admin()
        .periodic_list()
        .await
        .map_err(engine_error)?;
    let items: Vec<_> = tasks
        .into_iter()
        .map(|t| {
            json!({
                "name": t.name,
                "schedule": t.schedule,
                "time_zone": t.tz,
                "kind": t.kind,
                "last_run_at": t.last_run_at,
                "next_run_at": t.next_run,
                "last_duration_ms": t.last_duration_ms,
                "last_error": t.last_error,
                "paused": t.paused,
                "run_requested_at": t.run_now_requested_at,
            })
        })
        .collect();
    Ok(axum::Json(json!({ "items": items })))
}

async fn task_switch(
    state: &AppState,
    name: &str,
    action: &str,
) -> Result<impl IntoResponse + use<>, Problem> {
    let admin = state.jobs().admin();
    let found = match action {
        "run" => admin.periodic_run_now(name).await,
        "pause" => admin.periodic_pause(name).await,
        _ => admin.periodic_resume(name).await,
    }
    .map_err(engine_error)?;
    if !found {
        return Err(Problem::not_found("periodic task"));
    }
    tracing::info!(task = name, action, "periodic task switched by an operator");
    let status = if action == "run" {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        axum::Json(json!({ "task": name, "action": action })),
    ))
}

/// `POST /api/v1/admin/tasks/{name}/run`: the scheduler runs it within about a second.
async fn task_run(
    _: Admin,
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<impl IntoResponse, Problem> {
    task_switch(&state, &name, "run").await
}

/// `POST /api/v1/admin/tasks/{name}/pause`
async fn task_pause(
    _: Admin,
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<impl IntoResponse, Problem> {
    task_switch(&state, &name, "pause").await
}

/// `POST /api/v1/admin/tasks/{name}/resume`
async fn task_resume(
    _: Admin,
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<impl IntoResponse, Problem> {
    task_switch(&state, &name, "resume").await
}

/// Filters and page of `GET /api/v1/admin/jobs`.
#[derive(Debug, Deserialize)]
struct JobsQuery {
    state: Option<String>,
    queue: Option<String>,
    kind: Option<String>,
    limit: Option<u32>,
    before_id: Option<i64>,
}

/// `GET /api/v1/admin/jobs?state=&queue=&kind=&limit=&before_id=` (newest first).
async fn jobs(
    _: Admin,
    State(state): State<AppState>,
    Query(q): Query<JobsQuery>,
) -> Result<impl IntoResponse, Problem> {
    let job_state = match q.state.as_deref().filter(|s| !s.is_empty()) {
        Some(s) => Some(
            s.parse::<JobState>()
                .map_err(|e| Problem::field("state", e.to_string()))?,
        ),
        None => None,
    };
    let limit = q.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(Problem::field("limit", "must be between 1 and 500"));
    }
    let filter = ListFilter {
        queue: q.queue.filter(|s| !s.is_empty()),
        state: job_state,
        kind: q.kind.filter(|s| !s.is_empty()),
    };
    let items = state
        .jobs()
        .admin()
        .list(
            &filter,
            Page {
                limit,
                before_id: q.before_id,
            },
        )
        .await
        .map_err(engine_error)?;
    let next_before_id = (items.len() == limit as usize)
        .then(|| items.last().map(|j| j.id))
        .flatten();
    Ok(axum::Json(
        json!({ "items": items, "next_before_id": next_before_id }),
    ))
}

/// `GET /api/v1/admin/jobs/{id}` with arguments and error history.
async fn job(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<impl IntoResponse, Problem> {
    let detail = state
        .jobs()
        .admin()
        .get(id)
        .await
        .map_err(engine_error)?
        .ok_or_else(|| Problem::not_found("job"))?;
    Ok(axum::Json(detail))
}

/// `POST /api/v1/admin/jobs/{id}/retry`
async fn retry(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<impl IntoResponse, Problem> {
    let admin = state.jobs().admin();
    if !admin.retry(id).await.map_err(engine_error)? {
        return match admin.get(id).await.map_err(engine_error)? {
            None => Err(Problem::not_found("job")),
            Some(_) => Err(Problem::conflict(
                "job-running",
                "The job is running",
                "a running job cannot be retried; cancel it or wait for it to finish",
            )),
        };
    }
    tracing::info!(job.id = id, "job retried by an operator");
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(json!({ "id": id, "action": "retry" })),
    ))
}

/// `POST /api/v1/admin/jobs/{id}/cancel`
async fn cancel(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<impl IntoResponse, Problem> {
    let admin = state.jobs().admin();
    if !admin.cancel(id).await.map_err(engine_error)? {
        return match admin.get(id).await.map_err(engine_error)? {
            None => Err(Problem::not_found("job")),
            Some(d) => Err(Problem::conflict(
                "job-finished",
                "The job has finished",
                format!("job {id} is {} and cannot be cancelled", d.job.state),
            )),
        };
    }
    tracing::info!(job.id = id, "job cancelled by an operator");
    Ok(axum::Json(json!({ "id": id, "action": "cancel" })))
}

/// `GET /api/v1/admin/jobs/stats`: counts by queue, state and kind, totals by state, paused
/// queues.
async fn stats(_: Admin, State(state): State<AppState>) -> Result<impl IntoResponse, Problem> {
    let admin = state.jobs().admin();
    let rows = admin.stats().await.map_err(engine_error)?;
    let mut by_state = serde_json::Map::new();
    for st in JobState::ALL {
        let n: i64 = rows.iter().filter(|r| r.state == st).map(|r| r.count).sum();
        by_state.insert(st.as_str().to_string(), json!(n));
    }
    let paused = admin.paused_queues().await.map_err(engine_error)?;
    Ok(axum::Json(
        json!({ "by_state": by_state, "rows": rows, "paused_queues": paused }),
    ))
}

fn queue_name(name: &str) -> Result<(), Problem> {
    if name.is_empty()
        || name.len() > 64
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
    {
        return Err(Problem::field(
            "name",
            "a queue name is 1-64 letters, digits, '-', '_' or '.'",
        ));
    }
    Ok(())
}

/// `POST /api/v1/admin/queues/{name}/pause`
async fn queue_pause(
    _: Admin,
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<impl IntoResponse, Problem> {
    queue_name(&name)?;
    state
        .jobs()
        .admin()
        .pause_queue(&name)
        .await
        .map_err(engine_error)?;
    tracing::info!(queue = %name, "queue paused by an operator");
    Ok(axum::Json(json!({ "queue": name, "paused": true })))
}

/// `POST /api/v1/admin/queues/{name}/resume`
async fn queue_resume(
    _: Admin,
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<impl IntoResponse, Problem> {
    queue_name(&name)?;
    state
        .jobs()
        .admin()
        .resume_queue(&name)
        .await
        .map_err(engine_error)?;
    tracing::info!(queue = %name, "queue resumed by an operator");
    Ok(axum::Json(json!({ "queue": name, "paused": false })))
}
