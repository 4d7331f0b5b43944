//! Money as integer minor units with a currency, so no price is ever a float.
//!
//! Amounts are `i64` minor units (centavos for ARS, cents for USD). Arithmetic is checked: mixing
//! currencies or overflowing is an error, never a wrap or a panic. Percentages and multipliers
//! round **half up to the whole minor unit** (half away from zero for negative amounts), which is
//! the rule guests see on deposits: 30 % of $ 0,05 is $ 0,02 (1.5 → 2 centavos).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// An ISO 4217 currency posada can price in. ARS is the default.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Currency {
    /// Argentine peso, the default.
    #[default]
    #[serde(rename = "ARS")]
    Ars,
    /// US dollar.
    #[serde(rename = "USD")]
    Usd,
}

impl Currency {
    /// Every supported currency.
    pub const ALL: [Currency; 2] = [Currency::Ars, Currency::Usd];

    /// The ISO 4217 code, e.g. `"ARS"`.
    pub const fn code(self) -> &'static str {
        match self {
            Currency::Ars => "ARS",
            Currency::Usd => "USD",
        }
    }

    /// Parses an ISO code, ignoring case and surrounding spaces (`"ars"` → ARS).
    pub fn parse(code: &str) -> Result<Currency, MoneyError> {
        let code = code.trim();
        Currency::ALL
            .into_iter()
            .find(|c| c.code().eq_ignore_ascii_case(code))
            .ok_or_else(|| MoneyError::UnknownCurrency(code.to_owned()))
    }

    /// Digits after the decimal separator (2 for both ARS and USD).
    pub const fn minor_digits(self) -> u32 {
        2
    }

    /// Minor units in one major unit (100).
    pub const fn minor_per_major(self) -> i64 {
        100
    }

    /// The symbol used in es-AR text: `$` for pesos, `US$` for dollars.
    pub const fn symbol(self) -> &'static str {
        match self {
            Currency::Ars => "$",
            Currency::Usd => "US$",
        }
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Currency {
    type Err = MoneyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Currency::parse(s)
    }
}

/// Why a money operation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    /// The currency code is not one posada supports.
    #[error("moneda desconocida {0:?}: se aceptan ARS y USD")]
    UnknownCurrency(String),
    /// Two amounts in different currencies were combined.
    #[error("no se pueden combinar importes en {left} y {right}")]
    CurrencyMismatch {
        /// Currency of the left operand.
        left: Currency,
        /// Currency of the right operand.
        right: Currency,
    },
    /// The result does not fit in `i64` minor units.
    #[error("el importe excede el rango representable")]
    Overflow,
}

/// An amount of money: integer minor units plus currency.
///
/// Serialized as `{"minor": 1234500, "currency": "ARS"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Money {
    /// Amount in minor units (centavos / cents).
    pub minor: i64,
    /// Currency of the amount.
    pub currency: Currency,
}

impl Money {
    /// `minor` units of `currency`.
    pub const fn new(minor: i64, currency: Currency) -> Money {
        Money { minor, currency }
    }

    /// Zero in `currency`.
    pub const fn zero(currency: Currency) -> Money {
        Money { minor: 0, currency }
    }

    /// `minor` centavos of ARS.
    pub const fn ars(minor: i64) -> Money {
        Money::new(minor, Currency::Ars)
    }

    /// Whole major units (pesos, dollars): `from_major(12_345, Ars)` is $ 12.345,00.
    pub fn from_major(major: i64, currency: Currency) -> Result<Money, MoneyError> {
        major
            .checked_mul(currency.minor_per_major())
            .map(|minor| Money::new(minor, currency))
            .ok_or(MoneyError::Overflow)
    }

    /// True for exactly zero.
    pub const fn is_zero(self) -> bool {
        self.minor == 0
    }

    /// True for strictly positive amounts.
    pub const fn is_positive(self) -> bool {
        self.minor > 0
    }

    /// True for strictly negative amounts.
    pub const fn is_negative(self) -> bool {
        self.minor < 0
    }

    fn same_currency(self, other: Money) -> Result<(), MoneyError> {
        if self.currency == other.currency {
            Ok(())
        } else {
            Err(MoneyError::CurrencyMismatch {
                left: self.currency,
                right: other.currency,
            })
        }
    }

