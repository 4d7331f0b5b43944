//! The lenient feed parser: bytes in, events and warnings out, never a panic and never a failed
//! feed because of one bad event.
//!
//! It walks unfolded content lines with a small component stack, keeps only what booking sync
//! needs (UID, dates, summary, status), skips everything else (VTIMEZONE rules, VALARM, X-…), and
//! resolves dates only at the end so that a VTIMEZONE listed after its events still counts.

use crate::channel::{
    Channel, EventKind, channel_from_uid, classify_summary, detect_channel, safe_label,
};
use crate::datetime::{
    Moment, RawTime, add_duration, parse_duration, parse_time, resolve_tzid, utc_to_local,
    zoned_to_local,
};
use crate::lines::{Lines, parse_content_line};
use crate::text::{unescape, unescape_prodid};
use chrono::NaiveDate;
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// How to read a feed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseOptions {
    /// The property's time zone: UTC and zoned DATE-TIME values are converted to it, and floating
    /// ones are read as its wall time, before being reduced to dates.
    pub tz: Tz,
}

impl Default for ParseOptions {
    fn default() -> Self {
        ParseOptions { tz: Tz::UTC }
    }
}

/// One event of a feed, reduced to the nights it occupies.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FeedEvent {
    /// The event's UID, or a stable synthetic one (`posada-synthetic-…`) derived from its dates and
    /// summary when the feed gave none.
    pub uid: String,
    /// First night.
    pub start: NaiveDate,
    /// Checkout day: exclusive, always after `start`.
    pub end: NaiveDate,
    /// The raw summary (may contain a guest's name: never store it; see [`safe_summary`]).
    pub summary: Option<String>,
    /// The STATUS property, upper-cased (`CONFIRMED`, `TENTATIVE`, `CANCELLED`), if any.
    pub status: Option<String>,
    /// What the summary says the event is.
    pub kind: EventKind,
    /// The channel of the feed the event came from.
    pub channel: Channel,
}

impl FeedEvent {
    /// Whether the event takes nights: everything except `STATUS:CANCELLED`.
    pub fn blocks_dates(&self) -> bool {
        self.status.as_deref() != Some("CANCELLED")
    }
}

/// A generic summary for an event, safe to store and to re-export: channel and kind only, never
/// the feed's own words (Vrbo's `Reserved - John` becomes `Vrbo: reservado`).
pub fn safe_summary(event: &FeedEvent) -> String {
    safe_label(event.channel, event.kind)
}

/// What went wrong (without failing the feed) while reading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParseWarningKind {
    /// A line that is not `NAME[;params]:value`.
    MalformedLine,
    /// An END without a matching BEGIN, or a component left open.
    UnbalancedComponent,
    /// Content after `END:VCALENDAR` or outside any component.
    TrailingGarbage,
    /// An event without a usable DTSTART; it was skipped.
    MissingStart,
    /// A DTSTART/DTEND/DURATION value that could not be read.
    InvalidValue,
    /// An event whose end is not after its start; it was skipped.
    EndNotAfterStart,
    /// A TZID that is neither IANA, declared with an X-LIC-LOCATION, nor a known Windows name;
    /// its times were read as floating (property) time.
    UnknownTimeZone,
    /// An event without UID; a synthetic one was made from its dates and summary.
    MissingUid,
    /// A `STATUS:CANCELLED` event; it is listed but takes no nights.
    Cancelled,
    /// The input has no `BEGIN:VCALENDAR` (an HTML error page, for instance).
    NotACalendar,
    /// More warnings than [`MAX_WARNINGS`]; the rest were counted, not kept.
    TooManyWarnings,
}

/// A problem found while reading a feed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParseWarning {
    /// 1-based physical line where the problem starts (0 when it concerns the whole feed).
    pub line: usize,
    /// What kind of problem.
    pub kind: ParseWarningKind,
    /// A readable description.
    pub message: String,
}

/// Warnings kept per feed; garbage input must not turn into megabytes of warnings.
pub const MAX_WARNINGS: usize = 100;

