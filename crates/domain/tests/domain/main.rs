//! Integration tests of posada-domain: table tests for the rules, property tests for the arithmetic.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers and fixtures panic on a broken fixture, which is the failure we want"
)]

mod accommodation;
mod availability;
mod codes;
mod money;
mod pricing;
mod props;
mod stay;
mod transitions;

use chrono::NaiveDate;

/// `"2026-01-02"` → date (tests only).
pub fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

/// The stay `[a, b)` (tests only).
pub fn stay(a: &str, b: &str) -> posada_domain::Stay {
    posada_domain::Stay::new(d(a), d(b)).unwrap()
}
