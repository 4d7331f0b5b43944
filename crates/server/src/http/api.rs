//! The public API for guests: accommodations, availability calendars, quotes, and holds (create,
//! read and cancel one's own with code + access token). Nothing here reveals another guest's name,
//! phone or e-mail.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Extension, Router};
use chrono::{Datelike, NaiveDate};
use posada_domain::{Actor, NightPrice, Quote, ReservationState, availability};
use posada_store::accommodations::StoredAccommodation;
use posada_store::reservations::{self, Reservation};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

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

/// The public view of an accommodation.
pub fn public_accommodation(a: &StoredAccommodation) -> Value {
    let acc = &a.accommodation;
    json!({
        "id": acc.id,
        "slug": acc.slug,
        "name": acc.name,
        "kind": acc.kind.as_str(),
        "description": acc.description,
        "capacity": acc.capacity,
        "amenities": acc.amenities,
        "photos": acc.photos_in_order(),
        "check_in_time": acc.check_in_time.format("%H:%M").to_string(),
        "check_out_time": acc.check_out_time.format("%H:%M").to_string(),
        "pricing": acc.pricing,
    })
}

async fn list_accommodations(State(state): State<AppState>) -> Result<Json<Value>, Problem> {
    let list = posada_store::accommodations::list(state.db(), true)
        .await
        .map_err(Problem::from)?;
    Ok(Json(
        json!({ "items": list.iter().map(public_accommodation).collect::<Vec<_>>() }),
    ))
}

async fn get_accommodation(
    State(state): State<AppState>,
    Path(slug): Path<String>,
) -> Result<Json<Value>, Problem> {
    let acc = booking::active_accommodation(&state, &slug).await?;
    Ok(Json(public_accommodation(&acc)))
}

#[derive(Debug, Deserialize)]
struct CalendarQuery {
    /// `YYYY-MM`: a month calendar.
    month: Option<String>,
    /// First day (with `until`).
    from: Option<NaiveDate>,
    /// Day after the last (with `from`).
    until: Option<NaiveDate>,
}

/// Longest calendar one request may ask for.
const MAX_CALENDAR_DAYS: i64 = 550;

async fn availability_calendar(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    Query(q): Query<CalendarQuery>,
) -> Result<Json<Value>, Problem> {
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
    let days: Vec<Value> = availability::calendar(from, until, &taken)
        .into_iter()
        .map(|d| json!({"date": d.date, "available": d.available && d.date >= today}))
        .collect();
    Ok(Json(
        json!({ "accommodation": acc.accommodation.slug, "from": from, "until": until, "days": days }),
    ))
}

#[derive(Debug, Deserialize)]
struct QuoteQuery {
    check_in: NaiveDate,
    check_out: NaiveDate,
    guests: u32,
}

/// A quote in answers.
#[derive(Debug, Serialize)]
pub struct QuoteOut<'a> {
    nights: &'a [NightPrice],
    total: posada_domain::Money,
    deposit: posada_domain::Money,
    balance: posada_domain::Money,
    deposit_percent: u32,
    currency: posada_domain::Currency,
    total_text: String,
    deposit_text: String,
}

impl<'a> From<&'a Quote> for QuoteOut<'a> {
    fn from(q: &'a Quote) -> Self {
        QuoteOut {
            nights: &q.nights,
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

async fn quote(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    Query(q): Query<QuoteQuery>,
) -> Result<Json<Value>, Problem> {
    let (acc, quote, available) =
        booking::quote(&state, &slug, q.check_in, q.check_out, q.guests).await?;
    Ok(Json(json!({
        "accommodation": acc.accommodation.slug,
        "check_in": q.check_in,
        "check_out": q.check_out,
        "guests": q.guests,
        "available": available,
        "quote": QuoteOut::from(&quote),
    })))
}

/// A guest's view of their own reservation.
pub fn guest_view(r: &Reservation, acc: Option<&StoredAccommodation>) -> Value {
    json!({
        "code": r.code,
        "state": r.state.as_str(),
        "accommodation": acc.map(|a| json!({"slug": a.accommodation.slug, "name": a.accommodation.name})),
        "check_in": r.stay.check_in(),
        "check_out": r.stay.check_out(),
        "nights": r.stay.nights(),
        "guests": r.guests,
        "guest": {"name": r.guest_name, "email": r.guest_email, "phone": r.guest_phone},
        "expires_at": r.expires_at,
        "payment_link": r.payment_link,
        "quote": QuoteOut::from(&r.quote),
        "created_at": r.created_at,
    })
}

async fn create_hold(
    State(state): State<AppState>,
    trace: Option<Extension<TraceId>>,
    Json(req): Json<HoldRequest>,
) -> Result<impl IntoResponse, Problem> {
    let trace_id = trace.map(|Extension(t)| t.0);
    let created = booking::create_hold(&state, &req, "api", trace_id.as_deref()).await?;
    let mut body = guest_view(&created.reservation, Some(&created.accommodation));
    body["access_token"] = json!(created.access_token);
    body["links"] = json!({"self": format!("/api/v1/reservations/{}", created.reservation.code)});
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

async fn get_own_reservation(
    State(state): State<AppState>,
    Path(code): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, Problem> {
    let r = own_reservation(&state, &code, &headers).await?;
    let acc = posada_store::accommodations::get(state.db(), r.accommodation_id)
        .await
        .map_err(Problem::from)?;
    Ok(Json(guest_view(&r, acc.as_ref())))
}

#[derive(Debug, Default, Deserialize)]
struct CancelBody {
    #[serde(default)]
    reason: Option<String>,
}

async fn cancel_own_reservation(
    State(state): State<AppState>,
    Path(code): Path<String>,
    headers: HeaderMap,
    body: Option<Json<CancelBody>>,
) -> Result<Json<Value>, Problem> {
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