    /// `self + other`; errors on currency mismatch or overflow.
    pub fn checked_add(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        self.minor
            .checked_add(other.minor)
            .map(|minor| Money::new(minor, self.currency))
            .ok_or(MoneyError::Overflow)
    }

    /// `self - other`; errors on currency mismatch or overflow.
    pub fn checked_sub(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        self.minor
            .checked_sub(other.minor)
            .map(|minor| Money::new(minor, self.currency))
            .ok_or(MoneyError::Overflow)
    }

    /// `self × factor`; errors on overflow.
    pub fn checked_mul(self, factor: i64) -> Result<Money, MoneyError> {
        self.minor
            .checked_mul(factor)
            .map(|minor| Money::new(minor, self.currency))
            .ok_or(MoneyError::Overflow)
    }

    /// `percent` % of this amount, rounded half up to the whole minor unit.
    ///
    /// `Money::ars(5).percent(30)` is 2 centavos (1.5 rounds up); `Money::ars(1_000_001).percent(30)`
    /// is 300 000 centavos (300 000.3 rounds down).
    pub fn percent(self, percent: u32) -> Result<Money, MoneyError> {
        self.scale(i128::from(percent), 100)
    }

    /// This amount times `bp / 10 000` (basis points: 12 000 = ×1.2), rounded half up to the whole
    /// minor unit.
    pub fn basis_points(self, bp: u32) -> Result<Money, MoneyError> {
        self.scale(i128::from(bp), 10_000)
    }

    fn scale(self, numerator: i128, denominator: i128) -> Result<Money, MoneyError> {
        let scaled = div_round_half_up(i128::from(self.minor) * numerator, denominator);
        i64::try_from(scaled)
            .map(|minor| Money::new(minor, self.currency))
            .map_err(|_| MoneyError::Overflow)
    }

    /// Sum of `amounts`, all in `currency` (zero when empty).
    pub fn sum<I>(currency: Currency, amounts: I) -> Result<Money, MoneyError>
    where
        I: IntoIterator<Item = Money>,
    {
        amounts
            .into_iter()
            .try_fold(Money::zero(currency), Money::checked_add)
    }

    /// es-AR text for guests: `$ 12.345,00`, `US$ 80,50`, `-$ 1.000,00`. See [`format_es_ar`].
    pub fn format_es_ar(&self) -> String {
        format_es_ar(self)
    }
}

/// Displays as [`format_es_ar`].
impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_es_ar(self))
    }
}

/// Formats money the way Argentine guests read it: symbol, a space, thousands separated by `.`,
/// decimals after `,`, always two decimals; a minus sign goes before the symbol.
///
/// `Money::ars(1_234_500)` → `"$ 12.345,00"`; `Money::new(8_050, Usd)` → `"US$ 80,50"`.
pub fn format_es_ar(money: &Money) -> String {
    let per_major = i128::from(money.currency.minor_per_major());
    let abs = i128::from(money.minor).abs();
    let major = (abs / per_major).to_string();
    let minor = abs % per_major;

    let mut grouped = String::with_capacity(major.len() + major.len() / 3);
    for (i, digit) in major.chars().enumerate() {
        if i > 0 && (major.len() - i) % 3 == 0 {
            grouped.push('.');
        }
        grouped.push(digit);
    }
    let sign = if money.minor < 0 { "-" } else { "" };
    let width = money.currency.minor_digits() as usize;
    format!(
        "{sign}{} {grouped},{minor:0width$}",
        money.currency.symbol()
    )
}

/// `numerator / denominator` rounded half up (half away from zero for negatives).
/// `denominator` must be positive; callers in this crate only pass 100 and 10 000.
pub(crate) fn div_round_half_up(numerator: i128, denominator: i128) -> i128 {
    let quotient = numerator / denominator;
    let remainder = numerator % denominator;
    if remainder.abs() * 2 >= denominator {
        if numerator >= 0 {
            quotient + 1
        } else {
            quotient - 1
        }
    } else {
        quotient
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_is_half_up_to_whole_minor_units() {
        assert_eq!(div_round_half_up(150, 100), 2);
        assert_eq!(div_round_half_up(149, 100), 1);
        assert_eq!(div_round_half_up(-150, 100), -2);
        assert_eq!(div_round_half_up(-149, 100), -1);
        assert_eq!(div_round_half_up(0, 100), 0);
    }
}