/// The deepest component nesting read. Real feeds nest three deep (VCALENDAR, VEVENT, VALARM);
/// a component opened deeper is skipped with everything in it, so that a feed of a million
/// unclosed BEGINs costs linear time instead of a search of the open stack on every line.
const MAX_DEPTH: usize = 16;

/// The result of reading a feed.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ParsedFeed {
    /// The calendar's PRODID, unescaped (Booking.com's double escaping undone).
    pub prodid: Option<String>,
    /// The channel, from the PRODID, else from the UIDs' domain.
    pub channel: Option<Channel>,
    /// Whether a `BEGIN:VCALENDAR` was seen at all. When false the body was not a calendar and
    /// the fetch should be classified as a parse error rather than an empty feed.
    pub saw_calendar: bool,
    /// The events, in feed order, including cancelled ones (see [`FeedEvent::blocks_dates`]).
    pub events: Vec<FeedEvent>,
    /// Problems met on the way.
    pub warnings: Vec<ParseWarning>,
}

/// Parses a feed reading date-times in UTC. See [`parse_with`].
pub fn parse(bytes: &[u8]) -> ParsedFeed {
    parse_with(bytes, &ParseOptions::default())
}

#[derive(Debug, PartialEq, Eq)]
enum Component {
    Calendar,
    Event,
    Timezone,
    Other(String),
}

impl Component {
    fn from_name(name: &str) -> Self {
        if name.eq_ignore_ascii_case("VCALENDAR") {
            Component::Calendar
        } else if name.eq_ignore_ascii_case("VEVENT") {
            Component::Event
        } else if name.eq_ignore_ascii_case("VTIMEZONE") {
            Component::Timezone
        } else {
            Component::Other(name.to_ascii_uppercase())
        }
    }

    fn is(&self, name: &str) -> bool {
        match self {
            Component::Calendar => name.eq_ignore_ascii_case("VCALENDAR"),
            Component::Event => name.eq_ignore_ascii_case("VEVENT"),
            Component::Timezone => name.eq_ignore_ascii_case("VTIMEZONE"),
            Component::Other(n) => n.eq_ignore_ascii_case(name),
        }
    }
}

#[derive(Default)]
struct Draft {
    line: usize,
    uid: Option<String>,
    summary: Option<String>,
    status: Option<String>,
    start: Option<RawTime>,
    end: Option<RawTime>,
    duration: Option<String>,
}

struct Warnings {
    kept: Vec<ParseWarning>,
    dropped: usize,
}

impl Warnings {
    fn push(&mut self, line: usize, kind: ParseWarningKind, message: impl Into<String>) {
        if self.kept.len() < MAX_WARNINGS {
            self.kept.push(ParseWarning {
                line,
                kind,
                message: message.into(),
            });
        } else {
            self.dropped += 1;
        }
    }

    fn finish(mut self) -> Vec<ParseWarning> {
        if self.dropped > 0 {
            self.kept.push(ParseWarning {
                line: 0,
                kind: ParseWarningKind::TooManyWarnings,
                message: format!("{} more warnings were not kept", self.dropped),
            });
        }
        self.kept
    }
}

