//! The owner's admin API: accommodations and prices, reservations (list, detail with history,
//! confirm, cancel, no-show, CSV export), and owner blocks. Every route needs an API token.

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use chrono::{DateTime, NaiveDate, Utc};
use posada_domain::{Actor, OwnerBlockInput, ReservationState};
use posada_store::accommodations;
use posada_store::blocks::BlockRow;
use posada_store::notifications::Notification;
use posada_store::reservations::{self, HistoryEntry, ListFilter, Reservation};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::api::{
    AccommodationList, GuestContact, PublicAccommodation, QuoteOut, admin_accommodation,
};
use super::{Admin, Json, Path, Problem, Query};
use crate::app::accommodations::{AccommodationIn, AccommodationWire};
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

/// Every accommodation, active or not.
#[utoipa::path(
    get,
    path = "/api/v1/admin/accommodations",
    tag = "admin",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Every accommodation", body = AccommodationList),
        (status = 401, description = "No or unknown API token", body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn list_accommodations(
    _: Admin,
    State(state): State<AppState>,
) -> Result<Json<AccommodationList>, Problem> {
    let list = accommodations::list(state.db(), false).await?;
    Ok(Json(AccommodationList::new(
        list.iter().map(admin_accommodation).collect(),
    )))
}

/// Create an accommodation with its prices.
#[utoipa::path(
    post,
    path = "/api/v1/admin/accommodations",
    tag = "admin",
    security(("bearer" = [])),
    request_body = AccommodationWire,
    responses(
        (status = 201, description = "Created", body = PublicAccommodation),
        (status = 400, description = "The body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No or unknown API token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "A read-only token (it may only GET)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The slug is taken", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is wrong (named in `errors`)", body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn create_accommodation(
    _: Admin,
    State(state): State<AppState>,
    Json(input): Json<AccommodationIn>,
) -> Result<impl IntoResponse, Problem> {
    let stored = app::accommodations::create(&state, &input).await?;
    Ok((StatusCode::CREATED, Json(admin_accommodation(&stored))))
}

/// One accommodation.
#[utoipa::path(
    get,
    path = "/api/v1/admin/accommodations/{id}",
    tag = "admin",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "The accommodation's id")),
    responses(
        (status = 200, description = "The accommodation", body = PublicAccommodation),
        (status = 400, description = "The body is not JSON, or the id is not a number", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No or unknown API token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No accommodation has this id", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is wrong (named in `errors`)", body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn get_accommodation(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<PublicAccommodation>, Problem> {
    let a = accommodations::get(state.db(), id)
        .await?
        .ok_or_else(|| Problem::not_found("accommodation"))?;
    Ok(Json(admin_accommodation(&a)))
}

/// Replace an accommodation (a representation read with GET may be sent back as it is).
#[utoipa::path(
    put,
    path = "/api/v1/admin/accommodations/{id}",
    tag = "admin",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "The accommodation's id")),
    request_body = AccommodationWire,
    responses(
        (status = 200, description = "The accommodation as changed", body = PublicAccommodation),
        (status = 400, description = "The body is not JSON, or the id is not a number", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No or unknown API token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "A read-only token (it may only GET)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No accommodation has this id", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The slug is taken", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is wrong (named in `errors`)", body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn update_accommodation(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Json(input): Json<AccommodationIn>,
) -> Result<Json<PublicAccommodation>, Problem> {
    let stored = app::accommodations::update(&state, id, &input).await?;
    Ok(Json(admin_accommodation(&stored)))
}

/// What deleting an accommodation did.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccommodationDeleted {
    /// The accommodation.
    id: i64,
    /// True when it had no reservations and is gone.
    deleted: bool,
    /// True when it had reservations and was only deactivated (guests no longer see it).
    deactivated: bool,
}

/// Delete an accommodation, or deactivate it when it has reservations.
#[utoipa::path(
    delete,
    path = "/api/v1/admin/accommodations/{id}",
    tag = "admin",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "The accommodation's id")),
    responses(
        (status = 200, description = "Deleted or deactivated", body = AccommodationDeleted),
        (status = 400, description = "The body is not JSON, or the id is not a number", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No or unknown API token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "A read-only token (it may only GET)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No accommodation has this id", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is wrong (named in `errors`)", body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn delete_accommodation(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<AccommodationDeleted>, Problem> {
    let deleted = app::accommodations::delete(&state, id).await?;
    Ok(Json(AccommodationDeleted {
        id,
        deleted,
        deactivated: !deleted,
    }))
}

/// Filters and page of the reservation list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// Only this state.
    #[param(value_type = Option<ReservationState>)]
    state: Option<String>,
    /// Only this accommodation.
    accommodation_id: Option<i64>,
    /// Stays ending after this date.
    from: Option<NaiveDate>,
    /// Stays starting before this date.
    until: Option<NaiveDate>,
    /// Search in the guest's name, e-mail, phone or the code.
    q: Option<String>,
    /// Rows per page, 1-200, default 50.
    #[param(minimum = 1, maximum = 200)]
    limit: Option<i64>,
    /// Rows to skip.
    #[param(minimum = 0)]
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

/// A reservation as the owner sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminReservation {
    /// Id.
    id: i64,
    /// The code the guest knows.
    code: String,
    /// The accommodation.
    accommodation_id: i64,
    /// Where it is in its life.
    state: ReservationState,
    /// Arrival.
    check_in: NaiveDate,
    /// Departure (the day after the last night).
    check_out: NaiveDate,
    /// Number of nights.
    nights: u32,
    /// Number of guests.
    guests: u32,
    /// Who booked.
    guest: GuestContact,
    /// Where it came from (`api`, `web`, `whatsapp`, …).
    channel: String,
    /// The prices.
    quote: QuoteOut,
    /// When an unconfirmed hold lapses.
    expires_at: Option<DateTime<Utc>>,
    /// The guest's notes.
    notes: String,
    /// Why it reached its state (a cancellation's reason, …).
    state_reason: Option<String>,
    /// Things the owner must look at (e.g. `refund_needed`).
    flags: Vec<String>,
    /// Where the guest pays the deposit, once a payment link exists.
    payment_link: Option<String>,
    /// When it was made.
    created_at: DateTime<Utc>,
    /// Last change.
    updated_at: DateTime<Utc>,
    /// Its state changes, oldest first (detail only).
    #[serde(skip_serializing_if = "Option::is_none")]
    history: Option<Vec<HistoryEntry>>,
    /// The messages sent about it (detail only).
    #[serde(skip_serializing_if = "Option::is_none")]
    notifications: Option<Vec<Notification>>,
}

fn admin_view(r: &Reservation) -> AdminReservation {
    AdminReservation {
        id: r.id,
        code: r.code.clone(),
        accommodation_id: r.accommodation_id,
        state: r.state,
        check_in: r.stay.check_in(),
        check_out: r.stay.check_out(),
        nights: r.stay.nights(),
        guests: r.guests,
        guest: GuestContact::of(r),
        channel: r.channel.clone(),
        quote: QuoteOut::from(&r.quote),
        expires_at: r.expires_at,
        notes: r.notes.clone(),
        state_reason: r.state_reason.clone(),
        flags: r.flags.clone(),
        payment_link: r.payment_link.clone(),
        created_at: r.created_at,
        updated_at: r.updated_at,
        history: None,
        notifications: None,
    }
}

/// A page of reservations.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReservationPage {
    /// The reservations on this page.
    items: Vec<AdminReservation>,
    /// How many match the filters in all.
    total: i64,
    /// Rows per page.
    limit: i64,
    /// Rows skipped.
    offset: i64,
}

