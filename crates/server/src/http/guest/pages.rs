//! The guest pages' handlers: parse the query or form, call the use case, render.

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{Datelike, Duration, NaiveDate};
use posada_domain::{ReservationEvent, ReservationState, Stay, availability};
use posada_store::accommodations::StoredAccommodation;
use posada_store::reservations::Reservation;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::render::page;
use crate::app::booking::{self, Alternatives, GuestIn, HoldRequest};
use crate::app::{AppError, guest_links, outbox};
use crate::http::Problem;
use crate::http::trace::TraceId;
use crate::state::AppState;

/// The channel recorded on holds made through these pages.
const CHANNEL: &str = "web";

/// A query or form parsed leniently: unknown keys ignored, every value a string (checked by the
/// use case, so a bad value is a message on the page, never a rejection).
fn parse<T: for<'de> Deserialize<'de> + Default>(raw: &[u8]) -> T {
    serde_urlencoded::from_bytes(raw).unwrap_or_default()
}

fn date(s: &Option<String>) -> Option<NaiveDate> {
    s.as_deref()
        .and_then(|s| NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok())
}

fn public_url(state: &AppState) -> &str {
    state.settings().posada_public_url.trim_end_matches('/')
}

/// An absolute URL for a photo (`/media/…` paths are ours).
fn absolute(state: &AppState, url: &str) -> String {
    if url.starts_with('/') {
        format!("{}{url}", public_url(state))
    } else {
        url.to_string()
    }
}

/// What the layout needs on every page.
fn base(state: &AppState, title: &str, description: &str, path: &str) -> Value {
    json!({
        "title": title,
        "description": description,
        "url": format!("{}{}", public_url(state), path),
        "image": Value::Null,
    })
}

/// An error of a use case as a page: not found is the guest 404 page, anything else a short
/// message with the right status (the body never names internals).
fn error_page(state: &AppState, e: AppError) -> Response {
    let status = Problem::from(e).status_code();
    if status == StatusCode::NOT_FOUND {
        return not_found(state, None);
    }
    let message = if status == StatusCode::SERVICE_UNAVAILABLE {
        "El sistema está ocupado en este momento. Probá de nuevo en unos segundos."
    } else {
        "Algo salió mal. Probá de nuevo en unos minutos."
    };
    page(
        status,
        "not_found.html",
        json!({"page": base(state, "No pudimos completar el pedido", "", "/reservar"), "heading": "No pudimos completar el pedido", "message": message}),
    )
}

/// The one 404 of the guest pages (no such code, a wrong or missing token, no such unit).
fn not_found(state: &AppState, pago: Option<&str>) -> Response {
    page(
        StatusCode::NOT_FOUND,
        "not_found.html",
        json!({
            "page": base(state, "No encontramos esa página", "", "/reservar"),
            "heading": "No encontramos esa página",
            "message": "Revisá que el enlace esté completo: el de tu reserva te llegó por e-mail o WhatsApp.",
            "paid_note": pago.is_some(),
        }),
    )
}

/// At most `max` characters of `text`, cut at a word with "…" when shortened.
fn summary(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let cut: String = text.chars().take(max).collect();
    let cut = cut.rsplit_once(' ').map(|(a, _)| a).unwrap_or(&cut);
    format!("{}…", cut.trim_end())
}

// ---------------------------------------------------------------------------------------------
// The list of units

/// `GET /reservar`: every bookable unit.
pub async fn index(State(state): State<AppState>) -> Response {
    let list = match posada_store::accommodations::list(state.db(), true).await {
        Ok(l) => l,
        Err(e) => return error_page(&state, e.into()),
    };
    let units: Vec<Value> = list
        .iter()
        .map(|a| {
            let acc = &a.accommodation;
            json!({
                "slug": acc.slug,
                "name": acc.name,
                "kind": acc.kind.label_es(),
                "capacity": acc.capacity,
                "summary": summary(&acc.description, 180),
                "photo": acc.primary_photo().map(|p| json!({"url": absolute(&state, &p.url), "caption": p.caption})),
            })
        })
        .collect();
    let mut b = base(
        &state,
        "Reservá directo",
        "Elegí tu alojamiento y reservá directo, sin comisiones.",
        "/reservar",
    );
    if let Some(img) = units
        .iter()
        .find_map(|u| u["photo"]["url"].as_str().map(str::to_string))
    {
        b["image"] = json!(img);
    }
    page(
        StatusCode::OK,
        "index.html",
        json!({"page": b, "units": units}),
    )
}

