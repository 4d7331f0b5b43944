//! Admin API tokens: stored as SHA-256 hashes, scoped `read` or `write`, revocable.

use chrono::{DateTime, Utc};
use posada_db::Db;
use serde::Serialize;

use crate::{Result, StoreError, hash_secret, on_db};

/// A token's record (never the token itself).
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct ApiToken {
    /// Id.
    pub id: i64,
    /// Who or what it is for.
    pub name: String,
    /// `read` or `write`.
    pub scope: String,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last used.
    pub last_used_at: Option<DateTime<Utc>>,
    /// Revoked.
    pub revoked_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str = "id, name, scope, created_at, last_used_at, revoked_at";

/// Store a new token (given in clear once, kept hashed).
pub async fn create(
    db: &Db,
    name: &str,
    scope: &str,
    secret: &str,
    now: DateTime<Utc>,
) -> Result<ApiToken> {
    let hash = hash_secret(secret);
    Ok(on_db!(db, p => sqlx::query_as(&format!(
        "INSERT INTO api_tokens (name, token_hash, scope, created_at) VALUES ($1, $2, $3, $4) RETURNING {COLUMNS}"))
        .bind(name).bind(&hash).bind(scope).bind(now).fetch_one(p).await)?)
}

/// The live (not revoked) token matching `secret`, marking it used.
pub async fn authenticate(db: &Db, secret: &str, now: DateTime<Utc>) -> Result<Option<ApiToken>> {
    let hash = hash_secret(secret);
    Ok(on_db!(db, p => sqlx::query_as(&format!(
        "UPDATE api_tokens SET last_used_at = $1 WHERE token_hash = $2 AND revoked_at IS NULL RETURNING {COLUMNS}"))
        .bind(now).bind(&hash).fetch_optional(p).await)?)
}

/// Every token, newest first.
pub async fn list(db: &Db) -> Result<Vec<ApiToken>> {
    Ok(
        on_db!(db, p => sqlx::query_as(&format!("SELECT {COLUMNS} FROM api_tokens ORDER BY id DESC")).fetch_all(p).await)?,
    )
}

/// Revoke a token.
pub async fn revoke(db: &Db, id: i64, now: DateTime<Utc>) -> Result<()> {
    let done = on_db!(db, p => sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL").bind(now).bind(id).execute(p).await.map(|r| r.rows_affected()))?;
    if done == 0 {
        return Err(StoreError::NotFound("token"));
    }
    Ok(())
}
