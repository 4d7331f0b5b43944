//! Reservas: the reservation list (filters in the query string, the text search by POST so that
//! guest data never lands in a URL, pages, CSV export) and a reservation's detail (stay, guest,
//! amounts, history, payments, every message and its delivery) with its actions.
//!
//! The actions call the same use cases as the admin API (`app::booking::{confirm, cancel,
//! mark_no_show}`, `app::outbox::resend`); the CSV is the admin API's own export
//! (`http::admin::reservations_csv`). A refused action answers a page with a Spanish message
//! (409 for a move the reservation's state does not allow, 422 for a bad field).

use std::collections::HashMap;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::{DateTime, NaiveDate, Utc};
use posada_domain::{Actor, ReservationEvent, ReservationState, transition};
use posada_store::reservations::{self, ListFilter, Reservation};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::render::{self, Shell};
use super::session::{Owner, OwnerForm};
use crate::app::{self, AppError};
use crate::http::admin::{CSV_MAX_ROWS, reservations_csv};
use crate::http::{Path, Problem, Query};
use crate::state::AppState;

/// This section's templates (name, source), registered by `render`.
pub const TEMPLATES: &[(&str, &str)] = &[
    (
        "reservations.html",
        include_str!("../../../templates/dashboard/reservations.html"),
    ),
    (
        "reservation.html",
        include_str!("../../../templates/dashboard/reservation.html"),
    ),
];

/// This section's routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/dashboard/reservas", get(list).post(search))
        .route("/dashboard/reservas.csv", get(csv).post(csv_search))
        .route("/dashboard/reservas/{code}", get(detail))
        .route("/dashboard/reservas/{code}/confirmar", post(confirm))
        .route("/dashboard/reservas/{code}/cancelar", post(cancel))
        .route("/dashboard/reservas/{code}/no-show", post(no_show))
        .route(
            "/dashboard/reservas/{code}/mensajes/{id}/reenviar",
            post(resend),
        )
}

/// Reservations per page of the list.
pub const PAGE_SIZE: i64 = 25;
/// The longest search text.
const MAX_SEARCH_CHARS: usize = 100;
/// The longest cancellation reason (as the admin API).
const MAX_REASON_CHARS: usize = 500;

/// The list's filters as the form sends them (every field optional; empty means "any").
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct Filters {
    estado: Option<String>,
    alojamiento: Option<String>,
    desde: Option<String>,
    hasta: Option<String>,
    canal: Option<String>,
    pagina: Option<String>,
}

