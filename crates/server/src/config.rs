//! Settings: environment variables over an optional `posada.toml` over defaults.
//!
//! Every setting has one name: the environment variable (upper case, e.g.
//! `PRERESERVATION_TTL_MINUTES`) and the same name in lower case as a `posada.toml` key. The
//! defaults run the whole system on the embedded SQLite file with no integration configured. A
//! bad value stops start-up with a message naming the setting, the value and what is accepted.
//!
//! Text settings (ids, tokens, passwords, phones) are never parsed: figment's own environment
//! provider turns `106540352242922` into a number and `true` into a boolean, which a text setting
//! then refuses, so the environment is read here, setting by setting, by the kind in [`SPECS`];
//! numbers and booleans written unquoted in `posada.toml` are read back as their text.

use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use axum::http::HeaderValue;
use ipnet::IpNet;
use std::path::Path;

use figment::providers::{Format, Serialized, Toml};
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};
use serde::{Deserialize, Deserializer, Serialize};

/// Every setting posada reads. Field names are the lower-case setting names.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// `DATABASE_URL`: `sqlite://PATH` (default `sqlite://posada.db`) or `postgres://…`.
    #[serde(deserialize_with = "lenient::text")]
    pub database_url: String,
    /// `POSADA_LISTEN`: address the HTTP server listens on.
    #[serde(deserialize_with = "lenient::text")]
    pub posada_listen: String,
    /// `POSADA_PUBLIC_URL`: how guests and providers reach this server (links, webhooks).
    #[serde(deserialize_with = "lenient::text")]
    pub posada_public_url: String,
    /// `LOG_FORMAT`: `auto` (pretty on a terminal, JSON otherwise), `json` or `pretty`.
    #[serde(deserialize_with = "lenient::text")]
    pub log_format: String,
    /// `TIMEZONE`: the owner's IANA time zone, for schedules and reports.
    #[serde(deserialize_with = "lenient::text")]
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
    #[serde(default, deserialize_with = "lenient::optional")]
    pub ical_user_agent: Option<String>,
    /// `ICAL_FETCH_TIMEOUT_SECONDS`: whole-request timeout of one feed fetch.
    pub ical_fetch_timeout_seconds: u64,
    /// `CHECKIN_REMINDER_HOURS`: remind the guest this long before check-in.
    pub checkin_reminder_hours: u32,
    /// `OWNER_EMAIL`: where the owner's notices and reports go.
    #[serde(default, deserialize_with = "lenient::optional")]
    pub owner_email: Option<String>,
    /// `OWNER_PHONE`: the owner's WhatsApp number for notices.
    #[serde(default, deserialize_with = "lenient::optional")]
    pub owner_phone: Option<String>,
    /// `REDIS_URL`: share rate limits across nodes through this Redis; unset = in-process limits.
    #[serde(default, deserialize_with = "lenient::optional")]
    pub redis_url: Option<Secret>,
    /// `RATE_LIMIT_REDIS_PREFIX`: prefix of the rate-limit keys in Redis.
    #[serde(deserialize_with = "lenient::text")]
    pub rate_limit_redis_prefix: String,
    /// `RATE_LIMIT_PUBLIC_PER_MINUTE`: requests per minute per client to the public API.
    pub rate_limit_public_per_minute: u32,
    /// `RATE_LIMIT_WEBHOOKS_PER_MINUTE`: requests per minute per client to webhooks.
    pub rate_limit_webhooks_per_minute: u32,
    /// `RATE_LIMIT_ADMIN_PER_MINUTE`: requests per minute per client to the admin API and dashboard.
    pub rate_limit_admin_per_minute: u32,
    /// `TRUSTED_PROXIES`: comma-separated IPs/CIDRs whose `X-Forwarded-For` is believed.
    #[serde(deserialize_with = "lenient::text")]
    pub trusted_proxies: String,
    /// `MAX_BODY_BYTES`: largest request body (JSON, forms).
    pub max_body_bytes: usize,
    /// `MEDIA_MAX_BODY_BYTES`: largest request body on media upload routes.
    pub media_max_body_bytes: usize,
    /// `REQUEST_TIMEOUT_SECONDS`: a request running longer is answered 503.
    pub request_timeout_seconds: u64,
    /// `CORS_ALLOWED_ORIGINS`: comma-separated origins allowed to call the API from a browser
    /// (empty = no cross-origin access).
    #[serde(deserialize_with = "lenient::text")]
    pub cors_allowed_origins: String,
    /// `SHUTDOWN_DRAIN_DELAY_SECONDS`: on SIGTERM, keep serving (with `/readyz` failing) this long
    /// before closing the listener, so load balancers stop sending traffic first.
    pub shutdown_drain_delay_seconds: u64,
    /// `DAILY_REPORT_TIME`: local time (HH:MM, `TIMEZONE`) of the owner's daily report e-mail.
    #[serde(deserialize_with = "lenient::text")]
    pub daily_report_time: String,
    /// `ALERT_CHECK_INTERVAL_SECONDS`: period of the alert checks.
    pub alert_check_interval_seconds: u64,
    /// `SLACK_WEBHOOK_URL`: a Slack-compatible incoming-webhook URL that also gets alerts.
    #[serde(default, deserialize_with = "lenient::optional")]
    pub slack_webhook_url: Option<Secret>,
    /// `OWNER_PASSWORD_HASH`: argon2 PHC hash of the dashboard password (or use
    /// `posada admin set-password`).
    #[serde(default, deserialize_with = "lenient::optional")]
    pub owner_password_hash: Option<Secret>,
    /// `MERCADOPAGO_ACCESS_TOKEN`: Mercado Pago access token; unset = payments not configured.
    #[serde(default, deserialize_with = "lenient::optional")]
    pub mercadopago_access_token: Option<Secret>,
    /// `MERCADOPAGO_WEBHOOK_SECRET`: the secret Mercado Pago signs notifications with.
    #[serde(default, deserialize_with = "lenient::optional")]
    pub mercadopago_webhook_secret: Option<Secret>,
    /// `MERCADOPAGO_BASE_URL`: the API base URL.
    #[serde(deserialize_with = "lenient::text")]
    pub mercadopago_base_url: String,
    /// `MERCADOPAGO_WEBHOOK_MAX_AGE_SECONDS`: notifications signed longer ago than this are refused.
    pub mercadopago_webhook_max_age_seconds: u64,
    /// `WHATSAPP_ACCESS_TOKEN`: WhatsApp Cloud API token; unset = WhatsApp not configured.
    #[serde(default, deserialize_with = "lenient::optional")]
    pub whatsapp_access_token: Option<Secret>,
    /// `WHATSAPP_PHONE_NUMBER_ID`: the Graph id of the business number.
    #[serde(default, deserialize_with = "lenient::optional")]
    pub whatsapp_phone_number_id: Option<String>,
    /// `WHATSAPP_APP_SECRET`: the app secret webhook deliveries are signed with.
    #[serde(default, deserialize_with = "lenient::optional")]
    pub whatsapp_app_secret: Option<Secret>,
    /// `WHATSAPP_VERIFY_TOKEN`: the token Meta echoes in the subscription handshake.
    #[serde(default, deserialize_with = "lenient::optional")]
    pub whatsapp_verify_token: Option<Secret>,
    /// `WHATSAPP_GRAPH_URL`: the Graph API base URL.
    #[serde(deserialize_with = "lenient::text")]
    pub whatsapp_graph_url: String,
    /// `WHATSAPP_API_VERSION`: the Graph API version.
    #[serde(deserialize_with = "lenient::text")]
    pub whatsapp_api_version: String,
    /// `WHATSAPP_TEMPLATE_LANGUAGE`: language code of the approved templates used outside the
    /// 24 h window.
    #[serde(deserialize_with = "lenient::text")]
    pub whatsapp_template_language: String,
    /// `ASSISTANT_ENABLED`: the WhatsApp guest assistant answers guests (only once WhatsApp is
    /// configured); `false` hands every guest message to a person.
    pub assistant_enabled: bool,
    /// `ASSISTANT_SESSION_MINUTES`: what a guest said is forgotten after this much silence.
    pub assistant_session_minutes: u32,
    /// `ASSISTANT_MAX_MESSAGES_PER_MINUTE`: guest messages per phone per minute the assistant
    /// answers; the rest are stored unanswered.
    pub assistant_max_messages_per_minute: u32,
    /// `POSADA_STT_COMMAND`: transcribes guests' voice notes for the assistant: run through
    /// `sh -c` with the downloaded audio file's path appended as the last argument; its standard
    /// output is read as the text. Unset (the default): the assistant asks for text.
    #[serde(default, deserialize_with = "lenient::optional")]
    pub posada_stt_command: Option<String>,
    /// `POSADA_STT_TIMEOUT_SECONDS`: how long a transcription may run before it is stopped.
    pub posada_stt_timeout_seconds: u64,
    /// `SMTP_HOST`: the SMTP server; unset = e-mail not configured.
    #[serde(default, deserialize_with = "lenient::optional")]
    pub smtp_host: Option<String>,
    /// `SMTP_PORT`: the SMTP port.
    pub smtp_port: u16,
    /// `SMTP_SECURITY`: `starttls`, `tls` or `plain`.
    #[serde(deserialize_with = "lenient::text")]
    pub smtp_security: String,
    /// `SMTP_USERNAME`: SMTP login, if the server wants one.
    #[serde(default, deserialize_with = "lenient::optional")]
    pub smtp_username: Option<String>,
    /// `SMTP_PASSWORD`: SMTP password.
    #[serde(default, deserialize_with = "lenient::optional")]
    pub smtp_password: Option<Secret>,
    /// `SMTP_FROM`: the sender, `address` or `Name <address>`.
    #[serde(default, deserialize_with = "lenient::optional")]
    pub smtp_from: Option<String>,
    /// `MESSAGE_TEMPLATES_DIR`: a directory whose `<template>.jinja` files override the bundled
    /// message templates (read at every render: edits apply without a restart).
    #[serde(default, deserialize_with = "lenient::optional")]
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
    /// `HTTP_HEADER_READ_TIMEOUT_SECONDS`: a connection that has not sent a whole request head
    /// this long after it opened (or after its previous response) is closed.
    pub http_header_read_timeout_seconds: u64,
    /// `HTTP_MAX_CONNECTIONS`: open HTTP connections this node serves at once; more wait to be
    /// accepted.
    pub http_max_connections: usize,
    /// `HTTP_MAX_CONNECTIONS_PER_IP`: open connections one client address may hold (a trusted
    /// proxy is exempt); more are closed at once.
    pub http_max_connections_per_ip: usize,
    /// `RATE_LIMIT_REDIS_BACKOFF_SECONDS`: after Redis fails, rate limits skip it (allowing
    /// requests) this long before trying again.
    pub rate_limit_redis_backoff_seconds: u64,
    /// `METRICS_TOKEN`: when set, `/metrics` answers only `Authorization: Bearer <token>`.
    #[serde(default, deserialize_with = "lenient::optional")]
    pub metrics_token: Option<Secret>,
}

