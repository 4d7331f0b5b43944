//! A fake WhatsApp Graph API: `POST /{version}/{phone_number_id}/messages` answering like the Cloud
//! API, recording each message, with Graph errors programmable for the next request or for a
//! recipient; [`sign`] signs inbound webhook bodies and the `webhook_*` helpers build them.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{Request, StatusCode};
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::server::{RecordedRequest, Server, lock, serve};

/// A message the fake accepted.
#[derive(Debug, Clone, PartialEq)]
pub struct SentRequest {
    /// The request path, e.g. `/v21.0/1234/messages`.
    pub path: String,
    /// The `Authorization` header.
    pub authorization: Option<String>,
    /// The JSON body.
    pub body: Value,
    /// The `wamid` the fake answered with.
    pub wamid: String,
}

impl SentRequest {
    /// `to` of the message.
    pub fn to(&self) -> Option<&str> {
        self.body.get("to").and_then(Value::as_str)
    }

    /// `type` of the message (`text`, `image`, `interactive`, `template`).
    pub fn kind(&self) -> Option<&str> {
        self.body.get("type").and_then(Value::as_str)
    }
}

/// An error the fake answers with, in Graph's shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeGraphError {
    /// HTTP status.
    pub status: u16,
    /// Graph error code; `None` answers a bare 500 with a non-Graph body.
    pub code: Option<i64>,
    /// `error.message`.
    pub message: String,
    /// `error.error_data.details`.
    pub details: String,
}

impl FakeGraphError {
    /// Any Graph error.
    pub fn graph(status: u16, code: i64, message: &str, details: &str) -> Self {
        Self {
            status,
            code: Some(code),
            message: message.into(),
            details: details.into(),
        }
    }

    /// 131047: more than 24 hours since the customer last replied.
    pub fn outside_window() -> Self {
        Self::graph(
            400,
            131_047,
            "Re-engagement message",
            "Message failed to send because more than 24 hours have passed since the customer last replied to this number.",
        )
    }

    /// 130429: throughput rate limit.
    pub fn rate_limited() -> Self {
        Self::graph(
            400,
            130_429,
            "Rate limit hit",
            "Cloud API message throughput has been reached.",
        )
    }

    /// 131056: too many messages to the same recipient.
    pub fn pair_rate_limited() -> Self {
        Self::graph(
            400,
            131_056,
            "(Business Account, Consumer Account) pair rate limit hit",
            "Too many messages sent from the sender phone number to the same recipient phone number in a short period of time.",
        )
    }

    /// 131026: the number is not on WhatsApp.
    pub fn invalid_recipient() -> Self {
        Self::graph(
            400,
            131_026,
            "Message Undeliverable",
            "Unable to deliver message. Reasons can include: the recipient phone number is not a WhatsApp phone number.",
        )
    }

    /// A bare HTTP 500.
    pub fn server_error() -> Self {
        Self {
            status: 500,
            code: None,
            message: "Internal Server Error".into(),
            details: String::new(),
        }
    }

    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        match self.code {
            Some(code) => (
                status,
                axum::Json(json!({"error": {
                    "message": format!("({code}) {}", self.message),
                    "type": "OAuthException",
                    "code": code,
                    "error_data": {"messaging_product": "whatsapp", "details": self.details},
                    "fbtrace_id": "AbCdEfGhIjKlMnOp"
                }})),
            )
                .into_response(),
            None => (status, self.message).into_response(),
        }
    }
}

#[derive(Default)]
struct WaState {
    sent: Vec<SentRequest>,
    requests: Vec<RecordedRequest>,
    fail_next: VecDeque<FakeGraphError>,
    fail_recipient: HashMap<String, FakeGraphError>,
    counter: u64,
    base_url: String,
    media: HashMap<String, (String, Vec<u8>)>,
    hang: tokio::sync::watch::Sender<bool>,
}

/// The fake. Dropping it stops the server.
pub struct FakeWhatsApp {
    base_url: String,
    state: Arc<Mutex<WaState>>,
    _server: Server,
}

