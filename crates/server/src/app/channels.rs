//! Channel calendar sync: importing Airbnb / Booking.com / Vrbo feeds into blocks, exporting ours,
//! and the status, metrics and health that tell the owner it works.
//!
//! A sync fetches one feed (conditional GET), parses it in the owner's zone, lets
//! `posada_ical::reconcile` decide what changes, and applies that plan in one write transaction
//! with the accommodation's calendar locked. A failed fetch or an unreadable body only updates
//! the feed's status: nothing is ever removed because a channel misbehaved. Imported blocks that
//! overlap one of our active reservations are kept (they happened elsewhere), recorded as
//! conflicts and announced to the owner through the outbox.

use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{DateTime, NaiveDate, Utc};
use posada_ical::{
    Calendar, ExportEvent, FeedEvent, FeedMemory, ParseOptions, StoredBlock, parse_with, reconcile,
    safe_summary, write_calendar,
};
use posada_integrations::feed_fetch::{FeedFetcher, FetchConfig, FetchOutcome};
use posada_jobs::{Job, JobOptions, NewJob};
use posada_store::feeds::{
    self, CHANNELS, ChannelBlock, ExportToken, FeedInput, FeedRow, FeedSuccess,
};
use posada_store::notifications::NewNotification;
use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::error::{AppError, FieldError};
use super::events::Event;
use super::health::Status;
use super::uow::UnitOfWork;
use crate::config::Settings;
use crate::jobs::sync_feed::SyncFeed;
use crate::state::AppState;

/// A feed whose last success is older than this makes `/healthz` degraded.
pub const AGE_DEGRADED: chrono::Duration = chrono::Duration::minutes(30);
/// A feed whose last success is older than this makes `/healthz` unhealthy.
pub const AGE_UNHEALTHY: chrono::Duration = chrono::Duration::minutes(60);

/// The sync's long-lived pieces: the HTTP client that fetches feeds (it pools connections).
#[derive(Debug)]
pub struct IcalService {
    fetcher: Result<FeedFetcher, String>,
}

impl IcalService {
    /// Build from the settings (`ICAL_USER_AGENT`, `ICAL_FETCH_TIMEOUT_SECONDS`). A client that
    /// cannot be built is reported by every sync as an error instead of stopping the node.
    pub fn new(settings: &Settings) -> IcalService {
        let mut config = FetchConfig {
            timeout: Duration::from_secs(settings.ical_fetch_timeout_seconds.max(1)),
            ..FetchConfig::default()
        };
        if let Some(agent) = settings
            .ical_user_agent
            .as_deref()
            .filter(|a| !a.is_empty())
        {
            config.user_agent = agent.to_string();
        }
        IcalService {
            fetcher: FeedFetcher::new(config).map_err(|e| e.to_string()),
        }
    }

    fn fetcher(&self) -> Result<&FeedFetcher, &str> {
        self.fetcher.as_ref().map_err(String::as_str)
    }
}

/// Describe the metrics (once per process is enough; repeating is harmless).
pub fn describe_metrics() {
    metrics::describe_gauge!(
        "ical_sync_age_minutes",
        metrics::Unit::Count,
        "Minutes since the oldest enabled feed of an accommodation last synced successfully"
    );
    metrics::describe_counter!(
        "ical_sync_errors_total",
        "Failed feed syncs, by accommodation and error type (timeout, connect, http_status, too_large, redirect, parse, other)"
    );
    metrics::describe_counter!(
        "ical_events_imported_total",
        "Channel blocks created from feed events, by accommodation and channel"
    );
    metrics::describe_histogram!(
        "ical_sync_duration_seconds",
        metrics::Unit::Seconds,
        "Time to fetch, parse and apply one feed"
    );
    metrics::describe_counter!(
        "ical_conflicts_total",
        "Imported blocks found overlapping one of our active reservations"
    );
}

