//! Parse throughput on a generated 10,000-event feed shaped like Airbnb's (DTSTAMP, all-day
//! dates, a folded DESCRIPTION). Plain timing loop, no criterion: `cargo bench -p posada-ical`.
//! The target is at least 50 MB/s in release.

use chrono::{Duration, NaiveDate, TimeZone, Utc};
use posada_ical::{Calendar, ExportEvent, ParseOptions, Tz, parse_with, write_calendar};
use std::hint::black_box;
use std::time::Instant;

fn feed(events: usize) -> String {
    let base = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap_or_default();
    let stamp = Utc
        .with_ymd_and_hms(2026, 1, 1, 7, 24, 9)
        .single()
        .unwrap_or_default();
    let events = (0..events)
        .map(|i| {
            let start = base + Duration::days(i as i64 % 3000);
            ExportEvent {
                uid: format!("1418fb94e984-{i:032x}@airbnb.com"),
                start,
                end: start + Duration::days(1 + i as i64 % 9),
                summary: if i % 4 == 0 { "Airbnb (Not available)".into() } else { "Reserved".into() },
                dtstamp: stamp,
                description: (i % 4 != 0).then(|| {
                    "Reservation URL: https://www.airbnb.com/hosting/reservations/details/HMXXXXXXXX\nPhone Number (Last 4 Digits): 0000".to_owned()
                }),
            }
        })
        .collect();
    write_calendar(&Calendar {
        prodid: "-//Airbnb Inc//Hosting Calendar 1.0//EN".into(),
        name: None,
        events,
    })
}

fn main() {
    let text = feed(10_000);
    let bytes = text.as_bytes();
    let options = ParseOptions {
        tz: Tz::Europe__Rome,
    };
    let check = parse_with(bytes, &options);
    assert_eq!(check.events.len(), 10_000, "{:?}", check.warnings.first());

    for _ in 0..3 {
        black_box(parse_with(black_box(bytes), &options));
    }
    let rounds = 30;
    let started = Instant::now();
    for _ in 0..rounds {
        black_box(parse_with(black_box(bytes), &options));
    }
    let elapsed = started.elapsed().as_secs_f64();
    let mb = bytes.len() as f64 * f64::from(rounds) / 1_000_000.0;
    println!(
        "parse: 10000 events, {:.2} MB per feed, {:.2} ms per feed, {:.1} MB/s",
        bytes.len() as f64 / 1_000_000.0,
        elapsed * 1000.0 / f64::from(rounds),
        mb / elapsed
    );
}