/// A secret setting (token, password): deserializes from a plain string, never shows in `Debug`.
///
/// It serializes to its real value because the settings' defaults go through serialization when
/// they are layered under the file and the environment; never serialize settings to show them.
#[derive(Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Secret(String);

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Secret, D::Error> {
        lenient::text(deserializer).map(Secret)
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Secret {
        Secret(value)
    }
}

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
            assistant_enabled: true,
            assistant_session_minutes: 30,
            assistant_max_messages_per_minute: 12,
            posada_stt_command: None,
            posada_stt_timeout_seconds: 120,
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
            http_header_read_timeout_seconds: 10,
            http_max_connections: 512,
            http_max_connections_per_ip: 64,
            rate_limit_redis_backoff_seconds: 10,
            metrics_token: None,
        }
    }
}

/// A setting could not be read or has a value posada does not accept.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SettingsError(String);

impl SettingsError {
    /// `NAME: `value` is not valid: expected …`, the one shape of every refused setting.
    pub fn invalid(name: &str, value: &dyn std::fmt::Display, expected: &str) -> SettingsError {
        SettingsError(format!("{name}: `{value}` is not valid: {expected}"))
    }

    /// The same for a secret, whose value is never shown.
    pub fn invalid_secret(name: &str, expected: &str) -> SettingsError {
        SettingsError(format!("{name}: the value is not valid: {expected}"))
    }
}

