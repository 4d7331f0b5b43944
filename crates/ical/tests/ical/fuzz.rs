//! Fuzzing the feed parser (issue 15, hostile input): mutated real channel feeds, structure-aware
//! events with odd dates, time zones and durations, and adversarial shapes that would make a naive
//! parser quadratic. Every case runs under a hang guard (a generous wall-clock bound that only a
//! hang or a super-linear blow-up can reach; it is not a speed assertion), and checks what must hold
//! for any input: no panic, every event ends after it starts, no more events than `BEGIN:VEVENT`
//! lines, warnings bounded, and folding or line-ending style never changes the result.

use chrono::{Duration, NaiveDate, NaiveDateTime};
use posada_ical::{MAX_WARNINGS, ParseOptions, ParsedFeed, Tz, parse, parse_with};
use proptest::prelude::*;
use std::sync::mpsc;

use crate::support::fixture_path;

/// Far above what any input of these tests needs (milliseconds, even unoptimised on a loaded CI
/// machine); only a hang or a quadratic blow-up on a megabyte input gets near it.
const HANG_GUARD: std::time::Duration = std::time::Duration::from_secs(60);

/// Parses on a separate thread and fails the test if the parser does not return within
/// [`HANG_GUARD`] (a panic in the parser fails it too).
fn parse_guarded(bytes: Vec<u8>, options: ParseOptions) -> ParsedFeed {
    let (tx, rx) = mpsc::channel();
    let size = bytes.len();
    std::thread::spawn(move || {
        let feed = parse_with(&bytes, &options);
        let _ = tx.send(feed);
    });
    match rx.recv_timeout(HANG_GUARD) {
        Ok(feed) => feed,
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("the parser did not return within {HANG_GUARD:?} on {size} bytes")
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            panic!("the parser panicked on {size} bytes")
        }
    }
}

/// The unfolded text as the parser sees it (a line break followed by a space or tab joins lines).
fn unfold(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let eol = match (bytes[i], bytes.get(i + 1)) {
            (b'\r', Some(b'\n')) => 2,
            (b'\r' | b'\n', _) => 1,
            _ => 0,
        };
        if eol > 0 && matches!(bytes.get(i + eol), Some(b' ' | b'\t')) {
            i += eol + 1;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

/// Invariants that hold for whatever bytes came in.
fn check_invariants(input: &[u8], feed: &ParsedFeed) -> Result<(), TestCaseError> {
    prop_assert!(feed.warnings.len() <= MAX_WARNINGS + 1);
    let unfolded = unfold(input).to_ascii_uppercase();
    let begins = unfolded
        .windows(b"VEVENT".len())
        .filter(|w| *w == b"VEVENT")
        .count();
    prop_assert!(
        feed.events.len() <= begins,
        "{} events from {} VEVENT mentions",
        feed.events.len(),
        begins
    );
    for e in &feed.events {
        prop_assert!(
            e.end > e.start,
            "{} ends {} before {}",
            e.uid,
            e.end,
            e.start
        );
        prop_assert!(!e.uid.is_empty());
    }
    Ok(())
}

fn real_feeds() -> Vec<Vec<u8>> {
    let mut feeds = Vec::new();
    for dir in ["single", "airbnb-history", "booking-history", ""] {
        let path = fixture_path(dir);
        let mut entries: Vec<_> = std::fs::read_dir(&path)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "ics"))
            .collect();
        entries.sort();
        feeds.extend(entries.iter().map(|p| std::fs::read(p).unwrap()));
    }
    assert!(feeds.len() > 40, "fixtures missing: {}", feeds.len());
    feeds
}

