//! Alojamientos y precios (`/dashboard/alojamientos`): the units, their details and photos, their
//! prices (base, weekend surcharge, seasons, minimum nights, deposit), a quote preview and the
//! booking widget's snippets.
//!
//! Every change goes through `app::accommodations::{create, update}`, the use cases behind the
//! admin API: a form reads the stored unit, changes only its own fields and saves the whole, so
//! one form never undoes another's work. Prices are typed in pesos as the owner writes them
//! ("15000", "15.000,50") and stored in minor units. A form that does not validate comes back
//! with 422, what the owner typed, and each error in Spanish next to its field. The quote preview
//! is the public quote (`app::booking::quote`), so the two always agree.

use std::collections::BTreeMap;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::{Duration, NaiveDate, NaiveTime, Weekday};
use posada_domain::{AccommodationKind, Currency, Money, NewAccommodation, Photo, Season};
use posada_store::accommodations::{self, StoredAccommodation};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::render::{self, Shell};
use super::session::{Owner, OwnerForm};
use crate::app::accommodations::AccommodationIn;
use crate::app::{self, AppError, booking};
use crate::http::{Path, Problem};
use crate::state::AppState;

/// This section's templates (name, source), registered by `render`.
pub const TEMPLATES: &[(&str, &str)] = &[
    (
        "units.html",
        include_str!("../../../templates/dashboard/units.html"),
    ),
    (
        "unit.html",
        include_str!("../../../templates/dashboard/unit.html"),
    ),
];

/// This section's routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/dashboard/alojamientos", get(list).post(create))
        .route("/dashboard/alojamientos/{slug}", get(detail))
        .route("/dashboard/alojamientos/{slug}/datos", post(save_details))
        .route("/dashboard/alojamientos/{slug}/precios", post(save_prices))
        .route(
            "/dashboard/alojamientos/{slug}/temporadas",
            post(add_season),
        )
        .route(
            "/dashboard/alojamientos/{slug}/temporadas/{index}",
            post(save_season),
        )
        .route(
            "/dashboard/alojamientos/{slug}/temporadas/{index}/quitar",
            post(remove_season),
        )
        .route("/dashboard/alojamientos/{slug}/eliminar", post(remove_unit))
}

/// Errors of a form, by field key (`prices.base`, `season2.price`, `new.name`, …).
type Errors = BTreeMap<String, String>;

const PRICE_HINT: &str = "Escribí el precio en pesos, por ejemplo 15000 o 15.000,50.";

/// A price as the owner types it, in minor units: `15000`, `15.000`, `15.000,50`, `$ 15000,5`,
/// `15000.50` (a dot followed by one or two digits reads as the decimal separator). Whole
/// pesos are grouped by dots in threes; at most two decimals.
pub fn parse_price(input: &str) -> Result<i64, String> {
    let s: String = input
        .trim()
        .trim_start_matches("US$")
        .trim_start_matches('$')
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    if s.is_empty() {
        return Err("Falta el precio.".into());
    }
    let bad = || PRICE_HINT.to_string();
    if !s
        .chars()
        .all(|c| c.is_ascii_digit() || c == '.' || c == ',')
    {
        return Err(bad());
    }
    let (whole, cents) = match s.rsplit_once(',') {
        Some((w, c)) => (w.to_string(), Some(c.to_string())),
        None => match s.rsplit_once('.') {
            // "15000.5" / "15000.50": a decimal point, not thousands.
            Some((w, c)) if !w.contains('.') && (1..=2).contains(&c.len()) => {
                (w.to_string(), Some(c.to_string()))
            }
            _ => (s.clone(), None),
        },
    };
    if whole.is_empty() || whole.contains(',') {
        return Err(bad());
    }
    let groups: Vec<&str> = whole.split('.').collect();
    let grouped_ok = groups.len() == 1
        || (!groups[0].is_empty()
            && groups[0].len() <= 3
            && groups[1..].iter().all(|g| g.len() == 3));
    if !grouped_ok || groups.iter().any(|g| g.is_empty()) {
        return Err(bad());
    }
    let digits: String = groups.concat();
    let cents = match cents {
        None => 0,
        Some(c) if c.is_empty() || c.contains('.') => return Err(bad()),
        Some(c) if c.len() > 2 => {
            return Err("Los centavos van con dos cifras como mucho (15.000,50).".into());
        }
        Some(c) if c.len() == 1 => c.parse::<i64>().map_err(|_| bad())? * 10,
        Some(c) => c.parse::<i64>().map_err(|_| bad())?,
    };
    let whole: i64 = digits
        .parse()
        .map_err(|_| "El precio es demasiado grande.".to_string())?;
    whole
        .checked_mul(100)
        .and_then(|m| m.checked_add(cents))
        .ok_or_else(|| "El precio es demasiado grande.".to_string())
}

/// A price to put back in its field: `15.000` or `15.000,50` (what [`parse_price`] reads).
pub fn price_field(minor: i64) -> String {
    let text = Money::ars(minor).format_es_ar();
    let text = text.trim_start_matches("-").trim_start_matches("$ ");
    let text = text.strip_suffix(",00").unwrap_or(text);
    if minor < 0 {
        format!("-{text}")
    } else {
        text.to_string()
    }
}

