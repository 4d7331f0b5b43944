use posada_domain::{MAX_BOOKING_AHEAD_MONTHS, Stay};

use crate::{d, stay};

#[test]
fn construction_requires_check_out_after_check_in() {
    assert!(Stay::new(d("2026-01-05"), d("2026-01-05")).is_err());
    assert!(Stay::new(d("2026-01-05"), d("2026-01-04")).is_err());
    let s = Stay::new(d("2026-01-05"), d("2026-01-06")).unwrap();
    assert_eq!(s.nights(), 1);
    assert_eq!(s.last_night(), d("2026-01-05"));
    assert_eq!(
        Stay::with_nights(d("2026-01-30"), 3).unwrap(),
        stay("2026-01-30", "2026-02-02")
    );
    assert!(Stay::with_nights(d("2026-01-30"), 0).is_err());
}

#[test]
fn nights_overlap_and_containment() {
    let s = stay("2026-02-27", "2026-03-02"); // crosses a non-leap February
    assert_eq!(s.nights(), 3);
    assert_eq!(
        s.iter_nights().collect::<Vec<_>>(),
        vec![d("2026-02-27"), d("2026-02-28"), d("2026-03-01")]
    );
    assert_eq!(s.iter_nights().len(), 3);
    assert!(s.contains_night(d("2026-02-27")));
    assert!(s.contains_night(d("2026-03-01")));
    assert!(
        !s.contains_night(d("2026-03-02")),
        "check-out day is not a night"
    );
    assert!(!s.contains_night(d("2026-02-26")));

    let back_to_back = stay("2026-03-02", "2026-03-05");
    assert!(!s.overlaps(&back_to_back));
    assert!(!back_to_back.overlaps(&s));
    let one_shared = stay("2026-03-01", "2026-03-05");
    assert!(s.overlaps(&one_shared) && one_shared.overlaps(&s));
    let inside = stay("2026-02-28", "2026-03-01");
    assert!(s.overlaps(&inside) && inside.overlaps(&s));
    assert_eq!(s.shifted(-2).unwrap(), stay("2026-02-25", "2026-02-28"));
}

#[test]
fn booking_validation_names_fields() {
    let today = d("2026-01-10");
    let months = MAX_BOOKING_AHEAD_MONTHS; // limit: 2027-07-10
    // (check_in, check_out, expected fields in order)
    let cases: &[(&str, &str, &[&str])] = &[
        ("2026-01-10", "2026-01-11", &[]), // arriving today is fine
        ("2027-07-07", "2027-07-10", &[]), // ends exactly on the limit
        ("2026-01-09", "2026-01-12", &["check_in"]),
        ("2026-01-12", "2026-01-12", &["check_out"]),
        ("2026-01-12", "2026-01-11", &["check_out"]),
        ("2026-01-09", "2026-01-08", &["check_in", "check_out"]),
        ("2027-07-11", "2027-07-14", &["check_in"]),
        ("2027-07-08", "2027-07-12", &["check_out"]),
    ];
    for (a, b, fields) in cases {
        let result = Stay::validate_for_booking(d(a), d(b), today, months);
        match result {
            Ok(s) => {
                assert!(fields.is_empty(), "{a}..{b} should fail on {fields:?}");
                assert_eq!((s.check_in(), s.check_out()), (d(a), d(b)));
            }
            Err(errors) => {
                let got: Vec<&str> = errors.errors().iter().map(|e| e.field.as_str()).collect();
                assert_eq!(&got, fields, "{a}..{b}: {errors}");
                assert!(errors.errors().iter().all(|e| !e.message.is_empty()));
            }
        }
    }
}

#[test]
fn json_round_trip_validates() {
    let s = stay("2026-12-24", "2026-12-27");
    let json = serde_json::to_value(s).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"check_in": "2026-12-24", "check_out": "2026-12-27"})
    );
    assert_eq!(serde_json::from_value::<Stay>(json).unwrap(), s);
    let bad = serde_json::json!({"check_in": "2026-12-24", "check_out": "2026-12-24"});
    assert!(serde_json::from_value::<Stay>(bad).is_err());
}
