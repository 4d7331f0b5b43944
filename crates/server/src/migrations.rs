//! Every migration set posada applies, in order: the job engine's, then the store's.

use posada_db::{Db, DbError, MigrationSet};

/// The sets, in the order they are applied.
pub fn sets() -> Vec<&'static MigrationSet> {
    vec![&posada_jobs::MIGRATIONS, &posada_store::MIGRATIONS]
}

/// Apply everything pending, then the data steps SQL cannot do on every dialect (hashing export
/// tokens an older version stored in plain text); returns how many migrations ran.
pub async fn run(db: &Db) -> Result<usize, DbError> {
    let mut ran = 0;
    for set in sets() {
        ran += posada_db::migrate(db, set).await?;
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
