//! A small migration runner with one SQL text per dialect.
//!
//! The job engine and the business store each own a *set* of migrations (so the engine stays
//! usable on its own); both sets are recorded in one `posada_migrations` table keyed by
//! (set, version). Each migration runs in its own transaction.
//!
//! Each applied migration records a checksum of the SQL it ran (SHA-256 of the dialect's text).
//! Before applying anything, the runner compares the recorded checksums with this build's texts
//! and refuses to go on over a migration edited after it was applied
//! ([`DbError::MigrationChanged`]); rows written before checksums existed get theirs filled in.

use sha2::{Digest, Sha256};
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

impl Migration {
    /// SHA-256 (hex) of the SQL this migration runs on `backend`.
    pub fn checksum(&self, backend: crate::Backend) -> String {
        let sql = match backend {
            crate::Backend::Sqlite => self.sqlite,
            crate::Backend::Postgres => self.postgres,
        };
        hex::encode(Sha256::digest(sql.as_bytes()))
    }
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
    checksum TEXT,
    PRIMARY KEY (set_name, version)
)";

/// Tables made before checksums existed get the column (SQLite has no `ADD COLUMN IF NOT EXISTS`).
const SQLITE_HAS_CHECKSUM: &str =
    "SELECT COUNT(*) FROM pragma_table_info('posada_migrations') WHERE name = 'checksum'";
const ADD_CHECKSUM: &str = "ALTER TABLE posada_migrations ADD COLUMN checksum TEXT";
const PG_ADD_CHECKSUM: &str =
    "ALTER TABLE posada_migrations ADD COLUMN IF NOT EXISTS checksum TEXT";

async fn ensure_table_sqlite(
    conn: impl sqlx::Acquire<'_, Database = sqlx::Sqlite>,
) -> Result<(), DbError> {
    let mut conn = conn.acquire().await?;
    (&mut *conn).execute(CREATE_TABLE).await?;
    let (has,): (i64,) = sqlx::query_as(SQLITE_HAS_CHECKSUM)
        .fetch_one(&mut *conn)
        .await?;
    if has == 0 {
        (&mut *conn).execute(ADD_CHECKSUM).await?;
    }
    Ok(())
}

type AppliedRow = (i64, String, Option<String>);
const APPLIED_ROWS: &str =
    "SELECT version, name, checksum FROM posada_migrations WHERE set_name = $1 ORDER BY version";

/// Compare recorded checksums with this build's; `Ok` lists the versions whose checksum is not
/// recorded yet.
fn check_rows(
    set: &MigrationSet,
    backend: crate::Backend,
    rows: &[AppliedRow],
) -> Result<Vec<(i64, String)>, DbError> {
    let mut missing = Vec::new();
    for (version, _, recorded) in rows {
        let Some(m) = set.migrations.iter().find(|m| m.version == *version) else {
            // Applied by a newer build: not ours to judge.
            continue;
        };
        let current = m.checksum(backend);
        match recorded {
            None => missing.push((*version, current)),
            Some(r) if *r == current => {}
            Some(r) => {
                return Err(DbError::MigrationChanged {
                    set: set.name.to_string(),
                    version: m.version,
                    name: m.name.to_string(),
                    recorded: r.clone(),
                    current,
                });
            }
        }
    }
    Ok(missing)
}

/// Check that no migration of `set` applied to `db` was changed since (read-only: rows without
/// a checksum are accepted and left as they are).
pub async fn verify(db: &Db, set: &MigrationSet) -> Result<(), DbError> {
    let rows: Vec<AppliedRow> = match db {
        Db::Sqlite(pool) => {
            ensure_table_sqlite(pool).await?;
            sqlx::query_as(APPLIED_ROWS)
                .bind(set.name)
                .fetch_all(pool)
                .await?
        }
        Db::Postgres(pool) => {
            pool.execute(CREATE_TABLE).await?;
            pool.execute(PG_ADD_CHECKSUM).await?;
            sqlx::query_as(APPLIED_ROWS)
                .bind(set.name)
                .fetch_all(pool)
                .await?
        }
    };
    check_rows(set, db.backend(), &rows).map(|_| ())
}

/// The migrations of `set` not applied yet, in order (after checking the applied ones, like
/// [`verify`]).
pub async fn pending_migrations(db: &Db, set: &MigrationSet) -> Result<Vec<Migration>, DbError> {
    verify(db, set).await?;
    let applied = applied_versions(db, set.name).await?;
    Ok(set
        .migrations
        .iter()
        .filter(|m| !applied.contains(&m.version))
        .copied()
        .collect())
}

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
/// nodes at once on PostgreSQL (an advisory lock serialises them). Refuses to apply anything when
/// an applied migration was changed since ([`DbError::MigrationChanged`]).
pub async fn migrate(db: &Db, set: &MigrationSet) -> Result<usize, DbError> {
    migrate_with(db, set, &mut |_| {}).await
}

/// [`migrate`], calling `on_applied` after each migration commits (progress for a person).
pub async fn migrate_with(
    db: &Db,
    set: &MigrationSet,
    on_applied: &mut (dyn FnMut(&Migration) + Send),
) -> Result<usize, DbError> {
    let mut ran = 0;
    let now = chrono::Utc::now().to_rfc3339();
    match db {
        Db::Sqlite(pool) => {
            {
                let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
                ensure_table_sqlite(&mut *tx).await?;
                let rows: Vec<AppliedRow> = sqlx::query_as(APPLIED_ROWS)
                    .bind(set.name)
                    .fetch_all(&mut *tx)
                    .await?;
                for (version, checksum) in check_rows(set, crate::Backend::Sqlite, &rows)? {
                    sqlx::query("UPDATE posada_migrations SET checksum = $1 WHERE set_name = $2 AND version = $3")
                        .bind(checksum).bind(set.name).bind(version)
                        .execute(&mut *tx).await?;
                }
                tx.commit().await?;
            }
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
                sqlx::query("INSERT INTO posada_migrations (set_name, version, name, applied_at, checksum) VALUES ($1, $2, $3, $4, $5)")
                    .bind(set.name).bind(m.version).bind(m.name).bind(&now)
                    .bind(m.checksum(crate::Backend::Sqlite))
                    .execute(&mut *tx).await?;
                tx.commit().await?;
                on_applied(m);
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
            (&mut *tx).execute(PG_ADD_CHECKSUM).await?;
            let rows: Vec<AppliedRow> = sqlx::query_as(APPLIED_ROWS)
                .bind(set.name)
                .fetch_all(&mut *tx)
                .await?;
            for (version, checksum) in check_rows(set, crate::Backend::Postgres, &rows)? {
                sqlx::query(
                    "UPDATE posada_migrations SET checksum = $1 WHERE set_name = $2 AND version = $3",
                )
                .bind(checksum)
                .bind(set.name)
                .bind(version)
                .execute(&mut *tx)
                .await?;
            }
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
                sqlx::query("INSERT INTO posada_migrations (set_name, version, name, applied_at, checksum) VALUES ($1, $2, $3, $4, $5)")
                    .bind(set.name).bind(m.version).bind(m.name).bind(&now)
                    .bind(m.checksum(crate::Backend::Postgres))
                    .execute(&mut *tx).await?;
                on_applied(m);
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
