//! posada's server: settings, the HTTP API, job handlers, start-up and shutdown, and the CLI.

pub mod booking;
pub mod cli;
pub mod config;
pub mod conversations;
pub mod http;
pub mod ical_sync;
pub mod jobs;
pub mod migrations;
pub mod notify;
pub mod payments;
pub mod report;
pub mod startup;
pub mod state;
pub mod telemetry;
