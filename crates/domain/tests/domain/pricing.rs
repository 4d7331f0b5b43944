//! Pricing table tests. Calendar reminder: 2026-01-01 is a Thursday, so 2026-01-02 is a Friday night
//! and 2026-01-03 a Saturday night; 2025-12-31 is a Wednesday.

use chrono::Weekday;
use posada_domain::{Money, PricingError, PricingRules, Season, quote};

use crate::{d, stay};

const BASE: i64 = 1_000_000; // $ 10.000,00

fn rules() -> PricingRules {
    PricingRules::new(Money::ars(BASE))
}

fn season(name: &str, start: &str, end: &str, nightly: i64, min: Option<u32>) -> Season {
    Season {
        name: name.into(),
        start: d(start),
        end: d(end),
        nightly: Money::ars(nightly),
        min_nights: min,
    }
}

/// Night prices (in minor units) and the weekend / season flag of each.
fn lines(q: &posada_domain::Quote) -> Vec<(i64, bool, Option<&str>)> {
    q.nights
        .iter()
        .map(|n| (n.price.minor, n.weekend, n.season.as_deref()))
        .collect()
}

#[test]
fn defaults() {
    let r = rules();
    assert_eq!(r.weekend_nights, vec![Weekday::Fri, Weekday::Sat]);
    assert_eq!(r.weekend_multiplier_bp, 10_000);
    assert_eq!(r.deposit_percent, 30);
    assert_eq!(r.min_nights, 1);
    assert!(r.validate().is_ok());
    // JSON with only the base price takes the same defaults.
    let json = serde_json::json!({"base_nightly": {"minor": BASE, "currency": "ARS"}});
    assert_eq!(serde_json::from_value::<PricingRules>(json).unwrap(), r);
}

#[test]
fn weekend_nights_table() {
    struct Case {
        name: &'static str,
        weekend: Vec<Weekday>,
        bp: u32,
        stay: (&'static str, &'static str),
        expected: Vec<(i64, bool)>,
    }
    let cases = vec![
        Case {
            name: "weekdays only",
            weekend: vec![Weekday::Fri, Weekday::Sat],
            bp: 12_000,
            stay: ("2026-01-05", "2026-01-08"), // Mon, Tue, Wed nights
            expected: vec![(BASE, false); 3],
        },
        Case {
            name: "Thu to Mon: Fri and Sat nights at 1.2x, Sunday night is not weekend",
            weekend: vec![Weekday::Fri, Weekday::Sat],
            bp: 12_000,
            stay: ("2026-01-01", "2026-01-05"),
            expected: vec![
                (BASE, false),
                (1_200_000, true),
                (1_200_000, true),
                (BASE, false),
            ],
        },
        Case {
            name: "check-out on Saturday: only Friday night is weekend",
            weekend: vec![Weekday::Fri, Weekday::Sat],
            bp: 12_000,
            stay: ("2026-01-01", "2026-01-03"),
            expected: vec![(BASE, false), (1_200_000, true)],
        },
        Case {
            name: "configured Sat and Sun nights",
            weekend: vec![Weekday::Sat, Weekday::Sun],
            bp: 15_000,
            stay: ("2026-01-02", "2026-01-05"), // Fri, Sat, Sun nights
            expected: vec![(BASE, false), (1_500_000, true), (1_500_000, true)],
        },
        Case {
            name: "weekend discount below 1x",
            weekend: vec![Weekday::Fri],
            bp: 9_000,
            stay: ("2026-01-02", "2026-01-03"),
            expected: vec![(900_000, true)],
        },
        Case {
            name: "default multiplier 1x: flagged weekend, same price",
            weekend: vec![Weekday::Fri, Weekday::Sat],
            bp: 10_000,
            stay: ("2026-01-02", "2026-01-04"),
            expected: vec![(BASE, true), (BASE, true)],
        },
        Case {
            name: "no weekend nights configured",
            weekend: vec![],
            bp: 20_000,
            stay: ("2026-01-02", "2026-01-04"),
            expected: vec![(BASE, false), (BASE, false)],
        },
    ];
    for case in cases {
        let mut r = rules();
        r.weekend_nights = case.weekend;
        r.weekend_multiplier_bp = case.bp;
        let q = quote(&r, &stay(case.stay.0, case.stay.1), 2).unwrap();
        let got: Vec<(i64, bool)> = q
            .nights
            .iter()
            .map(|n| (n.price.minor, n.weekend))
            .collect();
        assert_eq!(got, case.expected, "{}", case.name);
        let total: i64 = case.expected.iter().map(|(p, _)| p).sum();
        assert_eq!(q.total, Money::ars(total), "{}", case.name);
        assert_eq!(
            q.nights.len() as u32,
            stay(case.stay.0, case.stay.1).nights()
        );
    }
}

