//! The owner's admin API: accommodations and prices, reservations (list, detail with history,
//! confirm, cancel, no-show, CSV export), and owner blocks. Every route needs an API token.

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use chrono::NaiveDate;
use posada_domain::{Actor, OwnerBlockInput, ReservationState};
use posada_store::accommodations::{self, StoredAccommodation};
use posada_store::reservations::{self, ListFilter, Reservation};
use serde::Deserialize;
use serde_json::{Value, json};

use super::api::{QuoteOut, public_accommodation};
use super::{Admin, Json, Path, Problem, Query};
use crate::app::accommodations::AccommodationIn;
use crate::app::{self, booking};
use crate::state::AppState;

/// Admin routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/admin/accommodations",
            get(list_accommodations).post(create_accommodation),
        )
        .route(
            "/api/v1/admin/accommodations/{id}",
            get(get_accommodation)
                .put(update_accommodation)
                .delete(delete_accommodation),
        )
        .route("/api/v1/admin/reservations", get(list_reservations))
        .route("/api/v1/admin/reservations.csv", get(export_csv))
        .route("/api/v1/admin/reservations/{id}", get(get_reservation))
        .route("/api/v1/admin/reservations/{id}/confirm", post(confirm))
        .route("/api/v1/admin/reservations/{id}/cancel", post(cancel))
        .route("/api/v1/admin/reservations/{id}/no-show", post(no_show))
        .route("/api/v1/admin/blocks", get(list_blocks).post(create_block))
        .route(
            "/api/v1/admin/blocks/{id}",
            get(get_block).put(update_block).delete(delete_block),
        )
}

fn admin_accommodation(a: &StoredAccommodation) -> Value {
    let mut v = public_accommodation(a);
    v["active"] = json!(a.accommodation.active);
    v["directions"] = json!(a.directions);
    v
}

async fn list_accommodations(
    _: Admin,
    State(state): State<AppState>,
) -> Result<Json<Value>, Problem> {
    let list = accommodations::list(state.db(), false).await?;
    Ok(Json(
        json!({"items": list.iter().map(admin_accommodation).collect::<Vec<_>>()}),
    ))
}

async fn create_accommodation(
    _: Admin,
    State(state): State<AppState>,
    Json(input): Json<AccommodationIn>,
) -> Result<impl IntoResponse, Problem> {
    let stored = app::accommodations::create(&state, &input).await?;
    Ok((StatusCode::CREATED, Json(admin_accommodation(&stored))))
}

