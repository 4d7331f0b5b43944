//! Settings: environment variables over an optional `posada.toml` over defaults.
//!
//! Every setting has one name: the environment variable (upper case, e.g.
//! `PRERESERVATION_TTL_MINUTES`) and the same name in lower case as a `posada.toml` key. The
//! defaults run the whole system on the embedded SQLite file with no integration configured. A
//! bad value stops start-up with a message naming the setting.

use std::net::SocketAddr;
use std::path::Path;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

/// Every setting posada reads. Field names are the lower-case setting names.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// `DATABASE_URL`: `sqlite://PATH` (default `sqlite://posada.db`) or `postgres://…`.
    pub database_url: String,
    /// `POSADA_LISTEN`: address the HTTP server listens on.
    pub posada_listen: String,
    /// `POSADA_PUBLIC_URL`: how guests and providers reach this server (links, webhooks).
    pub posada_public_url: String,
    /// `LOG_FORMAT`: `auto` (pretty on a terminal, JSON otherwise), `json` or `pretty`.
    pub log_format: String,
    /// `TIMEZONE`: the owner's IANA time zone, for schedules and reports.
    pub timezone: String,
    /// `DB_MAX_CONNECTIONS`: pool size.
    pub db_max_connections: u32,
    /// `ENABLE_SCHEDULED_TASKS`: run the periodic-task scheduler on this node.
    pub enable_scheduled_tasks: bool,
    /// `JOB_CONCURRENCY`: concurrent jobs per node on the default queue.
    pub job_concurrency: usize,
    /// `SHUTDOWN_TIMEOUT_SECONDS`: how long in-flight work may finish after SIGTERM.
    pub shutdown_timeout_seconds: u64,
    /// `PRERESERVATION_TTL_MINUTES`: how long a hold keeps its dates without a deposit.
    pub prereservation_ttl_minutes: u32,
    /// `AVAILABILITY_CACHE_MS`: how long a node may answer the public availability calendar from
    /// what it read (writes on the same node are seen at once; 0 turns the cache off).
    pub availability_cache_ms: u64,
    /// `PRERESERVATION_REMINDER_MINUTES`: remind the guest this long before the hold expires
    /// (0 turns the reminder off; skipped for holds too short for it).
    pub prereservation_reminder_minutes: u32,
    /// `JOB_EXPIRATION_INTERVAL_SECONDS`: period of the sweep that expires overdue holds.
    pub job_expiration_interval_seconds: u64,
    /// `JOB_ICAL_INTERVAL_SECONDS`: period of the channel calendar sync.
    pub job_ical_interval_seconds: u64,
    /// `ICAL_USER_AGENT`: User-Agent for fetching channel feeds (default: browser-like, naming posada).
    pub ical_user_agent: Option<String>,
    /// `ICAL_FETCH_TIMEOUT_SECONDS`: whole-request timeout of one feed fetch.
    pub ical_fetch_timeout_seconds: u64,
    /// `CHECKIN_REMINDER_HOURS`: remind the guest this long before check-in.
    pub checkin_reminder_hours: u32,
    /// `OWNER_EMAIL`: where the owner's notices and reports go.
    pub owner_email: Option<String>,
    /// `OWNER_PHONE`: the owner's WhatsApp number for notices.
    pub owner_phone: Option<String>,
    /// `REDIS_URL`: share rate limits across nodes through this Redis; unset = in-process limits.
    pub redis_url: Option<Secret>,
    /// `RATE_LIMIT_REDIS_PREFIX`: prefix of the rate-limit keys in Redis.
    pub rate_limit_redis_prefix: String,
    /// `RATE_LIMIT_PUBLIC_PER_MINUTE`: requests per minute per client to the public API.
    pub rate_limit_public_per_minute: u32,
    /// `RATE_LIMIT_WEBHOOKS_PER_MINUTE`: requests per minute per client to webhooks.
    pub rate_limit_webhooks_per_minute: u32,
    /// `RATE_LIMIT_ADMIN_PER_MINUTE`: requests per minute per client to the admin API and dashboard.
    pub rate_limit_admin_per_minute: u32,
    /// `TRUSTED_PROXIES`: comma-separated IPs/CIDRs whose `X-Forwarded-For` is believed.
    pub trusted_proxies: String,
    /// `MAX_BODY_BYTES`: largest request body (JSON, forms).
    pub max_body_bytes: usize,
    /// `MEDIA_MAX_BODY_BYTES`: largest request body on media upload routes.
    pub media_max_body_bytes: usize,
    /// `REQUEST_TIMEOUT_SECONDS`: a request running longer is answered 503.
    pub request_timeout_seconds: u64,
    /// `CORS_ALLOWED_ORIGINS`: comma-separated origins allowed to call the API from a browser
    /// (empty = no cross-origin access).
    pub cors_allowed_origins: String,
    /// `SHUTDOWN_DRAIN_DELAY_SECONDS`: on SIGTERM, keep serving (with `/readyz` failing) this long
    /// before closing the listener, so load balancers stop sending traffic first.
    pub shutdown_drain_delay_seconds: u64,
    /// `DAILY_REPORT_TIME`: local time (HH:MM, `TIMEZONE`) of the owner's daily report e-mail.
    pub daily_report_time: String,
    /// `ALERT_CHECK_INTERVAL_SECONDS`: period of the alert checks.
    pub alert_check_interval_seconds: u64,
    /// `SLACK_WEBHOOK_URL`: a Slack-compatible incoming-webhook URL that also gets alerts.
    pub slack_webhook_url: Option<Secret>,
    /// `OWNER_PASSWORD_HASH`: argon2 PHC hash of the dashboard password (or use
    /// `posada admin set-password`).
    pub owner_password_hash: Option<Secret>,
    /// `MERCADOPAGO_ACCESS_TOKEN`: Mercado Pago access token; unset = payments not configured.
    pub mercadopago_access_token: Option<Secret>,
    /// `MERCADOPAGO_WEBHOOK_SECRET`: the secret Mercado Pago signs notifications with.
    pub mercadopago_webhook_secret: Option<Secret>,
    /// `MERCADOPAGO_BASE_URL`: the API base URL.
    pub mercadopago_base_url: String,
    /// `MERCADOPAGO_WEBHOOK_MAX_AGE_SECONDS`: notifications signed longer ago than this are refused.
    pub mercadopago_webhook_max_age_seconds: u64,
    /// `WHATSAPP_ACCESS_TOKEN`: WhatsApp Cloud API token; unset = WhatsApp not configured.
    pub whatsapp_access_token: Option<Secret>,
    /// `WHATSAPP_PHONE_NUMBER_ID`: the Graph id of the business number.
    pub whatsapp_phone_number_id: Option<String>,
    /// `WHATSAPP_APP_SECRET`: the app secret webhook deliveries are signed with.
    pub whatsapp_app_secret: Option<Secret>,
    /// `WHATSAPP_VERIFY_TOKEN`: the token Meta echoes in the subscription handshake.
    pub whatsapp_verify_token: Option<Secret>,
    /// `WHATSAPP_GRAPH_URL`: the Graph API base URL.
    pub whatsapp_graph_url: String,
    /// `WHATSAPP_API_VERSION`: the Graph API version.
    pub whatsapp_api_version: String,
    /// `WHATSAPP_TEMPLATE_LANGUAGE`: language code of the approved templates used outside the
    /// 24 h window.
    pub whatsapp_template_language: String,
    /// `SMTP_HOST`: the SMTP server; unset = e-mail not configured.
    pub smtp_host: Option<String>,
    /// `SMTP_PORT`: the SMTP port.
    pub smtp_port: u16,
    /// `SMTP_SECURITY`: `starttls`, `tls` or `plain`.
    pub smtp_security: String,
    /// `SMTP_USERNAME`: SMTP login, if the server wants one.
    pub smtp_username: Option<String>,
    /// `SMTP_PASSWORD`: SMTP password.
    pub smtp_password: Option<Secret>,
    /// `SMTP_FROM`: the sender, `address` or `Name <address>`.
    pub smtp_from: Option<String>,
    /// `MESSAGE_TEMPLATES_DIR`: a directory whose `<template>.jinja` files override the bundled
    /// message templates (read at every render: edits apply without a restart).
    pub message_templates_dir: Option<String>,
    /// `INTEGRATION_TIMEOUT_SECONDS`: timeout of one call to a provider.
    pub integration_timeout_seconds: u64,
    /// `INTEGRATION_RETRY_BASE_MS`: first retry delay of payment and message jobs (doubles per
    /// attempt, capped at 30 min).
    pub integration_retry_base_ms: u64,
    /// `BREAKER_FAILURE_THRESHOLD`: consecutive provider failures that open its circuit.
    pub breaker_failure_threshold: u32,
    /// `BREAKER_COOL_DOWN_MS`: how long an open circuit waits before one trial call.
    pub breaker_cool_down_ms: u64,
}