impl FakeWhatsApp {
    /// Starts the fake on 127.0.0.1 with a free port.
    pub async fn start() -> Self {
        let state = Arc::new(Mutex::new(WaState::default()));
        let server = serve(Router::new().fallback(handle).with_state(state.clone())).await;
        lock(&state).base_url = format!("http://{}", server.addr);
        Self {
            base_url: format!("http://{}", server.addr),
            state,
            _server: server,
        }
    }

    /// `http://127.0.0.1:<port>`: the Graph base URL to configure.
    pub fn base_url(&self) -> String {
        self.base_url.clone()
    }

    /// Messages accepted so far, in order.
    pub fn sent(&self) -> Vec<SentRequest> {
        lock(&self.state).sent.clone()
    }

    /// Every request received, accepted or failed.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.state).requests.clone()
    }

    /// Queues `error` as the answer to the next request (several calls queue several answers).
    pub fn fail_next(&self, error: FakeGraphError) {
        lock(&self.state).fail_next.push_back(error);
    }

    /// Answers `error` to every message to `to` (digits, as sent) until [`Self::clear_failures`].
    pub fn fail_recipient(&self, to: &str, error: FakeGraphError) {
        lock(&self.state)
            .fail_recipient
            .insert(to.to_owned(), error);
    }

    /// Makes media `id` (as an inbound message names it) downloadable: Graph's `GET
    /// /{version}/{id}` answers its URL on this fake, which serves `bytes` as `mime_type`.
    pub fn put_media(&self, id: &str, mime_type: &str, bytes: &[u8]) {
        lock(&self.state)
            .media
            .insert(id.to_owned(), (mime_type.to_owned(), bytes.to_vec()));
    }

    /// Stops answering: from now on every request waits, unrecorded, until [`Self::resume`] (a
    /// provider that hangs). A request whose client gives up meanwhile is never recorded, as if it
    /// had not arrived; one still waiting at the resume is then served normally.
    pub fn hang(&self) {
        lock(&self.state).hang.send_replace(true);
    }

    /// Answers again after [`Self::hang`].
    pub fn resume(&self) {
        lock(&self.state).hang.send_replace(false);
    }

    /// Forgets the programmed errors.
    pub fn clear_failures(&self) {
        let mut st = lock(&self.state);
        st.fail_next.clear();
        st.fail_recipient.clear();
    }
}

/// `GET /{version}/{media-id}` (the media's URL) and `GET /media-download/{media-id}` (its bytes),
/// both with the bearer token, as Graph serves inbound media.
fn media(st: &WaState, recorded: &RecordedRequest, first: &str, id: &str) -> Response {
    let authorized = recorded
        .header("authorization")
        .is_some_and(|a| a.starts_with("Bearer ") && a.len() > 7);
    if !authorized {
        return FakeGraphError::graph(401, 190, "Invalid OAuth access token", "").into_response();
    }
    let Some((mime_type, bytes)) = st.media.get(id) else {
        return FakeGraphError::graph(
            400,
            100,
            "Unsupported get request",
            "Object with ID does not exist",
        )
        .into_response();
    };
    if first == "media-download" {
        return (
            [(axum::http::header::CONTENT_TYPE, mime_type.clone())],
            bytes.clone(),
        )
            .into_response();
    }
    axum::Json(json!({
        "messaging_product": "whatsapp",
        "url": format!("{}/media-download/{id}", st.base_url),
        "mime_type": mime_type,
        "sha256": hex::encode(<Sha256 as sha2::Digest>::digest(bytes)),
        "file_size": bytes.len(),
        "id": id,
    }))
    .into_response()
}

