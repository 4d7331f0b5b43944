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
use posada_store::feeds::{self, FeedRow};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{Admin, Json, Path, Problem, Query};
use crate::app::AppError;
use crate::app::channels::{self, FeedIn};
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

/// `GET /ical/{token}.ics`: our calendar for one channel. Strong ETag over the body;
/// `If-None-Match` with it answers 304.
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

#[derive(Debug, Deserialize)]
struct FeedFilter {
    accommodation_id: Option<i64>,
}

/// `GET /api/v1/admin/feeds[?accommodation_id=]`: every feed with its sync status.
async fn list_feeds(
    State(state): State<AppState>,
    _admin: Admin,
    Query(filter): Query<FeedFilter>,
) -> Result<axum::Json<serde_json::Value>, Problem> {
    let list = feeds::list(state.db(), filter.accommodation_id)
        .await
        .map_err(AppError::from)?;
    Ok(axum::Json(json!({ "feeds": list })))
}

/// `POST /api/v1/admin/feeds`: add a feed (synced by the next periodic pass, or "sync now").
async fn create_feed(
    State(state): State<AppState>,
    _admin: Admin,
    Json(body): Json<FeedIn>,
) -> Result<(StatusCode, axum::Json<FeedRow>), Problem> {
    let feed = channels::add_feed(&state, &body).await?;
    Ok((StatusCode::CREATED, axum::Json(feed)))
}

/// `GET /api/v1/admin/feeds/{id}`.
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

/// `PUT /api/v1/admin/feeds/{id}`: replace the feed's settings.
async fn update_feed(
    State(state): State<AppState>,
    _admin: Admin,
    Path(id): Path<i64>,
    Json(body): Json<FeedIn>,
) -> Result<axum::Json<FeedRow>, Problem> {
    Ok(axum::Json(channels::update_feed(&state, id, &body).await?))
}

/// `DELETE /api/v1/admin/feeds/{id}`: remove the feed and the blocks it imported.
async fn delete_feed(
    State(state): State<AppState>,
    _admin: Admin,
    Path(id): Path<i64>,
) -> Result<StatusCode, Problem> {
    channels::delete_feed(&state, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/admin/feeds/{id}/sync`: have the feed fetched after now (202, naming the job that
/// will do it).
async fn sync_now(
    State(state): State<AppState>,
    _admin: Admin,
    Path(id): Path<i64>,
) -> Result<(StatusCode, axum::Json<serde_json::Value>), Problem> {
    let asked = channels::sync_now(&state, id).await?;
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(json!({
            "feed_id": id,
            "job_id": asked.job_id,
            "already_queued": asked.already_queued,
        })),
    ))
}

/// One channel's export URL. The secret in it is stored only hashed: `url` is given when it is
/// made (first listing, rotation) and is `null` afterwards; `rotate` makes a new one (the old URL
/// then stops working).
#[derive(Debug, Serialize)]
struct ExportUrl {
    channel: String,
    url: Option<String>,
    created_at: chrono::DateTime<chrono::Utc>,
    rotate: String,
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

/// `GET /api/v1/admin/accommodations/{id}/ical-exports`: one URL per channel, to paste into each
/// channel's calendar import. The URL is shown when it is made (the first listing); later
/// listings show `url: null` and the rotation link.
async fn export_urls(
    State(state): State<AppState>,
    _admin: Admin,
    Path(id): Path<i64>,
) -> Result<axum::Json<serde_json::Value>, Problem> {
    let tokens = channels::export_tokens(&state, id).await?;
    let exports: Vec<ExportUrl> = tokens.iter().map(|t| export_url(&state, id, t)).collect();
    Ok(axum::Json(
        json!({ "accommodation_id": id, "exports": exports }),
    ))
}

/// `POST /api/v1/admin/accommodations/{id}/ical-exports/{channel}/rotate`: a new secret URL for
/// one channel, shown this once; the old one answers 404 from now on.
async fn rotate_export(
    State(state): State<AppState>,
    _admin: Admin,
    Path((id, channel)): Path<(i64, String)>,
) -> Result<axum::Json<ExportUrl>, Problem> {
    let token = channels::rotate_export(&state, id, &channel).await?;
    Ok(axum::Json(export_url(&state, id, &token)))
}

/// `GET /api/v1/admin/conflicts`: imported blocks that overlap one of our active reservations.
async fn list_conflicts(
    State(state): State<AppState>,
    _admin: Admin,
) -> Result<axum::Json<serde_json::Value>, Problem> {
    let list = feeds::open_conflicts(state.db())
        .await
        .map_err(AppError::from)?;
    Ok(axum::Json(json!({ "conflicts": list })))
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