fn given(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// One field at fault, named as the page labels it.
#[derive(Debug, Serialize)]
struct FieldProblem {
    field: &'static str,
    message: String,
}

/// The filters as a store query (page `pagina`), or what is wrong with them.
fn parse(f: &Filters, q: Option<&str>) -> Result<ListFilter, Vec<FieldProblem>> {
    let mut problems = Vec::new();
    let mut bad = |field: &'static str, message: &str| {
        problems.push(FieldProblem {
            field,
            message: message.to_string(),
        })
    };
    let state = given(&f.estado).and_then(|s| match ReservationState::parse(s) {
        Ok(st) => Some(st),
        Err(_) => {
            bad("Estado", "elegí un estado de la lista.");
            None
        }
    });
    let accommodation_id = given(&f.alojamiento).and_then(|s| match s.parse::<i64>() {
        Ok(id) => Some(id),
        Err(_) => {
            bad("Alojamiento", "elegí un alojamiento de la lista.");
            None
        }
    });
    let mut date = |v: &Option<String>, field: &'static str| {
        given(v).and_then(|s| match NaiveDate::parse_from_str(s, "%Y-%m-%d") {
            Ok(d) => Some(d),
            Err(_) => {
                bad(field, "la fecha no es válida (día/mes/año).");
                None
            }
        })
    };
    let from = date(&f.desde, "Desde");
    let until = date(&f.hasta, "Hasta");
    if let (Some(a), Some(b)) = (from, until)
        && b <= a
    {
        bad("Hasta", "tiene que ser posterior a «Desde».");
    }
    let page = match given(&f.pagina).map(str::parse::<i64>) {
        None => 1,
        Some(Ok(p)) if (1..=100_000).contains(&p) => p,
        Some(_) => {
            bad("Página", "no es un número de página válido.");
            1
        }
    };
    let q = q.map(str::trim).filter(|s| !s.is_empty());
    if let Some(q) = q {
        if q.chars().count() > MAX_SEARCH_CHARS {
            bad("Buscar", "puede tener 100 caracteres como máximo.");
        }
        if q.contains('\0') {
            bad("Buscar", "tiene un carácter no válido.");
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(ListFilter {
        state,
        accommodation_id,
        from,
        until,
        q: q.map(str::to_string),
        channel: given(&f.canal).map(str::to_string),
        limit: PAGE_SIZE,
        offset: (page - 1) * PAGE_SIZE,
    })
}

/// A channel as the owner reads it.
pub fn channel_label(channel: &str) -> String {
    match channel {
        "api" => "API".into(),
        "web" => "Web".into(),
        "whatsapp" => "WhatsApp".into(),
        "admin" => "Dueño".into(),
        other => other.to_string(),
    }
}

/// `2 h 10 min`, `25 min`, `1 d 3 h`: how long until `at`, as the Hoy page and a hold's detail
/// show it ("vence en …"); `None` once it has passed.
pub fn time_left(now: DateTime<Utc>, at: DateTime<Utc>) -> Option<String> {
    let secs = (at - now).num_seconds();
    if secs <= 0 {
        return None;
    }
    let minutes = secs / 60;
    let (d, h, m) = (minutes / 1440, (minutes % 1440) / 60, minutes % 60);
    Some(match (d, h, m) {
        (0, 0, 0) => "menos de un minuto".to_string(),
        (0, 0, m) => format!("{m} min"),
        (0, h, 0) => format!("{h} h"),
        (0, h, m) => format!("{h} h {m} min"),
        (d, 0, _) => format!("{d} d"),
        (d, h, _) => format!("{d} d {h} h"),
    })
}

/// A local date and time as the owner reads it.
fn local(state: &AppState, t: DateTime<Utc>) -> String {
    t.with_timezone(&state.settings().tz())
        .format("%d/%m/%Y %H:%M")
        .to_string()
}

/// A reservation as listed.
#[derive(Serialize)]
struct Row {
    code: String,
    accommodation: String,
    guest_name: String,
    check_in: String,
    check_out: String,
    nights: u32,
    channel: String,
    state: &'static str,
    state_label: &'static str,
}

/// The list page for `filters` (and the search text `q`, from a POST).
async fn list_page(
    state: &AppState,
    owner: &Owner,
    filters: Filters,
    q: Option<String>,
) -> Result<Response, Problem> {
    let accommodations = posada_store::accommodations::list(state.db(), false).await?;
    let names: HashMap<i64, String> = accommodations
        .iter()
        .map(|a| (a.accommodation.id, a.accommodation.name.clone()))
        .collect();
    let units: Vec<_> = accommodations
        .iter()
        .map(|a| json!({ "id": a.accommodation.id.to_string(), "name": a.accommodation.name }))
        .collect();
    let channels: Vec<_> = reservations::channels(state.db())
        .await?
        .into_iter()
        .map(|c| json!({ "value": c, "label": channel_label(&c) }))
        .collect();
    let states: Vec<_> = ReservationState::ALL
        .iter()
        .map(|s| json!({ "value": s.as_str(), "label": s.label_es() }))
        .collect();
    let searching = q.as_deref().is_some_and(|q| !q.trim().is_empty());
    let (rows, total, page, problems, status) = match parse(&filters, q.as_deref()) {
        Ok(f) => {
            let (items, total) = reservations::list(state.db(), &f).await?;
            let rows: Vec<Row> = items
                .iter()
                .map(|r| Row {
                    code: r.code.clone(),
                    accommodation: names
                        .get(&r.accommodation_id)
                        .cloned()
                        .unwrap_or_else(|| format!("#{}", r.accommodation_id)),
                    guest_name: r.guest_name.clone(),
                    check_in: r.stay.check_in().to_string(),
                    check_out: r.stay.check_out().to_string(),
                    nights: r.stay.nights(),
                    channel: channel_label(&r.channel),
                    state: r.state.as_str(),
                    state_label: r.state.label_es(),
                })
                .collect();
            (
                rows,
                total,
                f.offset / PAGE_SIZE + 1,
                vec![],
                StatusCode::OK,
            )
        }
        Err(problems) => (vec![], 0, 1, problems, StatusCode::UNPROCESSABLE_ENTITY),
    };
    let pages = ((total + PAGE_SIZE - 1) / PAGE_SIZE).max(1);
    // The filters again, for the pages' links and the search form's hidden fields (never the
    // search text: that only travels in POST bodies).
    let mut kept: Vec<(&str, String)> = Vec::new();
    for (key, value) in [
        ("estado", &filters.estado),
        ("alojamiento", &filters.alojamiento),
        ("desde", &filters.desde),
        ("hasta", &filters.hasta),
        ("canal", &filters.canal),
    ] {
        if let Some(v) = given(value) {
            kept.push((key, v.to_string()));
        }
    }
    let query = serde_urlencoded::to_string(&kept).unwrap_or_default();
    let with_page = |p: i64| {
        let mut q = kept.clone();
        q.push(("pagina", p.to_string()));
        format!(
            "/dashboard/reservas?{}",
            serde_urlencoded::to_string(&q).unwrap_or_default()
        )
    };
    let hidden: Vec<_> = kept
        .iter()
        .map(|(k, v)| json!({ "name": k, "value": v }))
        .collect();
    let ctx = json!({
        "rows": rows,
        "total": total,
        "page": page,
        "pages": pages,
        "prev": (page > 1).then(|| page - 1),
        "next": (page < pages).then(|| page + 1),
        "prev_href": with_page(page - 1),
        "next_href": with_page(page + 1),
        "list_href": if query.is_empty() { "/dashboard/reservas".to_string() } else { format!("/dashboard/reservas?{query}") },
        "csv_href": if query.is_empty() { "/dashboard/reservas.csv".to_string() } else { format!("/dashboard/reservas.csv?{query}") },
        "hidden": hidden,
        "searching": searching,
        "q": q.unwrap_or_default(),
        "f": {
            "estado": given(&filters.estado),
            "alojamiento": given(&filters.alojamiento),
            "desde": given(&filters.desde),
            "hasta": given(&filters.hasta),
            "canal": given(&filters.canal),
        },
        "filtered": !kept.is_empty(),
        "units": units,
        "channels": channels,
        "states": states,
        "problems": problems,
    });
    Ok(render::page_with_status(
        status,
        owner,
        Shell {
            section: "reservas",
            title: "Reservas",
            // A search result is a POST answer: refreshing it by GET would drop the search; a
            // page of refused filters has nothing to refresh.
            live: if searching || status != StatusCode::OK {
                &[]
            } else {
                &["reservation"]
            },
            ..Shell::default()
        },
        "reservations.html",
        ctx,
    ))
}

/// `GET /dashboard/reservas?estado=&alojamiento=&desde=&hasta=&canal=&pagina=`
async fn list(
    State(state): State<AppState>,
    owner: Owner,
    Query(filters): Query<Filters>,
) -> Result<Response, Problem> {
    list_page(&state, &owner, filters, None).await
}

/// The search form: the text, and the filters it keeps.
#[derive(Debug, Default, Deserialize)]
pub struct SearchForm {
    #[serde(default)]
    q: Option<String>,
    #[serde(flatten)]
    filters: Filters,
}

/// `POST /dashboard/reservas`: the list searched by code, name, e-mail or phone.
async fn search(
    State(state): State<AppState>,
    OwnerForm { owner, form }: OwnerForm<SearchForm>,
) -> Result<Response, Problem> {
    list_page(&state, &owner, form.filters, form.q).await
}

/// The CSV of `filters` and `q`: the admin API's export, or the list page with what is wrong.
async fn csv_of(
    state: &AppState,
    owner: &Owner,
    filters: Filters,
    q: Option<String>,
) -> Result<Response, Problem> {
    match parse(&filters, q.as_deref()) {
        Ok(mut f) => {
            f.limit = CSV_MAX_ROWS;
            reservations_csv(state, f).await
        }
        Err(_) => list_page(state, owner, filters, q).await,
    }
}

/// `GET /dashboard/reservas.csv?…`: the filtered list as CSV (the admin API's export).
async fn csv(
    State(state): State<AppState>,
    owner: Owner,
    Query(filters): Query<Filters>,
) -> Result<Response, Problem> {
    csv_of(&state, &owner, filters, None).await
}

/// `POST /dashboard/reservas.csv`: the searched list as CSV.
async fn csv_search(
    State(state): State<AppState>,
    OwnerForm { owner, form }: OwnerForm<SearchForm>,
) -> Result<Response, Problem> {
    csv_of(&state, &owner, form.filters, form.q).await
}

/// The notice after a redirect (`?aviso=`): a fixed key, never guest data.
#[derive(Debug, Default, Deserialize)]
pub struct Notice {
    #[serde(default)]
    pub aviso: Option<String>,
}

/// The text of a notice key.
pub fn notice_text(key: Option<&str>) -> Option<&'static str> {
    match key? {
        "confirmada" => Some("Reserva confirmada: le avisamos al huésped."),
        "cancelada" => {
            Some("Reserva cancelada: las noches quedaron libres y le avisamos al huésped.")
        }
        "no-show" => Some("Reserva marcada como «no se presentó»."),
        "reenviado" => Some("Mensaje reenviado: sale en instantes."),
        _ => None,
    }
}

