//! A fake Mercado Pago: `POST /checkout/preferences` (honouring `X-Idempotency-Key`),
//! `GET /checkout/preferences/{id}`, `GET /v1/payments/{id}` with payments the test sets, forced 500s,
//! a request log, and [`sign_webhook`] to sign notifications the way Mercado Pago does.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::server::{RecordedRequest, Server, lock, serve};

/// A preference the fake created.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredPreference {
    /// Its id.
    pub id: String,
    /// Its payment link.
    pub init_point: String,
    /// The `X-Idempotency-Key` it was created with.
    pub idempotency_key: Option<String>,
    /// The request body as received.
    pub request: Value,
}

/// A payment for `GET /v1/payments/{id}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakePayment {
    /// `approved`, `pending`, `rejected`, `refunded`…
    pub status: String,
    /// Mercado Pago's detail, e.g. `accredited`.
    pub status_detail: Option<String>,
    /// The reservation code.
    pub external_reference: Option<String>,
    /// The amount exactly as it appears in the JSON, e.g. `"15000.5"`.
    pub transaction_amount: String,
    /// ISO 4217 currency.
    pub currency_id: String,
}

impl FakePayment {
    /// An approved ARS payment of `amount` (decimal text) for `reference`.
    pub fn approved(reference: &str, amount: &str) -> Self {
        Self {
            status: "approved".into(),
            status_detail: Some("accredited".into()),
            external_reference: Some(reference.into()),
            transaction_amount: amount.into(),
            currency_id: "ARS".into(),
        }
    }

    /// The same payment with another status.
    pub fn with_status(mut self, status: &str) -> Self {
        self.status = status.into();
        self.status_detail = None;
        self
    }

    /// The JSON text the API would answer, amount written verbatim.
    fn to_json_text(&self, id: &str) -> String {
        let id_json = if !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) {
            id.to_owned()
        } else {
            json!(id).to_string()
        };
        let approved = if self.status == "approved" {
            json!("2026-11-20T12:00:00.000-04:00")
        } else {
            Value::Null
        };
        format!(
            r#"{{"id":{id_json},"status":{},"status_detail":{},"external_reference":{},"transaction_amount":{},"currency_id":{},"date_approved":{},"date_created":"2026-11-20T11:59:00.000-04:00","live_mode":false,"payment_method_id":"account_money"}}"#,
            json!(self.status),
            json!(self.status_detail),
            json!(self.external_reference),
            self.transaction_amount,
            json!(self.currency_id),
            approved,
        )
    }
}

#[derive(Default)]
struct MpState {
    preferences: Vec<StoredPreference>,
    by_idempotency_key: HashMap<String, usize>,
    idempotency_keys_seen: Vec<String>,
    payments: HashMap<String, String>,
    fail_next: u32,
    requests: Vec<RecordedRequest>,
    hang: tokio::sync::watch::Sender<bool>,
}

/// The fake. Dropping it stops the server.
pub struct FakeMercadoPago {
    base_url: String,
    state: Arc<Mutex<MpState>>,
    _server: Server,
}

impl FakeMercadoPago {
    /// Starts the fake on 127.0.0.1 with a free port.
    pub async fn start() -> Self {
        let state = Arc::new(Mutex::new(MpState::default()));
        let server = serve(Router::new().fallback(handle).with_state(state.clone())).await;
        Self {
            base_url: format!("http://{}", server.addr),
            state,
            _server: server,
        }
    }

    /// `http://127.0.0.1:<port>`: the API base URL to configure.
    pub fn base_url(&self) -> String {
        self.base_url.clone()
    }

    /// Preferences created so far, in order (a repeated idempotency key does not add one).
    pub fn preferences(&self) -> Vec<StoredPreference> {
        lock(&self.state).preferences.clone()
    }

    /// Every `X-Idempotency-Key` received on preference creation, repeats included.
    pub fn idempotency_keys(&self) -> Vec<String> {
        lock(&self.state).idempotency_keys_seen.clone()
    }

    /// Sets (or replaces) payment `id`.
    pub fn set_payment(&self, id: &str, payment: &FakePayment) {
        let text = payment.to_json_text(id);
        lock(&self.state).payments.insert(id.to_owned(), text);
    }

    /// Sets payment `id` to an arbitrary JSON document.
    pub fn set_payment_json(&self, id: &str, payment: &Value) {
        lock(&self.state)
            .payments
            .insert(id.to_owned(), payment.to_string());
    }

    /// Makes the next `n` requests (any endpoint) answer 500.
    pub fn fail_next(&self, n: u32) {
        lock(&self.state).fail_next = n;
    }

    /// Stops answering: from now on every request waits, unrecorded, until [`Self::resume`] (a
    /// provider that hangs). A request whose client gives up meanwhile is never recorded; one still
    /// waiting at the resume is then served normally.
    pub fn hang(&self) {
        lock(&self.state).hang.send_replace(true);
    }

    /// Answers again after [`Self::hang`].
    pub fn resume(&self) {
        lock(&self.state).hang.send_replace(false);
    }

    /// Every request received, in order (failed ones included).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.state).requests.clone()
    }

    /// Requests for `GET /v1/payments/{id}` received so far.
    pub fn payment_lookups(&self, id: &str) -> usize {
        let path = format!("/v1/payments/{id}");
        lock(&self.state)
            .requests
            .iter()
            .filter(|r| r.method == "GET" && r.path == path)
            .count()
    }
}

