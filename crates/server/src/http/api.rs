//! The public API for guests: accommodations, availability calendars, quotes, and holds (create,
//! read and cancel one's own with code + access token). Nothing here reveals another guest's name,
//! phone or e-mail.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Extension, Router};
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use posada_domain::{
    AccommodationKind, Actor, NightPrice, Photo, PricingRules, Quote, ReservationState,
    availability,
};
use posada_store::accommodations::StoredAccommodation;
use posada_store::reservations::{self, Reservation};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::trace::TraceId;
use super::{Json, Path, Problem, Query};
use crate::app::booking::{self, HoldRequest};
use crate::state::AppState;

/// Public routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/accommodations", get(list_accommodations))
        .route("/api/v1/accommodations/{slug}", get(get_accommodation))
        .route(
            "/api/v1/accommodations/{slug}/availability",
            get(availability_calendar),
        )
        .route("/api/v1/accommodations/{slug}/quote", get(quote))
        .route("/api/v1/reservations", post(create_hold))
        .route("/api/v1/reservations/{code}", get(get_own_reservation))
        .route(
            "/api/v1/reservations/{code}/cancel",
            post(cancel_own_reservation),
        )
}

/// An accommodation as guests see it (the admin API adds `active` and `directions`).
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Accommodation)]
pub struct PublicAccommodation {
    /// Id.
    id: i64,
    /// URL name, e.g. `cabana-del-lago`.
    slug: String,
    /// Name shown to guests.
    name: String,
    /// What kind of place it is.
    kind: AccommodationKind,
    /// Description shown to guests (Spanish).
    description: String,
    /// Most guests it takes.
    capacity: u32,
    /// Amenities, as written by the owner.
    amenities: Vec<String>,
    /// Photos in display order.
    photos: Vec<Photo>,
    /// Check-in time, `HH:MM`.
    check_in_time: String,
    /// Check-out time, `HH:MM`.
    check_out_time: String,
    /// How it is priced.
    pricing: PricingRules,
    /// Whether guests can book it (admin API only).
    #[serde(skip_serializing_if = "Option::is_none")]
    active: Option<bool>,
    /// How to get there, sent to confirmed guests (admin API only).
    #[serde(skip_serializing_if = "Option::is_none")]
    directions: Option<String>,
}

/// The public view of an accommodation.
pub fn public_accommodation(a: &StoredAccommodation) -> PublicAccommodation {
    let acc = &a.accommodation;
    PublicAccommodation {
        id: acc.id,
        slug: acc.slug.clone(),
        name: acc.name.clone(),
        kind: acc.kind,
        description: acc.description.clone(),
        capacity: acc.capacity,
        amenities: acc.amenities.clone(),
        photos: acc.photos_in_order().into_iter().cloned().collect(),
        check_in_time: acc.check_in_time.format("%H:%M").to_string(),
        check_out_time: acc.check_out_time.format("%H:%M").to_string(),
        pricing: acc.pricing.clone(),
        active: None,
        directions: None,
    }
}

/// The admin view of an accommodation: the public one with `active` and `directions`.
pub fn admin_accommodation(a: &StoredAccommodation) -> PublicAccommodation {
    PublicAccommodation {
        active: Some(a.accommodation.active),
        directions: Some(a.directions.clone()),
        ..public_accommodation(a)
    }
}

/// A list of accommodations.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccommodationList {
    /// The accommodations, in the catalogue's order.
    items: Vec<PublicAccommodation>,
}

impl AccommodationList {
    /// The list of `items`.
    pub fn new(items: Vec<PublicAccommodation>) -> Self {
        AccommodationList { items }
    }
}

/// Active accommodations.
#[utoipa::path(
    get,
    path = "/api/v1/accommodations",
    tag = "public",
    responses((status = 200, description = "The bookable accommodations", body = AccommodationList)),
)]
async fn list_accommodations(
    State(state): State<AppState>,
) -> Result<Json<AccommodationList>, Problem> {
    let list = posada_store::accommodations::list(state.db(), true)
        .await
        .map_err(Problem::from)?;
    Ok(Json(AccommodationList::new(
        list.iter().map(public_accommodation).collect(),
    )))
}

