//! The database handle shared by the store and the job engine.
//!
//! posada runs on one embedded SQLite file (one node) or on PostgreSQL (many nodes); the URL picks
//! which. This crate owns the parts both the business store and the job engine need so that a
//! business write and the jobs it causes commit in **one** transaction: the pool ([`Db`]), write
//! transactions ([`Tx`], `BEGIN IMMEDIATE` on SQLite), a borrowed connection ([`Conn`]) that the
//! job engine can enqueue through, and a small per-dialect migration runner.

mod connect;
mod migrate;

pub use connect::{ConnectOptions, Db, DbError, redact_url};
pub use migrate::{
    Migration, MigrationSet, applied_versions, migrate, migrate_with, pending, pending_migrations,
    verify,
};

use sqlx::{PgConnection, Postgres, Sqlite, SqliteConnection, Transaction};

/// Which SQL dialect a [`Db`] speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    /// Embedded SQLite file (WAL), one node.
    Sqlite,
    /// PostgreSQL, any number of nodes.
    Postgres,
}

impl Backend {
    /// Lower-case name, as used in settings, logs and benchmark output.
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// An open write transaction. On SQLite it was started with `BEGIN IMMEDIATE`, so a
/// read-then-write sequence inside it never fails with a busy snapshot.
pub enum Tx {
    /// SQLite transaction.
    Sqlite(Transaction<'static, Sqlite>),
    /// PostgreSQL transaction.
    Postgres(Transaction<'static, Postgres>),
}

impl Tx {
    /// Borrow the transaction's connection, e.g. to enqueue jobs in it.
    pub fn conn(&mut self) -> Conn<'_> {
        match self {
            Tx::Sqlite(tx) => Conn::Sqlite(tx),
            Tx::Postgres(tx) => Conn::Postgres(tx),
        }
    }

    /// Which dialect this transaction speaks.
    pub fn backend(&self) -> Backend {
        match self {
            Tx::Sqlite(_) => Backend::Sqlite,
            Tx::Postgres(_) => Backend::Postgres,
        }
    }

    /// Commit everything written in the transaction.
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        match self {
            Tx::Sqlite(tx) => tx.commit().await,
            Tx::Postgres(tx) => tx.commit().await,
        }
    }

    /// Roll back everything written in the transaction.
    pub async fn rollback(self) -> Result<(), sqlx::Error> {
        match self {
            Tx::Sqlite(tx) => tx.rollback().await,
            Tx::Postgres(tx) => tx.rollback().await,
        }
    }
}

/// A borrowed connection of either dialect: a transaction's or a pooled one.
pub enum Conn<'a> {
    /// SQLite connection.
    Sqlite(&'a mut SqliteConnection),
    /// PostgreSQL connection.
    Postgres(&'a mut PgConnection),
}

impl Conn<'_> {
    /// Which dialect this connection speaks.
    pub fn backend(&self) -> Backend {
        match self {
            Conn::Sqlite(_) => Backend::Sqlite,
            Conn::Postgres(_) => Backend::Postgres,
        }
    }

    /// Reborrow, so a `Conn` can be passed to several calls in turn.
    pub fn reborrow(&mut self) -> Conn<'_> {
        match self {
            Conn::Sqlite(c) => Conn::Sqlite(c),
            Conn::Postgres(c) => Conn::Postgres(c),
        }
    }
}

#[cfg(feature = "testing")]
pub mod testing;
