use posada_domain::availability::{month_bounds, month_calendar};
use posada_domain::{calendar, is_free, nearest_free_alternatives};

use crate::{d, stay};

#[test]
fn calendar_marks_taken_nights_half_open() {
    let taken = [
        stay("2026-01-02", "2026-01-04"), // nights 2, 3
        stay("2026-01-04", "2026-01-05"), // back-to-back: night 4
        stay("2026-01-03", "2026-01-04"), // overlapping another taken stay
        stay("2025-12-20", "2026-01-01"), // ends on the range's first day: no night inside
        stay("2026-01-07", "2026-02-10"), // runs past the range
    ];
    let cal = calendar(d("2026-01-01"), d("2026-01-09"), &taken);
    let free: Vec<(u32, bool)> = cal
        .iter()
        .map(|day| (chrono::Datelike::day(&day.date), day.available))
        .collect();
    assert_eq!(
        free,
        vec![
            (1, true),
            (2, false),
            (3, false),
            (4, false),
            (5, true),
            (6, true),
            (7, false),
            (8, false),
        ]
    );
    assert!(calendar(d("2026-01-05"), d("2026-01-05"), &taken).is_empty());
    assert!(calendar(d("2026-01-05"), d("2026-01-01"), &taken).is_empty());
}

#[test]
fn month_calendars() {
    assert_eq!(
        month_bounds(2028, 2),
        Some((d("2028-02-01"), d("2028-03-01")))
    );
    assert_eq!(
        month_bounds(2026, 12),
        Some((d("2026-12-01"), d("2027-01-01")))
    );
    assert_eq!(month_bounds(2026, 13), None);
    assert_eq!(month_calendar(2028, 2, &[]).len(), 29);
    assert!(month_calendar(2026, 0, &[]).is_empty());
}

#[test]
fn free_means_no_overlap() {
    let taken = [stay("2026-01-10", "2026-01-13")];
    assert!(is_free(&stay("2026-01-13", "2026-01-15"), &taken));
    assert!(is_free(&stay("2026-01-08", "2026-01-10"), &taken));
    assert!(!is_free(&stay("2026-01-12", "2026-01-14"), &taken));
    assert!(is_free(&stay("2026-01-12", "2026-01-14"), &[]));
}

#[test]
fn nearest_alternatives_same_length_closest_first() {
    let requested = stay("2026-01-10", "2026-01-13"); // 3 nights
    let taken = [stay("2026-01-09", "2026-01-14")];
    // Free before: check-out by Jan 9 → in on Jan 6 (−4). After: in on Jan 14 (+4). Then −5, +5.
    let alts = nearest_free_alternatives(&requested, &taken, d("2026-01-01"), 60, 3);
    assert_eq!(
        alts,
        vec![
            stay("2026-01-06", "2026-01-09"),
            stay("2026-01-14", "2026-01-17"),
            stay("2026-01-05", "2026-01-08"),
        ]
    );
    // Never in the past: with today = Jan 8, only later dates qualify.
    let alts = nearest_free_alternatives(&requested, &taken, d("2026-01-08"), 60, 3);
    assert_eq!(
        alts,
        vec![
            stay("2026-01-14", "2026-01-17"),
            stay("2026-01-15", "2026-01-18"),
            stay("2026-01-16", "2026-01-19"),
        ]
    );
    // Today itself is fine as a check-in.
    let alts = nearest_free_alternatives(&requested, &taken, d("2026-01-06"), 60, 1);
    assert_eq!(alts, vec![stay("2026-01-06", "2026-01-09")]);
}

#[test]
fn alternatives_respect_horizon_limit_and_gaps() {
    let requested = stay("2026-03-10", "2026-03-12"); // 2 nights
    let taken = [
        stay("2026-03-01", "2026-03-09"),
        // a one-night gap on Mar 9 is too short
        stay("2026-03-10", "2026-03-20"),
    ];
    assert!(nearest_free_alternatives(&requested, &taken, d("2026-01-01"), 5, 3).is_empty());
    let alts = nearest_free_alternatives(&requested, &taken, d("2026-01-01"), 10, 3);
    // Before: the first free pair of nights is Feb 27–Mar 1 (−11, beyond the horizon of 10).
    assert_eq!(alts, vec![stay("2026-03-20", "2026-03-22")]);
    let alts = nearest_free_alternatives(&requested, &taken, d("2026-01-01"), 11, 3);
    assert_eq!(
        alts,
        vec![
            stay("2026-03-20", "2026-03-22"),
            stay("2026-02-27", "2026-03-01"),
            stay("2026-03-21", "2026-03-23")
        ]
    );
    assert!(nearest_free_alternatives(&requested, &taken, d("2026-01-01"), 60, 0).is_empty());
    // An entirely free calendar: ±1 day, earlier first.
    let alts = nearest_free_alternatives(&requested, &[], d("2026-01-01"), 60, 2);
    assert_eq!(
        alts,
        vec![
            stay("2026-03-09", "2026-03-11"),
            stay("2026-03-11", "2026-03-13")
        ]
    );
    // Requested dates long past: nothing.
    assert!(nearest_free_alternatives(&requested, &[], d("2027-01-01"), 60, 2).is_empty());
}
