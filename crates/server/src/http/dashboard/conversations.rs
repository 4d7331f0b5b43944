//! Conversaciones: guests' WhatsApp threads and the owner's answers.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::post;
use serde::Deserialize;

use super::render;
use super::session::{NoFields, OwnerForm};
use crate::app::AppError;
use crate::http::security::mask_phone;
use crate::http::{Path, Problem};
use crate::state::AppState;

/// This section's templates (name, source), registered by `render`.
pub const TEMPLATES: &[(&str, &str)] = &[];

/// This section's routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/dashboard/conversations/{phone}/reply", post(reply))
        .route("/dashboard/conversations/{phone}/resolve", post(resolve))
}

/// The owner's answer.
#[derive(Deserialize)]
pub struct ReplyForm {
    text: Option<String>,
}

/// `POST /dashboard/conversations/{phone}/reply`: send the owner's WhatsApp answer.
pub async fn reply(
    State(state): State<AppState>,
    Path(phone): Path<String>,
    OwnerForm { owner, form }: OwnerForm<ReplyForm>,
) -> Result<Response, Problem> {
    let back = "/dashboard";
    let text = form.text.as_deref().map(str::trim).unwrap_or("");
    if text.is_empty() {
        return Ok(render::message(
            &owner,
            StatusCode::UNPROCESSABLE_ENTITY,
            "Escribí la respuesta antes de enviarla.",
            back,
        ));
    }
    if text.chars().count() > posada_integrations::whatsapp::MAX_TEXT_BODY {
        return Ok(render::message(
            &owner,
            StatusCode::UNPROCESSABLE_ENTITY,
            "La respuesta es demasiado larga para WhatsApp (4096 caracteres como máximo).",
            back,
        ));
    }
    let phone = crate::app::conversations::digits(&phone);
    match crate::app::conversations::reply(&state, &phone, text).await {
        Ok(_) => {
            tracing::info!(phone = %mask_phone(&phone), "owner answered from the dashboard");
            Ok(Redirect::to(back).into_response())
        }
        Err(AppError::NotFound(_)) => Ok(render::message(
            &owner,
            StatusCode::NOT_FOUND,
            "No hay una conversación con ese número.",
            back,
        )),
        Err(AppError::WindowClosed(_)) => Ok(render::message(
            &owner,
            StatusCode::CONFLICT,
            "Pasaron más de 24 h desde el último mensaje del huésped: WhatsApp no permite responderle hasta que vuelva a escribir.",
            back,
        )),
        Err(e @ AppError::Internal(_)) => Err(e.into()),
        Err(e) => Ok(render::message(
            &owner,
            StatusCode::SERVICE_UNAVAILABLE,
            &format!("WhatsApp no aceptó el mensaje ahora: {e}. Probá de nuevo en unos minutos."),
            back,
        )),
    }
}

/// `POST /dashboard/conversations/{phone}/resolve`: the owner answered another way.
pub async fn resolve(
    State(state): State<AppState>,
    Path(phone): Path<String>,
    OwnerForm { owner, .. }: OwnerForm<NoFields>,
) -> Result<Response, Problem> {
    let phone = crate::app::conversations::digits(&phone);
    let found = crate::app::conversations::resolve(&state, &phone)
        .await
        .map_err(Problem::from)?;
    if !found {
        return Ok(render::message(
            &owner,
            StatusCode::NOT_FOUND,
            "No hay una conversación con ese número.",
            "/dashboard",
        ));
    }
    Ok(Redirect::to("/dashboard").into_response())
}