// ---------------------------------------------------------------------------------------------
// The booking page of one unit

#[derive(Debug, Default, Deserialize)]
struct UnitQuery {
    mes: Option<String>,
    check_in: Option<String>,
    check_out: Option<String>,
    guests: Option<String>,
}

impl UnitQuery {
    /// The first day of the month asked for (`mes=YYYY-MM`), when it reads as one.
    fn month(&self) -> Option<NaiveDate> {
        self.mes
            .as_deref()
            .and_then(|m| NaiveDate::parse_from_str(&format!("{m}-01"), "%Y-%m-%d").ok())
    }
}

#[derive(Debug, Default, Deserialize)]
struct BookForm {
    csrf_token: Option<String>,
    check_in: Option<String>,
    check_out: Option<String>,
    guests: Option<String>,
    name: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    notes: Option<String>,
}

/// The public view of a unit for the pages.
fn unit_view(state: &AppState, a: &StoredAccommodation) -> Value {
    let acc = &a.accommodation;
    json!({
        "slug": acc.slug,
        "name": acc.name,
        "kind": acc.kind.label_es(),
        "description": acc.description,
        "capacity": acc.capacity,
        "amenities": acc.amenities,
        "photos": acc.photos_in_order().iter().map(|p| json!({"url": absolute(state, &p.url), "caption": p.caption})).collect::<Vec<_>>(),
        "check_in_time": acc.check_in_time.format("%H:%M").to_string(),
        "check_out_time": acc.check_out_time.format("%H:%M").to_string(),
    })
}

const WEEKDAYS: [&str; 7] = ["lu", "ma", "mi", "ju", "vi", "sá", "do"];
const MONTHS: [&str; 12] = [
    "enero",
    "febrero",
    "marzo",
    "abril",
    "mayo",
    "junio",
    "julio",
    "agosto",
    "septiembre",
    "octubre",
    "noviembre",
    "diciembre",
];

/// A month calendar of free nights, with links that pick the arrival, then the departure.
async fn month_calendar(
    state: &AppState,
    a: &StoredAccommodation,
    month: NaiveDate,
    check_in: Option<NaiveDate>,
    guests: u32,
    base_path: &str,
) -> Result<Value, AppError> {
    let (from, until) = availability::month_bounds(month.year(), month.month())
        .ok_or_else(|| AppError::field("mes", "mes fuera de rango"))?;
    // Enough nights after the month for a departure picked at its end.
    let look_until = until + Duration::days(31);
    let taken = state
        .taken_cache()
        .taken(state.db(), a.accommodation.id, from, look_until)
        .await?;
    let today = state.today();
    let days = availability::calendar(from, look_until, &taken);
    let free = |d: NaiveDate| {
        days.iter()
            .find(|x| x.date == d)
            .is_some_and(|x| x.available && d >= today)
    };
    // The first taken night after the chosen arrival: departures may be picked up to it.
    let limit = check_in.map(|ci| {
        days.iter()
            .filter(|x| x.date >= ci)
            .find(|x| !x.available)
            .map(|x| x.date)
            .unwrap_or(look_until)
    });
    let mut cells = Vec::new();
    let lead = from.weekday().num_days_from_monday();
    for _ in 0..lead {
        cells.push(json!(null));
    }
    let mut d = from;
    while d < until {
        let available = free(d);
        let (link, role) = match (check_in, limit) {
            (Some(ci), Some(lim)) if d > ci && d <= lim => (
                Some(format!(
                    "{base_path}?check_in={ci}&check_out={d}&guests={guests}#cotizacion"
                )),
                "salida",
            ),
            _ if available => (
                Some(format!(
                    "{base_path}?mes={}&check_in={d}&guests={guests}#calendario",
                    d.format("%Y-%m")
                )),
                "llegada",
            ),
            _ => (None, ""),
        };
        cells.push(json!({
            "day": d.day(),
            "date": d.to_string(),
            "label": format!("{} de {}", d.day(), MONTHS[d.month0() as usize]),
            "available": available,
            "past": d < today,
            "chosen": check_in == Some(d),
            "link": link,
            "role": role,
        }));
        d += Duration::days(1);
    }
    let prev = from - Duration::days(1);
    let this_month = NaiveDate::from_ymd_opt(today.year(), today.month(), 1).unwrap_or(today);
    let ci_param = check_in
        .map(|c| format!("&check_in={c}"))
        .unwrap_or_default();
    Ok(json!({
        "title": format!("{} {}", MONTHS[month.month0() as usize], month.year()),
        "weekdays": WEEKDAYS,
        "cells": cells,
        "prev": (prev >= this_month).then(|| format!("{base_path}?mes={}{ci_param}&guests={guests}#calendario", prev.format("%Y-%m"))),
        "next": format!("{base_path}?mes={}{ci_param}&guests={guests}#calendario", until.format("%Y-%m")),
        "choosing_departure": check_in.is_some(),
    }))
}

