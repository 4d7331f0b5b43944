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
use chrono::{DateTime, Utc};
use posada_store::conversations::{self, ConversationFilter, ConversationSummary, Message};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

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

/// Who wrote a message: `in` from the guest, `out` to the guest.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "lowercase")]
#[expect(dead_code, reason = "a name list for the OpenAPI document")]
enum Direction {
    /// From the guest.
    In,
    /// To the guest.
    Out,
}

/// Why a conversation was handed to a person.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "snake_case")]
#[expect(dead_code, reason = "a name list for the OpenAPI document")]
enum HandoffReason {
    /// The guest wrote something the assistant does not handle.
    GuestMessage,
    /// A button tap matched nothing.
    ButtonUnmatched,
    /// A payment link could not be made.
    PaymentLinkUnavailable,
}

/// The latest message of a conversation, shortened.
#[derive(Debug, Serialize, ToSchema)]
pub struct LastMessage {
    /// `in` (from the guest) or `out`.
    #[schema(value_type = Direction)]
    direction: String,
    /// `text`, `button`, `image`, `audio`, …
    kind: String,
    /// The first 120 characters, or `[kind]` for a message without text.
    preview: String,
    /// When.
    at: DateTime<Utc>,
}

/// A WhatsApp conversation with a guest.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Conversation)]
pub struct ConversationView {
    /// WhatsApp number, digits.
    phone: String,
    /// When the guest last wrote.
    last_inbound_at: DateTime<Utc>,
    /// Oldest guest message not answered yet; null when nothing waits.
    awaiting_since: Option<DateTime<Utc>>,
    /// When the conversation was handed to a person; null when posada handles it.
    handed_off_at: Option<DateTime<Utc>>,
    /// Why it was handed off.
    #[schema(value_type = Option<HandoffReason>)]
    handoff_reason: Option<String>,
    /// When the owner last replied.
    last_reply_at: Option<DateTime<Utc>>,
    /// When the hand-off lapses (the 24 h window closes).
    state_expires_at: Option<DateTime<Utc>>,
    /// Free-form messages are allowed until then.
    window_open_until: DateTime<Utc>,
    /// Whether a free-form message may be sent now.
    window_open: bool,
    /// Guest's name on their latest reservation with this phone.
    guest_name: Option<String>,
    /// That reservation's code.
    reservation_code: Option<String>,
    /// The latest message; null when there is none.
    last_message: Option<LastMessage>,
}

fn summary_view(s: &ConversationSummary, now: chrono::DateTime<chrono::Utc>) -> ConversationView {
    let c = &s.conversation;
    ConversationView {
        phone: c.phone.clone(),
        last_inbound_at: c.last_inbound_at,
        awaiting_since: c.awaiting_since,
        handed_off_at: c.handed_off_at,
        handoff_reason: c.handoff_reason.clone(),
        last_reply_at: c.last_reply_at,
        state_expires_at: c.state_expires_at,
        window_open_until: c.window_open_until(),
        window_open: c.window_open(now),
        guest_name: s.guest_name.clone(),
        reservation_code: s.reservation_code.clone(),
        last_message: match (
            &s.last_message_direction,
            &s.last_message_kind,
            &s.last_message_body,
            &s.last_message_at,
        ) {
            (Some(direction), Some(kind), Some(body), Some(at)) => Some(LastMessage {
                direction: direction.clone(),
                kind: kind.clone(),
                preview: preview(body, kind),
                at: *at,
            }),
            _ => None,
        },
    }
}

/// One message of a conversation.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ConversationMessage)]
pub struct MessageView {
    /// Id.
    id: i64,
    /// `in` (from the guest) or `out`.
    #[schema(value_type = Direction)]
    direction: String,
    /// `text`, `button`, `list_reply`, `image`, `audio`, `voice`, `location`, …
    kind: String,
    /// The text (empty for media without a caption).
    body: String,
    /// When.
    at: DateTime<Utc>,
    /// What posada did with a button tap: `cancelled`, `payment_link_sent`,
    /// `payment_link_recent`, `payment_link_requested`, `handed_off`.
    outcome: Option<String>,
}

fn message_view(m: &Message) -> MessageView {
    MessageView {
        id: m.id,
        direction: m.direction.clone(),
        kind: m.kind.clone(),
        body: m.body.clone(),
        at: m.at,
        outcome: m.outcome.clone(),
    }
}

/// A conversation with its latest messages.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConversationDetail {
    /// The conversation.
    #[serde(flatten)]
    conversation: ConversationView,
    /// The latest messages, oldest first.
    messages: Vec<MessageView>,
    /// The message just sent (replies only).
    #[serde(skip_serializing_if = "Option::is_none")]
    sent: Option<MessageView>,
}

/// A page of conversations.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConversationPage {
    /// The conversations, latest first.
    items: Vec<ConversationView>,
    /// How many match in all.
    total: i64,
    /// Rows per page.
    limit: i64,
    /// Rows skipped.
    offset: i64,
}

/// Filters and page of the conversation list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// Only conversations with (true) or without (false) a guest message waiting.
    awaiting: Option<bool>,
    /// Rows per page, 1-200, default 50.
    #[param(minimum = 1, maximum = 200)]
    limit: Option<i64>,
    /// Rows to skip.
    #[param(minimum = 0)]
    offset: Option<i64>,
}

/// WhatsApp conversations, latest first.
#[utoipa::path(
    get,
    path = "/api/v1/admin/conversations",
    tag = "admin",
    security(("bearer" = [])),
    params(ListQuery),
    responses(
        (status = 200, description = "A page of conversations", body = ConversationPage),
        (status = 401, description = "No or unknown API token", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A parameter is wrong (named in `errors`)", body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn list(
    _: Admin,
    State(state): State<AppState>,
    Query(q): Query<ListQuery>,
) -> Result<Json<ConversationPage>, Problem> {
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
    Ok(Json(ConversationPage {
        items: items.iter().map(|s| summary_view(s, state.now())).collect(),
        total,
        limit,
        offset,
    }))
}

/// How many messages to show.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct DetailQuery {
    /// Latest messages to show, 1-500, default 100.
    #[param(minimum = 1, maximum = 500)]
    limit: Option<i64>,
}

