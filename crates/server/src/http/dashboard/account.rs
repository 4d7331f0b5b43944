//! Cuenta: the owner changes the password (the current one checked with the login's lockout).
//! A new password ends every session, this one included: the owner logs in again with it.

use axum::Extension;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use super::render::{self, Shell};
use super::session::{Owner, OwnerForm, PasswordCheck, check_password, client_key};
use crate::app::owner::MIN_PASSWORD_CHARS;
use crate::http::Problem;
use crate::http::security::ClientIp;
use crate::state::AppState;

/// This section's templates (name, source), registered by `render`.
pub const TEMPLATES: &[(&str, &str)] = &[(
    "account.html",
    include_str!("../../../templates/dashboard/account.html"),
)];

/// This section's routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/dashboard/cuenta", get(page))
        .route("/dashboard/cuenta/contrasena", post(change_password))
}

/// A field's error on the form.
#[derive(Default, serde::Serialize)]
struct Errors {
    current: Option<&'static str>,
    new: Option<String>,
    repeat: Option<&'static str>,
}

fn render_page(owner: &Owner, state: &AppState, status: StatusCode, errors: Errors) -> Response {
    render::page_with_status(
        status,
        owner,
        Shell {
            section: "cuenta",
            title: "Cuenta",
            ..Shell::default()
        },
        "account.html",
        serde_json::json!({
            "from_config": state.settings().owner_password_hash.is_some(),
            "min": MIN_PASSWORD_CHARS,
            "errors": errors,
        }),
    )
}

/// No query parameters are read; accepted so a stray one is not an error.
#[derive(Deserialize)]
pub struct NoQuery {}

/// `GET /dashboard/cuenta`
async fn page(State(state): State<AppState>, owner: Owner, Query(_): Query<NoQuery>) -> Response {
    render_page(&owner, &state, StatusCode::OK, Errors::default())
}

/// The password form.
#[derive(Deserialize)]
pub struct PasswordForm {
    actual: String,
    nueva: String,
    repetida: String,
}

/// `POST /dashboard/cuenta/contrasena`
async fn change_password(
    State(state): State<AppState>,
    client: Option<Extension<ClientIp>>,
    OwnerForm { owner, form }: OwnerForm<PasswordForm>,
) -> Result<Response, Problem> {
    if state.settings().owner_password_hash.is_some() {
        return Ok(render::message(
            &owner,
            StatusCode::CONFLICT,
            "La contraseña viene de la configuración (OWNER_PASSWORD_HASH): cambiala ahí.",
            "/dashboard/cuenta",
        ));
    }
    let mut errors = Errors::default();
    if form.nueva.chars().count() < MIN_PASSWORD_CHARS {
        errors.new = Some(format!(
            "La contraseña nueva debe tener al menos {MIN_PASSWORD_CHARS} caracteres."
        ));
    } else if form.nueva != form.repetida {
        errors.repeat = Some("Las dos contraseñas nuevas no coinciden.");
    }
    if errors.new.is_some() || errors.repeat.is_some() {
        return Ok(render_page(
            &owner,
            &state,
            StatusCode::UNPROCESSABLE_ENTITY,
            errors,
        ));
    }
    match check_password(&state, &client_key(client), form.actual).await? {
        PasswordCheck::Right => {}
        PasswordCheck::Wrong { locks: None } => {
            errors.current = Some("La contraseña actual no es correcta.");
            return Ok(render_page(
                &owner,
                &state,
                StatusCode::UNPROCESSABLE_ENTITY,
                errors,
            ));
        }
        PasswordCheck::Wrong { locks: Some(_) } | PasswordCheck::Locked { .. } => {
            return Ok(render::message(
                &owner,
                StatusCode::TOO_MANY_REQUESTS,
                "Demasiados intentos fallidos. Probá de nuevo más tarde.",
                "/dashboard/cuenta",
            ));
        }
        PasswordCheck::NotSet => {
            return Err(Problem::internal(
                "a session exists without an owner password",
            ));
        }
    }
    let new = form.nueva;
    let phc = tokio::task::spawn_blocking(move || crate::app::owner::hash_password(&new))
        .await
        .map_err(Problem::internal)?
        .map_err(Problem::internal)?;
    posada_store::ops::set_owner_password_hash(state.db(), &phc, state.now())
        .await
        .map_err(Problem::from)?;
    tracing::info!("owner password changed from the dashboard; every session ended");
    Ok(Redirect::to("/dashboard/login?aviso=contrasena").into_response())
}