fn template_label(template: &str) -> &str {
    match template {
        "hold_created" => "Prerreserva creada",
        "hold_payment_link" => "Link de pago",
        "hold_reminder" => "Recordatorio de la prerreserva",
        "hold_expired" => "Prerreserva vencida",
        "stay_confirmed" => "Reserva confirmada",
        "payment_pending" => "Pago pendiente",
        "payment_rejected" => "Pago rechazado",
        "reservation_cancelled" => "Reserva cancelada",
        "checkin_reminder" => "Recordatorio de llegada",
        "thanks_after_checkout" => "Agradecimiento después de la salida",
        "assistant_reply" => "Respuesta del asistente",
        "owner_new_reservation" => "Aviso al dueño: nueva reserva",
        "owner_stay_confirmed" => "Aviso al dueño: reserva confirmada",
        "owner_reservation_cancelled" => "Aviso al dueño: reserva cancelada",
        "owner_payment_received" => "Aviso al dueño: pago recibido",
        "owner_refund_alert" => "Aviso al dueño: reintegro",
        "owner_payment_problem" => "Aviso al dueño: problema con un pago",
        "owner_conflict_alert" => "Aviso al dueño: conflicto de calendario",
        other => other,
    }
}

fn delivery_label(status: &str) -> &str {
    match status {
        "queued" => "en cola",
        "sent" => "enviado",
        "delivered" => "entregado",
        "read" => "leído",
        "failed" => "falló",
        "not_configured" => "no enviado (canal sin configurar)",
        other => other,
    }
}