/// How a sync ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum SyncOutcome {
    /// The feed was fetched (200, or 304 replaying the previous events) and applied.
    Synced {
        /// Whether the answer was a 304.
        not_modified: bool,
    },
    /// The fetch or the parse failed; the status says why and nothing was removed.
    Failed {
        /// `timeout`, `connect`, `http_status`, `too_large`, `redirect`, `parse` or `other`.
        kind: String,
        /// What happened.
        message: String,
    },
    /// Nothing was done (feed deleted or disabled).
    Skipped {
        /// Why.
        reason: String,
    },
}

/// What one sync did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SyncReport {
    /// The feed.
    pub feed_id: i64,
    /// How it ended.
    #[serde(flatten)]
    pub outcome: SyncOutcome,
    /// Current events in the feed.
    pub events: u32,
    /// Blocks created.
    pub inserted: usize,
    /// Blocks changed.
    pub updated: usize,
    /// Blocks deleted.
    pub deleted: usize,
    /// Blocks kept although missing from this fetch.
    pub kept_missing: usize,
    /// Whether the fetch was judged suspect (empty or sharply shrunken).
    pub suspect: bool,
    /// Conflicts found for the first time.
    pub new_conflicts: usize,
    /// Warnings recorded on the feed.
    pub warning: Option<String>,
}

impl SyncReport {
    fn new(feed_id: i64, outcome: SyncOutcome) -> SyncReport {
        SyncReport {
            feed_id,
            outcome,
            events: 0,
            inserted: 0,
            updated: 0,
            deleted: 0,
            kept_missing: 0,
            suspect: false,
            new_conflicts: 0,
            warning: None,
        }
    }
}

/// Sync one feed as of `now` (the real clock in production; the snapshot time when replaying a
/// recorded history). `now` decides the owner-local "today" that past events are judged by and
/// the time stamps written to the feed and its blocks.
pub async fn sync_feed(
    state: &AppState,
    feed_id: i64,
    now: DateTime<Utc>,
) -> anyhow::Result<SyncReport> {
    let started = Instant::now();
    let report = sync_inner(state, feed_id, now).await;
    metrics::histogram!("ical_sync_duration_seconds").record(started.elapsed().as_secs_f64());
    report
}

async fn sync_inner(
    state: &AppState,
    feed_id: i64,
    now: DateTime<Utc>,
) -> anyhow::Result<SyncReport> {
    let db = state.db();
    let Some(feed) = feeds::get(db, feed_id).await? else {
        return Ok(SyncReport::new(
            feed_id,
            SyncOutcome::Skipped {
                reason: "the feed was deleted".into(),
            },
        ));
    };
    if !feed.enabled {
        return Ok(SyncReport::new(
            feed_id,
            SyncOutcome::Skipped {
                reason: "the feed is disabled".into(),
            },
        ));
    }
    let tz = state.settings().tz();
    let fetcher = match state.ical().fetcher() {
        Ok(f) => f,
        Err(e) => return fail(state, &feed, now, "other", e).await,
    };
    let outcome = fetcher
        .fetch(
            &feed.url,
            feed.etag.as_deref(),
            feed.last_modified.as_deref(),
        )
        .await;
    let (events, validators, parse_note) = match outcome {
        Err(e) => return fail(state, &feed, now, e.kind_label(), &e.message).await,
        Ok(FetchOutcome::NotModified) => {
            let events: Vec<FeedEvent> = feed
                .last_events
                .as_deref()
                .and_then(|s| serde_json::from_str(s).ok())
                .unwrap_or_default();
            (events, None, None)
        }
        Ok(FetchOutcome::Fetched {
            body,
            etag,
            last_modified,
            ..
        }) => {
            let parsed = parse_with(&body, &ParseOptions { tz });
            if !parsed.saw_calendar {
                return fail(
                    state,
                    &feed,
                    now,
                    "parse",
                    "the answer is not an iCalendar (no BEGIN:VCALENDAR)",
                )
                .await;
            }
            let note = (!parsed.warnings.is_empty()).then(|| {
                let first: Vec<String> = parsed
                    .warnings
                    .iter()
                    .take(3)
                    .map(|w| format!("line {}: {}", w.line, w.message))
                    .collect();
                format!(
                    "{} parse warning(s): {}",
                    parsed.warnings.len(),
                    first.join("; ")
                )
            });
            (parsed.events, Some((etag, last_modified)), note)
        }
    };
    let not_modified = validators.is_none();
    let today = now.with_timezone(&tz).date_naive();
    apply(
        state,
        &feed,
        events,
        validators,
        parse_note,
        today,
        now,
        not_modified,
    )
    .await
}