/// What kind of value a setting takes, and which values it accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Any text, taken as written (ids, tokens, passwords, phones, URLs, names).
    Text,
    /// Text that may be left unset; an empty value counts as unset.
    OptionalText,
    /// `true` or `false`.
    Bool,
    /// A whole number from `min` to `max`.
    Number {
        /// Smallest accepted value.
        min: u64,
        /// Largest accepted value.
        max: u64,
    },
}

const U16: u64 = u16::MAX as u64;
const U32: u64 = u32::MAX as u64;

const fn number(min: u64, max: u64) -> Kind {
    Kind::Number { min, max }
}

/// Every setting, by its environment name, with its kind. The same order as [`Settings`].
pub const SPECS: &[(&str, Kind)] = &[
    ("DATABASE_URL", Kind::Text),
    ("POSADA_LISTEN", Kind::Text),
    ("POSADA_PUBLIC_URL", Kind::Text),
    ("LOG_FORMAT", Kind::Text),
    ("TIMEZONE", Kind::Text),
    ("DB_MAX_CONNECTIONS", number(1, 10_000)),
    ("ENABLE_SCHEDULED_TASKS", Kind::Bool),
    ("JOB_CONCURRENCY", number(1, 10_000)),
    ("SHUTDOWN_TIMEOUT_SECONDS", number(0, 86_400)),
    ("PRERESERVATION_TTL_MINUTES", number(1, U32)),
    ("AVAILABILITY_CACHE_MS", number(0, 60_000)),
    ("PRERESERVATION_REMINDER_MINUTES", number(0, U32)),
    ("JOB_EXPIRATION_INTERVAL_SECONDS", number(1, 86_400)),
    ("JOB_ICAL_INTERVAL_SECONDS", number(30, 86_400)),
    ("ICAL_USER_AGENT", Kind::OptionalText),
    ("ICAL_FETCH_TIMEOUT_SECONDS", number(1, 300)),
    ("CHECKIN_REMINDER_HOURS", number(0, U32)),
    ("OWNER_EMAIL", Kind::OptionalText),
    ("OWNER_PHONE", Kind::OptionalText),
    ("REDIS_URL", Kind::OptionalText),
    ("RATE_LIMIT_REDIS_PREFIX", Kind::Text),
    ("RATE_LIMIT_PUBLIC_PER_MINUTE", number(1, U32)),
    ("RATE_LIMIT_WEBHOOKS_PER_MINUTE", number(1, U32)),
    ("RATE_LIMIT_ADMIN_PER_MINUTE", number(1, U32)),
    ("TRUSTED_PROXIES", Kind::Text),
    ("MAX_BODY_BYTES", number(1024, U32)),
    ("MEDIA_MAX_BODY_BYTES", number(1024, U32)),
    ("REQUEST_TIMEOUT_SECONDS", number(1, 86_400)),
    ("CORS_ALLOWED_ORIGINS", Kind::Text),
    ("SHUTDOWN_DRAIN_DELAY_SECONDS", number(0, 3_600)),
    ("DAILY_REPORT_TIME", Kind::Text),
    ("ALERT_CHECK_INTERVAL_SECONDS", number(10, 86_400)),
    ("SLACK_WEBHOOK_URL", Kind::OptionalText),
    ("OWNER_PASSWORD_HASH", Kind::OptionalText),
    ("MERCADOPAGO_ACCESS_TOKEN", Kind::OptionalText),
    ("MERCADOPAGO_WEBHOOK_SECRET", Kind::OptionalText),
    ("MERCADOPAGO_BASE_URL", Kind::Text),
    (
        "MERCADOPAGO_WEBHOOK_MAX_AGE_SECONDS",
        number(0, 86_400 * 365),
    ),
    ("WHATSAPP_ACCESS_TOKEN", Kind::OptionalText),
    ("WHATSAPP_PHONE_NUMBER_ID", Kind::OptionalText),
    ("WHATSAPP_APP_SECRET", Kind::OptionalText),
    ("WHATSAPP_VERIFY_TOKEN", Kind::OptionalText),
    ("WHATSAPP_GRAPH_URL", Kind::Text),
    ("WHATSAPP_API_VERSION", Kind::Text),
    ("WHATSAPP_TEMPLATE_LANGUAGE", Kind::Text),
    ("ASSISTANT_ENABLED", Kind::Bool),
    ("ASSISTANT_SESSION_MINUTES", number(1, 1440)),
    ("ASSISTANT_MAX_MESSAGES_PER_MINUTE", number(1, 1000)),
    ("POSADA_STT_COMMAND", Kind::OptionalText),
    ("POSADA_STT_TIMEOUT_SECONDS", number(1, 3_600)),
    ("SMTP_HOST", Kind::OptionalText),
    ("SMTP_PORT", number(1, U16)),
    ("SMTP_SECURITY", Kind::Text),
    ("SMTP_USERNAME", Kind::OptionalText),
    ("SMTP_PASSWORD", Kind::OptionalText),
    ("SMTP_FROM", Kind::OptionalText),
    ("MESSAGE_TEMPLATES_DIR", Kind::OptionalText),
    ("INTEGRATION_TIMEOUT_SECONDS", number(1, 3_600)),
    ("INTEGRATION_RETRY_BASE_MS", number(0, 86_400_000)),
    ("BREAKER_FAILURE_THRESHOLD", number(1, U32)),
    ("BREAKER_COOL_DOWN_MS", number(0, 86_400_000)),
    ("HTTP_HEADER_READ_TIMEOUT_SECONDS", number(1, 300)),
    ("HTTP_MAX_CONNECTIONS", number(1, 1_000_000)),
    ("HTTP_MAX_CONNECTIONS_PER_IP", number(1, 1_000_000)),
    ("RATE_LIMIT_REDIS_BACKOFF_SECONDS", number(1, 3_600)),
    ("METRICS_TOKEN", Kind::OptionalText),
];

