//! Calendario: every unit × the nights of a month, a block's detail, owner blocks.
//!
//! The month page shows each night free, held, confirmed, blocked by the owner or blocked by a
//! channel (which one), in words as well as colours. On a desktop it is one table row per unit
//! (inside its own horizontal scroller, never the page's); on a phone one unit at a time as a
//! seven-column month, with a unit picker. A free night links to the block form with that night
//! as its first (a plain GET: no drag, no long press); a stay links to its reservation, a block
//! to its own small page (with "Quitar" for the owner's).
//!
//! Reads are store queries; the block form calls `app::blocks::create` / `delete`, the same use
//! cases as the admin API.

use std::collections::HashMap;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::{Datelike, Duration, NaiveDate, Weekday};
use posada_domain::{OwnerBlockInput, availability};
use posada_store::blocks::BlockRow;
use posada_store::reservations::CalendarStay;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::render::{self, Shell};
use super::session::{NoFields, Owner, OwnerForm};
use crate::app::{self, AppError};
use crate::http::{Path, Problem, Query};
use crate::state::AppState;

/// This section's templates (name, source), registered by `render`.
pub const TEMPLATES: &[(&str, &str)] = &[
    (
        "calendar.html",
        include_str!("../../../templates/dashboard/calendar.html"),
    ),
    (
        "calendar_block_form.html",
        include_str!("../../../templates/dashboard/calendar_block_form.html"),
    ),
    (
        "calendar_block.html",
        include_str!("../../../templates/dashboard/calendar_block.html"),
    ),
];

/// This section's routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/dashboard/calendario", get(month_page))
        .route(
            "/dashboard/calendario/bloqueos/nuevo",
            get(block_form).post(create_block),
        )
        .route("/dashboard/calendario/bloqueos/{id}", get(block_page))
        .route(
            "/dashboard/calendario/bloqueos/{id}/quitar",
            post(delete_block),
        )
}

/// Month names, January first.
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

/// Weekday initials and names, Monday first (the month grid starts on Monday).
const WEEKDAYS: [(&str, &str); 7] = [
    ("lu", "lunes"),
    ("ma", "martes"),
    ("mi", "miércoles"),
    ("ju", "jueves"),
    ("vi", "viernes"),
    ("sá", "sábado"),
    ("do", "domingo"),
];

fn capitalized(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// "5 de enero".
fn day_label(d: NaiveDate) -> String {
    format!("{} de {}", d.day(), MONTHS[d.month0() as usize])
}

/// "05/01/2027".
fn short_date(d: NaiveDate) -> String {
    d.format("%d/%m/%Y").to_string()
}

/// The `?aviso=` keys this section redirects with, as the owner reads them.
fn notice(key: Option<&str>) -> Option<&'static str> {
    match key? {
        "bloqueo-creado" => Some("Bloqueo creado: esas noches ya no se pueden reservar."),
        "bloqueo-quitado" => Some("Bloqueo quitado: las noches quedaron libres."),
        _ => None,
    }
}

/// The first of the month `mes` names (`YYYY-MM`), when it reads as one.
fn parse_month(mes: Option<&str>) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(&format!("{}-01", mes?.trim()), "%Y-%m-%d").ok()
}

fn month_param(d: NaiveDate) -> String {
    d.format("%Y-%m").to_string()
}

/// The calendar's address for a month and unit.
fn calendar_href(month: NaiveDate, slug: Option<&str>) -> String {
    match slug {
        Some(slug) => format!(
            "/dashboard/calendario?mes={}&unidad={slug}",
            month_param(month)
        ),
        None => format!("/dashboard/calendario?mes={}", month_param(month)),
    }
}

/// The owner's short name for a channel, fit for a night's cell.
fn channel_short(label: &str) -> &'static str {
    match label {
        "airbnb" => "Airbnb",
        "booking" => "Booking",
        "vrbo" => "Vrbo",
        _ => "Externo",
    }
}