fn to_stored(row: &posada_store::blocks::BlockRow) -> StoredBlock {
    StoredBlock {
        id: row.id,
        uid: row.uid.clone().unwrap_or_default(),
        start: row.start_date,
        end: row.end_date,
        summary: row.reason.clone(),
        first_seen: row.first_seen,
        last_seen: row.last_seen,
        missing_count: u32::try_from(row.missing_count).unwrap_or(u32::MAX),
    }
}

#[allow(clippy::too_many_arguments)]
async fn apply(
    state: &AppState,
    feed: &FeedRow,
    events: Vec<FeedEvent>,
    validators: Option<(Option<String>, Option<String>)>,
    parse_note: Option<String>,
    today: NaiveDate,
    now: DateTime<Utc>,
    not_modified: bool,
) -> anyhow::Result<SyncReport> {
    let acc_label = feed.accommodation_id.to_string();
    // What is replayed on a 304: the current events, with nothing a guest wrote in them.
    let sanitized: Vec<FeedEvent> = events
        .iter()
        .filter(|e| e.end > today)
        .map(|e| FeedEvent {
            summary: Some(safe_summary(e)),
            ..e.clone()
        })
        .collect();
    let last_events = serde_json::to_string(&sanitized)?;
    // For a conflict alert's text; read before the transaction (on SQLite it holds the only write
    // lock, so nothing inside it may wait for another pooled connection).
    let acc = posada_store::accommodations::get(state.db(), feed.accommodation_id).await?;

    let mut uow = UnitOfWork::begin_calendar(state, feed.accommodation_id).await?;
    // Two syncs of one feed can overlap ("sync now" while one runs): the one that started last
    // fetched last, and what it applied is never replaced by an older fetch.
    if feeds::synced_after(uow.conn(), feed.id, now).await? {
        uow.rollback().await?;
        tracing::info!(
            feed.id = feed.id,
            "a sync that started later already applied this feed; this older fetch is dropped"
        );
        return Ok(SyncReport::new(
            feed.id,
            SyncOutcome::Skipped {
                reason: "a newer sync already applied the feed".into(),
            },
        ));
    }
    let prev: Vec<StoredBlock> = feeds::channel_blocks(uow.conn(), feed.id)
        .await?
        .iter()
        .map(to_stored)
        .collect();
    let memory: FeedMemory = serde_json::from_str(&feed.memory).unwrap_or_default();
    let plan = reconcile(&prev, &memory, &events, today, now);

    for id in &plan.deletes {
        feeds::delete_channel_block(uow.conn(), *id, now).await?;
    }
    for u in &plan.updates {
        let b = ChannelBlock {
            uid: &u.uid,
            start: u.start,
            end: u.end,
            reason: &u.summary,
        };
        feeds::update_channel_block(uow.conn(), u.id, &b, now).await?;
    }
    for id in &plan.touch {
        feeds::touch_channel_block(uow.conn(), *id, now).await?;
    }
    for (id, count) in &plan.mark_missing {
        feeds::set_missing(uow.conn(), *id, *count).await?;
    }
    for n in &plan.inserts {
        let b = ChannelBlock {
            uid: &n.uid,
            start: n.start,
            end: n.end,
            reason: &n.summary,
        };
        feeds::insert_channel_block(uow.conn(), feed.accommodation_id, feed.id, &b, now).await?;
    }

    // Conflicts: imported nights over one of our active reservations.
    feeds::resolve_stale_conflicts(uow.conn(), feed.id, now).await?;
    let mut new_conflicts = 0;
    for (block_id, reservation_id) in feeds::overlapping_reservations(uow.conn(), feed.id).await? {
        let opened = feeds::open_conflict(
            uow.conn(),
            feed.accommodation_id,
            feed.id,
            block_id,
            reservation_id,
            now,
        )
        .await?;
        if let Some(conflict_id) = opened {
            alert_owner(
                &mut uow,
                (feed, acc.as_ref()),
                conflict_id,
                block_id,
                reservation_id,
            )
            .await?;
            new_conflicts += 1;
        }
    }

    let mut notes: Vec<String> = plan.warnings.iter().map(|w| w.message.clone()).collect();
    notes.extend(parse_note);
    let warning = (!notes.is_empty()).then(|| notes.join(" | "));
    let memory_json = serde_json::to_string(&plan.new_memory)?;
    let (etag, last_modified) = validators.clone().unwrap_or_default();
    feeds::record_success(
        uow.conn(),
        feed.id,
        &FeedSuccess {
            at: now,
            etag: etag.as_deref(),
            last_modified: last_modified.as_deref(),
            replace_validators: validators.is_some(),
            events_seen: i64::from(plan.current_event_count),
            memory: &memory_json,
            last_events: &last_events,
            warning: warning.as_deref(),
        },
    )
    .await?;
    uow.changed(Event::CalendarChanged {
        accommodation_id: feed.accommodation_id,
    });
    uow.changed(Event::FeedSynced { feed_id: feed.id });
    uow.commit().await?;

    if !plan.inserts.is_empty() {
        metrics::counter!("ical_events_imported_total", "accommodation_id" => acc_label.clone(), "source" => feed.channel.clone())
            .increment(plan.inserts.len() as u64);
    }
    if new_conflicts > 0 {
        metrics::counter!("ical_conflicts_total").increment(new_conflicts as u64);
    }
    refresh_age_gauge(state, feed.accommodation_id).await;
    if let Some(w) = &warning {
        tracing::warn!(feed.id = feed.id, accommodation.id = feed.accommodation_id, warning = %w, "feed synced with a warning");
    }
    tracing::info!(
        feed.id = feed.id,
        accommodation.id = feed.accommodation_id,
        events = plan.current_event_count,
        inserted = plan.inserts.len(),
        updated = plan.updates.len(),
        deleted = plan.deletes.len(),
        kept_missing = plan.mark_missing.len(),
        suspect = plan.suspect,
        not_modified,
        "feed synced"
    );
    Ok(SyncReport {
        feed_id: feed.id,
        outcome: SyncOutcome::Synced { not_modified },
        events: plan.current_event_count,
        inserted: plan.inserts.len(),
        updated: plan.updates.len(),
        deleted: plan.deletes.len(),
        kept_missing: plan.mark_missing.len(),
        suspect: plan.suspect,
        new_conflicts,
        warning,
    })
}