/// The kind of the setting called `name` (environment name).
pub fn kind_of(name: &str) -> Option<Kind> {
    SPECS.iter().find(|(n, _)| *n == name).map(|(_, k)| *k)
}

/// What a setting accepts, in words.
fn expected(kind: Kind) -> String {
    match kind {
        Kind::Text | Kind::OptionalText => "expected text".to_string(),
        Kind::Bool => "expected true or false".to_string(),
        Kind::Number { min, max } => format!("expected a whole number from {min} to {max}"),
    }
}

/// One environment value read as its setting's kind.
fn env_value(name: &str, kind: Kind, raw: &str) -> Result<Option<Value>, SettingsError> {
    Ok(match kind {
        Kind::Text => Some(Value::from(raw.to_string())),
        Kind::OptionalText if raw.is_empty() => None,
        Kind::OptionalText => Some(Value::from(raw.to_string())),
        Kind::Bool => match raw.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Some(Value::from(true)),
            "false" | "0" | "no" | "off" => Some(Value::from(false)),
            _ => return Err(SettingsError::invalid(name, &raw, &expected(kind))),
        },
        Kind::Number { min, max } => match raw.trim().parse::<u64>() {
            Ok(n) if (min..=max).contains(&n) => Some(Value::from(n)),
            _ => return Err(SettingsError::invalid(name, &raw, &expected(kind))),
        },
    })
}

/// The environment, restricted to the names of settings, each value read as its setting's kind
/// (never guessed from how it looks).
struct Environment {
    values: Dict,
}

impl Environment {
    fn read() -> Result<Environment, SettingsError> {
        let mut values = Dict::new();
        for (name, kind) in SPECS {
            let raw = match std::env::var(name) {
                Ok(raw) => raw,
                Err(std::env::VarError::NotPresent) => continue,
                Err(std::env::VarError::NotUnicode(_)) => {
                    return Err(SettingsError(format!(
                        "{name}: the value is not valid: expected UTF-8 text"
                    )));
                }
            };
            if let Some(value) = env_value(name, *kind, &raw)? {
                values.insert(name.to_lowercase(), value);
            }
        }
        Ok(Environment { values })
    }
}

impl Provider for Environment {
    fn metadata(&self) -> Metadata {
        Metadata::named("the environment")
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        Ok(Profile::Default.collect(self.values.clone()))
    }
}

