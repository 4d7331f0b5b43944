//! Rate limits per client and route class (public API, webhooks, admin), with health and metrics
//! exempt.
//!
//! In-process by default: a GCRA (a token bucket without a timer) per (class, client), which
//! spreads a minute's allowance evenly and allows a burst of the whole allowance. When `REDIS_URL`
//! is set the count is shared by every node through an atomic Redis script (fixed one-minute
//! windows). If Redis fails the request is allowed — a broken limiter must not take the API down —
//! and the failure is counted (`rate_limit_redis_errors_total`), logged and reported as degraded
//! by `/healthz`. After a failure the limiter leaves Redis alone for
//! `RATE_LIMIT_REDIS_BACKOFF_SECONDS` (requests are allowed without asking it, counted in
//! `rate_limit_redis_skipped_total`), then one request tries again: a Redis that is down costs one
//! slow request per back-off period, not every request.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use redis::aio::ConnectionManager;

use super::Problem;
use super::middleware::OpsExt;
use super::security::ClientIp;
use crate::config::Settings;
use crate::state::AppState;

/// Which allowance a route draws from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RouteClass {
    /// Guest-facing API and anything else.
    Public,
    /// Provider webhooks (`/api/v1/webhooks/…`).
    Webhooks,
    /// Admin API and the owner's dashboard.
    Admin,
    /// Health, readiness, liveness and metrics: never limited.
    Exempt,
}

impl RouteClass {
    /// The class of a request path.
    pub fn of(path: &str) -> RouteClass {
        if matches!(
            path,
            "/metrics" | "/api/v1/healthz" | "/api/v1/readyz" | "/api/v1/livez"
        ) {
            RouteClass::Exempt
        } else if path.starts_with("/api/v1/webhooks") || path.starts_with("/webhooks") {
            RouteClass::Webhooks
        } else if path.starts_with("/api/v1/admin") || path.starts_with("/dashboard") {
            RouteClass::Admin
        } else {
            RouteClass::Public
        }
    }

    /// Its name (metrics, Redis keys).
    pub fn as_str(self) -> &'static str {
        match self {
            RouteClass::Public => "public",
            RouteClass::Webhooks => "webhooks",
            RouteClass::Admin => "admin",
            RouteClass::Exempt => "exempt",
        }
    }
}

/// The limiter's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Go ahead.
    Allow,
    /// Too many requests; try again after this many seconds.
    Block {
        /// Seconds until a request would be allowed.
        retry_after: u64,
    },
}

const WINDOW: Duration = Duration::from_secs(60);
const REDIS_TIMEOUT: Duration = Duration::from_millis(250);

/// Per-class allowances and the shared or local state.
pub struct RateLimiter {
    limits: HashMap<RouteClass, u32>,
    local: Mutex<HashMap<(RouteClass, String), Instant>>,
    redis: Option<RedisLimiter>,
}

struct RedisLimiter {
    client: redis::Client,
    conn: tokio::sync::OnceCell<ConnectionManager>,
    prefix: String,
    script: redis::Script,
    errors: AtomicU64,
    last_error: Mutex<Option<(Instant, String)>>,
    /// Calls made to Redis to count a request.
    attempts: AtomicU64,
    /// Requests allowed without asking Redis because it failed recently.
    skipped: AtomicU64,
    /// Until when Redis is left alone after a failure.
    skip_until: Mutex<Option<Instant>>,
    backoff: Duration,
}

/// What `/healthz` says about Redis.
#[derive(Debug, Clone)]
pub struct RedisHealth {
    /// Round-trip of a PING, or why it failed.
    pub ping: Result<Duration, String>,
    /// The latest limiter error in the last minute, if any.
    pub recent_error: Option<String>,
    /// Limiter errors since start.
    pub errors_total: u64,
    /// Seconds left before the limiter asks Redis again, while it backs off after a failure.
    pub backing_off_seconds: Option<u64>,
    /// Requests allowed without asking Redis since start (during back-offs).
    pub skipped_total: u64,
}

// One atomic step: count this request in the current window and make the window expire.
const WINDOW_SCRIPT: &str = r"
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n
";

impl RateLimiter {
    /// Build from settings; an unparsable `REDIS_URL` was already refused by validation.
    pub fn new(settings: &Settings) -> RateLimiter {
        let limits = HashMap::from([
            (RouteClass::Public, settings.rate_limit_public_per_minute),
            (
                RouteClass::Webhooks,
                settings.rate_limit_webhooks_per_minute,
            ),
            (RouteClass::Admin, settings.rate_limit_admin_per_minute),
        ]);
        let redis = settings.redis_url.as_ref().and_then(|url| {
            match redis::Client::open(url.expose()) {
                Ok(client) => Some(RedisLimiter {
                    client,
                    conn: tokio::sync::OnceCell::new(),
                    prefix: settings.rate_limit_redis_prefix.clone(),
                    script: redis::Script::new(WINDOW_SCRIPT),
                    errors: AtomicU64::new(0),
                    last_error: Mutex::new(None),
                    attempts: AtomicU64::new(0),
                    skipped: AtomicU64::new(0),
                    skip_until: Mutex::new(None),
                    backoff: Duration::from_secs(settings.rate_limit_redis_backoff_seconds.max(1)),
                }),
                Err(e) => {
                    tracing::error!(error = %e, "REDIS_URL is not usable; rate limits stay in-process");
                    None
                }
            }
        });
        RateLimiter {
            limits,
            local: Mutex::new(HashMap::new()),
            redis,
        }
    }

