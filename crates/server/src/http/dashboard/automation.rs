//! Automatización (`/dashboard/automatizacion`): the periodic tasks and the jobs, for a person.
//!
//! The page shows each periodic task (schedule, last and next run, last error) with "run now"
//! and pause / resume; the jobs counted by state and by queue, with queue pause / resume; a chart
//! of the last hour (jobs completed and discarded per 5 minutes, an inline SVG drawn here: no
//! JavaScript); and the failing jobs, each with its page (`/dashboard/automatizacion/trabajos/{id}`:
//! arguments and error history, retry, cancel). Every read and switch is the engine's
//! [`posada_jobs::Admin`], as in the admin API (`http::admin_jobs`), with the same rules.

use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Duration, Utc};
use posada_jobs::{JobState, JobSummary, JobsError};
use serde::Deserialize;
use serde_json::{Value, json};

use super::render::{self, Shell};
use super::session::{NoFields, Owner, OwnerForm};
use crate::http::{Path, Problem};
use crate::state::AppState;

/// This section's templates (name, source), registered by `render`.
pub const TEMPLATES: &[(&str, &str)] = &[
    (
        "automation.html",
        include_str!("../../../templates/dashboard/automation.html"),
    ),
    (
        "job.html",
        include_str!("../../../templates/dashboard/job.html"),
    ),
];

/// This section's routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/dashboard/automatizacion", get(page))
        .route("/dashboard/automatizacion/trabajos/{id}", get(job_page))
        .route("/dashboard/tasks/{name}/run", post(run_task))
        .route("/dashboard/tasks/{name}/pause", post(pause_task))
        .route("/dashboard/tasks/{name}/resume", post(resume_task))
        .route("/dashboard/jobs/{id}/retry", post(retry_job))
        .route("/dashboard/jobs/{id}/cancel", post(cancel_job))
        .route("/dashboard/queues/{name}/pause", post(pause_queue))
        .route("/dashboard/queues/{name}/resume", post(resume_queue))
}

/// The chart's slots: 12 of 5 minutes.
const SLOT_MINUTES: i64 = 5;
const SLOTS: usize = 12;
/// Failing jobs listed per state.
const FAILING_LISTED: u32 = 25;
/// Finished jobs are counted over this many hours (live ones all).
const COUNTS_HOURS: i64 = 24;

fn engine(e: JobsError) -> Problem {
    crate::app::AppError::from(e).into()
}

/// What a periodic task does, as the owner reads it.
fn task_label(name: &str) -> &str {
    match name {
        "daily-report" => "Informe diario por e-mail",
        "alert-check" => "Revisión de alertas",
        "cleanup" => "Limpieza de datos viejos",
        "expiration-sweep" => "Vencimiento de prerreservas sin pago",
        "completion-pass" => "Cierre de estadías terminadas",
        "ical-sync" => "Sincronización de calendarios de los canales",
        other => other,
    }
}

/// `every 30s` or a cron expression, in Spanish.
fn schedule_text(schedule: &str, tz: &str) -> String {
    if let Some(every) = schedule.strip_prefix("every ") {
        let ms = match every.strip_suffix("ms") {
            Some(ms) => ms.parse::<u64>().ok(),
            None => every
                .strip_suffix('s')
                .and_then(|s| s.parse::<u64>().ok())
                .map(|s| s * 1000),
        };
        return match ms {
            Some(ms) if ms % 3_600_000 == 0 => format!("cada {} h", ms / 3_600_000),
            Some(ms) if ms % 60_000 == 0 => format!("cada {} min", ms / 60_000),
            Some(ms) if ms % 1000 == 0 => format!("cada {} s", ms / 1000),
            Some(ms) => format!("cada {ms} ms"),
            None => format!("cada {every}"),
        };
    }
    let fields: Vec<&str> = schedule.split_whitespace().collect();
    if let [m, h, "*", "*", "*"] = fields.as_slice()
        && let (Ok(m), Ok(h)) = (m.parse::<u32>(), h.parse::<u32>())
    {
        return format!("todos los días a las {h:02}:{m:02} ({tz})");
    }
    format!("{schedule} ({tz})")
}

fn state_label(s: JobState) -> &'static str {
    match s {
        JobState::Available => "Disponible",
        JobState::Scheduled => "Programado",
        JobState::Running => "En curso",
        JobState::Retryable => "Por reintentar",
        JobState::Completed => "Completado",
        JobState::Cancelled => "Cancelado",
        JobState::Discarded => "Descartado",
    }
}

