//! Nightly prices, weekend surcharges, seasons, minimum nights and the deposit: the quote.
//!
//! A quote prices each night on its own and adds them up, so what the guest sees (one line per
//! night) always sums to the total. The rules, stated once:
//! - **Night price**: the nightly price of the season containing the night, else the base price.
//! - **Weekend**: a night is a weekend night when the weekday of the date it *starts* on is in
//!   `weekend_nights` (default Friday and Saturday nights). Its price is the night price above
//!   (season or base) times `weekend_multiplier_bp / 10 000`, rounded half up to the whole minor
//!   unit. So the multiplier applies on top of a season price too.
//! - **Minimum nights**: the larger of the global `min_nights` and the `min_nights` of every season
//!   containing at least one night of the stay.
//! - **Deposit**: `total × deposit_percent / 100`, rounded half up to the whole minor unit; the
//!   balance is `total − deposit`.
//! - Seasons are half-open `[start, end)` and must not overlap (a validation error otherwise).

use chrono::{NaiveDate, Weekday};
use serde::{Deserialize, Serialize};

use crate::money::{Currency, Money, MoneyError};
use crate::stay::Stay;
use crate::validation::ValidationErrors;

/// Default deposit: 30 % of the total.
pub const DEFAULT_DEPOSIT_PERCENT: u32 = 30;
/// Multiplier of 1× in basis points (weekend nights cost the same as other nights).
pub const NO_MULTIPLIER_BP: u32 = 10_000;
/// Largest accepted weekend multiplier: 5× (50 000 bp).
pub const MAX_MULTIPLIER_BP: u32 = 50_000;
/// Largest accepted minimum-nights rule.
pub const MAX_MIN_NIGHTS: u32 = 365;

/// Default weekend nights: Friday and Saturday nights.
pub fn default_weekend_nights() -> Vec<Weekday> {
    vec![Weekday::Fri, Weekday::Sat]
}

fn default_multiplier_bp() -> u32 {
    NO_MULTIPLIER_BP
}

fn default_min_nights() -> u32 {
    1
}

fn default_deposit_percent() -> u32 {
    DEFAULT_DEPOSIT_PERCENT
}

/// Spanish name of a weekday (lunes … domingo), for messages.
pub fn weekday_es(day: Weekday) -> &'static str {
    match day {
        Weekday::Mon => "lunes",
        Weekday::Tue => "martes",
        Weekday::Wed => "miércoles",
        Weekday::Thu => "jueves",
        Weekday::Fri => "viernes",
        Weekday::Sat => "sábado",
        Weekday::Sun => "domingo",
    }
}

/// A date range with its own nightly price and, optionally, its own minimum stay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Season {
    /// Shown on the quote line, e.g. `"Temporada alta"`.
    pub name: String,
    /// First night of the season.
    pub start: NaiveDate,
    /// First night *after* the season (half-open).
    pub end: NaiveDate,
    /// Nightly price during the season (before any weekend multiplier).
    pub nightly: Money,
    /// Minimum nights for any stay with at least one night in the season.
    #[serde(default)]
    pub min_nights: Option<u32>,
}

impl Season {
    /// True when the night starting on `night` is in the season (`start <= night < end`).
    pub fn contains(&self, night: NaiveDate) -> bool {
        self.start <= night && night < self.end
    }

    /// True when at least one night of `stay` is in the season.
    pub fn touches(&self, stay: &Stay) -> bool {
        self.start < stay.check_out() && stay.check_in() < self.end
    }

    fn overlaps(&self, other: &Season) -> bool {
        self.start < other.end && other.start < self.end
    }
}

/// `weekend_nights` in the OpenAPI document: chrono's English three-letter day names.
#[cfg(feature = "openapi")]
fn weekday_names() -> utoipa::openapi::schema::Array {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Type};
    ArrayBuilder::new()
        .description(Some(
            "Weekdays whose nights are weekend nights (default Fri and Sat).",
        ))
        .items(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"])),
        )
        .build()
}

/// How an accommodation is priced. See the module docs for the rules.
///
/// JSON fields other than `base_nightly` may be omitted and take their defaults.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "openapi",
    schema(
        as = Pricing,
        description = "How an accommodation is priced, in minor units (centavos): a nightly price, weekend nights at a multiplier, seasons with their own price and minimum stay, a deposit percentage. Members other than `base_nightly` may be left out and take their defaults."
    )
)]
pub struct PricingRules {
    /// Price of a night outside any season (before any weekend multiplier).
    pub base_nightly: Money,
    /// Weekdays whose *nights* are weekend nights (default Friday and Saturday).
    #[serde(default = "default_weekend_nights")]
    #[cfg_attr(feature = "openapi", schema(schema_with = weekday_names))]
    pub weekend_nights: Vec<Weekday>,
    /// Weekend multiplier in basis points: 10 000 = ×1 (default), 12 000 = ×1.2.
    #[serde(default = "default_multiplier_bp")]
    pub weekend_multiplier_bp: u32,
    /// Non-overlapping seasons.
    #[serde(default)]
    pub seasons: Vec<Season>,
    /// Global minimum nights (default 1).
    #[serde(default = "default_min_nights")]
    pub min_nights: u32,
    /// Deposit as a percentage of the total, 0–100 (default 30).
    #[serde(default = "default_deposit_percent")]
    pub deposit_percent: u32,
}

