//! DATE, DATE-TIME and DURATION values, and time-zone identifiers.
//!
//! Imported events only matter as nights, so every value is reduced to a wall-clock time in the
//! property's zone (or a plain date). TZIDs come as IANA names, as Outlook-style Windows names, or
//! as vendor paths like `/mozilla.org/…/Europe/Rome`; whatever cannot be resolved is read as
//! floating time, which the caller reports as a warning.

use chrono::{Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone};
use chrono_tz::Tz;
use std::collections::HashMap;

/// A DTSTART/DTEND value as written in the feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RawTime {
    Date(NaiveDate),
    Utc(NaiveDateTime),
    Floating(NaiveDateTime),
    Zoned(NaiveDateTime, String),
}

/// A value reduced to the property's calendar: a date, or a wall-clock time in the property zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Moment {
    Date(NaiveDate),
    Local(NaiveDateTime),
}

impl Moment {
    /// The first night this moment touches when it starts an event.
    pub(crate) fn start_date(self) -> NaiveDate {
        match self {
            Moment::Date(d) => d,
            Moment::Local(dt) => dt.date(),
        }
    }

    /// The exclusive end date (the check-out day) when this moment ends an event: the day it
    /// falls on, whatever the time of day. A stay that ends on the 21st at 11:00 took the nights
    /// up to the 20th; nobody sleeps the night of the 21st in it.
    pub(crate) fn end_date(self) -> NaiveDate {
        match self {
            Moment::Date(d) => d,
            Moment::Local(dt) => dt.date(),
        }
    }
}

fn digits(b: &[u8]) -> Option<u32> {
    if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(
        b.iter()
            .fold(0u32, |acc, &d| acc * 10 + u32::from(d - b'0')),
    )
}

/// Parses a DATE (`YYYYMMDD`) or DATE-TIME (`YYYYMMDDTHHMM[SS][Z]`) value. Dashes and colons
/// (ISO 8601 extended form) and fractional seconds are tolerated.
pub(crate) fn parse_time(value: &str, tzid: Option<&str>) -> Option<RawTime> {
    let value = value.trim();
    let cleaned: std::borrow::Cow<'_, str> = if value.contains(['-', ':']) {
        value.replace(['-', ':'], "").into()
    } else {
        value.into()
    };
    let b = cleaned.as_bytes();
    let date = NaiveDate::from_ymd_opt(
        i32::try_from(digits(b.get(0..4)?)?).ok()?,
        digits(b.get(4..6)?)?,
        digits(b.get(6..8)?)?,
    )?;
    let rest = b.get(8..).unwrap_or_default();
    if rest.is_empty() {
        return Some(RawTime::Date(date));
    }
    let rest = rest
        .strip_prefix(b"T")
        .or_else(|| rest.strip_prefix(b"t"))?;
    let (rest, utc) = match rest.strip_suffix(b"Z").or_else(|| rest.strip_suffix(b"z")) {
        Some(r) => (r, true),
        None => (rest, false),
    };
    let rest = match rest.iter().position(|&c| c == b'.') {
        Some(dot) => &rest[..dot],
        None => rest,
    };
    let (h, m, s) = match rest.len() {
        4 => (digits(&rest[0..2])?, digits(&rest[2..4])?, 0),
        6 => (
            digits(&rest[0..2])?,
            digits(&rest[2..4])?,
            digits(&rest[4..6])?,
        ),
        _ => return None,
    };
    // A leap second (60) is read as the last second of the minute.
    let time = NaiveTime::from_hms_opt(h, m, s.min(59))?;
    let dt = date.and_time(time);
    Some(match (utc, tzid) {
        (true, _) => RawTime::Utc(dt),
        (false, Some(z)) if !z.trim().is_empty() => RawTime::Zoned(dt, z.trim().to_owned()),
        (false, _) => RawTime::Floating(dt),
    })
}

