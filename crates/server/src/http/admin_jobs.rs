//! The job engine over HTTP for operators (admin API tokens): periodic tasks (see, run now,
//! pause, resume), jobs (list with filters and pagination, one with its error history, retry,
//! cancel, counts) and queues (pause, resume). The same operations as `posada jobs …`, through
//! the engine's [`posada_jobs::Admin`], so no running engine is needed on this node.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use posada_jobs::{CountRow, JobDetail, JobState, JobSummary, JobsError, ListFilter, Page};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{Admin, Json, Path, Problem, Query};
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

#[derive(Debug, Serialize, ToSchema)]
pub struct TaskView {
    /// Name (`ical-sync`, `expire-holds`, …).
    name: String,
    /// `every 30s` or a cron expression.
    schedule: String,
    /// Time zone of a cron schedule.
    time_zone: String,
    /// Kind of the job it enqueues.
    kind: String,
    /// When its latest run finished.
    last_run_at: Option<DateTime<Utc>>,
    /// Its next slot.
    next_run_at: Option<DateTime<Utc>>,
    /// How long the latest run took.
    last_duration_ms: Option<i64>,
    /// The latest run's error.
    last_error: Option<String>,
    /// Paused tasks let their slots pass.
    paused: bool,
    /// A run-now request no scheduler has taken yet.
    run_requested_at: Option<DateTime<Utc>>,
}

/// The periodic tasks.
#[derive(Debug, Serialize, ToSchema)]
pub struct TaskList {
    /// Every periodic task.
    items: Vec<TaskView>,
}

/// What an operator asked of a periodic task.
#[derive(Debug, Serialize, ToSchema)]
pub struct TaskSwitched {
    /// The task.
    task: String,
    /// `run`, `pause` or `resume`.
    action: String,
}

/// The periodic tasks with their schedule, last run and next run.
#[utoipa::path(
    get,
    path = "/api/v1/admin/tasks",
    tag = "operations",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The tasks", body = TaskList),
        (status = 401, description = "No or unknown API token", body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn tasks(_: Admin, State(state): State<AppState>) -> Result<Json<TaskList>, Problem> {
    let tasks = state
        .jobs()
        .admin()
        .periodic_list()
        .await
        .map_err(engine_error)?;
    let items = tasks
        .into_iter()
        .map(|t| TaskView {
            name: t.name,
            schedule: t.schedule,
            time_zone: t.tz,
            kind: t.kind,
            last_run_at: t.last_run_at,
            next_run_at: t.next_run,
            last_duration_ms: t.last_duration_ms,
            last_error: t.last_error,
            paused: t.paused,
            run_requested_at: t.run_now_requested_at,
        })
        .collect();
    Ok(Json(TaskList { items }))
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
        Json(TaskSwitched {
            task: name.to_string(),
            action: action.to_string(),
        }),
    ))
}

/// Run a periodic task now (the next scheduler tick takes it).
#[utoipa::path(
    post,
    path = "/api/v1/admin/tasks/{name}/run",
    tag = "operations",
    security(("bearer" = [])),
    params(("name" = String, Path, description = "The task's name")),
    responses(
        (status = 202, description = "Asked", body = TaskSwitched),
        (status = 401, description = "No or unknown API token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "A read-only token (it may only GET)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No periodic task has this name", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A parameter is wrong (named in `errors`)", body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn task_run(
    _: Admin,
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<impl IntoResponse, Problem> {
    task_switch(&state, &name, "run").await
}

/// Pause a periodic task (its slots pass).
#[utoipa::path(
    post,
    path = "/api/v1/admin/tasks/{name}/pause",
    tag = "operations",
    security(("bearer" = [])),
    params(("name" = String, Path, description = "The task's name")),
    responses(
        (status = 200, description = "Paused", body = TaskSwitched),
        (status = 401, description = "No or unknown API token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "A read-only token (it may only GET)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No periodic task has this name", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A parameter is wrong (named in `errors`)", body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn task_pause(
    _: Admin,
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<impl IntoResponse, Problem> {
    task_switch(&state, &name, "pause").await
}

/// Resume a paused periodic task.
#[utoipa::path(
    post,
    path = "/api/v1/admin/tasks/{name}/resume",
    tag = "operations",
    security(("bearer" = [])),
    params(("name" = String, Path, description = "The task's name")),
    responses(
        (status = 200, description = "Resumed", body = TaskSwitched),
        (status = 401, description = "No or unknown API token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "A read-only token (it may only GET)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No periodic task has this name", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A parameter is wrong (named in `errors`)", body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn task_resume(
    _: Admin,
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<impl IntoResponse, Problem> {
    task_switch(&state, &name, "resume").await
}

/// Filters and page of `GET /api/v1/admin/jobs`.
/// Filters and page of the job list (newest first).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct JobsQuery {
    /// Only this state.
    #[param(value_type = Option<JobState>)]
    state: Option<String>,
    /// Only this queue.
    #[param(pattern = r"^[A-Za-z0-9._-]{1,64}$")]
    queue: Option<String>,
    /// Only this kind.
    kind: Option<String>,
    /// Rows per page, 1-500, default 50.
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u32>,
    /// Only jobs older than this id (the previous page's `next_before_id`).
    before_id: Option<i64>,
}

/// A page of jobs, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct JobPage {
    /// The jobs.
    items: Vec<JobSummary>,
    /// Pass as `before_id` for the next page; null on the last page.
    next_before_id: Option<i64>,
}

/// Jobs, newest first, filtered.
#[utoipa::path(
    get,
    path = "/api/v1/admin/jobs",
    tag = "operations",
    security(("bearer" = [])),
    params(JobsQuery),
    responses(
        (status = 200, description = "A page of jobs", body = JobPage),
        (status = 401, description = "No or unknown API token", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A parameter is wrong (named in `errors`)", body = Problem, content_type = "application/problem+json"),
    ),
)]

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
    Ok(Json(JobPage {
        items,
        next_before_id,
    }))
}

/// One job with its arguments and error history.
#[utoipa::path(
    get,
    path = "/api/v1/admin/jobs/{id}",
    tag = "operations",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "The job's id")),
    responses(
        (status = 200, description = "The job", body = JobDetail),
        (status = 400, description = "The id is not a number", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No or unknown API token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No job has this id", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A parameter is wrong (named in `errors`)", body = Problem, content_type = "application/problem+json"),
    ),
)]
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
    Ok(Json(detail))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct JobActed {
    /// The job.
    id: i64,
    /// `retry` or `cancel`.
    action: String,
}

/// Run a job again.
#[utoipa::path(
    post,
    path = "/api/v1/admin/jobs/{id}/retry",
    tag = "operations",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "The job's id")),
    responses(
        (status = 202, description = "The job is queued again", body = JobActed),
        (status = 400, description = "The id is not a number", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No or unknown API token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "A read-only token (it may only GET)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No job has this id", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The job is running, or another live job holds its unique key", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A parameter is wrong (named in `errors`)", body = Problem, content_type = "application/problem+json"),
    ),
)]
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
        Json(JobActed {
            id,
            action: "retry".to_string(),
        }),
    ))
}

