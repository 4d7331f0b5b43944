//! Logs: JSON lines for machines, pretty for a person at a terminal, filtered like `RUST_LOG`.
//!
//! Logs always go to standard error, so a command that prints data (`admin create-token`,
//! `jobs list --json`, `migrate --dry-run`) prints it alone on standard output:
//! `TOKEN=$(posada admin create-token)` captures the token and nothing else.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// Install the global log subscriber. `format` is the `LOG_FORMAT` setting. Safe to call twice
/// (the second call does nothing), so tests can start several apps in one process.
pub fn init(format: &str) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=warn"));
    let pretty = match format {
        "pretty" => true,
        "json" => false,
        _ => std::io::stderr().is_terminal(),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if pretty {
        builder.try_init()
    } else {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init()
    };
}

/// An e-mail address for logs: first letter of the local part and the domain (`a***@example.com`).
pub fn mask_email(email: &str) -> String {
    match email.split_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        None => "***".to_string(),
    }
}

/// A phone number for logs: only its last two digits (`***34`).
pub fn mask_phone(phone: &str) -> String {
    let digits: Vec<char> = phone.chars().filter(char::is_ascii_digit).collect();
    let tail: String = digits[digits.len().saturating_sub(2)..].iter().collect();
    format!("***{tail}")
}

/// A message recipient for logs, masked as its channel's contact kind.
pub fn mask_recipient(channel: &str, recipient: &str) -> String {
    match channel {
        "email" => mask_email(recipient),
        _ => mask_phone(recipient),
    }
}