/// Names of every setting, as environment variables.
fn known_names() -> Vec<String> {
    SPECS.iter().map(|(n, _)| (*n).to_string()).collect()
}

/// Deserializers for text settings that also take what a TOML file (or any other source) typed
/// as a number or a boolean, as that text.
mod lenient {
    use serde::Deserializer;
    use serde::de::{Error, Visitor};
    use std::fmt;

    struct TextVisitor;

    impl<'de> Visitor<'de> for TextVisitor {
        type Value = String;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("text")
        }
        fn visit_str<E: Error>(self, v: &str) -> Result<String, E> {
            Ok(v.to_string())
        }
        fn visit_string<E: Error>(self, v: String) -> Result<String, E> {
            Ok(v)
        }
        fn visit_bool<E: Error>(self, v: bool) -> Result<String, E> {
            Ok(v.to_string())
        }
        fn visit_i64<E: Error>(self, v: i64) -> Result<String, E> {
            Ok(v.to_string())
        }
        fn visit_u64<E: Error>(self, v: u64) -> Result<String, E> {
            Ok(v.to_string())
        }
        fn visit_i128<E: Error>(self, v: i128) -> Result<String, E> {
            Ok(v.to_string())
        }
        fn visit_u128<E: Error>(self, v: u128) -> Result<String, E> {
            Ok(v.to_string())
        }
        fn visit_f64<E: Error>(self, v: f64) -> Result<String, E> {
            Ok(v.to_string())
        }
        fn visit_char<E: Error>(self, v: char) -> Result<String, E> {
            Ok(v.to_string())
        }
    }

    /// Any scalar as text.
    pub fn text<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
        deserializer.deserialize_any(TextVisitor)
    }

    struct OptionalVisitor;

    impl<'de> Visitor<'de> for OptionalVisitor {
        type Value = Option<String>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("text or nothing")
        }
        fn visit_none<E: Error>(self) -> Result<Option<String>, E> {
            Ok(None)
        }
        fn visit_unit<E: Error>(self) -> Result<Option<String>, E> {
            Ok(None)
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Option<String>, D::Error> {
            text(d).map(Some)
        }
    }

    /// Any scalar as text; absent or empty is `None`.
    pub fn optional<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
    where
        D: Deserializer<'de>,
        T: From<String>,
    {
        Ok(deserializer
            .deserialize_option(OptionalVisitor)?
            .filter(|s| !s.is_empty())
            .map(T::from))
    }
}

impl Settings {
    /// Read settings: defaults, then `posada.toml` (or the file in `POSADA_CONFIG`) if it
    /// exists, then environment variables.
    pub fn load() -> Result<Settings, SettingsError> {
        let file = std::env::var("POSADA_CONFIG").unwrap_or_else(|_| "posada.toml".into());
        Self::load_from(Path::new(&file))
    }

    fn load_from(file: &Path) -> Result<Settings, SettingsError> {
        let env = Environment::read()?;
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        if file.exists() {
            figment = figment.merge(Toml::file(file));
        }
        let settings: Settings = figment.merge(env).extract().map_err(describe)?;
        settings.validate()?;
        Ok(settings)
    }

    /// Check values that parse but are out of range or make no sense.
    pub fn validate(&self) -> Result<(), SettingsError> {
        self.validate_numbers()?;
        let bad = |name: &str, value: &dyn std::fmt::Display, why: &str| {
            Err(SettingsError::invalid(name, value, why))
        };
        if !(self.database_url.starts_with("sqlite:")
            || self.database_url.starts_with("postgres:")
            || self.database_url.starts_with("postgresql:"))
        {
            return bad(
                "DATABASE_URL",
                &posada_db::redact_url(&self.database_url),
                "expected sqlite://PATH or postgres://USER@HOST:PORT/DB",
            );
        }
        if self.posada_listen.parse::<SocketAddr>().is_err() {
            return bad(
                "POSADA_LISTEN",
                &self.posada_listen,
                "expected IP:PORT, e.g. 127.0.0.1:8080",
            );
        }
        check_http_url("POSADA_PUBLIC_URL", &self.posada_public_url)?;
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
        if let Some(email) = &self.owner_email
            && !is_email(email)
        {
            return bad(
                "OWNER_EMAIL",
                email,
                "expected an e-mail address, e.g. duena@example.com",
            );
        }
        check_http_url("MERCADOPAGO_BASE_URL", &self.mercadopago_base_url)?;
        check_http_url("WHATSAPP_GRAPH_URL", &self.whatsapp_graph_url)?;
        if let Some(url) = &self.slack_webhook_url
            && !is_http_url(url.expose())
        {
            return Err(SettingsError::invalid_secret(
                "SLACK_WEBHOOK_URL",
                "expected an https:// URL",
            ));
        }
        validate_settings(self)?;
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
        Ok(())
    }

    /// Every number within its setting's range ([`SPECS`]).
    fn validate_numbers(&self) -> Result<(), SettingsError> {
        let values = serde_json::to_value(self).unwrap_or_default();
        for (name, kind) in SPECS {
            let Kind::Number { min, max } = *kind else {
                continue;
            };
            let value = values.get(name.to_lowercase()).and_then(|v| v.as_u64());
            if let Some(n) = value
                && !(min..=max).contains(&n)
            {
                return Err(SettingsError::invalid(name, &n, &expected(*kind)));
            }
        }
        Ok(())
    }

