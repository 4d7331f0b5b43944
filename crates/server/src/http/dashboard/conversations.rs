//! Conversaciones: guests' WhatsApp threads with their whole history (the guest, the assistant,
//! the owner and the automatic messages), taking a conversation over from the assistant and
//! giving it back, and the owner's answer inside WhatsApp's 24 h window.
//!
//! A conversation is keyed by the guest's phone, which is guest data and never goes into a URL:
//! pages and forms name it by its keyed reference ([`crate::app::guest_links::conversation_ref`]).

use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::render::{self, Shell};
use super::session::{NoFields, Owner, OwnerForm};
use crate::app::AppError;
use crate::app::guest_links;
use crate::http::security::mask_phone;
use crate::http::{Path, Problem};
use crate::state::AppState;

/// This section's templates (name, source), registered by `render`.
pub const TEMPLATES: &[(&str, &str)] = &[
    (
        "conversations.html",
        include_str!("../../../templates/dashboard/conversations.html"),
    ),
    (
        "conversation.html",
        include_str!("../../../templates/dashboard/conversation.html"),
    ),
];

/// This section's routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/dashboard/conversaciones", get(list))
        .route("/dashboard/conversaciones/{reference}", get(thread))
        .route(
            "/dashboard/conversaciones/{reference}/responder",
            post(reply),
        )
        .route(
            "/dashboard/conversaciones/{reference}/tomar",
            post(take_over),
        )
        .route(
            "/dashboard/conversaciones/{reference}/devolver",
            post(give_back),
        )
        .route(
            "/dashboard/conversaciones/{reference}/atendida",
            post(resolve),
        )
}

/// The reference of the conversation with `phone`, for links and forms.
pub async fn reference(state: &AppState, phone: &str) -> Result<String, Problem> {
    let key = guest_links::key(state).await?;
    Ok(guest_links::conversation_ref(key, phone))
}

/// The phone of the conversation `reference` names, if any.
async fn phone_of(state: &AppState, reference: &str) -> Result<Option<String>, Problem> {
    if reference.len() != 24 || !reference.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(None);
    }
    let key = guest_links::key(state).await?;
    let phones = posada_store::conversations::phones(state.db())
        .await
        .map_err(Problem::from)?;
    Ok(phones
        .into_iter()
        .find(|p| guest_links::conversation_ref(key, p) == reference))
}

fn when(state: &AppState, t: DateTime<Utc>) -> String {
    t.with_timezone(&state.settings().tz())
        .format("%d/%m %H:%M")
        .to_string()
}

/// One conversation in the list.
#[derive(Serialize)]
struct Row {
    reference: String,
    who: String,
    code: Option<String>,
    phone: String,
    waiting_since: Option<String>,
    handed_off: bool,
    last: Option<String>,
    last_at: Option<String>,
}

/// The list's filter.
#[derive(Deserialize)]
pub struct ListQuery {
    /// `esperando`: only those waiting for the owner.
    filtro: Option<String>,
    /// Page (from 1).
    pagina: Option<i64>,
}

const PER_PAGE: i64 = 50;

/// `GET /dashboard/conversaciones`
async fn list(
    State(state): State<AppState>,
    owner: Owner,
    Query(q): Query<ListQuery>,
) -> Result<Response, Problem> {
    let waiting_only = q.filtro.as_deref() == Some("esperando");
    let page = q.pagina.unwrap_or(1).clamp(1, 10_000);
    let (found, total) = posada_store::conversations::list(
        state.db(),
        &posada_store::conversations::ConversationFilter {
            awaiting: waiting_only.then_some(true),
            limit: PER_PAGE,
            offset: (page - 1) * PER_PAGE,
        },
    )
    .await
    .map_err(Problem::from)?;
    let key = guest_links::key(&state).await?;
    let now = state.now();
    let rows: Vec<Row> = found
        .into_iter()
        .map(|c| {
            let conv = &c.conversation;
            Row {
                reference: guest_links::conversation_ref(key, &conv.phone),
                who: c
                    .guest_name
                    .clone()
                    .unwrap_or_else(|| format!("+{}", conv.phone)),
                code: c.reservation_code.clone(),
                phone: format!("+{}", conv.phone),
                waiting_since: conv.awaiting_since.map(|t| when(&state, t)),
                handed_off: conv.handed_off_at.is_some()
                    && conv.state_expires_at.is_none_or(|t| t > now),
                last: c.last_message_body.clone(),
                last_at: c.last_message_at.map(|t| when(&state, t)),
            }
        })
        .collect();
    Ok(render::page(
        &owner,
        Shell {
            section: "conversaciones",
            title: "Conversaciones",
            live: &["conversation"],
            ..Shell::default()
        },
        "conversations.html",
        serde_json::json!({
            "rows": rows,
            "waiting_only": waiting_only,
            "page": page,
            "more": page * PER_PAGE < total,
            "total": total,
        }),
    ))
}