async fn fail(
    state: &AppState,
    feed: &FeedRow,
    now: DateTime<Utc>,
    kind: &str,
    message: &str,
) -> anyhow::Result<SyncReport> {
    feeds::record_failure(state.db(), feed.id, now, message, kind).await?;
    metrics::counter!("ical_sync_errors_total", "accommodation_id" => feed.accommodation_id.to_string(), "error_type" => kind.to_string())
        .increment(1);
    refresh_age_gauge(state, feed.accommodation_id).await;
    tracing::warn!(feed.id = feed.id, accommodation.id = feed.accommodation_id, error.kind = kind, error = %message, "feed sync failed; blocks kept");
    Ok(SyncReport::new(
        feed.id,
        SyncOutcome::Failed {
            kind: kind.to_string(),
            message: message.to_string(),
        },
    ))
}

/// Write the owner's conflict alert (one row per configured owner channel, or one unsendable row
/// when none is configured, so the alert is never silently lost).
async fn alert_owner(
    uow: &mut UnitOfWork<'_>,
    (feed, acc): (
        &FeedRow,
        Option<&posada_store::accommodations::StoredAccommodation>,
    ),
    conflict_id: i64,
    block_id: i64,
    reservation_id: i64,
) -> anyhow::Result<()> {
    let r = posada_store::reservations::get_in(uow.conn(), reservation_id)
        .await?
        .context("conflicting reservation vanished")?;
    let block = feeds::channel_blocks(uow.conn(), feed.id)
        .await?
        .into_iter()
        .find(|b| b.id == block_id)
        .context("conflicting block vanished")?;
    let channel_name = channel_display(&feed.channel);
    let block_start = block.start_date.format("%d/%m/%Y").to_string();
    let block_end = block.end_date.format("%d/%m/%Y").to_string();
    // The owner's own message: it may name the guest (never the export or the logs).
    let data = json!({
        "guest_name": r.guest_name,
        "problem": format!(
            "{channel_name} informa ocupado del {block_start} al {block_end} (calendario importado)"
        ),
        "conflict_id": conflict_id,
        "accommodation": acc.map(|a| a.accommodation.name.clone()),
        "accommodation_slug": acc.map(|a| a.accommodation.slug.clone()),
        "channel": channel_name,
        "block_start": block_start,
        "block_end": block_end,
        "code": r.code,
        "state_label": r.state.label_es(),
        "check_in": r.stay.check_in().format("%d/%m/%Y").to_string(),
        "check_out": r.stay.check_out().format("%d/%m/%Y").to_string(),
    });
    let settings = uow.settings();
    let mut targets: Vec<(&str, Option<&str>)> = Vec::new();
    if let Some(email) = settings.owner_email.as_deref().filter(|e| !e.is_empty()) {
        targets.push(("email", Some(email)));
    }
    if let Some(phone) = settings.owner_phone.as_deref().filter(|p| !p.is_empty()) {
        targets.push(("whatsapp", Some(phone)));
    }
    if targets.is_empty() {
        targets.push(("email", None));
    }
    for (channel, recipient) in targets {
        uow.message(&NewNotification {
            reservation_id: Some(reservation_id),
            audience: "owner",
            channel,
            recipient,
            template: "owner_conflict_alert",
            data: &data,
            dedupe_key: Some(format!("owner_conflict_alert:{conflict_id}:{channel}")),
        })
        .await?;
    }
    tracing::warn!(
        conflict.id = conflict_id,
        reservation.code = %r.code,
        feed.id = feed.id,
        "an imported block overlaps an active reservation; owner alerted"
    );
    Ok(())
}

