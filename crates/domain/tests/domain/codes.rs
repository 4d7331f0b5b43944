use std::collections::HashSet;

use posada_domain::code::{CODE_ALPHABET, CODE_SYMBOLS};
use posada_domain::{AccessToken, InvalidCode, ReservationCode};
use rand::SeedableRng;
use rand::rngs::StdRng;

#[test]
fn alphabet_has_no_look_alikes_and_enough_entropy() {
    for c in b"0O1ILU" {
        assert!(!CODE_ALPHABET.contains(c), "{}", char::from(*c));
    }
    let unique: HashSet<_> = CODE_ALPHABET.iter().collect();
    assert_eq!(unique.len(), CODE_ALPHABET.len());
    assert!(ReservationCode::entropy_bits() >= 40.0);
    assert!((ReservationCode::entropy_bits() - 49.07).abs() < 0.01);
}

#[test]
fn generated_codes_are_canonical_and_unique_over_100k() {
    let mut rng = StdRng::seed_from_u64(0x5eed);
    let mut seen = HashSet::new();
    let mut symbol_counts = [0u32; 30];
    for _ in 0..100_000 {
        let code = ReservationCode::generate(&mut rng);
        let s = code.as_str();
        assert_eq!(s.len(), CODE_SYMBOLS + 1);
        assert_eq!(&s[5..6], "-");
        for b in s.bytes().filter(|b| *b != b'-') {
            let idx = CODE_ALPHABET.iter().position(|a| *a == b).unwrap();
            symbol_counts[idx] += 1;
        }
        assert_eq!(ReservationCode::parse(s).unwrap(), code);
        assert!(seen.insert(code), "duplicate code");
    }
    // 1 000 000 symbols: each of the 30 expected ≈ 33 333 times; all used, none wildly off.
    for (i, count) in symbol_counts.iter().enumerate() {
        assert!(
            (30_000..36_700).contains(count),
            "symbol {} drawn {count} times",
            char::from(CODE_ALPHABET[i])
        );
    }
}

#[test]
fn parse_normalises_and_rejects() {
    let canonical = ReservationCode::parse("K7M2Q-XW9RD").unwrap();
    assert_eq!(canonical.as_str(), "K7M2Q-XW9RD");
    for input in [
        "k7m2q-xw9rd",
        " K7M2QXW9RD ",
        "k7m2q xw9rd",
        "K7-M2Q-XW9-RD",
    ] {
        assert_eq!(
            ReservationCode::parse(input).unwrap(),
            canonical,
            "{input:?}"
        );
    }
    assert_eq!(
        ReservationCode::parse("K7M2Q-XW9R"),
        Err(InvalidCode::Length(9))
    );
    assert_eq!(
        ReservationCode::parse("K7M2Q-XW9RDD"),
        Err(InvalidCode::Length(11))
    );
    assert_eq!(ReservationCode::parse(""), Err(InvalidCode::Length(0)));
    for bad in ['0', 'O', 'o', '1', 'I', 'l', 'U', 'ñ', '*'] {
        let input = format!("K7M2Q-XW9R{bad}");
        assert_eq!(
            ReservationCode::parse(&input),
            Err(InvalidCode::Symbol(bad)),
            "{input}"
        );
    }
    let json = serde_json::to_value(&canonical).unwrap();
    assert_eq!(json, "K7M2Q-XW9RD");
    assert_eq!(
        serde_json::from_value::<ReservationCode>("k7m2qxw9rd".into()).unwrap(),
        canonical
    );
    assert!(serde_json::from_value::<ReservationCode>("nope".into()).is_err());
}

#[test]
fn access_tokens() {
    let mut rng = StdRng::seed_from_u64(7);
    let mut seen = HashSet::new();
    for _ in 0..10_000 {
        let token = AccessToken::generate(&mut rng);
        assert_eq!(token.as_str().len(), 32);
        assert!(
            token
                .as_str()
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        );
        assert!(seen.insert(token.as_str().to_owned()));
    }
    let token = AccessToken::generate(&mut rand::rng());
    assert!(token.matches(token.as_str()));
    assert!(token.matches(&token.as_str().to_uppercase()));
    let mut other = token.as_str().to_owned();
    let last = if other.ends_with('0') { "1" } else { "0" };
    other.replace_range(31..32, last);
    assert!(!token.matches(&other));
    assert!(!token.matches(""));
    assert!(!token.matches(&token.as_str()[..31]));
    assert_eq!(AccessToken::parse(token.as_str()).unwrap(), token);
    assert!(AccessToken::parse("zz").is_err());
    assert!(
        !format!("{token:?}").contains(token.as_str()),
        "Debug must not leak the token"
    );
}