/// What takes a night: a stay or a block.
#[derive(Debug, Clone, Serialize)]
struct Item {
    /// A stable key (`r12`, `b7`): consecutive nights with the same items are drawn as one.
    key: String,
    /// `held`, `confirmed`, `owner` or `channel` (the CSS class, with the words below).
    kind: &'static str,
    /// The word in a night's cell ("Conf.", "Airbnb").
    short: String,
    /// What it is, in full ("Confirmada: ABCDE-12345, Ana Pérez, 05/01/2027 al 08/01/2027").
    long: String,
    /// Who or why, for the desktop row ("ABCDE-12345 Ana Pérez", "Pintura").
    title: String,
    /// Its page.
    href: String,
    /// Its first night and its departure.
    from: NaiveDate,
    until: NaiveDate,
}

impl Item {
    fn of_stay(s: &CalendarStay) -> Item {
        let (kind, short, word) = match s.state.as_str() {
            "pre_reserved" => ("held", "Prerres.", "Prerreserva"),
            "completed" => ("confirmed", "Conf.", "Completada"),
            _ => ("confirmed", "Conf.", "Confirmada"),
        };
        Item {
            key: format!("r{}", s.id),
            kind,
            short: short.into(),
            long: format!(
                "{word}: {}, {}, del {} al {}",
                s.code,
                s.guest_name,
                short_date(s.check_in),
                short_date(s.check_out)
            ),
            title: format!("{} {}", s.code, s.guest_name),
            href: format!("/dashboard/reservas/{}", s.code),
            from: s.check_in,
            until: s.check_out,
        }
    }

    fn of_block(b: &BlockRow, channels: &HashMap<i64, String>) -> Item {
        let href = format!("/dashboard/calendario/bloqueos/{}", b.id);
        let dates = format!(
            "del {} al {}",
            short_date(b.start_date),
            short_date(b.end_date)
        );
        match b.feed_id {
            Some(feed) => {
                let channel = channels.get(&feed).map(String::as_str).unwrap_or("other");
                let name = app::channels::channel_display(channel);
                Item {
                    key: format!("b{}", b.id),
                    kind: "channel",
                    short: channel_short(channel).into(),
                    long: format!("Ocupado en {name} (calendario importado), {dates}"),
                    title: format!("Ocupado en {name}"),
                    href,
                    from: b.start_date,
                    until: b.end_date,
                }
            }
            None => Item {
                key: format!("b{}", b.id),
                kind: "owner",
                short: "Bloq.".into(),
                long: format!("Bloqueado por vos: {}, {dates}", b.reason),
                title: format!("Bloqueo: {}", b.reason),
                href,
                from: b.start_date,
                until: b.end_date,
            },
        }
    }

    /// Which of several items on one night is drawn (the others are named in its label).
    fn rank(&self) -> u8 {
        match self.kind {
            "confirmed" => 0,
            "held" => 1,
            "channel" => 2,
            _ => 3,
        }
    }
}

/// One night of one unit.
#[derive(Debug, Clone, Serialize)]
struct Night {
    day: u32,
    /// `YYYY-MM-DD`.
    date: String,
    /// "5 de enero".
    label: String,
    /// Before today (a free past night offers no block).
    past: bool,
    /// What takes it, the drawn one first; empty when free.
    items: Vec<Item>,
    /// Two or more things on one night (a channel block over a stay): a conflict.
    conflict: bool,
    /// For a free night from today on: the block form with this night first.
    block_href: Option<String>,
}

/// Consecutive nights of a unit drawn as one cell of the desktop row.
#[derive(Debug, Serialize)]
struct Run {
    span: usize,
    night: Night,
    /// The nights' range, "5 al 7 de enero".
    label: String,
}

#[derive(Debug, Serialize)]
struct UnitRow {
    name: String,
    slug: String,
    href: String,
    runs: Vec<Run>,
}

fn nights_of(slug: &str, days: &[NaiveDate], items: &[Item], today: NaiveDate) -> Vec<Night> {
    days.iter()
        .map(|&d| {
            let mut on: Vec<Item> = items
                .iter()
                .filter(|i| i.from <= d && d < i.until)
                .cloned()
                .collect();
            on.sort_by_key(Item::rank);
            let past = d < today;
            let block_href = (on.is_empty() && !past)
                .then(|| format!("/dashboard/calendario/bloqueos/nuevo?unidad={slug}&desde={d}"));
            Night {
                day: d.day(),
                date: d.to_string(),
                label: day_label(d),
                past,
                conflict: on.len() > 1,
                items: on,
                block_href,
            }
        })
        .collect()
}