/// Parses a feed. Never panics and never fails: whatever cannot be read becomes a warning, and an
/// unreadable event is skipped on its own.
pub fn parse_with(bytes: &[u8], options: &ParseOptions) -> ParsedFeed {
    let mut warnings = Warnings {
        kept: Vec::new(),
        dropped: 0,
    };
    let mut stack: Vec<Component> = Vec::new();
    let mut drafts: Vec<Draft> = Vec::new();
    let mut current: Option<Draft> = None;
    let mut prodid: Option<String> = None;
    let mut saw_calendar = false;
    let mut calendar_closed = false;
    let mut garbage_reported = false;
    let mut declared_zones: HashMap<String, String> = HashMap::new();
    let mut tz_being_declared: (Option<String>, Option<String>) = (None, None);
    // Components open below MAX_DEPTH: skipped, counted so their ENDs close them.
    let mut too_deep: usize = 0;

    for logical in Lines::new(bytes) {
        let text = String::from_utf8_lossy(&logical.bytes);
        let line_no = logical.line;
        if too_deep > 0 {
            if let Some(cl) = parse_content_line(&text) {
                if cl.name.eq_ignore_ascii_case("BEGIN") {
                    too_deep += 1;
                } else if cl.name.eq_ignore_ascii_case("END") {
                    too_deep -= 1;
                }
            }
            continue;
        }
        let Some(cl) = parse_content_line(&text) else {
            if stack.is_empty() {
                report_garbage(
                    &mut warnings,
                    &mut garbage_reported,
                    calendar_closed,
                    line_no,
                );
            } else {
                warnings.push(
                    line_no,
                    ParseWarningKind::MalformedLine,
                    format!("line {line_no} is not NAME:value; skipped"),
                );
            }
            continue;
        };
        let name = cl.name;
        if name.eq_ignore_ascii_case("BEGIN") {
            if stack.len() >= MAX_DEPTH {
                warnings.push(
                    line_no,
                    ParseWarningKind::UnbalancedComponent,
                    format!(
                        "line {line_no}: components nested deeper than {MAX_DEPTH}; skipped up to their END"
                    ),
                );
                too_deep = 1;
                continue;
            }
            let component = Component::from_name(cl.value.trim());
            match component {
                Component::Calendar => {
                    saw_calendar = true;
                    calendar_closed = false;
                }
                Component::Event => {
                    if let Some(pos) = stack.iter().position(|c| *c == Component::Event) {
                        warnings.push(
                            line_no,
                            ParseWarningKind::UnbalancedComponent,
                            format!(
                                "line {line_no}: BEGIN:VEVENT inside an unclosed VEVENT; closing it"
                            ),
                        );
                        stack.truncate(pos);
                        drafts.extend(current.take());
                    }
                    current = Some(Draft {
                        line: line_no,
                        ..Draft::default()
                    });
                }
                Component::Timezone => tz_being_declared = (None, None),
                Component::Other(_) => {}
            }
            stack.push(component);
            continue;
        }
        if name.eq_ignore_ascii_case("END") {
            let what = cl.value.trim();
            let Some(pos) = stack.iter().rposition(|c| c.is(what)) else {
                warnings.push(
                    line_no,
                    ParseWarningKind::UnbalancedComponent,
                    format!("line {line_no}: END:{what} without BEGIN; ignored"),
                );
                continue;
            };
            if pos + 1 < stack.len() {
                warnings.push(
                    line_no,
                    ParseWarningKind::UnbalancedComponent,
                    format!("line {line_no}: END:{what} closes components left open"),
                );
            }
            for closed in stack.drain(pos..).rev() {
                match closed {
                    Component::Event => drafts.extend(current.take()),
                    Component::Timezone => {
                        if let (Some(id), Some(location)) = std::mem::take(&mut tz_being_declared) {
                            declared_zones.insert(id, location);
                        }
                    }
                    Component::Calendar => calendar_closed = true,
                    Component::Other(_) => {}
                }
            }
            continue;
        }
        match stack.last() {
            Some(Component::Event) => {
                if let Some(draft) = current.as_mut() {
                    event_property(draft, &cl, line_no, &mut warnings);
                }
            }
            Some(Component::Calendar) => {
                if name.eq_ignore_ascii_case("PRODID") {
                    prodid = Some(unescape_prodid(cl.value.trim()));
                }
            }
            Some(Component::Timezone) => {
                if name.eq_ignore_ascii_case("TZID") {
                    tz_being_declared.0 = Some(cl.value.trim().to_owned());
                } else if name.eq_ignore_ascii_case("X-LIC-LOCATION") {
                    tz_being_declared.1 = Some(cl.value.trim().to_owned());
                }
            }
            Some(Component::Other(_)) => {}
            None => report_garbage(
                &mut warnings,
                &mut garbage_reported,
                calendar_closed,
                line_no,
            ),
        }
    }

    if !stack.is_empty() {
        warnings.push(
            0,
            ParseWarningKind::UnbalancedComponent,
            "the feed ended with components still open",
        );
        drafts.extend(current.take());
    }
    if !saw_calendar {
        warnings.push(
            0,
            ParseWarningKind::NotACalendar,
            "no BEGIN:VCALENDAR found",
        );
    }

    let mut channel = prodid.as_deref().map(detect_channel);
    let mut resolver = ZoneResolver {
        declared: declared_zones,
        cache: HashMap::new(),
        property: options.tz,
    };
    let mut events = Vec::with_capacity(drafts.len());
    for draft in drafts {
        if let Some(event) = finish_event(draft, &mut resolver, &mut warnings) {
            events.push(event);
        }
    }
    if matches!(channel, None | Some(Channel::Other)) {
        let from_uids = events
            .iter()
            .map(|e| channel_from_uid(&e.uid))
            .find(|c| *c != Channel::Other);
        if from_uids.is_some() {
            channel = from_uids;
        }
    }
    let feed_channel = channel.unwrap_or(Channel::Other);
    for event in &mut events {
        event.channel = feed_channel;
    }
    ParsedFeed {
        prodid,
        channel,
        saw_calendar,
        events,
        warnings: warnings.finish(),
    }
}