fn quote_view(q: &posada_domain::Quote) -> Value {
    json!({
        "nights": q.nights.iter().map(|n| json!({
            "date": n.date.format("%d/%m").to_string(),
            "weekday": WEEKDAYS[n.date.weekday().num_days_from_monday() as usize],
            "price": n.price.format_es_ar(),
            "season": n.season,
            "weekend": n.weekend,
        })).collect::<Vec<_>>(),
        "total": q.total.format_es_ar(),
        "deposit": q.deposit.format_es_ar(),
        "balance": q.balance.format_es_ar(),
        "deposit_percent": q.deposit_percent,
    })
}

fn alternatives_view(slug: &str, guests: u32, alts: &Alternatives) -> Value {
    json!({
        "same": alts.same_accommodation.iter().map(|s| json!({
            "text": format!("del {} al {}", s.check_in.format("%d/%m/%Y"), s.check_out.format("%d/%m/%Y")),
            "link": format!("/reservar/{slug}?check_in={}&check_out={}&guests={guests}#cotizacion", s.check_in, s.check_out),
        })).collect::<Vec<_>>(),
        "others": alts.other_accommodations.iter().map(|o| json!({
            "name": o.name,
            "link": format!("/reservar/{}?guests={guests}", o.slug),
        })).collect::<Vec<_>>(),
    })
}

fn field_errors(errors: &[crate::app::FieldError]) -> Value {
    let mut map = serde_json::Map::new();
    for e in errors {
        let key = match e.field.as_str() {
            "guest.name" => "name",
            "guest.email" => "email",
            "guest.phone" => "phone",
            other => other,
        };
        map.entry(key.to_string())
            .or_insert_with(|| json!(e.message));
    }
    Value::Object(map)
}

/// What the booking page shows for the dates asked (if any): the quote, or the alternatives.
#[derive(Default, Serialize)]
struct Asked {
    check_in: Option<String>,
    check_out: Option<String>,
    guests: u32,
    quote: Option<Value>,
    available: bool,
    alternatives: Option<Value>,
    errors: Value,
}

async fn ask(
    state: &AppState,
    a: &StoredAccommodation,
    check_in: Option<NaiveDate>,
    check_out: Option<NaiveDate>,
    guests: u32,
) -> Result<Asked, AppError> {
    let mut asked = Asked {
        check_in: check_in.map(|d| d.to_string()),
        check_out: check_out.map(|d| d.to_string()),
        guests,
        errors: json!({}),
        ..Asked::default()
    };
    let (Some(ci), Some(co)) = (check_in, check_out) else {
        return Ok(asked);
    };
    match booking::quote(state, &a.accommodation.slug, ci, co, guests).await {
        Ok((_, quote, available)) => {
            asked.quote = Some(quote_view(&quote));
            asked.available = available;
            if !available && let Ok(stay) = Stay::new(ci, co) {
                let alts = booking::alternatives(state, a, &stay, guests).await?;
                asked.alternatives = Some(alternatives_view(&a.accommodation.slug, guests, &alts));
            }
        }
        Err(AppError::Invalid(errors)) => asked.errors = field_errors(&errors),
        Err(e) => return Err(e),
    }
    Ok(asked)
}

