//! Canales: the channel calendars we import (iCal feeds) and the addresses channels import ours
//! from.
//!
//! Per unit: each feed with its last sync, last error, events imported and open conflicts, with
//! "Sincronizar ahora", edit and remove; the add form; and our export address per channel. An
//! export address holds a secret stored only hashed, so it can be shown only when it is made:
//! "Crear" / "Generar una nueva" (`app::channels::rotate_export`) answers a page, not live and
//! never cached, that shows it once in a read-only field with a copy button; the old address
//! answers 404 from then on.
//!
//! Writes are the admin API's use cases (`app::channels::{add_feed, update_feed, delete_feed,
//! sync_now, rotate_export}`).

use std::collections::HashMap;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use posada_store::feeds::CHANNELS;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::render::{self, Shell};
use super::session::{NoFields, Owner, OwnerForm};
use crate::app::AppError;
use crate::app::channels::{self as use_cases, FeedIn, channel_display, valid_url};
use crate::http::{Path, Problem, Query};
use crate::state::AppState;

/// This section's templates (name, source), registered by `render`.
pub const TEMPLATES: &[(&str, &str)] = &[
    (
        "channels.html",
        include_str!("../../../templates/dashboard/channels.html"),
    ),
    (
        "channel_form.html",
        include_str!("../../../templates/dashboard/channel_form.html"),
    ),
    (
        "channel_remove.html",
        include_str!("../../../templates/dashboard/channel_remove.html"),
    ),
    (
        "channel_export.html",
        include_str!("../../../templates/dashboard/channel_export.html"),
    ),
];

/// The copy button of the export page (the CSP allows our own scripts only, never inline ones).
const JS: &str = include_str!("../../../templates/dashboard/channels.js");

/// This section's routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/dashboard/canales", get(page))
        .route("/dashboard/canales/nuevo", get(new_form).post(create))
        .route(
            "/dashboard/canales/{id}/editar",
            get(edit_form).post(update),
        )
        .route("/dashboard/canales/{id}/sincronizar", post(sync_now))
        .route(
            "/dashboard/canales/{id}/quitar",
            get(remove_page).post(remove),
        )
        .route(
            "/dashboard/canales/exportar/{unit}/{channel}",
            post(new_export_url),
        )
        .route("/static/channels.js", get(js))
}

/// `/static/channels.js`.
async fn js() -> Response {
    crate::http::html::asset("text/javascript; charset=utf-8", JS)
}

/// The `?aviso=` keys this section redirects with, as the owner reads them.
fn notice(key: Option<&str>) -> Option<&'static str> {
    match key? {
        "agregado" => Some("Calendario agregado. Tocá «Sincronizar ahora» para traer sus fechas."),
        "guardado" => Some("Cambios guardados."),
        "sincronizando" => {
            Some("Sincronización pedida: esta página se actualiza sola cuando termina.")
        }
        "quitado" => Some("Calendario quitado, con las noches que había bloqueado."),
        _ => None,
    }
}

/// What a feed's last error kind means, for the owner.
fn error_kind_es(kind: Option<&str>) -> &'static str {
    match kind {
        Some("timeout") => "El canal no respondió a tiempo",
        Some("connect") => "No se pudo conectar con el canal",
        Some("http_status") => "El canal respondió con un error",
        Some("too_large") => "El calendario es demasiado grande",
        Some("redirect") => "El canal redirigió demasiadas veces",
        Some("parse") => "La respuesta no es un calendario iCal",
        _ => "La sincronización falló",
    }
}

#[derive(Debug, Default, Deserialize)]
struct PageQuery {
    aviso: Option<String>,
}

