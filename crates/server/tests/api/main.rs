//! posada over HTTP: the real server on a free port, a fresh database per test (SQLite file or
//! PostgreSQL database), fakes for outside services.

#![expect(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]

mod helpers;

mod api_fuzz;
mod assistant;
mod auth;
mod bench_pages;
mod cli;
mod connections;
mod conversations;
mod dashboard_calendar;
mod dashboard_reservations;
mod dashboard_units;
mod day;
mod deliveries;
mod deploy;
mod hardening;
mod health;
mod ical;
mod notifications;
mod openapi;
mod ops;
mod payments;
mod ratelimit;
mod report;
mod requests;
mod reservations;
mod settings_fuzz;
mod tasks;
mod tls;

// The guest pages over plain HTTP (issue 14).
mod dashboard_account;
mod guest_pages;
mod live;