impl PricingRules {
    /// Rules with `base_nightly` and every default: Friday and Saturday weekend nights at ×1, no
    /// seasons, minimum 1 night, 30 % deposit.
    pub fn new(base_nightly: Money) -> PricingRules {
        PricingRules {
            base_nightly,
            weekend_nights: default_weekend_nights(),
            weekend_multiplier_bp: NO_MULTIPLIER_BP,
            seasons: Vec::new(),
            min_nights: default_min_nights(),
            deposit_percent: DEFAULT_DEPOSIT_PERCENT,
        }
    }

    /// The currency every price of these rules is in (that of `base_nightly`).
    pub fn currency(&self) -> Currency {
        self.base_nightly.currency
    }

    /// Checks the rules; field names are relative (`base_nightly`, `seasons[1].end`).
    ///
    /// Base and season prices must be positive and in the base currency; the multiplier between 1
    /// and [`MAX_MULTIPLIER_BP`]; weekend days unique; minimum nights 1–[`MAX_MIN_NIGHTS`];
    /// deposit 0–100 %; seasons named, with `start < end`, and not overlapping one another.
    pub fn validate(&self) -> Result<(), ValidationErrors> {
        let mut errors = ValidationErrors::new();
        if !self.base_nightly.is_positive() {
            errors.push(
                "base_nightly",
                "el precio por noche debe ser mayor que cero",
            );
        }
        if self.weekend_multiplier_bp == 0 || self.weekend_multiplier_bp > MAX_MULTIPLIER_BP {
            errors.push(
                "weekend_multiplier_bp",
                format!(
                    "el multiplicador de fin de semana debe estar entre 1 y {MAX_MULTIPLIER_BP} puntos básicos (10000 = ×1)"
                ),
            );
        }
        for (i, day) in self.weekend_nights.iter().enumerate() {
            if self.weekend_nights[..i].contains(day) {
                errors.push(
                    "weekend_nights",
                    format!("la noche del {} está repetida", weekday_es(*day)),
                );
            }
        }
        if !(1..=MAX_MIN_NIGHTS).contains(&self.min_nights) {
            errors.push(
                "min_nights",
                format!("la estadía mínima debe estar entre 1 y {MAX_MIN_NIGHTS} noches"),
            );
        }
        if self.deposit_percent > 100 {
            errors.push("deposit_percent", "la seña debe estar entre 0 % y 100 %");
        }
        for (i, season) in self.seasons.iter().enumerate() {
            let field = |name: &str| format!("seasons[{i}].{name}");
            if season.name.trim().is_empty() {
                errors.push(field("name"), "la temporada necesita un nombre");
            }
            if season.end <= season.start {
                errors.push(
                    field("end"),
                    "el fin de la temporada debe ser posterior a su inicio",
                );
            }
            if !season.nightly.is_positive() {
                errors.push(
                    field("nightly"),
                    "el precio por noche debe ser mayor que cero",
                );
            } else if season.nightly.currency != self.currency() {
                errors.push(
                    field("nightly"),
                    format!(
                        "el precio de la temporada debe estar en {}, como el precio base",
                        self.currency()
                    ),
                );
            }
            if let Some(min) = season.min_nights
                && !(1..=MAX_MIN_NIGHTS).contains(&min)
            {
                errors.push(
                    field("min_nights"),
                    format!("la estadía mínima debe estar entre 1 y {MAX_MIN_NIGHTS} noches"),
                );
            }
            if season.end > season.start
                && let Some(other) = self.seasons[..i]
                    .iter()
                    .find(|other| other.end > other.start && other.overlaps(season))
            {
                errors.push(
                    format!("seasons[{i}]"),
                    format!("se superpone con la temporada «{}»", other.name),
                );
            }
        }
        errors.into_result(())
    }

    /// The season containing the night starting on `night`, if any (first match).
    pub fn season_for(&self, night: NaiveDate) -> Option<&Season> {
        self.seasons.iter().find(|s| s.contains(night))
    }

