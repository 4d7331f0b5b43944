use posada_domain::{Currency, Money, MoneyError, format_es_ar};

#[test]
fn formats_like_argentine_guests_read_it() {
    let cases = [
        (Money::ars(1_234_500), "$ 12.345,00"),
        (Money::ars(0), "$ 0,00"),
        (Money::ars(5), "$ 0,05"),
        (Money::ars(99_999), "$ 999,99"),
        (Money::ars(100_000), "$ 1.000,00"),
        (Money::ars(123_456_789_012), "$ 1.234.567.890,12"),
        (Money::ars(-100_050), "-$ 1.000,50"),
        (Money::new(8_050, Currency::Usd), "US$ 80,50"),
        (Money::ars(i64::MIN), "-$ 92.233.720.368.547.758,08"),
    ];
    for (money, expected) in cases {
        assert_eq!(format_es_ar(&money), expected, "{money:?}");
        assert_eq!(money.to_string(), expected);
    }
}

#[test]
fn currency_codes_round_trip() {
    for c in Currency::ALL {
        assert_eq!(Currency::parse(c.code()).unwrap(), c);
        assert_eq!(c.code().parse::<Currency>().unwrap(), c);
    }
    assert_eq!(Currency::parse(" ars ").unwrap(), Currency::Ars);
    assert_eq!(Currency::default(), Currency::Ars);
    assert_eq!(
        Currency::parse("EUR"),
        Err(MoneyError::UnknownCurrency("EUR".into()))
    );
}

#[test]
fn arithmetic_is_checked() {
    let a = Money::ars(150);
    assert_eq!(a.checked_add(Money::ars(50)).unwrap(), Money::ars(200));
    assert_eq!(a.checked_sub(Money::ars(200)).unwrap(), Money::ars(-50));
    assert_eq!(a.checked_mul(3).unwrap(), Money::ars(450));
    assert_eq!(
        a.checked_add(Money::new(1, Currency::Usd)),
        Err(MoneyError::CurrencyMismatch {
            left: Currency::Ars,
            right: Currency::Usd
        })
    );
    assert_eq!(
        Money::ars(i64::MAX).checked_add(Money::ars(1)),
        Err(MoneyError::Overflow)
    );
    assert_eq!(
        Money::ars(i64::MAX).checked_mul(2),
        Err(MoneyError::Overflow)
    );
    assert_eq!(
        Money::from_major(12_345, Currency::Ars).unwrap(),
        Money::ars(1_234_500)
    );
    assert_eq!(
        Money::from_major(i64::MAX / 10, Currency::Ars),
        Err(MoneyError::Overflow)
    );
    assert_eq!(
        Money::sum(Currency::Ars, [Money::ars(1), Money::ars(2)]).unwrap(),
        Money::ars(3)
    );
    assert_eq!(
        Money::sum(Currency::Usd, []).unwrap(),
        Money::zero(Currency::Usd)
    );
    assert_eq!(
        Money::ars(i64::MAX).basis_points(20_000),
        Err(MoneyError::Overflow)
    );
}

#[test]
fn percentages_round_half_up_to_the_minor_unit() {
    // (amount, percent, expected)
    let cases = [
        (5, 30, 2),               // 1.5 → 2
        (15, 30, 5),              // 4.5 → 5
        (1, 30, 0),               // 0.3 → 0
        (2, 30, 1),               // 0.6 → 1
        (150, 33, 50),            // 49.5 → 50
        (1_000_001, 30, 300_000), // 300 000.3 → 300 000
        (1_000_005, 30, 300_002), // 300 001.5 → 300 002
        (1_234_500, 30, 370_350), // exact
        (1_234_500, 0, 0),
        (1_234_500, 100, 1_234_500),
        (-5, 30, -2), // half away from zero for negatives
    ];
    for (amount, pct, expected) in cases {
        assert_eq!(
            Money::ars(amount).percent(pct).unwrap(),
            Money::ars(expected),
            "{pct}% of {amount}"
        );
    }
    // basis points: 5 × 1.5 = 7.5 → 8; 999 × 1.2 = 1198.8 → 1199; 1001 × 0.85 = 850.85 → 851
    assert_eq!(Money::ars(5).basis_points(15_000).unwrap(), Money::ars(8));
    assert_eq!(
        Money::ars(999).basis_points(12_000).unwrap(),
        Money::ars(1_199)
    );
    assert_eq!(
        Money::ars(1_001).basis_points(8_500).unwrap(),
        Money::ars(851)
    );
}

#[test]
fn json_shape() {
    let json = serde_json::to_value(Money::ars(1_234_500)).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"minor": 1_234_500, "currency": "ARS"})
    );
    let back: Money = serde_json::from_value(json).unwrap();
    assert_eq!(back, Money::ars(1_234_500));
    assert!(
        serde_json::from_value::<Money>(serde_json::json!({"minor": 1, "currency": "EUR"}))
            .is_err()
    );
}
