//! Accommodations: what a guest can book, its photos, house times and pricing.
//!
//! [`Accommodation`] is the stored shape (with its id); [`NewAccommodation`] is the admin's input for
//! creating or fully replacing one, and its [`NewAccommodation::validate`] reports every problem by
//! field so the HTTP layer can answer 422 with the field at fault.

use std::fmt;
use std::str::FromStr;

use chrono::NaiveTime;
use serde::{Deserialize, Serialize};

use crate::pricing::{PricingError, PricingRules, Quote, quote};
use crate::stay::Stay;
use crate::validation::ValidationErrors;

/// Longest accepted name, in characters.
pub const MAX_NAME_CHARS: usize = 120;
/// Longest accepted slug, in characters.
pub const MAX_SLUG_CHARS: usize = 64;
/// Longest accepted description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 10_000;
/// Largest accepted capacity.
pub const MAX_CAPACITY: u32 = 50;
/// Most amenities per accommodation.
pub const MAX_AMENITIES: usize = 100;
/// Longest amenity, in characters.
pub const MAX_AMENITY_CHARS: usize = 80;
/// Most photos per accommodation.
pub const MAX_PHOTOS: usize = 100;
/// Longest photo caption, in characters.
pub const MAX_CAPTION_CHARS: usize = 300;
/// Longest photo URL, in characters.
pub const MAX_URL_CHARS: usize = 2_048;

/// What kind of place it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum AccommodationKind {
    /// `cabin` (cabaña).
    Cabin,
    /// `apartment` (departamento).
    Apartment,
    /// `house` (casa).
    House,
    /// `room` (habitación).
    Room,
}

impl AccommodationKind {
    /// Every kind.
    pub const ALL: [AccommodationKind; 4] = [
        AccommodationKind::Cabin,
        AccommodationKind::Apartment,
        AccommodationKind::House,
        AccommodationKind::Room,
    ];

    /// The stored / JSON name: `cabin`, `apartment`, `house`, `room`.
    pub const fn as_str(self) -> &'static str {
        match self {
            AccommodationKind::Cabin => "cabin",
            AccommodationKind::Apartment => "apartment",
            AccommodationKind::House => "house",
            AccommodationKind::Room => "room",
        }
    }

    /// The Spanish word guests read: cabaña, departamento, casa, habitación.
    pub const fn label_es(self) -> &'static str {
        match self {
            AccommodationKind::Cabin => "cabaña",
            AccommodationKind::Apartment => "departamento",
            AccommodationKind::House => "casa",
            AccommodationKind::Room => "habitación",
        }
    }

    /// Parses [`Self::as_str`] output (exact, lower case).
    pub fn parse(s: &str) -> Result<AccommodationKind, UnknownKind> {
        AccommodationKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| UnknownKind(s.to_owned()))
    }
}

impl fmt::Display for AccommodationKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AccommodationKind {
    type Err = UnknownKind;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        AccommodationKind::parse(s)
    }
}

/// A string that is not an [`AccommodationKind`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("tipo de alojamiento desconocido {0:?}: se acepta cabin, apartment, house o room")]
pub struct UnknownKind(pub String);

/// One photo of an accommodation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Photo {
    /// Absolute `http(s)://` URL or a site path starting with `/`.
    pub url: String,
    /// Caption shown to guests (Spanish), may be empty.
    #[serde(default)]
    pub caption: String,
    /// Sort key: photos are shown in ascending `position` (unique per accommodation).
    pub position: u32,
    /// The cover photo; exactly one when there are photos.
    #[serde(default)]
    pub primary: bool,
}

/// Default check-in time: 14:00.
pub fn default_check_in_time() -> NaiveTime {
    NaiveTime::from_hms_opt(14, 0, 0).unwrap_or(NaiveTime::MIN)
}

/// Default check-out time: 10:00.
pub fn default_check_out_time() -> NaiveTime {
    NaiveTime::from_hms_opt(10, 0, 0).unwrap_or(NaiveTime::MIN)
}

fn default_active() -> bool {
    true
}

/// A bookable place as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Accommodation {
    /// Database id.
    pub id: i64,
    /// Display name.
    pub name: String,
    /// URL name: lower-case `a-z`, `0-9` and single inner `-` (see [`is_valid_slug`]).
    pub slug: String,
    /// Cabin, apartment, house or room.
    pub kind: AccommodationKind,
    /// Free text for guests (Spanish).
    pub description: String,
    /// Most guests it holds (≥ 1).
    pub capacity: u32,
    /// Amenity labels, in display order.
    pub amenities: Vec<String>,
    /// Photos (see [`Accommodation::photos_in_order`]).
    pub photos: Vec<Photo>,
    /// Earliest arrival time on the check-in day (local time).
    pub check_in_time: NaiveTime,
    /// Latest departure time on the check-out day (local time).
    pub check_out_time: NaiveTime,
    /// Inactive accommodations are hidden from guests and cannot be booked.
    pub active: bool,
    /// How it is priced.
    pub pricing: PricingRules,
}