/// The owner's name for a channel label.
pub fn channel_display(label: &str) -> &'static str {
    match label {
        "airbnb" => "Airbnb",
        "booking" => "Booking.com",
        "vrbo" => "Vrbo",
        _ => "Calendario externo",
    }
}

fn age_of(feed: &FeedRow, now: DateTime<Utc>) -> chrono::Duration {
    now - feed.last_success_at.unwrap_or(feed.created_at)
}

/// Set `ical_sync_age_minutes` for an accommodation: the oldest last success among its enabled
/// feeds (a feed that never synced counts from its creation).
pub async fn refresh_age_gauge(state: &AppState, accommodation_id: i64) {
    let Ok(list) = feeds::list(state.db(), Some(accommodation_id)).await else {
        return;
    };
    let now = state.now();
    let oldest = list
        .iter()
        .filter(|f| f.enabled)
        .map(|f| age_of(f, now))
        .max();
    if let Some(age) = oldest {
        metrics::gauge!("ical_sync_age_minutes", "accommodation_id" => accommodation_id.to_string())
            .set(age.num_seconds().max(0) as f64 / 60.0);
    }
}

/// The channel-sync check of `/healthz`: the oldest last success of an enabled feed (over 30 min
/// degraded, over 60 min unhealthy; no feeds is healthy) and open conflicts (any is degraded).
pub async fn health(state: &AppState) -> (Status, serde_json::Value) {
    let list = match feeds::list(state.db(), None).await {
        Ok(l) => l,
        Err(e) => {
            return (
                Status::Unhealthy,
                json!({"status": Status::Unhealthy, "error": e.to_string()}),
            );
        }
    };
    let conflicts = feeds::open_conflicts(state.db())
        .await
        .map(|c| c.len())
        .unwrap_or(0);
    let now = state.now();
    let enabled: Vec<&FeedRow> = list.iter().filter(|f| f.enabled).collect();
    let oldest = enabled.iter().map(|f| age_of(f, now)).max();
    let failing = enabled
        .iter()
        .filter(|f| f.consecutive_failures > 0)
        .count();
    let mut status = match oldest {
        Some(age) if age > AGE_UNHEALTHY => Status::Unhealthy,
        Some(age) if age > AGE_DEGRADED => Status::Degraded,
        _ => Status::Healthy,
    };
    if conflicts > 0 {
        status = status.max(Status::Degraded);
    }
    (
        status,
        json!({
            "status": status,
            "feeds": enabled.len(),
            "failing_feeds": failing,
            "oldest_success_age_minutes": oldest.map(|a| a.num_seconds().max(0) / 60),
            "open_conflicts": conflicts,
        }),
    )
}

