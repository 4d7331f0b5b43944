//! posada's server: settings, the HTTP API, job handlers, start-up and shutdown, and the CLI.

pub mod app;
pub mod cli;
pub mod config;
pub mod http;
pub mod jobs;
pub mod migrations;
pub mod notify;
pub mod startup;
pub mod state;
pub mod telemetry;