impl Accommodation {
    /// The cover photo, if there are photos.
    pub fn primary_photo(&self) -> Option<&Photo> {
        self.photos
            .iter()
            .find(|p| p.primary)
            .or_else(|| self.photos_in_order().into_iter().next())
    }

    /// Photos sorted by `position`.
    pub fn photos_in_order(&self) -> Vec<&Photo> {
        let mut photos: Vec<&Photo> = self.photos.iter().collect();
        photos.sort_by_key(|p| p.position);
        photos
    }

    /// Checks `guests` against the capacity, then prices the stay with [`quote`].
    pub fn quote(&self, stay: &Stay, guests: u32) -> Result<Quote, PricingError> {
        if guests > self.capacity {
            return Err(PricingError::TooManyGuests {
                guests,
                capacity: self.capacity,
            });
        }
        quote(&self.pricing, stay, guests)
    }

    /// The editable fields, e.g. to apply a partial update and validate the result.
    pub fn to_input(&self) -> NewAccommodation {
        NewAccommodation {
            name: self.name.clone(),
            slug: self.slug.clone(),
            kind: self.kind,
            description: self.description.clone(),
            capacity: self.capacity,
            amenities: self.amenities.clone(),
            photos: self.photos.clone(),
            check_in_time: self.check_in_time,
            check_out_time: self.check_out_time,
            active: self.active,
            pricing: self.pricing.clone(),
        }
    }
}

/// Admin input to create an accommodation or replace all its editable fields.
///
/// In JSON, `description`, `amenities`, `photos`, the times (`"14:00:00"` / `"10:00:00"`) and
/// `active` (true) may be omitted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewAccommodation {
    /// Display name (1–[`MAX_NAME_CHARS`] characters after trimming).
    pub name: String,
    /// URL name, see [`is_valid_slug`]; [`slugify`] derives one from a name.
    pub slug: String,
    /// Cabin, apartment, house or room.
    pub kind: AccommodationKind,
    /// Free text for guests.
    #[serde(default)]
    pub description: String,
    /// 1–[`MAX_CAPACITY`] guests.
    pub capacity: u32,
    /// Amenity labels, non-empty and unique.
    #[serde(default)]
    pub amenities: Vec<String>,
    /// Photos: unique positions, exactly one primary when non-empty.
    #[serde(default)]
    pub photos: Vec<Photo>,
    /// Default 14:00.
    #[serde(default = "default_check_in_time")]
    pub check_in_time: NaiveTime,
    /// Default 10:00.
    #[serde(default = "default_check_out_time")]
    pub check_out_time: NaiveTime,
    /// Default true.
    #[serde(default = "default_active")]
    pub active: bool,
    /// Pricing rules, validated with [`PricingRules::validate`] (fields prefixed `pricing.`).
    pub pricing: PricingRules,
}

