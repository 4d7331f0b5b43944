//! The job engine's behaviour, each storage case on SQLite and PostgreSQL.
#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test that cannot set up should fail loudly"
)]

mod admin;
mod bench;
mod crash;
mod enqueue;
mod lifecycle;
mod multinode;
mod periodic;
mod retries;
mod support;