/// `sha256=<hex HMAC-SHA256(app_secret, body)>`: the `X-Hub-Signature-256` Meta would send.
pub fn sign(app_secret: &str, body: &[u8]) -> String {
    let mut mac = match Hmac::<Sha256>::new_from_slice(app_secret.as_bytes()) {
        Ok(mac) => mac,
        Err(err) => panic!("HMAC accepts any key length: {err}"),
    };
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// An inbound delivery carrying one message `message` (e.g. `{"type":"text","text":{"body":"hola"}}`)
/// from `from`, with `id`, `timestamp` and `from` filled in.
pub fn webhook_message(
    phone_number_id: &str,
    from: &str,
    name: &str,
    wamid: &str,
    message: Value,
) -> Value {
    let mut message = message;
    if let Some(obj) = message.as_object_mut() {
        obj.insert("from".into(), json!(from));
        obj.insert("id".into(), json!(wamid));
        obj.entry("timestamp").or_insert(json!("1763650000"));
    }
    webhook_value(
        phone_number_id,
        json!({"contacts": [{"profile": {"name": name}, "wa_id": from}], "messages": [message]}),
    )
}

/// An inbound delivery carrying one status update of our message `wamid`.
pub fn webhook_status(
    phone_number_id: &str,
    wamid: &str,
    status: &str,
    recipient_id: &str,
) -> Value {
    webhook_value(
        phone_number_id,
        json!({"statuses": [{"id": wamid, "status": status, "timestamp": "1763650001", "recipient_id": recipient_id}]}),
    )
}

fn webhook_value(phone_number_id: &str, content: Value) -> Value {
    let mut value = json!({
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "5491100000000", "phone_number_id": phone_number_id},
    });
    if let (Some(obj), Value::Object(extra)) = (value.as_object_mut(), content) {
        obj.extend(extra);
    }
    json!({"object": "whatsapp_business_account", "entry": [{"id": "102290129340398", "changes": [{"field": "messages", "value": value}]}]})
}

async fn handle(State(state): State<Arc<Mutex<WaState>>>, request: Request<Body>) -> Response {
    let mut hang = lock(&state).hang.subscribe();
    // The sender lives in the state, so it outlives this wait.
    let _ = hang.wait_for(|hanging| !*hanging).await;
    let recorded = RecordedRequest::capture(request).await;
    let mut st = lock(&state);
    st.requests.push(recorded.clone());
    let segments: Vec<&str> = recorded.path.trim_matches('/').split('/').collect();
    if recorded.method == "GET" && segments.len() == 2 {
        return media(&st, &recorded, segments[0], segments[1]);
    }
    if recorded.method != "POST" || segments.len() != 3 || segments[2] != "messages" {
        return FakeGraphError::graph(400, 100, "Unsupported request", "unknown path")
            .into_response();
    }
    let authorized = recorded
        .header("authorization")
        .is_some_and(|a| a.starts_with("Bearer ") && a.len() > 7);
    if !authorized {
        return FakeGraphError::graph(401, 190, "Invalid OAuth access token", "").into_response();
    }
    let Some(body) = recorded.json() else {
        return FakeGraphError::graph(400, 100, "Invalid parameter", "body is not JSON")
            .into_response();
    };
    if let Some(error) = st.fail_next.pop_front() {
        return error.into_response();
    }
    let to = body
        .get("to")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    if let Some(error) = st.fail_recipient.get(&to) {
        return error.clone().into_response();
    }
    if body.get("messaging_product").and_then(Value::as_str) != Some("whatsapp") {
        return FakeGraphError::graph(
            400,
            100,
            "Invalid parameter",
            "messaging_product is required",
        )
        .into_response();
    }
    if to.is_empty() {
        return FakeGraphError::graph(
            400,
            100,
            "Invalid parameter",
            "The parameter 'to' is required.",
        )
        .into_response();
    }
    st.counter += 1;
    let wamid = format!("wamid.HBgNNTQ5MTE{:016X}", st.counter);
    st.sent.push(SentRequest {
        path: recorded.path.clone(),
        authorization: recorded.header("authorization").map(str::to_owned),
        body,
        wamid: wamid.clone(),
    });
    axum::Json(json!({
        "messaging_product": "whatsapp",
        "contacts": [{"input": to, "wa_id": to}],
        "messages": [{"id": wamid}],
    }))
    .into_response()
}