fn state_plural(s: JobState) -> &'static str {
    match s {
        JobState::Available => "Disponibles",
        JobState::Scheduled => "Programados",
        JobState::Running => "En curso",
        JobState::Retryable => "Por reintentar",
        JobState::Completed => "Completados",
        JobState::Cancelled => "Cancelados",
        JobState::Discarded => "Descartados",
    }
}

fn notice(key: Option<&str>) -> Option<&'static str> {
    Some(match key? {
        "tarea-pedida" => "Listo: la tarea se ejecuta en unos segundos.",
        "tarea-pausada" => "Tarea pausada: no corre hasta que la reanudes.",
        "tarea-reanudada" => "Tarea reanudada.",
        "reintentado" => "El trabajo vuelve a ejecutarse ahora.",
        "cancelado" => "Trabajo cancelado.",
        "cola-pausada" => "Cola pausada: sus trabajos esperan hasta que la reanudes.",
        "cola-reanudada" => "Cola reanudada.",
        _ => return None,
    })
}

#[derive(Debug, Default, Deserialize)]
struct NoticeQuery {
    aviso: Option<String>,
}

struct Local(chrono_tz::Tz);

impl Local {
    fn at(&self, t: Option<DateTime<Utc>>) -> String {
        t.map(|t| {
            t.with_timezone(&self.0)
                .format("%d/%m %H:%M:%S")
                .to_string()
        })
        .unwrap_or_default()
    }
}

fn job_line(j: &JobSummary, local: &Local) -> Value {
    json!({
        "id": j.id,
        "kind": j.kind,
        "queue": j.queue,
        "state": j.state.as_str(),
        "state_label": state_label(j.state),
        "attempt": j.attempt,
        "max_attempts": j.max_attempts,
        "when": local.at(j.finished_at.or(j.attempted_at).or(Some(j.run_at))),
        "next": (j.state == JobState::Retryable).then(|| local.at(Some(j.run_at))),
        "last_error": j.last_error,
        "live": j.state.is_live(),
        "retryable": j.state != JobState::Running,
    })
}

/// The last hour's chart: bars of completed and discarded jobs per slot, as SVG geometry.
fn chart(slots: &[posada_jobs::FinishedSlot], local: &Local) -> Value {
    const WIDTH: i64 = 600;
    const HEIGHT: i64 = 150;
    let n = i64::try_from(slots.len()).unwrap_or(1).max(1);
    let max = slots
        .iter()
        .map(|s| s.completed.max(s.discarded))
        .max()
        .unwrap_or(0)
        .max(1);
    let slot_w = WIDTH / n;
    let bar_w = (slot_w - 8) / 2;
    let height = |v: i64| if v == 0 { 0 } else { (v * HEIGHT / max).max(2) };
    let bars: Vec<Value> = slots
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let x = i64::try_from(i).unwrap_or(0) * slot_w + 4;
            let (hc, hd) = (height(s.completed), height(s.discarded));
            let time = s.start.with_timezone(&local.0).format("%H:%M").to_string();
            json!({
                "time": time,
                "label": i % 3 == 0,
                "x": x,
                "label_x": x,
                "completed": s.completed, "cx": x, "cy": HEIGHT - hc, "ch": hc,
                "discarded": s.discarded, "dx": x + bar_w, "dy": HEIGHT - hd, "dh": hd,
                "w": bar_w,
            })
        })
        .collect();
    let completed: i64 = slots.iter().map(|s| s.completed).sum();
    let discarded: i64 = slots.iter().map(|s| s.discarded).sum();
    json!({
        "bars": bars, "max": max, "width": WIDTH, "height": HEIGHT,
        "completed": completed, "discarded": discarded,
    })
}