/// Lines that real and broken feeds carry, to splice into real feeds.
const SPLICES: &[&[u8]] = &[
    b"BEGIN:VEVENT",
    b"END:VEVENT",
    b"BEGIN:VCALENDAR",
    b"END:VCALENDAR",
    b"BEGIN:VALARM",
    b"END:VALARM",
    b"BEGIN:VTIMEZONE\r\nTZID:Custom\r\nX-LIC-LOCATION:America/Argentina/Cordoba\r\nEND:VTIMEZONE",
    b"END:VTIMEZONE",
    b"DTSTART;TZID=Custom:20260314T150000",
    b"DTSTART;TZID=\"Argentina Standard Time\":20260314T150000",
    b"DTSTART;TZID=/mozilla.org/20050126_1/America/Argentina/Buenos_Aires:20260314T150000",
    b"DTSTART;TZID=Mars/Olympus_Mons:20260314T150000",
    b"DTSTART;TZID=\"unterminated:20260314T150000",
    b"DTEND;TZID=Europe/Rome:20260329T023000",
    b"DTEND:20261025T023000",
    b"DTEND:99991231T235960Z",
    b"DTSTART:00000101T000000Z",
    b"DTSTART;VALUE=DATE:20260229",
    b"DTSTART;VALUE=DATE:2026-03-14",
    b"DTEND;VALUE=DATE-TIME:20260314",
    b"DTEND:20260314T1500.123Z",
    b"DURATION:P99999999999999999999W",
    b"DURATION:P36600D",
    b"DURATION:P36601D",
    b"DURATION:-P2D",
    b"DURATION:PT0S",
    b"DURATION:P1DT25H61M61S",
    b"DURATION:PT",
    b"DURATION:P1Y",
    b"UID:",
    b"UID:\\",
    b"SUMMARY:Reserved - Pe\xC3\xB1aloza\\, Jos\xC3\xA9\\n",
    b"SUMMARY:\xFF\xFE\x00",
    b"STATUS:CANCELLED",
    b"STATUS:tentative",
    b"X-PARAM;A=\"a;b:c\",\"d\";B=x:y",
    b"no colon at all",
    b":",
    b";;;;",
    b"\xEF\xBB\xBF",
    b"",
];

#[derive(Debug, Clone)]
enum Mutation {
    /// Replace the byte at this position (modulo length) with this value.
    Flip(usize, u8),
    /// Delete up to `len` bytes from a position.
    Delete(usize, usize),
    /// Repeat a slice (position, len) right after itself.
    Duplicate(usize, usize),
    /// Insert one of [`SPLICES`] as its own line at the line boundary after a position.
    Splice(usize, usize),
    /// Cut the feed at a position.
    Truncate(usize),
    /// Fold at a position (CRLF + space), wherever it falls.
    Fold(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(p, b)| Mutation::Flip(p, b)),
        (any::<usize>(), 1usize..200).prop_map(|(p, l)| Mutation::Delete(p, l)),
        (any::<usize>(), 1usize..400).prop_map(|(p, l)| Mutation::Duplicate(p, l)),
        (any::<usize>(), 0..SPLICES.len()).prop_map(|(p, s)| Mutation::Splice(p, s)),
        (any::<usize>(), 0..SPLICES.len()).prop_map(|(p, s)| Mutation::Splice(p, s)),
        any::<usize>().prop_map(Mutation::Truncate),
        any::<usize>().prop_map(Mutation::Fold),
    ]
}

fn apply(bytes: &mut Vec<u8>, m: &Mutation) {
    let len = bytes.len();
    if len == 0 {
        if let Mutation::Splice(_, s) = m {
            bytes.extend_from_slice(SPLICES[*s]);
        }
        return;
    }
    match *m {
        Mutation::Flip(p, b) => bytes[p % len] = b,
        Mutation::Delete(p, l) => {
            let p = p % len;
            bytes.drain(p..(p + l).min(len));
        }
        Mutation::Duplicate(p, l) => {
            let p = p % len;
            let slice = bytes[p..(p + l).min(len)].to_vec();
            let at = (p + l).min(len);
            bytes.splice(at..at, slice);
        }
        Mutation::Splice(p, s) => {
            let p = p % len;
            let at = bytes[p..]
                .iter()
                .position(|&b| b == b'\n')
                .map_or(len, |i| p + i + 1);
            let mut line = SPLICES[s].to_vec();
            line.extend_from_slice(b"\r\n");
            bytes.splice(at..at, line);
        }
        Mutation::Truncate(p) => bytes.truncate(p % len),
        Mutation::Fold(p) => {
            let p = p % len;
            bytes.splice(p..p, b"\r\n ".iter().copied());
        }
    }
}

fn property_zone() -> impl Strategy<Value = ParseOptions> {
    prop_oneof![
        Just(Tz::UTC),
        Just(Tz::America__Argentina__Buenos_Aires),
        Just(Tz::Europe__Rome),
        Just(Tz::Pacific__Kiritimati),
        Just(Tz::Pacific__Pago_Pago),
    ]
    .prop_map(|tz| ParseOptions { tz })
}

