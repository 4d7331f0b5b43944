//! Health, readiness and liveness.
//!
//! `/healthz` reports each dependency with its latency and an overall status (`healthy`,
//! `degraded` → 200, `unhealthy` → 503); `/readyz` says whether this node should get traffic
//! (migrations applied, database answering, not draining); `/livez` only says the process is up.
//!
//! These routes are public, so a failing dependency is described in fixed words; the driver's own
//! error (host names, users, SQL) goes to the log, once per change of what failed.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use super::middleware::OpsExt;
use crate::state::AppState;

pub use crate::app::health::Status;

/// Database latency above this is degraded.
const DB_DEGRADED: Duration = Duration::from_millis(500);

async fn database_check(state: &AppState) -> (Status, serde_json::Value) {
    match tokio::time::timeout(Duration::from_secs(2), state.db().ping()).await {
        Ok(Ok(latency)) => {
            state.database().answered();
            let status = if latency > DB_DEGRADED {
                Status::Degraded
            } else {
                Status::Healthy
            };
            (
                status,
                json!({"status": status, "backend": state.db().backend().as_str(), "latency_ms": latency.as_secs_f64() * 1000.0}),
            )
        }
        Ok(Err(e)) => {
            log_hidden_error("database", &e);
            (
                Status::Unhealthy,
                json!({"status": Status::Unhealthy, "backend": state.db().backend().as_str(), "error": "the database refused the check query"}),
            )
        }
        Err(_) => (
            Status::Unhealthy,
            json!({"status": Status::Unhealthy, "backend": state.db().backend().as_str(), "error": "no answer within 2 s"}),
        ),
    }
}

/// The node's health.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// The worst of the checks: `healthy` and `degraded` answer 200, `unhealthy` 503.
    status: Status,
    /// posada's version.
    version: String,
    /// Each dependency's check.
    #[schema(value_type = HealthChecks)]
    checks: serde_json::Value,
}

/// The checks of `/healthz`. The checks are assembled as JSON by the functions below (and
/// `app::channels::health`); these types name their members for the OpenAPI document, and
/// `tests/api/openapi.rs` fails when an answer carries a member they do not name.
#[derive(Debug, ToSchema)]
#[expect(
    dead_code,
    reason = "the shape of `Health::checks` for the OpenAPI document"
)]
struct HealthChecks {
    /// The database.
    database: DatabaseCheck,
    /// Channel feeds.
    ical: IcalCheck,
    /// The job engine.
    jobs: JobsCheck,
    /// The shared rate limiter's Redis (only when configured).
    redis: Option<RedisCheck>,
    /// Outbound services' circuit breakers.
    circuit_breakers: BreakersCheck,
    /// Which integrations are configured.
    integrations: IntegrationsCheck,
    /// Free disk space next to the SQLite file (SQLite only).
    disk: Option<DiskCheck>,
}

/// The database check.
#[derive(Debug, ToSchema)]
#[expect(dead_code, reason = "a health check's shape for the OpenAPI document")]
struct DatabaseCheck {
    /// This check's status.
    status: Status,
    /// `sqlite` or `postgres`.
    backend: String,
    /// How long the check query took.
    latency_ms: Option<f64>,
    /// What failed, in fixed words.
    error: Option<String>,
}

/// The channel feeds check.
#[derive(Debug, ToSchema)]
#[expect(dead_code, reason = "a health check's shape for the OpenAPI document")]
struct IcalCheck {
    /// This check's status (degraded with open conflicts or a stale feed).
    status: Status,
    /// Enabled feeds.
    feeds: Option<i64>,
    /// Enabled feeds whose last fetch failed.
    failing_feeds: Option<i64>,
    /// Minutes since the stalest enabled feed last synced.
    oldest_success_age_minutes: Option<i64>,
    /// Imported blocks over our active reservations.
    open_conflicts: Option<i64>,
    /// What failed, in fixed words.
    error: Option<String>,
}

/// The job engine check.
#[derive(Debug, ToSchema)]
#[expect(dead_code, reason = "a health check's shape for the OpenAPI document")]
struct JobsCheck {
    /// This check's status.
    status: Status,
    /// Workers alive on this node (null on a node that runs none).
    workers_alive: Option<i64>,
    /// Whether this node's engine runs (null on a node that runs none).
    engine_running: Option<bool>,
    /// Seconds the oldest due job has waited for a worker.
    oldest_available_age_seconds: Option<i64>,
    /// Jobs that failed for good in the last 24 hours.
    discarded_last_24h: Option<i64>,
    /// What is wrong, in words.
    problems: Option<Vec<String>>,
    /// What failed, in fixed words.
    error: Option<String>,
}

