//! A small migration runner with one SQL text per dialect.
//!
//! The job engine and the business store each own a *set* of migrations (so the engine stays
//! usable on its own); both sets are recorded in one `posada_migrations` table keyed by
//! (set, version). Each migration runs in its own transaction.

use sqlx::Executor;

use crate::{Db, DbError};

/// One schema change, written once per dialect.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    /// Increasing number within its set.
    pub version: i64,
    /// Short description.
    pub name: &'static str,
    /// SQL for SQLite (may hold several statements).
    pub sqlite: &'static str,
    /// SQL for PostgreSQL (may hold several statements).
    pub postgres: &'static str,
}

/// A named, ordered list of migrations.
#[derive(Debug, Clone, Copy)]
pub struct MigrationSet {
    /// Name of the set (e.g. `jobs`, `store`).
    pub name: &'static str,
    /// The migrations, in version order.
    pub migrations: &'static [Migration],
}

const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS posada_migrations (
    set_name TEXT NOT NULL,
    version BIGINT NOT NULL,
    name TEXT NOT NULL,
    applied_at TEXT NOT NULL,
    PRIMARY KEY (set_name, version)
)";

/// Versions of `set` already applied.
pub async fn applied_versions(db: &Db, set: &str) -> Result<Vec<i64>, DbError> {
    let sql = "SELECT version FROM posada_migrations WHERE set_name = $1 ORDER BY version";
    let rows: Vec<(i64,)> = match db {
        Db::Sqlite(pool) => {
            pool.execute(CREATE_TABLE).await?;
            sqlx::query_as(sql).bind(set).fetch_all(pool).await?
        }
        Db::Postgres(pool) => {
            pool.execute(CREATE_TABLE).await?;
            sqlx::query_as(sql).bind(set).fetch_all(pool).await?
        }
    };
    Ok(rows.into_iter().map(|(v,)| v).collect())
}

/// How many migrations of `set` are not applied yet.
pub async fn pending(db: &Db, set: &MigrationSet) -> Result<usize, DbError> {
    let applied = applied_versions(db, set.name).await?;
    Ok(set
        .migrations
        .iter()
        .filter(|m| !applied.contains(&m.version))
        .count())
}

/// Apply every migration of `set` not applied yet; returns how many ran. Safe to run from several
/// nodes at once on PostgreSQL (an advisory lock serialises them).
pub async fn migrate(db: &Db, set: &MigrationSet) -> Result<usize, DbError> {
    let mut ran = 0;
    let now = chrono::Utc::now().to_rfc3339();
    match db {
        Db::Sqlite(pool) => {
            pool.execute(CREATE_TABLE).await?;
            for m in set.migrations {
                let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
                let done: Option<(i64,)> = sqlx::query_as(
                    "SELECT version FROM posada_migrations WHERE set_name = $1 AND version = $2",
                )
                .bind(set.name)
                .bind(m.version)
                .fetch_optional(&mut *tx)
                .await?;
                if done.is_some() {
                    continue;
                }
                (&mut *tx).execute(m.sqlite).await?;
                sqlx::query("INSERT INTO posada_migrations (set_name, version, name, applied_at) VALUES ($1, $2, $3, $4)")
                    .bind(set.name).bind(m.version).bind(m.name).bind(&now)
                    .execute(&mut *tx).await?;
                tx.commit().await?;
                tracing::info!(
                    migration.set = set.name,
                    migration.version = m.version,
                    migration.name = m.name,
                    "migration applied"
                );
                ran += 1;
            }
        }
        Db::Postgres(pool) => {
            let mut tx = pool.begin().await?;
            // One lock for all migrations of all sets: nodes starting together take turns.
            sqlx::query("SELECT pg_advisory_xact_lock(7263544012)")
                .execute(&mut *tx)
                .await?;
            (&mut *tx).execute(CREATE_TABLE).await?;
            for m in set.migrations {
                let done: Option<(i64,)> = sqlx::query_as(
                    "SELECT version FROM posada_migrations WHERE set_name = $1 AND version = $2",
                )
                .bind(set.name)
                .bind(m.version)
                .fetch_optional(&mut *tx)
                .await?;
                if done.is_some() {
                    continue;
                }
                (&mut *tx).execute(m.postgres).await?;
                sqlx::query("INSERT INTO posada_migrations (set_name, version, name, applied_at) VALUES ($1, $2, $3, $4)")
                    .bind(set.name).bind(m.version).bind(m.name).bind(&now)
                    .execute(&mut *tx).await?;
                tracing::info!(
                    migration.set = set.name,
                    migration.version = m.version,
                    migration.name = m.name,
                    "migration applied"
                );
                ran += 1;
            }
            tx.commit().await?;
        }
    }
    Ok(ran)
}