impl NewAccommodation {
    /// Checks every field and reports all problems by field name (`name`, `slug`, `capacity`,
    /// `amenities[3]`, `photos`, `photos[1].url`, `pricing.seasons[0].end`, …).
    pub fn validate(&self) -> Result<(), ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let name_len = self.name.trim().chars().count();
        if name_len == 0 {
            errors.push("name", "el nombre es obligatorio");
        } else if name_len > MAX_NAME_CHARS {
            errors.push(
                "name",
                format!("el nombre admite hasta {MAX_NAME_CHARS} caracteres"),
            );
        }
        if !is_valid_slug(&self.slug) {
            errors.push(
                "slug",
                format!(
                    "el identificador admite solo minúsculas a-z, dígitos y guiones internos (hasta {MAX_SLUG_CHARS} caracteres)"
                ),
            );
        }
        if self.description.chars().count() > MAX_DESCRIPTION_CHARS {
            errors.push(
                "description",
                format!("la descripción admite hasta {MAX_DESCRIPTION_CHARS} caracteres"),
            );
        }
        if !(1..=MAX_CAPACITY).contains(&self.capacity) {
            errors.push(
                "capacity",
                format!("la capacidad debe estar entre 1 y {MAX_CAPACITY} huéspedes"),
            );
        }
        self.validate_amenities(&mut errors);
        self.validate_photos(&mut errors);
        if let Err(pricing) = self.pricing.validate() {
            errors.extend_prefixed("pricing", pricing);
        }
        errors.into_result(())
    }

    fn validate_amenities(&self, errors: &mut ValidationErrors) {
        if self.amenities.len() > MAX_AMENITIES {
            errors.push(
                "amenities",
                format!("se admiten hasta {MAX_AMENITIES} comodidades"),
            );
        }
        for (i, amenity) in self.amenities.iter().enumerate() {
            let trimmed = amenity.trim();
            let field = format!("amenities[{i}]");
            if trimmed.is_empty() {
                errors.push(field, "la comodidad no puede estar vacía");
            } else if trimmed.chars().count() > MAX_AMENITY_CHARS {
                errors.push(
                    field,
                    format!("cada comodidad admite hasta {MAX_AMENITY_CHARS} caracteres"),
                );
            } else if self.amenities[..i]
                .iter()
                .any(|a| a.trim().eq_ignore_ascii_case(trimmed))
            {
                errors.push(field, "comodidad repetida");
            }
        }
    }

    fn validate_photos(&self, errors: &mut ValidationErrors) {
        if self.photos.len() > MAX_PHOTOS {
            errors.push("photos", format!("se admiten hasta {MAX_PHOTOS} fotos"));
        }
        let primaries = self.photos.iter().filter(|p| p.primary).count();
        if !self.photos.is_empty() && primaries != 1 {
            errors.push(
                "photos",
                format!("debe haber exactamente una foto principal (hay {primaries})"),
            );
        }
        for (i, photo) in self.photos.iter().enumerate() {
            let url = photo.url.trim();
            let valid_url = (url.starts_with("https://")
                || url.starts_with("http://")
                || (url.starts_with('/') && !url.starts_with("//")))
                && url.len() > 1
                && url.chars().count() <= MAX_URL_CHARS
                && !url.chars().any(char::is_whitespace);
            if !valid_url {
                errors.push(
                    format!("photos[{i}].url"),
                    "la foto necesita una URL http(s):// o una ruta que empiece con /",
                );
            }
            if photo.caption.chars().count() > MAX_CAPTION_CHARS {
                errors.push(
                    format!("photos[{i}].caption"),
                    format!("el epígrafe admite hasta {MAX_CAPTION_CHARS} caracteres"),
                );
            }
            if self.photos[..i]
                .iter()
                .any(|p| p.position == photo.position)
            {
                errors.push(
                    format!("photos[{i}].position"),
                    "ya hay otra foto en esa posición",
                );
            }
        }
    }

    /// The stored accommodation with `id` (call after [`Self::validate`]).
    pub fn into_accommodation(self, id: i64) -> Accommodation {
        Accommodation {
            id,
            name: self.name.trim().to_owned(),
            slug: self.slug,
            kind: self.kind,
            description: self.description,
            capacity: self.capacity,
            amenities: self.amenities.iter().map(|a| a.trim().to_owned()).collect(),
            photos: self.photos,
            check_in_time: self.check_in_time,
            check_out_time: self.check_out_time,
            active: self.active,
            pricing: self.pricing,
        }
    }
}

/// True for 1–[`MAX_SLUG_CHARS`] characters of `a-z`, `0-9` and `-`, not starting or ending with
/// `-` and without `--`.
pub fn is_valid_slug(slug: &str) -> bool {
    !slug.is_empty()
        && slug.len() <= MAX_SLUG_CHARS
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !slug.starts_with('-')
        && !slug.ends_with('-')
        && !slug.contains("--")
}

/// A slug from a Spanish name: accents dropped (`á`→`a`, `ñ`→`n`), lower case, every other run of
/// characters turned into one `-`, cut to [`MAX_SLUG_CHARS`]. `"Cabaña del Río #2"` →
/// `"cabana-del-rio-2"`. May be empty (for a name with no letters or digits): validate the result.
pub fn slugify(name: &str) -> String {
    let mut slug = String::with_capacity(name.len());
    for c in name.chars().flat_map(char::to_lowercase) {
        let c = match c {
            'á' | 'à' | 'ä' | 'â' | 'ã' => 'a',
            'é' | 'è' | 'ë' | 'ê' => 'e',
            'í' | 'ì' | 'ï' | 'î' => 'i',
            'ó' | 'ò' | 'ö' | 'ô' | 'õ' => 'o',
            'ú' | 'ù' | 'ü' | 'û' => 'u',
            'ñ' => 'n',
            'ç' => 'c',
            other => other,
        };
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            slug.push(c);
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
    }
    slug.truncate(MAX_SLUG_CHARS);
    while slug.ends_with('-') {
        slug.pop();
    }
    slug
}
