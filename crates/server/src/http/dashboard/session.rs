//! The owner's way in: a login with the owner's password (argon2), a session cookie (HttpOnly,
//! SameSite=Strict, Secure when `POSADA_PUBLIC_URL` is https), a CSRF token on every form — the
//! login's a double-submitted pre-session cookie, the others the session's — and a lockout after
//! repeated failures. Pages take an [`Owner`] (no session: redirected to the login); forms take an
//! [`OwnerForm`] (no session: 401; wrong CSRF token: 403; then the fields).
//!
//! The lockout counts an attempt before its password is checked, in one atomic statement
//! (`posada_store::ops::claim_login_attempt`): parallel guesses get no more argon2 checks than
//! [`MAX_FAILURES`] per window, and while locked even the right password is refused.
//!
//! The password comes from `OWNER_PASSWORD_HASH` or from `posada admin set-password` (stored);
//! with neither, the login says how to set one. Sessions and failed attempts live in the
//! database, so any node can check them.

use argon2::{Argon2, PasswordVerifier};
use axum::extract::{FromRequest, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use chrono::Duration;
use rand::RngCore;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use posada_store::ops::LoginAttempt;

use super::render;
use crate::http::Problem;
use crate::http::middleware::OpsExt;
use crate::http::security::ClientIp;
use crate::state::AppState;

/// Session cookie name.
pub const COOKIE: &str = "posada_session";
/// The login form's pre-session CSRF cookie (double submit: its value is also the form's
/// `csrf_token`).
pub const LOGIN_CSRF_COOKIE: &str = "posada_login_csrf";
/// How long the login form's CSRF cookie lasts.
const LOGIN_CSRF_SECONDS: i64 = 3600;
/// Password checks a client gets per lockout window; the last one that fails locks it out.
pub const MAX_FAILURES: i64 = 5;
/// How long a lockout lasts.
pub const LOCKOUT_MINUTES: i64 = 15;
/// How long a session lasts.
pub const SESSION_HOURS: i64 = 12;

/// The routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/dashboard/login", get(login_form).post(login))
        .route("/dashboard/logout", post(logout))
}

pub use crate::app::owner::hash_password;

/// The session cookie's value in a request, if any.
pub fn session_cookie(headers: &HeaderMap) -> Option<String> {
    cookie(headers, COOKIE)
}

pub(super) fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
        .filter(|v| !v.is_empty())
}

/// A cookie for the dashboard: HttpOnly, SameSite=Strict, and Secure when the public URL is
/// https (a LAN install reached over plain http must still be able to log in).
pub(super) fn dashboard_cookie(
    state: &AppState,
    name: &str,
    value: &str,
    path: &str,
    max_age: i64,
) -> String {
    let secure = if state.settings().public_url_is_https() {
        "; Secure"
    } else {
        ""
    };
    format!("{name}={value}; Path={path}; HttpOnly{secure}; SameSite=Strict; Max-Age={max_age}")
}

/// Constant-time enough for 64-hex-char tokens compared once per request.
pub(super) fn same_token(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

fn well_formed_token(t: &str) -> bool {
    t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit())
}

pub(super) fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// The logged-in owner behind a request, found from the session cookie.
///
/// As an extractor for pages: without a live session the browser is sent to the login.
#[derive(Debug, Clone)]
pub struct Owner {
    /// The session token's hash (its key in the database).
    pub token_hash: String,
    /// The session's CSRF token, which every form of the session's pages carries.
    pub csrf: String,
}

/// The live session behind `headers`, if any.
pub async fn current_session(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<Owner>, Problem> {
    let Some(cookie) = session_cookie(headers) else {
        return Ok(None);
    };
    let token_hash = posada_store::hash_secret(&cookie);
    let found = posada_store::ops::session(state.db(), &token_hash, state.now())
        .await
        .map_err(Problem::from)?;
    Ok(found.map(|s| Owner {
        token_hash,
        csrf: s.csrf_token,
    }))
}

impl FromRequestParts<AppState> for Owner {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        match current_session(state, &parts.headers).await {
            Ok(Some(owner)) => Ok(owner),
            Ok(None) => Err(Redirect::to("/dashboard/login").into_response()),
            Err(p) => Err(p.into_response()),
        }
    }
}

/// A state-changing form sent by the logged-in owner. In order: the body must be a form
/// (`application/x-www-form-urlencoded`; 415 otherwise), the session live (401), the field
/// `csrf_token` the session's (403), and the fields `T` complete and well typed (422).
pub struct OwnerForm<T> {
    /// Who sent it.
    pub owner: Owner,
    /// The form's fields.
    pub form: T,
}

impl<T: DeserializeOwned> FromRequest<AppState> for OwnerForm<T> {
    type Rejection = Problem;

