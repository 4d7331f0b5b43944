//! Malformed and unusual input: folds, BOM, line endings, time zones, missing properties, garbage.

use crate::support::date;
use posada_ical::{EventKind, ParseOptions, ParseWarningKind, Tz, parse, parse_with};

fn cal(body: &str) -> String {
    format!("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n{body}END:VCALENDAR\r\n")
}

fn rome() -> ParseOptions {
    ParseOptions {
        tz: Tz::Europe__Rome,
    }
}

fn kinds(feed: &posada_ical::ParsedFeed) -> Vec<ParseWarningKind> {
    feed.warnings.iter().map(|w| w.kind).collect()
}

#[test]
fn folds_may_split_words_and_utf8_sequences_with_crlf_or_lf_and_space_or_tab() {
    let mut bytes = Vec::new();
    bytes.extend_from_slice(b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:abc\r\n de@x\n");
    bytes.extend_from_slice(b"DTSTART;VALUE=DATE:2025\r\n\t0101\r\nDTEND;VALUE=DATE:20250103\r\n");
    // "Peñaloza": the fold falls between the two bytes of "ñ" (C3 B1).
    bytes.extend_from_slice(
        b"SUMMARY:Reservado Pe\xC3\r\n \xB1alo\n za\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
    );
    let feed = parse(&bytes);
    assert!(feed.warnings.is_empty(), "{:?}", feed.warnings);
    let e = &feed.events[0];
    assert_eq!(e.uid, "abcde@x");
    assert_eq!(e.summary.as_deref(), Some("Reservado Peñaloza"));
    assert_eq!((e.start, e.end), (date("20250101"), date("20250103")));
}

#[test]
fn bom_and_mixed_line_endings_are_accepted() {
    let text = "\u{FEFF}BEGIN:VCALENDAR\nBEGIN:VEVENT\r\nUID:1\rDTSTART;VALUE=DATE:20250101\nDTEND;VALUE=DATE:20250102\r\nEND:VEVENT\n\nEND:VCALENDAR";
    let feed = parse(text.as_bytes());
    assert!(feed.saw_calendar);
    assert_eq!(feed.events.len(), 1, "{:?}", feed.warnings);
    assert!(feed.warnings.is_empty());
}

#[test]
fn utc_date_times_become_dates_in_the_property_zone() {
    // 23:00Z on 1 March is 00:00 on 2 March in Rome; an end at local midnight is exclusive.
    let feed = parse_with(
        cal("BEGIN:VEVENT\r\nUID:u\r\nDTSTART:20260301T230000Z\r\nDTEND:20260303T230000Z\r\nEND:VEVENT\r\n")
            .as_bytes(),
        &rome(),
    );
    let e = &feed.events[0];
    assert_eq!((e.start, e.end), (date("20260302"), date("20260304")));
    // Read in UTC the same event starts a day earlier and ends on 3 March (its check-out day,
    // whatever the hour).
    let utc = parse(
        cal("BEGIN:VEVENT\r\nUID:u\r\nDTSTART:20260301T230000Z\r\nDTEND:20260303T230000Z\r\nEND:VEVENT\r\n")
            .as_bytes(),
    );
    assert_eq!(
        (utc.events[0].start, utc.events[0].end),
        (date("20260301"), date("20260303"))
    );
}

#[test]
fn tzid_date_times_are_converted_from_their_zone() {
    let body = "BEGIN:VEVENT\r\nUID:u\r\nDTSTART;TZID=America/New_York:20260301T200000\r\nDTEND;TZID=\"America/New_York\":20260305T180000\r\nEND:VEVENT\r\n";
    let feed = parse_with(cal(body).as_bytes(), &rome());
    assert!(feed.warnings.is_empty(), "{:?}", feed.warnings);
    // 20:00 EST = 02:00 next day in Rome; 18:00 EST = 00:00 next day in Rome (exclusive).
    let e = &feed.events[0];
    assert_eq!((e.start, e.end), (date("20260302"), date("20260306")));
}

#[test]
fn a_vtimezone_listed_after_its_events_still_resolves_its_tzid() {
    let body = "BEGIN:VEVENT\r\nUID:u\r\nDTSTART;TZID=My Zone:20260301T100000\r\nDTEND;TZID=My Zone:20260302T000000\r\nEND:VEVENT\r\nBEGIN:VTIMEZONE\r\nTZID:My Zone\r\nX-LIC-LOCATION:Asia/Tokyo\r\nEND:VTIMEZONE\r\n";
    let feed = parse_with(cal(body).as_bytes(), &rome());
    assert!(feed.warnings.is_empty(), "{:?}", feed.warnings);
    // 10:00 Tokyo = 02:00 Rome (same day); midnight Tokyo = 16:00 on 1 March in Rome.
    let e = &feed.events[0];
    assert_eq!((e.start, e.end), (date("20260301"), date("20260302")));
}

#[test]
fn an_unknown_tzid_is_read_as_floating_with_one_warning() {
    let body = "BEGIN:VEVENT\r\nUID:a\r\nDTSTART;TZID=Mars/Olympus:20260301T100000\r\nDTEND;TZID=Mars/Olympus:20260302T100000\r\nEND:VEVENT\r\n";
    let feed = parse_with(cal(body).as_bytes(), &rome());
    assert_eq!(kinds(&feed), [ParseWarningKind::UnknownTimeZone]);
    let e = &feed.events[0];
    assert_eq!((e.start, e.end), (date("20260301"), date("20260302")));
}

#[test]
fn floating_date_times_are_property_wall_time() {
    let body = "BEGIN:VEVENT\r\nUID:f\r\nDTSTART:20260301T150000\r\nDTEND:20260304T000000\r\nEND:VEVENT\r\n";
    let feed = parse_with(cal(body).as_bytes(), &rome());
    let e = &feed.events[0];
    assert_eq!((e.start, e.end), (date("20260301"), date("20260304")));
}

#[test]
fn missing_dtend_lasts_one_day_or_its_duration() {
    let body = "BEGIN:VEVENT\r\nUID:date\r\nDTSTART;VALUE=DATE:20260301\r\nEND:VEVENT\r\n\
                BEGIN:VEVENT\r\nUID:date-dur\r\nDTSTART;VALUE=DATE:20260301\r\nDURATION:P1W\r\nEND:VEVENT\r\n\
                BEGIN:VEVENT\r\nUID:dt\r\nDTSTART:20260301T100000\r\nEND:VEVENT\r\n\
                BEGIN:VEVENT\r\nUID:dt-dur\r\nDTSTART:20260301T100000\r\nDURATION:P2DT14H\r\nEND:VEVENT\r\n\
                BEGIN:VEVENT\r\nUID:dt-zero\r\nDTSTART:20260301T100000\r\nDURATION:PT0S\r\nEND:VEVENT\r\n";
    let feed = parse_with(cal(body).as_bytes(), &rome());
    assert!(feed.warnings.is_empty(), "{:?}", feed.warnings);
    let got: Vec<(&str, _, _)> = feed
        .events
        .iter()
        .map(|e| (e.uid.as_str(), e.start, e.end))
        .collect();
    let d1 = date("20260301");
    assert_eq!(
        got,
        [
            ("date", d1, date("20260302")),
            ("date-dur", d1, date("20260308")),
            ("dt", d1, date("20260302")),
            // 10:00 + 2 days 14 hours = midnight on 4 March: exclusive.
            ("dt-dur", d1, date("20260304")),
            ("dt-zero", d1, date("20260302")),
        ]
    );
}

#[test]
fn events_ending_before_they_start_or_without_start_are_skipped_alone() {
    let body = "BEGIN:VEVENT\r\nUID:bad\r\nDTSTART;VALUE=DATE:20260305\r\nDTEND;VALUE=DATE:20260301\r\nEND:VEVENT\r\n\
                BEGIN:VEVENT\r\nUID:same\r\nDTSTART;VALUE=DATE:20260305\r\nDTEND;VALUE=DATE:20260305\r\nEND:VEVENT\r\n\
                BEGIN:VEVENT\r\nUID:reversed-times\r\nDTSTART:20260305T120000\r\nDTEND:20260305T100000\r\nEND:VEVENT\r\n\
                BEGIN:VEVENT\r\nUID:nostart\r\nDTEND;VALUE=DATE:20260305\r\nEND:VEVENT\r\n\
                BEGIN:VEVENT\r\nUID:badvalue\r\nDTSTART;VALUE=DATE:2026-13-45\r\nEND:VEVENT\r\n\
                BEGIN:VEVENT\r\nUID:good\r\nDTSTART;VALUE=DATE:20260301\r\nDTEND;VALUE=DATE:20260302\r\nEND:VEVENT\r\n";
    let feed = parse(cal(body).as_bytes());
    assert_eq!(feed.events.len(), 1);
    assert_eq!(feed.events[0].uid, "good");
    assert_eq!(
        kinds(&feed),
        [
            ParseWarningKind::InvalidValue,
            ParseWarningKind::EndNotAfterStart,
            ParseWarningKind::EndNotAfterStart,
            ParseWarningKind::EndNotAfterStart,
            ParseWarningKind::MissingStart,
            ParseWarningKind::MissingStart,
        ]
    );
}

#[test]
fn a_missing_uid_gets_a_stable_synthetic_one() {
    let body = "BEGIN:VEVENT\r\nDTSTART;VALUE=DATE:20260301\r\nDTEND;VALUE=DATE:20260302\r\nSUMMARY:Blocked\r\nEND:VEVENT\r\n\
                BEGIN:VEVENT\r\nDTSTART;VALUE=DATE:20260303\r\nDTEND;VALUE=DATE:20260304\r\nSUMMARY:Blocked\r\nEND:VEVENT\r\n";
    let a = parse(cal(body).as_bytes());
    let b = parse(cal(body).as_bytes());
    assert_eq!(a.events[0].uid, b.events[0].uid);
    assert!(a.events[0].uid.starts_with("posada-synthetic-"));
    assert_ne!(a.events[0].uid, a.events[1].uid);
    assert_eq!(
        kinds(&a),
        [ParseWarningKind::MissingUid, ParseWarningKind::MissingUid]
    );
}

#[test]
fn unknown_properties_and_components_are_skipped() {
    let body = "X-WR-CALNAME:Cabaña\r\nBEGIN:VTODO\r\nUID:todo\r\nDTSTART;VALUE=DATE:20260101\r\nEND:VTODO\r\n\
                BEGIN:VEVENT\r\nUID:e\r\nX-FOO;X-P=\"a;b:c\":bar\r\nDTSTART;VALUE=DATE:20260301\r\n\
                BEGIN:VALARM\r\nTRIGGER:-PT15M\r\nSUMMARY:not mine\r\nDTSTART;VALUE=DATE:20990101\r\nEND:VALARM\r\n\
                DTEND;VALUE=DATE:20260303\r\nSUMMARY:Reserved\r\nEND:VEVENT\r\n";
    let feed = parse(cal(body).as_bytes());
    assert!(feed.warnings.is_empty(), "{:?}", feed.warnings);
    assert_eq!(feed.events.len(), 1);
    let e = &feed.events[0];
    assert_eq!(
        (e.start, e.end, e.summary.as_deref()),
        (date("20260301"), date("20260303"), Some("Reserved"))
    );
}

#[test]
fn garbage_after_the_calendar_is_ignored_with_a_warning() {
    let mut text = cal("BEGIN:VEVENT\r\nUID:e\r\nDTSTART;VALUE=DATE:20260301\r\nEND:VEVENT\r\n");
    text.push_str("<html>oops</html>\r\n\0\0\u{1}\r\nmore junk");
    let feed = parse(text.as_bytes());
    assert_eq!(feed.events.len(), 1);
    assert_eq!(kinds(&feed), [ParseWarningKind::TrailingGarbage]);
}

#[test]
fn unbalanced_components_are_tolerated() {
    // Missing END:VEVENT before the next BEGIN:VEVENT, a stray END:VALARM, and no END:VCALENDAR.
    let text = "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:a\r\nDTSTART;VALUE=DATE:20260301\r\n\
                BEGIN:VEVENT\r\nUID:b\r\nDTSTART;VALUE=DATE:20260305\r\nEND:VALARM\r\nEND:VEVENT\r\n\
                BEGIN:VEVENT\r\nUID:c\r\nDTSTART;VALUE=DATE:20260310\r\n";
    let feed = parse(text.as_bytes());
    let uids: Vec<&str> = feed.events.iter().map(|e| e.uid.as_str()).collect();
    assert_eq!(uids, ["a", "b", "c"]);
    assert_eq!(
        kinds(&feed),
        [
            ParseWarningKind::UnbalancedComponent,
            ParseWarningKind::UnbalancedComponent,
            ParseWarningKind::UnbalancedComponent,
        ]
    );
}

#[test]
fn text_values_are_unescaped_and_names_are_case_insensitive() {
    let body = "begin:vevent\r\nuid:x\r\ndtstart;value=date:20260301\r\nsummary:a\\, b\\; c\\\\d\\ne\r\nend:vevent\r\n";
    let feed = parse(cal(body).as_bytes());
    assert_eq!(feed.events[0].summary.as_deref(), Some("a, b; c\\d\ne"));
}

#[test]
fn cancelled_events_are_listed_but_take_no_nights() {
    let body = "BEGIN:VEVENT\r\nUID:c\r\nSTATUS:cancelled\r\nDTSTART;VALUE=DATE:20260301\r\nEND:VEVENT\r\n\
                BEGIN:VEVENT\r\nUID:t\r\nSTATUS:TENTATIVE\r\nDTSTART;VALUE=DATE:20260301\r\nEND:VEVENT\r\n";
    let feed = parse(cal(body).as_bytes());
    assert_eq!(feed.events[0].status.as_deref(), Some("CANCELLED"));
    assert!(!feed.events[0].blocks_dates());
    assert!(feed.events[1].blocks_dates());
    assert_eq!(feed.events[1].kind, EventKind::Tentative);
    assert_eq!(kinds(&feed), [ParseWarningKind::Cancelled]);
}

#[test]
fn an_html_page_is_not_a_calendar() {
    let feed = parse(b"<!DOCTYPE html><html><body>403 Forbidden</body></html>");
    assert!(!feed.saw_calendar);
    assert!(feed.events.is_empty());
    assert!(kinds(&feed).contains(&ParseWarningKind::NotACalendar));
}

#[test]
fn warnings_are_capped_on_garbage() {
    let mut text = String::from("BEGIN:VCALENDAR\r\n");
    for _ in 0..10_000 {
        text.push_str("this is not a content line\r\n");
    }
    let feed = parse(text.as_bytes());
    assert_eq!(feed.warnings.len(), posada_ical::MAX_WARNINGS + 1);
    assert_eq!(
        feed.warnings.last().map(|w| w.kind),
        Some(ParseWarningKind::TooManyWarnings)
    );
}

/// Issue 15 #13: a channel stay from the 18th at 15:00 to the 21st at 11:00 takes the nights of
/// the 18th, 19th and 20th; the 21st is its check-out day and stays free for the next guest,
/// however the times are written.
#[test]
fn a_timed_stay_ends_on_its_check_out_day_whatever_the_time() {
    let buenos_aires = ParseOptions {
        tz: Tz::America__Argentina__Buenos_Aires,
    };
    let body = "\
BEGIN:VEVENT\r\nUID:tzid\r\nDTSTART;TZID=America/Argentina/Buenos_Aires:20260318T150000\r\nDTEND;TZID=America/Argentina/Buenos_Aires:20260321T110000\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:tzid-other-zone\r\nDTSTART;TZID=Europe/Madrid:20260318T190000\r\nDTEND;TZID=Europe/Madrid:20260321T150000\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:utc\r\nDTSTART:20260318T180000Z\r\nDTEND:20260321T140000Z\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:floating\r\nDTSTART:20260318T150000\r\nDTEND:20260321T110000\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:duration\r\nDTSTART;TZID=America/Argentina/Buenos_Aires:20260318T150000\r\nDURATION:P2DT20H\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:utc-duration\r\nDTSTART:20260318T180000Z\r\nDURATION:PT68H\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:date-duration\r\nDTSTART;VALUE=DATE:20260318\r\nDURATION:P3DT11H\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:late-checkout\r\nDTSTART:20260318T150000\r\nDTEND:20260321T235900\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:midnight\r\nDTSTART:20260318T150000\r\nDTEND:20260321T000000\r\nEND:VEVENT\r\n";
    let feed = parse_with(cal(body).as_bytes(), &buenos_aires);
    assert!(feed.warnings.is_empty(), "{:?}", feed.warnings);
    let got: Vec<(&str, _, _)> = feed
        .events
        .iter()
        .map(|e| (e.uid.as_str(), e.start, e.end))
        .collect();
    let (arrival, checkout) = (date("20260318"), date("20260321"));
    let want: Vec<(&str, _, _)> = [
        "tzid",
        "tzid-other-zone",
        "utc",
        "floating",
        "duration",
        "utc-duration",
        "date-duration",
        "late-checkout",
        "midnight",
    ]
    .into_iter()
    .map(|uid| (uid, arrival, checkout))
    .collect();
    assert_eq!(got, want);
}

#[test]
fn a_timed_event_within_one_day_still_marks_that_day() {
    let body = "BEGIN:VEVENT\r\nUID:afternoon\r\nDTSTART:20260318T100000\r\nDTEND:20260318T140000\r\nEND:VEVENT\r\n\
                BEGIN:VEVENT\r\nUID:short-duration\r\nDTSTART:20260318T100000\r\nDURATION:PT4H\r\nEND:VEVENT\r\n\
                BEGIN:VEVENT\r\nUID:date-hours\r\nDTSTART;VALUE=DATE:20260318\r\nDURATION:PT4H\r\nEND:VEVENT\r\n";
    let feed = parse(cal(body).as_bytes());
    assert!(feed.warnings.is_empty(), "{:?}", feed.warnings);
    for e in &feed.events {
        assert_eq!(
            (e.start, e.end),
            (date("20260318"), date("20260319")),
            "{}",
            e.uid
        );
    }
}