/// One line of a thread.
#[derive(Serialize)]
struct Line {
    /// `guest`, `assistant`, `owner` or `automatic`.
    who: &'static str,
    text: String,
    at: String,
    /// Delivery status (automatic messages), or what posada did with a guest's message.
    status: Option<String>,
    sort: (DateTime<Utc>, i64),
}

/// A notice after a redirect, by key (never free text in a URL).
#[derive(Deserialize)]
pub struct ThreadQuery {
    aviso: Option<String>,
}

fn notice(key: Option<&str>) -> Option<&'static str> {
    Some(match key? {
        "enviada" => "Respuesta enviada por WhatsApp.",
        "tomada" => {
            "Tomaste la conversación: el asistente no le responde hasta que se la devuelvas."
        }
        "devuelta" => "El asistente vuelve a responder esta conversación.",
        "atendida" => "Conversación marcada como atendida.",
        _ => return None,
    })
}

/// `GET /dashboard/conversaciones/{reference}`
async fn thread(
    State(state): State<AppState>,
    owner: Owner,
    Path(reference): Path<String>,
    Query(q): Query<ThreadQuery>,
) -> Result<Response, Problem> {
    let Some(phone) = phone_of(&state, &reference).await? else {
        return Ok(not_found(&owner));
    };
    render_thread(
        &state,
        &owner,
        &reference,
        &phone,
        notice(q.aviso.as_deref()),
        None,
    )
    .await
}

async fn render_thread(
    state: &AppState,
    owner: &Owner,
    reference: &str,
    phone: &str,
    notice: Option<&str>,
    error: Option<(StatusCode, &str, &str)>,
) -> Result<Response, Problem> {
    let db = state.db();
    let Some(summary) = posada_store::conversations::summary(db, phone)
        .await
        .map_err(Problem::from)?
    else {
        return Ok(not_found(owner));
    };
    let messages = posada_store::conversations::messages(db, phone, 200)
        .await
        .map_err(Problem::from)?;
    let automatic = posada_store::notifications::to_recipient(db, "whatsapp", phone, 200)
        .await
        .map_err(Problem::from)?;
    let mut lines: Vec<Line> = messages
        .into_iter()
        .map(|m| {
            let who = match (m.direction.as_str(), m.kind.as_str()) {
                ("in", _) => "guest",
                (_, "assistant") => "assistant",
                _ => "owner",
            };
            Line {
                who,
                text: m.body,
                at: when(state, m.at),
                status: m
                    .outcome
                    .as_deref()
                    .and_then(outcome_label)
                    .map(str::to_string),
                sort: (m.at, m.id),
            }
        })
        .collect();
    // The assistant's answers are already in the thread as its words; the other messages
    // written to this guest's WhatsApp are the automatic ones.
    lines.extend(
        automatic
            .into_iter()
            .filter(|n| n.template != "assistant_reply")
            .map(|n| Line {
                who: "automatic",
                text: render::message_label(&n.template),
                at: when(state, n.created_at),
                status: Some(render::delivery_label(&n.status)),
                sort: (n.created_at, n.id),
            }),
    );
    lines.sort_by_key(|l| l.sort);
    let conv = &summary.conversation;
    let now = state.now();
    let window_open = conv.window_open(now);
    let assistant_active = crate::app::assistant::active_for(state, phone).await?;
    let handed_off = conv.handed_off_at.is_some() && conv.state_expires_at.is_none_or(|t| t > now);
    let who = summary
        .guest_name
        .clone()
        .unwrap_or_else(|| format!("+{phone}"));
    let title = format!("Conversación con {who}");
    let (status, error_text, draft) = match error {
        Some((status, text, draft)) => (status, Some(text), draft),
        None => (StatusCode::OK, None, ""),
    };
    Ok(render::page_with_status(
        status,
        owner,
        Shell {
            section: "conversaciones",
            title: &title,
            notice,
            live: &["conversation"],
        },
        "conversation.html",
        serde_json::json!({
            "reference": reference,
            "who": who,
            "phone": format!("+{phone}"),
            "code": summary.reservation_code,
            "lines": lines,
            "window_open": window_open,
            "window_until": when(state, conv.window_open_until()),
            "waiting_since": conv.awaiting_since.map(|t| when(state, t)),
            "handed_off": handed_off,
            "assistant_active": assistant_active,
            "error": error_text,
            "draft": draft,
        }),
    ))
}

/// What posada did with a guest's message, in the owner's words (`None`: nothing worth saying).
fn outcome_label(outcome: &str) -> Option<&'static str> {
    Some(match outcome {
        "queued" => "esperando al asistente",
        "transcribing" => "transcribiendo el audio",
        "handed_off" => "pasó a una persona",
        "cancelled" => "canceló su prerreserva",
        "cancel_requested" => "pidió cancelar",
        "hold_requested" => "pidió reservar",
        "payment_link_sent" | "payment_link_recent" | "payment_link_requested" => {
            "se le mandó el link de pago"
        }
        "rate_limited" => "demasiados mensajes seguidos",
        _ => return None,
    })
}