/// Group consecutive nights taken by the same things (free nights stay one per cell, each a
/// link of its own).
fn runs_of(nights: Vec<Night>) -> Vec<Run> {
    let mut runs: Vec<Run> = Vec::new();
    for night in nights {
        let keys: Vec<&str> = night.items.iter().map(|i| i.key.as_str()).collect();
        if let Some(last) = runs.last_mut() {
            let last_keys: Vec<&str> = last.night.items.iter().map(|i| i.key.as_str()).collect();
            if !keys.is_empty() && keys == last_keys {
                last.span += 1;
                last.label = format!("{} al {}", last.night.day, night.label);
                continue;
            }
        }
        runs.push(Run {
            span: 1,
            label: night.label.clone(),
            night,
        });
    }
    runs
}

#[derive(Debug, Default, Deserialize)]
struct MonthQuery {
    mes: Option<String>,
    unidad: Option<String>,
    aviso: Option<String>,
}

/// `GET /dashboard/calendario?mes=YYYY-MM&unidad=slug`
async fn month_page(
    State(state): State<AppState>,
    owner: Owner,
    Query(q): Query<MonthQuery>,
) -> Result<Response, Problem> {
    let today = state.today();
    let this_month = today.with_day(1).unwrap_or(today);
    let asked = parse_month(q.mes.as_deref());
    let month = asked.unwrap_or(this_month);
    let (from, until) = availability::month_bounds(month.year(), month.month())
        .ok_or_else(|| Problem::internal("month bounds"))?;
    let days: Vec<NaiveDate> = from.iter_days().take_while(|d| *d < until).collect();
    let db = state.db();
    let units = posada_store::accommodations::list(db, true)
        .await
        .map_err(Problem::from)?;
    let stays = posada_store::reservations::calendar_stays(db, from, until)
        .await
        .map_err(Problem::from)?;
    let blocks = posada_store::blocks::in_range(db, from, until)
        .await
        .map_err(Problem::from)?;
    let channels: HashMap<i64, String> = posada_store::feeds::list(db, None)
        .await
        .map_err(Problem::from)?
        .into_iter()
        .map(|f| (f.id, f.channel))
        .collect();
    let mut items: HashMap<i64, Vec<Item>> = HashMap::new();
    for s in &stays {
        items
            .entry(s.accommodation_id)
            .or_default()
            .push(Item::of_stay(s));
    }
    for b in &blocks {
        items
            .entry(b.accommodation_id)
            .or_default()
            .push(Item::of_block(b, &channels));
    }
    let chosen = q
        .unidad
        .as_deref()
        .and_then(|slug| units.iter().find(|u| u.accommodation.slug == slug))
        .or(units.first());

    let rows: Vec<UnitRow> = units
        .iter()
        .map(|u| {
            let mine = items
                .get(&u.accommodation.id)
                .map(Vec::as_slice)
                .unwrap_or(&[]);
            UnitRow {
                name: u.accommodation.name.clone(),
                slug: u.accommodation.slug.clone(),
                href: calendar_href(month, Some(&u.accommodation.slug)),
                runs: runs_of(nights_of(&u.accommodation.slug, &days, mine, today)),
            }
        })
        .collect();

    // The phone's month of the chosen unit: Monday-first weeks, blanks before the 1st.
    let phone = chosen.map(|u| {
        let mine = items
            .get(&u.accommodation.id)
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        let lead = from.weekday().num_days_from_monday() as usize;
        let mut cells: Vec<Option<Night>> = vec![None; lead];
        cells.extend(
            nights_of(&u.accommodation.slug, &days, mine, today)
                .into_iter()
                .map(Some),
        );
        while !cells.len().is_multiple_of(7) {
            cells.push(None);
        }
        let weeks: Vec<Vec<Option<Night>>> = cells.chunks(7).map(<[_]>::to_vec).collect();
        let mut listed: Vec<&Item> = mine.iter().collect();
        listed.sort_by_key(|i| (i.from, i.rank()));
        json!({
            "name": u.accommodation.name,
            "slug": u.accommodation.slug,
            "weeks": weeks,
            "items": listed,
        })
    });
    let prev = (from - Duration::days(1)).with_day(1).unwrap_or(from);
    let chosen_slug = chosen.map(|u| u.accommodation.slug.as_str());
    let title = format!(
        "{} {}",
        capitalized(MONTHS[month.month0() as usize]),
        month.year()
    );
    let units_list: Vec<_> = units
        .iter()
        .map(|u| {
            json!({
                "slug": u.accommodation.slug,
                "name": u.accommodation.name,
                "chosen": Some(u.accommodation.slug.as_str()) == chosen_slug,
            })
        })
        .collect();
    let header: Vec<_> = days
        .iter()
        .map(|d| {
            let w = WEEKDAYS[d.weekday().num_days_from_monday() as usize];
            json!({
                "day": d.day(),
                "initial": w.0,
                "weekday": w.1,
                "weekend": matches!(d.weekday(), Weekday::Sat | Weekday::Sun),
                "today": *d == today,
            })
        })
        .collect();
    Ok(render::page(
        &owner,
        Shell {
            section: "calendario",
            title: "Calendario",
            notice: notice(q.aviso.as_deref()),
            live: &["calendar", "reservation"],
        },
        "calendar.html",
        json!({
            "month_title": title,
            "mes": month_param(month),
            "prev": calendar_href(prev, chosen_slug),
            "next": calendar_href(until, chosen_slug),
            "today_href": (month != this_month).then(|| calendar_href(this_month, chosen_slug)),
            "header": header,
            "rows": rows,
            "units": units_list,
            "phone": phone,
            "weekdays": WEEKDAYS.iter().map(|w| json!({"initial": w.0, "name": w.1})).collect::<Vec<_>>(),
            "bad_month": q.mes.is_some() && asked.is_none(),
        }),
    ))
}

