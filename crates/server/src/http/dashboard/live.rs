//! `GET /dashboard/events`: the owner's live stream (Server-Sent Events).
//!
//! Every change the application core commits ([`crate::app::Event`], published after commit, and
//! on PostgreSQL relayed from the other nodes) becomes one SSE event named after its kind:
//! `calendar`, `reservation`, `conversation`, `feed`, with a small JSON `data` (ids, never guest
//! data). A subscriber too slow to keep up gets `resync` (the page reloads its content). Pages
//! listen with `dashboard.js`; the browser reconnects a lost stream by itself and the page then
//! refreshes once to catch up.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::Stream;
use serde_json::json;
use tokio::sync::broadcast::error::RecvError;

use super::session::current_session;
use crate::app::Event;
use crate::http::Problem;
use crate::state::AppState;

/// The SSE event for a committed change: (kind, data).
pub fn sse_of(event: &Event) -> (&'static str, serde_json::Value) {
    match event {
        Event::CalendarChanged { accommodation_id } => {
            ("calendar", json!({ "accommodation_id": accommodation_id }))
        }
        Event::ReservationChanged { reservation_id } => {
            ("reservation", json!({ "reservation_id": reservation_id }))
        }
        // The phone is guest data: the event only says that some conversation changed.
        Event::ConversationChanged { .. } => ("conversation", json!({})),
        Event::FeedSynced { feed_id } => ("feed", json!({ "feed_id": feed_id })),
        Event::Resync => ("resync", json!({})),
    }
}

/// `GET /dashboard/events`
pub async fn events(State(state): State<AppState>, headers: HeaderMap) -> Response {
    match current_session(&state, &headers).await {
        Ok(Some(_)) => {}
        Ok(None) => {
            return Problem::unauthorized("log in to the dashboard first").into_response();
        }
        Err(p) => return p.into_response(),
    }
    let receiver = state.events().subscribe();
    let mut response = Sse::new(stream(receiver))
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response();
    // Proxies (nginx) must pass events through as they come.
    response
        .headers_mut()
        .insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn stream(
    receiver: tokio::sync::broadcast::Receiver<Event>,
) -> impl Stream<Item = Result<SseEvent, Infallible>> {
    futures::stream::unfold(receiver, |mut receiver| async move {
        let event = match receiver.recv().await {
            Ok(event) => {
                let (kind, data) = sse_of(&event);
                SseEvent::default().event(kind).data(data.to_string())
            }
            Err(RecvError::Lagged(_)) => SseEvent::default().event("resync").data("{}"),
            Err(RecvError::Closed) => return None,
        };
        Some((Ok(event), receiver))
    })
}