fn not_found(owner: &Owner) -> Response {
    render::message(
        owner,
        StatusCode::NOT_FOUND,
        "No hay una conversación con esa referencia.",
        "/dashboard/conversaciones",
    )
}

fn back_to(reference: &str, notice: &str) -> Response {
    Redirect::to(&format!(
        "/dashboard/conversaciones/{reference}?aviso={notice}"
    ))
    .into_response()
}

/// The owner's answer.
#[derive(Deserialize)]
pub struct ReplyForm {
    text: Option<String>,
}

/// `POST /dashboard/conversaciones/{reference}/responder`: send the owner's WhatsApp answer.
async fn reply(
    State(state): State<AppState>,
    Path(reference): Path<String>,
    OwnerForm { owner, form }: OwnerForm<ReplyForm>,
) -> Result<Response, Problem> {
    let Some(phone) = phone_of(&state, &reference).await? else {
        return Ok(not_found(&owner));
    };
    let draft = form.text.as_deref().unwrap_or("");
    let text = draft.trim();
    let refuse = |status, message| {
        render_thread(
            &state,
            &owner,
            &reference,
            &phone,
            None,
            Some((status, message, draft)),
        )
    };
    if text.is_empty() {
        return refuse(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Escribí la respuesta antes de enviarla.",
        )
        .await;
    }
    if text.chars().count() > posada_integrations::whatsapp::MAX_TEXT_BODY {
        return refuse(
            StatusCode::UNPROCESSABLE_ENTITY,
            "La respuesta es demasiado larga para WhatsApp (4096 caracteres como máximo).",
        )
        .await;
    }
    match crate::app::conversations::reply(&state, &phone, text).await {
        Ok(_) => {
            tracing::info!(phone = %mask_phone(&phone), "owner answered from the dashboard");
            Ok(back_to(&reference, "enviada"))
        }
        Err(AppError::WindowClosed(_)) => {
            refuse(
                StatusCode::CONFLICT,
                "Pasaron más de 24 h desde el último mensaje del huésped: WhatsApp no permite responderle hasta que vuelva a escribir.",
            )
            .await
        }
        Err(e @ AppError::Internal(_)) => Err(e.into()),
        Err(e) => {
            let text =
                format!("WhatsApp no aceptó el mensaje ahora: {e}. Probá de nuevo en unos minutos.");
            refuse(StatusCode::SERVICE_UNAVAILABLE, &text).await
        }
    }
}

/// What the owner does to a conversation besides answering it.
#[derive(Debug, Clone, Copy)]
enum Switch {
    /// Take it over: the assistant stays quiet in it until given back.
    TakeOver,
    /// Give it back to the assistant: its switch on, the hand-off cleared.
    GiveBack,
    /// The owner answered another way: nothing waits any more.
    Handled,
}

async fn switch(
    state: &AppState,
    owner: &Owner,
    reference: &str,
    what: Switch,
) -> Result<Response, Problem> {
    let Some(phone) = phone_of(state, reference).await? else {
        return Ok(not_found(owner));
    };
    let notice = match what {
        Switch::TakeOver => {
            crate::app::assistant::set_enabled(state, &phone, false).await?;
            "tomada"
        }
        Switch::GiveBack => {
            crate::app::assistant::set_enabled(state, &phone, true).await?;
            crate::app::conversations::resolve(state, &phone).await?;
            "devuelta"
        }
        Switch::Handled => {
            crate::app::conversations::resolve(state, &phone).await?;
            "atendida"
        }
    };
    Ok(back_to(reference, notice))
}

/// `POST /dashboard/conversaciones/{reference}/tomar`
async fn take_over(
    State(state): State<AppState>,
    Path(reference): Path<String>,
    OwnerForm { owner, .. }: OwnerForm<NoFields>,
) -> Result<Response, Problem> {
    switch(&state, &owner, &reference, Switch::TakeOver).await
}

/// `POST /dashboard/conversaciones/{reference}/devolver`
async fn give_back(
    State(state): State<AppState>,
    Path(reference): Path<String>,
    OwnerForm { owner, .. }: OwnerForm<NoFields>,
) -> Result<Response, Problem> {
    switch(&state, &owner, &reference, Switch::GiveBack).await
}

/// `POST /dashboard/conversaciones/{reference}/atendida`
async fn resolve(
    State(state): State<AppState>,
    Path(reference): Path<String>,
    OwnerForm { owner, .. }: OwnerForm<NoFields>,
) -> Result<Response, Problem> {
    switch(&state, &owner, &reference, Switch::Handled).await
}
