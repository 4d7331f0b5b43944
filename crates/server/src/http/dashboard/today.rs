//! Hoy (`GET /dashboard`): the first page after login.

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use chrono::Duration;
use serde::Serialize;

use super::render::{self, Shell};
use super::session::Owner;
use crate::http::Problem;
use crate::state::AppState;

/// This section's templates (name, source), registered by `render`.
pub const TEMPLATES: &[(&str, &str)] = &[(
    "today.html",
    include_str!("../../../templates/dashboard/today.html"),
)];

/// This section's routes.
pub fn routes() -> Router<AppState> {
    Router::new().route("/dashboard", get(page))
}

/// A stay as listed.
#[derive(Serialize)]
struct Stay {
    code: String,
    accommodation: String,
    guest_name: String,
    check_in: String,
    check_out: String,
    guests: i64,
    state: String,
    state_label: String,
}

impl From<posada_store::ops::StayLine> for Stay {
    fn from(s: posada_store::ops::StayLine) -> Stay {
        let state_label = s
            .state
            .parse::<posada_domain::ReservationState>()
            .map(|st| st.label_es().to_string())
            .unwrap_or_else(|_| s.state.clone());
        Stay {
            code: s.code,
            accommodation: s.accommodation,
            guest_name: s.guest_name,
            check_in: s.check_in.to_string(),
            check_out: s.check_out.to_string(),
            guests: s.guests,
            state: s.state,
            state_label,
        }
    }
}

/// A guest waiting for the owner on WhatsApp.
#[derive(Serialize)]
struct Waiting {
    phone: String,
    guest: Option<String>,
    code: Option<String>,
    since: String,
    last: String,
    window_open: bool,
}

/// `GET /dashboard`
pub async fn page(State(state): State<AppState>, owner: Owner) -> Result<Response, Problem> {
    let today = state.today();
    let stays: Vec<Stay> = posada_store::ops::upcoming_stays(state.db(), today, 100)
        .await
        .map_err(Problem::from)?
        .into_iter()
        .map(Stay::from)
        .collect();
    let alerts: Vec<String> = posada_store::ops::open_alerts(state.db())
        .await
        .map_err(Problem::from)?
        .into_iter()
        .map(|a| a.detail)
        .collect();
    let (waiting, _) = posada_store::conversations::list(
        state.db(),
        &posada_store::conversations::ConversationFilter {
            awaiting: Some(true),
            limit: 50,
            offset: 0,
        },
    )
    .await
    .map_err(Problem::from)?;
    let tz = state.settings().tz();
    let now = state.now();
    let waiting: Vec<Waiting> = waiting
        .into_iter()
        .map(|c| Waiting {
            phone: c.conversation.phone.clone(),
            guest: c.guest_name,
            code: c.reservation_code,
            since: c
                .conversation
                .awaiting_since
                .map(|t| t.with_timezone(&tz).format("%d/%m %H:%M").to_string())
                .unwrap_or_default(),
            last: c.last_message_body.unwrap_or_default(),
            window_open: c.conversation.last_inbound_at + Duration::hours(24) > now,
        })
        .collect();
    Ok(render::page(
        &owner,
        Shell {
            section: "hoy",
            title: "Hoy",
            live: &["calendar", "reservation", "conversation", "feed"],
            ..Shell::default()
        },
        "today.html",
        serde_json::json!({ "stays": stays, "alerts": alerts, "waiting": waiting }),
    ))
}