/// Folds every line longer than `width` octets at exactly `width`, wherever that falls (inside a
/// word, a parameter or a UTF-8 sequence), with the given line break and continuation byte.
fn fold_all(text: &[u8], width: usize, eol: &[u8], cont: u8) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() * 2);
    for line in text.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let mut chunks = line.chunks(width);
        if let Some(first) = chunks.next() {
            out.extend_from_slice(first);
        }
        for chunk in chunks {
            out.extend_from_slice(eol);
            out.push(cont);
            out.extend_from_slice(chunk);
        }
        out.extend_from_slice(eol);
    }
    out
}

/// What of a feed must not depend on how its lines were written.
fn essence(feed: &ParsedFeed) -> impl PartialEq + std::fmt::Debug + use<> {
    (
        feed.prodid.clone(),
        feed.channel,
        feed.saw_calendar,
        feed.events.clone(),
    )
}

/// An event built from parts a channel could plausibly send, valid or not.
#[derive(Debug, Clone)]
struct EventSpec {
    start: TimeSpec,
    end: Option<TimeSpec>,
    duration: Option<String>,
    uid: Option<String>,
    summary: Option<String>,
    status: Option<&'static str>,
}

#[derive(Debug, Clone)]
enum TimeSpec {
    Date(NaiveDate),
    Utc(NaiveDateTime),
    Floating(NaiveDateTime),
    Zoned(NaiveDateTime, String),
    Garbage(String),
}

impl TimeSpec {
    fn line(&self, name: &str) -> String {
        match self {
            TimeSpec::Date(d) => format!("{name};VALUE=DATE:{}", d.format("%Y%m%d")),
            TimeSpec::Utc(t) => format!("{name}:{}", t.format("%Y%m%dT%H%M%SZ")),
            TimeSpec::Floating(t) => format!("{name}:{}", t.format("%Y%m%dT%H%M%S")),
            TimeSpec::Zoned(t, tz) => format!("{name};TZID={tz}:{}", t.format("%Y%m%dT%H%M%S")),
            TimeSpec::Garbage(v) => format!("{name}:{v}"),
        }
    }
}

fn date_in_range() -> impl Strategy<Value = NaiveDate> {
    prop_oneof![
        // Around now, where bookings live.
        8 => (0i64..3_000).prop_map(|d| NaiveDate::from_ymd_opt(2024, 1, 1).unwrap() + Duration::days(d)),
        // The edges of what a DATE can say.
        1 => (0i64..800).prop_map(|d| NaiveDate::from_ymd_opt(0, 1, 1).unwrap() + Duration::days(d)),
        1 => (0i64..800).prop_map(|d| NaiveDate::from_ymd_opt(9999, 12, 31).unwrap() - Duration::days(d)),
    ]
}

fn datetime() -> impl Strategy<Value = NaiveDateTime> {
    (date_in_range(), 0u32..24, 0u32..60, 0u32..60)
        .prop_map(|(d, h, m, s)| d.and_hms_opt(h, m, s).unwrap())
}

fn tzid() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("America/Argentina/Buenos_Aires".to_owned()),
        Just("\"Europe/Rome\"".to_owned()),
        Just("Pacific/Kiritimati".to_owned()),
        Just("Argentina Standard Time".to_owned()),
        Just("/mozilla.org/20050126_1/America/Sao_Paulo".to_owned()),
        Just("Custom".to_owned()),
        Just("".to_owned()),
        Just("\"".to_owned()),
        "[A-Za-z/_ +-]{1,40}",
        "(x/){1,30}",
    ]
}

fn time_spec() -> impl Strategy<Value = TimeSpec> {
    prop_oneof![
        4 => date_in_range().prop_map(TimeSpec::Date),
        2 => datetime().prop_map(TimeSpec::Utc),
        2 => datetime().prop_map(TimeSpec::Floating),
        2 => (datetime(), tzid()).prop_map(|(t, z)| TimeSpec::Zoned(t, z)),
        1 => "[0-9TZtz:.+-]{0,20}".prop_map(TimeSpec::Garbage),
    ]
}

