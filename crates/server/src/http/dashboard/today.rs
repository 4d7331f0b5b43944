//! Hoy (`GET /dashboard`): the first page after login. Who arrives and leaves today and
//! tomorrow, the holds about to run out (with their countdown, from the application clock),
//! the payments of the last two days, the open alerts each with what settles it, the guests
//! waiting for an answer on WhatsApp, and the daily report on demand.

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use chrono::Duration;
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::render::{self, Shell};
use super::reservations::{Notice, notice_text, time_left};
use super::session::Owner;
use crate::http::{Problem, Query};
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
    /// The conversation's keyed reference (the phone never goes into a URL).
    reference: String,
    phone: String,
    guest: Option<String>,
    code: Option<String>,
    since: String,
    last: String,
    window_open: bool,
}

/// Holds running out within this many hours are listed.
const EXPIRING_WITHIN_HOURS: i64 = 24;
/// Payments approved within this many hours are listed.
const PAYMENTS_WITHIN_HOURS: i64 = 48;
/// Upcoming stays listed under the day's panels.
const UPCOMING: i64 = 20;

/// A hold about to run out.
#[derive(Serialize)]
struct Expiring {
    code: String,
    accommodation: String,
    guest_name: String,
    check_in: String,
    check_out: String,
    /// "2 h 10 min"; `None`: its time has passed and the expiry runs any moment.
    left: Option<String>,
    at: String,
}

/// An approved payment.
#[derive(Serialize)]
struct Received {
    code: Option<String>,
    guest_name: Option<String>,
    accommodation: Option<String>,
    amount: String,
    at: String,
}

/// An open alert and what settles it.
#[derive(Serialize)]
struct AlertView {
    text: String,
    /// A link to the section that settles it, with its label.
    href: String,
    action: String,
}

/// The open alerts as the owner acts on them: each with the page that settles it. The
/// conversations waiting for a person are one line pointing to the list below.
fn alert_views(alerts: Vec<posada_store::ops::Alert>) -> Vec<AlertView> {
    let mut out = Vec::new();
    let mut waiting = 0;
    for a in alerts {
        let (href, action, text) = match a.kind.as_str() {
            "conversation_unanswered" => {
                waiting += 1;
                continue;
            }
            "refund_needed" => {
                let code = a
                    .key
                    .strip_prefix("refund_needed:")
                    .unwrap_or("")
                    .to_string();
                (
                    format!("/dashboard/reservas/{code}"),
                    format!("Ver la reserva {code}"),
                    a.detail,
                )
            }
            "jobs_discarded" => (
                "/dashboard/automatizacion".to_string(),
                "Ver las tareas fallidas".to_string(),
                "Hay tareas en segundo plano que fallaron definitivamente en las últimas 24 h."
                    .to_string(),
            ),
            "circuit_open" => (
                "/dashboard/automatizacion".to_string(),
                "Ver el estado de las conexiones".to_string(),
                a.detail,
            ),
            "feed_stale" | "conflicts_open" => (
                "/dashboard/canales".to_string(),
                "Ver los canales".to_string(),
                a.detail,
            ),
            _ => (String::new(), String::new(), a.detail),
        };
        out.push(AlertView { text, href, action });
    }
    if waiting > 0 {
        out.push(AlertView {
            text: format!(
                "{waiting} {} por WhatsApp hace más de una hora.",
                if waiting == 1 {
                    "huésped espera una respuesta"
                } else {
                    "huéspedes esperan una respuesta"
                }
            ),
            href: "#esperando".to_string(),
            action: "Responder".to_string(),
        });
    }
    out
}