/// The outside services the jobs depend on: configured or not, and their circuit breaker
/// (closed: working; open: calls refused for a while after repeated failures; half open: trying
/// again), as `/healthz` reports them.
fn connections(state: &AppState, local: &Local) -> Vec<Value> {
    use posada_integrations::breaker::BreakerState;
    let services = state.services();
    let configured = services.configured();
    [
        &services.mercadopago_breaker,
        &services.whatsapp_breaker,
        &services.smtp_breaker,
    ]
    .into_iter()
    .map(|breaker| {
        let provider = breaker.provider();
        let label = match provider {
            "mercadopago" => "Mercado Pago",
            "whatsapp" => "WhatsApp",
            "smtp" => "E-mail (SMTP)",
            other => other,
        };
        let st = breaker.state();
        let state_label = match st {
            BreakerState::Closed => "Funcionando",
            BreakerState::Open => "Cortada: se reintenta en unos minutos",
            BreakerState::HalfOpen => "Probando de nuevo",
        };
        json!({
            "provider": provider,
            "label": label,
            "configured": configured.iter().any(|(name, on)| *name == provider && *on),
            "state": st.as_str(),
            "state_label": state_label,
            "failures": breaker.consecutive_failures(),
            "opened_at": local.at(breaker.opened_at()),
        })
    })
    .collect()
}

/// `GET /dashboard/automatizacion`
async fn page(
    State(state): State<AppState>,
    owner: Owner,
    Query(q): Query<NoticeQuery>,
) -> Result<Response, Problem> {
    let admin = state.jobs().admin();
    let local = Local(state.settings().tz());
    let tasks: Vec<Value> = admin
        .periodic_list()
        .await
        .map_err(engine)?
        .into_iter()
        .map(|t| {
            json!({
                "name": t.name,
                "label": task_label(&t.name),
                "schedule": schedule_text(&t.schedule, &t.tz),
                "last_run": local.at(t.last_run_at),
                "duration_ms": t.last_duration_ms,
                "next_run": local.at(t.next_run),
                "last_error": t.last_error,
                "paused": t.paused,
                "requested": t.run_now_requested_at.is_some(),
            })
        })
        .collect();

    // Live jobs, and the finished ones of the last day: the history can be long.
    let now = state.now();
    let rows = admin
        .recent_counts(now - Duration::hours(COUNTS_HOURS))
        .await
        .map_err(engine)?;
    let paused = admin.paused_queues().await.map_err(engine)?;
    let totals: Vec<Value> = JobState::ALL
        .iter()
        .map(|st| {
            let n: i64 = rows
                .iter()
                .filter(|(_, state, _)| state == st)
                .map(|(_, _, count)| count)
                .sum();
            json!({"state": st.as_str(), "label": state_plural(*st), "count": n})
        })
        .collect();
    let mut queue_names: Vec<String> = rows.iter().map(|(queue, _, _)| queue.clone()).collect();
    queue_names.extend(paused.iter().cloned());
    queue_names.sort();
    queue_names.dedup();
    let queues: Vec<Value> = queue_names
        .iter()
        .map(|q| {
            let count = |st: JobState| -> i64 {
                rows.iter()
                    .filter(|(queue, state, _)| queue == q && *state == st)
                    .map(|(_, _, count)| count)
                    .sum()
            };
            json!({
                "name": q,
                "paused": paused.contains(q),
                "waiting": count(JobState::Available) + count(JobState::Scheduled),
                "running": count(JobState::Running),
                "retryable": count(JobState::Retryable),
                "completed": count(JobState::Completed),
                "discarded": count(JobState::Discarded),
                "cancelled": count(JobState::Cancelled),
            })
        })
        .collect();

    // The chart covers the hour up to the end of the current 5-minute slot.
    let slot = Duration::minutes(SLOT_MINUTES);
    let slot_s = slot.num_seconds();
    let end =
        DateTime::<Utc>::from_timestamp((now.timestamp() / slot_s + 1) * slot_s, 0).unwrap_or(now);
    let since = end - slot * i32::try_from(SLOTS).unwrap_or(12);
    let slots = admin
        .finished_by_slot(
            since,
            std::time::Duration::from_secs(u64::try_from(slot_s).unwrap_or(300)),
            SLOTS,
        )
        .await
        .map_err(engine)?;

    let failing: Vec<Value> = admin
        .failing(FAILING_LISTED)
        .await
        .map_err(engine)?
        .iter()
        .map(|j| job_line(j, &local))
        .collect();

    Ok(render::page(
        &owner,
        Shell {
            section: "automatizacion",
            title: "Automatización",
            notice: notice(q.aviso.as_deref()),
            ..Shell::default()
        },
        "automation.html",
        json!({
            "tasks": tasks,
            "totals": totals,
            "queues": queues,
            "chart": chart(&slots, &local),
            "failing": failing,
            "connections": connections(&state, &local),
        }),
    ))
}

