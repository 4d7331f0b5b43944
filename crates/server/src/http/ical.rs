//! Channel calendar sync over HTTP: the public iCal export a channel polls (`/ical/{token}.ics`),
//! and the admin API for feeds (CRUD, status, "sync now"), export URLs and conflicts.
//!
//! The export URL's token is the only secret: each accommodation has one per channel, so a
//! channel's export can leave out what was imported from that same channel (no echo loops), and
//! the owner can rotate one without touching the others.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use posada_store::feeds::{self, ConflictRow, FeedRow};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{Admin, Json, Path, Problem, Query};
use crate::app::AppError;
use crate::app::channels::{self, ChannelName, FeedIn};
use crate::state::AppState;

/// The routes of this module.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/ical/{file}", get(export))
        .route("/api/v1/admin/feeds", get(list_feeds).post(create_feed))
        .route(
            "/api/v1/admin/feeds/{id}",
            get(get_feed).put(update_feed).delete(delete_feed),
        )
        .route("/api/v1/admin/feeds/{id}/sync", post(sync_now))
        .route(
            "/api/v1/admin/accommodations/{id}/ical-exports",
            get(export_urls),
        )
        .route(
            "/api/v1/admin/accommodations/{id}/ical-exports/{channel}/rotate",
            post(rotate_export),
        )
        .route("/api/v1/admin/conflicts", get(list_conflicts))
}

/// Calendar export for one accommodation and channel.
///
/// `{token}.ics`, looked up by the token's hash and masked as `/ical/***.ics` in logs:
/// reservations and blocks, no guest data, the channel's own imports left out. Strong ETag over
/// the body; `If-None-Match` with it answers 304.
#[utoipa::path(
    get,
    path = "/ical/{file}",
    tag = "ical",
    params(("file" = String, Path, description = "`{token}.ics`")),
    responses(
        (status = 200, description = "iCalendar", body = String, content_type = "text/calendar"),
        (status = 304, description = "Not modified (the ETag matches)"),
        (status = 404, description = "No calendar has this token", body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn export(
    State(state): State<AppState>,
    Path(file): Path<String>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let Some(token) = file.strip_suffix(".ics").filter(|t| !t.is_empty()) else {
        return Err(Problem::not_found("calendar"));
    };
    let body = channels::render_export(&state, token)
        .await
        .map_err(Problem::from)?
        .ok_or_else(|| Problem::not_found("calendar"))?;
    let etag = format!("\"{}\"", &posada_store::hash_secret(&body)[..32]);
    let matches = headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().trim_start_matches("W/"))
        .any(|t| t == "*" || t == etag);
    let etag_value = HeaderValue::from_str(&etag).map_err(Problem::internal)?;
    if matches {
        return Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, etag_value)]).into_response());
    }
    Ok((
        StatusCode::OK,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/calendar; charset=utf-8"),
            ),
            (header::ETAG, etag_value),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        body,
    )
        .into_response())
}

/// Which feeds to list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct FeedFilter {
    /// Only this accommodation's feeds.
    accommodation_id: Option<i64>,
}

/// Channel feeds.
#[derive(Debug, Serialize, ToSchema)]
pub struct FeedList {
    /// The feeds with their sync status.
    feeds: Vec<FeedRow>,
}

