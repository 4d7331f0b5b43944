//! Availability: which nights are free, and the nearest free dates when the asked ones are not.
//!
//! Callers pass every *taken* stay of one accommodation — active reservations (`pre_reserved`,
//! `confirmed`) and blocks — as plain [`Stay`]s; this module only does the date arithmetic, so the
//! calendar and the 409 answer's alternatives follow the same half-open rule as the double-booking
//! guard in the database.

use chrono::{Days, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::stay::Stay;

/// Default search window for alternatives: 60 days either side.
pub const DEFAULT_ALTERNATIVES_HORIZON_DAYS: u32 = 60;
/// Default number of alternatives offered.
pub const DEFAULT_ALTERNATIVES_LIMIT: usize = 3;

/// Whether the night starting on `date` can be booked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DayAvailability {
    /// The night's date.
    pub date: NaiveDate,
    /// True when no taken stay contains that night.
    pub available: bool,
}

/// One entry per night in `[from, until)` (empty when `until <= from`), in date order.
/// Taken stays may overlap one another and may extend past the range.
pub fn calendar(from: NaiveDate, until: NaiveDate, taken: &[Stay]) -> Vec<DayAvailability> {
    let Ok(range) = Stay::new(from, until) else {
        return Vec::new();
    };
    let busy = busy_nights(&range, taken);
    range
        .iter_nights()
        .zip(busy)
        .map(|(date, busy)| DayAvailability {
            date,
            available: !busy,
        })
        .collect()
}

/// True when `stay` overlaps none of `taken`.
pub fn is_free(stay: &Stay, taken: &[Stay]) -> bool {
    !taken.iter().any(|t| t.overlaps(stay))
}

/// The first and the first-after-last day of a month: `(2026-02-01, 2026-03-01)`; `None` for an
/// invalid month.
pub fn month_bounds(year: i32, month: u32) -> Option<(NaiveDate, NaiveDate)> {
    let first = NaiveDate::from_ymd_opt(year, month, 1)?;
    let next = first.checked_add_months(chrono::Months::new(1))?;
    Some((first, next))
}

/// Up to `limit` free stays of the same length as `requested`, on the same accommodation, closest
/// in time to it.
///
/// Candidates are `requested` moved by 1, 2, … `horizon_days` days, earlier before later at equal
/// distance (so −1, +1, −2, +2, …); `requested` itself is never returned. A candidate must not
/// check in before `today` and must overlap none of `taken`. Booking rules that depend on the
/// dates (minimum nights of a season, the 18-month limit) are the caller's to re-check.
pub fn nearest_free_alternatives(
    requested: &Stay,
    taken: &[Stay],
    today: NaiveDate,
    horizon_days: u32,
    limit: usize,
) -> Vec<Stay> {
    let mut found = Vec::new();
    if limit == 0 || horizon_days == 0 {
        return found;
    }
    let horizon = Days::new(u64::from(horizon_days));
    let lo = requested
        .check_in()
        .checked_sub_days(horizon)
        .unwrap_or(NaiveDate::MIN)
        .max(today);
    let hi = requested
        .check_out()
        .checked_add_days(horizon)
        .unwrap_or(NaiveDate::MAX);
    let Ok(window) = Stay::new(lo, hi) else {
        return found;
    };
    // busy_before[i] = number of busy nights in the window before night i, so a candidate
    // [a, b) is free when busy_before[b] == busy_before[a].
    let mut busy_before = Vec::with_capacity(window.nights() as usize + 1);
    busy_before.push(0u32);
    let mut count = 0u32;
    for busy in busy_nights(&window, taken) {
        count += u32::from(busy);
        busy_before.push(count);
    }
    let index = |date: NaiveDate| usize::try_from((date - lo).num_days()).ok();

    for distance in 1..=i64::from(horizon_days) {
        for offset in [-distance, distance] {
            let Some(candidate) = requested.shifted(offset) else {
                continue;
            };
            if candidate.check_in() < today {
                continue;
            }
            let (Some(a), Some(b)) = (index(candidate.check_in()), index(candidate.check_out()))
            else {
                continue;
            };
            if let (Some(before_a), Some(before_b)) = (busy_before.get(a), busy_before.get(b))
                && before_a == before_b
            {
                found.push(candidate);
                if found.len() == limit {
                    return found;
                }
            }
        }
    }
    found
}

/// For each night of `range`, whether some taken stay contains it.
fn busy_nights(range: &Stay, taken: &[Stay]) -> Vec<bool> {
    let len = range.nights() as usize;
    let mut busy = vec![false; len];
    let offset = |date: NaiveDate| {
        usize::try_from((date - range.check_in()).num_days().clamp(0, len as i64)).unwrap_or(0)
    };
    for stay in taken.iter().filter(|t| t.overlaps(range)) {
        let (a, b) = (offset(stay.check_in()), offset(stay.check_out()));
        if let Some(nights) = busy.get_mut(a..b) {
            nights.fill(true);
        }
    }
    busy
}

/// Convenience for a month calendar: [`calendar`] over [`month_bounds`]; empty for an invalid month.
pub fn month_calendar(year: i32, month: u32, taken: &[Stay]) -> Vec<DayAvailability> {
    month_bounds(year, month).map_or_else(Vec::new, |(from, until)| calendar(from, until, taken))
}
