//! Field-named validation errors shared by every input check in the domain.
//!
//! The HTTP layer answers a rejected input with 422 and *the field at fault*, so each check reports
//! `{ field, message }` pairs and collects all of them instead of stopping at the first. Messages are
//! Spanish (es-AR) because guests and the owner read them; field names are the API's JSON names
//! (`check_in`, `pricing.seasons[1].end`).

use std::fmt;

use serde::{Deserialize, Serialize};

/// One rejected field: the JSON name of the field and a Spanish message for a person.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ValidationError {
    /// JSON path of the field at fault, e.g. `capacity` or `photos[2].url`.
    pub field: String,
    /// Human-readable reason, in Spanish (es-AR).
    pub message: String,
}

impl ValidationError {
    /// A validation error for `field` with a Spanish `message`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// A non-empty-when-returned list of [`ValidationError`]s, in the order the checks ran.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(transparent)]
pub struct ValidationErrors(pub Vec<ValidationError>);

impl ValidationErrors {
    /// An empty collection to push into.
    pub fn new() -> Self {
        Self(Vec::new())
    }

    /// Records one error.
    pub fn push(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(ValidationError::new(field, message));
    }

    /// Appends all errors of `other`, prefixing their fields with `prefix.` (e.g. `pricing`).
    pub fn extend_prefixed(&mut self, prefix: &str, other: ValidationErrors) {
        self.0.extend(other.0.into_iter().map(|e| ValidationError {
            field: format!("{prefix}.{}", e.field),
            message: e.message,
        }));
    }

    /// True when no check failed.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Number of failed checks.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The failed checks.
    pub fn errors(&self) -> &[ValidationError] {
        &self.0
    }

    /// True when some error names exactly `field`.
    pub fn has_field(&self, field: &str) -> bool {
        self.0.iter().any(|e| e.field == field)
    }

    /// The first error (the one to show when only one fits), if any.
    pub fn first(&self) -> Option<&ValidationError> {
        self.0.first()
    }

    /// `Ok(value)` when empty, otherwise `Err(self)`.
    pub fn into_result<T>(self, value: T) -> Result<T, ValidationErrors> {
        if self.is_empty() {
            Ok(value)
        } else {
            Err(self)
        }
    }
}

impl From<ValidationError> for ValidationErrors {
    fn from(e: ValidationError) -> Self {
        Self(vec![e])
    }
}

impl IntoIterator for ValidationErrors {
    type Item = ValidationError;
    type IntoIter = std::vec::IntoIter<ValidationError>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("sin errores de validación");
        }
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}
