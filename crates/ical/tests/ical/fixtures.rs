//! Every real fixture parses to the events its README and manifest describe.

use crate::support::{date, fixture, manifest};
use posada_ical::{
    Channel, EventKind, ParseOptions, ParseWarningKind, Tz, parse, parse_with, safe_summary,
};

#[test]
fn airbnb_old_format_has_21_events_lf_endings_and_no_dtstamp() {
    let bytes = fixture("single/airbnb-old-format.ics");
    assert!(
        !bytes.contains(&b'\r'),
        "the fixture is LF-only as committed"
    );
    let feed = parse(&bytes);
    assert_eq!(
        feed.prodid.as_deref(),
        Some("-//Airbnb Inc//Hosting Calendar 0.8.8//EN")
    );
    assert_eq!(feed.channel, Some(Channel::Airbnb));
    assert_eq!(feed.events.len(), 21);
    let reserved = feed
        .events
        .iter()
        .filter(|e| e.kind == EventKind::Reserved)
        .count();
    let blocked = feed
        .events
        .iter()
        .filter(|e| e.kind == EventKind::NotAvailable)
        .count();
    assert_eq!((reserved, blocked), (8, 13));
    // In this file DTEND is written before DTSTART in every event; every event is still valid.
    assert!(feed.events.iter().all(|e| e.end > e.start));
    assert!(feed.warnings.is_empty(), "{:?}", feed.warnings);
    let first = &feed.events[0];
    assert_eq!(
        first.uid,
        "1418fb94e984-27e43162eaca35bfa84b40446d1de17c@airbnb.com"
    );
    assert_eq!(
        (first.start, first.end),
        (date("20220916"), date("20220926"))
    );
}

#[test]
fn an_event_ending_before_it_starts_is_skipped_with_a_warning_and_the_feed_survives() {
    // The old Airbnb export with its first event's dates swapped, as REFERENCES.md reports of a
    // real export.
    let text = String::from_utf8(fixture("single/airbnb-old-format.ics")).unwrap();
    let broken = text.replacen("DTEND;VALUE=DATE:20220926", "DTEND;VALUE=DATE:20220906", 1);
    let feed = parse(broken.as_bytes());
    assert_eq!(feed.events.len(), 20);
    assert!(
        feed.events
            .iter()
            .all(|e| e.uid != "1418fb94e984-27e43162eaca35bfa84b40446d1de17c@airbnb.com")
    );
    let skipped: Vec<_> = feed
        .warnings
        .iter()
        .filter(|w| w.kind == ParseWarningKind::EndNotAfterStart)
        .collect();
    assert_eq!(skipped.len(), 1);
    assert_eq!(skipped[0].line, 5);
}

#[test]
fn airbnb_new_format_has_25_reserved_and_3_not_available_with_folded_descriptions() {
    let feed = parse(&fixture("single/airbnb-new-format.ics"));
    assert_eq!(
        feed.prodid.as_deref(),
        Some("-//Airbnb Inc//Hosting Calendar 1.0//EN")
    );
    let reserved = feed
        .events
        .iter()
        .filter(|e| e.kind == EventKind::Reserved)
        .count();
    let blocked = feed
        .events
        .iter()
        .filter(|e| e.kind == EventKind::NotAvailable)
        .count();
    assert_eq!((reserved, blocked), (25, 3));
    assert!(feed.warnings.is_empty(), "{:?}", feed.warnings);
    assert!(
        feed.events
            .iter()
            .all(|e| e.uid.ends_with("@airbnb.com") && e.end > e.start)
    );
    assert_eq!(safe_summary(&feed.events[0]), "Airbnb: reservado");
}