#[allow(clippy::too_many_arguments)]
async fn render_unit(
    state: &AppState,
    a: &StoredAccommodation,
    month: Option<NaiveDate>,
    asked: Asked,
    form: Value,
    status: StatusCode,
    notice: Option<&str>,
) -> Response {
    let key = match guest_links::key(state).await {
        Ok(k) => k,
        Err(e) => return error_page(state, e),
    };
    let slug = &a.accommodation.slug;
    let check_in = date(&asked.check_in);
    let month = month
        .or(check_in.and_then(|d| d.with_day(1)))
        .unwrap_or_else(|| state.today().with_day(1).unwrap_or(state.today()));
    let path = format!("/reservar/{slug}");
    let calendar = match month_calendar(
        state,
        a,
        month,
        if asked.check_out.is_some() {
            None
        } else {
            check_in
        },
        asked.guests,
        &path,
    )
    .await
    {
        Ok(c) => c,
        Err(e) => return error_page(state, e),
    };
    let unit = unit_view(state, a);
    let description = summary(&a.accommodation.description, 200);
    let mut b = base(state, &a.accommodation.name, &description, &path);
    b["image"] = unit["photos"][0]["url"].clone();
    page(
        status,
        "unit.html",
        json!({
            "page": b,
            "unit": unit,
            "calendar": calendar,
            "asked": asked,
            "form": form,
            "csrf": guest_links::csrf_token(key, state.now()),
            "notice": notice,
            "today": state.today().to_string(),
            "payments_enabled": state.services().mercadopago.is_some(),
        }),
    )
}

/// `GET /reservar/{slug}`: photos, description, the month calendar, the quote for the dates
/// asked (or the nearest free alternatives) and the guest form.
pub async fn unit(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let q: UnitQuery = parse(raw.unwrap_or_default().as_bytes());
    let a = match booking::active_accommodation(&state, &slug).await {
        Ok(a) => a,
        Err(e) => return error_page(&state, e),
    };
    let month = q.month();
    let guests = guests_of(&q.guests, &a);
    let asked = match ask(&state, &a, date(&q.check_in), date(&q.check_out), guests).await {
        Ok(x) => x,
        Err(e) => return error_page(&state, e),
    };
    render_unit(&state, &a, month, asked, json!({}), StatusCode::OK, None).await
}

fn guests_of(s: &Option<String>, a: &StoredAccommodation) -> u32 {
    s.as_deref()
        .and_then(|g| g.trim().parse::<u32>().ok())
        .unwrap_or_else(|| a.accommodation.capacity.clamp(1, 2))
}

/// Whether a form POST comes from our own pages: the browser's `Origin` (or `Sec-Fetch-Site`)
/// must say same origin when present, and the signed token must be fresh.
fn same_origin(headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok())
        && site != "same-origin"
        && site != "none"
    {
        return false;
    }
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    origin
        .split_once("://")
        .is_some_and(|(_, rest)| !host.is_empty() && rest == host)
}

async fn csrf_ok(
    state: &AppState,
    headers: &HeaderMap,
    token: Option<&str>,
) -> Result<bool, AppError> {
    let key = guest_links::key(state).await?;
    Ok(same_origin(headers) && token.is_some_and(|t| guest_links::csrf_valid(key, t, state.now())))
}

fn csrf_refused(state: &AppState) -> Response {
    page(
        StatusCode::FORBIDDEN,
        "not_found.html",
        json!({
            "page": base(state, "El formulario venció", "", "/reservar"),
            "heading": "El formulario venció",
            "message": "Por seguridad, volvé a abrir la página y enviá el formulario de nuevo.",
        }),
    )
}