    /// Whether limits are shared through Redis.
    pub fn uses_redis(&self) -> bool {
        self.redis.is_some()
    }

    /// Count one request of `client` on `class`.
    pub async fn check(&self, class: RouteClass, client: &str) -> Decision {
        let Some(&limit) = self.limits.get(&class) else {
            return Decision::Allow;
        };
        match &self.redis {
            Some(r) if !r.should_try(Instant::now()) => {
                r.skipped.fetch_add(1, Ordering::Relaxed);
                metrics::counter!("rate_limit_redis_skipped_total").increment(1);
                Decision::Allow
            }
            Some(r) => match r.count(class, client).await.inspect(|_| r.succeeded()) {
                Ok(n) if n > u64::from(limit) => {
                    let elapsed = now_unix_secs() % WINDOW.as_secs();
                    Decision::Block {
                        retry_after: (WINDOW.as_secs() - elapsed).max(1),
                    }
                }
                Ok(_) => Decision::Allow,
                Err(e) => {
                    r.failed(&e);
                    Decision::Allow
                }
            },
            None => self.check_local(class, client, limit, Instant::now()),
        }
    }

    fn check_local(&self, class: RouteClass, client: &str, limit: u32, now: Instant) -> Decision {
        // GCRA: each request moves the "theoretical arrival time" on by one emission interval;
        // a request is allowed while that time is no further ahead of now than the burst.
        let interval = WINDOW / limit.max(1);
        let burst = interval * (limit.max(1) - 1);
        let mut map = self.local.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() > 50_000 {
            map.retain(|_, tat| *tat > now);
        }
        let tat = map
            .get(&(class, client.to_string()))
            .copied()
            .unwrap_or(now)
            .max(now);
        let allowed_at = tat.checked_sub(burst).unwrap_or(now);
        if allowed_at > now {
            let wait = allowed_at - now;
            return Decision::Block {
                retry_after: wait.as_secs() + u64::from(wait.subsec_nanos() > 0),
            };
        }
        map.insert((class, client.to_string()), tat + interval);
        Decision::Allow
    }

    /// Redis' health, when limits are shared through it.
    pub async fn redis_health(&self) -> Option<RedisHealth> {
        let r = self.redis.as_ref()?;
        let started = Instant::now();
        let ping = match r.connection().await {
            Ok(mut conn) => {
                match tokio::time::timeout(
                    REDIS_TIMEOUT * 4,
                    redis::cmd("PING").query_async::<String>(&mut conn),
                )
                .await
                {
                    Ok(Ok(_)) => Ok(started.elapsed()),
                    Ok(Err(e)) => Err(e.to_string()),
                    Err(_) => Err("no answer within 1 s".to_string()),
                }
            }
            Err(e) => Err(e),
        };
        let recent_error = r
            .last_error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .filter(|(at, _)| at.elapsed() < WINDOW)
            .map(|(_, e)| e.clone());
        let now = Instant::now();
        let backing_off_seconds = r
            .skip_until
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .filter(|until| *until > now)
            .map(|until| (until - now).as_secs().max(1));
        Some(RedisHealth {
            ping,
            recent_error,
            errors_total: r.errors.load(Ordering::Relaxed),
            backing_off_seconds,
            skipped_total: r.skipped.load(Ordering::Relaxed),
        })
    }

    /// Calls made to Redis to count requests since start (tests check the back-off with it).
    pub fn redis_attempts(&self) -> u64 {
        self.redis
            .as_ref()
            .map_or(0, |r| r.attempts.load(Ordering::Relaxed))
    }
}

