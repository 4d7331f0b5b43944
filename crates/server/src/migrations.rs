//! Every migration set posada applies, in order: the job engine's, then the store's.

use posada_db::{Db, DbError, Migration, MigrationSet};

/// The sets, in the order they are applied.
pub fn sets() -> Vec<&'static MigrationSet> {
    vec![&posada_jobs::MIGRATIONS, &posada_store::MIGRATIONS]
}

/// Apply everything pending, then the data steps SQL cannot do on every dialect (hashing export
/// tokens an older version stored in plain text); returns how many migrations ran. Refuses to run
/// over an applied migration whose text changed since (checksums, see `posada_db::migrate`).
pub async fn run(db: &Db) -> Result<usize, DbError> {
    run_with(db, &mut |_, _| {}).await
}

/// [`run`], calling `on_applied(set, migration)` after each migration (progress for a person).
pub async fn run_with(
    db: &Db,
    on_applied: &mut (dyn FnMut(&str, &Migration) + Send),
) -> Result<usize, DbError> {
    // Check every set before applying any, so a changed migration stops everything.
    for set in sets() {
        posada_db::verify(db, set).await?;
    }
    let mut ran = 0;
    for set in sets() {
        ran += posada_db::migrate_with(db, set, &mut |m| on_applied(set.name, m)).await?;
    }
    let hashed = posada_store::feeds::hash_legacy_export_tokens(db)
        .await
        .map_err(|e| match e {
            posada_store::StoreError::Sqlx(e) => DbError::Sqlx(e),
            other => DbError::Sqlx(sqlx::Error::Protocol(other.to_string())),
        })?;
    if hashed > 0 {
        tracing::info!(
            tokens = hashed,
            "plain-text export tokens hashed; their URLs keep working"
        );
    }
    Ok(ran)
}

/// How many migrations are not applied yet.
pub async fn pending(db: &Db) -> Result<usize, DbError> {
    let mut n = 0;
    for set in sets() {
        n += posada_db::pending(db, set).await?;
    }
    Ok(n)
}

/// The migrations not applied yet, as (set, migration), in the order they would run.
pub async fn pending_list(db: &Db) -> Result<Vec<(&'static str, Migration)>, DbError> {
    let mut out = Vec::new();
    for set in sets() {
        for m in posada_db::pending_migrations(db, set).await? {
            out.push((set.name, m));
        }
    }
    Ok(out)
}