/// The block form's fields, as typed (all text: a bad value is a message next to its field,
/// never a rejection of the whole form).
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
struct BlockFields {
    #[serde(default)]
    unidad: String,
    #[serde(default)]
    desde: String,
    #[serde(default)]
    hasta: String,
    #[serde(default)]
    motivo: String,
}

#[derive(Debug, Default, Deserialize)]
struct BlockFormQuery {
    unidad: Option<String>,
    desde: Option<String>,
}

async fn block_form_page(
    state: &AppState,
    owner: &Owner,
    status: StatusCode,
    fields: &BlockFields,
    errors: &HashMap<&'static str, String>,
) -> Result<Response, Problem> {
    let units = posada_store::accommodations::list(state.db(), true)
        .await
        .map_err(Problem::from)?;
    let units: Vec<_> = units
        .iter()
        .map(|u| json!({"slug": u.accommodation.slug, "name": u.accommodation.name}))
        .collect();
    let back = parse_date(&fields.desde)
        .ok()
        .and_then(|d| d.with_day(1))
        .map(|m| {
            calendar_href(
                m,
                Some(&fields.unidad)
                    .filter(|s| !s.is_empty())
                    .map(|s| s.as_str()),
            )
        })
        .unwrap_or_else(|| "/dashboard/calendario".into());
    Ok(render::page_with_status(
        status,
        owner,
        Shell {
            section: "calendario",
            title: "Bloquear noches",
            ..Shell::default()
        },
        "calendar_block_form.html",
        json!({ "fields": fields, "errors": errors, "units": units, "back": back }),
    ))
}

/// `GET /dashboard/calendario/bloqueos/nuevo?unidad=slug&desde=YYYY-MM-DD`: the block form, with
/// the tapped night as its first and the next morning as its end.
async fn block_form(
    State(state): State<AppState>,
    owner: Owner,
    Query(q): Query<BlockFormQuery>,
) -> Result<Response, Problem> {
    let start = q.desde.as_deref().and_then(|d| parse_date(d).ok());
    let fields = BlockFields {
        unidad: q.unidad.unwrap_or_default(),
        desde: start.map(|d| d.to_string()).unwrap_or_default(),
        hasta: start
            .map(|d| (d + Duration::days(1)).to_string())
            .unwrap_or_default(),
        motivo: String::new(),
    };
    block_form_page(&state, &owner, StatusCode::OK, &fields, &HashMap::new()).await
}