/// The weekend surcharge as the owner types it, a percentage ("20", "12,5", "-10" for a
/// discount), as the multiplier in basis points the pricing rules keep (20 % → 12 000).
pub fn parse_surcharge(input: &str) -> Result<u32, String> {
    let s = input.trim().trim_end_matches('%').trim().replace(',', ".");
    if s.is_empty() {
        return Ok(posada_domain::pricing::NO_MULTIPLIER_BP);
    }
    let hint =
        "Escribí el recargo como un porcentaje, por ejemplo 20 o 12,5 (0: igual que la semana).";
    let (negative, s) = match s.strip_prefix('-') {
        Some(rest) => (true, rest.to_string()),
        None => (false, s),
    };
    let (whole, frac) = s.split_once('.').unwrap_or((&s, ""));
    if whole.is_empty()
        || frac.len() > 2
        || !whole
            .chars()
            .chain(frac.chars())
            .all(|c| c.is_ascii_digit())
    {
        return Err(hint.into());
    }
    let frac = format!("{frac:0<2}");
    let hundredths: i64 = whole
        .parse::<i64>()
        .ok()
        .and_then(|w| w.checked_mul(100))
        .and_then(|w| w.checked_add(frac.parse::<i64>().unwrap_or(0)))
        .ok_or_else(|| hint.to_string())?;
    let hundredths = if negative { -hundredths } else { hundredths };
    // 1 % is 100 bp.
    let bp = 10_000 + hundredths;
    let max = i64::from(posada_domain::pricing::MAX_MULTIPLIER_BP);
    if bp < 1 || bp > max {
        return Err(format!(
            "El recargo debe estar entre -99,99 % y {} %.",
            (max - 10_000) / 100
        ));
    }
    u32::try_from(bp).map_err(|_| hint.to_string())
}

/// The surcharge back in its field: `20`, `12,5`, `0`.
pub fn surcharge_field(bp: u32) -> String {
    let hundredths = i64::from(bp) - 10_000;
    let sign = if hundredths < 0 { "-" } else { "" };
    let h = hundredths.abs();
    match h % 100 {
        0 => format!("{sign}{}", h / 100),
        f if f % 10 == 0 => format!("{sign}{},{}", h / 100, f / 10),
        f => format!("{sign}{},{f:02}", h / 100),
    }
}

fn parse_count(input: &str, what: &str, min: u32, max: u32) -> Result<u32, String> {
    let s = input.trim();
    let n = s
        .parse::<u32>()
        .map_err(|_| format!("Escribí {what} con un número entero, entre {min} y {max}."))?;
    if !(min..=max).contains(&n) {
        return Err(format!("{} debe estar entre {min} y {max}.", capital(what)));
    }
    Ok(n)
}

fn capital(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

fn parse_date(input: &str, label: &str) -> Result<NaiveDate, String> {
    let s = input.trim();
    if s.is_empty() {
        return Err(format!("Falta {label}."));
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(s, "%d/%m/%Y"))
        .map_err(|_| format!("{} no es una fecha válida (dd/mm/aaaa).", capital(label)))
}

fn parse_time(input: &str, label: &str) -> Result<NaiveTime, String> {
    NaiveTime::parse_from_str(input.trim(), "%H:%M")
        .map_err(|_| format!("{} no es una hora válida (hh:mm).", capital(label)))
}

fn kind_options() -> Vec<Value> {
    AccommodationKind::ALL
        .iter()
        .map(|k| json!({"value": k.as_str(), "label": capital(k.label_es())}))
        .collect()
}

/// Which form a domain field error belongs to, and its field there. `season` is the season
/// form being saved (`season3`, or `new` for the one being added) and its index in the rules:
/// an overlap reported on another season is shown on that form.
fn form_key(field: &str, season: Option<(&str, usize)>) -> (String, Option<usize>) {
    let line = |rest: &str| -> Option<usize> {
        rest.strip_prefix('[')
            .and_then(|r| r.split(']').next())
            .and_then(|n| n.parse::<usize>().ok())
    };
    if let Some(rest) = field.strip_prefix("pricing.seasons[") {
        let (index, sub) = rest.split_once(']').unwrap_or((rest, ""));
        let index: usize = index.parse().unwrap_or(usize::MAX);
        let sub = sub.trim_start_matches('.');
        let sub = match sub {
            "end" | "start" => "last",
            "nightly" => "price",
            "" => "general",
            other => other,
        };
        return match season {
            Some((prefix, at)) if at == index => (format!("{prefix}.{sub}"), None),
            Some((prefix, _)) if sub == "general" => (format!("{prefix}.general"), None),
            _ => (format!("season{index}.{sub}"), None),
        };
    }
    let key = match field {
        "pricing.base_nightly" => "prices.base",
        "pricing.weekend_multiplier_bp" => "prices.weekend",
        "pricing.weekend_nights" => "prices.weekend_nights",
        "pricing.min_nights" => "prices.min_nights",
        "pricing.deposit_percent" => "prices.deposit",
        "name" | "slug" | "description" | "capacity" | "directions" | "check_in_time"
        | "check_out_time" | "kind" => return (format!("details.{field}"), None),
        f if f.starts_with("amenities") => {
            return ("details.amenities".into(), line(&f["amenities".len()..]));
        }
        f if f.starts_with("photos") => {
            return ("details.photos".into(), line(&f["photos".len()..]));
        }
        _ => "general",
    };
    (key.to_string(), None)
}

/// The use case's field errors, as the forms show them.
fn app_errors(e: AppError, season: Option<(&str, usize)>) -> Result<Errors, Problem> {
    match e {
        AppError::Invalid(fields) => {
            let mut errors = Errors::new();
            for f in fields {
                let (key, line) = form_key(&f.field, season);
                let message = match line {
                    Some(n) => format!("Línea {}: {}", n + 1, f.message),
                    None => capital(&f.message),
                };
                errors
                    .entry(key)
                    .and_modify(|m| {
                        m.push(' ');
                        m.push_str(&message);
                    })
                    .or_insert(message);
            }
            Ok(errors)
        }
        AppError::Duplicate("slug") => Ok(Errors::from([(
            "details.slug".to_string(),
            "Ya hay un alojamiento con ese identificador: elegí otro.".to_string(),
        )])),
        other => Err(other.into()),
    }
}

async fn unit_by_slug(
    state: &AppState,
    slug: &str,
) -> Result<Option<StoredAccommodation>, Problem> {
    Ok(accommodations::get_by_slug(state.db(), slug).await?)
}

fn not_found(owner: &Owner) -> Response {
    render::message(
        owner,
        StatusCode::NOT_FOUND,
        "No existe ese alojamiento.",
        "/dashboard/alojamientos",
    )
}

fn notice(key: Option<&str>) -> Option<&'static str> {
    Some(match key? {
        "creado" => "Alojamiento creado. Completá sus datos y precios.",
        "datos" => "Datos guardados.",
        "precios" => "Precios guardados.",
        "temporada-agregada" => "Temporada agregada.",
        "temporada-guardada" => "Temporada guardada.",
        "temporada-quitada" => "Temporada quitada.",
        "eliminado" => "Alojamiento eliminado.",
        "desactivado" => {
            "El alojamiento tiene reservas: quedó inactivo (los huéspedes ya no lo ven) y se conserva su historial."
        }
        _ => return None,
    })
}