/// One active accommodation.
#[utoipa::path(
    get,
    path = "/api/v1/accommodations/{slug}",
    tag = "public",
    params(("slug" = String, Path, description = "The accommodation's slug")),
    responses(
        (status = 200, description = "The accommodation", body = PublicAccommodation),
        (status = 404, description = "No active accommodation has this slug", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The slug is not valid text", body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn get_accommodation(
    State(state): State<AppState>,
    Path(slug): Path<String>,
) -> Result<Json<PublicAccommodation>, Problem> {
    let acc = booking::active_accommodation(&state, &slug).await?;
    Ok(Json(public_accommodation(&acc)))
}

/// Which days a calendar covers: a `month`, or `from` and `until`, or (neither) this month.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct CalendarQuery {
    /// `YYYY-MM`: a month calendar.
    #[param(pattern = r"^[0-9]{4}-(0[1-9]|1[0-2])$", example = "2026-12")]
    month: Option<String>,
    /// First day (with `until`).
    from: Option<NaiveDate>,
    /// Day after the last (with `from`).
    until: Option<NaiveDate>,
}

/// Longest calendar one request may ask for.
const MAX_CALENDAR_DAYS: i64 = 550;

/// One day of a calendar.
#[derive(Debug, Serialize, ToSchema)]
pub struct CalendarDay {
    /// The night starting on this date.
    date: NaiveDate,
    /// Whether that night can be booked (never for past dates).
    available: bool,
}

/// An availability calendar.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Calendar)]
pub struct Calendar {
    /// The accommodation's slug.
    accommodation: String,
    /// First day.
    from: NaiveDate,
    /// Day after the last.
    until: NaiveDate,
    /// Every day from `from` to the day before `until`.
    days: Vec<CalendarDay>,
}

/// Which nights are free.
#[utoipa::path(
    get,
    path = "/api/v1/accommodations/{slug}/availability",
    tag = "public",
    params(("slug" = String, Path, description = "The accommodation's slug"), CalendarQuery),
    responses(
        (status = 200, description = "One entry per night", body = Calendar),
        (status = 404, description = "No active accommodation has this slug", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A bad month or range (the field is named)", body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn availability_calendar(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    Query(q): Query<CalendarQuery>,
) -> Result<Json<Calendar>, Problem> {
    let acc = booking::active_accommodation(&state, &slug).await?;
    let (from, until) = match (&q.month, q.from, q.until) {
        (Some(month), None, None) => {
            let parsed =
                NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d").map_err(|_| {
                    Problem::field("month", "usá el formato AAAA-MM, por ejemplo 2026-12")
                })?;
            availability::month_bounds(parsed.year(), parsed.month())
                .ok_or_else(|| Problem::field("month", "mes fuera de rango"))?
        }
        (None, Some(from), Some(until)) => {
            if until <= from {
                return Err(Problem::field("until", "must be after `from`"));
            }
            if (until - from).num_days() > MAX_CALENDAR_DAYS {
                return Err(Problem::field(
                    "until",
                    format!("at most {MAX_CALENDAR_DAYS} days per request"),
                ));
            }
            (from, until)
        }
        (None, None, None) => {
            let today = state.today();
            availability::month_bounds(today.year(), today.month())
                .ok_or_else(|| Problem::internal("month bounds"))?
        }
        _ => {
            return Err(Problem::field(
                "month",
                "give either `month` or both `from` and `until`",
            ));
        }
    };
    let taken = state
        .taken_cache()
        .taken(state.db(), acc.accommodation.id, from, until)
        .await
        .map_err(Problem::from)?;
    let today = state.today();
    let days = availability::calendar(from, until, &taken)
        .into_iter()
        .map(|d| CalendarDay {
            date: d.date,
            available: d.available && d.date >= today,
        })
        .collect();
    Ok(Json(Calendar {
        accommodation: acc.accommodation.slug.clone(),
        from,
        until,
        days,
    }))
}

/// The stay to price.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct QuoteQuery {
    /// Arrival.
    check_in: NaiveDate,
    /// Departure (the day after the last night).
    check_out: NaiveDate,
    /// Number of guests.
    #[param(minimum = 1)]
    guests: u32,
}

/// A priced stay.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Quote)]
pub struct QuoteOut {
    /// Each night, in order.
    nights: Vec<NightPrice>,
    /// Sum of the nights.
    total: posada_domain::Money,
    /// Paid to confirm: `total × deposit_percent / 100`.
    deposit: posada_domain::Money,
    /// `total − deposit`, paid later.
    balance: posada_domain::Money,
    /// The deposit percentage used.
    deposit_percent: u32,
    /// Currency of every amount.
    currency: posada_domain::Currency,
    /// `total` written for people, e.g. `$ 45.000,00`.
    total_text: String,
    /// `deposit` written for people.
    deposit_text: String,
}