/// Parses a DURATION (`[+]P[nW][nD][T[nH][nM][nS]]`). Negative durations are rejected.
pub(crate) fn parse_duration(value: &str) -> Option<Duration> {
    let v = value.trim();
    let v = v.strip_prefix('+').unwrap_or(v);
    let v = v.strip_prefix(['P', 'p'])?;
    let mut total: i64 = 0;
    let mut num: Option<i64> = None;
    let mut in_time = false;
    let mut any = false;
    for c in v.chars() {
        match c {
            '0'..='9' => {
                let d = i64::from(u32::from(c) - u32::from('0'));
                num = Some(num.unwrap_or(0).checked_mul(10)?.checked_add(d)?);
            }
            'T' | 't' => in_time = true,
            unit => {
                let n = num.take()?;
                let secs = match (unit.to_ascii_uppercase(), in_time) {
                    ('W', false) => 7 * 86_400,
                    ('D', false) => 86_400,
                    ('H', true) => 3_600,
                    ('M', true) => 60,
                    ('S', true) => 1,
                    _ => return None,
                };
                total = total.checked_add(n.checked_mul(secs)?)?;
                any = true;
            }
        }
    }
    if num.is_some() || !any {
        return None;
    }
    // Beyond ~270 years nothing about a booking makes sense; refuse rather than overflow.
    if total > 100 * 366 * 86_400 {
        return None;
    }
    Some(Duration::seconds(total))
}

/// Adds a duration to a moment. A date plus a duration with a time part ends on the day the
/// duration ends in (its time of day does not take that night, as for any end).
pub(crate) fn add_duration(start: Moment, duration: Duration) -> Option<Moment> {
    match start {
        Moment::Date(d) => {
            let days = duration.num_seconds() / 86_400;
            d.checked_add_signed(Duration::days(days)).map(Moment::Date)
        }
        Moment::Local(dt) => dt.checked_add_signed(duration).map(Moment::Local),
    }
}

/// Common Windows (Outlook/Exchange) zone names and the IANA zone they stand for.
const WINDOWS_ZONES: &[(&str, Tz)] = &[
    (
        "Argentina Standard Time",
        Tz::America__Argentina__Buenos_Aires,
    ),
    ("SA Eastern Standard Time", Tz::America__Cayenne),
    ("E. South America Standard Time", Tz::America__Sao_Paulo),
    ("Pacific SA Standard Time", Tz::America__Santiago),
    ("Montevideo Standard Time", Tz::America__Montevideo),
    ("Paraguay Standard Time", Tz::America__Asuncion),
    ("SA Pacific Standard Time", Tz::America__Bogota),
    ("SA Western Standard Time", Tz::America__La_Paz),
    ("Central Standard Time (Mexico)", Tz::America__Mexico_City),
    ("Eastern Standard Time", Tz::America__New_York),
    ("Central Standard Time", Tz::America__Chicago),
    ("Mountain Standard Time", Tz::America__Denver),
    ("US Mountain Standard Time", Tz::America__Phoenix),
    ("Pacific Standard Time", Tz::America__Los_Angeles),
    ("Alaskan Standard Time", Tz::America__Anchorage),
    ("Hawaiian Standard Time", Tz::Pacific__Honolulu),
    ("Atlantic Standard Time", Tz::America__Halifax),
    ("GMT Standard Time", Tz::Europe__London),
    ("Greenwich Standard Time", Tz::Atlantic__Reykjavik),
    ("W. Europe Standard Time", Tz::Europe__Berlin),
    ("Romance Standard Time", Tz::Europe__Paris),
    ("Central Europe Standard Time", Tz::Europe__Budapest),
    ("Central European Standard Time", Tz::Europe__Warsaw),
    ("GTB Standard Time", Tz::Europe__Bucharest),
    ("FLE Standard Time", Tz::Europe__Kyiv),
    ("E. Europe Standard Time", Tz::Europe__Chisinau),
    ("Russian Standard Time", Tz::Europe__Moscow),
    ("Israel Standard Time", Tz::Asia__Jerusalem),
    ("India Standard Time", Tz::Asia__Kolkata),
    ("China Standard Time", Tz::Asia__Shanghai),
    ("Tokyo Standard Time", Tz::Asia__Tokyo),
    ("AUS Eastern Standard Time", Tz::Australia__Sydney),
    ("New Zealand Standard Time", Tz::Pacific__Auckland),
    ("UTC", Tz::UTC),
    ("Coordinated Universal Time", Tz::UTC),
];

/// TZIDs longer than this are unknown zones (see [`resolve_tzid`]).
const MAX_TZID_LEN: usize = 256;