#[test]
fn weekend_multiplier_rounds_half_up() {
    let mut r = PricingRules::new(Money::ars(5));
    r.weekend_multiplier_bp = 15_000; // 7.5 → 8
    let q = quote(&r, &stay("2026-01-02", "2026-01-03"), 1).unwrap();
    assert_eq!(q.total, Money::ars(8));
    let mut r = PricingRules::new(Money::ars(999));
    r.weekend_multiplier_bp = 12_000; // 1198.8 → 1199
    let q = quote(&r, &stay("2026-01-02", "2026-01-03"), 1).unwrap();
    assert_eq!(q.total, Money::ars(1_199));
}

#[test]
fn seasons_crossing_the_stay() {
    let mut r = rules();
    r.weekend_multiplier_bp = 12_000;
    r.seasons = vec![
        season("Fiestas", "2025-12-20", "2026-01-02", 2_000_000, None),
        season("Alta", "2026-01-03", "2026-01-10", 1_500_000, None),
    ];
    // Dec 31 (Wed) Fiestas; Jan 1 (Thu) Fiestas; Jan 2 (Fri) base weekend; Jan 3 (Sat) Alta
    // weekend; Jan 4 (Sun) Alta — the multiplier applies on top of the season price.
    let q = quote(&r, &stay("2025-12-31", "2026-01-05"), 2).unwrap();
    assert_eq!(
        lines(&q),
        vec![
            (2_000_000, false, Some("Fiestas")),
            (2_000_000, false, Some("Fiestas")),
            (1_200_000, true, None),
            (1_800_000, true, Some("Alta")),
            (1_500_000, false, Some("Alta")),
        ]
    );
    assert_eq!(q.total, Money::ars(8_500_000));
    assert_eq!(q.deposit, Money::ars(2_550_000));
    assert_eq!(q.balance, Money::ars(5_950_000));
    assert_eq!(q.nights[0].date, d("2025-12-31"));
    assert_eq!(q.nights[4].date, d("2026-01-04"));

    // A season starting on the check-out day prices nothing.
    let q = quote(&r, &stay("2025-12-18", "2025-12-20"), 2).unwrap();
    assert!(q.nights.iter().all(|n| n.season.is_none()));
}

#[test]
fn back_to_back_seasons_are_valid_overlapping_ones_are_not() {
    let mut r = rules();
    r.seasons = vec![
        season("A", "2026-01-01", "2026-01-10", 1, None),
        season("B", "2026-01-10", "2026-01-20", 1, None),
    ];
    assert!(r.validate().is_ok());

    r.seasons
        .push(season("C", "2026-01-15", "2026-01-25", 1, None));
    let errors = r.validate().unwrap_err();
    assert!(errors.has_field("seasons[2]"), "{errors}");
    assert!(errors.errors()[0].message.contains('B'));
    match quote(&r, &stay("2026-02-01", "2026-02-03"), 1) {
        Err(PricingError::InvalidRules(e)) => assert!(e.has_field("seasons[2]")),
        other => panic!("expected invalid rules, got {other:?}"),
    }
}

#[test]
fn rules_validation_names_fields() {
    let mut r = PricingRules::new(Money::ars(0));
    r.weekend_multiplier_bp = 0;
    r.weekend_nights = vec![Weekday::Fri, Weekday::Fri];
    r.min_nights = 0;
    r.deposit_percent = 101;
    r.seasons = vec![Season {
        name: " ".into(),
        start: d("2026-01-10"),
        end: d("2026-01-10"),
        nightly: Money::new(100, posada_domain::Currency::Usd),
        min_nights: Some(0),
    }];
    let errors = r.validate().unwrap_err();
    let fields: Vec<&str> = errors.errors().iter().map(|e| e.field.as_str()).collect();
    assert_eq!(
        fields,
        vec![
            "base_nightly",
            "weekend_multiplier_bp",
            "weekend_nights",
            "min_nights",
            "deposit_percent",
            "seasons[0].name",
            "seasons[0].end",
            "seasons[0].nightly",
            "seasons[0].min_nights",
        ]
    );
}