/// A fresh secret for an export URL (192 random bits, hex).
pub fn new_export_token() -> String {
    let bytes: [u8; 24] = rand::rng().random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Our calendar for the channel a token belongs to: active reservations and owner blocks, plus
/// blocks imported from the *other* channels; no guest data. `None` for an unknown token.
pub async fn render_export(state: &AppState, token: &str) -> anyhow::Result<Option<String>> {
    let Some(t) = feeds::find_export_token(state.db(), &posada_store::hash_secret(token)).await?
    else {
        return Ok(None);
    };
    let Some(acc) = posada_store::accommodations::get(state.db(), t.accommodation_id).await? else {
        return Ok(None);
    };
    let today = state.today();
    let reservations = feeds::export_reservations(state.db(), t.accommodation_id, today).await?;
    let blocks = feeds::export_blocks(state.db(), t.accommodation_id, today, &t.channel).await?;
    let mut events: Vec<ExportEvent> = reservations
        .into_iter()
        .map(|r| ExportEvent {
            uid: format!("res-{}@posada", r.id),
            start: r.start_date,
            end: r.end_date,
            summary: "Reservado".into(),
            dtstamp: r.stamp,
            description: None,
        })
        .chain(blocks.into_iter().map(|b| ExportEvent {
            uid: format!("block-{}@posada", b.id),
            start: b.start_date,
            end: b.end_date,
            summary: "No disponible".into(),
            dtstamp: b.stamp,
            description: None,
        }))
        .collect();
    events.sort_by(|a, b| (a.start, &a.uid).cmp(&(b.start, &b.uid)));
    let calendar = Calendar {
        prodid: "-//posada//posada calendar 1.0//ES".into(),
        name: Some(acc.accommodation.name),
        events,
    };
    Ok(Some(write_calendar(&calendar)))
}

fn default_enabled() -> bool {
    true
}

/// A feed as an admin writes it.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[schema(as = FeedInput)]
pub struct FeedIn {
    /// The accommodation the feed's events close.
    pub accommodation_id: i64,
    /// Which channel publishes it.
    #[schema(value_type = ChannelName)]
    pub channel: String,
    /// Where to fetch it: `http(s)://` to a public host, at most 2048 characters.
    #[schema(max_length = 2048)]
    pub url: String,
    /// Whether the periodic sync fetches it (default true).
    #[serde(default = "default_enabled")]
    pub enabled: bool,
}

/// The channels a feed can come from.
#[derive(Debug, utoipa::ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum ChannelName {
    /// Airbnb.
    Airbnb,
    /// Booking.com.
    Booking,
    /// Vrbo.
    Vrbo,
    /// Any other iCal feed.
    Other,
}