fn duration() -> impl Strategy<Value = String> {
    prop_oneof![
        (0u64..40).prop_map(|d| format!("P{d}D")),
        (0u64..400, 0u64..48, 0u64..120).prop_map(|(d, h, m)| format!("P{d}DT{h}H{m}M")),
        (0u64..10).prop_map(|w| format!("P{w}W")),
        any::<u64>().prop_map(|n| format!("P{n}D")),
        any::<u64>().prop_map(|n| format!("PT{n}S")),
        (0u64..40).prop_map(|d| format!("-P{d}D")),
        "[+-]?[Pp][0-9WDTHMSY]{0,12}",
    ]
}

fn event_spec() -> impl Strategy<Value = EventSpec> {
    (
        time_spec(),
        proptest::option::weighted(0.7, time_spec()),
        proptest::option::of(duration()),
        proptest::option::weighted(0.9, "[a-z0-9@.-]{1,30}"),
        proptest::option::of("(Reserved|Blocked|Airbnb \\(Not available\\)|CLOSED - Not available|Tentative)( - [A-Za-zñé ]{0,12})?"),
        proptest::option::of(prop_oneof![Just("CONFIRMED"), Just("TENTATIVE"), Just("CANCELLED")]),
    )
        .prop_map(|(start, end, duration, uid, summary, status)| EventSpec {
            start,
            end,
            duration,
            uid,
            summary,
            status,
        })
}

fn render(events: &[EventSpec]) -> String {
    let mut out = String::from(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//fuzz//EN\r\n\
         BEGIN:VTIMEZONE\r\nTZID:Custom\r\nX-LIC-LOCATION:America/Argentina/Cordoba\r\nEND:VTIMEZONE\r\n",
    );
    for e in events {
        out.push_str("BEGIN:VEVENT\r\n");
        if let Some(uid) = &e.uid {
            out.push_str(&format!("UID:{uid}\r\n"));
        }
        out.push_str(&e.start.line("DTSTART"));
        out.push_str("\r\n");
        if let Some(end) = &e.end {
            out.push_str(&end.line("DTEND"));
            out.push_str("\r\n");
        }
        if let Some(d) = &e.duration {
            out.push_str(&format!("DURATION:{d}\r\n"));
        }
        if let Some(s) = &e.summary {
            out.push_str(&format!("SUMMARY:{s}\r\n"));
        }
        if let Some(s) = e.status {
            out.push_str(&format!("STATUS:{s}\r\n"));
        }
        out.push_str("END:VEVENT\r\n");
    }
    out.push_str("END:VCALENDAR\r\n");
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

    /// Real Airbnb, Booking.com and Vrbo feeds, mutated byte- and line-wise: the parser never
    /// panics or hangs, and what it returns is sound.
    #[test]
    fn mutated_real_feeds_are_read_soundly(
        pick in any::<prop::sample::Index>(),
        mutations in proptest::collection::vec(mutation(), 1..24),
        options in property_zone(),
    ) {
        let feeds = real_feeds();
        let mut bytes = pick.get(&feeds).clone();
        for m in &mutations {
            apply(&mut bytes, m);
        }
        let feed = parse_guarded(bytes.clone(), options);
        check_invariants(&bytes, &feed)?;
    }

    /// How lines are folded (at any octet, even inside a UTF-8 sequence, with space or tab) and
    /// which line endings are used never changes what a real feed says.
    #[test]
    fn folding_and_line_endings_never_change_a_real_feed(
        pick in any::<prop::sample::Index>(),
        width in 1usize..80,
        eol in prop_oneof![Just(&b"\r\n"[..]), Just(&b"\n"[..]), Just(&b"\r"[..])],
        cont in prop_oneof![Just(b' '), Just(b'\t')],
    ) {
        let feeds = real_feeds();
        let original = pick.get(&feeds);
        let plain = parse(original);
        let folded = fold_all(original, width, eol, cont);
        let refolded = parse_guarded(folded, ParseOptions::default());
        prop_assert_eq!(essence(&refolded), essence(&plain));
    }

    /// Events built from plausible and implausible parts: an event is either skipped or ends after
    /// it starts, and all-day events with DATE ends or day DURATIONs keep exactly their dates.
    #[test]
    fn generated_events_are_kept_exactly_or_skipped(
        events in proptest::collection::vec(event_spec(), 0..12),
        options in property_zone(),
    ) {
        let text = render(&events);
        let feed = parse_guarded(text.clone().into_bytes(), options);
        check_invariants(text.as_bytes(), &feed)?;
        prop_assert!(feed.saw_calendar);
        prop_assert!(feed.events.len() <= events.len());
        // The all-day events are the ones whose nights can be told without a time zone.
        let all_day: Vec<_> = events
            .iter()
            .filter_map(|e| {
                let TimeSpec::Date(start) = e.start else { return None };
                let end = match (&e.end, &e.duration) {
                    (Some(TimeSpec::Date(end)), _) => *end,
                    (None, None) => start.succ_opt()?,
                    (None, Some(d)) => {
                        let days: i64 = d.strip_prefix('P')?.strip_suffix('D')?.parse().ok()?;
                        // Zero, or more than the parser's 100-year bound (refused with a
                        // warning): the event marks its first day.
                        if days == 0 || days > 100 * 366 {
                            start.succ_opt()?
                        } else {
                            start.checked_add_signed(Duration::try_days(days)?)?
                        }
                    }
                    _ => return None,
                };
                (end > start).then_some((e.uid.clone(), start, end))
            })
            .collect();
        for (uid, start, end) in all_day {
            let found = feed.events.iter().any(|e| {
                e.start == start && e.end == end && uid.as_ref().is_none_or(|u| *u == e.uid)
            });
            prop_assert!(found, "all-day event {:?} {}..{} lost: {:?}", uid, start, end, feed.warnings);
        }
    }

    /// Timed events keep the check-out rule (issue 15 #13): read in UTC, an event from a UTC start
    /// to a UTC end on a later day takes the nights up to the day before its end's day.
    #[test]
    fn timed_utc_events_end_on_their_check_out_day(
        start in datetime(),
        hours in 1i64..2_000,
    ) {
        let Some(end) = start.checked_add_signed(Duration::hours(hours)) else { return Ok(()) };
        // DATE-TIME values have four-digit years.
        prop_assume!(chrono::Datelike::year(&end) <= 9999);
        let spec = EventSpec {
            start: TimeSpec::Utc(start),
            end: Some(TimeSpec::Utc(end)),
            duration: None,
            uid: Some("u@x".into()),
            summary: None,
            status: None,
        };
        let feed = parse(render(&[spec]).as_bytes());
        prop_assert_eq!(feed.events.len(), 1, "{:?}", feed.warnings);
        let e = &feed.events[0];
        prop_assert_eq!(e.start, start.date());
        let want_end = if end.date() == start.date() { start.date().succ_opt().unwrap() } else { end.date() };
        prop_assert_eq!(e.end, want_end);
    }
}

