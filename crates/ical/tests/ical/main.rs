//! Integration tests of posada-ical: real channel fixtures, edge cases, the writer, property tests
//! and fetch-by-fetch replays of two real feed histories through `reconcile`.
#![expect(
    clippy::unwrap_used,
    reason = "test helpers outside #[test] functions should fail loudly on broken fixtures"
)]

mod edge_cases;
mod fixtures;
mod fuzz;
mod properties;
mod reconcile_rules;
mod replay;
mod support;
mod writer;