/// Cancel a job that has not finished.
#[utoipa::path(
    post,
    path = "/api/v1/admin/jobs/{id}/cancel",
    tag = "operations",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "The job's id")),
    responses(
        (status = 200, description = "Cancelled", body = JobActed),
        (status = 400, description = "The id is not a number", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No or unknown API token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "A read-only token (it may only GET)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No job has this id", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The job has finished", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A parameter is wrong (named in `errors`)", body = Problem, content_type = "application/problem+json"),
    ),
)]
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
    Ok(Json(JobActed {
        id,
        action: "cancel".to_string(),
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct JobStats {
    /// Jobs per state, every state present.
    by_state: BTreeMap<String, i64>,
    /// Jobs per queue, state and kind.
    rows: Vec<CountRow>,
    /// Queues whose jobs are not claimed now.
    paused_queues: Vec<String>,
}

/// Job counts by state, and by queue, state and kind; paused queues.
#[utoipa::path(
    get,
    path = "/api/v1/admin/jobs/stats",
    tag = "operations",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The counts", body = JobStats),
        (status = 401, description = "No or unknown API token", body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn stats(_: Admin, State(state): State<AppState>) -> Result<Json<JobStats>, Problem> {
    let admin = state.jobs().admin();
    let rows = admin.stats().await.map_err(engine_error)?;
    let by_state = JobState::ALL
        .into_iter()
        .map(|st| {
            let n: i64 = rows.iter().filter(|r| r.state == st).map(|r| r.count).sum();
            (st.as_str().to_string(), n)
        })
        .collect();
    let paused_queues = admin.paused_queues().await.map_err(engine_error)?;
    Ok(Json(JobStats {
        by_state,
        rows,
        paused_queues,
    }))
}

/// A queue named in the path.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Path)]
#[expect(
    dead_code,
    reason = "the path parameter's shape for the OpenAPI document"
)]
struct QueueName {
    /// The queue's name: 1-64 letters, digits, `-`, `_` or `.`.
    #[param(pattern = r"^[A-Za-z0-9._-]{1,64}$")]
    name: String,
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

#[derive(Debug, Serialize, ToSchema)]
pub struct QueueSwitched {
    /// The queue.
    queue: String,
    /// Whether its jobs wait (not claimed) now.
    paused: bool,
}

/// Pause a queue: its jobs are not claimed until it is resumed.
#[utoipa::path(
    post,
    path = "/api/v1/admin/queues/{name}/pause",
    tag = "operations",
    security(("bearer" = [])),
    params(QueueName),
    responses(
        (status = 200, description = "Paused", body = QueueSwitched),
        (status = 401, description = "No or unknown API token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "A read-only token (it may only GET)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not a queue name", body = Problem, content_type = "application/problem+json"),
    ),
)]
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
    Ok(Json(QueueSwitched {
        queue: name,
        paused: true,
    }))
}

/// Resume a paused queue.
#[utoipa::path(
    post,
    path = "/api/v1/admin/queues/{name}/resume",
    tag = "operations",
    security(("bearer" = [])),
    params(QueueName),
    responses(
        (status = 200, description = "Resumed", body = QueueSwitched),
        (status = 401, description = "No or unknown API token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "A read-only token (it may only GET)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not a queue name", body = Problem, content_type = "application/problem+json"),
    ),
)]
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
    Ok(Json(QueueSwitched {
        queue: name,
        paused: false,
    }))
}