    /// The listen address (validated).
    pub fn listen_addr(&self) -> Result<SocketAddr, SettingsError> {
        self.posada_listen.parse().map_err(|_| {
            SettingsError::invalid(
                "POSADA_LISTEN",
                &self.posada_listen,
                "expected IP:PORT, e.g. 127.0.0.1:8080",
            )
        })
    }

    /// The owner's time zone (validated).
    pub fn tz(&self) -> chrono_tz::Tz {
        self.timezone
            .parse()
            .unwrap_or(chrono_tz::America::Argentina::Buenos_Aires)
    }

    /// Whether guests and the owner reach this server over HTTPS (cookies are `Secure` then).
    pub fn public_url_is_https(&self) -> bool {
        self.posada_public_url
            .get(..8)
            .is_some_and(|scheme| scheme.eq_ignore_ascii_case("https://"))
    }
}

/// An absolute `http://` or `https://` URL with a host.
fn is_http_url(value: &str) -> bool {
    reqwest::Url::parse(value).is_ok_and(|u| {
        matches!(u.scheme(), "http" | "https") && u.host_str().is_some_and(|h| !h.is_empty())
    })
}

fn check_http_url(name: &str, value: &str) -> Result<(), SettingsError> {
    if is_http_url(value) {
        Ok(())
    } else {
        Err(SettingsError::invalid(
            name,
            &value,
            "expected an absolute http:// or https:// URL, e.g. https://reservas.example.com",
        ))
    }
}

/// An address with one `@`, something before it and a domain with a dot after it.
fn is_email(value: &str) -> bool {
    value.len() <= 254
        && !value.contains(char::is_whitespace)
        && value.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        })
}

/// Turn figment's error into lines that name the setting as the user writes it, the value and
/// what the setting accepts.
fn describe(err: figment::Error) -> SettingsError {
    use figment::error::{Actual, Kind as ErrorKind};
    let lines: Vec<String> = err
        .into_iter()
        .map(|e| {
            let name = e.path.join(".").to_uppercase();
            let source = e
                .metadata
                .as_ref()
                .map(|m| m.name.to_string())
                .unwrap_or_else(|| "settings".into());
            match &e.kind {
                ErrorKind::UnknownField(field, _) => format!(
                    "unknown setting `{field}` in {source}; known settings: {}",
                    known_names().join(", ").to_lowercase()
                ),
                ErrorKind::InvalidType(actual, _) | ErrorKind::InvalidValue(actual, _) => {
                    let value = match actual {
                        Actual::Bool(v) => v.to_string(),
                        Actual::Unsigned(v) => v.to_string(),
                        Actual::Signed(v) => v.to_string(),
                        Actual::Float(v) => v.to_string(),
                        Actual::Char(v) => v.to_string(),
                        Actual::Str(v) => v.clone(),
                        other => other.to_string(),
                    };
                    let accepted = kind_of(&name)
                        .map(expected)
                        .unwrap_or_else(|| "see the README's settings table".to_string());
                    format!("{name}: `{value}` is not valid ({source}): {accepted}")
                }
                ErrorKind::Message(message) => message.clone(),
                kind => format!("{name} ({source}): {kind}"),
            }
        })
        .collect();
    SettingsError(lines.join("; "))
}

/// Parse `TRUSTED_PROXIES`: comma-separated IPs or CIDRs.
pub fn parse_proxies(list: &str) -> Result<Vec<IpNet>, SettingsError> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            IpNet::from_str(s)
                .or_else(|_| IpAddr::from_str(s).map(IpNet::from))
                .map_err(|_| {
                    SettingsError::invalid(
                        "TRUSTED_PROXIES",
                        &list,
                        &format!(
                            "expected comma-separated IPs or CIDRs (e.g. 10.0.0.0/8); {s:?} is neither"
                        ),
                    )
                })
        })
        .collect()
}

/// Parse `CORS_ALLOWED_ORIGINS` into header values.
pub fn parse_origins(list: &str) -> Result<Vec<HeaderValue>, SettingsError> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            let ok = (s.starts_with("http://") || s.starts_with("https://"))
                && !s.trim_end_matches('/').contains(|c: char| c.is_whitespace());
            HeaderValue::from_str(s.trim_end_matches('/'))
                .ok()
                .filter(|_| ok)
                .ok_or_else(|| {
                    SettingsError::invalid(
                        "CORS_ALLOWED_ORIGINS",
                        &list,
                        &format!(
                            "expected comma-separated origins like https://example.com; {s:?} is not one"
                        ),
                    )
                })
        })
        .collect()
}