fn parse_date(s: &str) -> Result<NaiveDate, ()> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").map_err(|_| ())
}

/// `POST /dashboard/calendario/bloqueos/nuevo`: create the owner block (`app::blocks::create`),
/// or the form again (422) with each problem next to its field and everything typed kept.
async fn create_block(
    State(state): State<AppState>,
    OwnerForm { owner, form }: OwnerForm<BlockFields>,
) -> Result<Response, Problem> {
    let mut errors: HashMap<&'static str, String> = HashMap::new();
    let unit = match form.unidad.trim() {
        "" => None,
        slug => posada_store::accommodations::get_by_slug(state.db(), slug)
            .await
            .map_err(Problem::from)?,
    };
    if unit.is_none() {
        errors.insert("unidad", "Elegí el alojamiento.".into());
    }
    let date = |raw: &str, missing: &str| -> Result<NaiveDate, String> {
        if raw.trim().is_empty() {
            return Err(missing.to_string());
        }
        parse_date(raw).map_err(|_| "Esa fecha no es válida: elegila en el calendario.".into())
    };
    let from = date(&form.desde, "Elegí la primera noche bloqueada.");
    let until = date(&form.hasta, "Elegí el día en que vuelve a estar libre.");
    if let Err(e) = &from {
        errors.insert("desde", e.clone());
    }
    if let Err(e) = &until {
        errors.insert("hasta", e.clone());
    }
    if let (Ok(f), Ok(u)) = (&from, &until)
        && u <= f
    {
        errors.insert(
            "hasta",
            "«Hasta» tiene que ser posterior a «Desde»: es el día en que la unidad vuelve a estar libre."
                .into(),
        );
    }
    if form.motivo.trim().is_empty() {
        errors.insert(
            "motivo",
            "Escribí el motivo (por ejemplo: mantenimiento).".into(),
        );
    }
    let (Some(unit), Ok(from), Ok(until), true) = (unit, from, until, errors.is_empty()) else {
        return block_form_page(
            &state,
            &owner,
            StatusCode::UNPROCESSABLE_ENTITY,
            &form,
            &errors,
        )
        .await;
    };
    let input = OwnerBlockInput {
        check_in: from,
        check_out: until,
        reason: form.motivo.trim().to_string(),
    };
    match app::blocks::create(&state, unit.accommodation.id, &input).await {
        Ok(_) => {
            let month = from.with_day(1).unwrap_or(from);
            Ok(Redirect::to(&format!(
                "{}&aviso=bloqueo-creado",
                calendar_href(month, Some(&unit.accommodation.slug))
            ))
            .into_response())
        }
        Err(AppError::DatesTaken(_)) => {
            errors.insert(
                "desde",
                format!(
                    "Entre el {} y el {} hay noches ocupadas (una reserva u otro bloqueo). Elegí otras fechas.",
                    short_date(from),
                    short_date(until)
                ),
            );
            block_form_page(
                &state,
                &owner,
                StatusCode::UNPROCESSABLE_ENTITY,
                &form,
                &errors,
            )
            .await
        }
        Err(AppError::Invalid(fields)) => {
            for f in fields {
                let key = match f.field.as_str() {
                    "check_in" => "desde",
                    "check_out" => "hasta",
                    "accommodation_id" => "unidad",
                    _ => "motivo",
                };
                errors.insert(key, capitalized(&f.message));
            }
            block_form_page(
                &state,
                &owner,
                StatusCode::UNPROCESSABLE_ENTITY,
                &form,
                &errors,
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

/// `GET /dashboard/calendario/bloqueos/{id}`: one block, with "Quitar" for the owner's.
async fn block_page(
    State(state): State<AppState>,
    owner: Owner,
    Path(id): Path<i64>,
) -> Result<Response, Problem> {
    let db = state.db();
    let Some(block) = posada_store::blocks::get(db, id)
        .await
        .map_err(Problem::from)?
    else {
        return Ok(render::message(
            &owner,
            StatusCode::NOT_FOUND,
            "Ese bloqueo no existe (quizás ya se quitó).",
            "/dashboard/calendario",
        ));
    };
    let unit = posada_store::accommodations::get(db, block.accommodation_id)
        .await
        .map_err(Problem::from)?;
    let feed = match block.feed_id {
        Some(feed_id) => posada_store::feeds::get(db, feed_id)
            .await
            .map_err(Problem::from)?,
        None => None,
    };
    let channel = feed
        .as_ref()
        .map(|f| app::channels::channel_display(&f.channel));
    let month = block.start_date.with_day(1).unwrap_or(block.start_date);
    let back = calendar_href(month, unit.as_ref().map(|u| u.accommodation.slug.as_str()));
    Ok(render::page(
        &owner,
        Shell {
            section: "calendario",
            title: if block.feed_id.is_some() {
                "Noches ocupadas en un canal"
            } else {
                "Bloqueo"
            },
            ..Shell::default()
        },
        "calendar_block.html",
        json!({
            "block": {
                "id": block.id,
                "owner": block.source == "owner",
                "reason": block.reason,
                "from": short_date(block.start_date),
                "until": short_date(block.end_date),
                "last_night": short_date(block.end_date - Duration::days(1)),
                "nights": (block.end_date - block.start_date).num_days(),
            },
            "unit": unit.map(|u| u.accommodation.name),
            "channel": channel,
            "back": back,
        }),
    ))
}

/// `POST /dashboard/calendario/bloqueos/{id}/quitar`: delete an owner block
/// (`app::blocks::delete`); back to its month.
async fn delete_block(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    OwnerForm { owner, .. }: OwnerForm<NoFields>,
) -> Result<Response, Problem> {
    let found = posada_store::blocks::get(state.db(), id)
        .await
        .map_err(Problem::from)?;
    let slug = match &found {
        Some(b) => posada_store::accommodations::get(state.db(), b.accommodation_id)
            .await
            .map_err(Problem::from)?
            .map(|u| u.accommodation.slug),
        None => None,
    };
    match app::blocks::delete(&state, id).await {
        Ok(()) => {
            let start = found.map(|b| b.start_date).unwrap_or_else(|| state.today());
            let month = start.with_day(1).unwrap_or(start);
            Ok(Redirect::to(&format!(
                "{}&aviso=bloqueo-quitado",
                calendar_href(month, slug.as_deref())
            ))
            .into_response())
        }
        Err(AppError::NotFound(_)) => Ok(render::message(
            &owner,
            StatusCode::NOT_FOUND,
            "Ese bloqueo no existe o viene de un canal (se quita desde el canal, o quitando su calendario en Canales).",
            "/dashboard/calendario",
        )),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn consecutive_nights_of_one_stay_are_one_run_and_free_nights_stay_single() {
        let item = |key: &str, from: &str, until: &str| Item {
            key: key.into(),
            kind: "owner",
            short: "Bloq.".into(),
            long: String::new(),
            title: String::new(),
            href: String::new(),
            from: d(from),
            until: d(until),
        };
        let days: Vec<NaiveDate> = d("2027-01-01")
            .iter_days()
            .take_while(|x| *x < d("2027-01-08"))
            .collect();
        let items = vec![
            item("b1", "2026-12-30", "2027-01-03"),
            item("b2", "2027-01-05", "2027-01-07"),
        ];
        let runs = runs_of(nights_of("lago", &days, &items, d("2027-01-04")));
        let spans: Vec<usize> = runs.iter().map(|r| r.span).collect();
        assert_eq!(spans, [2, 1, 1, 2, 1]);
        assert_eq!(runs[0].label, "1 al 2 de enero");
        // A free night before today offers no block; from today on it does.
        assert!(runs[1].night.block_href.is_none());
        assert_eq!(
            runs[2].night.block_href.as_deref(),
            Some("/dashboard/calendario/bloqueos/nuevo?unidad=lago&desde=2027-01-04")
        );
    }
}