/// A secret setting (token, password): deserializes from a plain string, never shows in `Debug`.
///
/// It serializes to its real value because the settings' defaults go through serialization when
/// they are layered under the file and the environment; never serialize settings to show them.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wrap a value.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The value, for the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            database_url: "sqlite://posada.db".into(),
            posada_listen: "127.0.0.1:8080".into(),
            posada_public_url: "http://127.0.0.1:8080".into(),
            log_format: "auto".into(),
            timezone: "America/Argentina/Buenos_Aires".into(),
            db_max_connections: 16,
            enable_scheduled_tasks: true,
            job_concurrency: 16,
            shutdown_timeout_seconds: 20,
            prereservation_ttl_minutes: 30,
            availability_cache_ms: 1000,
            prereservation_reminder_minutes: 15,
            job_expiration_interval_seconds: 60,
            job_ical_interval_seconds: 300,
            ical_user_agent: None,
            ical_fetch_timeout_seconds: 20,
            checkin_reminder_hours: 24,
            owner_email: None,
            owner_phone: None,
            redis_url: None,
            rate_limit_redis_prefix: "posada:ratelimit".into(),
            rate_limit_public_per_minute: 60,
            rate_limit_webhooks_per_minute: 300,
            rate_limit_admin_per_minute: 600,
            trusted_proxies: String::new(),
            max_body_bytes: 1024 * 1024,
            media_max_body_bytes: 16 * 1024 * 1024,
            request_timeout_seconds: 30,
            cors_allowed_origins: String::new(),
            shutdown_drain_delay_seconds: 0,
            daily_report_time: "08:00".into(),
            alert_check_interval_seconds: 300,
            slack_webhook_url: None,
            owner_password_hash: None,
            mercadopago_access_token: None,
            mercadopago_webhook_secret: None,
            mercadopago_base_url: "https://api.mercadopago.com".into(),
            mercadopago_webhook_max_age_seconds: 600,
            whatsapp_access_token: None,
            whatsapp_phone_number_id: None,
            whatsapp_app_secret: None,
            whatsapp_verify_token: None,
            whatsapp_graph_url: "https://graph.facebook.com".into(),
            whatsapp_api_version: "v21.0".into(),
            whatsapp_template_language: "es_AR".into(),
            smtp_host: None,
            smtp_port: 587,
            smtp_security: "starttls".into(),
            smtp_username: None,
            smtp_password: None,
            smtp_from: None,
            message_templates_dir: None,
            integration_timeout_seconds: 10,
            integration_retry_base_ms: 15_000,
            breaker_failure_threshold: 5,
            breaker_cool_down_ms: 60_000,
        }
    }
}