fn actor_label(actor: &str) -> &str {
    match actor {
        "guest" => "huésped",
        "admin" => "dueño",
        "system" => "sistema",
        "payment" => "pago",
        other => other,
    }
}

fn state_label(state: &str) -> String {
    ReservationState::parse(state)
        .map(|s| s.label_es().to_string())
        .unwrap_or_else(|_| state.to_string())
}

fn payment_label(status: &str) -> &str {
    match status {
        "approved" => "aprobado",
        "pending" | "in_process" | "authorized" => "pendiente",
        "rejected" => "rechazado",
        "cancelled" => "cancelado",
        "refunded" => "reintegrado",
        "charged_back" => "contracargo",
        other => other,
    }
}

fn flag_label(flag: &str) -> &str {
    match flag {
        "needs_refund" => "necesita reintegro",
        "refunded" => "reintegrada",
        "chargeback" => "contracargo",
        other => other,
    }
}

async fn by_code(state: &AppState, code: &str) -> Result<Option<Reservation>, Problem> {
    Ok(reservations::get_by_code(state.db(), code.trim()).await?)
}

fn missing(owner: &Owner, code: &str) -> Response {
    render::message(
        owner,
        StatusCode::NOT_FOUND,
        &format!("No hay ninguna reserva con el código {code}."),
        "/dashboard/reservas",
    )
}