/// Resolves a TZID to an IANA zone: the name itself, the `X-LIC-LOCATION` of a VTIMEZONE that
/// declared it, an IANA name at the end of a vendor path, or a known Windows name.
pub(crate) fn resolve_tzid(tzid: &str, declared: &HashMap<String, String>) -> Option<Tz> {
    let tzid = tzid.trim().trim_matches('"');
    // The longest IANA name is 32 bytes and vendor prefixes add a few dozen; a longer TZID is not a
    // zone, and trying each of its suffixes would cost time quadratic in its length.
    if tzid.len() > MAX_TZID_LEN {
        return None;
    }
    if let Ok(tz) = tzid.parse::<Tz>() {
        return Some(tz);
    }
    if let Some(location) = declared.get(tzid)
        && let Ok(tz) = location.trim().parse::<Tz>()
    {
        return Some(tz);
    }
    let mut rest = tzid;
    while let Some(slash) = rest.find('/') {
        rest = &rest[slash + 1..];
        if let Ok(tz) = rest.parse::<Tz>() {
            return Some(tz);
        }
    }
    WINDOWS_ZONES
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(tzid))
        .map(|&(_, tz)| tz)
}

/// Converts a zoned wall time to the property zone. Ambiguous times (DST fall-back) take the
/// earlier instant; times in a DST gap are moved one hour forward.
pub(crate) fn zoned_to_local(dt: NaiveDateTime, zone: Tz, property: Tz) -> NaiveDateTime {
    let instant = match zone.from_local_datetime(&dt) {
        LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => Some(t),
        LocalResult::None => dt
            .checked_add_signed(Duration::hours(1))
            .and_then(|later| zone.from_local_datetime(&later).earliest()),
    };
    match instant {
        Some(t) => t.with_timezone(&property).naive_local(),
        None => dt,
    }
}

/// Converts a UTC time to wall time in the property zone.
pub(crate) fn utc_to_local(dt: NaiveDateTime, property: Tz) -> NaiveDateTime {
    property.from_utc_datetime(&dt).naive_local()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn parses_dates_and_date_times() {
        assert_eq!(
            parse_time("20250131", None),
            Some(RawTime::Date(d(2025, 1, 31)))
        );
        assert_eq!(
            parse_time("2025-01-31", None),
            Some(RawTime::Date(d(2025, 1, 31)))
        );
        assert_eq!(
            parse_time("20250131T100000Z", Some("Europe/Rome")),
            Some(RawTime::Utc(d(2025, 1, 31).and_hms_opt(10, 0, 0).unwrap()))
        );
        assert_eq!(
            parse_time("20250131T1000", None),
            Some(RawTime::Floating(
                d(2025, 1, 31).and_hms_opt(10, 0, 0).unwrap()
            ))
        );
        assert_eq!(parse_time("20250231", None), None);
        assert_eq!(parse_time("2025013", None), None);
        assert_eq!(parse_time("20250131X", None), None);
    }

    #[test]
    fn parses_durations() {
        assert_eq!(parse_duration("P1W"), Some(Duration::days(7)));
        assert_eq!(
            parse_duration("P2DT3H"),
            Some(Duration::seconds(2 * 86_400 + 3 * 3600))
        );
        assert_eq!(parse_duration("PT90M"), Some(Duration::minutes(90)));
        assert_eq!(parse_duration("-P1D"), None);
        assert_eq!(parse_duration("P"), None);
        assert_eq!(parse_duration("P99999999999999999999W"), None);
    }

    #[test]
    fn resolves_windows_and_vendor_zone_names() {
        let none = HashMap::new();
        assert_eq!(resolve_tzid("Europe/Rome", &none), Some(Tz::Europe__Rome));
        assert_eq!(
            resolve_tzid("/mozilla.org/20050126_1/Europe/Rome", &none),
            Some(Tz::Europe__Rome)
        );
        assert_eq!(
            resolve_tzid("Argentina Standard Time", &none),
            Some(Tz::America__Argentina__Buenos_Aires)
        );
        let declared = HashMap::from([("Custom".to_owned(), "America/Cordoba".to_owned())]);
        assert!(resolve_tzid("Custom", &declared).is_some());
        assert_eq!(resolve_tzid("Mars/Olympus", &none), None);
    }

    #[test]
    fn the_end_day_is_the_check_out_day_whatever_the_time() {
        let midnight = Moment::Local(d(2025, 1, 5).and_hms_opt(0, 0, 0).unwrap());
        let eleven = Moment::Local(d(2025, 1, 5).and_hms_opt(11, 0, 0).unwrap());
        let late = Moment::Local(d(2025, 1, 5).and_hms_opt(23, 59, 59).unwrap());
        assert_eq!(midnight.end_date(), d(2025, 1, 5));
        assert_eq!(eleven.end_date(), d(2025, 1, 5));
        assert_eq!(late.end_date(), d(2025, 1, 5));
    }
}