/// Reservations, filtered, newest stays first.
#[utoipa::path(
    get,
    path = "/api/v1/admin/reservations",
    tag = "admin",
    security(("bearer" = [])),
    params(ListQuery),
    responses(
        (status = 200, description = "A page of reservations", body = ReservationPage),
        (status = 401, description = "No or unknown API token", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A filter is wrong (named in `errors`)", body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn list_reservations(
    _: Admin,
    State(state): State<AppState>,
    Query(q): Query<ListQuery>,
) -> Result<Json<ReservationPage>, Problem> {
    let f = filter(&q, 200)?;
    let (items, total) = reservations::list(state.db(), &f).await?;
    Ok(Json(ReservationPage {
        items: items.iter().map(admin_view).collect(),
        total,
        limit: f.limit,
        offset: f.offset,
    }))
}

/// The filtered reservations as CSV (amounts in major units; cells that would start a formula are quoted).
#[utoipa::path(
    get,
    path = "/api/v1/admin/reservations.csv",
    tag = "admin",
    security(("bearer" = [])),
    params(
        ("state" = Option<ReservationState>, Query, description = "Only this state"),
        ("accommodation_id" = Option<i64>, Query, description = "Only this accommodation"),
        ("from" = Option<NaiveDate>, Query, description = "Stays ending after this date"),
        ("until" = Option<NaiveDate>, Query, description = "Stays starting before this date"),
        ("q" = Option<String>, Query, description = "Search in the guest's name, e-mail, phone or the code"),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 10000, description = "Rows, 1-10000, default 10000"),
        ("offset" = Option<i64>, Query, minimum = 0, description = "Ignored: the CSV starts at the first row"),
    ),
    responses(
        (status = 200, description = "CSV with a header row", body = String, content_type = "text/csv"),
        (status = 401, description = "No or unknown API token", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A filter is wrong (named in `errors`)", body = Problem, content_type = "application/problem+json"),
    ),
)]
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