/// `GET /dashboard/automatizacion/trabajos/{id}`
async fn job_page(
    State(state): State<AppState>,
    owner: Owner,
    Path(id): Path<i64>,
    Query(q): Query<NoticeQuery>,
) -> Result<Response, Problem> {
    let Some(detail) = state.jobs().admin().get(id).await.map_err(engine)? else {
        return Ok(render::message(
            &owner,
            StatusCode::NOT_FOUND,
            "No existe ese trabajo (los trabajos terminados se borran después de unos días).",
            "/dashboard/automatizacion",
        ));
    };
    let local = Local(state.settings().tz());
    let j = &detail.job;
    let errors: Vec<Value> = detail
        .errors
        .iter()
        .map(|e| {
            json!({
                "attempt": e.attempt,
                "message": e.message,
                "at": local.at(Some(e.at)),
                "node": e.node_id,
            })
        })
        .collect();
    let title = format!("Trabajo #{id}");
    Ok(render::page(
        &owner,
        Shell {
            section: "automatizacion",
            title: &title,
            notice: notice(q.aviso.as_deref()),
            ..Shell::default()
        },
        "job.html",
        json!({
            "job": job_line(j, &local),
            "created": local.at(Some(j.created_at)),
            "run_at": local.at(Some(j.run_at)),
            "attempted": local.at(j.attempted_at),
            "finished": local.at(j.finished_at),
            "priority": j.priority,
            "unique_key": j.unique_key,
            "trace_id": j.trace_id,
            "node": j.node_id,
            "args": serde_json::to_string_pretty(&detail.args).unwrap_or_default(),
            "errors": errors,
        }),
    ))
}

fn back_to_page(aviso: &str) -> Response {
    Redirect::to(&format!("/dashboard/automatizacion?aviso={aviso}")).into_response()
}

fn no_such_task(owner: &Owner) -> Response {
    render::message(
        owner,
        StatusCode::NOT_FOUND,
        "No existe esa tarea periódica.",
        "/dashboard/automatizacion",
    )
}

/// What the owner asks of a periodic task.
#[derive(Debug, Clone, Copy)]
enum TaskOp {
    Run,
    Pause,
    Resume,
}

/// Do `op` to task `name` (the same calls as the admin API) and go back to the page with its
/// notice; an unknown task is a 404 page.
async fn task_op(
    state: &AppState,
    owner: &Owner,
    name: &str,
    op: TaskOp,
) -> Result<Response, Problem> {
    let admin = state.jobs().admin();
    let (found, notice) = match op {
        TaskOp::Run => (admin.periodic_run_now(name).await, "tarea-pedida"),
        TaskOp::Pause => (admin.periodic_pause(name).await, "tarea-pausada"),
        TaskOp::Resume => (admin.periodic_resume(name).await, "tarea-reanudada"),
    };
    if !found.map_err(engine)? {
        return Ok(no_such_task(owner));
    }
    tracing::info!(task = %name, ?op, "periodic task changed from the dashboard");
    Ok(back_to_page(notice))
}

/// `POST /dashboard/tasks/{name}/run`: ask the scheduler to run a periodic task now.
pub async fn run_task(
    State(state): State<AppState>,
    Path(name): Path<String>,
    OwnerForm { owner, .. }: OwnerForm<NoFields>,
) -> Result<Response, Problem> {
    task_op(&state, &owner, &name, TaskOp::Run).await
}

/// `POST /dashboard/tasks/{name}/pause`
async fn pause_task(
    State(state): State<AppState>,
    Path(name): Path<String>,
    OwnerForm { owner, .. }: OwnerForm<NoFields>,
) -> Result<Response, Problem> {
    task_op(&state, &owner, &name, TaskOp::Pause).await
}

/// `POST /dashboard/tasks/{name}/resume`
async fn resume_task(
    State(state): State<AppState>,
    Path(name): Path<String>,
    OwnerForm { owner, .. }: OwnerForm<NoFields>,
) -> Result<Response, Problem> {
    task_op(&state, &owner, &name, TaskOp::Resume).await
}

fn job_path(id: i64, aviso: &str) -> Response {
    Redirect::to(&format!(
        "/dashboard/automatizacion/trabajos/{id}?aviso={aviso}"
    ))
    .into_response()
}

