//! Reservation codes and guest access tokens.
//!
//! A **reservation code** is what a guest reads to the owner over the phone or types on a form, so it
//! is short and drawn from an alphabet without look-alikes: `23456789ABCDEFGHJKMNPQRSTVWXYZ` (30
//! symbols: Crockford's base-32 without `0 O 1 I L U`). Ten symbols give 30¹⁰ ≈ 5.9 × 10¹⁴
//! codes (≈ 49 bits), shown as two groups of five: `K7M2Q-XW9RD`. Since no ambiguous glyph is ever
//! issued, [`ReservationCode::parse`] forgives case, spaces and dashes but rejects `0 O 1 I L U`
//! instead of guessing. Uniqueness is the store's job (unique column, regenerate on conflict);
//! unguessability comes from the randomness.
//!
//! An **access token** is the guest's secret for reading and cancelling their own reservation: 128
//! random bits as 32 lower-case hex characters, compared in constant time.

use std::fmt;
use std::str::FromStr;

use rand::Rng;
use serde::{Deserialize, Serialize};

/// The symbols of a reservation code.
pub const CODE_ALPHABET: &[u8; 30] = b"23456789ABCDEFGHJKMNPQRSTVWXYZ";
/// Number of random symbols in a code (the dash is not counted).
pub const CODE_SYMBOLS: usize = 10;
/// Symbols per dash-separated group.
const GROUP: usize = 5;

/// A reservation code in canonical form `XXXXX-XXXXX` (upper case, one dash).
///
/// Serialized as that string; deserializing goes through [`ReservationCode::parse`].
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ReservationCode(String);

/// Why a string is not a reservation code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidCode {
    /// Wrong number of symbols once dashes and spaces are removed.
    #[error("el código de reserva tiene {CODE_SYMBOLS} caracteres (se recibieron {0})")]
    Length(usize),
    /// A symbol outside the alphabet (including the never-issued `0 O 1 I L U`).
    #[error("el código de reserva no puede contener {0:?}")]
    Symbol(char),
}

impl ReservationCode {
    /// A fresh random code. Each symbol is drawn uniformly from [`CODE_ALPHABET`].
    pub fn generate<R: Rng + ?Sized>(rng: &mut R) -> ReservationCode {
        let mut code = String::with_capacity(CODE_SYMBOLS + 1);
        for i in 0..CODE_SYMBOLS {
            if i == GROUP {
                code.push('-');
            }
            let idx = rng.random_range(0..CODE_ALPHABET.len());
            code.push(char::from(CODE_ALPHABET[idx]));
        }
        ReservationCode(code)
    }

    /// Parses what a guest typed: surrounding and inner spaces and dashes are ignored, lower case is
    /// upper-cased (`" k7m2q xw9rd "` → `K7M2Q-XW9RD`). Symbols outside the alphabet are refused.
    pub fn parse(input: &str) -> Result<ReservationCode, InvalidCode> {
        let mut symbols = String::with_capacity(CODE_SYMBOLS);
        let mut count = 0usize;
        for c in input.chars() {
            if c == '-' || c.is_whitespace() {
                continue;
            }
            count += 1;
            let upper = c.to_ascii_uppercase();
            if !upper.is_ascii() || !CODE_ALPHABET.contains(&(upper as u8)) {
                return Err(InvalidCode::Symbol(c));
            }
            symbols.push(upper);
        }
        if count != CODE_SYMBOLS {
            return Err(InvalidCode::Length(count));
        }
        let (first, second) = symbols.split_at(GROUP);
        Ok(ReservationCode(format!("{first}-{second}")))
    }

    /// The canonical form, `XXXXX-XXXXX`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Bits of randomness in a code: `10 × log2(30)` ≈ 49.07.
    pub fn entropy_bits() -> f64 {
        CODE_SYMBOLS as f64 * (CODE_ALPHABET.len() as f64).log2()
    }
}

impl fmt::Debug for ReservationCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ReservationCode({})", self.0)
    }
}

impl fmt::Display for ReservationCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for ReservationCode {
    type Err = InvalidCode;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ReservationCode::parse(s)
    }
}

impl TryFrom<String> for ReservationCode {
    type Error = InvalidCode;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        ReservationCode::parse(&s)
    }
}

impl From<ReservationCode> for String {
    fn from(code: ReservationCode) -> String {
        code.0
    }
}

/// Number of random bytes in an access token (128 bits).
pub const ACCESS_TOKEN_BYTES: usize = 16;

/// A guest's secret for their own reservation: 32 lower-case hex characters.
///
/// `Debug` hides the value so it never lands in logs by accident; `as_str`/`Display` reveal it.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AccessToken(String);

/// A string that is not 32 hex characters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("token de acceso inválido")]
pub struct InvalidAccessToken;

impl AccessToken {
    /// A fresh token of [`ACCESS_TOKEN_BYTES`] random bytes.
    pub fn generate<R: Rng + ?Sized>(rng: &mut R) -> AccessToken {
        let mut bytes = [0u8; ACCESS_TOKEN_BYTES];
        rng.fill(&mut bytes);
        let mut hex = String::with_capacity(ACCESS_TOKEN_BYTES * 2);
        for b in bytes {
            hex.push(hex_digit(b >> 4));
            hex.push(hex_digit(b & 0x0f));
        }
        AccessToken(hex)
    }

    /// Parses 32 hex characters (upper case accepted, stored lower case; spaces trimmed).
    pub fn parse(input: &str) -> Result<AccessToken, InvalidAccessToken> {
        let input = input.trim();
        if input.len() == ACCESS_TOKEN_BYTES * 2 && input.bytes().all(|b| b.is_ascii_hexdigit()) {
            Ok(AccessToken(input.to_ascii_lowercase()))
        } else {
            Err(InvalidAccessToken)
        }
    }

    /// The token's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Constant-time comparison with what a guest presented (after the same normalisation as
    /// [`Self::parse`]); false for anything malformed.
    pub fn matches(&self, presented: &str) -> bool {
        let Ok(presented) = AccessToken::parse(presented) else {
            return false;
        };
        self.0
            .bytes()
            .zip(presented.0.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
    }
}

fn hex_digit(nibble: u8) -> char {
    char::from(b"0123456789abcdef"[usize::from(nibble & 0x0f)])
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccessToken(…)")
    }
}

impl fmt::Display for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for AccessToken {
    type Err = InvalidAccessToken;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        AccessToken::parse(s)
    }
}

impl TryFrom<String> for AccessToken {
    type Error = InvalidAccessToken;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        AccessToken::parse(&s)
    }
}

impl From<AccessToken> for String {
    fn from(token: AccessToken) -> String {
        token.0
    }
}