pub fn valid_url(url: &str) -> bool {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    let Some(rest) = rest else {
        return false;
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = host.rsplit('@').next().unwrap_or("");
    url.len() <= 2048
        && !host.is_empty()
        && !host.starts_with(':')
        && !url.chars().any(|c| c.is_whitespace() || c.is_control())
}

async fn validate(state: &AppState, body: &FeedIn) -> Result<(), AppError> {
    let mut errors = Vec::new();
    if !CHANNELS.contains(&body.channel.as_str()) {
        errors.push(FieldError::new(
            "channel",
            format!("expected one of {}", CHANNELS.join(", ")),
        ));
    }
    if !valid_url(body.url.trim()) {
        errors.push(FieldError::new(
            "url",
            "expected an http:// or https:// URL with a host",
        ));
    }
    let acc = posada_store::accommodations::get(state.db(), body.accommodation_id).await?;
    if acc.is_none() {
        errors.push(FieldError::new(
            "accommodation_id",
            "no accommodation has this id",
        ));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(AppError::Invalid(errors))
    }
}

/// Add a feed (synced by the next periodic pass, or "sync now").
pub async fn add_feed(state: &AppState, body: &FeedIn) -> Result<FeedRow, AppError> {
    validate(state, body).await?;
    let mut uow = UnitOfWork::begin(state).await?;
    let now = uow.now();
    let feed = feeds::insert(uow.conn(), &feed_input(body), now).await?;
    uow.commit().await?;
    tracing::info!(feed.id = feed.id, accommodation.id = feed.accommodation_id, channel = %feed.channel, "feed added");
    Ok(feed)
}

fn feed_input(body: &FeedIn) -> FeedInput<'_> {
    FeedInput {
        accommodation_id: body.accommodation_id,
        channel: &body.channel,
        url: body.url.trim(),
        enabled: body.enabled,
    }
}

/// Replace a feed's settings.
pub async fn update_feed(state: &AppState, id: i64, body: &FeedIn) -> Result<FeedRow, AppError> {
    validate(state, body).await?;
    let mut uow = UnitOfWork::begin(state).await?;
    let now = uow.now();
    let feed = feeds::update(uow.conn(), id, &feed_input(body), now).await?;
    uow.changed(Event::CalendarChanged {
        accommodation_id: feed.accommodation_id,
    });
    uow.commit().await?;
    Ok(feed)
}

/// Remove a feed and the blocks it imported.
pub async fn delete_feed(state: &AppState, id: i64) -> Result<(), AppError> {
    let feed = feeds::get(state.db(), id)
        .await?
        .ok_or(AppError::NotFound("feed"))?;
    let mut uow = UnitOfWork::begin_calendar(state, feed.accommodation_id).await?;
    let now = uow.now();
    feeds::delete(uow.conn(), id, now).await?;
    uow.changed(Event::CalendarChanged {
        accommodation_id: feed.accommodation_id,
    });
    uow.commit().await?;
    tracing::info!(
        feed.id = id,
        blocks = feed.blocks_held,
        "feed deleted with its blocks"
    );
    Ok(())
}

/// The job that will sync a feed for "sync now".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncRequested {
    /// The job (new, or the queued one that had not started yet and so fetches after this
    /// request).
    pub job_id: Option<i64>,
    /// `true` when no new job was needed: a sync that had not started yet was already queued.
    pub already_queued: bool,
}

/// Have an enabled feed fetched after now ("sync now"). A sync that is already running may have
/// fetched before this request, so it does not count: a follow-up sync is queued to run now (one
/// at most, under its own key), and the answer names the job that will do the fetch.
pub async fn sync_now(state: &AppState, id: i64) -> Result<SyncRequested, AppError> {
    let feed = feeds::get(state.db(), id)
        .await?
        .ok_or(AppError::NotFound("feed"))?;
    if !feed.enabled {
        return Err(AppError::Conflict {
            kind: "feed-disabled",
            title: "The feed is disabled",
            detail: "enable the feed before syncing it".into(),
        });
    }
    let job = SyncFeed {
        feed_id: id,
        as_of: None,
    };
    let jobs = state.jobs();
    let main_key = job.unique_key().unwrap_or_default();
    if let Some(job_id) = jobs.enqueue(&job, JobOptions::default()).await? {
        return Ok(SyncRequested {
            job_id: Some(job_id),
            already_queued: false,
        });
    }
    // A live sync holds the key. Queued but not started: it fetches after this request.
    let admin = jobs.admin();
    if let Some(live) = admin.live_job_id(&main_key).await?
        && let Some(detail) = admin.get(live).await?
        && detail.job.state != posada_jobs::JobState::Running
    {
        return Ok(SyncRequested {
            job_id: Some(live),
            already_queued: true,
        });
    }
    let follow_up = JobOptions::unique(job.follow_up_key());
    if let Some(job_id) = jobs.enqueue(&job, follow_up).await? {
        return Ok(SyncRequested {
            job_id: Some(job_id),
            already_queued: false,
        });
    }
    Ok(SyncRequested {
        job_id: admin.live_job_id(&job.follow_up_key()).await?,
        already_queued: true,
    })
}