/// `GET /dashboard/reservas/{code}`
async fn detail(
    State(state): State<AppState>,
    owner: Owner,
    Path(code): Path<String>,
    Query(notice): Query<Notice>,
) -> Result<Response, Problem> {
    let Some(r) = by_code(&state, &code).await? else {
        return Ok(missing(&owner, &code));
    };
    let notice = notice_text(notice.aviso.as_deref());
    detail_page(&state, &owner, &r, notice, None).await
}

/// A cancellation form sent back: its reason as typed, and what is wrong with it.
struct CancelError<'a> {
    motivo: &'a str,
    error: &'a str,
}

/// Reservation `r`'s page; with `cancel`, answered 422 with the cancellation form as it was sent.
async fn detail_page(
    state: &AppState,
    owner: &Owner,
    r: &Reservation,
    notice: Option<&str>,
    cancel: Option<CancelError<'_>>,
) -> Result<Response, Problem> {
    let db = state.db();
    let acc = posada_store::accommodations::get(db, r.accommodation_id).await?;
    let history = reservations::history(db, r.id).await?;
    let payments = posada_store::payments::for_reservation(db, r.id).await?;
    let messages = posada_store::notifications::for_reservation(db, r.id).await?;
    let now = state.now();
    let can = |e| transition(r.state, e).is_ok();
    let ctx = json!({
        "r": {
            "code": r.code,
            "state": r.state.as_str(),
            "state_label": r.state.label_es(),
            "state_reason": r.state_reason,
            "accommodation": acc.map(|a| a.accommodation.name).unwrap_or_else(|| format!("#{}", r.accommodation_id)),
            "check_in": r.stay.check_in().to_string(),
            "check_out": r.stay.check_out().to_string(),
            "nights": r.stay.nights(),
            "guests": r.guests,
            "channel": channel_label(&r.channel),
            "created": local(state, r.created_at),
            "guest_name": r.guest_name,
            "guest_email": r.guest_email,
            "guest_phone": r.guest_phone,
            "total": r.total.format_es_ar(),
            "deposit": r.deposit.format_es_ar(),
            "balance": r.total.checked_sub(r.deposit).map(|b| b.format_es_ar()).ok(),
            "payment_link": r.payment_link,
            "expires_at": (r.state == ReservationState::PreReserved).then(|| r.expires_at.map(|t| local(state, t))).flatten(),
            "expires_in": (r.state == ReservationState::PreReserved).then(|| r.expires_at.and_then(|t| time_left(now, t))).flatten(),
            "flags": r.flags.iter().map(|f| flag_label(f)).collect::<Vec<_>>(),
            "notes": r.notes,
        },
        "can_confirm": can(ReservationEvent::Confirm),
        "can_cancel": can(ReservationEvent::Cancel),
        "can_no_show": can(ReservationEvent::MarkNoShow),
        "history": history.iter().map(|h| json!({
            "at": local(state, h.at),
            "from": h.from_state.as_deref().map(state_label),
            "to": state_label(&h.to_state),
            "actor": actor_label(&h.actor),
            "reason": h.reason,
        })).collect::<Vec<_>>(),
        "payments": payments.iter().map(|p| json!({
            "provider": if p.provider == "mercadopago" { "Mercado Pago" } else { p.provider.as_str() },
            "id": p.provider_payment_id,
            "status": p.status,
            "status_label": payment_label(&p.status),
            "amount": posada_domain::Currency::parse(&p.currency)
                .map(|c| posada_domain::Money::new(p.amount_minor, c).format_es_ar())
                .unwrap_or_else(|_| format!("{} {}", p.currency, p.amount_minor)),
            "at": local(state, p.updated_at),
        })).collect::<Vec<_>>(),
        "messages": messages.iter().map(|n| json!({
            "id": n.id,
            "what": template_label(&n.template),
            "to": if n.audience == "guest" { "huésped" } else { "dueño" },
            "channel": if n.channel == "email" { "e-mail" } else { "WhatsApp" },
            "recipient": n.recipient,
            "status": n.status,
            "status_label": delivery_label(&n.status),
            "attempts": n.attempts,
            "error": n.last_error,
            "at": local(state, n.created_at),
            // Queued: it goes out by itself; not configured: a copy would not go out either.
            "can_resend": n.status != "queued" && n.status != "not_configured",
        })).collect::<Vec<_>>(),
    });
    let mut ctx = ctx;
    let status = match &cancel {
        Some(c) => {
            ctx["cancel_motivo"] = json!(c.motivo);
            ctx["cancel_error"] = json!(c.error);
            StatusCode::UNPROCESSABLE_ENTITY
        }
        None => StatusCode::OK,
    };
    let title = format!("Reserva {}", r.code);
    Ok(render::page_with_status(
        status,
        owner,
        Shell {
            section: "reservas",
            title: &title,
            notice,
            // A form sent back with its error must not be replaced under the owner's eyes.
            live: if cancel.is_some() {
                &[]
            } else {
                &["reservation"]
            },
        },
        "reservation.html",
        ctx,
    ))
}