async fn view(state: &AppState, phone: &str, limit: i64) -> Result<ConversationDetail, Problem> {
    let summary = conversations::summary(state.db(), phone)
        .await
        .map_err(Problem::from)?
        .ok_or_else(|| Problem::not_found("conversation"))?;
    let messages = conversations::messages(state.db(), phone, limit)
        .await
        .map_err(Problem::from)?;
    Ok(ConversationDetail {
        conversation: summary_view(&summary, state.now()),
        messages: messages.iter().map(message_view).collect(),
        sent: None,
    })
}

/// A conversation with its latest messages.
#[utoipa::path(
    get,
    path = "/api/v1/admin/conversations/{phone}",
    tag = "admin",
    security(("bearer" = [])),
    params(("phone" = String, Path, description = "The guest's WhatsApp number"), DetailQuery),
    responses(
        (status = 200, description = "The conversation", body = ConversationDetail),
        (status = 401, description = "No or unknown API token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No conversation with this number", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A parameter is wrong (named in `errors`)", body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn detail(
    _: Admin,
    State(state): State<AppState>,
    Path(phone): Path<String>,
    Query(q): Query<DetailQuery>,
) -> Result<Json<ConversationDetail>, Problem> {
    let phone = phone_param(&phone)?;
    let limit = q.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(Problem::field("limit", "between 1 and 500"));
    }
    Ok(Json(view(&state, &phone, limit).await?))
}

/// The owner's answer to a guest.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = ConversationReply)]
struct ReplyIn {
    /// The message, at most 4096 characters (WhatsApp's limit).
    #[schema(min_length = 1, max_length = 4096, pattern = r"\S")]
    text: String,
}

/// Send the guest a free-form WhatsApp message (within the 24 h window).
#[utoipa::path(
    post,
    path = "/api/v1/admin/conversations/{phone}/reply",
    tag = "admin",
    security(("bearer" = [])),
    params(("phone" = String, Path, description = "The guest's WhatsApp number")),
    request_body = ReplyIn,
    responses(
        (status = 200, description = "Sent; the conversation with the message in `sent`", body = ConversationDetail),
        (status = 400, description = "The body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No or unknown API token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "A read-only token (it may only GET)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No conversation with this number", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The 24 h window is closed", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is wrong (named in `errors`)", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "WhatsApp refused the message", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "WhatsApp is not configured or unreachable", body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn reply(
    _: Admin,
    State(state): State<AppState>,
    Path(phone): Path<String>,
    Json(input): Json<ReplyIn>,
) -> Result<(StatusCode, Json<ConversationDetail>), Problem> {
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
    let v = ConversationDetail {
        sent: Some(message_view(&sent)),
        ..view(&state, &phone, 100).await?
    };
    Ok((StatusCode::OK, Json(v)))
}

/// Mark the conversation handled (posada answers it again).
#[utoipa::path(
    post,
    path = "/api/v1/admin/conversations/{phone}/resolve",
    tag = "admin",
    security(("bearer" = [])),
    params(("phone" = String, Path, description = "The guest's WhatsApp number")),
    responses(
        (status = 200, description = "The conversation", body = ConversationDetail),
        (status = 401, description = "No or unknown API token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "A read-only token (it may only GET)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No conversation with this number", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A parameter is wrong (named in `errors`)", body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn resolve(
    _: Admin,
    State(state): State<AppState>,
    Path(phone): Path<String>,
) -> Result<Json<ConversationDetail>, Problem> {
    let phone = phone_param(&phone)?;
    let found = crate::app::conversations::resolve(&state, &phone)
        .await
        .map_err(Problem::from)?;
    if !found {
        return Err(Problem::not_found("conversation"));
    }
    Ok(Json(view(&state, &phone, 100).await?))
}

/// The owner's switch for the assistant in one conversation.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct AssistantIn {
    /// Whether the assistant may answer this guest.
    enabled: bool,
}

/// The assistant's state in one conversation.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ConversationAssistant)]
pub struct AssistantSwitched {
    /// The guest's WhatsApp number, digits.
    phone: String,
    /// The owner's switch for this conversation.
    enabled: bool,
    /// Whether the assistant answers this guest's next message (switched on here and globally,
    /// WhatsApp configured, and the conversation not waiting for a person).
    active: bool,
}

/// Switch the assistant on or off for one guest.
#[utoipa::path(
    put,
    path = "/api/v1/admin/conversations/{phone}/assistant",
    tag = "admin",
    security(("bearer" = [])),
    params(("phone" = String, Path, description = "The guest's WhatsApp number")),
    request_body = AssistantIn,
    responses(
        (status = 200, description = "The switch", body = AssistantSwitched),
        (status = 400, description = "The body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No or unknown API token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "A read-only token (it may only GET)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No conversation with this number", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is wrong (named in `errors`)", body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn switch_assistant(
    _: Admin,
    State(state): State<AppState>,
    Path(phone): Path<String>,
    Json(input): Json<AssistantIn>,
) -> Result<Json<AssistantSwitched>, Problem> {
    let phone = phone_param(&phone)?;
    crate::app::assistant::set_enabled(&state, &phone, input.enabled).await?;
    let active = crate::app::assistant::active_for(&state, &phone).await?;
    Ok(Json(AssistantSwitched {
        phone,
        enabled: input.enabled,
        active,
    }))
}
