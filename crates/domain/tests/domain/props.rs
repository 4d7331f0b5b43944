//! Property tests for stay arithmetic, quotes, the calendar and alternatives.

use chrono::{Days, NaiveDate, Weekday};
use posada_domain::{
    Money, PricingRules, Season, Stay, calendar, nearest_free_alternatives, quote,
};
use proptest::prelude::*;

fn date() -> impl Strategy<Value = NaiveDate> {
    // 2020-01-01 plus up to ~12 years, so leap days and year ends are crossed.
    (0u64..4_400).prop_map(|n| {
        NaiveDate::from_ymd_opt(2020, 1, 1)
            .unwrap()
            .checked_add_days(Days::new(n))
            .unwrap()
    })
}

fn any_stay() -> impl Strategy<Value = Stay> {
    (date(), 1u32..90).prop_map(|(a, n)| Stay::with_nights(a, n).unwrap())
}

/// Stays close to one another so overlaps are common.
fn near_stay() -> impl Strategy<Value = Stay> {
    (0u64..60, 1u32..15).prop_map(|(offset, n)| {
        let base = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
        Stay::with_nights(base.checked_add_days(Days::new(offset)).unwrap(), n).unwrap()
    })
}

fn weekdays() -> impl Strategy<Value = Vec<Weekday>> {
    proptest::sample::subsequence(
        vec![
            Weekday::Mon,
            Weekday::Tue,
            Weekday::Wed,
            Weekday::Thu,
            Weekday::Fri,
            Weekday::Sat,
            Weekday::Sun,
        ],
        0..=7,
    )
}

fn rules() -> impl Strategy<Value = PricingRules> {
    (
        1i64..100_000_000,
        weekdays(),
        1u32..=50_000,
        0u32..=100,
        proptest::option::of((0u64..4_400, 1u64..200, 1i64..100_000_000)),
    )
        .prop_map(|(base, weekend, bp, deposit, season)| {
            let mut r = PricingRules::new(Money::ars(base));
            r.weekend_nights = weekend;
            r.weekend_multiplier_bp = bp;
            r.deposit_percent = deposit;
            if let Some((start, len, price)) = season {
                let start = NaiveDate::from_ymd_opt(2020, 1, 1)
                    .unwrap()
                    .checked_add_days(Days::new(start))
                    .unwrap();
                r.seasons.push(Season {
                    name: "Temporada".into(),
                    start,
                    end: start.checked_add_days(Days::new(len)).unwrap(),
                    nightly: Money::ars(price),
                    min_nights: None,
                });
            }
            r
        })
}

proptest! {
    #[test]
    fn nights_count_is_the_date_difference(s in any_stay()) {
        let diff = (s.check_out() - s.check_in()).num_days();
        prop_assert_eq!(i64::from(s.nights()), diff);
        let nights: Vec<NaiveDate> = s.iter_nights().collect();
        prop_assert_eq!(nights.len() as u32, s.nights());
        prop_assert_eq!(nights.first().copied(), Some(s.check_in()));
        prop_assert_eq!(nights.last().copied(), Some(s.last_night()));
        prop_assert!(nights.iter().all(|n| s.contains_night(*n)));
        prop_assert!(!s.contains_night(s.check_out()));
        prop_assert!(nights.windows(2).all(|w| w[0].succ_opt() == Some(w[1])));
    }

    #[test]
    fn overlap_is_symmetric_and_means_a_shared_night(a in near_stay(), b in near_stay()) {
        prop_assert_eq!(a.overlaps(&b), b.overlaps(&a));
        let shared = a.iter_nights().any(|n| b.contains_night(n));
        prop_assert_eq!(a.overlaps(&b), shared);
        prop_assert!(a.overlaps(&a));
    }

    #[test]
    fn back_to_back_never_overlaps(a in any_stay(), n in 1u32..60) {
        let next = Stay::with_nights(a.check_out(), n).unwrap();
        prop_assert!(!a.overlaps(&next));
        prop_assert!(!next.overlaps(&a));
        let before = Stay::new(a.check_in().checked_sub_days(Days::new(u64::from(n))).unwrap(), a.check_in()).unwrap();
        prop_assert!(!a.overlaps(&before));
    }

    #[test]
    fn quote_totals_add_up(r in rules(), s in any_stay(), guests in 1u32..10) {
        let q = quote(&r, &s, guests).unwrap();
        prop_assert_eq!(q.nights.len() as u32, s.nights());
        let sum: i64 = q.nights.iter().map(|n| n.price.minor).sum();
        prop_assert_eq!(q.total.minor, sum);
        prop_assert!(q.deposit.minor >= 0);
        prop_assert!(q.deposit.minor <= q.total.minor);
        prop_assert_eq!(q.deposit.minor + q.balance.minor, q.total.minor);
        // deposit is total × pct / 100 within half a minor unit
        let exact = i128::from(q.total.minor) * i128::from(r.deposit_percent);
        let diff = (i128::from(q.deposit.minor) * 100 - exact).abs();
        prop_assert!(diff <= 50, "deposit {} off by {diff}/100", q.deposit.minor);
        for n in &q.nights {
            prop_assert_eq!(n.weekend, r.is_weekend_night(n.date));
            prop_assert_eq!(n.season.is_some(), r.season_for(n.date).is_some());
        }
    }

    #[test]
    fn calendar_matches_containment(taken in proptest::collection::vec(near_stay(), 0..6), from_off in 0u64..40, len in 0u64..40) {
        let base = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
        let from = base.checked_add_days(Days::new(from_off)).unwrap();
        let until = from.checked_add_days(Days::new(len)).unwrap();
        let cal = calendar(from, until, &taken);
        prop_assert_eq!(cal.len() as u64, len);
        for day in cal {
            let busy = taken.iter().any(|t| t.contains_night(day.date));
            prop_assert_eq!(day.available, !busy);
        }
    }

    #[test]
    fn alternatives_are_free_same_length_and_ordered(
        requested in near_stay(),
        taken in proptest::collection::vec(near_stay(), 0..8),
        today_off in 0u64..70,
        horizon in 0u32..40,
        limit in 0usize..6,
    ) {
        let today = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap().checked_add_days(Days::new(today_off)).unwrap();
        let alts = nearest_free_alternatives(&requested, &taken, today, horizon, limit);
        prop_assert!(alts.len() <= limit);
        let mut last_distance = 0;
        for alt in &alts {
            prop_assert_eq!(alt.nights(), requested.nights());
            prop_assert!(alt.check_in() >= today);
            prop_assert!(*alt != requested);
            prop_assert!(taken.iter().all(|t| !t.overlaps(alt)));
            let distance = (alt.check_in() - requested.check_in()).num_days().abs();
            prop_assert!(distance >= 1 && distance <= i64::from(horizon));
            prop_assert!(distance >= last_distance);
            last_distance = distance;
        }
        // Completeness: if fewer than `limit` were found, no other qualifying candidate exists.
        if alts.len() < limit {
            for offset in -i64::from(horizon)..=i64::from(horizon) {
                if offset == 0 { continue; }
                let c = requested.shifted(offset).unwrap();
                let qualifies = c.check_in() >= today && taken.iter().all(|t| !t.overlaps(&c));
                prop_assert_eq!(qualifies, alts.contains(&c), "offset {}", offset);
            }
        }
    }
}
