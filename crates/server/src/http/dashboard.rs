//! The owner's minimal dashboard: a login with the owner's password (argon2), a session cookie
//! (HttpOnly, SameSite=Strict, Secure when `POSADA_PUBLIC_URL` is https), a CSRF token on every
//! form — the login's a double-submitted pre-session cookie, the others the session's — a lockout
//! after repeated failures, and one server-rendered page with upcoming reservations and open
//! alerts.
//!
//! The lockout counts an attempt before its password is checked, in one atomic statement
//! (`posada_store::ops::claim_login_attempt`): parallel guesses get no more argon2 checks than
//! [`MAX_FAILURES`] per window, and while locked even the right password is refused.
//!
//! The password comes from `OWNER_PASSWORD_HASH` or from `posada admin set-password` (stored);
//! with neither, the login says how to set one. Sessions and failed attempts live in the
//! database, so any node can check them.

use std::fmt::Write as _;

use argon2::{Argon2, PasswordVerifier};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use chrono::Duration;
use rand::RngCore;
use serde::Deserialize;

use posada_store::ops::LoginAttempt;

use super::middleware::OpsExt;
use super::security::ClientIp;
use super::{Path, Problem};
use crate::app::AppError;
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
        .route("/dashboard", get(page))
        .route("/dashboard/login", get(login_form).post(login))
        .route("/dashboard/logout", post(logout))
        .route("/dashboard/tasks/{name}/run", post(run_task))
        .route("/dashboard/conversations/{phone}/reply", post(reply))
        .route("/dashboard/conversations/{phone}/resolve", post(resolve))
}

pub use crate::app::owner::hash_password;

/// The session cookie's value in a request, if any.
pub fn session_cookie(headers: &HeaderMap) -> Option<String> {
    cookie(headers, COOKIE)
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
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
fn dashboard_cookie(state: &AppState, name: &str, value: &str, path: &str, max_age: i64) -> String {
    let secure = if state.settings().public_url_is_https() {
        "; Secure"
    } else {
        ""
    };
    format!("{name}={value}; Path={path}; HttpOnly{secure}; SameSite=Strict; Max-Age={max_age}")
}

/// Constant-time enough for 64-hex-char tokens compared once per request.
fn same_token(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

fn well_formed_token(t: &str) -> bool {
    t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit())
}

fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

use crate::notify::templates::escape_html as esc;

fn layout(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"es\"><head><meta charset=\"utf-8\"><title>{} · posada</title>\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<style>body{{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}}\
table{{border-collapse:collapse;width:100%}}td,th{{border-bottom:1px solid #ddd;padding:.4rem;text-align:left}}\
.error{{color:#a00}}</style></head><body>{body}</body></html>",
        esc(title)
    )
}

/// A logged-in session, found from the cookie.
struct Session {
    token_hash: String,
    csrf: String,
}

