//! posada's lodging domain: the types and rules every other crate agrees on.
//!
//! Pure on purpose — no IO, no async, no clock (callers pass `today`/`now`), no database — so the
//! rules that decide money and dates are tested as plain functions and read the same from the store,
//! the HTTP layer and the assistant. Human-facing messages (validation, errors) are Spanish (es-AR);
//! identifiers and JSON names are English.
//!
//! - [`money`]: integer minor units with a currency, half-up rounding, es-AR formatting.
//! - [`stay`]: the half-open night range `[check_in, check_out)` and booking-date validation.
//! - [`pricing`]: nightly, weekend and seasonal prices, minimum nights, deposit → [`Quote`].
//! - [`accommodation`]: what can be booked, and its validated admin input.
//! - [`reservation`]: the state machine and its history record.
//! - [`code`]: reservation codes and guest access tokens.
//! - [`block`]: owner and channel blocks.
//! - [`availability`]: per-night calendar and nearest free alternatives.
//! - [`validation`]: field-named errors for 422 answers.

pub mod accommodation;
pub mod availability;
pub mod block;
pub mod code;
pub mod money;
pub mod pricing;
pub mod reservation;
pub mod stay;
pub mod validation;

pub use accommodation::{
    Accommodation, AccommodationKind, NewAccommodation, Photo, UnknownKind, is_valid_slug, slugify,
};
pub use availability::{DayAvailability, calendar, is_free, nearest_free_alternatives};
pub use block::{Block, BlockSource, OwnerBlockInput};
pub use code::{AccessToken, InvalidAccessToken, InvalidCode, ReservationCode};
pub use money::{Currency, Money, MoneyError, format_es_ar};
pub use pricing::{NightPrice, PricingError, PricingRules, Quote, Season, quote};
pub use reservation::{
    Actor, IllegalTransition, ReservationEvent, ReservationState, StateChange, UnknownActor,
    UnknownState, transition,
};
pub use stay::{InvalidStay, MAX_BOOKING_AHEAD_MONTHS, Nights, Stay};
pub use validation::{ValidationError, ValidationErrors};
