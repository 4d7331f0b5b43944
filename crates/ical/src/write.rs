//! The exporter: our blocks and reservations as an RFC 5545 calendar that every channel accepts.
//!
//! All-day events only (`DTSTART;VALUE=DATE` with an exclusive `DTEND;VALUE=DATE`), CRLF endings,
//! TEXT escaping and folding at 75 octets that never splits a UTF-8 sequence. The output is
//! deterministic for a given input, so the HTTP layer can derive an ETag from it.

use crate::text::escape;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// A calendar to export.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Calendar {
    /// PRODID, e.g. `-//posada//ical 1.0//ES`.
    pub prodid: String,
    /// Calendar name shown by clients (`X-WR-CALNAME`), if any.
    pub name: Option<String>,
    /// The events, written in this order.
    pub events: Vec<ExportEvent>,
}

/// One all-day event of an export.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportEvent {
    /// Stable across fetches: the same reservation or block always gets the same UID.
    pub uid: String,
    /// First night.
    pub start: NaiveDate,
    /// Checkout day (exclusive).
    pub end: NaiveDate,
    /// Must carry no guest data.
    pub summary: String,
    /// When this event last changed (or the export time).
    pub dtstamp: DateTime<Utc>,
    /// Optional free text (no guest data either).
    pub description: Option<String>,
}

/// The longest content line, in octets, excluding the CRLF.
const MAX_LINE_OCTETS: usize = 75;

/// Writes a calendar: CRLF line endings, lines folded at 75 octets.
pub fn write_calendar(calendar: &Calendar) -> String {
    let mut out = String::with_capacity(256 + calendar.events.len() * 256);
    line(&mut out, "BEGIN:VCALENDAR");
    line(&mut out, "VERSION:2.0");
    line(&mut out, &format!("PRODID:{}", escape(&calendar.prodid)));
    line(&mut out, "CALSCALE:GREGORIAN");
    line(&mut out, "METHOD:PUBLISH");
    if let Some(name) = &calendar.name {
        line(&mut out, &format!("X-WR-CALNAME:{}", escape(name)));
    }
    for event in &calendar.events {
        line(&mut out, "BEGIN:VEVENT");
        line(&mut out, &format!("UID:{}", escape(&event.uid)));
        line(
            &mut out,
            &format!("DTSTAMP:{}", event.dtstamp.format("%Y%m%dT%H%M%SZ")),
        );
        line(
            &mut out,
            &format!("DTSTART;VALUE=DATE:{}", event.start.format("%Y%m%d")),
        );
        line(
            &mut out,
            &format!("DTEND;VALUE=DATE:{}", event.end.format("%Y%m%d")),
        );
        line(&mut out, &format!("SUMMARY:{}", escape(&event.summary)));
        if let Some(description) = &event.description {
            line(&mut out, &format!("DESCRIPTION:{}", escape(description)));
        }
        line(&mut out, "TRANSP:OPAQUE");
        line(&mut out, "END:VEVENT");
    }
    line(&mut out, "END:VCALENDAR");
    out
}

/// Appends one content line, folded: every physical line holds at most 75 octets, continuation
/// lines start with one space (counted), and a cut never falls inside a UTF-8 sequence.
fn line(out: &mut String, content: &str) {
    let mut rest = content;
    let mut limit = MAX_LINE_OCTETS;
    while rest.len() > limit {
        let mut cut = limit;
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        out.push_str(&rest[..cut]);
        out.push_str("\r\n ");
        rest = &rest[cut..];
        limit = MAX_LINE_OCTETS - 1;
    }
    out.push_str(rest);
    out.push_str("\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_at_75_octets_without_splitting_characters() {
        let mut out = String::new();
        let content = format!("SUMMARY:{}", "ñ".repeat(100));
        line(&mut out, &content);
        for physical in out.split("\r\n").filter(|l| !l.is_empty()) {
            assert!(physical.len() <= 75, "{} octets", physical.len());
        }
        let unfolded = out.replace("\r\n ", "");
        assert_eq!(unfolded.trim_end(), content);
    }
}