impl RedisLimiter {
    async fn connection(&self) -> Result<ConnectionManager, String> {
        self.conn
            .get_or_try_init(|| async {
                let config = redis::aio::ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(REDIS_TIMEOUT))
                    .set_response_timeout(Some(REDIS_TIMEOUT))
                    .set_number_of_retries(1);
                ConnectionManager::new_lazy_with_config(self.client.clone(), config)
            })
            .await
            .cloned()
            .map_err(|e| e.to_string())
    }

    /// Whether to ask Redis now: not while backing off after a failure. The first request after
    /// a back-off ends is the one that tries (the others keep skipping until it has failed or
    /// succeeded).
    fn should_try(&self, now: Instant) -> bool {
        let mut until = self.skip_until.lock().unwrap_or_else(|p| p.into_inner());
        match *until {
            Some(t) if now < t => false,
            Some(_) => {
                *until = Some(now + self.backoff);
                true
            }
            None => true,
        }
    }

    fn succeeded(&self) {
        let was_backing_off = self
            .skip_until
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
            .is_some();
        if was_backing_off {
            tracing::info!("rate limiter reaches Redis again");
        }
    }

    async fn count(&self, class: RouteClass, client: &str) -> Result<u64, String> {
        self.attempts.fetch_add(1, Ordering::Relaxed);
        let mut conn = self.connection().await?;
        let window = now_unix_secs() / WINDOW.as_secs();
        let key = format!("{}:{}:{client}:{window}", self.prefix, class.as_str());
        let millis = u64::try_from(WINDOW.as_millis()).unwrap_or(60_000) + 1000;
        let mut invocation = self.script.key(&key);
        invocation.arg(millis);
        let call = invocation.invoke_async::<u64>(&mut conn);
        match tokio::time::timeout(REDIS_TIMEOUT * 2, call).await {
            Ok(Ok(n)) => Ok(n),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err("Redis did not answer in time".to_string()),
        }
    }

    fn failed(&self, error: &str) {
        let n = self.errors.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("rate_limit_redis_errors_total").increment(1);
        let first = self
            .skip_until
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .replace(Instant::now() + self.backoff)
            .is_none();
        // One log line per outage is enough to act on; the back-off keeps failures few.
        if first {
            tracing::warn!(error = %error, errors.total = n + 1, backoff_s = self.backoff.as_secs(), "rate limiter could not reach Redis; allowing requests without it during the back-off");
        }
        *self.last_error.lock().unwrap_or_else(|p| p.into_inner()) =
            Some((Instant::now(), error.to_string()));
    }
}

fn now_unix_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Middleware: apply the limit of the request's route class to its client.
pub async fn limit(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let class = RouteClass::of(req.uri().path());
    if class == RouteClass::Exempt {
        return next.run(req).await;
    }
    let client = req
        .extensions()
        .get::<ClientIp>()
        .map(|c| c.0.to_string())
        .unwrap_or_else(|| "unknown".into());
    match state.ops().limiter.check(class, &client).await {
        Decision::Allow => next.run(req).await,
        Decision::Block { retry_after } => {
            let route = req
                .extensions()
                .get::<MatchedPath>()
                .map(|m| m.as_str().to_string())
                .unwrap_or_else(|| "unmatched".into());
            metrics::counter!("rate_limit_blocked_total", "route" => route.clone(), "class" => class.as_str())
                .increment(1);
            tracing::info!(route = %route, class = class.as_str(), "rate limit reached");
            Problem::new(
                axum::http::StatusCode::TOO_MANY_REQUESTS,
                "rate-limited",
                "Too many requests",
            )
            .detail(format!(
                "this client made too many {} requests; try again in {retry_after} s",
                class.as_str()
            ))
            .retry_after(retry_after)
            .into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_by_path() {
        assert_eq!(RouteClass::of("/metrics"), RouteClass::Exempt);
        assert_eq!(RouteClass::of("/api/v1/healthz"), RouteClass::Exempt);
        assert_eq!(
            RouteClass::of("/api/v1/webhooks/mercadopago"),
            RouteClass::Webhooks
        );
        assert_eq!(RouteClass::of("/api/v1/admin/jobs"), RouteClass::Admin);
        assert_eq!(RouteClass::of("/api/v1/reservations"), RouteClass::Public);
    }

    #[test]
    fn gcra_allows_the_burst_then_spreads_the_rest() {
        let limiter = RateLimiter::new(&Settings {
            rate_limit_public_per_minute: 6,
            ..Settings::default()
        });
        let t0 = Instant::now();
        for _ in 0..6 {
            assert_eq!(
                limiter.check_local(RouteClass::Public, "a", 6, t0),
                Decision::Allow
            );
        }
        let Decision::Block { retry_after } = limiter.check_local(RouteClass::Public, "a", 6, t0)
        else {
            panic!("seventh request in the same instant must be blocked");
        };
        assert_eq!(retry_after, 10);
        // Another client has its own allowance.
        assert_eq!(
            limiter.check_local(RouteClass::Public, "b", 6, t0),
            Decision::Allow
        );
        // One emission interval later, one more request fits.
        let t1 = t0 + Duration::from_secs(10);
        assert_eq!(
            limiter.check_local(RouteClass::Public, "a", 6, t1),
            Decision::Allow
        );
        assert!(matches!(
            limiter.check_local(RouteClass::Public, "a", 6, t1),
            Decision::Block { .. }
        ));
    }
}