/// `POST /reservar/{slug}`: make the hold (the API's use case), then the reservation page, which
/// goes straight on to the Mercado Pago checkout once the payment link exists.
pub async fn book(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    headers: HeaderMap,
    trace: Option<Extension<TraceId>>,
    body: Bytes,
) -> Response {
    let f: BookForm = parse(&body);
    match csrf_ok(&state, &headers, f.csrf_token.as_deref()).await {
        Ok(true) => {}
        Ok(false) => return csrf_refused(&state),
        Err(e) => return error_page(&state, e),
    }
    let a = match booking::active_accommodation(&state, &slug).await {
        Ok(a) => a,
        Err(e) => return error_page(&state, e),
    };
    let guests = guests_of(&f.guests, &a);
    let form = json!({"name": f.name, "email": f.email, "phone": f.phone, "notes": f.notes});
    let (Some(check_in), Some(check_out)) = (date(&f.check_in), date(&f.check_out)) else {
        let mut asked = Asked {
            guests,
            errors: json!({"check_in": "elegí las fechas de llegada y salida"}),
            ..Asked::default()
        };
        asked.check_in = f.check_in.clone();
        asked.check_out = f.check_out.clone();
        return render_unit(
            &state,
            &a,
            None,
            asked,
            form,
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
        )
        .await;
    };
    let req = HoldRequest {
        accommodation: slug.clone(),
        check_in,
        check_out,
        guests,
        guest: GuestIn {
            name: f.name.clone().unwrap_or_default(),
            email: f.email.clone(),
            phone: f.phone.clone(),
        },
        notes: f.notes.clone(),
    };
    let trace_id = trace.map(|Extension(t)| t.0);
    match booking::create_hold(&state, &req, CHANNEL, trace_id.as_deref()).await {
        Ok(created) => {
            let r = &created.reservation;
            if state.services().mercadopago.is_some() {
                // Make the link now so the guest goes straight to the checkout; the queued job
                // finds it made (same idempotency key) and does nothing. A failure here is the
                // job's to retry: the page waits for the link.
                if let Err(e) = crate::app::payments::create_payment_link(&state, r.id).await {
                    tracing::warn!(reservation.code = %r.code, error = %e, "payment link not ready at booking; the job will retry");
                }
            }
            let to = format!(
                "{}&pagar=1",
                guest_links::reservation_path(&r.code, &created.access_token)
            );
            Redirect::to(&to).into_response()
        }
        Err(AppError::DatesTaken(alts)) => {
            let mut asked = match ask(&state, &a, Some(check_in), Some(check_out), guests).await {
                Ok(x) => x,
                Err(e) => return error_page(&state, e),
            };
            asked.available = false;
            asked.alternatives = Some(alternatives_view(&slug, guests, &alts));
            render_unit(
                &state,
                &a,
                None,
                asked,
                form,
                StatusCode::CONFLICT,
                Some("Esas fechas se acaban de ocupar. Te mostramos las más cercanas que están libres."),
            )
            .await
        }
        Err(AppError::Invalid(errors)) => {
            let mut asked = match ask(&state, &a, Some(check_in), Some(check_out), guests).await {
                Ok(x) => x,
                Err(e) => return error_page(&state, e),
            };
            let more = field_errors(&errors);
            if let (Some(m), Some(extra)) = (asked.errors.as_object_mut(), more.as_object()) {
                for (k, v) in extra {
                    m.entry(k.clone()).or_insert(v.clone());
                }
            }
            render_unit(
                &state,
                &a,
                None,
                asked,
                form,
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
            )
            .await
        }
        Err(e) => error_page(&state, e),
    }
}

// ---------------------------------------------------------------------------------------------
// The widget