/// An action's form: the CSRF token, and where to go back (`hoy`: the Hoy page).
#[derive(Debug, Default, Deserialize)]
pub struct ActionForm {
    #[serde(default)]
    volver: Option<String>,
    #[serde(default)]
    motivo: Option<String>,
}

/// Where an action returns: the reservation, or Hoy when it was pressed there.
fn back_to(code: &str, volver: Option<&str>) -> String {
    match volver {
        Some("hoy") => "/dashboard".to_string(),
        _ => format!("/dashboard/reservas/{code}"),
    }
}

/// A use case's refusal as the owner reads it, or the problem for the rest.
fn refused(owner: &Owner, e: AppError, back: &str, code: &str) -> Result<Response, Problem> {
    let (status, text) = match e {
        AppError::HoldExpired => (
            StatusCode::CONFLICT,
            "La prerreserva venció antes de confirmarse y sus noches quedaron libres: no se puede confirmar. Si el huésped todavía quiere venir, que vuelva a reservar.".to_string(),
        ),
        AppError::IllegalTransition { state, event } => {
            let action = match event {
                "confirm" => "confirmar",
                "cancel" => "cancelar",
                "mark_no_show" => "marcar como «no se presentó»",
                other => other,
            };
            let now = match state {
                "no_show" => "está marcada como «no se presentó»".to_string(),
                other => format!("está {}", state_label(other)),
            };
            (
                StatusCode::CONFLICT,
                format!("No se puede {action} la reserva {code}: {now}."),
            )
        }
        AppError::DatesTaken(_) => (
            StatusCode::CONFLICT,
            "Esas noches ya están ocupadas por otra reserva o un bloqueo.".to_string(),
        ),
        AppError::NotFound(_) => (
            StatusCode::NOT_FOUND,
            format!("No hay ninguna reserva con el código {code}."),
        ),
        AppError::Conflict { kind: "message-queued", .. } => (
            StatusCode::CONFLICT,
            "Ese mensaje todavía está en cola: sale solo en instantes, no hace falta reenviarlo."
                .to_string(),
        ),
        other => return Err(other.into()),
    };
    Ok(render::message(owner, status, &text, back))
}

/// The reason field of a cancellation, or what is wrong with it.
fn reason(form: &ActionForm) -> Result<Option<String>, &'static str> {
    let reason = form
        .motivo
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty());
    if reason.is_some_and(|r| r.chars().count() > MAX_REASON_CHARS || r.contains('\0')) {
        return Err("puede tener 500 caracteres como máximo (y ningún carácter de control).");
    }
    Ok(reason.map(str::to_string))
}

/// Run one of the state moves on reservation `code` and answer the owner.
async fn act(
    state: &AppState,
    owner: Owner,
    code: String,
    form: ActionForm,
    event: ReservationEvent,
) -> Result<Response, Problem> {
    let back = back_to(&code, form.volver.as_deref());
    let Some(r) = by_code(state, &code).await? else {
        return Ok(missing(&owner, &code));
    };
    let reason = match reason(&form) {
        Ok(r) => r,
        Err(error) => {
            // The reservation's page again, with the reason as typed and what is wrong with it.
            let cancel = CancelError {
                motivo: form.motivo.as_deref().unwrap_or(""),
                error,
            };
            return detail_page(state, &owner, &r, None, Some(cancel)).await;
        }
    };
    let (result, notice) = match event {
        ReservationEvent::Confirm => (
            app::booking::confirm(state, r.id, Actor::Admin, reason.as_deref()).await,
            "confirmada",
        ),
        ReservationEvent::Cancel => (
            app::booking::cancel(state, r.id, Actor::Admin, reason.as_deref()).await,
            "cancelada",
        ),
        _ => (
            app::booking::mark_no_show(state, r.id, reason.as_deref()).await,
            "no-show",
        ),
    };
    match result {
        Ok(done) => {
            tracing::info!(reservation.code = %done.code, event = event.as_str(), "reservation changed from the dashboard");
            Ok(Redirect::to(&format!("{back}?aviso={notice}")).into_response())
        }
        Err(e) => refused(&owner, e, &back, &r.code),
    }
}