/// Channel feeds with their sync status.
///
/// For each feed: last attempt, success and error, failures in a row, events seen, blocks held.
#[utoipa::path(
    get,
    path = "/api/v1/admin/feeds",
    tag = "ical",
    security(("bearer" = [])),
    params(FeedFilter),
    responses(
        (status = 200, description = "The feeds", body = FeedList),
        (status = 401, description = "No or unknown API token", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field or parameter is wrong (named in `errors`)", body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn list_feeds(
    State(state): State<AppState>,
    _admin: Admin,
    Query(filter): Query<FeedFilter>,
) -> Result<axum::Json<FeedList>, Problem> {
    let list = feeds::list(state.db(), filter.accommodation_id)
        .await
        .map_err(AppError::from)?;
    Ok(axum::Json(FeedList { feeds: list }))
}

/// Add a channel feed to import (synced by the next periodic pass, or by "sync now").
#[utoipa::path(
    post,
    path = "/api/v1/admin/feeds",
    tag = "ical",
    security(("bearer" = [])),
    request_body = FeedIn,
    responses(
        (status = 201, description = "The feed", body = FeedRow),
        (status = 400, description = "The body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No or unknown API token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "A read-only token (it may only GET)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No accommodation has this id", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The accommodation already has this feed", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field or parameter is wrong (named in `errors`)", body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn create_feed(
    State(state): State<AppState>,
    _admin: Admin,
    Json(body): Json<FeedIn>,
) -> Result<(StatusCode, axum::Json<FeedRow>), Problem> {
    let feed = channels::add_feed(&state, &body).await?;
    Ok((StatusCode::CREATED, axum::Json(feed)))
}

/// One feed with its sync status.
#[utoipa::path(
    get,
    path = "/api/v1/admin/feeds/{id}",
    tag = "ical",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "The feed's id")),
    responses(
        (status = 200, description = "The feed", body = FeedRow),
        (status = 400, description = "The body is not JSON, or the id is not a number", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No or unknown API token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No feed has this id", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field or parameter is wrong (named in `errors`)", body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn get_feed(
    State(state): State<AppState>,
    _admin: Admin,
    Path(id): Path<i64>,
) -> Result<axum::Json<FeedRow>, Problem> {
    feeds::get(state.db(), id)
        .await
        .map_err(AppError::from)?
        .map(axum::Json)
        .ok_or_else(|| Problem::not_found("feed"))
}

/// Replace a feed's settings.
#[utoipa::path(
    put,
    path = "/api/v1/admin/feeds/{id}",
    tag = "ical",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "The feed's id")),
    request_body = FeedIn,
    responses(
        (status = 200, description = "The feed as changed", body = FeedRow),
        (status = 400, description = "The body is not JSON, or the id is not a number", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No or unknown API token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "A read-only token (it may only GET)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No feed (or accommodation) has this id", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field or parameter is wrong (named in `errors`)", body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn update_feed(
    State(state): State<AppState>,
    _admin: Admin,
    Path(id): Path<i64>,
    Json(body): Json<FeedIn>,
) -> Result<axum::Json<FeedRow>, Problem> {
    Ok(axum::Json(channels::update_feed(&state, id, &body).await?))
}

/// Remove a feed and the blocks it imported.
#[utoipa::path(
    delete,
    path = "/api/v1/admin/feeds/{id}",
    tag = "ical",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "The feed's id")),
    responses(
        (status = 204, description = "Removed"),
        (status = 400, description = "The body is not JSON, or the id is not a number", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No or unknown API token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "A read-only token (it may only GET)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No feed has this id", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field or parameter is wrong (named in `errors`)", body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn delete_feed(
    State(state): State<AppState>,
    _admin: Admin,
    Path(id): Path<i64>,
) -> Result<StatusCode, Problem> {
    channels::delete_feed(&state, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A sync asked for.
#[derive(Debug, Serialize, ToSchema)]
pub struct SyncQueued {
    /// The feed.
    feed_id: i64,
    /// The job that will fetch the feed (null only if the queue could not name it).
    job_id: Option<i64>,
    /// True when that job was already queued (not yet started) by an earlier request.
    already_queued: bool,
}

/// Sync a feed now.
///
/// The feed is fetched after this request (while a sync runs, a follow-up sync is queued to run
/// after it); the answer names the job that will do it.
#[utoipa::path(
    post,
    path = "/api/v1/admin/feeds/{id}/sync",
    tag = "ical",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "The feed's id")),
    responses(
        (status = 202, description = "Sync queued", body = SyncQueued),
        (status = 400, description = "The body is not JSON, or the id is not a number", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No or unknown API token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "A read-only token (it may only GET)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No feed has this id", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The feed is disabled: enable it before syncing it", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field or parameter is wrong (named in `errors`)", body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn sync_now(
    State(state): State<AppState>,
    _admin: Admin,
    Path(id): Path<i64>,
) -> Result<(StatusCode, axum::Json<SyncQueued>), Problem> {
    let asked = channels::sync_now(&state, id).await?;
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(SyncQueued {
            feed_id: id,
            job_id: asked.job_id,
            already_queued: asked.already_queued,
        }),
    ))
}

/// One channel's export URL. The secret in it is stored only hashed: `url` is given when it is
/// made (first listing, rotation) and is `null` afterwards; `rotate` makes a new one (the old URL
/// then stops working).
#[derive(Debug, Serialize, ToSchema)]
pub struct ExportUrl {
    /// The channel that polls it.
    channel: String,
    /// The URL to paste into the channel, when it was made by this call; null afterwards.
    url: Option<String>,
    /// Made or last rotated.
    created_at: chrono::DateTime<chrono::Utc>,
    /// Where to POST for a new URL.
    rotate: String,
}

/// An accommodation's export URLs.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExportUrls {
    /// The accommodation.
    accommodation_id: i64,
    /// One per channel.
    exports: Vec<ExportUrl>,
}