/// `GET /reservar/{slug}/widget`: the month calendar and a "Reservar" button, to be framed by
/// the owner's own site.
pub async fn widget(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let q: UnitQuery = parse(raw.unwrap_or_default().as_bytes());
    let a = match booking::active_accommodation(&state, &slug).await {
        Ok(a) => a,
        Err(e) => return error_page(&state, e),
    };
    let month = q
        .month()
        .unwrap_or_else(|| state.today().with_day(1).unwrap_or(state.today()));
    let guests = guests_of(&q.guests, &a);
    let path = format!("/reservar/{slug}/widget");
    let mut calendar = match month_calendar(&state, &a, month, None, guests, &path).await {
        Ok(c) => c,
        Err(e) => return error_page(&state, e),
    };
    // Days open the booking page (outside the frame); month arrows stay in the frame.
    if let Some(cells) = calendar["cells"].as_array_mut() {
        for c in cells.iter_mut().filter(|c| c.is_object()) {
            if c["link"].is_string() {
                c["link"] = json!(format!(
                    "{}/reservar/{slug}?check_in={}&guests={guests}#calendario",
                    public_url(&state),
                    c["date"].as_str().unwrap_or_default()
                ));
            }
        }
    }
    let unit = unit_view(&state, &a);
    let b = base(&state, &a.accommodation.name, "", &path);
    page(
        StatusCode::OK,
        "widget.html",
        json!({
            "page": b,
            "unit": unit,
            "calendar": calendar,
            "book_url": format!("{}/reservar/{slug}", public_url(&state)),
        }),
    )
}

// ---------------------------------------------------------------------------------------------
// The reservation page