    async fn from_request(req: axum::extract::Request, state: &AppState) -> Result<Self, Problem> {
        let headers = req.headers().clone();
        let Form(fields) = Form::<Vec<(String, String)>>::from_request(req, state).await?;
        let Some(owner) = current_session(state, &headers).await? else {
            return Err(Problem::unauthorized("log in to the dashboard first"));
        };
        let given = fields
            .iter()
            .find(|(k, _)| k == "csrf_token")
            .map(|(_, v)| v.as_str());
        if !given.is_some_and(|g| same_token(g, &owner.csrf)) {
            return Err(csrf_problem());
        }
        let encoded = serde_urlencoded::to_string(&fields)
            .map_err(|e| Problem::bad_request(format!("the form could not be read: {e}")))?;
        let form = serde_urlencoded::from_str::<T>(&encoded).map_err(|e| {
            Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation",
                "The request has invalid fields",
            )
            .detail(format!("Failed to deserialize form body: {e}"))
        })?;
        Ok(OwnerForm { owner, form })
    }
}

fn csrf_problem() -> Problem {
    Problem::forbidden(
        "the form's CSRF token is missing or wrong; reload the dashboard and try again",
    )
}

/// `GET /dashboard/login`: the form, with the pre-session CSRF token in a cookie and in the form
/// (an existing well-formed token is kept, so several open tabs keep working).
async fn login_form(
    State(state): State<AppState>,
    headers: HeaderMap,
    axum::extract::Query(q): axum::extract::Query<LoginQuery>,
) -> Response {
    let token = cookie(&headers, LOGIN_CSRF_COOKIE)
        .filter(|t| well_formed_token(t))
        .unwrap_or_else(random_token);
    let notice = match q.aviso.as_deref() {
        Some("contrasena") => Some("Cambiaste la contraseña: ingresá con la nueva."),
        _ => None,
    };
    login_response(&state, StatusCode::OK, None, notice, &token)
}

/// The login page's query: a notice after a redirect, by key.
#[derive(Deserialize)]
pub struct LoginQuery {
    aviso: Option<String>,
}

/// The login page with `status`, (re)setting the CSRF cookie its form carries.
fn login_response(
    state: &AppState,
    status: StatusCode,
    error: Option<&str>,
    notice: Option<&str>,
    csrf: &str,
) -> Response {
    let mut response = render::login(status, error, notice, csrf);
    let cookie = dashboard_cookie(
        state,
        LOGIN_CSRF_COOKIE,
        csrf,
        "/dashboard/login",
        LOGIN_CSRF_SECONDS,
    );
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The login form's fields.
#[derive(Deserialize)]
struct LoginForm {
    password: String,
    csrf_token: Option<String>,
}

async fn stored_hash(state: &AppState) -> Result<Option<String>, Problem> {
    if let Some(h) = &state.settings().owner_password_hash {
        return Ok(Some(h.expose().to_string()));
    }
    posada_store::ops::owner_password_hash(state.db())
        .await
        .map_err(Problem::from)
}

/// What checking the owner's password said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordCheck {
    /// The right password.
    Right,
    /// A wrong one; `locks`: this failure locked the client out until then.
    Wrong {
        /// Until when the client is now locked out, if this failure locked it.
        locks: Option<chrono::DateTime<chrono::Utc>>,
    },
    /// The client is locked out: the password was not even checked.
    Locked {
        /// Until when.
        until: chrono::DateTime<chrono::Utc>,
    },
    /// No password is set yet.
    NotSet,
}

/// Check `password` against the owner's, counting the attempt for `client` first (one atomic
/// statement, so parallel guesses get no more checks than [`MAX_FAILURES`] per window). A right
/// password clears the client's failures.
pub async fn check_password(
    state: &AppState,
    client: &str,
    password: String,
) -> Result<PasswordCheck, Problem> {
    let Some(phc) = stored_hash(state).await? else {
        return Ok(PasswordCheck::NotSet);
    };
    let now = state.now();
    let lock_for = Duration::minutes(LOCKOUT_MINUTES);
    let attempt =
        posada_store::ops::claim_login_attempt(state.db(), client, now, MAX_FAILURES, lock_for)
            .await
            .map_err(Problem::from)?;
    let locks = match attempt {
        LoginAttempt::Locked { until } => {
            tracing::info!(client = %client, "owner password refused: locked out");
            return Ok(PasswordCheck::Locked { until });
        }
        LoginAttempt::Allowed { locks_until } => locks_until,
    };
    state.ops().count_password_check();
    let verified = tokio::task::spawn_blocking(move || {
        Argon2::default()
            .verify_password(password.as_bytes(), phc.as_str())
            .is_ok()
    })
    .await
    .unwrap_or(false);
    if !verified {
        tracing::warn!(client = %client, locked = locks.is_some(), "owner password check failed");
        return Ok(PasswordCheck::Wrong { locks });
    }
    posada_store::ops::clear_login_failures(state.db(), client)
        .await
        .map_err(Problem::from)?;
    Ok(PasswordCheck::Right)
}