/// Check the operations settings (called from [`Settings::validate`], after the ranges of the
/// numbers).
fn validate_settings(s: &Settings) -> Result<(), SettingsError> {
    parse_proxies(&s.trusted_proxies)?;
    parse_origins(&s.cors_allowed_origins)?;
    if s.media_max_body_bytes < s.max_body_bytes {
        return Err(SettingsError::invalid(
            "MEDIA_MAX_BODY_BYTES",
            &s.media_max_body_bytes,
            &format!("expected at least MAX_BODY_BYTES ({})", s.max_body_bytes),
        ));
    }
    if crate::app::report::parse_report_time(&s.daily_report_time).is_none() {
        return Err(SettingsError::invalid(
            "DAILY_REPORT_TIME",
            &s.daily_report_time,
            "expected a time of day as HH:MM, e.g. 08:00",
        ));
    }
    if let Some(url) = &s.redis_url {
        let u = url.expose();
        if !(u.starts_with("redis://") || u.starts_with("rediss://"))
            || redis::Client::open(u).is_err()
        {
            return Err(SettingsError::invalid_secret(
                "REDIS_URL",
                "expected redis://HOST:PORT[/DB] or rediss://HOST:PORT[/DB] (TLS)",
            ));
        }
    }
    if let Some(h) = &s.owner_password_hash
        && argon2::PasswordHash::new(h.expose()).is_err()
    {
        return Err(SettingsError::invalid_secret(
            "OWNER_PASSWORD_HASH",
            "expected an argon2 PHC string ($argon2id$…), or leave it unset and store the password with `posada admin set-password`",
        ));
    }
    Ok(())
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
            out = Some(Settings::load_from(Path::new("posada.toml")));
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

    #[test]
    fn every_setting_has_a_kind() {
        let defaults = serde_json::to_value(Settings::default()).unwrap();
        let mut fields: Vec<String> = defaults
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.to_uppercase())
            .collect();
        let mut specs = known_names();
        fields.sort();
        specs.sort();
        assert_eq!(fields, specs);
        // A setting that is not text refuses text: the kinds match the fields' types.
        for (name, kind) in SPECS {
            let refused = load(&[(name, "abc")], None).is_err();
            let text = matches!(kind, Kind::Text | Kind::OptionalText);
            if !text {
                assert!(refused, "{name} took `abc`");
            }
        }
    }

    /// Text settings that must take any text at all: ids, tokens, passwords, phones, names.
    const FREE_TEXT: &[&str] = &[
        "ICAL_USER_AGENT",
        "OWNER_PHONE",
        "RATE_LIMIT_REDIS_PREFIX",
        "MERCADOPAGO_ACCESS_TOKEN",
        "MERCADOPAGO_WEBHOOK_SECRET",
        "WHATSAPP_ACCESS_TOKEN",
        "WHATSAPP_PHONE_NUMBER_ID",
        "WHATSAPP_APP_SECRET",
        "WHATSAPP_VERIFY_TOKEN",
        "WHATSAPP_API_VERSION",
        "WHATSAPP_TEMPLATE_LANGUAGE",
        "SMTP_HOST",
        "SMTP_USERNAME",
        "SMTP_PASSWORD",
        "SMTP_FROM",
        "MESSAGE_TEMPLATES_DIR",
        "METRICS_TOKEN",
        "POSADA_STT_COMMAND",
    ];

    /// Text settings whose value is a secret: a refusal never shows it.
    const SECRETS: &[&str] = &[
        "REDIS_URL",
        "SLACK_WEBHOOK_URL",
        "OWNER_PASSWORD_HASH",
        "MERCADOPAGO_ACCESS_TOKEN",
        "MERCADOPAGO_WEBHOOK_SECRET",
        "WHATSAPP_ACCESS_TOKEN",
        "WHATSAPP_APP_SECRET",
        "WHATSAPP_VERIFY_TOKEN",
        "SMTP_PASSWORD",
        "METRICS_TOKEN",
    ];

    /// Issue 15 #3: digit-only, boolean-like and empty values reach every text setting as the
    /// text written, from the environment and from `posada.toml`; a text setting that must be
    /// something in particular (a URL, a zone) refuses them naming the setting, never with a
    /// type error.
    #[test]
    fn text_settings_take_digits_booleans_and_empty_values_as_text() {
        let values = [
            "106540352242922",
            "+5492944000000",
            "20252025",
            "0123",
            "1e3",
            "-5",
            "true",
            "false",
            "yes",
            "",
        ];
        let text_settings: Vec<(&str, Kind)> = SPECS
            .iter()
            .copied()
            .filter(|(_, k)| matches!(k, Kind::Text | Kind::OptionalText))
            .collect();
        assert!(text_settings.len() >= 30);
        for (name, kind) in &text_settings {
            let key = name.to_lowercase();
            // SMTP_HOST needs a sender to be accepted at all.
            let companion: &[(&str, &str)] = if *name == "SMTP_HOST" {
                &[("SMTP_FROM", "posada@example.com")]
            } else {
                &[]
            };
            for value in values {
                let mut env = companion.to_vec();
                env.push((name, value));
                let escaped = value.replace('\\', "\\\\").replace('"', "\\\"");
                let toml = format!("{key} = \"{escaped}\"\n");
                // The same value unquoted in the file, where TOML can read it as a number or a
                // boolean (`+5492944000000` and `0123` are not TOML numbers).
                let bare = (value.parse::<i64>().is_ok() && !value.starts_with(['+', '0'])
                    || value == "true"
                    || value == "false")
                    .then(|| format!("{key} = {value}\n"));
                let mut sources = vec![
                    ("environment", load(&env, None)),
                    ("quoted in posada.toml", load(companion, Some(&toml))),
                ];
                if let Some(bare) = &bare {
                    sources.push(("unquoted in posada.toml", load(companion, Some(bare))));
                }
                for (source, loaded) in sources {
                    match loaded {
                        Ok(settings) => {
                            let got = serde_json::to_value(&settings).unwrap()[&key].clone();
                            let want = if value.is_empty() && *kind == Kind::OptionalText {
                                serde_json::Value::Null
                            } else {
                                serde_json::Value::String(value.to_string())
                            };
                            assert_eq!(got, want, "{name}={value:?} {source}");
                        }
                        Err(e) => {
                            let e = e.to_string();
                            assert!(
                                !FREE_TEXT.contains(name),
                                "{name}={value:?} {source} refused: {e}"
                            );
                            assert!(
                                e.starts_with(&format!("{name}: ")) && e.contains("is not valid"),
                                "{name}={value:?} {source}: {e}"
                            );
                            assert!(!e.contains("invalid type"), "{e}");
                            if SECRETS.contains(name) {
                                assert!(value.is_empty() || !e.contains(value), "{e}");
                            } else {
                                assert!(e.contains(&format!("`{value}`")), "{e}");
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn the_probes_values_start() {
        let s = load(
            &[
                ("WHATSAPP_PHONE_NUMBER_ID", "106540352242922"),
                ("OWNER_PHONE", "+5492944000000"),
                ("SMTP_PASSWORD", "20252025"),
                ("WHATSAPP_VERIFY_TOKEN", "true"),
                ("SMTP_HOST", ""),
            ],
            None,
        )
        .unwrap();
        assert_eq!(
            s.whatsapp_phone_number_id.as_deref(),
            Some("106540352242922")
        );
        assert_eq!(s.owner_phone.as_deref(), Some("+5492944000000"));
        assert_eq!(
            s.smtp_password.as_ref().map(Secret::expose),
            Some("20252025")
        );
        assert_eq!(
            s.whatsapp_verify_token.as_ref().map(Secret::expose),
            Some("true")
        );
        assert_eq!(s.smtp_host, None, "empty is unset");
    }

    #[test]
    fn bad_numbers_name_the_setting_the_value_and_the_range() {
        for (env, toml, want) in [
            (
                Some(("PRERESERVATION_TTL_MINUTES", "-5")),
                None,
                "PRERESERVATION_TTL_MINUTES: `-5` is not valid: expected a whole number from 1 to 4294967295",
            ),
            (
                Some(("PRERESERVATION_TTL_MINUTES", "0")),
                None,
                "PRERESERVATION_TTL_MINUTES: `0` is not valid: expected a whole number from 1 to 4294967295",
            ),
            (
                Some(("SMTP_PORT", "70000")),
                None,
                "SMTP_PORT: `70000` is not valid: expected a whole number from 1 to 65535",
            ),
            (
                Some(("JOB_CONCURRENCY", "lots")),
                None,
                "JOB_CONCURRENCY: `lots` is not valid: expected a whole number from 1 to 10000",
            ),
            (
                Some(("ENABLE_SCHEDULED_TASKS", "maybe")),
                None,
                "ENABLE_SCHEDULED_TASKS: `maybe` is not valid: expected true or false",
            ),
            (
                Some(("JOB_ICAL_INTERVAL_SECONDS", "5")),
                None,
                "JOB_ICAL_INTERVAL_SECONDS: `5` is not valid: expected a whole number from 30 to 86400",
            ),
            (
                None,
                Some("prereservation_ttl_minutes = -5\n"),
                "PRERESERVATION_TTL_MINUTES: `-5` is not valid",
            ),
            (
                None,
                Some("prereservation_ttl_minutes = \"treinta\"\n"),
                "PRERESERVATION_TTL_MINUTES: `treinta` is not valid",
            ),
            (
                None,
                Some("smtp_port = 0\n"),
                "SMTP_PORT: `0` is not valid: expected a whole number from 1 to 65535",
            ),
        ] {
            let env: Vec<(&str, &str)> = env.into_iter().collect();
            let e = load(&env, toml).unwrap_err().to_string();
            assert!(e.starts_with(want), "{e}");
            if toml.is_some() {
                assert!(e.contains("expected a whole number from 1 to"), "{e}");
            }
        }
    }

    #[test]
    fn public_url_and_owner_email_are_checked_at_start() {
        let e = load(&[("POSADA_PUBLIC_URL", "example.com")], None)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("POSADA_PUBLIC_URL: `example.com` is not valid: expected an absolute http:// or https:// URL"),
            "{e}"
        );
        let e = load(&[("OWNER_EMAIL", "notanemail")], None)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("OWNER_EMAIL: `notanemail` is not valid: expected an e-mail address"),
            "{e}"
        );
        let s = load(
            &[
                ("POSADA_PUBLIC_URL", "https://reservas.example.com"),
                ("OWNER_EMAIL", "duena@example.com"),
            ],
            None,
        )
        .unwrap();
        assert!(s.public_url_is_https());
        assert_eq!(s.owner_email.as_deref(), Some("duena@example.com"));
    }
}