/// `GET /dashboard/canales`
async fn page(
    State(state): State<AppState>,
    owner: Owner,
    Query(q): Query<PageQuery>,
) -> Result<Response, Problem> {
    let db = state.db();
    let tz = state.settings().tz();
    let local = |t: DateTime<Utc>| t.with_timezone(&tz).format("%d/%m/%Y %H:%M").to_string();
    let units = posada_store::accommodations::list(db, false)
        .await
        .map_err(Problem::from)?;
    let feeds = posada_store::feeds::list(db, None)
        .await
        .map_err(Problem::from)?;
    let mut conflicts: HashMap<i64, Vec<serde_json::Value>> = HashMap::new();
    for c in posada_store::feeds::open_conflicts(db)
        .await
        .map_err(Problem::from)?
    {
        let Some(feed_id) = c.feed_id else { continue };
        let state_label = c
            .reservation_state
            .parse::<posada_domain::ReservationState>()
            .map(|s| s.label_es().to_string())
            .unwrap_or_else(|_| c.reservation_state.clone());
        conflicts.entry(feed_id).or_default().push(json!({
            "code": c.reservation_code,
            "href": format!("/dashboard/reservas/{}", c.reservation_code),
            "state_label": state_label,
            "check_in": c.check_in.format("%d/%m/%Y").to_string(),
            "check_out": c.check_out.format("%d/%m/%Y").to_string(),
            "block_start": c.block_start.format("%d/%m/%Y").to_string(),
            "block_end": c.block_end.format("%d/%m/%Y").to_string(),
        }));
    }
    let mut sections = Vec::with_capacity(units.len());
    for u in &units {
        let id = u.accommodation.id;
        let tokens: HashMap<String, DateTime<Utc>> = posada_store::feeds::export_tokens(db, id)
            .await
            .map_err(Problem::from)?
            .into_iter()
            .map(|t| (t.channel, t.created_at))
            .collect();
        let unit_feeds: Vec<_> = feeds
            .iter()
            .filter(|f| f.accommodation_id == id)
            .map(|f| {
                json!({
                    "id": f.id,
                    "channel": channel_display(&f.channel),
                    "url": f.url,
                    "enabled": f.enabled,
                    "last_success": f.last_success_at.map(local),
                    "last_attempt": f.last_attempt_at.map(local),
                    "failing": f.consecutive_failures > 0,
                    "error_title": f.last_error.as_ref().map(|_| error_kind_es(f.last_error_kind.as_deref())),
                    "error": f.last_error,
                    "failures": f.consecutive_failures,
                    "events_seen": f.events_seen,
                    "blocks_held": f.blocks_held,
                    "warning": f.warning,
                    "conflicts": conflicts.remove(&f.id).unwrap_or_default(),
                })
            })
            .collect();
        let exports: Vec<_> = CHANNELS
            .iter()
            .map(|c| {
                json!({
                    "channel": c,
                    "name": channel_display(c),
                    "created": tokens.get(*c).map(|t| local(*t)),
                    "action": format!("/dashboard/canales/exportar/{id}/{c}"),
                })
            })
            .collect();
        sections.push(json!({
            "id": id,
            "name": u.accommodation.name,
            "active": u.accommodation.active,
            "feeds": unit_feeds,
            "exports": exports,
        }));
    }
    Ok(render::page(
        &owner,
        Shell {
            section: "canales",
            title: "Canales",
            notice: notice(q.aviso.as_deref()),
            live: &["feed", "calendar"],
        },
        "channels.html",
        json!({ "units": sections }),
    ))
}

/// The feed form's fields, as typed (all text: a bad value is a message next to its field).
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
struct FeedFields {
    #[serde(default)]
    unidad: String,
    #[serde(default)]
    canal: String,
    #[serde(default)]
    url: String,
    /// The checkbox: present when ticked.
    #[serde(default)]
    activo: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct NewQuery {
    unidad: Option<String>,
}

async fn form_page(
    state: &AppState,
    owner: &Owner,
    status: StatusCode,
    feed_id: Option<i64>,
    fields: &FeedFields,
    errors: &HashMap<&'static str, String>,
) -> Result<Response, Problem> {
    let units: Vec<_> = posada_store::accommodations::list(state.db(), false)
        .await
        .map_err(Problem::from)?
        .iter()
        .map(|u| json!({"id": u.accommodation.id.to_string(), "name": u.accommodation.name}))
        .collect();
    let channels: Vec<_> = CHANNELS
        .iter()
        .map(|c| json!({"value": c, "name": channel_display(c)}))
        .collect();
    let action = match feed_id {
        Some(id) => format!("/dashboard/canales/{id}/editar"),
        None => "/dashboard/canales/nuevo".into(),
    };
    Ok(render::page_with_status(
        status,
        owner,
        Shell {
            section: "canales",
            title: if feed_id.is_some() {
                "Editar calendario de un canal"
            } else {
                "Agregar calendario de un canal"
            },
            ..Shell::default()
        },
        "channel_form.html",
        json!({
            "action": action,
            "editing": feed_id.is_some(),
            "fields": fields,
            "errors": errors,
            "units": units,
            "channels": channels,
        }),
    ))
}

/// `GET /dashboard/canales/nuevo?unidad=ID`
async fn new_form(
    State(state): State<AppState>,
    owner: Owner,
    Query(q): Query<NewQuery>,
) -> Result<Response, Problem> {
    let fields = FeedFields {
        unidad: q.unidad.unwrap_or_default(),
        activo: Some("on".into()),
        ..FeedFields::default()
    };
    form_page(
        &state,
        &owner,
        StatusCode::OK,
        None,
        &fields,
        &HashMap::new(),
    )
    .await
}

/// `GET /dashboard/canales/{id}/editar`
async fn edit_form(
    State(state): State<AppState>,
    owner: Owner,
    Path(id): Path<i64>,
) -> Result<Response, Problem> {
    let Some(feed) = posada_store::feeds::get(state.db(), id)
        .await
        .map_err(Problem::from)?
    else {
        return Ok(gone(&owner));
    };
    let fields = FeedFields {
        unidad: feed.accommodation_id.to_string(),
        canal: feed.channel,
        url: feed.url,
        activo: feed.enabled.then(|| "on".into()),
    };
    form_page(
        &state,
        &owner,
        StatusCode::OK,
        Some(id),
        &fields,
        &HashMap::new(),
    )
    .await
}

fn gone(owner: &Owner) -> Response {
    render::message(
        owner,
        StatusCode::NOT_FOUND,
        "Ese calendario no existe (quizás ya se quitó).",
        "/dashboard/canales",
    )
}

/// Check the fields in Spanish, each next to its own; the use case's input when all are right.
fn checked(fields: &FeedFields) -> Result<FeedIn, HashMap<&'static str, String>> {
    let mut errors = HashMap::new();
    let unit = fields.unidad.trim().parse::<i64>().ok();
    if unit.is_none() {
        errors.insert("unidad", "Elegí el alojamiento.".to_string());
    }
    if !CHANNELS.contains(&fields.canal.as_str()) {
        errors.insert("canal", "Elegí el canal.".to_string());
    }
    let url = fields.url.trim();
    if url.is_empty() {
        errors.insert(
            "url",
            "Pegá la dirección del calendario (iCal) que te da el canal.".to_string(),
        );
    } else if !valid_url(url) {
        errors.insert(
            "url",
            "Esa dirección no sirve: tiene que empezar con https:// (o http://) y ser la del calendario iCal del canal.".to_string(),
        );
    }
    match unit {
        Some(accommodation_id) if errors.is_empty() => Ok(FeedIn {
            accommodation_id,
            channel: fields.canal.clone(),
            url: url.to_string(),
            enabled: fields.activo.is_some(),
        }),
        _ => Err(errors),
    }
}