/// `?aviso=` after a redirect.
#[derive(Debug, Default, Deserialize)]
struct NoticeQuery {
    aviso: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// The list and the new unit.

/// The new unit's form.
#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(default)]
struct NewUnitForm {
    name: String,
    slug: String,
    kind: String,
    capacity: String,
    base: String,
}

fn list_page(
    owner: &Owner,
    status: StatusCode,
    units: &[StoredAccommodation],
    form: &NewUnitForm,
    errors: &Errors,
    notice_text: Option<&str>,
) -> Response {
    let units: Vec<Value> = units
        .iter()
        .map(|u| {
            let a = &u.accommodation;
            json!({
                "name": a.name,
                "slug": a.slug,
                "kind": capital(a.kind.label_es()),
                "capacity": a.capacity,
                "active": a.active,
                "base": a.pricing.base_nightly.format_es_ar(),
                "seasons": a.pricing.seasons.len(),
            })
        })
        .collect();
    render::page_with_status(
        status,
        owner,
        Shell {
            section: "alojamientos",
            title: "Alojamientos y precios",
            notice: notice_text,
            ..Shell::default()
        },
        "units.html",
        json!({"units": units, "form": form, "errors": errors, "kinds": kind_options()}),
    )
}

/// `GET /dashboard/alojamientos`
async fn list(
    State(state): State<AppState>,
    owner: Owner,
    Query(q): Query<NoticeQuery>,
) -> Result<Response, Problem> {
    let units = accommodations::list(state.db(), false).await?;
    let form = NewUnitForm {
        kind: "cabin".into(),
        capacity: "2".into(),
        ..NewUnitForm::default()
    };
    Ok(list_page(
        &owner,
        StatusCode::OK,
        &units,
        &form,
        &Errors::new(),
        notice(q.aviso.as_deref()),
    ))
}

/// `POST /dashboard/alojamientos`: a new unit with its name, kind, capacity and base price (the
/// rest is edited on its page).
async fn create(
    State(state): State<AppState>,
    OwnerForm { owner, form }: OwnerForm<NewUnitForm>,
) -> Result<Response, Problem> {
    let mut errors = Errors::new();
    let slug = if form.slug.trim().is_empty() {
        posada_domain::slugify(&form.name)
    } else {
        form.slug.trim().to_string()
    };
    let kind = AccommodationKind::parse(form.kind.trim()).unwrap_or_else(|_| {
        errors.insert("new.kind".into(), "Elegí el tipo de alojamiento.".into());
        AccommodationKind::Cabin
    });
    let capacity = parse_count(
        &form.capacity,
        "la capacidad",
        1,
        posada_domain::accommodation::MAX_CAPACITY,
    )
    .unwrap_or_else(|e| {
        errors.insert("new.capacity".into(), e);
        1
    });
    let base = parse_price(&form.base).unwrap_or_else(|e| {
        errors.insert("new.base".into(), e);
        1
    });
    let input = AccommodationIn {
        accommodation: NewAccommodation {
            name: form.name.trim().to_string(),
            slug,
            kind,
            description: String::new(),
            capacity,
            amenities: Vec::new(),
            photos: Vec::new(),
            check_in_time: posada_domain::accommodation::default_check_in_time(),
            check_out_time: posada_domain::accommodation::default_check_out_time(),
            active: true,
            pricing: posada_domain::PricingRules::new(Money::new(base, Currency::Ars)),
        },
        directions: String::new(),
    };
    let result = if errors.is_empty() {
        app::accommodations::create(&state, &input).await.map(Some)
    } else {
        // Also what the rules say about the fields that did read, all at once.
        input
            .accommodation
            .validate()
            .map(|()| None)
            .map_err(AppError::from)
    };
    match result {
        Ok(Some(stored)) => {
            tracing::info!(accommodation.slug = %stored.accommodation.slug, "unit created from the dashboard");
            return Ok(Redirect::to(&format!(
                "/dashboard/alojamientos/{}?aviso=creado",
                stored.accommodation.slug
            ))
            .into_response());
        }
        Ok(None) => {}
        Err(e) => {
            for (key, message) in app_errors(e, None)? {
                let key = match key.as_str() {
                    "details.name" => "new.name",
                    "details.slug" => "new.slug",
                    "details.capacity" => "new.capacity",
                    "prices.base" => "new.base",
                    _ => "new.general",
                };
                errors.insert(key.into(), message);
            }
        }
    }
    let units = accommodations::list(state.db(), false).await?;
    Ok(list_page(
        &owner,
        StatusCode::UNPROCESSABLE_ENTITY,
        &units,
        &form,
        &errors,
        None,
    ))
}

// ---------------------------------------------------------------------------------------------
// One unit's page.

/// The details form.
#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(default)]
struct DetailsForm {
    name: String,
    kind: String,
    description: String,
    capacity: String,
    directions: String,
    photos: String,
    amenities: String,
    check_in_time: String,
    check_out_time: String,
    active: Option<String>,
}

impl DetailsForm {
    fn of(u: &StoredAccommodation) -> DetailsForm {
        let a = &u.accommodation;
        DetailsForm {
            name: a.name.clone(),
            kind: a.kind.as_str().into(),
            description: a.description.clone(),
            capacity: a.capacity.to_string(),
            directions: u.directions.clone(),
            photos: a
                .photos_in_order()
                .iter()
                .map(|p| p.url.as_str())
                .collect::<Vec<_>>()
                .join("\n"),
            amenities: a.amenities.join("\n"),
            check_in_time: a.check_in_time.format("%H:%M").to_string(),
            check_out_time: a.check_out_time.format("%H:%M").to_string(),
            active: a.active.then(|| "1".into()),
        }
    }
}

/// The prices form.
#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(default)]
struct PricesForm {
    base: String,
    weekend: String,
    min_nights: String,
    deposit: String,
    /// The weekend nights' checkboxes, Monday to Sunday (`Some` when ticked).
    night_mon: Option<String>,
    night_tue: Option<String>,
    night_wed: Option<String>,
    night_thu: Option<String>,
    night_fri: Option<String>,
    night_sat: Option<String>,
    night_sun: Option<String>,
}

/// The weekend nights' checkboxes: (field, weekday).
const NIGHTS: [(&str, Weekday); 7] = [
    ("night_mon", Weekday::Mon),
    ("night_tue", Weekday::Tue),
    ("night_wed", Weekday::Wed),
    ("night_thu", Weekday::Thu),
    ("night_fri", Weekday::Fri),
    ("night_sat", Weekday::Sat),
    ("night_sun", Weekday::Sun),
];

impl PricesForm {
    fn of(u: &StoredAccommodation) -> PricesForm {
        let p = &u.accommodation.pricing;
        let night = |d: Weekday| p.weekend_nights.contains(&d).then(|| "1".to_string());
        PricesForm {
            base: price_field(p.base_nightly.minor),
            weekend: surcharge_field(p.weekend_multiplier_bp),
            min_nights: p.min_nights.to_string(),
            deposit: p.deposit_percent.to_string(),
            night_mon: night(Weekday::Mon),
            night_tue: night(Weekday::Tue),
            night_wed: night(Weekday::Wed),
            night_thu: night(Weekday::Thu),
            night_fri: night(Weekday::Fri),
            night_sat: night(Weekday::Sat),
            night_sun: night(Weekday::Sun),
        }
    }

