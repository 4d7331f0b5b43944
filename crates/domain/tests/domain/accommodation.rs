use chrono::NaiveTime;
use posada_domain::{
    AccommodationKind, Money, NewAccommodation, Photo, PricingError, PricingRules, is_valid_slug,
    slugify,
};

use crate::stay;

fn photo(url: &str, position: u32, primary: bool) -> Photo {
    Photo {
        url: url.into(),
        caption: "Vista al lago".into(),
        position,
        primary,
    }
}

fn valid() -> NewAccommodation {
    NewAccommodation {
        name: "Cabaña del Lago".into(),
        slug: "cabana-del-lago".into(),
        kind: AccommodationKind::Cabin,
        description: "Dos ambientes con vista al lago.".into(),
        capacity: 4,
        amenities: vec!["wifi".into(), "parrilla".into()],
        photos: vec![
            photo("https://example.com/a.jpg", 2, false),
            photo("/media/b.jpg", 1, true),
        ],
        check_in_time: NaiveTime::from_hms_opt(14, 0, 0).unwrap(),
        check_out_time: NaiveTime::from_hms_opt(10, 0, 0).unwrap(),
        active: true,
        pricing: PricingRules::new(Money::ars(8_000_000)),
    }
}

fn fields(input: &NewAccommodation) -> Vec<String> {
    match input.validate() {
        Ok(()) => vec![],
        Err(e) => e.into_iter().map(|e| e.field).collect(),
    }
}

#[test]
fn a_valid_accommodation_passes_and_converts() {
    let input = valid();
    assert!(input.validate().is_ok());
    let acc = input.clone().into_accommodation(7);
    assert_eq!(acc.id, 7);
    assert_eq!(acc.to_input(), input);
    assert_eq!(acc.primary_photo().unwrap().url, "/media/b.jpg");
    let ordered: Vec<u32> = acc.photos_in_order().iter().map(|p| p.position).collect();
    assert_eq!(ordered, vec![1, 2]);
}

#[test]
fn each_rule_names_its_field() {
    type Edit = fn(&mut NewAccommodation);
    let cases: Vec<(&str, Edit, Vec<&str>)> = vec![
        ("empty name", |a| a.name = "  ".into(), vec!["name"]),
        ("long name", |a| a.name = "x".repeat(121), vec!["name"]),
        (
            "upper-case slug",
            |a| a.slug = "Cabana".into(),
            vec!["slug"],
        ),
        ("zero capacity", |a| a.capacity = 0, vec!["capacity"]),
        ("huge capacity", |a| a.capacity = 51, vec!["capacity"]),
        (
            "empty amenity",
            |a| a.amenities.push(" ".into()),
            vec!["amenities[2]"],
        ),
        (
            "repeated amenity",
            |a| a.amenities.push("WiFi".into()),
            vec!["amenities[2]"],
        ),
        (
            "no primary photo",
            |a| a.photos[1].primary = false,
            vec!["photos"],
        ),
        (
            "two primary photos",
            |a| a.photos[0].primary = true,
            vec!["photos"],
        ),
        (
            "bad photo url",
            |a| a.photos[0].url = "ftp://x".into(),
            vec!["photos[0].url"],
        ),
        (
            "protocol-relative url",
            |a| a.photos[0].url = "//x/a.jpg".into(),
            vec!["photos[0].url"],
        ),
        (
            "same position",
            |a| a.photos[1].position = 2,
            vec!["photos[1].position"],
        ),
        (
            "long caption",
            |a| a.photos[0].caption = "x".repeat(301),
            vec!["photos[0].caption"],
        ),
        ("no photos at all is fine", |a| a.photos.clear(), vec![]),
        (
            "pricing",
            |a| a.pricing.min_nights = 0,
            vec!["pricing.min_nights"],
        ),
        (
            "several at once",
            |a| {
                a.name.clear();
                a.capacity = 0;
                a.pricing.base_nightly = Money::ars(0);
            },
            vec!["name", "capacity", "pricing.base_nightly"],
        ),
    ];
    for (name, edit, expected) in cases {
        let mut input = valid();
        edit(&mut input);
        assert_eq!(fields(&input), expected, "{name}");
    }
}

#[test]
fn slugs() {
    for ok in ["a", "cabana-1", "casa-del-rio", "2"] {
        assert!(is_valid_slug(ok), "{ok}");
    }
    for bad in [
        "",
        "-a",
        "a-",
        "a--b",
        "Casa",
        "casa rio",
        "cabaña",
        "a_b",
        &"a".repeat(65),
    ] {
        assert!(!is_valid_slug(bad), "{bad}");
    }
    assert_eq!(slugify("Cabaña del Río #2"), "cabana-del-rio-2");
    assert_eq!(slugify("  ¡Último Depto!  "), "ultimo-depto");
    assert_eq!(slugify("***"), "");
    assert!(is_valid_slug(&slugify(&"Casa ".repeat(40))));
}

#[test]
fn kinds_round_trip() {
    for k in AccommodationKind::ALL {
        assert_eq!(AccommodationKind::parse(k.as_str()).unwrap(), k);
        assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
    }
    assert!(AccommodationKind::parse("castle").is_err());
}

#[test]
fn json_defaults() {
    let json = serde_json::json!({
        "name": "Depto Centro",
        "slug": "depto-centro",
        "kind": "apartment",
        "capacity": 2,
        "pricing": {"base_nightly": {"minor": 5_000_000, "currency": "ARS"}}
    });
    let input: NewAccommodation = serde_json::from_value(json).unwrap();
    assert!(input.validate().is_ok());
    assert!(input.active);
    assert_eq!(
        input.check_in_time,
        NaiveTime::from_hms_opt(14, 0, 0).unwrap()
    );
    assert_eq!(
        input.check_out_time,
        NaiveTime::from_hms_opt(10, 0, 0).unwrap()
    );
    assert!(input.photos.is_empty() && input.amenities.is_empty());
}

#[test]
fn quoting_checks_capacity() {
    let acc = valid().into_accommodation(1);
    let s = stay("2026-01-05", "2026-01-07");
    assert_eq!(acc.quote(&s, 4).unwrap().total, Money::ars(16_000_000));
    let err = acc.quote(&s, 5).unwrap_err();
    assert_eq!(
        err,
        PricingError::TooManyGuests {
            guests: 5,
            capacity: 4
        }
    );
    assert_eq!(err.field(), Some("guests"));
}
