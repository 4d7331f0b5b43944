//! Guest WhatsApp conversations for the owner (admin API tokens): the list (waiting ones first),
//! one conversation with its messages, a free-form reply (only inside WhatsApp's 24 h window after
//! the guest's last message), and "resolved" for a conversation answered another way.
//!
//! Phones in paths are the guest's WhatsApp number, digits only (a leading `+`, spaces and dashes
//! are tolerated); anything else is an unknown conversation.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use posada_store::conversations::{
    self, Conversation, ConversationFilter, ConversationSummary, Message,
};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Admin, Json, Path, Problem, Query};
use crate::state::AppState;

/// Longest preview of the latest message in the list, in characters.
const PREVIEW_CHARS: usize = 120;

/// The routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/admin/conversations", get(list))
        .route("/api/v1/admin/conversations/{phone}", get(detail))
        .route("/api/v1/admin/conversations/{phone}/reply", post(reply))
        .route("/api/v1/admin/conversations/{phone}/resolve", post(resolve))
        .route(
            "/api/v1/admin/conversations/{phone}/assistant",
            put(switch_assistant),
        )
}

/// The digits of a phone in a path, or 404.
fn phone_param(raw: &str) -> Result<String, Problem> {
    let raw = raw.trim();
    let ok = raw
        .chars()
        .all(|c| c.is_ascii_digit() || c == '+' || c == ' ' || c == '-');
    let digits = crate::app::conversations::digits(raw);
    if !ok || digits.is_empty() || digits.len() > 20 {
        return Err(Problem::not_found("conversation"));
    }
    Ok(digits)
}

fn preview(body: &str, kind: &str) -> String {
    if body.trim().is_empty() {
        return format!("[{kind}]");
    }
    let mut text: String = body.chars().take(PREVIEW_CHARS).collect();
    if body.chars().count() > PREVIEW_CHARS {
        text.push('…');
    }
    text
}

fn conversation_fields(c: &Conversation, now: chrono::DateTime<chrono::Utc>) -> Value {
    json!({
        "phone": c.phone,
        "last_inbound_at": c.last_inbound_at,
        "awaiting_since": c.awaiting_since,
        "handed_off_at": c.handed_off_at,
        "handoff_reason": c.handoff_reason,
        "last_reply_at": c.last_reply_at,
        "state_expires_at": c.state_expires_at,
        "window_open_until": c.window_open_until(),
        "window_open": c.window_open(now),
    })
}

fn summary_view(s: &ConversationSummary, now: chrono::DateTime<chrono::Utc>) -> Value {
    let mut v = conversation_fields(&s.conversation, now);
    v["guest_name"] = json!(s.guest_name);
    v["reservation_code"] = json!(s.reservation_code);
    v["last_message"] = match (
        &s.last_message_direction,
        &s.last_message_kind,
        &s.last_message_body,
        &s.last_message_at,
    ) {
        (Some(direction), Some(kind), Some(body), Some(at)) => json!({
            "direction": direction,
            "kind": kind,
            "preview": preview(body, kind),
            "at": at,
        }),
        _ => Value::Null,
    };
    v
}

fn message_view(m: &Message) -> Value {
    json!({
        "id": m.id,
        "direction": m.direction,
        "kind": m.kind,
        "body": m.body,
        "at": m.at,
        "outcome": m.outcome,
    })
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    awaiting: Option<bool>,
    limit: Option<i64>,
    offset: Option<i64>,
}

/// `GET /api/v1/admin/conversations`
async fn list(
    _: Admin,
    State(state): State<AppState>,
    Query(q): Query<ListQuery>,
) -> Result<Json<Value>, Problem> {
    let limit = q.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(Problem::field("limit", "between 1 and 200"));
    }
    let offset = q.offset.unwrap_or(0);
    if offset < 0 {
        return Err(Problem::field("offset", "must not be negative"));
    }
    let (items, total) = conversations::list(
        state.db(),
        &ConversationFilter {
            awaiting: q.awaiting,
            limit,
            offset,
        },
    )
    .await
    .map_err(Problem::from)?;
    Ok(Json(json!({
        "items": items.iter().map(|s| summary_view(s, state.now())).collect::<Vec<_>>(),
        "total": total,
        "limit": limit,
        "offset": offset,
    })))
}

#[derive(Debug, Deserialize)]
struct DetailQuery {
    limit: Option<i64>,
}

async fn view(state: &AppState, phone: &str, limit: i64) -> Result<Value, Problem> {
    let summary = conversations::summary(state.db(), phone)
        .await
        .map_err(Problem::from)?
        .ok_or_else(|| Problem::not_found("conversation"))?;
    let messages = conversations::messages(state.db(), phone, limit)
        .await
        .map_err(Problem::from)?;
    let mut v = summary_view(&summary, state.now());
    v["messages"] = json!(messages.iter().map(message_view).collect::<Vec<_>>());
    Ok(v)
}

/// `GET /api/v1/admin/conversations/{phone}`
async fn detail(
    _: Admin,
    State(state): State<AppState>,
    Path(phone): Path<String>,
    Query(q): Query<DetailQuery>,
) -> Result<Json<Value>, Problem> {
    let phone = phone_param(&phone)?;
    let limit = q.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(Problem::field("limit", "between 1 and 500"));
    }
    Ok(Json(view(&state, &phone, limit).await?))
}

#[derive(Debug, Deserialize)]
struct ReplyIn {
    text: String,
}

/// `POST /api/v1/admin/conversations/{phone}/reply`
async fn reply(
    _: Admin,
    State(state): State<AppState>,
    Path(phone): Path<String>,
    Json(input): Json<ReplyIn>,
) -> Result<(StatusCode, Json<Value>), Problem> {
    let phone = phone_param(&phone)?;
    if input.text.trim().is_empty() {
        return Err(Problem::field("text", "write the message to send"));
    }
    let max = posada_integrations::whatsapp::MAX_TEXT_BODY;
    if input.text.chars().count() > max {
        return Err(Problem::field(
            "text",
            format!("at most {max} characters (WhatsApp's limit)"),
        ));
    }
    let sent = crate::app::conversations::reply(&state, &phone, &input.text).await?;
    let mut v = view(&state, &phone, 100).await?;
    v["sent"] = message_view(&sent);
    Ok((StatusCode::OK, Json(v)))
}

/// `POST /api/v1/admin/conversations/{phone}/resolve`
async fn resolve(
    _: Admin,
    State(state): State<AppState>,
    Path(phone): Path<String>,
) -> Result<Json<Value>, Problem> {
    let phone = phone_param(&phone)?;
    let found = crate::app::conversations::resolve(&state, &phone)
        .await
        .map_err(Problem::from)?;
    if !found {
        return Err(Problem::not_found("conversation"));
    }
    Ok(Json(view(&state, &phone, 100).await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AssistantIn {
    enabled: bool,
}

/// `PUT /api/v1/admin/conversations/{phone}/assistant`
async fn switch_assistant(
    _: Admin,
    State(state): State<AppState>,
    Path(phone): Path<String>,
    Json(input): Json<AssistantIn>,
) -> Result<Json<Value>, Problem> {
    let phone = phone_param(&phone)?;
    crate::app::assistant::set_enabled(&state, &phone, input.enabled).await?;
    let active = crate::app::assistant::active_for(&state, &phone).await?;
    Ok(Json(json!({
        "phone": phone,
        "enabled": input.enabled,
        "active": active,
    })))
}