    /// The ticked weekend nights, Monday first.
    fn weekend_nights(&self) -> Vec<Weekday> {
        let ticked = [
            &self.night_mon,
            &self.night_tue,
            &self.night_wed,
            &self.night_thu,
            &self.night_fri,
            &self.night_sat,
            &self.night_sun,
        ];
        NIGHTS
            .iter()
            .zip(ticked)
            .filter(|(_, t)| t.is_some())
            .map(|((_, d), _)| *d)
            .collect()
    }

    /// The checkboxes as the template draws them.
    fn night_boxes(&self) -> Vec<Value> {
        let ticked = self.weekend_nights();
        NIGHTS
            .iter()
            .map(|(field, d)| {
                json!({
                    "field": field,
                    "label": capital(posada_domain::pricing::weekday_es(*d)),
                    "checked": ticked.contains(d),
                })
            })
            .collect()
    }
}

/// A season's form (new or existing); dates are the first and the last night, both included.
#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(default)]
struct SeasonForm {
    name: String,
    first: String,
    last: String,
    price: String,
    min_nights: String,
}

impl SeasonForm {
    fn of(s: &Season) -> SeasonForm {
        SeasonForm {
            name: s.name.clone(),
            first: s.start.to_string(),
            last: (s.end - Duration::days(1)).to_string(),
            price: price_field(s.nightly.minor),
            min_nights: s.min_nights.map(|n| n.to_string()).unwrap_or_default(),
        }
    }