/// Enqueue one sync per enabled feed, jittered within 10 % of `JOB_ICAL_INTERVAL_SECONDS`;
/// feeds with a live sync are skipped. Returns how many were enqueued.
pub async fn enqueue_all_syncs(state: &AppState) -> Result<u64, AppError> {
    let ids = feeds::enabled_ids(state.db()).await?;
    let interval_ms = state
        .settings()
        .job_ical_interval_seconds
        .saturating_mul(1000);
    let spread = (interval_ms / 10).max(1);
    let now = state.now();
    let mut jobs = Vec::with_capacity(ids.len());
    for feed_id in ids {
        let delay = rand::rng().random_range(0..spread);
        let run_at = now + chrono::Duration::milliseconds(i64::try_from(delay).unwrap_or(0));
        jobs.push(NewJob::new(
            &SyncFeed {
                feed_id,
                as_of: None,
            },
            posada_jobs::JobOptions::at(run_at),
        )?);
    }
    if jobs.is_empty() {
        return Ok(0);
    }
    Ok(state.jobs().enqueue_many(jobs).await?)
}

async fn existing_accommodation(state: &AppState, id: i64) -> Result<(), AppError> {
    posada_store::accommodations::get(state.db(), id)
        .await?
        .map(|_| ())
        .ok_or(AppError::NotFound("accommodation"))
}

/// One channel's export URL as the owner sees it. Only the token's hash is stored, so the secret
/// is known only when it is made: on first use and on rotation.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportLink {
    /// The channel that polls it.
    pub channel: String,
    /// Created or last rotated.
    pub created_at: DateTime<Utc>,
    /// The secret for the URL, when it was made by this call.
    pub token: Option<String>,
}

/// The accommodation's export URLs, one per channel: a channel's URL is made (and its secret
/// returned) on first use; afterwards only rotation gives a URL again.
pub async fn export_tokens(state: &AppState, id: i64) -> Result<Vec<ExportLink>, AppError> {
    existing_accommodation(state, id).await?;
    let mut uow = UnitOfWork::begin(state).await?;
    let now = uow.now();
    let mut made = std::collections::HashMap::new();
    for channel in CHANNELS {
        let token = new_export_token();
        let hash = posada_store::hash_secret(&token);
        if feeds::ensure_export_token(uow.conn(), id, channel, &hash, now).await? {
            made.insert(channel.to_string(), token);
        }
    }
    uow.commit().await?;
    Ok(feeds::export_tokens(state.db(), id)
        .await?
        .into_iter()
        .map(|t: ExportToken| ExportLink {
            token: made.remove(&t.channel),
            channel: t.channel,
            created_at: t.created_at,
        })
        .collect())
}

/// A new secret export URL for one channel; the old one answers 404 from now on.
pub async fn rotate_export(
    state: &AppState,
    id: i64,
    channel: &str,
) -> Result<ExportLink, AppError> {
    if !CHANNELS.contains(&channel) {
        return Err(AppError::NotFound("channel"));
    }
    existing_accommodation(state, id).await?;
    let mut uow = UnitOfWork::begin(state).await?;
    let now = uow.now();
    let secret = new_export_token();
    let stored = feeds::rotate_export_token(
        uow.conn(),
        id,
        channel,
        &posada_store::hash_secret(&secret),
        now,
    )
    .await?;
    uow.commit().await?;
    let token = ExportLink {
        channel: stored.channel,
        created_at: stored.created_at,
        token: Some(secret),
    };
    tracing::info!(accommodation.id = id, channel = %channel, "export URL rotated");
    Ok(token)
}