    /// True when the night starting on `night` is a weekend night.
    pub fn is_weekend_night(&self, night: NaiveDate) -> bool {
        use chrono::Datelike;
        self.weekend_nights.contains(&night.weekday())
    }

    /// Minimum nights for `stay`: max of the global rule and of every season touching the stay.
    pub fn min_nights_for(&self, stay: &Stay) -> u32 {
        self.seasons
            .iter()
            .filter(|s| s.touches(stay))
            .filter_map(|s| s.min_nights)
            .fold(self.min_nights, u32::max)
    }

    /// The price line of one night (season or base price, weekend multiplier on top).
    pub fn night_price(&self, night: NaiveDate) -> Result<NightPrice, MoneyError> {
        let season = self.season_for(night);
        let nightly = season.map_or(self.base_nightly, |s| s.nightly);
        let weekend = self.is_weekend_night(night);
        let price = if weekend {
            nightly.basis_points(self.weekend_multiplier_bp)?
        } else {
            nightly
        };
        Ok(NightPrice {
            date: night,
            price,
            season: season.map(|s| s.name.clone()),
            weekend,
        })
    }
}

/// One night of a quote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NightPrice {
    /// The date the night starts on.
    pub date: NaiveDate,
    /// The night's price after any weekend multiplier.
    pub price: Money,
    /// Name of the season that priced it, if any.
    pub season: Option<String>,
    /// Whether the weekend multiplier applied.
    pub weekend: bool,
}

/// The priced stay: one line per night, and the totals.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quote {
    /// Each night, in order.
    pub nights: Vec<NightPrice>,
    /// Sum of the nights.
    pub total: Money,
    /// `total × deposit_percent / 100`, rounded half up to the minor unit.
    pub deposit: Money,
    /// `total − deposit`, paid later.
    pub balance: Money,
    /// Currency of every amount above.
    pub currency: Currency,
    /// The deposit percentage used.
    pub deposit_percent: u32,
    /// The minimum nights that applied to this stay.
    pub min_nights: u32,
}

/// Why a stay could not be quoted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PricingError {
    /// The pricing rules themselves are invalid (e.g. overlapping seasons).
    #[error("las reglas de precios no son válidas: {0}")]
    InvalidRules(ValidationErrors),
    /// Zero guests were requested.
    #[error("la reserva debe ser para al menos un huésped")]
    NoGuests,
    /// More guests than the accommodation holds.
    #[error("el alojamiento admite hasta {capacity} huéspedes (se pidieron {guests})")]
    TooManyGuests {
        /// Requested guests.
        guests: u32,
        /// The accommodation's capacity.
        capacity: u32,
    },
    /// The stay is shorter than the minimum that applies to it.
    #[error("la estadía mínima para esas fechas es de {min_nights} noches (se pidieron {nights})")]
    BelowMinimumNights {
        /// Nights requested.
        nights: u32,
        /// Minimum that applies.
        min_nights: u32,
    },
    /// Amount arithmetic failed (overflow).
    #[error(transparent)]
    Money(#[from] MoneyError),
}

impl PricingError {
    /// The request field at fault, for a 422 answer (`None` when the rules themselves are broken).
    pub fn field(&self) -> Option<&'static str> {
        match self {
            PricingError::NoGuests | PricingError::TooManyGuests { .. } => Some("guests"),
            PricingError::BelowMinimumNights { .. } => Some("check_out"),
            PricingError::InvalidRules(_) | PricingError::Money(_) => None,
        }
    }
}

/// Prices `stay` for `guests` guests under `rules` (see the module docs for every rule).
///
/// Errors: invalid rules, zero guests, fewer nights than the minimum, or overflow. Capacity is the
/// accommodation's business: see [`crate::Accommodation::quote`].
pub fn quote(rules: &PricingRules, stay: &Stay, guests: u32) -> Result<Quote, PricingError> {
    rules.validate().map_err(PricingError::InvalidRules)?;
    if guests == 0 {
        return Err(PricingError::NoGuests);
    }
    let min_nights = rules.min_nights_for(stay);
    if stay.nights() < min_nights {
        return Err(PricingError::BelowMinimumNights {
            nights: stay.nights(),
            min_nights,
        });
    }
    let nights = stay
        .iter_nights()
        .map(|night| rules.night_price(night))
        .collect::<Result<Vec<_>, _>>()?;
    let currency = rules.currency();
    let total = Money::sum(currency, nights.iter().map(|n| n.price))?;
    let deposit = total.percent(rules.deposit_percent)?;
    let balance = total.checked_sub(deposit)?;
    Ok(Quote {
        nights,
        total,
        deposit,
        balance,
        currency,
        deposit_percent: rules.deposit_percent,
        min_nights,
    })
}