    /// The season, or the errors under `prefix`.
    fn parse(&self, currency: Currency, prefix: &str, errors: &mut Errors) -> Option<Season> {
        let mut err = |field: &str, message: String| {
            errors.insert(format!("{prefix}.{field}"), message);
        };
        let name = self.name.trim();
        if name.is_empty() {
            err(
                "name",
                "Poné un nombre a la temporada (por ejemplo «Verano»).".into(),
            );
        }
        let first = parse_date(&self.first, "la primera noche")
            .map_err(|e| err("first", e))
            .ok();
        let last = parse_date(&self.last, "la última noche")
            .map_err(|e| err("last", e))
            .ok();
        if let (Some(f), Some(l)) = (first, last)
            && l < f
        {
            err(
                "last",
                "La última noche no puede ser anterior a la primera.".into(),
            );
        }
        let price = parse_price(&self.price).map_err(|e| err("price", e)).ok();
        let min_nights = if self.min_nights.trim().is_empty() {
            Some(None)
        } else {
            parse_count(
                &self.min_nights,
                "la estadía mínima",
                1,
                posada_domain::pricing::MAX_MIN_NIGHTS,
            )
            .map(Some)
            .map_err(|e| err("min_nights", e))
            .ok()
        };
        let (first, last, price, min_nights) = (first?, last?, price?, min_nights?);
        if last < first || name.is_empty() {
            return None;
        }
        Some(Season {
            name: name.to_string(),
            start: first,
            end: last + Duration::days(1),
            nightly: Money::new(price, currency),
            min_nights,
        })
    }
}

/// The quote preview's query (`GET`, dates and a head count: nothing about a guest).
#[derive(Debug, Default, Deserialize)]
struct DetailQuery {
    aviso: Option<String>,
    entrada: Option<String>,
    salida: Option<String>,
    personas: Option<String>,
}

/// What a form sent back shows instead of the stored values.
#[derive(Default)]
struct Overrides {
    details: Option<DetailsForm>,
    prices: Option<PricesForm>,
    season: Option<(usize, SeasonForm)>,
    new_season: Option<SeasonForm>,
    errors: Errors,
}

fn weekday_list(p: &posada_domain::PricingRules) -> String {
    let names: Vec<&str> = p
        .weekend_nights
        .iter()
        .map(|d| posada_domain::pricing::weekday_es(*d))
        .collect();
    match names.as_slice() {
        [] => "ninguna".into(),
        [one] => format!("del {one}"),
        [rest @ .., last] => format!("del {} y del {last}", rest.join(", del ")),
    }
}

fn date_text(d: NaiveDate) -> String {
    d.format("%d/%m/%Y").to_string()
}

/// The quote preview: its fields, its errors, and the quote when the dates price.
async fn quote_preview(state: &AppState, unit: &StoredAccommodation, q: &DetailQuery) -> Value {
    let entrada = q.entrada.clone().unwrap_or_default();
    let salida = q.salida.clone().unwrap_or_default();
    let personas = q.personas.clone().unwrap_or_else(|| "2".into());
    let asked = !entrada.trim().is_empty() || !salida.trim().is_empty();
    let mut errors = Errors::new();
    let mut result = Value::Null;
    if asked {
        let check_in = parse_date(&entrada, "la fecha de entrada")
            .map_err(|e| errors.insert("entrada".into(), e))
            .ok();
        let check_out = parse_date(&salida, "la fecha de salida")
            .map_err(|e| errors.insert("salida".into(), e))
            .ok();
        let guests = parse_count(&personas, "la cantidad de personas", 1, 50)
            .map_err(|e| errors.insert("personas".into(), e))
            .ok();
        if let (Some(ci), Some(co), Some(g)) = (check_in, check_out, guests) {
            match booking::quote(state, &unit.accommodation.slug, ci, co, g).await {
                Ok((_, quote, available)) => {
                    let lines: Vec<Value> = quote
                        .nights
                        .iter()
                        .map(|n| {
                            json!({
                                "date": date_text(n.date),
                                "weekday": posada_domain::pricing::weekday_es(chrono::Datelike::weekday(&n.date)),
                                "price": n.price.format_es_ar(),
                                "season": n.season,
                                "weekend": n.weekend,
                            })
                        })
                        .collect();
                    result = json!({
                        "nights": quote.nights.len(),
                        "total": quote.total.format_es_ar(),
                        "deposit": quote.deposit.format_es_ar(),
                        "balance": quote.balance.format_es_ar(),
                        "deposit_percent": quote.deposit_percent,
                        "min_nights": quote.min_nights,
                        "available": available,
                        "lines": lines,
                    });
                }
                Err(AppError::Invalid(fields)) => {
                    for f in fields {
                        let key = match f.field.as_str() {
                            "check_in" => "entrada",
                            "guests" => "personas",
                            _ => "salida",
                        };
                        errors.insert(key.into(), capital(&f.message));
                    }
                }
                Err(AppError::NotFound(_)) => {
                    errors.insert(
                        "general".into(),
                        "El alojamiento está inactivo: los huéspedes no pueden reservarlo. Activalo para cotizar."
                            .into(),
                    );
                }
                Err(e) => {
                    tracing::error!(error = %e, "quote preview failed");
                    errors.insert(
                        "general".into(),
                        "No se pudo calcular la cotización. Probá de nuevo.".into(),
                    );
                }
            }
        }
    }
    json!({
        "asked": asked,
        "entrada": entrada,
        "salida": salida,
        "personas": personas,
        "errors": errors,
        "result": result,
    })
}

fn detail_page(
    state: &AppState,
    owner: &Owner,
    status: StatusCode,
    unit: &StoredAccommodation,
    overrides: Overrides,
    quote: Value,
    notice_text: Option<&str>,
) -> Response {
    let a = &unit.accommodation;
    let p = &a.pricing;
    let weekend_price = p
        .base_nightly
        .basis_points(p.weekend_multiplier_bp)
        .map(|m| m.format_es_ar())
        .unwrap_or_default();
    let seasons: Vec<Value> = p
        .seasons
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let form = match &overrides.season {
                Some((at, f)) if *at == i => f.clone(),
                _ => SeasonForm::of(s),
            };
            json!({
                "index": i,
                "key": format!("season{i}"),
                "name": s.name,
                "range": format!("{} al {}", date_text(s.start), date_text(s.end - Duration::days(1))),
                "price": s.nightly.format_es_ar(),
                "min_nights": s.min_nights,
                "form": form,
                "open": overrides.errors.keys().any(|k| k.starts_with(&format!("season{i}."))),
            })
        })
        .collect();
    let prices = overrides.prices.unwrap_or_else(|| PricesForm::of(unit));
    let base_url = state.settings().posada_public_url.trim_end_matches('/');
    let (script, iframe) = crate::http::guest::widget_snippet(base_url, &a.slug);
    let ctx = json!({
        "unit": {
            "name": a.name,
            "slug": a.slug,
            "active": a.active,
            "currency": p.currency().symbol(),
            "base": p.base_nightly.format_es_ar(),
            "weekend_price": weekend_price,
            "weekend_nights": weekday_list(p),
            "booking_url": format!("{base_url}/reservar/{}", a.slug),
            "booking_path": format!("/reservar/{}", a.slug),
            "photos": a.photos_in_order().iter().map(|p| json!({"url": p.url, "caption": p.caption})).collect::<Vec<_>>(),
            "snippet_script": script,
            "snippet_iframe": iframe,
        },
        "details": overrides.details.unwrap_or_else(|| DetailsForm::of(unit)),
        "night_boxes": prices.night_boxes(),
        "prices": prices,
        "seasons": seasons,
        "new_season": overrides.new_season.unwrap_or_default(),
        "errors": overrides.errors,
        "kinds": kind_options(),
        "quote": quote,
    });
    render::page_with_status(
        status,
        owner,
        Shell {
            section: "alojamientos",
            title: &a.name,
            notice: notice_text,
            ..Shell::default()
        },
        "unit.html",
        ctx,
    )
}