/// `POST /dashboard/jobs/{id}/retry`: run a job again now (not while it runs).
async fn retry_job(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    OwnerForm { owner, .. }: OwnerForm<NoFields>,
) -> Result<Response, Problem> {
    let admin = state.jobs().admin();
    let back = format!("/dashboard/automatizacion/trabajos/{id}");
    match admin.retry(id).await {
        Ok(true) => {
            tracing::info!(job.id = id, "job retried from the dashboard");
            Ok(job_path(id, "reintentado"))
        }
        Ok(false) => Ok(match admin.get(id).await.map_err(engine)? {
            None => render::message(
                &owner,
                StatusCode::NOT_FOUND,
                "No existe ese trabajo.",
                "/dashboard/automatizacion",
            ),
            Some(_) => render::message(
                &owner,
                StatusCode::CONFLICT,
                "El trabajo se está ejecutando: esperá a que termine o cancelalo.",
                &back,
            ),
        }),
        Err(JobsError::UniqueConflict { id: other, .. }) => Ok(render::message(
            &owner,
            StatusCode::CONFLICT,
            &format!(
                "No se puede reintentar: otro trabajo igual (#{other}) está pendiente y hace lo mismo."
            ),
            &back,
        )),
        Err(e) => Err(engine(e)),
    }
}

/// `POST /dashboard/jobs/{id}/cancel`: cancel a job that has not finished.
async fn cancel_job(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    OwnerForm { owner, .. }: OwnerForm<NoFields>,
) -> Result<Response, Problem> {
    let admin = state.jobs().admin();
    if admin.cancel(id).await.map_err(engine)? {
        tracing::info!(job.id = id, "job cancelled from the dashboard");
        return Ok(job_path(id, "cancelado"));
    }
    Ok(match admin.get(id).await.map_err(engine)? {
        None => render::message(
            &owner,
            StatusCode::NOT_FOUND,
            "No existe ese trabajo.",
            "/dashboard/automatizacion",
        ),
        Some(d) => render::message(
            &owner,
            StatusCode::CONFLICT,
            &format!(
                "El trabajo ya terminó ({}): no hay nada que cancelar.",
                state_label(d.job.state).to_lowercase()
            ),
            &format!("/dashboard/automatizacion/trabajos/{id}"),
        ),
    })
}

fn queue_ok(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
}

fn bad_queue(owner: &Owner) -> Response {
    render::message(
        owner,
        StatusCode::UNPROCESSABLE_ENTITY,
        "El nombre de la cola no es válido (letras, números, '-', '_' o '.', hasta 64).",
        "/dashboard/automatizacion",
    )
}

/// `POST /dashboard/queues/{name}/pause`
async fn pause_queue(
    State(state): State<AppState>,
    Path(name): Path<String>,
    OwnerForm { owner, .. }: OwnerForm<NoFields>,
) -> Result<Response, Problem> {
    if !queue_ok(&name) {
        return Ok(bad_queue(&owner));
    }
    state
        .jobs()
        .admin()
        .pause_queue(&name)
        .await
        .map_err(engine)?;
    tracing::info!(queue = %name, "queue paused from the dashboard");
    Ok(back_to_page("cola-pausada"))
}

/// `POST /dashboard/queues/{name}/resume`
async fn resume_queue(
    State(state): State<AppState>,
    Path(name): Path<String>,
    OwnerForm { owner, .. }: OwnerForm<NoFields>,
) -> Result<Response, Problem> {
    if !queue_ok(&name) {
        return Ok(bad_queue(&owner));
    }
    state
        .jobs()
        .admin()
        .resume_queue(&name)
        .await
        .map_err(engine)?;
    tracing::info!(queue = %name, "queue resumed from the dashboard");
    Ok(back_to_page("cola-reanudada"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_read_in_spanish() {
        assert_eq!(schedule_text("every 300000ms", "UTC"), "cada 5 min");
        assert_eq!(schedule_text("every 1500ms", "UTC"), "cada 1500 ms");
        assert_eq!(schedule_text("every 60s", "UTC"), "cada 1 min");
        assert_eq!(schedule_text("every 30s", "UTC"), "cada 30 s");
        assert_eq!(schedule_text("every 7200s", "UTC"), "cada 2 h");
        assert_eq!(
            schedule_text("0 8 * * *", "America/Argentina/Buenos_Aires"),
            "todos los días a las 08:00 (America/Argentina/Buenos_Aires)"
        );
        assert_eq!(schedule_text("*/5 * * * 1", "UTC"), "*/5 * * * 1 (UTC)");
    }
}
