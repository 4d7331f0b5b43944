//! `posada backup FILE`: a consistent copy of the SQLite database taken while posada runs
//! (`VACUUM INTO`, which reads one snapshot and writes a compact new file). PostgreSQL has its own
//! tool for this, so for a PostgreSQL URL the command says to use `pg_dump` instead.

use std::path::Path;

use anyhow::{Context, bail};
use posada_db::{ConnectOptions, Db};

use crate::config::Settings;

/// Copy the database named by the settings into `file` (which must not exist).
pub async fn run(settings: &Settings, file: &Path) -> anyhow::Result<()> {
    if !settings.database_url.starts_with("sqlite:") {
        bail!(
            "posada backup copies SQLite databases; for PostgreSQL use pg_dump, e.g. `pg_dump --format=custom --file=posada.dump \"$DATABASE_URL\"` (restore with pg_restore)"
        );
    }
    if file.exists() {
        bail!(
            "{} already exists; choose a new file name for the backup",
            file.display()
        );
    }
    let target = file
        .to_str()
        .context("the backup file name must be valid UTF-8")?;
    let db = Db::connect(&settings.database_url, &ConnectOptions::default()).await?;
    let progress = super::progress::Progress::start("writing the backup");
    let result = match &db {
        Db::Sqlite(pool) => sqlx::query("VACUUM INTO $1")
            .bind(target)
            .execute(pool)
            .await
            .map(|_| ())
            .with_context(|| format!("writing the backup to {}", file.display())),
        Db::Postgres(_) => Ok(()),
    };
    progress.finish();
    db.close().await;
    result?;
    let size = std::fs::metadata(file).map(|m| m.len()).unwrap_or(0);
    println!(
        "backup of {} written to {} ({size} bytes)",
        posada_db::redact_url(&settings.database_url),
        file.display()
    );
    Ok(())
}
