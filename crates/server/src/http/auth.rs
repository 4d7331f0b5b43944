//! Admin authentication: bearer API tokens (stored hashed, scoped `read` or `write`, revocable).
//!
//! Handlers take an [`Admin`] argument; reads (`GET`, `HEAD`) accept any live token, everything
//! else needs a `write` token. Missing or unknown tokens are 401, a read token writing is 403.

use axum::extract::FromRequestParts;
use axum::http::Method;
use axum::http::request::Parts;

use super::Problem;
use crate::state::AppState;

/// An authenticated admin request.
#[derive(Debug, Clone)]
pub struct Admin {
    /// The token's id.
    pub token_id: i64,
    /// The token's name.
    pub name: String,
    /// `read` or `write`.
    pub scope: String,
}

fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
        .filter(|t| !t.is_empty())
}

impl FromRequestParts<AppState> for Admin {
    type Rejection = Problem;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Some(secret) = bearer(parts) else {
            return Err(Problem::unauthorized(
                "send an admin API token as `Authorization: Bearer <token>` (create one with `posada admin create-token`)",
            ));
        };
        let token = posada_store::tokens::authenticate(state.db(), secret, state.now())
            .await
            .map_err(Problem::from)?
            .ok_or_else(|| Problem::unauthorized("the API token is unknown or revoked"))?;
        let reading = parts.method == Method::GET || parts.method == Method::HEAD;
        if !reading && token.scope != "write" {
            return Err(Problem::forbidden(
                "this API token is read-only; use a token with the `write` scope",
            ));
        }
        Ok(Admin {
            token_id: token.id,
            name: token.name,
            scope: token.scope,
        })
    }
}