/// `GET /dashboard/alojamientos/{slug}` (with `?entrada=&salida=&personas=`: the quote preview).
async fn detail(
    State(state): State<AppState>,
    owner: Owner,
    Path(slug): Path<String>,
    Query(q): Query<DetailQuery>,
) -> Result<Response, Problem> {
    let Some(unit) = unit_by_slug(&state, &slug).await? else {
        return Ok(not_found(&owner));
    };
    let quote = quote_preview(&state, &unit, &q).await;
    let status = if quote["errors"].as_object().is_some_and(|e| !e.is_empty()) {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    Ok(detail_page(
        &state,
        &owner,
        status,
        &unit,
        Overrides::default(),
        quote,
        notice(q.aviso.as_deref()),
    ))
}

/// Save `input` over `unit`; on field errors the page again with `overrides` and the errors.
#[expect(
    clippy::too_many_arguments,
    reason = "one call site per form, all named"
)]
async fn save(
    state: &AppState,
    owner: &Owner,
    unit: &StoredAccommodation,
    input: Option<AccommodationIn>,
    mut overrides: Overrides,
    season: Option<(&str, usize)>,
    done: &str,
    what: &str,
) -> Result<Response, Problem> {
    if let Some(input) = input.as_ref().filter(|_| !overrides.errors.is_empty()) {
        // Also what the rules say about the fields that did read, all at once.
        if let Err(e) = input.accommodation.validate() {
            for (key, message) in app_errors(e.into(), season)? {
                overrides.errors.entry(key).or_insert(message);
            }
        }
    }
    if let Some(input) = input.filter(|_| overrides.errors.is_empty()) {
        match app::accommodations::update(state, unit.accommodation.id, &input).await {
            Ok(stored) => {
                tracing::info!(accommodation.slug = %stored.accommodation.slug, change = what, "unit saved from the dashboard");
                return Ok(Redirect::to(&format!(
                    "/dashboard/alojamientos/{}?aviso={done}",
                    stored.accommodation.slug
                ))
                .into_response());
            }
            Err(e) => overrides.errors.extend(app_errors(e, season)?),
        }
    }
    Ok(detail_page(
        state,
        owner,
        StatusCode::UNPROCESSABLE_ENTITY,
        unit,
        overrides,
        quote_preview(state, unit, &DetailQuery::default()).await,
        None,
    ))
}

fn input_of(unit: &StoredAccommodation, accommodation: NewAccommodation) -> AccommodationIn {
    AccommodationIn {
        accommodation,
        directions: unit.directions.clone(),
    }
}

/// `POST /dashboard/alojamientos/{slug}/datos`
async fn save_details(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    OwnerForm { owner, form }: OwnerForm<DetailsForm>,
) -> Result<Response, Problem> {
    let Some(unit) = unit_by_slug(&state, &slug).await? else {
        return Ok(not_found(&owner));
    };
    let mut errors = Errors::new();
    let mut a = unit.accommodation.to_input();
    a.name = form.name.trim().to_string();
    match AccommodationKind::parse(form.kind.trim()) {
        Ok(k) => a.kind = k,
        Err(_) => {
            errors.insert(
                "details.kind".into(),
                "Elegí el tipo de alojamiento.".into(),
            );
        }
    }
    a.description = form.description.trim().to_string();
    match parse_count(
        &form.capacity,
        "la capacidad",
        1,
        posada_domain::accommodation::MAX_CAPACITY,
    ) {
        Ok(c) => a.capacity = c,
        Err(e) => {
            errors.insert("details.capacity".into(), e);
        }
    }
    match parse_time(&form.check_in_time, "la hora de entrada") {
        Ok(t) => a.check_in_time = t,
        Err(e) => {
            errors.insert("details.check_in_time".into(), e);
        }
    }
    match parse_time(&form.check_out_time, "la hora de salida") {
        Ok(t) => a.check_out_time = t,
        Err(e) => {
            errors.insert("details.check_out_time".into(), e);
        }
    }
    a.active = form.active.is_some();
    a.amenities = form
        .amenities
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    // Photos: one URL per line, the first is the cover; a URL kept keeps its caption.
    let captions: BTreeMap<&str, &str> = unit
        .accommodation
        .photos
        .iter()
        .map(|p| (p.url.as_str(), p.caption.as_str()))
        .collect();
    a.photos = form
        .photos
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .enumerate()
        .map(|(i, url)| Photo {
            url: url.to_string(),
            caption: captions.get(url).map(|c| c.to_string()).unwrap_or_default(),
            position: u32::try_from(i + 1).unwrap_or(u32::MAX),
            primary: i == 0,
        })
        .collect();
    let mut input = input_of(&unit, a);
    input.directions = form.directions.trim().to_string();
    let overrides = Overrides {
        details: Some(form),
        errors,
        ..Overrides::default()
    };
    save(
        &state,
        &owner,
        &unit,
        Some(input),
        overrides,
        None,
        "datos",
        "details",
    )
    .await
}