#[derive(Debug, Default, Deserialize)]
struct ReservationQuery {
    t: Option<String>,
    pago: Option<String>,
    pagar: Option<String>,
    cancelada: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct CancelForm {
    t: Option<String>,
    csrf_token: Option<String>,
}

/// The message for a return from Mercado Pago: what posada knows decides it, never the URL.
fn payment_message(pago: Option<&str>, r: &Reservation) -> Option<(&'static str, &'static str)> {
    let pago = pago?;
    let confirmed = r.state == ReservationState::Confirmed;
    Some(match (pago, confirmed) {
        (_, true) => ("ok", "¡Recibimos tu pago! Tu reserva está confirmada."),
        ("aprobado", false) => (
            "info",
            "Mercado Pago nos avisa que el pago fue aprobado. Estamos esperando la acreditación: apenas llegue, tu reserva pasa a confirmada y te avisamos.",
        ),
        ("pendiente", false) => (
            "info",
            "Tu pago quedó pendiente en Mercado Pago. Cuando se acredite, tu reserva pasa a confirmada y te avisamos.",
        ),
        ("rechazado", false) => (
            "error",
            "El pago no se completó. Si la prerreserva sigue vigente, podés intentar de nuevo con otro medio de pago.",
        ),
        _ => return None,
    })
}

/// `GET /reservas/{code}?t={token}`: the guest's reservation. Without the right token: the same
/// 404 as for a code that does not exist.
pub async fn reservation(
    State(state): State<AppState>,
    Path(code): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let q: ReservationQuery = parse(raw.unwrap_or_default().as_bytes());
    let r = match guest_links::guest_reservation(&state, &code, q.t.as_deref()).await {
        Ok(r) => r,
        Err(AppError::NotFound(_)) => return not_found(&state, q.pago.as_deref()),
        Err(e) => return error_page(&state, e),
    };
    let a = match booking::accommodation_of(&state, &r).await {
        Ok(a) => a,
        Err(e) => return error_page(&state, e),
    };
    let key = match guest_links::key(&state).await {
        Ok(k) => k,
        Err(e) => return error_page(&state, e),
    };
    let token =
        q.t.as_deref()
            .map(str::trim)
            .map(str::to_lowercase)
            .unwrap_or_default();
    let held = r.state == ReservationState::PreReserved;
    let tz = state.settings().tz();
    let now = state.now();
    let payments = state.services().mercadopago.is_some();
    let waiting_link = held && payments && r.payment_link.is_none();
    let forward = held && q.pagar.is_some() && q.pago.is_none() && r.payment_link.is_some();
    let message = payment_message(q.pago.as_deref(), &r);
    let confirmed = matches!(
        r.state,
        ReservationState::Confirmed | ReservationState::Completed
    );
    let self_path = guest_links::reservation_path(&r.code, &token);
    let mut b = base(
        &state,
        &format!("Reserva {}", r.code),
        &a.accommodation.name,
        "/reservar",
    );
    b["image"] = json!(
        a.accommodation
            .primary_photo()
            .map(|p| absolute(&state, &p.url))
    );
    b["noindex"] = json!(true);
    b["refresh"] = if forward {
        json!({"seconds": 0, "url": r.payment_link})
    } else if waiting_link && r.expires_at.is_some_and(|e| e > now) {
        json!({"seconds": 3, "url": format!("{self_path}{}", if q.pagar.is_some() { "&pagar=1" } else { "" })})
    } else {
        Value::Null
    };
    let expires = r.expires_at.filter(|_| held);
    page(
        StatusCode::OK,
        "reservation.html",
        json!({
            "page": b,
            "r": {
                "code": r.code,
                "state": r.state.as_str(),
                "state_label": r.state.label_es(),
                "guest_name": r.guest_name,
                "check_in": r.stay.check_in().format("%d/%m/%Y").to_string(),
                "check_out": r.stay.check_out().format("%d/%m/%Y").to_string(),
                "nights": r.stay.nights(),
                "guests": r.guests,
                "total": r.total.format_es_ar(),
                "deposit": r.deposit.format_es_ar(),
                "balance": r.total.checked_sub(r.deposit).map(|b| b.format_es_ar()).unwrap_or_default(),
                "payment_link": r.payment_link.as_ref().filter(|_| held),
                "expires_text": expires.map(|e| outbox::local_time_text(e.with_timezone(&tz))),
                "expires_iso": expires.map(|e| e.to_rfc3339()),
                "minutes_left": expires.map(|e| (e - now).num_minutes().max(0)),
                "reason": r.state_reason,
            },
            "unit": {
                "name": a.accommodation.name,
                "slug": a.accommodation.slug,
                "check_in_time": a.accommodation.check_in_time.format("%H:%M").to_string(),
                "check_out_time": a.accommodation.check_out_time.format("%H:%M").to_string(),
                "directions": if confirmed { Some(a.directions.clone()) } else { None },
            },
            "held": held,
            "confirmed": confirmed,
            "payments_enabled": payments,
            "waiting_link": waiting_link,
            "forward": forward,
            "message": message.map(|(kind, text)| json!({"kind": kind, "text": text})),
            "cancelled_now": q.cancelada.is_some() && r.state == ReservationState::Cancelled,
            "can_cancel": posada_domain::transition(r.state, ReservationEvent::Cancel).is_ok(),
            "token": token,
            "csrf": guest_links::csrf_token(key, now),
        }),
    )
}

/// `POST /reservas/{code}/cancelar`: the guest cancels (the API's use case, as the guest).
pub async fn cancel(
    State(state): State<AppState>,
    Path(code): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let f: CancelForm = parse(&body);
    let r = match guest_links::guest_reservation(&state, &code, f.t.as_deref()).await {
        Ok(r) => r,
        Err(AppError::NotFound(_)) => return not_found(&state, None),
        Err(e) => return error_page(&state, e),
    };
    match csrf_ok(&state, &headers, f.csrf_token.as_deref()).await {
        Ok(true) => {}
        Ok(false) => return csrf_refused(&state),
        Err(e) => return error_page(&state, e),
    }
    let token =
        f.t.as_deref()
            .map(str::trim)
            .map(str::to_lowercase)
            .unwrap_or_default();
    let back = guest_links::reservation_path(&r.code, &token);
    match booking::cancel(&state, r.id, posada_domain::Actor::Guest, None).await {
        Ok(_) => Redirect::to(&format!("{back}&cancelada=1")).into_response(),
        // Already moved on (expired, cancelled meanwhile): the page shows the current state.
        Err(AppError::IllegalTransition { .. } | AppError::HoldExpired) => {
            Redirect::to(&back).into_response()
        }
        Err(e) => error_page(&state, e),
    }
}