/// A setting could not be read or has a value posada does not accept.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SettingsError(String);

/// The environment, restricted to the names of settings.
fn env_provider() -> Env {
    let names = known_names();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    Env::raw().only(&refs)
}

/// Names of every setting, as environment variables.
fn known_names() -> Vec<String> {
    let defaults = serde_json::to_value(Settings::default()).unwrap_or_default();
    defaults
        .as_object()
        .map(|o| o.keys().map(|k| k.to_uppercase()).collect())
        .unwrap_or_default()
}

impl Settings {
    /// Read settings: defaults, then `posada.toml` (or the file in `POSADA_CONFIG`) if it
    /// exists, then environment variables.
    pub fn load() -> Result<Settings, SettingsError> {
        let file = std::env::var("POSADA_CONFIG").unwrap_or_else(|_| "posada.toml".into());
        Self::load_from(Path::new(&file), env_provider())
    }

    fn load_from(file: &Path, env: Env) -> Result<Settings, SettingsError> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        if file.exists() {
            figment = figment.merge(Toml::file(file));
        }
        let settings: Settings = figment.merge(env).extract().map_err(describe)?;
        settings.validate()?;
        Ok(settings)
    }

    /// Check values that parse but make no sense.
    pub fn validate(&self) -> Result<(), SettingsError> {
        let bad = |name: &str, value: &dyn std::fmt::Display, why: &str| {
            Err(SettingsError(format!(
                "setting {name}=\"{value}\" is not valid: {why}"
            )))
        };
        if !(self.database_url.starts_with("sqlite:")
            || self.database_url.starts_with("postgres:")
            || self.database_url.starts_with("postgresql:"))
        {
            return bad(
                "DATABASE_URL",
                &posada_db::redact_url(&self.database_url),
                "use sqlite://PATH or postgres://USER@HOST:PORT/DB",
            );
        }
        if self.posada_listen.parse::<SocketAddr>().is_err() {
            return bad(
                "POSADA_LISTEN",
                &self.posada_listen,
                "expected IP:PORT, e.g. 127.0.0.1:8080",
            );
        }
        if self.timezone.parse::<chrono_tz::Tz>().is_err() {
            return bad(
                "TIMEZONE",
                &self.timezone,
                "expected an IANA time zone, e.g. America/Argentina/Buenos_Aires",
            );
        }
        if !matches!(self.log_format.as_str(), "auto" | "json" | "pretty") {
            return bad(
                "LOG_FORMAT",
                &self.log_format,
                "expected auto, json or pretty",
            );
        }
        if self.db_max_connections == 0 {
            return bad("DB_MAX_CONNECTIONS", &0, "must be at least 1");
        }
        if self.availability_cache_ms > 60_000 {
            return bad(
                "AVAILABILITY_CACHE_MS",
                &self.availability_cache_ms,
                "at most 60000 (one minute); 0 turns the cache off",
            );
        }
        if self.prereservation_ttl_minutes == 0 {
            return bad("PRERESERVATION_TTL_MINUTES", &0, "must be at least 1");
        }
        if self.job_expiration_interval_seconds == 0 {
            return bad("JOB_EXPIRATION_INTERVAL_SECONDS", &0, "must be at least 1");
        }
        if self.job_ical_interval_seconds < 30 {
            return bad(
                "JOB_ICAL_INTERVAL_SECONDS",
                &self.job_ical_interval_seconds,
                "must be at least 30",
            );
        }
        if self.ical_fetch_timeout_seconds == 0 || self.ical_fetch_timeout_seconds > 300 {
            return bad(
                "ICAL_FETCH_TIMEOUT_SECONDS",
                &self.ical_fetch_timeout_seconds,
                "must be between 1 and 300",
            );
        }
        if self.job_concurrency == 0 {
            return bad("JOB_CONCURRENCY", &0, "must be at least 1");
        }
        crate::http::security::validate_settings(self).map_err(SettingsError)?;
        if !matches!(self.smtp_security.as_str(), "starttls" | "tls" | "plain") {
            return bad(
                "SMTP_SECURITY",
                &self.smtp_security,
                "expected starttls, tls or plain",
            );
        }
        if self.smtp_host.is_some() && self.smtp_from.as_deref().is_none_or(str::is_empty) {
            return bad("SMTP_FROM", &"", "required when SMTP_HOST is set");
        }
        if self.breaker_failure_threshold == 0 {
            return bad("BREAKER_FAILURE_THRESHOLD", &0, "must be at least 1");
        }
        if self.integration_timeout_seconds == 0 {
            return bad("INTEGRATION_TIMEOUT_SECONDS", &0, "must be at least 1");
        }
        Ok(())
    }

    /// The listen address (validated).
    pub fn listen_addr(&self) -> Result<SocketAddr, SettingsError> {
        self.posada_listen.parse().map_err(|_| {
            SettingsError(format!(
                "setting POSADA_LISTEN={:?} is not valid",
                self.posada_listen
            ))
        })
    }

    /// The owner's time zone (validated).
    pub fn tz(&self) -> chrono_tz::Tz {
        self.timezone
            .parse()
            .unwrap_or(chrono_tz::America::Argentina::Buenos_Aires)
    }
}