/// The Redis check.
#[derive(Debug, ToSchema)]
#[expect(dead_code, reason = "a health check's shape for the OpenAPI document")]
struct RedisCheck {
    /// This check's status.
    status: Status,
    /// PING latency.
    latency_ms: Option<f64>,
    /// A rate-limit check failed to reach Redis in the last minute.
    recent_error: Option<String>,
    /// Limiter errors since start.
    limiter_errors_total: Option<i64>,
    /// Seconds left before the limiter tries Redis again.
    backing_off_seconds: Option<i64>,
    /// Rate-limit checks skipped while Redis was away.
    skipped_total: Option<i64>,
    /// What failed, in fixed words.
    error: Option<String>,
}

/// One circuit breaker.
#[derive(Debug, ToSchema)]
#[expect(dead_code, reason = "a health check's shape for the OpenAPI document")]
struct BreakerCheck {
    /// `closed`, `open` or `half_open`.
    state: String,
    /// When it opened.
    opened_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Failures in a row.
    consecutive_failures: i64,
}

/// The circuit breakers check.
#[derive(Debug, ToSchema)]
#[expect(dead_code, reason = "a health check's shape for the OpenAPI document")]
struct BreakersCheck {
    /// Degraded while a breaker is not closed.
    status: Status,
    /// Each provider's breaker (`mercadopago`, `whatsapp`, `smtp`).
    providers: std::collections::BTreeMap<String, BreakerCheck>,
}

/// The integrations check (always healthy: it only reports).
#[derive(Debug, ToSchema)]
#[expect(dead_code, reason = "a health check's shape for the OpenAPI document")]
struct IntegrationsCheck {
    /// Always `healthy`.
    status: Status,
    /// Each integration: `configured` or `not configured`.
    providers: std::collections::BTreeMap<String, String>,
}

/// The disk check.
#[derive(Debug, ToSchema)]
#[expect(dead_code, reason = "a health check's shape for the OpenAPI document")]
struct DiskCheck {
    /// Degraded under 512 MiB free, unhealthy under 64 MiB.
    status: Status,
    /// Free bytes.
    free_bytes: Option<i64>,
    /// The directory measured.
    path: Option<String>,
    /// What failed, in fixed words.
    error: Option<String>,
}