impl From<&Quote> for QuoteOut {
    fn from(q: &Quote) -> Self {
        QuoteOut {
            nights: q.nights.clone(),
            total: q.total,
            deposit: q.deposit,
            balance: q.balance,
            deposit_percent: q.deposit_percent,
            currency: q.currency,
            total_text: q.total.format_es_ar(),
            deposit_text: q.deposit.format_es_ar(),
        }
    }
}

/// A quote for a stay, and whether its nights are free.
#[derive(Debug, Serialize, ToSchema)]
pub struct QuoteAnswer {
    /// The accommodation's slug.
    accommodation: String,
    /// Arrival.
    check_in: NaiveDate,
    /// Departure.
    check_out: NaiveDate,
    /// Number of guests.
    guests: u32,
    /// Whether every night is free now.
    available: bool,
    /// The prices.
    quote: QuoteOut,
}

/// Price a stay.
#[utoipa::path(
    get,
    path = "/api/v1/accommodations/{slug}/quote",
    tag = "public",
    params(("slug" = String, Path, description = "The accommodation's slug"), QuoteQuery),
    responses(
        (status = 200, description = "The quote", body = QuoteAnswer),
        (status = 404, description = "No active accommodation has this slug", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Bad dates or guests (the field is named)", body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn quote(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    Query(q): Query<QuoteQuery>,
) -> Result<Json<QuoteAnswer>, Problem> {
    let (acc, quote, available) =
        booking::quote(&state, &slug, q.check_in, q.check_out, q.guests).await?;
    Ok(Json(QuoteAnswer {
        accommodation: acc.accommodation.slug.clone(),
        check_in: q.check_in,
        check_out: q.check_out,
        guests: q.guests,
        available,
        quote: QuoteOut::from(&quote),
    }))
}

/// The accommodation a reservation is for.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccommodationName {
    /// Slug.
    slug: String,
    /// Name.
    name: String,
}

/// How to reach a reservation's guest.
#[derive(Debug, Serialize, ToSchema)]
pub struct GuestContact {
    /// Full name.
    pub name: String,
    /// E-mail, if given.
    pub email: Option<String>,
    /// Phone in international form, if given.
    pub phone: Option<String>,
}

impl GuestContact {
    /// The guest of `r`.
    pub fn of(r: &Reservation) -> Self {
        GuestContact {
            name: r.guest_name.clone(),
            email: r.guest_email.clone(),
            phone: r.guest_phone.clone(),
        }
    }
}

/// A guest's view of their own reservation.
#[derive(Debug, Serialize, ToSchema)]
pub struct GuestReservation {
    /// The reservation code.
    code: String,
    /// Where it is in its life.
    state: ReservationState,
    /// The accommodation (null if it was deleted since).
    accommodation: Option<AccommodationName>,
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
    /// When an unconfirmed hold lapses.
    expires_at: Option<DateTime<Utc>>,
    /// Where to pay the deposit, once a payment link exists (Mercado Pago configured).
    payment_link: Option<String>,
    /// The prices.
    quote: QuoteOut,
    /// When it was made.
    created_at: DateTime<Utc>,
}

/// A guest's view of their own reservation.
pub fn guest_view(r: &Reservation, acc: Option<&StoredAccommodation>) -> GuestReservation {
    GuestReservation {
        code: r.code.clone(),
        state: r.state,
        accommodation: acc.map(|a| AccommodationName {
            slug: a.accommodation.slug.clone(),
            name: a.accommodation.name.clone(),
        }),
        check_in: r.stay.check_in(),
        check_out: r.stay.check_out(),
        nights: r.stay.nights(),
        guests: r.guests,
        guest: GuestContact::of(r),
        expires_at: r.expires_at,
        payment_link: r.payment_link.clone(),
        quote: QuoteOut::from(&r.quote),
        created_at: r.created_at,
    }
}

/// Links of a new hold.
#[derive(Debug, Serialize, ToSchema)]
pub struct HoldLinks {
    /// Where to read it (with `X-Access-Token`).
    #[serde(rename = "self")]
    this: String,
}

/// A new hold: the reservation, its access token (shown once) and where to read it.
#[derive(Debug, Serialize, ToSchema)]
pub struct GuestReservationCreated {
    /// The reservation.
    #[serde(flatten)]
    reservation: GuestReservation,
    /// Shown once; send it as `X-Access-Token` to read or cancel the reservation.
    access_token: String,
    /// Where to read it.
    links: HoldLinks,
}