async fn current_session(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<Session>, Problem> {
    let Some(cookie) = session_cookie(headers) else {
        return Ok(None);
    };
    let token_hash = posada_store::hash_secret(&cookie);
    let found = posada_store::ops::session(state.db(), &token_hash, state.now())
        .await
        .map_err(Problem::from)?;
    Ok(found.map(|s| Session {
        token_hash,
        csrf: s.csrf_token,
    }))
}

fn csrf_ok(session: &Session, given: Option<&str>) -> bool {
    given.is_some_and(|g| same_token(g, &session.csrf))
}

/// The session behind a state-changing form: logged in (401 otherwise) and carrying the session's
/// CSRF token (403 otherwise).
async fn form_session(
    state: &AppState,
    headers: &HeaderMap,
    csrf: Option<&str>,
) -> Result<Session, Problem> {
    let Some(session) = current_session(state, headers).await? else {
        return Err(Problem::unauthorized("log in to the dashboard first"));
    };
    if !csrf_ok(&session, csrf) {
        return Err(csrf_problem());
    }
    Ok(session)
}

fn csrf_problem() -> Problem {
    Problem::forbidden(
        "the form's CSRF token is missing or wrong; reload the dashboard and try again",
    )
}

/// `GET /dashboard/login`: the form, with the pre-session CSRF token in a cookie and in the form
/// (an existing well-formed token is kept, so several open tabs keep working).
async fn login_form(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let token = cookie(&headers, LOGIN_CSRF_COOKIE)
        .filter(|t| well_formed_token(t))
        .unwrap_or_else(random_token);
    login_response(&state, StatusCode::OK, None, &token)
}

fn login_page(error: Option<&str>, csrf: &str) -> String {
    let error = error
        .map(|e| format!("<p class=\"error\">{}</p>", esc(e)))
        .unwrap_or_default();
    let csrf = esc(csrf);
    layout(
        "Ingresar",
        &format!(
            "<h1>posada</h1>{error}<form method=\"post\" action=\"/dashboard/login\">\
<input type=\"hidden\" name=\"csrf_token\" value=\"{csrf}\">\
<label>Contraseña <input type=\"password\" name=\"password\" autocomplete=\"current-password\" required></label> \
<button type=\"submit\">Ingresar</button></form>"
        ),
    )
}

/// The login page with `status`, (re)setting the CSRF cookie its form carries.
fn login_response(
    state: &AppState,
    status: StatusCode,
    error: Option<&str>,
    csrf: &str,
) -> Response {
    let mut response = (status, Html(login_page(error, csrf))).into_response();
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
            &random_token(),
        ));
    };
    let client = client
        .map(|c| c.0.0.to_string())
        .unwrap_or_else(|| "unknown".into());
    let Some(phc) = stored_hash(&state).await? else {
        return Ok(login_response(
            &state,
            StatusCode::SERVICE_UNAVAILABLE,
            Some(
                "Todavía no hay contraseña: definila con `posada admin set-password` o OWNER_PASSWORD_HASH.",
            ),
            &csrf,
        ));
    };
    let now = state.now();
    let lock_for = Duration::minutes(LOCKOUT_MINUTES);
    let attempt =
        posada_store::ops::claim_login_attempt(state.db(), &client, now, MAX_FAILURES, lock_for)
            .await
            .map_err(Problem::from)?;
    let locks_until = match attempt {
        LoginAttempt::Locked { until } => {
            tracing::info!(client = %client, "dashboard login refused: locked out");
            return Ok(locked_response(
                &state,
                (until - now).num_seconds().max(1),
                &csrf,
            ));
        }
        LoginAttempt::Allowed { locks_until } => locks_until,
    };
    let password = form.password;
    state.ops().count_password_check();
    let verified = tokio::task::spawn_blocking(move || {
        Argon2::default()
            .verify_password(password.as_bytes(), phc.as_str())
            .is_ok()
    })
    .await
    .unwrap_or(false);
    if !verified {
        tracing::warn!(client = %client, locked = locks_until.is_some(), "dashboard login failed");
        if let Some(until) = locks_until {
            return Ok(locked_response(
                &state,
                (until - now).num_seconds().max(1),
                &csrf,
            ));
        }
        return Ok(login_response(
            &state,
            StatusCode::UNAUTHORIZED,
            Some("Contraseña incorrecta."),
            &csrf,
        ));
    }
    posada_store::ops::clear_login_failures(state.db(), &client)
        .await
        .map_err(Problem::from)?;
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
        csrf,
    );
    if let Ok(v) = HeaderValue::from_str(&wait_seconds.to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, v);
    }
    response
}