fn report_garbage(warnings: &mut Warnings, reported: &mut bool, after_calendar: bool, line: usize) {
    if !*reported {
        *reported = true;
        let message = if after_calendar {
            format!("line {line}: content after END:VCALENDAR ignored")
        } else {
            format!("line {line}: content outside any component ignored")
        };
        warnings.push(line, ParseWarningKind::TrailingGarbage, message);
    }
}

fn event_property(
    draft: &mut Draft,
    cl: &crate::lines::ContentLine<'_>,
    line: usize,
    warnings: &mut Warnings,
) {
    let name = cl.name;
    let is = |n: &str| name.eq_ignore_ascii_case(n);
    if is("UID") {
        let uid = unescape(cl.value.trim());
        if !uid.is_empty() {
            draft.uid = Some(uid);
        }
    } else if is("SUMMARY") {
        draft.summary = Some(unescape(cl.value));
    } else if is("STATUS") {
        draft.status = Some(cl.value.trim().to_ascii_uppercase());
    } else if is("DTSTART") || is("DTEND") {
        match parse_time(cl.value, cl.tzid) {
            Some(t) if is("DTSTART") => draft.start = Some(t),
            Some(t) => draft.end = Some(t),
            None => warnings.push(
                line,
                ParseWarningKind::InvalidValue,
                format!(
                    "line {line}: unreadable {name} value {:?}",
                    truncate(cl.value)
                ),
            ),
        }
    } else if is("DURATION") {
        draft.duration = Some(cl.value.trim().to_owned());
    }
    // `VALUE=` needs no handling: the value's own shape tells DATE from DATE-TIME, which also
    // copes with feeds that label one as the other.
    let _ = cl.value_type;
}