/// The use case's refusals as messages next to the fields; other errors pass through.
fn field_errors(e: AppError) -> Result<HashMap<&'static str, String>, Problem> {
    let mut errors = HashMap::new();
    match e {
        AppError::Invalid(fields) => {
            for f in fields {
                let (key, message) = match f.field.as_str() {
                    "accommodation_id" => ("unidad", "Ese alojamiento no existe."),
                    "channel" => ("canal", "Elegí el canal."),
                    _ => ("url", "Revisá la dirección del calendario."),
                };
                errors.insert(key, message.to_string());
            }
        }
        AppError::Duplicate(_) => {
            errors.insert("url", "Ese calendario ya está agregado.".to_string());
        }
        other => return Err(other.into()),
    }
    Ok(errors)
}

/// `POST /dashboard/canales/nuevo`: add a feed (`app::channels::add_feed`).
async fn create(
    State(state): State<AppState>,
    OwnerForm { owner, form }: OwnerForm<FeedFields>,
) -> Result<Response, Problem> {
    let errors = match checked(&form) {
        Ok(input) => match use_cases::add_feed(&state, &input).await {
            Ok(_) => return Ok(Redirect::to("/dashboard/canales?aviso=agregado").into_response()),
            Err(e) => field_errors(e)?,
        },
        Err(errors) => errors,
    };
    form_page(
        &state,
        &owner,
        StatusCode::UNPROCESSABLE_ENTITY,
        None,
        &form,
        &errors,
    )
    .await
}

/// `POST /dashboard/canales/{id}/editar`: change a feed (`app::channels::update_feed`).
async fn update(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    OwnerForm { owner, form }: OwnerForm<FeedFields>,
) -> Result<Response, Problem> {
    let errors = match checked(&form) {
        Ok(input) => match use_cases::update_feed(&state, id, &input).await {
            Ok(_) => return Ok(Redirect::to("/dashboard/canales?aviso=guardado").into_response()),
            Err(AppError::NotFound(_)) => return Ok(gone(&owner)),
            Err(e) => field_errors(e)?,
        },
        Err(errors) => errors,
    };
    form_page(
        &state,
        &owner,
        StatusCode::UNPROCESSABLE_ENTITY,
        Some(id),
        &form,
        &errors,
    )
    .await
}