#[test]
fn booking_single_has_7_events_and_its_over_escaped_prodid_is_read() {
    let feed = parse(&fixture("single/booking.ics"));
    assert_eq!(
        feed.prodid.as_deref(),
        Some("-//admin.booking.com, b.v.//NONSGML v1.0//EN")
    );
    assert_eq!(feed.channel, Some(Channel::Booking));
    assert_eq!(feed.events.len(), 7);
    assert!(
        feed.events
            .iter()
            .all(|e| e.kind == EventKind::NotAvailable)
    );
    assert_eq!(safe_summary(&feed.events[0]), "Booking.com: no disponible");
    assert_eq!(
        (feed.events[0].start, feed.events[0].end),
        (date("20260822"), date("20260831"))
    );
    assert!(feed.warnings.is_empty(), "{:?}", feed.warnings);
}

/// Every snapshot of both histories parses to exactly the manifest's events.
#[test]
fn every_history_snapshot_matches_its_manifest() {
    for dir in ["booking-history", "airbnb-history"] {
        let m = manifest(dir);
        let files = m["files"].as_array().unwrap();
        assert_eq!(files.len(), if dir == "booking-history" { 32 } else { 19 });
        for f in files {
            let name = f["file"].as_str().unwrap();
            let feed = parse_with(
                &fixture(&format!("{dir}/{name}")),
                &ParseOptions {
                    tz: Tz::Europe__Rome,
                },
            );
            assert!(feed.saw_calendar);
            assert!(feed.warnings.is_empty(), "{name}: {:?}", feed.warnings);
            let got: Vec<(String, String, String, String)> = feed
                .events
                .iter()
                .map(|e| {
                    (
                        e.uid.clone(),
                        e.start.format("%Y%m%d").to_string(),
                        e.end.format("%Y%m%d").to_string(),
                        e.summary.clone().unwrap_or_default(),
                    )
                })
                .collect();
            let want: Vec<(String, String, String, String)> = f["events"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| {
                    (
                        e["uid"].as_str().unwrap().to_owned(),
                        e["dtstart"].as_str().unwrap().to_owned(),
                        e["dtend"].as_str().unwrap().to_owned(),
                        e["summary"].as_str().unwrap().to_owned(),
                    )
                })
                .collect();
            assert_eq!(got, want, "{dir}/{name}");
        }
    }
}

#[test]
fn vrbo_fixture_reads_uuids_summaries_and_a_windows_time_zone_without_leaking_names() {
    let feed = parse_with(
        &fixture("vrbo.ics"),
        &ParseOptions {
            tz: Tz::America__Argentina__Buenos_Aires,
        },
    );
    assert_eq!(feed.prodid.as_deref(), Some("-//HomeAway.com, Inc.//EN"));
    assert_eq!(feed.channel, Some(Channel::Vrbo));
    assert!(feed.warnings.is_empty(), "{:?}", feed.warnings);
    let kinds: Vec<EventKind> = feed.events.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [
            EventKind::Reserved,
            EventKind::Tentative,
            EventKind::NotAvailable,
            EventKind::Reserved
        ]
    );
    assert_eq!(feed.events[0].uid, "6f1c2a4e-8b3d-4f5a-9c7e-2d1b0a9e8f71");
    assert_eq!(feed.events[0].summary.as_deref(), Some("Reserved - Maria"));
    let labels: Vec<String> = feed.events.iter().map(safe_summary).collect();
    assert_eq!(
        labels,
        [
            "Vrbo: reservado",
            "Vrbo: reserva tentativa",
            "Vrbo: bloqueado",
            "Vrbo: reservado"
        ]
    );
    for (label, event) in labels.iter().zip(&feed.events) {
        let raw = event.summary.as_deref().unwrap();
        if let Some((_, name)) = raw.split_once(" - ") {
            assert!(!label.contains(name), "{label} leaks {name}");
        }
    }
    // 16:00 New York (EST, UTC-5) is 18:00 in Buenos Aires; the 10:00 checkout (12:00 in Buenos
    // Aires) is the check-out day: the last night is the 4th.
    let timed = &feed.events[3];
    assert_eq!(
        (timed.start, timed.end),
        (date("20260301"), date("20260305"))
    );
}
