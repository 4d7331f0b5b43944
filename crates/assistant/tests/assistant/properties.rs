//! Properties over arbitrary input: the understanding never panics, on any Unicode up to 4 KB or on
//! text built from the pieces its date reader looks for, and whatever it returns is coherent
//! (check-out after check-in, nights equal to the dates' difference, no departure without an
//! arrival). Timing is measured by the benchmark, never asserted here.

use chrono::NaiveDate;
use posada_assistant::{Understanding, understand};
use proptest::prelude::*;

fn ref_dates() -> impl Strategy<Value = NaiveDate> {
    (0i64..36_500).prop_map(|d| {
        NaiveDate::from_ymd_opt(2000, 1, 1).unwrap_or_default() + chrono::Duration::days(d)
    })
}

fn coherent(u: &Understanding) -> Result<(), TestCaseError> {
    match (u.check_in, u.check_out) {
        (Some(a), Some(b)) => {
            prop_assert!(b > a, "check-out {b} not after check-in {a}");
            prop_assert_eq!(u.nights, u32::try_from((b - a).num_days()).ok());
        }
        (Some(_), None) => prop_assert_eq!(u.nights, None),
        (None, Some(b)) => prop_assert!(false, "check-out {b} without check-in"),
        (None, None) => {}
    }
    if let Some(g) = u.guests {
        prop_assert!(g > 0);
    }
    let json = serde_json::to_value(u).map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!(json.as_object().map(|o| o.len()), Some(6));
    Ok(())
}

/// Pieces that exercise the date, guest and unit readers together.
const PIECES: &[&str] = &[
    "del",
    "al",
    "de",
    "el",
    "a",
    "y",
    "hasta",
    "desde",
    "entre",
    "noches",
    "noche",
    "semana",
    "una",
    "un",
    "dos",
    "tres",
    "quince",
    "treinta",
    "primero",
    "1ro",
    "finde",
    "fin",
    "que",
    "viene",
    "proximo",
    "este",
    "largo",
    "mañana",
    "pasado",
    "hoy",
    "esta",
    "la",
    "las",
    "lunes",
    "viernes",
    "sabado",
    "domingo",
    "enero",
    "dic",
    "diciembe",
    "febrero",
    "setiembre",
    "2026",
    "2027",
    "2099",
    "somos",
    "para",
    "personas",
    "adultos",
    "nenes",
    "pareja",
    "matrimonios",
    "yo",
    "mi",
    "señora",
    "mis",
    "viejos",
    "hijos",
    "perro",
    "cabaña",
    "grande",
    "refugio",
    "del lago",
    "que tiene",
    "mas",
    "o",
    "solo",
    "por",
    "x",
    "RES-7K2Q9M",
    "K7M2Q-XW9RD",
    "$",
    "50.000",
    "15hs",
    "15:30",
    "/",
    "-",
    ".",
    ",",
    "?",
    "!",
    "😀",
    "🙏",
    "  ",
    "\n",
    "\u{200b}",
    "ñ",
    "Á",
    "ß",
    "ﬁ",
    "١٢",
    "１５",
    "º",
    "°",
];

fn structured() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        3 => prop::sample::select(PIECES).prop_map(str::to_owned),
        2 => (0u32..100).prop_map(|n| n.to_string()),
        1 => (1u32..40, 1u32..15).prop_map(|(d, m)| format!("{d}/{m}")),
        1 => (1u32..40, 1u32..15, 0u32..3000).prop_map(|(d, m, y)| format!("{d}-{m}-{y}")),
        1 => (1u32..40, 1u32..15).prop_map(|(d, m)| format!("{d}.{m}")),
    ];
    prop::collection::vec(piece, 0..400).prop_map(|parts| {
        let mut s = String::new();
        for (i, p) in parts.iter().enumerate() {
            if i % 3 != 0 {
                s.push(' ');
            }
            s.push_str(p);
        }
        s.truncate(s.floor_char_boundary(4096));
        s
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn any_unicode_up_to_4kb(chars in prop::collection::vec(any::<char>(), 0..1024), r in ref_dates()) {
        let text: String = chars.into_iter().collect();
        prop_assert!(text.len() <= 4096);
        coherent(&understand(&text, r))?;
    }

    #[test]
    fn printable_text_up_to_4kb(text in "[ -~áéíóúñÑ¿¡😀]{0,1000}", r in ref_dates()) {
        coherent(&understand(&text, r))?;
    }

    #[test]
    fn spanish_date_pieces(text in structured(), r in ref_dates()) {
        coherent(&understand(&text, r))?;
    }

    #[test]
    fn extreme_reference_dates(text in structured(), days in prop_oneof![Just(i32::MIN), Just(i32::MAX), any::<i32>()]) {
        let r = NaiveDate::from_num_days_from_ce_opt(days.clamp(-100_000_000, 100_000_000))
            .unwrap_or(NaiveDate::MAX);
        coherent(&understand(&text, r))?;
        coherent(&understand(&text, NaiveDate::MAX))?;
        coherent(&understand(&text, NaiveDate::MIN))?;
    }
}