/// `POST /dashboard/canales/{id}/sincronizar`: "Sincronizar ahora" (`app::channels::sync_now`);
/// the page refreshes itself when the sync is done.
async fn sync_now(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    OwnerForm { owner, .. }: OwnerForm<NoFields>,
) -> Result<Response, Problem> {
    match use_cases::sync_now(&state, id).await {
        Ok(_) => Ok(Redirect::to("/dashboard/canales?aviso=sincronizando").into_response()),
        Err(AppError::NotFound(_)) => Ok(gone(&owner)),
        Err(AppError::Conflict { .. }) => Ok(render::message(
            &owner,
            StatusCode::CONFLICT,
            "Ese calendario está pausado: editalo y marcá «Sincronizar automáticamente» para volver a traer sus fechas.",
            "/dashboard/canales",
        )),
        Err(e) => Err(e.into()),
    }
}

/// `GET /dashboard/canales/{id}/quitar`: what removing the feed frees, and the button that does
/// it (a mistaken tap on the list removes nothing).
async fn remove_page(
    State(state): State<AppState>,
    owner: Owner,
    Path(id): Path<i64>,
) -> Result<Response, Problem> {
    let Some(feed) = posada_store::feeds::get(state.db(), id)
        .await
        .map_err(Problem::from)?
    else {
        return Ok(gone(&owner));
    };
    let unit = posada_store::accommodations::get(state.db(), feed.accommodation_id)
        .await
        .map_err(Problem::from)?
        .map(|u| u.accommodation.name);
    Ok(render::page(
        &owner,
        Shell {
            section: "canales",
            title: "Quitar calendario",
            ..Shell::default()
        },
        "channel_remove.html",
        json!({
            "id": feed.id,
            "channel": channel_display(&feed.channel),
            "unit": unit,
            "url": feed.url,
            "blocks": feed.blocks_held,
        }),
    ))
}

/// `POST /dashboard/canales/{id}/quitar`: remove a feed and the nights it blocked
/// (`app::channels::delete_feed`).
async fn remove(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    OwnerForm { owner, .. }: OwnerForm<NoFields>,
) -> Result<Response, Problem> {
    match use_cases::delete_feed(&state, id).await {
        Ok(()) => Ok(Redirect::to("/dashboard/canales?aviso=quitado").into_response()),
        Err(AppError::NotFound(_)) => Ok(gone(&owner)),
        Err(e) => Err(e.into()),
    }
}

/// `POST /dashboard/canales/exportar/{unit}/{channel}`: a new export address for one channel
/// (`app::channels::rotate_export`), shown on this answer only; the previous one stops working.
async fn new_export_url(
    State(state): State<AppState>,
    Path((unit, channel)): Path<(i64, String)>,
    OwnerForm { owner, .. }: OwnerForm<NoFields>,
) -> Result<Response, Problem> {
    let existed = posada_store::feeds::export_tokens(state.db(), unit)
        .await
        .map_err(Problem::from)?
        .iter()
        .any(|t| t.channel == channel);
    let link = match use_cases::rotate_export(&state, unit, &channel).await {
        Ok(link) => link,
        Err(AppError::NotFound(_)) => {
            return Ok(render::message(
                &owner,
                StatusCode::NOT_FOUND,
                "Ese alojamiento o ese canal no existe.",
                "/dashboard/canales",
            ));
        }
        Err(e) => return Err(e.into()),
    };
    let name = posada_store::accommodations::get(state.db(), unit)
        .await
        .map_err(Problem::from)?
        .map(|u| u.accommodation.name);
    let url = link.token.as_ref().map(|token| {
        format!(
            "{}/ical/{token}.ics",
            state.settings().posada_public_url.trim_end_matches('/')
        )
    });
    Ok(render::page(
        &owner,
        Shell {
            section: "canales",
            title: "Dirección de exportación",
            ..Shell::default()
        },
        "channel_export.html",
        json!({
            "unit": name,
            "channel": channel_display(&link.channel),
            "channel_key": link.channel,
            "url": url,
            "replaced": existed,
        }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_feed_form_names_each_wrong_field_in_spanish() {
        let errors = checked(&FeedFields {
            unidad: String::new(),
            canal: "expedia".into(),
            url: "ftp://x".into(),
            activo: None,
        })
        .unwrap_err();
        assert_eq!(errors["unidad"], "Elegí el alojamiento.");
        assert_eq!(errors["canal"], "Elegí el canal.");
        assert!(errors["url"].starts_with("Esa dirección no sirve"));
        let ok = checked(&FeedFields {
            unidad: "3".into(),
            canal: "airbnb".into(),
            url: " https://www.airbnb.com/calendar/ical/1.ics ".into(),
            activo: Some("on".into()),
        })
        .unwrap();
        assert_eq!(ok.accommodation_id, 3);
        assert_eq!(ok.url, "https://www.airbnb.com/calendar/ical/1.ics");
        assert!(ok.enabled);
    }
}