#[test]
fn minimum_nights_table() {
    /// (global minimum, seasons, stay, required minimum)
    type Case = (u32, Vec<Season>, (&'static str, &'static str), u32);
    let cases: Vec<Case> = vec![
        (2, vec![], ("2026-01-05", "2026-01-07"), 2),
        (
            1,
            vec![season("Alta", "2026-01-07", "2026-01-20", 1, Some(5))],
            ("2026-01-05", "2026-01-08"),
            5,
        ),
        // the stay ends on the season's first day: no night in it, its minimum does not apply
        (
            1,
            vec![season("Alta", "2026-01-07", "2026-01-20", 1, Some(5))],
            ("2026-01-05", "2026-01-07"),
            1,
        ),
        // the stay starts on the season's end: outside it
        (
            1,
            vec![season("Alta", "2026-01-07", "2026-01-20", 1, Some(5))],
            ("2026-01-20", "2026-01-21"),
            1,
        ),
        // a season minimum lower than the global one does not lower it
        (
            3,
            vec![season("Baja", "2026-01-01", "2026-02-01", 1, Some(2))],
            ("2026-01-05", "2026-01-09"),
            3,
        ),
        // two seasons touched: the larger minimum
        (
            1,
            vec![
                season("A", "2026-01-01", "2026-01-06", 1, Some(2)),
                season("B", "2026-01-06", "2026-01-20", 1, Some(4)),
            ],
            ("2026-01-04", "2026-01-07"),
            4,
        ),
    ];
    for (global, seasons, (a, b), required) in cases {
        let mut r = rules();
        r.min_nights = global;
        r.seasons = seasons;
        let s = stay(a, b);
        assert_eq!(r.min_nights_for(&s), required, "{a}..{b}");
        let result = quote(&r, &s, 1);
        if s.nights() >= required {
            assert_eq!(result.unwrap().min_nights, required);
        } else {
            let err = result.unwrap_err();
            assert_eq!(
                err,
                PricingError::BelowMinimumNights {
                    nights: s.nights(),
                    min_nights: required
                }
            );
            assert_eq!(err.field(), Some("check_out"));
            assert!(err.to_string().contains(&required.to_string()));
        }
    }
}

#[test]
fn deposit_rounding_table() {
    // (total in minor units as a one-night weekday price, percent, deposit)
    let cases = [
        (5, 30, 2),                 // 1.5 → 2 (the .5 case rounds up)
        (15, 30, 5),                // 4.5 → 5
        (25, 10, 3),                // 2.5 → 3
        (1, 30, 0),                 // 0.3 → 0
        (1_000_001, 30, 300_000),   // .3 rounds down
        (1_000_005, 30, 300_002),   // .5 rounds up
        (1_000_007, 30, 300_002),   // .1 rounds down
        (3_333_333, 50, 1_666_667), // .5 rounds up
        (1_234_500, 0, 0),
        (1_234_500, 100, 1_234_500),
    ];
    for (total, pct, deposit) in cases {
        let mut r = PricingRules::new(Money::ars(total));
        r.deposit_percent = pct;
        let q = quote(&r, &stay("2026-01-05", "2026-01-06"), 1).unwrap();
        assert_eq!(q.total, Money::ars(total));
        assert_eq!(q.deposit, Money::ars(deposit), "{pct}% of {total}");
        assert_eq!(q.balance, Money::ars(total - deposit));
        assert_eq!(q.deposit_percent, pct);
    }
}

#[test]
fn guests_must_be_at_least_one() {
    let err = quote(&rules(), &stay("2026-01-05", "2026-01-06"), 0).unwrap_err();
    assert_eq!(err, PricingError::NoGuests);
    assert_eq!(err.field(), Some("guests"));
}

#[test]
fn quote_json_shape() {
    let q = quote(&rules(), &stay("2026-01-05", "2026-01-06"), 1).unwrap();
    let json = serde_json::to_value(&q).unwrap();
    assert_eq!(json["nights"][0]["date"], "2026-01-05");
    assert_eq!(json["nights"][0]["price"]["minor"], BASE);
    assert_eq!(json["nights"][0]["season"], serde_json::Value::Null);
    assert_eq!(json["nights"][0]["weekend"], false);
    assert_eq!(json["total"]["minor"], BASE);
    assert_eq!(json["deposit"]["minor"], 300_000);
    assert_eq!(json["balance"]["minor"], 700_000);
    assert_eq!(json["currency"], "ARS");
}