/// One reservation with its history and notifications.
#[utoipa::path(
    get,
    path = "/api/v1/admin/reservations/{id}",
    tag = "admin",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "The reservation's id")),
    responses(
        (status = 200, description = "The reservation", body = AdminReservation),
        (status = 400, description = "The body is not JSON, or the id is not a number", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No or unknown API token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No reservation has this id", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is wrong (named in `errors`)", body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn get_reservation(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<AdminReservation>, Problem> {
    let r = reservations::get(state.db(), id)
        .await?
        .ok_or_else(|| Problem::not_found("reservation"))?;
    let history = reservations::history(state.db(), id).await?;
    let notifications = posada_store::notifications::for_reservation(state.db(), id).await?;
    Ok(Json(AdminReservation {
        history: Some(history),
        notifications: Some(notifications),
        ..admin_view(&r)
    }))
}

/// Why (optional, at most 500 characters).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[schema(as = Reason)]
struct ReasonBody {
    /// At most 500 characters.
    #[serde(default)]
    #[schema(max_length = 500)]
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

/// Confirm a hold (e.g. the deposit was paid outside Mercado Pago).
#[utoipa::path(
    post,
    path = "/api/v1/admin/reservations/{id}/confirm",
    tag = "admin",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "The reservation's id")),
    request_body(content = Option<ReasonBody>, description = "Optional: why"),
    responses(
        (status = 200, description = "The reservation as changed", body = AdminReservation),
        (status = 400, description = "The body is not JSON, or the id is not a number", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No or unknown API token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "A read-only token (it may only GET)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No reservation has this id", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "It cannot be confirmed from its state, or its nights were taken", body = Problem, content_type = "application/problem+json"),
        (status = 410, description = "The hold already expired", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is wrong (named in `errors`)", body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn confirm(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    body: Option<Json<ReasonBody>>,
) -> Result<Json<AdminReservation>, Problem> {
    let reason = reason(body)?;
    let r = booking::confirm(&state, id, Actor::Admin, reason.as_deref()).await?;
    Ok(Json(admin_view(&r)))
}

/// Cancel a reservation.
#[utoipa::path(
    post,
    path = "/api/v1/admin/reservations/{id}/cancel",
    tag = "admin",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "The reservation's id")),
    request_body(content = Option<ReasonBody>, description = "Optional: why"),
    responses(
        (status = 200, description = "The reservation as changed", body = AdminReservation),
        (status = 400, description = "The body is not JSON, or the id is not a number", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No or unknown API token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "A read-only token (it may only GET)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No reservation has this id", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "It cannot be cancelled from its state", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is wrong (named in `errors`)", body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn cancel(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    body: Option<Json<ReasonBody>>,
) -> Result<Json<AdminReservation>, Problem> {
    let reason = reason(body)?;
    let r = booking::cancel(&state, id, Actor::Admin, reason.as_deref()).await?;
    Ok(Json(admin_view(&r)))
}

/// Mark that the guest never arrived.
#[utoipa::path(
    post,
    path = "/api/v1/admin/reservations/{id}/no-show",
    tag = "admin",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "The reservation's id")),
    request_body(content = Option<ReasonBody>, description = "Optional: why"),
    responses(
        (status = 200, description = "The reservation as changed", body = AdminReservation),
        (status = 400, description = "The body is not JSON, or the id is not a number", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No or unknown API token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "A read-only token (it may only GET)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No reservation has this id", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "It cannot be marked from its state", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is wrong (named in `errors`)", body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn no_show(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    body: Option<Json<ReasonBody>>,
) -> Result<Json<AdminReservation>, Problem> {
    let reason = reason(body)?;
    let r = booking::mark_no_show(&state, id, reason.as_deref()).await?;
    Ok(Json(admin_view(&r)))
}

/// Which blocks to list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct BlocksQuery {
    /// Only this accommodation.
    accommodation_id: Option<i64>,
    /// `owner` or `channel`.
    #[param(value_type = Option<BlockSourceName>)]
    source: Option<String>,
}

