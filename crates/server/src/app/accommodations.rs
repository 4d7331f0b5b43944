//! The catalogue: the owner creates, edits and removes accommodations and their prices.
//!
//! Every change clears the node's catalogue cache after commit, so the next quote reads it.

use posada_domain::NewAccommodation;
use posada_store::accommodations::{self, StoredAccommodation};
use serde::Deserialize;

use super::error::{AppError, FieldError};
use super::events::Event;
use super::uow::UnitOfWork;
use crate::state::AppState;

/// An accommodation as the owner writes it.
#[derive(Debug, Deserialize)]
#[serde(from = "AccommodationWire")]
pub struct AccommodationIn {
    /// Name, slug, kind, capacity, prices, photos, …
    pub accommodation: NewAccommodation,
    /// How to get there (sent to confirmed guests).
    pub directions: String,
}

/// [`AccommodationIn`]'s JSON, every member spelled out (not `flatten`, which would hide a member
/// nobody knows and the path of a nested error, e.g. `pricing.base_nightly.currency`).
/// Also the request body's schema in the OpenAPI document.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[schema(
    as = AccommodationInput,
    description = "An accommodation as the owner writes it; a representation read with GET may be sent back as it is."
)]
pub struct AccommodationWire {
    /// The id of a representation read with GET and sent back: accepted, and ignored (the path
    /// names the accommodation).
    #[serde(default, rename = "id")]
    #[schema(read_only)]
    _id: Option<i64>,
    /// Name shown to guests.
    #[schema(min_length = 1, max_length = 120, pattern = r"\S")]
    name: String,
    /// URL name: lowercase letters and digits in words joined by `-`.
    #[schema(max_length = 64, pattern = r"^[a-z0-9]+(-[a-z0-9]+)*$")]
    slug: String,
    /// What kind of place it is.
    kind: posada_domain::AccommodationKind,
    /// Description shown to guests (Spanish).
    #[serde(default)]
    description: String,
    /// Most guests it takes.
    #[schema(minimum = 1, maximum = 50)]
    capacity: u32,
    /// Amenities (unique ignoring case).
    #[serde(default)]
    amenities: Vec<String>,
    /// Photos; exactly one `primary` when there are photos.
    #[serde(default)]
    photos: Vec<posada_domain::Photo>,
    /// `HH:MM` (default 14:00).
    #[serde(default = "posada_domain::accommodation::default_check_in_time")]
    #[schema(value_type = String, pattern = r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?$")]
    check_in_time: chrono::NaiveTime,
    /// `HH:MM` (default 10:00).
    #[serde(default = "posada_domain::accommodation::default_check_out_time")]
    #[schema(value_type = String, pattern = r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?$")]
    check_out_time: chrono::NaiveTime,
    /// Whether guests can book it (default true).
    #[serde(default = "active_by_default")]
    active: bool,
    /// Prices (in minor units: centavos).
    pricing: posada_domain::PricingRules,
    /// How to get there, sent to confirmed guests.
    #[serde(default)]
    directions: String,
}

fn active_by_default() -> bool {
    true
}

impl From<AccommodationWire> for AccommodationIn {
    fn from(w: AccommodationWire) -> AccommodationIn {
        AccommodationIn {
            accommodation: NewAccommodation {
                name: w.name,
                slug: w.slug,
                kind: w.kind,
                description: w.description,
                capacity: w.capacity,
                amenities: w.amenities,
                photos: w.photos,
                check_in_time: w.check_in_time,
                check_out_time: w.check_out_time,
                active: w.active,
                pricing: w.pricing,
            },
            directions: w.directions,
        }
    }
}

fn validate(input: &AccommodationIn) -> Result<(), AppError> {
    let mut errors: Vec<FieldError> = match input.accommodation.validate() {
        Ok(()) => Vec::new(),
        Err(e) => {
            e.0.into_iter()
                .map(|e| FieldError::new(e.field, e.message))
                .collect()
        }
    };
    if input.directions.chars().count() > 2000 {
        errors.push(FieldError::new("directions", "at most 2000 characters"));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(AppError::Invalid(errors))
    }
}

/// Create an accommodation.
pub async fn create(
    state: &AppState,
    input: &AccommodationIn,
) -> Result<StoredAccommodation, AppError> {
    validate(input)?;
    let mut uow = UnitOfWork::begin(state).await?;
    let now = uow.now();
    let stored = accommodations::insert(
        uow.conn(),
        &input.accommodation,
        input.directions.trim(),
        now,
    )
    .await?;
    uow.changed(Event::CalendarChanged {
        accommodation_id: stored.accommodation.id,
    });
    uow.commit().await?;
    state.catalog().clear();
    Ok(stored)
}

/// Replace an accommodation's details and prices.
pub async fn update(
    state: &AppState,
    id: i64,
    input: &AccommodationIn,
) -> Result<StoredAccommodation, AppError> {
    validate(input)?;
    let mut uow = UnitOfWork::begin(state).await?;
    let now = uow.now();
    let stored = accommodations::update(
        uow.conn(),
        id,
        &input.accommodation,
        input.directions.trim(),
        now,
    )
    .await?;
    uow.changed(Event::CalendarChanged {
        accommodation_id: id,
    });
    uow.commit().await?;
    state.catalog().clear();
    Ok(stored)
}

/// Delete an accommodation that never had a reservation, or deactivate it (kept for its
/// history). Returns `true` when it was deleted.
pub async fn delete(state: &AppState, id: i64) -> Result<bool, AppError> {
    let mut uow = UnitOfWork::begin(state).await?;
    let deleted = accommodations::delete_or_deactivate(uow.conn(), id).await?;
    uow.changed(Event::CalendarChanged {
        accommodation_id: id,
    });
    uow.commit().await?;
    state.catalog().clear();
    Ok(deleted)
}
