//! posada-ical: iCalendar for channel sync with Airbnb, Booking.com and Vrbo.
//!
//! Three pure parts: a lenient parser for the feeds the channels really send ([`parse_with`]), an
//! RFC 5545 exporter for ours ([`write_calendar`]), and the reconciliation that decides how one
//! feed's stored blocks change after a fetch ([`reconcile`]). No IO, no async, no database: the
//! sync job fetches, calls these, and applies the plan.

mod channel;
mod datetime;
mod lines;
mod parse;
mod reconcile;
mod text;
mod write;

pub use channel::{Channel, EventKind, classify_summary, detect_channel, safe_label};
pub use parse::{
    FeedEvent, MAX_WARNINGS, ParseOptions, ParseWarning, ParseWarningKind, ParsedFeed, parse,
    parse_with, safe_summary,
};
pub use reconcile::{
    BlockUpdate, FeedMemory, MISSING_FETCHES_BEFORE_DELETE, NewBlock, ReconcilePlan,
    ReconcilePolicy, ReconcileWarning, ReconcileWarningKind, StoredBlock, reconcile,
    reconcile_with,
};
pub use write::{Calendar, ExportEvent, write_calendar};

/// Re-exported so callers can name zones without depending on chrono-tz themselves.
pub use chrono_tz::Tz;