/// `GET /dashboard`: upcoming reservations and open alerts.
async fn page(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, Problem> {
    let Some(session) = current_session(&state, &headers).await? else {
        return Ok(Redirect::to("/dashboard/login").into_response());
    };
    let today = state.today();
    let stays = posada_store::ops::upcoming_stays(state.db(), today, 100)
        .await
        .map_err(Problem::from)?;
    let alerts = posada_store::ops::open_alerts(state.db())
        .await
        .map_err(Problem::from)?;
    let mut body = String::from("<h1>Próximas reservas</h1>");
    if stays.is_empty() {
        body.push_str("<p>No hay reservas próximas.</p>");
    } else {
        body.push_str("<table><tr><th>Código</th><th>Alojamiento</th><th>Huésped</th><th>Entrada</th><th>Salida</th><th>Personas</th><th>Estado</th></tr>");
        for s in &stays {
            let state_label = s
                .state
                .parse::<posada_domain::ReservationState>()
                .map(|st| st.label_es().to_string())
                .unwrap_or_else(|_| s.state.clone());
            let _ = write!(
                body,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&s.code),
                esc(&s.accommodation),
                esc(&s.guest_name),
                s.check_in.format("%d/%m/%Y"),
                s.check_out.format("%d/%m/%Y"),
                s.guests,
                esc(&state_label)
            );
        }
        body.push_str("</table>");
    }
    body.push_str("<h2>Alertas abiertas</h2>");
    if alerts.is_empty() {
        body.push_str("<p>Sin alertas.</p>");
    } else {
        body.push_str("<ul>");
        for a in &alerts {
            let _ = write!(body, "<li>{}</li>", esc(&a.detail));
        }
        body.push_str("</ul>");
    }
    widget_section(&state, &mut body).await?;
    let csrf = esc(&session.csrf);
    conversations_section(&state, &mut body, &csrf).await?;
    let _ = write!(
        body,
        "<form method=\"post\" action=\"/dashboard/tasks/daily-report/run\"><input type=\"hidden\" name=\"csrf_token\" value=\"{csrf}\">\
<button type=\"submit\">Enviar el informe diario ahora</button></form>\
<form method=\"post\" action=\"/dashboard/logout\"><input type=\"hidden\" name=\"csrf_token\" value=\"{csrf}\">\
<button type=\"submit\">Salir</button></form>"
    );
    let mut response = Html(layout("Reservas", &body)).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// The booking widget's snippets, per active unit, to paste in the owner's own site.
async fn widget_section(state: &AppState, body: &mut String) -> Result<(), Problem> {
    let units = posada_store::accommodations::list(state.db(), true)
        .await
        .map_err(Problem::from)?;
    if units.is_empty() {
        return Ok(());
    }
    body.push_str("<h2>Reservas directas en tu sitio</h2><p>Tu página de reservas: ");
    let public = state.settings().posada_public_url.trim_end_matches('/');
    let _ = write!(
        body,
        "<a href=\"{}/reservar\">{}/reservar</a>. Pegá uno de estos códigos en tu sitio para mostrar el calendario y el botón «Reservar».</p>",
        esc(public),
        esc(public)
    );
    for a in &units {
        let (script, iframe) = super::guest::widget_snippet(public, &a.accommodation.slug);
        let _ = write!(
            body,
            "<h3>{}</h3><p>Con script:</p><pre><code>{}</code></pre><p>Sin script (iframe):</p><pre><code>{}</code></pre>",
            esc(&a.accommodation.name),
            esc(&script),
            esc(&iframe)
        );
    }
    Ok(())
}

/// Guest WhatsApp conversations waiting for the owner, each with its latest message and the forms
/// to answer it (inside WhatsApp's 24 h window) or mark it handled.
async fn conversations_section(
    state: &AppState,
    body: &mut String,
    csrf: &str,
) -> Result<(), Problem> {
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
    body.push_str("<h2>Conversaciones esperando respuesta</h2>");
    if waiting.is_empty() {
        body.push_str("<p>Ningún huésped espera respuesta por WhatsApp.</p>");
        return Ok(());
    }
    let tz = state.settings().tz();
    let now = state.now();
    body.push_str("<table><tr><th>Teléfono</th><th>Huésped</th><th>Espera desde</th><th>Último mensaje</th><th></th></tr>");
    for c in &waiting {
        let conv = &c.conversation;
        let phone = esc(&conv.phone);
        let guest = match (&c.guest_name, &c.reservation_code) {
            (Some(name), Some(code)) => format!("{} ({})", esc(name), esc(code)),
            (Some(name), None) => esc(name),
            _ => "—".to_string(),
        };
        let since = conv
            .awaiting_since
            .map(|t| t.with_timezone(&tz).format("%d/%m %H:%M").to_string())
            .unwrap_or_default();
        let last = c.last_message_body.as_deref().unwrap_or("");
        let window_open = conv.last_inbound_at + Duration::hours(24) > now;
        let answer = if window_open {
            format!(
                "<form method=\"post\" action=\"/dashboard/conversations/{phone}/reply\">\
<input type=\"hidden\" name=\"csrf_token\" value=\"{csrf}\">\
<textarea name=\"text\" rows=\"2\" maxlength=\"4096\" required></textarea>\
<button type=\"submit\">Responder</button></form>"
            )
        } else {
            "<p>Pasaron más de 24 h desde su último mensaje: WhatsApp no permite responder hasta que vuelva a escribir.</p>".to_string()
        };
        let _ = write!(
            body,
            "<tr><td>{phone}</td><td>{guest}</td><td>{since}</td><td>{}</td><td>{answer}\
<form method=\"post\" action=\"/dashboard/conversations/{phone}/resolve\">\
<input type=\"hidden\" name=\"csrf_token\" value=\"{csrf}\">\
<button type=\"submit\">Marcar como atendida</button></form></td></tr>",
            esc(last)
        );
    }
    body.push_str("</table>");
    Ok(())
}

/// The owner's answer typed in the dashboard.
#[derive(Deserialize)]
struct ReplyForm {
    csrf_token: Option<String>,
    text: Option<String>,
}

/// A page telling the owner what went wrong, with a way back.
fn form_error(status: StatusCode, message: &str) -> Response {
    let body = format!(
        "<p class=\"error\">{}</p><p><a href=\"/dashboard\">Volver</a></p>",
        esc(message)
    );
    (status, Html(layout("No se pudo", &body))).into_response()
}

/// `POST /dashboard/conversations/{phone}/reply`: send the owner's WhatsApp answer.
async fn reply(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(phone): Path<String>,
    Form(form): Form<ReplyForm>,
) -> Result<Response, Problem> {
    form_session(&state, &headers, form.csrf_token.as_deref()).await?;
    let text = form.text.as_deref().map(str::trim).unwrap_or("");
    if text.is_empty() {
        return Ok(form_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Escribí la respuesta antes de enviarla.",
        ));
    }
    if text.chars().count() > posada_integrations::whatsapp::MAX_TEXT_BODY {
        return Ok(form_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "La respuesta es demasiado larga para WhatsApp (4096 caracteres como máximo).",
        ));
    }
    let phone = crate::app::conversations::digits(&phone);
    match crate::app::conversations::reply(&state, &phone, text).await {
        Ok(_) => {
            tracing::info!(phone = %super::security::mask_phone(&phone), "owner answered from the dashboard");
            Ok(Redirect::to("/dashboard").into_response())
        }
        Err(AppError::NotFound(_)) => Ok(form_error(
            StatusCode::NOT_FOUND,
            "No hay una conversación con ese número.",
        )),
        Err(AppError::WindowClosed(_)) => Ok(form_error(
            StatusCode::CONFLICT,
            "Pasaron más de 24 h desde el último mensaje del huésped: WhatsApp no permite responderle hasta que vuelva a escribir.",
        )),
        Err(e @ AppError::Internal(_)) => Err(e.into()),
        Err(e) => Ok(form_error(
            StatusCode::SERVICE_UNAVAILABLE,
            &format!("WhatsApp no aceptó el mensaje ahora: {e}. Probá de nuevo en unos minutos."),
        )),
    }
}