fn truncate(s: &str) -> &str {
    match s.char_indices().nth(40) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

struct ZoneResolver {
    declared: HashMap<String, String>,
    cache: HashMap<String, Option<Tz>>,
    property: Tz,
}

impl ZoneResolver {
    fn moment(&mut self, raw: RawTime, line: usize, warnings: &mut Warnings) -> Moment {
        match raw {
            RawTime::Date(d) => Moment::Date(d),
            RawTime::Floating(dt) => Moment::Local(dt),
            RawTime::Utc(dt) => Moment::Local(utc_to_local(dt, self.property)),
            RawTime::Zoned(dt, tzid) => {
                let zone = match self.cache.get(&tzid) {
                    Some(z) => *z,
                    None => {
                        let z = resolve_tzid(&tzid, &self.declared);
                        if z.is_none() {
                            warnings.push(
                                line,
                                ParseWarningKind::UnknownTimeZone,
                                format!(
                                    "unknown TZID {:?}: read as the property's local time",
                                    truncate(&tzid)
                                ),
                            );
                        }
                        self.cache.insert(tzid, z);
                        z
                    }
                };
                match zone {
                    Some(z) => Moment::Local(zoned_to_local(dt, z, self.property)),
                    None => Moment::Local(dt),
                }
            }
        }
    }
}

fn finish_event(
    draft: Draft,
    zones: &mut ZoneResolver,
    warnings: &mut Warnings,
) -> Option<FeedEvent> {
    let line = draft.line;
    let Some(raw_start) = draft.start else {
        warnings.push(
            line,
            ParseWarningKind::MissingStart,
            format!("event at line {line} has no readable DTSTART; skipped"),
        );
        return None;
    };
    let start = zones.moment(raw_start, line, warnings);
    let end = match draft.end {
        Some(raw) => zones.moment(raw, line, warnings),
        None => {
            let duration = draft.duration.as_deref().and_then(|d| {
                let parsed = parse_duration(d);
                if parsed.is_none() {
                    warnings.push(
                        line,
                        ParseWarningKind::InvalidValue,
                        format!(
                            "event at line {line}: unreadable DURATION {:?}",
                            truncate(d)
                        ),
                    );
                }
                parsed
            });
            let fallback = match start {
                // RFC 5545: a DATE start without end lasts one day.
                Moment::Date(d) => d.succ_opt().map(Moment::Date),
                // A zero-length DATE-TIME event still marks its day.
                Moment::Local(dt) => dt.date().succ_opt().map(Moment::Date),
            };
            match duration.and_then(|d| add_duration(start, d)) {
                // Zero length, or a DATE start with less than a day: the event marks its day.
                Some(m) if m == start => fallback?,
                Some(m) => m,
                None => fallback?,
            }
        }
    };
    let start_date = start.start_date();
    let mut end_date = end.end_date();
    let reversed = match (start, end) {
        (Moment::Local(s), Moment::Local(e)) => e <= s,
        _ => false,
    };
    // A timed event that starts and ends on the same day (a few hours' block) takes no night by
    // the check-out rule, but it still marks its day, like a zero-length one.
    if !reversed && end_date == start_date && matches!(end, Moment::Local(_)) {
        end_date = start_date.succ_opt()?;
    }
    if reversed || end_date <= start_date {
        warnings.push(
            line,
            ParseWarningKind::EndNotAfterStart,
            format!(
                "event at line {line} ({}) ends ({end_date}) no later than it starts ({start_date}); skipped",
                draft.uid.as_deref().map(truncate).unwrap_or("no UID")
            ),
        );
        return None;
    }
    let uid = match draft.uid {
        Some(uid) => uid,
        None => {
            let uid = synthetic_uid(start_date, end_date, draft.summary.as_deref());
            warnings.push(
                line,
                ParseWarningKind::MissingUid,
                format!("event at line {line} has no UID; using {uid}"),
            );
            uid
        }
    };
    if draft.status.as_deref() == Some("CANCELLED") {
        warnings.push(
            line,
            ParseWarningKind::Cancelled,
            format!("event {} is cancelled; it takes no nights", truncate(&uid)),
        );
    }
    let kind = match classify_summary(draft.summary.as_deref()) {
        EventKind::Unknown if draft.status.as_deref() == Some("TENTATIVE") => EventKind::Tentative,
        kind => kind,
    };
    Some(FeedEvent {
        uid,
        start: start_date,
        end: end_date,
        summary: draft.summary,
        status: draft.status,
        kind,
        channel: Channel::Other,
    })
}

/// FNV-1a, 64 bit: small, stable across Rust versions (unlike `DefaultHasher`).
pub(crate) fn fnv1a(parts: &[&[u8]]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for &b in *part {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
        // Separator, so ("ab","c") and ("a","bc") differ.
        hash ^= 0xff;
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

fn synthetic_uid(start: NaiveDate, end: NaiveDate, summary: Option<&str>) -> String {
    let s = start.to_string();
    let e = end.to_string();
    let h = fnv1a(&[
        s.as_bytes(),
        e.as_bytes(),
        summary.unwrap_or_default().as_bytes(),
    ]);
    format!("posada-synthetic-{h:016x}")
}