/// `POST /dashboard/alojamientos/{slug}/precios`
async fn save_prices(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    OwnerForm { owner, form }: OwnerForm<PricesForm>,
) -> Result<Response, Problem> {
    let Some(unit) = unit_by_slug(&state, &slug).await? else {
        return Ok(not_found(&owner));
    };
    let mut errors = Errors::new();
    let mut a = unit.accommodation.to_input();
    let currency = a.pricing.currency();
    match parse_price(&form.base) {
        Ok(m) => a.pricing.base_nightly = Money::new(m, currency),
        Err(e) => {
            errors.insert("prices.base".into(), e);
        }
    }
    a.pricing.weekend_nights = form.weekend_nights();
    match parse_surcharge(&form.weekend) {
        Ok(bp) => a.pricing.weekend_multiplier_bp = bp,
        Err(e) => {
            errors.insert("prices.weekend".into(), e);
        }
    }
    match parse_count(
        &form.min_nights,
        "la estadía mínima",
        1,
        posada_domain::pricing::MAX_MIN_NIGHTS,
    ) {
        Ok(n) => a.pricing.min_nights = n,
        Err(e) => {
            errors.insert("prices.min_nights".into(), e);
        }
    }
    match parse_count(form.deposit.trim().trim_end_matches('%'), "la seña", 0, 100) {
        Ok(n) => a.pricing.deposit_percent = n,
        Err(e) => {
            errors.insert("prices.deposit".into(), e);
        }
    }
    let input = input_of(&unit, a);
    let overrides = Overrides {
        prices: Some(form),
        errors,
        ..Overrides::default()
    };
    save(
        &state,
        &owner,
        &unit,
        Some(input),
        overrides,
        None,
        "precios",
        "prices",
    )
    .await
}

/// `POST /dashboard/alojamientos/{slug}/temporadas`: add a season (kept in date order).
async fn add_season(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    OwnerForm { owner, form }: OwnerForm<SeasonForm>,
) -> Result<Response, Problem> {
    let Some(unit) = unit_by_slug(&state, &slug).await? else {
        return Ok(not_found(&owner));
    };
    let mut errors = Errors::new();
    let mut a = unit.accommodation.to_input();
    let season = form.parse(a.pricing.currency(), "new", &mut errors);
    let mut at = a.pricing.seasons.len();
    if let Some(season) = season {
        at = a
            .pricing
            .seasons
            .iter()
            .position(|s| s.start > season.start)
            .unwrap_or(a.pricing.seasons.len());
        a.pricing.seasons.insert(at, season);
    }
    let input = input_of(&unit, a);
    let overrides = Overrides {
        new_season: Some(form),
        errors,
        ..Overrides::default()
    };
    save(
        &state,
        &owner,
        &unit,
        Some(input),
        overrides,
        Some(("new", at)),
        "temporada-agregada",
        "season added",
    )
    .await
}

/// `POST /dashboard/alojamientos/{slug}/temporadas/{index}`: change a season.
async fn save_season(
    State(state): State<AppState>,
    Path((slug, index)): Path<(String, usize)>,
    OwnerForm { owner, form }: OwnerForm<SeasonForm>,
) -> Result<Response, Problem> {
    let Some(unit) = unit_by_slug(&state, &slug).await? else {
        return Ok(not_found(&owner));
    };
    if index >= unit.accommodation.pricing.seasons.len() {
        return Ok(season_gone(&owner, &slug));
    }
    let mut errors = Errors::new();
    let key = format!("season{index}");
    let mut a = unit.accommodation.to_input();
    if let Some(season) = form.parse(a.pricing.currency(), &key, &mut errors) {
        a.pricing.seasons[index] = season;
    }
    let input = input_of(&unit, a);
    let overrides = Overrides {
        season: Some((index, form)),
        errors,
        ..Overrides::default()
    };
    save(
        &state,
        &owner,
        &unit,
        Some(input),
        overrides,
        Some((&key, index)),
        "temporada-guardada",
        "season changed",
    )
    .await
}

fn season_gone(owner: &Owner, slug: &str) -> Response {
    render::message(
        owner,
        StatusCode::NOT_FOUND,
        "Esa temporada ya no existe (¿la quitaron desde otra pestaña?).",
        &format!("/dashboard/alojamientos/{slug}"),
    )
}