/// The client a request came from, as the lockout counts it.
pub fn client_key(client: Option<Extension<ClientIp>>) -> String {
    client
        .map(|c| c.0.0.to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// `POST /dashboard/login`
async fn login(
    State(state): State<AppState>,
    client: Option<Extension<ClientIp>>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Result<Response, Problem> {
    // Double submit: the form's token must be the one in the pre-session cookie, which another
    // site can neither read nor set.
    let csrf = cookie(&headers, LOGIN_CSRF_COOKIE).filter(|t| well_formed_token(t));
    let Some(csrf) = csrf.filter(|c| form.csrf_token.as_deref().is_some_and(|g| same_token(g, c)))
    else {
        return Ok(login_response(
            &state,
            StatusCode::FORBIDDEN,
            Some("El formulario venció o no es válido. Volvé a ingresar la contraseña."),
            None,
            &random_token(),
        ));
    };
    let client = client_key(client);
    let now = state.now();
    match check_password(&state, &client, form.password).await? {
        PasswordCheck::Right => {}
        PasswordCheck::NotSet => {
            return Ok(login_response(
                &state,
                StatusCode::SERVICE_UNAVAILABLE,
                Some(
                    "Todavía no hay contraseña: definila con `posada admin set-password` o OWNER_PASSWORD_HASH.",
                ),
                None,
                &csrf,
            ));
        }
        PasswordCheck::Locked { until } | PasswordCheck::Wrong { locks: Some(until) } => {
            return Ok(locked_response(
                &state,
                (until - now).num_seconds().max(1),
                &csrf,
            ));
        }
        PasswordCheck::Wrong { locks: None } => {
            return Ok(login_response(
                &state,
                StatusCode::UNAUTHORIZED,
                Some("Contraseña incorrecta."),
                None,
                &csrf,
            ));
        }
    }
    let token = random_token();
    let session_csrf = random_token();
    posada_store::ops::create_session(
        state.db(),
        &posada_store::hash_secret(&token),
        &session_csrf,
        &client,
        Duration::hours(SESSION_HOURS),
        state.now(),
    )
    .await
    .map_err(Problem::from)?;
    tracing::info!(client = %client, "owner logged in to the dashboard");
    let session = dashboard_cookie(&state, COOKIE, &token, "/dashboard", SESSION_HOURS * 3600);
    // The login form's token has done its job.
    let spent = dashboard_cookie(&state, LOGIN_CSRF_COOKIE, "", "/dashboard/login", 0);
    let mut response = Redirect::to("/dashboard").into_response();
    for cookie in [session, spent] {
        if let Ok(v) = HeaderValue::from_str(&cookie) {
            response.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    Ok(response)
}

fn locked_response(state: &AppState, wait_seconds: i64, csrf: &str) -> Response {
    let mut response = login_response(
        state,
        StatusCode::TOO_MANY_REQUESTS,
        Some(&format!(
            "Demasiados intentos fallidos. Probá de nuevo en {} minutos.",
            (wait_seconds + 59) / 60
        )),
        None,
        csrf,
    );
    if let Ok(v) = HeaderValue::from_str(&wait_seconds.to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, v);
    }
    response
}

/// A form with no fields but its CSRF token.
#[derive(Deserialize)]
pub struct NoFields {}

/// `POST /dashboard/logout`
async fn logout(
    State(state): State<AppState>,
    OwnerForm { owner, .. }: OwnerForm<NoFields>,
) -> Result<Response, Problem> {
    posada_store::ops::delete_session(state.db(), &owner.token_hash)
        .await
        .map_err(Problem::from)?;
    let mut response = Redirect::to("/dashboard/login").into_response();
    let cleared = dashboard_cookie(&state, COOKIE, "", "/dashboard", 0);
    if let Ok(v) = HeaderValue::from_str(&cleared) {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(response)
}

/// Like `axum::Form`, with problem+json rejections: a body that is not
/// `application/x-www-form-urlencoded` is 415, a form missing a required field or holding one of
/// the wrong type is 422, an unreadable body 400 (the dashboard's own pages always send the right
/// form; these answers are for other clients).
pub(super) struct Form<T>(pub T);

impl<T, S> axum::extract::FromRequest<S> for Form<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Problem> {
        match axum::Form::<T>::from_request(req, state).await {
            Ok(axum::Form(value)) => Ok(Form(value)),
            Err(rejection) => {
                let status = rejection.status();
                let (slug, title) = match status {
                    StatusCode::UNSUPPORTED_MEDIA_TYPE => {
                        ("unsupported-media-type", "Unsupported media type")
                    }
                    StatusCode::UNPROCESSABLE_ENTITY => {
                        ("validation", "The request has invalid fields")
                    }
                    _ => ("bad-request", "The request could not be read"),
                };
                Err(Problem::new(status, slug, title).detail(rejection.body_text()))
            }
        }
    }
}