/// Builds `count` repetitions of a line.
fn repeat(line: &str, count: usize) -> Vec<u8> {
    line.as_bytes().repeat(count)
}

/// Shapes that cost a naive parser time quadratic in the input: each is a few megabytes (about the
/// feed fetcher's 5 MiB limit) and must come back well inside the hang guard.
#[test]
fn adversarial_shapes_are_read_in_linear_time() {
    let mb = 1024 * 1024;
    let mut cases: Vec<(&str, Vec<u8>)> = Vec::new();
    // Components opened and never closed, then ENDs of a component that is not open: each END
    // searches the open stack.
    let mut nested = b"BEGIN:VCALENDAR\r\n".to_vec();
    nested.extend(repeat("BEGIN:X\r\n", 200_000));
    nested.extend(repeat("END:Y\r\n", 200_000));
    cases.push(("deep nesting with unmatched ENDs", nested));
    // Events reopened inside a deep open stack: each BEGIN:VEVENT searches it.
    let mut reopened = b"BEGIN:VCALENDAR\r\n".to_vec();
    reopened.extend(repeat("BEGIN:X\r\n", 200_000));
    reopened.extend(repeat("BEGIN:VEVENT\r\n", 100_000));
    cases.push(("events reopened inside a deep stack", reopened));
    // One TZID made of slashes: each suffix is tried as an IANA name.
    let mut slashes = b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:a\r\nDTSTART;TZID=".to_vec();
    slashes.extend("a/".repeat(2 * mb / 2).as_bytes());
    slashes.extend(b":20260101T100000\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n");
    cases.push(("a TZID of a million slashes", slashes));
    // Many distinct long TZIDs.
    let mut zones = b"BEGIN:VCALENDAR\r\n".to_vec();
    for i in 0..4_000 {
        zones.extend(
            format!(
                "BEGIN:VEVENT\r\nUID:{i}\r\nDTSTART;TZID={}/{i}:20260101T100000\r\nEND:VEVENT\r\n",
                "z/".repeat(300)
            )
            .as_bytes(),
        );
    }
    cases.push(("thousands of long distinct TZIDs", zones));
    // One line folded a million times, and one endless quoted parameter.
    let mut folded = b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nSUMMARY:".to_vec();
    folded.extend(repeat("x\r\n ", mb));
    folded.extend(b"\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n");
    cases.push(("a line folded a million times", folded));
    let mut quoted = b"BEGIN:VCALENDAR\r\nX".to_vec();
    quoted.extend(repeat(";P=\"a\",\"b\"", 300_000));
    quoted.extend(b":v\r\n");
    cases.push(("three hundred thousand quoted parameters", quoted));
    // Garbage lines and escapes: every line warns, but only MAX_WARNINGS are kept.
    let mut garbage = b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\n".to_vec();
    garbage.extend(repeat(
        "no colon here\r\nSUMMARY:\\\\\\,\\;\\n\r\n",
        200_000,
    ));
    cases.push(("warnings on every line", garbage));
    // Many events without UID (synthetic UIDs are hashed) and a huge summary on each.
    let mut events = b"BEGIN:VCALENDAR\r\n".to_vec();
    for i in 0..20_000 {
        events.extend(
            format!(
                "BEGIN:VEVENT\r\nDTSTART;VALUE=DATE:{}\r\nDURATION:P{}D\r\nSUMMARY:{}\r\nEND:VEVENT\r\n",
                20_260_101 + (i % 28),
                i % 400,
                "s".repeat(100)
            )
            .as_bytes(),
        );
    }
    cases.push(("twenty thousand events without UID", events));

    for (what, bytes) in cases {
        let size = bytes.len();
        let feed = parse_guarded(bytes.clone(), ParseOptions::default());
        check_invariants(&bytes, &feed).unwrap_or_else(|e| panic!("{what}: {e}"));
        assert!(feed.warnings.len() <= MAX_WARNINGS + 1, "{what}");
        assert!(size > 500_000, "{what}: only {size} bytes");
    }
}

