//! Every migration set posada applies, in order: the job engine's, then the store's.

use posada_db::{Db, DbError, MigrationSet};

/// The sets, in the order they are applied.
pub fn sets() -> Vec<&'static MigrationSet> {
    vec![&posada_jobs::MIGRATIONS, &posada_store::MIGRATIONS]
}

/// Apply everything pending; returns how many migrations ran.
pub async fn run(db: &Db) -> Result<usize, DbError> {
    let mut ran = 0;
    for set in sets() {
        ran += posada_db::migrate(db, set).await?;
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