/// The `x-signature` header Mercado Pago would send: `ts=<ts>,v1=<hex HMAC-SHA256>` over
/// `id:<data_id lowercased if alphanumeric>;request-id:<request_id>;ts:<ts>;`.
pub fn sign_webhook(secret: &str, data_id: &str, request_id: &str, ts: i64) -> String {
    let id = if data_id.chars().all(|c| c.is_ascii_alphanumeric()) {
        data_id.to_ascii_lowercase()
    } else {
        data_id.to_owned()
    };
    let manifest = format!("id:{id};request-id:{request_id};ts:{ts};");
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(mac) => mac,
        Err(err) => panic!("HMAC accepts any key length: {err}"),
    };
    mac.update(manifest.as_bytes());
    format!("ts={ts},v1={}", hex::encode(mac.finalize().into_bytes()))
}

fn mp_error(status: StatusCode, message: &str, error: &str) -> Response {
    (
        status,
        axum::Json(
            json!({"message": message, "error": error, "status": status.as_u16(), "cause": []}),
        ),
    )
        .into_response()
}

async fn handle(State(state): State<Arc<Mutex<MpState>>>, request: Request<Body>) -> Response {
    let mut hang = lock(&state).hang.subscribe();
    // The sender lives in the state, so it outlives this wait.
    let _ = hang.wait_for(|hanging| !*hanging).await;
    let recorded = RecordedRequest::capture(request).await;
    let mut st = lock(&state);
    st.requests.push(recorded.clone());
    if st.fail_next > 0 {
        st.fail_next -= 1;
        return mp_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal error",
            "internal_error",
        );
    }
    let authorized = recorded
        .header("authorization")
        .is_some_and(|a| a.starts_with("Bearer ") && a.len() > 7);
    if !authorized {
        return mp_error(
            StatusCode::UNAUTHORIZED,
            "invalid access token",
            "unauthorized",
        );
    }
    let segments: Vec<&str> = recorded.path.trim_matches('/').split('/').collect();
    match (recorded.method.as_str(), segments.as_slice()) {
        ("POST", ["checkout", "preferences"]) => create_preference(&mut st, &recorded),
        ("GET", ["checkout", "preferences", id]) => {
            match st.preferences.iter().find(|p| p.id == *id) {
                Some(p) => axum::Json(preference_answer(p)).into_response(),
                None => mp_error(StatusCode::NOT_FOUND, "preference not found", "not_found"),
            }
        }
        ("GET", ["v1", "payments", id]) => match st.payments.get(*id) {
            Some(text) => {
                ([(header::CONTENT_TYPE, "application/json")], text.clone()).into_response()
            }
            None => mp_error(StatusCode::NOT_FOUND, "Payment not found", "not_found"),
        },
        _ => mp_error(StatusCode::NOT_FOUND, "resource not found", "not_found"),
    }
}

fn create_preference(st: &mut MpState, recorded: &RecordedRequest) -> Response {
    let key = recorded.header("x-idempotency-key").map(str::to_owned);
    if let Some(key) = &key {
        st.idempotency_keys_seen.push(key.clone());
        if let Some(&index) = st.by_idempotency_key.get(key)
            && let Some(existing) = st.preferences.get(index)
        {
            return (StatusCode::CREATED, axum::Json(preference_answer(existing))).into_response();
        }
    }
    let Some(body) = recorded.json() else {
        return mp_error(StatusCode::BAD_REQUEST, "invalid JSON body", "bad_request");
    };
    if let Some(problem) = preference_problem(&body) {
        return mp_error(StatusCode::BAD_REQUEST, &problem, "invalid_items");
    }
    let n = st.preferences.len() + 1;
    let id = format!("123456789-{n:08x}-fake-pref");
    let preference = StoredPreference {
        init_point: format!("https://www.mercadopago.com.ar/checkout/v1/redirect?pref_id={id}"),
        id,
        idempotency_key: key.clone(),
        request: body,
    };
    st.preferences.push(preference.clone());
    if let Some(key) = key {
        st.by_idempotency_key.insert(key, st.preferences.len() - 1);
    }
    (
        StatusCode::CREATED,
        axum::Json(preference_answer(&preference)),
    )
        .into_response()
}

/// What the real API rejects with 400, as far as posada cares.
fn preference_problem(body: &Value) -> Option<String> {
    let items = body.get("items").and_then(Value::as_array);
    let Some(items) = items.filter(|i| !i.is_empty()) else {
        return Some("items needed".into());
    };
    for item in items {
        if item
            .get("title")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            return Some("item.title needed".into());
        }
        if item
            .get("unit_price")
            .and_then(Value::as_f64)
            .is_none_or(|p| p <= 0.0)
        {
            return Some("unit_price invalid".into());
        }
        if item
            .get("quantity")
            .and_then(Value::as_u64)
            .is_none_or(|q| q == 0)
        {
            return Some("quantity invalid".into());
        }
    }
    if body.get("auto_return").is_some()
        && body
            .get("back_urls")
            .and_then(|b| b.get("success"))
            .and_then(Value::as_str)
            .is_none()
    {
        return Some("auto_return invalid. back_url.success must be defined".into());
    }
    None
}

fn preference_answer(p: &StoredPreference) -> Value {
    let mut answer = p.request.clone();
    if let Some(obj) = answer.as_object_mut() {
        obj.insert("id".into(), json!(p.id));
        obj.insert("init_point".into(), json!(p.init_point));
        obj.insert(
            "sandbox_init_point".into(),
            json!(p.init_point.replace("www.", "sandbox.")),
        );
        obj.insert("collector_id".into(), json!(123_456_789));
    }
    answer
}