/// Health with each dependency's status and latency.
#[utoipa::path(
    get,
    path = "/api/v1/healthz",
    tag = "operations",
    responses(
        (status = 200, description = "Healthy or degraded", body = Health),
        (status = 503, description = "Unhealthy", body = Health),
    ),
)]
pub async fn healthz(State(state): State<AppState>) -> impl IntoResponse {
    let (db_status, db) = database_check(&state).await;
    let (ops_status, ops_checks) = ops_checks(&state).await;
    let overall = db_status.max(ops_status);
    let code = if overall == Status::Unhealthy {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    (
        code,
        Json(Health {
            status: overall,
            version: env!("CARGO_PKG_VERSION").to_string(),
            checks: with_checks(json!({ "database": db }), ops_checks),
        }),
    )
}

fn with_checks(mut checks: serde_json::Value, more: serde_json::Value) -> serde_json::Value {
    if let (Some(obj), serde_json::Value::Object(more)) = (checks.as_object_mut(), more) {
        obj.extend(more);
    }
    checks
}

/// How long the slower checks (job queue, Redis, disk) are reused, so `/healthz` stays fast.
const OPS_CACHE: Duration = Duration::from_millis(1000);
/// The oldest job waiting for a worker longer than this is degraded.
const JOB_WAIT_DEGRADED: Duration = Duration::from_secs(60);
/// Redis latency above this is degraded.
const REDIS_DEGRADED: Duration = Duration::from_millis(200);
/// Free disk (SQLite) below these is degraded / unhealthy.
const DISK_DEGRADED_BYTES: u64 = 512 * 1024 * 1024;
const DISK_UNHEALTHY_BYTES: u64 = 64 * 1024 * 1024;

/// iCal, job engine, Redis, circuit breakers, integrations and disk, cached for about a second;
/// when the cache is stale one request refreshes it while the others wait for its result.
async fn ops_checks(state: &AppState) -> (Status, serde_json::Value) {
    let cached = || {
        state
            .ops()
            .health_cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .filter(|(at, _, _)| at.elapsed() < OPS_CACHE)
            .map(|(_, status, value)| (*status, value.clone()))
    };
    if let Some(hit) = cached() {
        return hit;
    }
    let _refreshing = state.ops().health_refresh.lock().await;
    if let Some(hit) = cached() {
        return hit;
    }
    let mut checks = serde_json::Map::new();
    let mut overall = Status::Healthy;
    let mut add = |name: &str, (status, value): (Status, serde_json::Value)| {
        overall = overall.max(status);
        checks.insert(name.to_string(), value);
    };
    add(
        "ical",
        without_raw_error("ical", crate::app::channels::health(state).await),
    );
    add("jobs", jobs_check(state).await);
    if let Some(redis) = redis_check(state).await {
        add("redis", redis);
    }
    add("circuit_breakers", breakers_check(state));
    add("integrations", integrations_check(state));
    if let Some(disk) = disk_check(state) {
        add("disk", disk);
    }
    let value = serde_json::Value::Object(checks);
    *state
        .ops()
        .health_cache
        .lock()
        .unwrap_or_else(|p| p.into_inner()) =
        Some((std::time::Instant::now(), overall, value.clone()));
    (overall, value)
}

async fn jobs_check(state: &AppState) -> (Status, serde_json::Value) {
    let workers = state.engine_workers();
    let mut status = Status::Healthy;
    let mut problems = Vec::new();
    if let Some((alive, running)) = workers
        && (!running || alive == 0)
    {
        status = Status::Degraded;
        problems.push("no job worker is alive on this node".to_string());
    }
    let queue = match posada_store::ops::jobs_health(state.db(), state.now()).await {
        Ok(q) => q,
        Err(e) => {
            log_hidden_error("jobs", &e);
            return (
                Status::Unhealthy,
                json!({"status": Status::Unhealthy, "error": "the job queue could not be read"}),
            );
        }
    };
    if let Some(age) = queue.oldest_available_age_seconds
        && age > JOB_WAIT_DEGRADED.as_secs() as i64
    {
        status = Status::Degraded;
        problems.push(format!("a job has waited {age} s for a worker"));
    }
    (
        status,
        json!({
            "status": status,
            "workers_alive": workers.map(|w| w.0),
            "engine_running": workers.map(|w| w.1),
            "oldest_available_age_seconds": queue.oldest_available_age_seconds,
            "discarded_last_24h": queue.discarded_last_24h,
            "problems": problems,
        }),
    )
}

async fn redis_check(state: &AppState) -> Option<(Status, serde_json::Value)> {
    let mut health = state.ops().limiter.redis_health().await?;
    if let Err(e) = &health.ping {
        log_hidden_error("redis", e);
        health.ping = Err("Redis did not answer a PING".to_string());
    }
    let recent_error = health.recent_error.as_ref().map(|e| {
        log_hidden_error("redis limiter", e);
        "a rate-limit check could not reach Redis in the last minute"
    });
    Some(match health.ping {
        Ok(latency) => {
            let status = if latency > REDIS_DEGRADED
                || recent_error.is_some()
                || health.backing_off_seconds.is_some()
            {
                Status::Degraded
            } else {
                Status::Healthy
            };
            (
                status,
                json!({"status": status, "latency_ms": latency.as_secs_f64() * 1000.0,
                       "recent_error": recent_error, "limiter_errors_total": health.errors_total,
                       "backing_off_seconds": health.backing_off_seconds,
                       "skipped_total": health.skipped_total}),
            )
        }
        // The limiter allows requests while Redis is away: degraded, not unhealthy.
        Err(e) => (
            Status::Degraded,
            json!({"status": Status::Degraded, "error": e, "limiter_errors_total": health.errors_total,
                   "backing_off_seconds": health.backing_off_seconds,
                   "skipped_total": health.skipped_total}),
        ),
    })
}

fn breakers_check(state: &AppState) -> (Status, serde_json::Value) {
    let services = state.services();
    let mut status = Status::Healthy;
    let mut providers = serde_json::Map::new();
    for breaker in [
        &services.mercadopago_breaker,
        &services.whatsapp_breaker,
        &services.smtp_breaker,
    ] {
        let st = breaker.state();
        if st != posada_integrations::breaker::BreakerState::Closed {
            status = Status::Degraded;
        }
        providers.insert(
            breaker.provider().to_string(),
            json!({"state": st.as_str(), "opened_at": breaker.opened_at(), "consecutive_failures": breaker.consecutive_failures()}),
        );
    }
    (status, json!({"status": status, "providers": providers}))
}

fn integrations_check(state: &AppState) -> (Status, serde_json::Value) {
    let mut providers = serde_json::Map::new();
    for (name, configured) in state.services().configured() {
        providers.insert(
            name.to_string(),
            json!(if configured {
                "configured"
            } else {
                "not configured"
            }),
        );
    }
    providers.insert(
        "redis".to_string(),
        json!(if state.ops().limiter.uses_redis() {
            "configured"
        } else {
            "not configured"
        }),
    );
    providers.insert(
        "slack".to_string(),
        json!(if state.settings().slack_webhook_url.is_some() {
            "configured"
        } else {
            "not configured"
        }),
    );
    (
        Status::Healthy,
        json!({"status": Status::Healthy, "providers": providers}),
    )
}

/// The directory of the SQLite database file, if the database is SQLite.
pub fn sqlite_dir(database_url: &str) -> Option<std::path::PathBuf> {
    let rest = database_url.strip_prefix("sqlite:")?;
    let rest = rest.trim_start_matches("//");
    let path = rest.split('?').next().unwrap_or(rest);
    if path.is_empty() || path == ":memory:" {
        return None;
    }
    let file = std::path::Path::new(path);
    let dir = file.parent().filter(|p| !p.as_os_str().is_empty());
    Some(
        dir.map(std::path::Path::to_path_buf)
            .unwrap_or_else(|| ".".into()),
    )
}

fn disk_check(state: &AppState) -> Option<(Status, serde_json::Value)> {
    let dir = sqlite_dir(&state.settings().database_url)?;
    Some(match fs4::available_space(&dir) {
        Ok(free) => {
            let status = if free < DISK_UNHEALTHY_BYTES {
                Status::Unhealthy
            } else if free < DISK_DEGRADED_BYTES {
                Status::Degraded
            } else {
                Status::Healthy
            };
            (
                status,
                json!({"status": status, "free_bytes": free, "path": dir.display().to_string()}),
            )
        }
        Err(e) => {
            log_hidden_error("disk", &e);
            (
                Status::Degraded,
                json!({"status": Status::Degraded, "error": "free space could not be read"}),
            )
        }
    })
}

/// A check's own top-level `error` text replaced by fixed words (and logged).
fn without_raw_error(
    check: &'static str,
    (status, mut value): (Status, serde_json::Value),
) -> (Status, serde_json::Value) {
    if let Some(error) = value.get_mut("error").filter(|e| e.is_string()) {
        log_hidden_error(check, error);
        *error = json!("the check could not read its data");
    }
    (status, value)
}

/// Log what a public health answer leaves out, once per check until what it says changes.
fn log_hidden_error(check: &'static str, error: &dyn std::fmt::Display) {
    static LAST: std::sync::Mutex<Vec<(&'static str, String)>> = std::sync::Mutex::new(Vec::new());
    let text = error.to_string();
    let mut last = LAST.lock().unwrap_or_else(|p| p.into_inner());
    match last.iter_mut().find(|(c, _)| *c == check) {
        Some((_, seen)) if *seen == text => return,
        Some((_, seen)) => *seen = text.clone(),
        None => last.push((check, text.clone())),
    }
    drop(last);
    tracing::warn!(check, error = %text, "health check failed");
}

/// Whether this node should get traffic.
#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    /// True when migrations are applied, the database answers and the node is not draining.
    ready: bool,
    /// Why not (only when not ready).
    #[serde(skip_serializing_if = "Option::is_none")]
    reasons: Option<Vec<String>>,
}

/// Readiness: migrations applied, database answering, not draining.
#[utoipa::path(
    get,
    path = "/api/v1/readyz",
    tag = "operations",
    responses(
        (status = 200, description = "Ready", body = Readiness),
        (status = 503, description = "Not ready", body = Readiness),
    ),
)]
pub async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let mut reasons = Vec::new();
    if state.is_draining() {
        reasons.push("draining".to_string());
    }
    match crate::migrations::pending(state.db()).await {
        Ok(0) => {}
        Ok(n) => reasons.push(format!("{n} migrations not applied")),
        Err(e) => {
            log_hidden_error("readiness", &e);
            reasons.push("database: not answering".to_string());
        }
    }
    if reasons.is_empty() {
        (
            StatusCode::OK,
            Json(Readiness {
                ready: true,
                reasons: None,
            }),
        )
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(Readiness {
                ready: false,
                reasons: Some(reasons),
            }),
        )
    }
}

/// The process is up.
#[derive(Debug, Serialize, ToSchema)]
pub struct Liveness {
    /// Always true.
    alive: bool,
}

/// Liveness: the process answers.
#[utoipa::path(
    get,
    path = "/api/v1/livez",
    tag = "operations",
    responses((status = 200, description = "Alive", body = Liveness)),
)]
pub async fn livez() -> impl IntoResponse {
    Json(Liveness { alive: true })
}