/// Turn figment's error into one line that names the setting as the user writes it.
fn describe(err: figment::Error) -> SettingsError {
    let lines: Vec<String> = err
        .into_iter()
        .map(|e| {
            let key = e.path.join(".");
            let source = e
                .metadata
                .as_ref()
                .map(|m| m.name.to_string())
                .unwrap_or_else(|| "settings".into());
            match &e.kind {
                figment::error::Kind::UnknownField(field, _) => format!(
                    "unknown setting `{field}` in {source}; known settings: {}",
                    known_names().join(", ").to_lowercase()
                ),
                kind => format!("setting {} ({source}): {kind}", key.to_uppercase()),
            }
        })
        .collect();
    SettingsError(lines.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[expect(clippy::result_large_err, reason = "figment::Jail's error type")]
    fn load(env: &[(&str, &str)], toml: Option<&str>) -> Result<Settings, SettingsError> {
        let mut out = None;
        figment::Jail::expect_with(|jail| {
            jail.clear_env();
            if let Some(t) = toml {
                jail.create_file("posada.toml", t)?;
            }
            for (k, v) in env {
                jail.set_env(k, v);
            }
            out = Some(Settings::load_from(
                Path::new("posada.toml"),
                env_provider(),
            ));
            Ok(())
        });
        out.unwrap()
    }

    #[test]
    fn defaults_run_on_sqlite() {
        let s = load(&[], None).unwrap();
        assert_eq!(s.database_url, "sqlite://posada.db");
        assert_eq!(s.posada_listen, "127.0.0.1:8080");
        assert!(s.enable_scheduled_tasks);
    }

    #[test]
    fn env_overrides_file_overrides_defaults() {
        let s = load(
            &[("POSADA_LISTEN", "0.0.0.0:9000")],
            Some("posada_listen = \"127.0.0.1:7000\"\njob_concurrency = 4\n"),
        )
        .unwrap();
        assert_eq!(s.posada_listen, "0.0.0.0:9000");
        assert_eq!(s.job_concurrency, 4);
    }

    #[test]
    fn bad_values_name_the_setting() {
        let e = load(&[("ENABLE_SCHEDULED_TASKS", "maybe")], None).unwrap_err();
        assert!(e.to_string().contains("ENABLE_SCHEDULED_TASKS"), "{e}");
        let e = load(&[("TIMEZONE", "Mars/Olympus")], None).unwrap_err();
        assert!(e.to_string().contains("TIMEZONE"), "{e}");
        let e = load(&[("DATABASE_URL", "mysql://x")], None).unwrap_err();
        assert!(e.to_string().contains("DATABASE_URL"), "{e}");
        let e = load(&[("POSADA_LISTEN", "localhost")], None).unwrap_err();
        assert!(e.to_string().contains("POSADA_LISTEN"), "{e}");
        let e = load(&[], Some("job_concurency = 4\n")).unwrap_err();
        assert!(e.to_string().contains("job_concurency"), "{e}");
        let e = load(&[("SMTP_SECURITY", "ssl")], None).unwrap_err();
        assert!(e.to_string().contains("SMTP_SECURITY"), "{e}");
    }

    #[test]
    fn secrets_load_from_the_environment_and_never_print() {
        let s = load(
            &[
                ("MERCADOPAGO_ACCESS_TOKEN", "APP_USR-very-secret"),
                ("WHATSAPP_APP_SECRET", "app-secret-123"),
                ("SMTP_PASSWORD", "hunter2"),
            ],
            None,
        )
        .unwrap();
        assert_eq!(
            s.mercadopago_access_token.as_ref().map(Secret::expose),
            Some("APP_USR-very-secret")
        );
        let printed = format!("{s:?}");
        for secret in ["APP_USR-very-secret", "app-secret-123", "hunter2"] {
            assert!(!printed.contains(secret), "{printed}");
        }
        assert!(printed.contains("[redacted]"));
    }
}
