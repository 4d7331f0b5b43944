//! Committed changes told across nodes: on PostgreSQL a `NOTIFY` on [`CHANNEL`] that every
//! node `LISTEN`s to; on SQLite (one node) nothing to do. The payload is opaque here (the server
//! writes and reads it).

use posada_db::Db;
use sqlx::postgres::PgListener;

use crate::Result;

/// The channel the nodes tell each other their committed changes on.
pub const CHANNEL: &str = "posada_events";

/// The largest payload PostgreSQL accepts in one `NOTIFY` is 8000 bytes; callers stay under this.
pub const MAX_PAYLOAD: usize = 7900;

/// Tell the other nodes `payload` (no-op on SQLite).
pub async fn notify(db: &Db, payload: &str) -> Result<()> {
    if let Db::Postgres(pool) = db {
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CHANNEL)
            .bind(payload)
            .execute(pool)
            .await?;
    }
    Ok(())
}

/// A listener on [`CHANNEL`] (PostgreSQL only; `None` on SQLite).
pub async fn listen(db: &Db) -> Result<Option<PgListener>> {
    match db {
        Db::Postgres(pool) => {
            let mut listener = PgListener::connect_with(pool).await?;
            listener.listen(CHANNEL).await?;
            Ok(Some(listener))
        }
        Db::Sqlite(_) => Ok(None),
    }
}