/// `POST /dashboard/conversations/{phone}/resolve`: the owner answered another way.
async fn resolve(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(phone): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, Problem> {
    form_session(&state, &headers, form.csrf_token.as_deref()).await?;
    let phone = crate::app::conversations::digits(&phone);
    let found = crate::app::conversations::resolve(&state, &phone)
        .await
        .map_err(Problem::from)?;
    if !found {
        return Ok(form_error(
            StatusCode::NOT_FOUND,
            "No hay una conversación con ese número.",
        ));
    }
    Ok(Redirect::to("/dashboard").into_response())
}

/// Fields of every state-changing dashboard form.
#[derive(Deserialize)]
struct CsrfForm {
    csrf_token: Option<String>,
}

/// `POST /dashboard/logout`
async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Result<Response, Problem> {
    let session = form_session(&state, &headers, form.csrf_token.as_deref()).await?;
    posada_store::ops::delete_session(state.db(), &session.token_hash)
        .await
        .map_err(Problem::from)?;
    let mut response = Redirect::to("/dashboard/login").into_response();
    let cleared = dashboard_cookie(&state, COOKIE, "", "/dashboard", 0);
    if let Ok(v) = HeaderValue::from_str(&cleared) {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(response)
}

/// `POST /dashboard/tasks/{name}/run`: ask the scheduler to run a periodic task now.
async fn run_task(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, Problem> {
    form_session(&state, &headers, form.csrf_token.as_deref()).await?;
    let found = state
        .jobs()
        .admin()
        .periodic_run_now(&name)
        .await
        .map_err(crate::app::AppError::from)?;
    if !found {
        return Err(Problem::not_found("periodic task"));
    }
    tracing::info!(task = %name, "periodic task run requested from the dashboard");
    Ok(Redirect::to("/dashboard").into_response())
}

/// Like `axum::Form`, with problem+json rejections: a body that is not
/// `application/x-www-form-urlencoded` is 415, a form missing a required field or holding one of
/// the wrong type is 422, an unreadable body 400 (the dashboard's own pages always send the right
/// form; these answers are for other clients).
struct Form<T>(T);

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