/// Who made a block.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum BlockSourceName {
    /// The owner (maintenance, personal use…).
    Owner,
    /// A channel's calendar feed.
    Channel,
}

/// Blocks.
#[derive(Debug, Serialize, ToSchema)]
pub struct BlockList {
    /// The blocks.
    items: Vec<BlockRow>,
}

/// Owner and channel blocks.
#[utoipa::path(
    get,
    path = "/api/v1/admin/blocks",
    tag = "admin",
    security(("bearer" = [])),
    params(BlocksQuery),
    responses(
        (status = 200, description = "The blocks", body = BlockList),
        (status = 401, description = "No or unknown API token", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A filter is wrong (named in `errors`)", body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn list_blocks(
    _: Admin,
    State(state): State<AppState>,
    Query(q): Query<BlocksQuery>,
) -> Result<Json<BlockList>, Problem> {
    if q.source
        .as_deref()
        .is_some_and(|s| s != "owner" && s != "channel")
    {
        return Err(Problem::field("source", "owner or channel"));
    }
    let items =
        posada_store::blocks::list(state.db(), q.accommodation_id, q.source.as_deref()).await?;
    Ok(Json(BlockList { items }))
}

/// Spelled out rather than `flatten`ing [`OwnerBlockInput`], so an unknown member is refused and
/// a bad date is named by its field.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(
    as = BlockInput,
    description = "An owner block: nights closed for maintenance, personal use…"
)]
struct BlockIn {
    /// The accommodation to close.
    accommodation_id: i64,
    /// First blocked night.
    check_in: chrono::NaiveDate,
    /// First night no longer blocked.
    check_out: chrono::NaiveDate,
    /// Why (maintenance, personal use…).
    #[schema(min_length = 1, max_length = 500, pattern = r"\S")]
    reason: String,
}

/// Close free nights (an owner block).
#[utoipa::path(
    post,
    path = "/api/v1/admin/blocks",
    tag = "admin",
    security(("bearer" = [])),
    request_body = BlockIn,
    responses(
        (status = 201, description = "The block", body = BlockRow),
        (status = 400, description = "The body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No or unknown API token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "A read-only token (it may only GET)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The nights are taken", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is wrong (named in `errors`)", body = Problem, content_type = "application/problem+json"),
    ),
)]
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
    Ok((StatusCode::CREATED, Json(block)))
}

/// One block.
#[utoipa::path(
    get,
    path = "/api/v1/admin/blocks/{id}",
    tag = "admin",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "The block's id")),
    responses(
        (status = 200, description = "The block", body = BlockRow),
        (status = 400, description = "The body is not JSON, or the id is not a number", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No or unknown API token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No block has this id", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is wrong (named in `errors`)", body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn get_block(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<BlockRow>, Problem> {
    let b = posada_store::blocks::get(state.db(), id)
        .await?
        .ok_or_else(|| Problem::not_found("block"))?;
    Ok(Json(b))
}

/// Change an owner block's dates or reason.
#[utoipa::path(
    put,
    path = "/api/v1/admin/blocks/{id}",
    tag = "admin",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "The block's id")),
    request_body = OwnerBlockInput,
    responses(
        (status = 200, description = "The block as changed", body = BlockRow),
        (status = 400, description = "The body is not JSON, or the id is not a number", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No or unknown API token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "A read-only token (it may only GET)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No block has this id", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The nights are taken", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is wrong (named in `errors`)", body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn update_block(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Json(input): Json<OwnerBlockInput>,
) -> Result<Json<BlockRow>, Problem> {
    let block = app::blocks::update(&state, id, &input).await?;
    Ok(Json(block))
}

/// Remove an owner block.
#[utoipa::path(
    delete,
    path = "/api/v1/admin/blocks/{id}",
    tag = "admin",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "The block's id")),
    responses(
        (status = 204, description = "Removed"),
        (status = 400, description = "The body is not JSON, or the id is not a number", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No or unknown API token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "A read-only token (it may only GET)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No block has this id", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is wrong (named in `errors`)", body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn delete_block(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<StatusCode, Problem> {
    app::blocks::delete(&state, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