fn export_url(state: &AppState, accommodation_id: i64, t: &channels::ExportLink) -> ExportUrl {
    ExportUrl {
        channel: t.channel.clone(),
        url: t.token.as_ref().map(|token| {
            format!(
                "{}/ical/{token}.ics",
                state.settings().posada_public_url.trim_end_matches('/'),
            )
        }),
        created_at: t.created_at,
        rotate: format!(
            "/api/v1/admin/accommodations/{accommodation_id}/ical-exports/{}/rotate",
            t.channel
        ),
    }
}

/// Our export URLs for each channel.
///
/// A URL is shown when it is made (the first listing); its secret is stored only hashed, so
/// later listings give `url: null` with `created_at` and the `rotate` link that makes a new URL
/// (shown once; the old one stops working).
#[utoipa::path(
    get,
    path = "/api/v1/admin/accommodations/{id}/ical-exports",
    tag = "ical",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "The accommodation's id")),
    responses(
        (status = 200, description = "The export URLs", body = ExportUrls),
        (status = 400, description = "The id is not a number", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No or unknown API token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No accommodation has this id", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field or parameter is wrong (named in `errors`)", body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn export_urls(
    State(state): State<AppState>,
    _admin: Admin,
    Path(id): Path<i64>,
) -> Result<axum::Json<ExportUrls>, Problem> {
    let tokens = channels::export_tokens(&state, id).await?;
    let exports: Vec<ExportUrl> = tokens.iter().map(|t| export_url(&state, id, t)).collect();
    Ok(axum::Json(ExportUrls {
        accommodation_id: id,
        exports,
    }))
}

/// A new secret export URL for one channel, shown this once; the old one answers 404 from now on.
#[utoipa::path(
    post,
    path = "/api/v1/admin/accommodations/{id}/ical-exports/{channel}/rotate",
    tag = "ical",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "The accommodation's id"), ("channel" = ChannelName, Path, description = "The channel")),
    responses(
        (status = 200, description = "The new URL", body = ExportUrl),
        (status = 400, description = "The id is not a number", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No or unknown API token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "A read-only token (it may only GET)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No accommodation has this id", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field or parameter is wrong (named in `errors`)", body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn rotate_export(
    State(state): State<AppState>,
    _admin: Admin,
    Path((id, channel)): Path<(i64, String)>,
) -> Result<axum::Json<ExportUrl>, Problem> {
    let token = channels::rotate_export(&state, id, &channel).await?;
    Ok(axum::Json(export_url(&state, id, &token)))
}

/// Open conflicts.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConflictList {
    /// Imported blocks that overlap one of our active reservations.
    conflicts: Vec<ConflictRow>,
}

/// Imported blocks that overlap one of our active reservations (no guest data).
#[utoipa::path(
    get,
    path = "/api/v1/admin/conflicts",
    tag = "ical",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The open conflicts", body = ConflictList),
        (status = 401, description = "No or unknown API token", body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn list_conflicts(
    State(state): State<AppState>,
    _admin: Admin,
) -> Result<axum::Json<ConflictList>, Problem> {
    let list = feeds::open_conflicts(state.db())
        .await
        .map_err(AppError::from)?;
    Ok(axum::Json(ConflictList { conflicts: list }))
}

#[cfg(test)]
mod tests {
    use crate::app::channels::valid_url;

    #[test]
    fn feed_urls_must_be_http_with_a_host() {
        assert!(valid_url(
            "https://www.airbnb.com/calendar/ical/123.ics?s=abc"
        ));
        assert!(valid_url("http://127.0.0.1:8080/feed.ics"));
        assert!(!valid_url("ftp://example.com/feed.ics"));
        assert!(!valid_url("https:///feed.ics"));
        assert!(!valid_url("https://exa mple.com/"));
        assert!(!valid_url("file:///etc/passwd"));
        assert!(!valid_url("example.com/feed.ics"));
    }
}