/// Regression (found by the adversarial shapes above): nesting is bounded; a component opened
/// too deep is skipped with its content, and the events around it are kept.
#[test]
fn components_nested_too_deep_are_skipped_and_the_rest_is_kept() {
    let mut text = String::from(
        "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:before\r\nDTSTART;VALUE=DATE:20260101\r\nDTEND;VALUE=DATE:20260103\r\n\
         BEGIN:VALARM\r\nTRIGGER:-PT15M\r\nEND:VALARM\r\nEND:VEVENT\r\n",
    );
    text.push_str(&"BEGIN:X\r\n".repeat(40));
    text.push_str("BEGIN:VEVENT\r\nUID:buried\r\nDTSTART;VALUE=DATE:20260201\r\nEND:VEVENT\r\n");
    text.push_str(&"END:X\r\n".repeat(40));
    text.push_str(
        "BEGIN:VEVENT\r\nUID:after\r\nDTSTART;VALUE=DATE:20260301\r\nDTEND;VALUE=DATE:20260302\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
    );
    let feed = parse(text.as_bytes());
    let uids: Vec<_> = feed.events.iter().map(|e| e.uid.as_str()).collect();
    assert_eq!(uids, ["before", "after"], "{:?}", feed.warnings);
    assert!(
        feed.warnings.iter().any(
            |w| w.kind == posada_ical::ParseWarningKind::UnbalancedComponent
                && w.message.contains("nested deeper")
        ),
        "{:?}",
        feed.warnings
    );
}

/// Regression: a TZID far longer than any zone name is an unknown zone (read as floating time),
/// without trying each of its suffixes.
#[test]
fn an_absurdly_long_tzid_is_an_unknown_zone() {
    let text = format!(
        "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:z\r\nDTSTART;TZID={}Europe/Rome:20260101T100000\r\n\
         DTEND;TZID=Europe/Rome:20260103T100000\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
        "a/".repeat(200)
    );
    let feed = parse(text.as_bytes());
    assert_eq!(feed.events.len(), 1);
    assert!(
        feed.warnings
            .iter()
            .any(|w| w.kind == posada_ical::ParseWarningKind::UnknownTimeZone)
    );
}
