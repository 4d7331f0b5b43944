//! Understanding one guest message written on WhatsApp in Argentine Spanish.
//!
//! [`understand`] reads a message against the guest's local date and returns what the guest wants
//! (the [`Intent`]), the stay's dates and nights, the number of guests and the unit they named, by
//! the conventions of `RULES.md`: where a reading is disputable the rules decide, and where
//! they say "ask" the field is left empty instead of guessed. The crate is pure (no IO, no clock, no
//! allocation beyond the message's own tokens), so it is cheap to call on every message and easy to
//! score against a corpus.

mod accommodation;
mod dates;
pub mod dialogue;
mod guests;
mod intent;
mod json_lines;
mod lexicon;
mod text;

pub use json_lines::{LinesSummary, MAX_LINE_BYTES, understand_json_lines};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// The guest's main purpose in one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Intent {
    /// A greeting only.
    Greeting,
    /// Asks whether dates or units are free (also when the price is asked too).
    Availability,
    /// Asks only what something costs (the deposit included).
    Price,
    /// Commits to booking or asks how to book.
    Book,
    /// Asks about an existing reservation.
    Status,
    /// Cancels an existing reservation.
    Cancel,
    /// Amenities, pets, photos, location, check-in times, payment methods.
    Info,
    /// Asks for a person.
    Human,
    /// Thanks and goodbyes.
    Thanks,
    /// Off-topic or noise.
    Unknown,
}

/// What one message says, in the shape of the rules file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Understanding {
    /// The main purpose.
    pub intent: Intent,
    /// Arrival day.
    pub check_in: Option<NaiveDate>,
    /// Departure day (exclusive).
    pub check_out: Option<NaiveDate>,
    /// Nights of the stay: the difference of the dates when both are known.
    pub nights: Option<u32>,
    /// Total number of people (pets are not counted).
    pub guests: Option<u32>,
    /// The unit named or described, lower case, as written.
    pub accommodation: Option<String>,
}

/// Reads one message received on `ref_date` (the guest's local date).
pub fn understand(text: &str, ref_date: NaiveDate) -> Understanding {
    let tokens = text::Text::new(text);
    let stay = dates::read(&tokens, ref_date);
    let guests = guests::read(&tokens);
    let unit = accommodation::read(&tokens);
    let found = intent::Found {
        dates: stay.check_in.is_some(),
        nights: stay.nights.is_some(),
        guests: guests.is_some(),
        unit: unit.is_some(),
        unit_span: unit.as_ref().map(|u| u.span),
    };
    let intent = intent::read(&tokens, &found);
    if intent == Intent::Unknown {
        // Off-topic or noise: whatever looked like a date or a count is not a request.
        return Understanding {
            intent,
            check_in: None,
            check_out: None,
            nights: None,
            guests: None,
            accommodation: None,
        };
    }
    Understanding {
        intent,
        check_in: stay.check_in,
        check_out: stay.check_out,
        nights: stay.nights,
        guests,
        accommodation: unit.map(|u| u.phrase),
    }
}
