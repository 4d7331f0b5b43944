//! `posada restore FILE`: put a backup made by `posada backup` in place of the SQLite database.
//!
//! It refuses while `posada serve` or `posada worker` runs on the database: they hold a shared
//! lock on the file ([`super::start::DatabaseInUse`]) and a restore needs it exclusively (held to
//! the end, so none can start half-way). FILE is checked first (a SQLite database that passes
//! `PRAGMA integrity_check` and has posada's migration table). The database being replaced is
//! checkpointed and kept next to it as `<name>.before-restore-<UTC time>`; its `-wal` and `-shm`
//! files are removed, so SQLite cannot replay the old journal over the restored file.

use std::fs::{File, TryLockError};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::{Context, bail};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection};

use super::start::sqlite_file;
use crate::config::Settings;

/// Replace the settings' SQLite database with `file`.
pub async fn run(settings: &Settings, file: &Path) -> anyhow::Result<()> {
    let Some(target) = sqlite_file(&settings.database_url) else {
        bail!(
            "posada restore replaces a SQLite database file; for PostgreSQL use pg_restore, e.g. `pg_restore --clean --dbname \"$DATABASE_URL\" posada.dump`"
        );
    };
    if !file.is_file() {
        bail!("{} does not exist or is not a file", file.display());
    }
    check_backup(file).await?;
    let progress = super::progress::Progress::start("restoring");

    // The exclusive lock: no server or worker may be running, none may start until we are done.
    let lock = if target.exists() {
        let lock = File::open(&target)
            .with_context(|| format!("opening the database {}", target.display()))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => bail!(
                "posada is running on {} (a `posada serve` or `posada worker` holds it); stop it first (e.g. `systemctl stop posada`), then restore",
                target.display()
            ),
            Err(TryLockError::Error(e)) => {
                bail!("cannot lock the database {}: {e}", target.display())
            }
        }
        Some(lock)
    } else {
        None
    };

    let kept = if lock.is_some() {
        // Fold the old journal into the old file, so the copy kept aside is whole.
        checkpoint(&target).await?;
        let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
        let kept = with_suffix(&target, &format!(".before-restore-{stamp}"));
        std::fs::rename(&target, &kept).with_context(|| {
            format!(
                "moving the current database {} aside to {}",
                target.display(),
                kept.display()
            )
        })?;
        Some(kept)
    } else {
        None
    };
    for suffix in ["-wal", "-shm"] {
        let side = with_suffix(&target, suffix);
        if side.exists() {
            std::fs::remove_file(&side)
                .with_context(|| format!("removing the old journal {}", side.display()))?;
        }
    }
    let partial = with_suffix(&target, ".restoring");
    std::fs::copy(file, &partial)
        .with_context(|| format!("copying {} to {}", file.display(), partial.display()))?;
    File::open(&partial)
        .and_then(|f| f.sync_all())
        .with_context(|| format!("writing {}", partial.display()))?;
    std::fs::rename(&partial, &target)
        .with_context(|| format!("putting the backup in place at {}", target.display()))?;
    progress.finish();
    drop(lock);

    println!("restored {} into {}", file.display(), target.display());
    if let Some(kept) = kept {
        println!("the replaced database was kept as {}", kept.display());
    }
    Ok(())
}

/// `path` with `suffix` appended to its file name.
fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// FILE must be a whole SQLite database made by posada.
async fn check_backup(file: &Path) -> anyhow::Result<()> {
    let options = SqliteConnectOptions::new()
        .filename(file)
        .read_only(true)
        .create_if_missing(false);
    let mut conn = options
        .connect()
        .await
        .with_context(|| format!("{} is not a SQLite database", file.display()))?;
    let result = async {
        let (verdict,): (String,) = sqlx::query_as("PRAGMA integrity_check")
            .fetch_one(&mut conn)
            .await
            .with_context(|| format!("{} is not a SQLite database", file.display()))?;
        if verdict != "ok" {
            bail!(
                "{} is damaged (integrity check: {verdict}); choose another backup",
                file.display()
            );
        }
        let (tables,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'posada_migrations'",
        )
        .fetch_one(&mut conn)
        .await?;
        if tables == 0 {
            bail!(
                "{} is a SQLite database but not a posada backup (it has no posada_migrations table)",
                file.display()
            );
        }
        Ok(())
    }
    .await;
    let _ = conn.close().await;
    result
}

/// Write the old database's journal into its file before it is moved aside.
async fn checkpoint(target: &Path) -> anyhow::Result<()> {
    let url = format!("sqlite://{}", target.display());
    let mut conn = SqliteConnectOptions::from_str(&url)?
        .connect()
        .await
        .with_context(|| format!("opening the current database {}", target.display()))?;
    let done = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(&mut conn)
        .await
        .map(|_| ())
        .with_context(|| format!("checkpointing {}", target.display()));
    let _ = conn.close().await;
    done
}