/// `POST /dashboard/reservas/{code}/confirmar`
async fn confirm(
    State(state): State<AppState>,
    Path(code): Path<String>,
    OwnerForm { owner, form }: OwnerForm<ActionForm>,
) -> Result<Response, Problem> {
    act(&state, owner, code, form, ReservationEvent::Confirm).await
}

/// `POST /dashboard/reservas/{code}/cancelar`
async fn cancel(
    State(state): State<AppState>,
    Path(code): Path<String>,
    OwnerForm { owner, form }: OwnerForm<ActionForm>,
) -> Result<Response, Problem> {
    act(&state, owner, code, form, ReservationEvent::Cancel).await
}

/// `POST /dashboard/reservas/{code}/no-show`
async fn no_show(
    State(state): State<AppState>,
    Path(code): Path<String>,
    OwnerForm { owner, form }: OwnerForm<ActionForm>,
) -> Result<Response, Problem> {
    act(&state, owner, code, form, ReservationEvent::MarkNoShow).await
}

/// `POST /dashboard/reservas/{code}/mensajes/{id}/reenviar`: send a message again.
async fn resend(
    State(state): State<AppState>,
    Path((code, id)): Path<(String, i64)>,
    OwnerForm { owner, .. }: OwnerForm<ActionForm>,
) -> Result<Response, Problem> {
    let back = back_to(&code, None);
    let Some(r) = by_code(&state, &code).await? else {
        return Ok(missing(&owner, &code));
    };
    match app::outbox::resend(&state, r.id, id).await {
        Ok(_) => Ok(Redirect::to(&format!("{back}?aviso=reenviado")).into_response()),
        Err(AppError::NotFound(_)) => Ok(render::message(
            &owner,
            StatusCode::NOT_FOUND,
            &format!("La reserva {} no tiene ese mensaje.", r.code),
            &back,
        )),
        Err(e) => refused(&owner, e, &back, &r.code),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_left_reads_as_hours_and_minutes() {
        let now = Utc::now();
        let at = |m: i64| now + chrono::Duration::minutes(m) + chrono::Duration::seconds(5);
        assert_eq!(time_left(now, at(130)).as_deref(), Some("2 h 10 min"));
        assert_eq!(time_left(now, at(25)).as_deref(), Some("25 min"));
        assert_eq!(time_left(now, at(60)).as_deref(), Some("1 h"));
        assert_eq!(time_left(now, at(0)).as_deref(), Some("menos de un minuto"));
        assert_eq!(time_left(now, at(27 * 60)).as_deref(), Some("1 d 3 h"));
        assert_eq!(time_left(now, now - chrono::Duration::minutes(1)), None);
    }

    #[test]
    fn filters_are_checked_with_spanish_messages() {
        let f = Filters {
            estado: Some("nope".into()),
            desde: Some("2026-13-01".into()),
            ..Filters::default()
        };
        let problems = parse(&f, None).unwrap_err();
        let fields: Vec<_> = problems.iter().map(|p| p.field).collect();
        assert_eq!(fields, ["Estado", "Desde"]);
        let ok = parse(
            &Filters {
                estado: Some("confirmed".into()),
                pagina: Some("3".into()),
                canal: Some(" ".into()),
                ..Filters::default()
            },
            Some("  ana "),
        )
        .unwrap();
        assert_eq!(ok.state, Some(ReservationState::Confirmed));
        assert_eq!(ok.offset, 2 * PAGE_SIZE);
        assert_eq!(ok.q.as_deref(), Some("ana"));
        assert_eq!(ok.channel, None);
    }
}