/// Hold nights for a guest (a pre-reservation that expires unless paid or confirmed).
#[utoipa::path(
    post,
    path = "/api/v1/reservations",
    tag = "public",
    params((
        "Idempotency-Key" = Option<String>,
        Header,
        pattern = r"^[!-~]{1,255}$",
        description = "Same key and body replay the first answer; another body is 422; a duplicate in flight is 409"
    )),
    request_body = HoldRequest,
    responses(
        (status = 201, description = "The hold", body = GuestReservationCreated),
        (status = 400, description = "The body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No active accommodation has this slug", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The nights are taken; `alternatives` lists the nearest free ones", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is wrong (named in `errors`)", body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn create_hold(
    State(state): State<AppState>,
    trace: Option<Extension<TraceId>>,
    Json(req): Json<HoldRequest>,
) -> Result<impl IntoResponse, Problem> {
    let trace_id = trace.map(|Extension(t)| t.0);
    let created = booking::create_hold(&state, &req, "api", trace_id.as_deref()).await?;
    let body = GuestReservationCreated {
        reservation: guest_view(&created.reservation, Some(&created.accommodation)),
        access_token: created.access_token.clone(),
        links: HoldLinks {
            this: format!("/api/v1/reservations/{}", created.reservation.code),
        },
    };
    Ok((StatusCode::CREATED, Json(body)))
}

async fn own_reservation(
    state: &AppState,
    code: &str,
    headers: &HeaderMap,
) -> Result<Reservation, Problem> {
    let Some(token) = headers.get("x-access-token").and_then(|v| v.to_str().ok()) else {
        return Err(Problem::unauthorized(
            "send the reservation's access token in the `X-Access-Token` header",
        ));
    };
    let code = posada_domain::ReservationCode::parse(code)
        .map_err(|_| Problem::not_found("reservation"))?;
    reservations::get_for_guest(state.db(), code.as_str(), &posada_store::hash_secret(token))
        .await
        .map_err(Problem::from)?
        .ok_or_else(|| Problem::not_found("reservation"))
}

/// Read one's own reservation.
#[utoipa::path(
    get,
    path = "/api/v1/reservations/{code}",
    tag = "public",
    params(
        ("code" = String, Path, description = "The reservation code"),
        ("X-Access-Token" = String, Header, description = "The guest access token returned when the hold was created"),
    ),
    responses(
        (status = 200, description = "The reservation", body = GuestReservation),
        (status = 401, description = "No access token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No reservation has this code and token", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The code is not valid text", body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn get_own_reservation(
    State(state): State<AppState>,
    Path(code): Path<String>,
    headers: HeaderMap,
) -> Result<Json<GuestReservation>, Problem> {
    let r = own_reservation(&state, &code, &headers).await?;
    let acc = posada_store::accommodations::get(state.db(), r.accommodation_id)
        .await
        .map_err(Problem::from)?;
    Ok(Json(guest_view(&r, acc.as_ref())))
}

/// Why a reservation is cancelled (optional).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[schema(as = Reason)]
struct CancelBody {
    /// At most 500 characters.
    #[serde(default)]
    #[schema(max_length = 500)]
    reason: Option<String>,
}

/// Cancel one's own reservation.
#[utoipa::path(
    post,
    path = "/api/v1/reservations/{code}/cancel",
    tag = "public",
    params(
        ("code" = String, Path, description = "The reservation code"),
        ("X-Access-Token" = String, Header, description = "The guest access token returned when the hold was created"),
    ),
    request_body(content = Option<CancelBody>, description = "Optional: why"),
    responses(
        (status = 200, description = "The cancelled reservation", body = GuestReservation),
        (status = 400, description = "The body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No access token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No reservation has this code and token", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "It cannot be cancelled from its state", body = Problem, content_type = "application/problem+json"),
        (status = 410, description = "The hold already expired", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is wrong (named in `errors`)", body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn cancel_own_reservation(
    State(state): State<AppState>,
    Path(code): Path<String>,
    headers: HeaderMap,
    body: Option<Json<CancelBody>>,
) -> Result<Json<GuestReservation>, Problem> {
    let r = own_reservation(&state, &code, &headers).await?;
    if r.state == ReservationState::Expired {
        return Err(crate::app::AppError::HoldExpired.into());
    }
    let reason = body.and_then(|Json(b)| b.reason);
    if reason.as_deref().is_some_and(|r| r.chars().count() > 500) {
        return Err(Problem::field("reason", "hasta 500 caracteres"));
    }
    let r = booking::cancel(&state, r.id, Actor::Guest, reason.as_deref()).await?;
    let acc = posada_store::accommodations::get(state.db(), r.accommodation_id)
        .await
        .map_err(Problem::from)?;
    Ok(Json(guest_view(&r, acc.as_ref())))
}