/// `GET /dashboard`
pub async fn page(
    State(state): State<AppState>,
    owner: Owner,
    Query(notice): Query<Notice>,
) -> Result<Response, Problem> {
    let db = state.db();
    let today = state.today();
    let tomorrow = today.succ_opt().unwrap_or(today);
    let now = state.now();
    let tz = state.settings().tz();
    let when = |t: DateTime<Utc>| t.with_timezone(&tz).format("%d/%m %H:%M").to_string();
    let stays =
        |v: Vec<posada_store::ops::StayLine>| v.into_iter().map(Stay::from).collect::<Vec<_>>();
    let arrivals_today = stays(posada_store::ops::arrivals(db, today).await?);
    let arrivals_tomorrow = stays(posada_store::ops::arrivals(db, tomorrow).await?);
    let departures_today = stays(posada_store::ops::departures(db, today).await?);
    let departures_tomorrow = stays(posada_store::ops::departures(db, tomorrow).await?);
    let expiring: Vec<Expiring> =
        posada_store::ops::holds_expiring(db, now + Duration::hours(EXPIRING_WITHIN_HOURS), 50)
            .await?
            .into_iter()
            .map(|h| Expiring {
                left: time_left(now, h.expires_at),
                at: when(h.expires_at),
                code: h.code,
                accommodation: h.accommodation,
                guest_name: h.guest_name,
                check_in: h.check_in.to_string(),
                check_out: h.check_out.to_string(),
            })
            .collect();
    let payments: Vec<Received> =
        posada_store::ops::payments_received(db, now - Duration::hours(PAYMENTS_WITHIN_HOURS), 20)
            .await?
            .into_iter()
            .map(|p| Received {
                amount: p
                    .currency
                    .parse::<posada_domain::Currency>()
                    .map(|c| posada_domain::Money::new(p.amount_minor, c).format_es_ar())
                    .unwrap_or_else(|_| format!("{} {}", p.currency, p.amount_minor)),
                at: when(p.at),
                code: p.code,
                guest_name: p.guest_name,
                accommodation: p.accommodation,
            })
            .collect();
    let upcoming = stays(posada_store::ops::upcoming_stays(db, today, UPCOMING).await?);
    let alerts = alert_views(posada_store::ops::open_alerts(db).await?);
    let (waiting, _) = posada_store::conversations::list(
        db,
        &posada_store::conversations::ConversationFilter {
            awaiting: Some(true),
            limit: 50,
            offset: 0,
        },
    )
    .await?;
    let key = crate::app::guest_links::key(&state).await?;
    let waiting: Vec<Waiting> = waiting
        .into_iter()
        .map(|c| Waiting {
            reference: crate::app::guest_links::conversation_ref(key, &c.conversation.phone),
            phone: c.conversation.phone.clone(),
            guest: c.guest_name,
            code: c.reservation_code,
            since: c.conversation.awaiting_since.map(when).unwrap_or_default(),
            last: c.last_message_body.unwrap_or_default(),
            window_open: c.conversation.last_inbound_at + Duration::hours(24) > now,
        })
        .collect();
    Ok(render::page(
        &owner,
        Shell {
            section: "hoy",
            title: "Hoy",
            notice: notice_text(notice.aviso.as_deref()),
            live: &["calendar", "reservation", "conversation", "feed"],
        },
        "today.html",
        serde_json::json!({
            "panels": [
                {"id": "llegadas", "title": "Llegadas", "days": [
                    {"label": "Hoy", "date": today.to_string(), "id": "llegadas-hoy", "empty": "Nadie llega hoy.", "stays": arrivals_today},
                    {"label": "Mañana", "date": tomorrow.to_string(), "id": "llegadas-manana", "empty": "Nadie llega mañana.", "stays": arrivals_tomorrow},
                ]},
                {"id": "salidas", "title": "Salidas", "days": [
                    {"label": "Hoy", "date": today.to_string(), "id": "salidas-hoy", "empty": "Nadie se va hoy.", "stays": departures_today},
                    {"label": "Mañana", "date": tomorrow.to_string(), "id": "salidas-manana", "empty": "Nadie se va mañana.", "stays": departures_tomorrow},
                ]},
            ],
            "expiring": expiring,
            "payments": payments,
            "upcoming": upcoming,
            "alerts": alerts,
            "waiting": waiting,
        }),
    ))
}
