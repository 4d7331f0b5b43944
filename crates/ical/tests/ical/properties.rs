//! Property tests: the parser survives any bytes, and our export round-trips through it.

use chrono::{Duration, NaiveDate, TimeZone, Utc};
use posada_ical::{Calendar, ExportEvent, parse, write_calendar};
use proptest::prelude::*;

/// Fragments that steer random input into the parser's deeper paths.
fn ical_fragment() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(b"BEGIN:VCALENDAR\r\n".to_vec()),
        Just(b"END:VCALENDAR\r\n".to_vec()),
        Just(b"BEGIN:VEVENT\r\n".to_vec()),
        Just(b"END:VEVENT\r\n".to_vec()),
        Just(b"BEGIN:VTIMEZONE\r\nTZID:X\r\nX-LIC-LOCATION:Europe/Rome\r\n".to_vec()),
        Just(b"END:VTIMEZONE\r\n".to_vec()),
        Just(b"DTSTART;VALUE=DATE:20260101\r\n".to_vec()),
        Just(b"DTEND;TZID=X:20260102T000000\r\n".to_vec()),
        Just(b"DTSTART;TZID=\"Europe/Rome\":99991231T235960\r\n".to_vec()),
        Just(b"DTEND:00000101T000000Z\r\n".to_vec()),
        Just(b"DURATION:P99999W\r\n".to_vec()),
        Just(b"DURATION:PT\r\n".to_vec()),
        Just(b"UID:\\\r\n".to_vec()),
        Just(b"SUMMARY:\xC3\r\n \xB1\\".to_vec()),
        Just(b"\r\n \t".to_vec()),
        Just(b"X;P=\"".to_vec()),
        proptest::collection::vec(any::<u8>(), 0..24),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
        let feed = parse(&bytes);
        prop_assert!(feed.warnings.len() <= posada_ical::MAX_WARNINGS + 1);
        for e in &feed.events {
            prop_assert!(e.end > e.start);
        }
    }

    #[test]
    fn ical_shaped_noise_never_panics(parts in proptest::collection::vec(ical_fragment(), 0..64)) {
        let bytes: Vec<u8> = parts.concat();
        let feed = parse(&bytes);
        for e in &feed.events {
            prop_assert!(e.end > e.start);
            prop_assert!(!e.uid.is_empty());
        }
    }

    #[test]
    fn export_round_trips_through_the_parser(cal in calendar()) {
        let text = write_calendar(&cal);
        for line in text.split("\r\n") {
            prop_assert!(line.len() <= 75);
        }
        let feed = parse(text.as_bytes());
        prop_assert!(feed.warnings.is_empty(), "{:?}", feed.warnings);
        prop_assert_eq!(feed.prodid.as_deref(), Some(cal.prodid.as_str()));
        let got: Vec<_> = feed.events.iter().map(|e| (e.uid.clone(), e.start, e.end, e.summary.clone())).collect();
        let want: Vec<_> = cal.events.iter().map(|e| (e.uid.clone(), e.start, e.end, Some(e.summary.clone()))).collect();
        prop_assert_eq!(got, want);
    }
}

/// TEXT without control characters other than newline and tab (the writer drops the others).
fn text() -> impl Strategy<Value = String> {
    "[^\\p{Cc}]{0,60}(\n[^\\p{Cc}]{0,40}){0,2}\t?"
}

fn calendar() -> impl Strategy<Value = Calendar> {
    let event = (
        "[^\\p{Cc}\\s][^\\p{Cc}]{0,80}",
        0i64..100_000,
        1i64..400,
        text(),
        proptest::option::of(text()),
        0i64..4_000_000_000,
    )
        .prop_map(|(uid, offset, nights, summary, description, stamp)| {
            let base = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap();
            let start = base + Duration::days(offset);
            ExportEvent {
                // A UID is one line of text; leading/trailing blanks are not significant to us.
                uid: uid.trim().to_owned(),
                start,
                end: start + Duration::days(nights),
                summary,
                dtstamp: Utc.timestamp_opt(stamp, 0).unwrap(),
                description,
            }
        })
        .prop_filter("non-empty uid", |e| !e.uid.is_empty());
    (
        "[^\\p{Cc}\\\\]{1,100}",
        proptest::option::of(text()),
        proptest::collection::vec(event, 0..8),
    )
        .prop_map(|(prodid, name, events)| Calendar {
            prodid: prodid.trim().to_owned(),
            name,
            events,
        })
        .prop_filter("non-empty prodid", |c| !c.prodid.is_empty())
}