/// `POST /dashboard/alojamientos/{slug}/temporadas/{index}/quitar`
async fn remove_season(
    State(state): State<AppState>,
    Path((slug, index)): Path<(String, usize)>,
    OwnerForm { owner, .. }: OwnerForm<super::NoFields>,
) -> Result<Response, Problem> {
    let Some(unit) = unit_by_slug(&state, &slug).await? else {
        return Ok(not_found(&owner));
    };
    if index >= unit.accommodation.pricing.seasons.len() {
        return Ok(season_gone(&owner, &slug));
    }
    let mut a = unit.accommodation.to_input();
    a.pricing.seasons.remove(index);
    let input = input_of(&unit, a);
    save(
        &state,
        &owner,
        &unit,
        Some(input),
        Overrides::default(),
        None,
        "temporada-quitada",
        "season removed",
    )
    .await
}

/// The removal form: the owner ticks that they mean it (no script asks them).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RemoveForm {
    confirm: Option<String>,
}

/// `POST /dashboard/alojamientos/{slug}/eliminar`: delete a unit that never had a reservation,
/// or deactivate one that did (kept for its history), as the admin API's `DELETE`.
async fn remove_unit(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    OwnerForm { owner, form }: OwnerForm<RemoveForm>,
) -> Result<Response, Problem> {
    let Some(unit) = unit_by_slug(&state, &slug).await? else {
        return Ok(not_found(&owner));
    };
    if form.confirm.is_none() {
        let overrides = Overrides {
            errors: Errors::from([(
                "remove.confirm".to_string(),
                "Marcá la casilla para confirmar que querés eliminarlo.".to_string(),
            )]),
            ..Overrides::default()
        };
        return Ok(detail_page(
            &state,
            &owner,
            StatusCode::UNPROCESSABLE_ENTITY,
            &unit,
            overrides,
            quote_preview(&state, &unit, &DetailQuery::default()).await,
            None,
        ));
    }
    let deleted = app::accommodations::delete(&state, unit.accommodation.id).await?;
    tracing::info!(accommodation.slug = %slug, deleted, "unit removed from the dashboard");
    Ok(if deleted {
        Redirect::to("/dashboard/alojamientos?aviso=eliminado").into_response()
    } else {
        Redirect::to(&format!("/dashboard/alojamientos/{slug}?aviso=desactivado")).into_response()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_read_as_the_owner_writes_them() {
        assert_eq!(parse_price("15000"), Ok(1_500_000));
        assert_eq!(parse_price("15.000"), Ok(1_500_000));
        assert_eq!(parse_price("15.000,50"), Ok(1_500_050));
        assert_eq!(parse_price("$ 15.000,5"), Ok(1_500_050));
        assert_eq!(parse_price("15000,5"), Ok(1_500_050));
        assert_eq!(parse_price("15000.50"), Ok(1_500_050));
        assert_eq!(parse_price("1.234.567"), Ok(123_456_700));
        assert_eq!(parse_price(" 800 "), Ok(80_000));
        for bad in [
            "",
            "abc",
            "15.00.0",
            "1,2,3",
            "15.000,505",
            "-5",
            "1.5000",
            ".5",
            "15,",
        ] {
            assert!(parse_price(bad).is_err(), "{bad:?}");
        }
        assert!(parse_price("99999999999999999999").is_err());
    }

    #[test]
    fn a_price_goes_back_to_its_field_as_it_reads() {
        for minor in [1, 99, 100, 1_500_000, 1_500_050, 123_456_789] {
            assert_eq!(parse_price(&price_field(minor)), Ok(minor), "{minor}");
        }
        assert_eq!(price_field(1_500_000), "15.000");
        assert_eq!(price_field(1_500_050), "15.000,50");
    }

    proptest::proptest! {
        #[test]
        fn any_price_reads_back(minor in 1i64..100_000_000_000_000) {
            proptest::prop_assert_eq!(parse_price(&price_field(minor)), Ok(minor));
            let plain = format!("{},{:02}", minor / 100, minor % 100);
            proptest::prop_assert_eq!(parse_price(&plain), Ok(minor));
        }

        #[test]
        fn no_text_makes_the_parser_panic(text in "\\PC{0,24}") {
            let _ = parse_price(&text);
            let _ = parse_surcharge(&text);
        }
    }

    #[test]
    fn the_weekend_surcharge_is_a_percentage() {
        assert_eq!(parse_surcharge(""), Ok(10_000));
        assert_eq!(parse_surcharge("0"), Ok(10_000));
        assert_eq!(parse_surcharge("20"), Ok(12_000));
        assert_eq!(parse_surcharge("12,5 %"), Ok(11_250));
        assert_eq!(parse_surcharge("-10"), Ok(9_000));
        assert!(parse_surcharge("500").is_err());
        assert!(parse_surcharge("veinte").is_err());
        assert!(parse_surcharge("1,234").is_err());
        for bp in [10_000, 12_000, 11_250, 9_000, 10_001] {
            assert_eq!(parse_surcharge(&surcharge_field(bp)), Ok(bp), "{bp}");
        }
    }

    #[test]
    fn domain_fields_land_on_their_forms() {
        assert_eq!(form_key("pricing.base_nightly", None).0, "prices.base");
        assert_eq!(
            form_key("pricing.seasons[2].nightly", Some(("new", 2))).0,
            "new.price"
        );
        assert_eq!(
            form_key("pricing.seasons[3]", Some(("season1", 1))).0,
            "season1.general"
        );
        assert_eq!(
            form_key("photos[1].url", None),
            ("details.photos".to_string(), Some(1))
        );
    }
}
