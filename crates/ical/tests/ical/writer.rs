//! The exporter's output: exact shape, folding, escaping, and that our parser reads it back.

use crate::support::date;
use chrono::{TimeZone, Utc};
use posada_ical::{Calendar, ExportEvent, parse, write_calendar};

fn sample() -> Calendar {
    Calendar {
        prodid: "-//posada//ical 1.0//ES".to_owned(),
        name: Some("Cabaña del Lago, Bariloche".to_owned()),
        events: vec![ExportEvent {
            uid: "res-42@posada".to_owned(),
            start: date("20260110"),
            end: date("20260115"),
            summary: "Reservado; no disponible".to_owned(),
            dtstamp: Utc.with_ymd_and_hms(2026, 1, 5, 12, 30, 0).unwrap(),
            description: Some("Línea 1\nLínea 2, con coma y \\ barra".to_owned()),
        }],
    }
}

#[test]
fn writes_the_rfc_5545_shape_with_crlf() {
    let out = write_calendar(&sample());
    let expected = "BEGIN:VCALENDAR\r\n\
VERSION:2.0\r\n\
PRODID:-//posada//ical 1.0//ES\r\n\
CALSCALE:GREGORIAN\r\n\
METHOD:PUBLISH\r\n\
X-WR-CALNAME:Cabaña del Lago\\, Bariloche\r\n\
BEGIN:VEVENT\r\n\
UID:res-42@posada\r\n\
DTSTAMP:20260105T123000Z\r\n\
DTSTART;VALUE=DATE:20260110\r\n\
DTEND;VALUE=DATE:20260115\r\n\
SUMMARY:Reservado\\; no disponible\r\n\
DESCRIPTION:Línea 1\\nLínea 2\\, con coma y \\\\ barra\r\n\
TRANSP:OPAQUE\r\n\
END:VEVENT\r\n\
END:VCALENDAR\r\n";
    assert_eq!(out, expected);
}

#[test]
fn long_lines_fold_at_75_octets_on_character_boundaries() {
    let mut cal = sample();
    cal.events[0].description = Some("ñandú 🦙 ".repeat(40));
    let out = write_calendar(&cal);
    assert!(
        !out.replace("\r\n", "").contains('\n'),
        "only CRLF line endings"
    );
    let mut folded = 0;
    for physical in out.split("\r\n") {
        assert!(
            physical.len() <= 75,
            "{} octets: {physical:?}",
            physical.len()
        );
        if physical.starts_with(' ') {
            folded += 1;
        }
    }
    assert!(folded > 5);
    let feed = parse(out.as_bytes());
    assert!(feed.warnings.is_empty(), "{:?}", feed.warnings);
    assert_eq!(feed.events[0].uid, "res-42@posada");
}

#[test]
fn our_export_parses_back_to_the_same_events() {
    let cal = sample();
    let feed = parse(write_calendar(&cal).as_bytes());
    assert_eq!(feed.prodid.as_deref(), Some(cal.prodid.as_str()));
    let e = &feed.events[0];
    assert_eq!(
        (e.uid.as_str(), e.start, e.end, e.summary.as_deref()),
        (
            "res-42@posada",
            date("20260110"),
            date("20260115"),
            Some("Reservado; no disponible")
        )
    );
}

#[test]
fn same_input_gives_byte_identical_output() {
    assert_eq!(write_calendar(&sample()), write_calendar(&sample()));
}