async fn get_accommodation(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<Value>, Problem> {
    let a = accommodations::get(state.db(), id)
        .await?
        .ok_or_else(|| Problem::not_found("accommodation"))?;
    Ok(Json(admin_accommodation(&a)))
}

async fn update_accommodation(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Json(input): Json<AccommodationIn>,
) -> Result<Json<Value>, Problem> {
    let stored = app::accommodations::update(&state, id, &input).await?;
    Ok(Json(admin_accommodation(&stored)))
}

async fn delete_accommodation(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<Value>, Problem> {
    let deleted = app::accommodations::delete(&state, id).await?;
    Ok(Json(
        json!({"id": id, "deleted": deleted, "deactivated": !deleted}),
    ))
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    state: Option<String>,
    accommodation_id: Option<i64>,
    from: Option<NaiveDate>,
    until: Option<NaiveDate>,
    q: Option<String>,
    limit: Option<i64>,
    offset: Option<i64>,
}

fn filter(q: &ListQuery, max: i64) -> Result<ListFilter, Problem> {
    let state = match q.state.as_deref() {
        Some(s) => Some(ReservationState::parse(s).map_err(|_| {
            Problem::field(
                "state",
                "one of pre_reserved, confirmed, completed, cancelled, expired, no_show",
            )
        })?),
        None => None,
    };
    let limit = q.limit.unwrap_or(50);
    if !(1..=max).contains(&limit) {
        return Err(Problem::field("limit", format!("between 1 and {max}")));
    }
    let offset = q.offset.unwrap_or(0);
    if offset < 0 {
        return Err(Problem::field("offset", "must not be negative"));
    }
    Ok(ListFilter {
        state,
        accommodation_id: q.accommodation_id,
        from: q.from,
        until: q.until,
        q: q.q.clone().filter(|s| !s.trim().is_empty()),
        channel: None,
        limit,
        offset,
    })
}

fn admin_view(r: &Reservation) -> Value {
    json!({
        "id": r.id,
        "code": r.code,
        "accommodation_id": r.accommodation_id,
        "state": r.state.as_str(),
        "check_in": r.stay.check_in(),
        "check_out": r.stay.check_out(),
        "nights": r.stay.nights(),
        "guests": r.guests,
        "guest": {"name": r.guest_name, "email": r.guest_email, "phone": r.guest_phone},
        "channel": r.channel,
        "quote": QuoteOut::from(&r.quote),
        "expires_at": r.expires_at,
        "notes": r.notes,
        "state_reason": r.state_reason,
        "flags": r.flags,
        "payment_link": r.payment_link,
        "created_at": r.created_at,
        "updated_at": r.updated_at,
    })
}

async fn list_reservations(
    _: Admin,
    State(state): State<AppState>,
    Query(q): Query<ListQuery>,
) -> Result<Json<Value>, Problem> {
    let f = filter(&q, 200)?;
    let (items, total) = reservations::list(state.db(), &f).await?;
    Ok(Json(
        json!({"items": items.iter().map(admin_view).collect::<Vec<_>>(), "total": total, "limit": f.limit, "offset": f.offset}),
    ))
}

async fn export_csv(
    _: Admin,
    State(state): State<AppState>,
    Query(q): Query<ListQuery>,
) -> Result<impl IntoResponse, Problem> {
    let f = filter(
        &ListQuery {
            limit: Some(q.limit.unwrap_or(CSV_MAX_ROWS)),
            ..q
        },
        CSV_MAX_ROWS,
    )?;
    reservations_csv(&state, f).await
}

/// The most rows a CSV export holds.
pub(crate) const CSV_MAX_ROWS: i64 = 10_000;

/// The reservations matching `f` (from its first row, at most `f.limit`) as the CSV file the
/// owner downloads; the admin API and the owner's web app both answer with it.
pub(crate) async fn reservations_csv(
    state: &AppState,
    mut f: ListFilter,
) -> Result<axum::response::Response, Problem> {
    f.offset = 0;
    let (items, _) = reservations::list(state.db(), &f).await?;
    let mut w = csv::Writer::from_writer(Vec::new());
    let header = [
        "code",
        "state",
        "accommodation_id",
        "check_in",
        "check_out",
        "nights",
        "guests",
        "guest_name",
        "guest_email",
        "guest_phone",
        "channel",
        "currency",
        "total",
        "deposit",
        "created_at",
    ];
    w.write_record(header).map_err(Problem::internal)?;
    for r in &items {
        w.write_record([
            r.code.clone(),
            r.state.as_str().to_string(),
            r.accommodation_id.to_string(),
            r.stay.check_in().to_string(),
            r.stay.check_out().to_string(),
            r.stay.nights().to_string(),
            r.guests.to_string(),
            csv_safe(&r.guest_name),
            csv_safe(r.guest_email.as_deref().unwrap_or("")),
            csv_safe(r.guest_phone.as_deref().unwrap_or("")),
            r.channel.clone(),
            r.total.currency.code().to_string(),
            minor_to_decimal(r.total.minor),
            minor_to_decimal(r.deposit.minor),
            r.created_at.to_rfc3339(),
        ])
        .map_err(Problem::internal)?;
    }
    let bytes = w.into_inner().map_err(Problem::internal)?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"reservations.csv\"",
            ),
        ],
        bytes,
    )
        .into_response())
}

/// Keep spreadsheet programs from running a cell as a formula.
fn csv_safe(s: &str) -> String {
    if s.starts_with(['=', '+', '-', '@']) {
        format!("'{s}")
    } else {
        s.to_string()
    }
}

