//! Secrets the application makes for itself (one row per name, shared by every node).

use chrono::{DateTime, Utc};
use posada_db::Db;

use crate::{Result, on_db};

/// The secret called `name`: the stored one, or `candidate` stored now if there is none (two
/// nodes racing both read the one that won).
pub async fn get_or_create(
    db: &Db,
    name: &str,
    candidate: &str,
    now: DateTime<Utc>,
) -> Result<String> {
    on_db!(db, p => sqlx::query(
        "INSERT INTO app_secrets (name, value, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING")
        .bind(name).bind(candidate).bind(now).execute(p).await.map(|_| ()))?;
    let (value,): (String,) = on_db!(db, p => sqlx::query_as(
        "SELECT value FROM app_secrets WHERE name = $1")
        .bind(name).fetch_one(p).await)?;
    Ok(value)
}