fn minor_to_decimal(minor: i64) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let m = minor.unsigned_abs();
    format!("{sign}{}.{:02}", m / 100, m % 100)
}

async fn get_reservation(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<Value>, Problem> {
    let r = reservations::get(state.db(), id)
        .await?
        .ok_or_else(|| Problem::not_found("reservation"))?;
    let history = reservations::history(state.db(), id).await?;
    let notifications = posada_store::notifications::for_reservation(state.db(), id).await?;
    let mut v = admin_view(&r);
    v["history"] = json!(history);
    v["notifications"] = json!(notifications);
    Ok(Json(v))
}

#[derive(Debug, Default, Deserialize)]
struct ReasonBody {
    #[serde(default)]
    reason: Option<String>,
}

fn reason(body: Option<Json<ReasonBody>>) -> Result<Option<String>, Problem> {
    let reason = body
        .and_then(|Json(b)| b.reason)
        .map(|r| r.trim().to_string())
        .filter(|r| !r.is_empty());
    if reason.as_deref().is_some_and(|r| r.chars().count() > 500) {
        return Err(Problem::field("reason", "at most 500 characters"));
    }
    Ok(reason)
}

async fn confirm(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    body: Option<Json<ReasonBody>>,
) -> Result<Json<Value>, Problem> {
    let reason = reason(body)?;
    let r = booking::confirm(&state, id, Actor::Admin, reason.as_deref()).await?;
    Ok(Json(admin_view(&r)))
}

async fn cancel(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    body: Option<Json<ReasonBody>>,
) -> Result<Json<Value>, Problem> {
    let reason = reason(body)?;
    let r = booking::cancel(&state, id, Actor::Admin, reason.as_deref()).await?;
    Ok(Json(admin_view(&r)))
}

async fn no_show(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    body: Option<Json<ReasonBody>>,
) -> Result<Json<Value>, Problem> {
    let reason = reason(body)?;
    let r = booking::mark_no_show(&state, id, reason.as_deref()).await?;
    Ok(Json(admin_view(&r)))
}

#[derive(Debug, Deserialize)]
struct BlocksQuery {
    accommodation_id: Option<i64>,
    source: Option<String>,
}

async fn list_blocks(
    _: Admin,
    State(state): State<AppState>,
    Query(q): Query<BlocksQuery>,
) -> Result<Json<Value>, Problem> {
    if q.source
        .as_deref()
        .is_some_and(|s| s != "owner" && s != "channel")
    {
        return Err(Problem::field("source", "owner or channel"));
    }
    let items =
        posada_store::blocks::list(state.db(), q.accommodation_id, q.source.as_deref()).await?;
    Ok(Json(json!({"items": items})))
}

/// Spelled out rather than `flatten`ing [`OwnerBlockInput`], so an unknown member is refused and
/// a bad date is named by its field.
#[derive(Debug, Deserialize)]
struct BlockIn {
    accommodation_id: i64,
    check_in: chrono::NaiveDate,
    check_out: chrono::NaiveDate,
    reason: String,
}

async fn create_block(
    _: Admin,
    State(state): State<AppState>,
    Json(input): Json<BlockIn>,
) -> Result<impl IntoResponse, Problem> {
    let block = OwnerBlockInput {
        check_in: input.check_in,
        check_out: input.check_out,
        reason: input.reason,
    };
    let block = app::blocks::create(&state, input.accommodation_id, &block).await?;
    Ok((StatusCode::CREATED, Json(json!(block))))
}

async fn get_block(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<Value>, Problem> {
    let b = posada_store::blocks::get(state.db(), id)
        .await?
        .ok_or_else(|| Problem::not_found("block"))?;
    Ok(Json(json!(b)))
}

async fn update_block(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Json(input): Json<OwnerBlockInput>,
) -> Result<Json<Value>, Problem> {
    let block = app::blocks::update(&state, id, &input).await?;
    Ok(Json(json!(block)))
}

async fn delete_block(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<StatusCode, Problem> {
    app::blocks::delete(&state, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
