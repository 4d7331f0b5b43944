//! A stay: the half-open date range `[check_in, check_out)` of nights a guest sleeps.
//!
//! Every availability and pricing rule is phrased in nights, and the night of a date is the night
//! that starts on it; so the check-out date is *not* a night of the stay and a stay that checks in on
//! the day another checks out does not overlap it (back-to-back stays are allowed). A [`Stay`] can
//! only be built with `check_out > check_in`, so `nights() >= 1` always holds.

use chrono::{Days, Months, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::validation::ValidationErrors;

/// How far ahead a guest may book by default (the 18 months).
pub const MAX_BOOKING_AHEAD_MONTHS: u32 = 18;

/// A non-empty half-open range of nights `[check_in, check_out)`.
///
/// Serialized as `{"check_in": "2026-12-24", "check_out": "2026-12-27"}`; deserializing checks
/// `check_out > check_in`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "StayDates")]
pub struct Stay {
    check_in: NaiveDate,
    check_out: NaiveDate,
}

#[derive(Deserialize)]
struct StayDates {
    check_in: NaiveDate,
    check_out: NaiveDate,
}

impl TryFrom<StayDates> for Stay {
    type Error = InvalidStay;
    fn try_from(d: StayDates) -> Result<Self, Self::Error> {
        Stay::new(d.check_in, d.check_out)
    }
}

/// The check-out date is not after the check-in date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("la fecha de salida ({check_out}) debe ser posterior a la de entrada ({check_in})")]
pub struct InvalidStay {
    /// The requested check-in date.
    pub check_in: NaiveDate,
    /// The requested check-out date (on or before check-in).
    pub check_out: NaiveDate,
}

impl From<InvalidStay> for ValidationErrors {
    fn from(e: InvalidStay) -> Self {
        let mut errors = ValidationErrors::new();
        errors.push("check_out", e.to_string());
        errors
    }
}

impl Stay {
    /// The stay `[check_in, check_out)`; errors unless `check_out > check_in`.
    pub fn new(check_in: NaiveDate, check_out: NaiveDate) -> Result<Stay, InvalidStay> {
        if check_out > check_in {
            Ok(Stay {
                check_in,
                check_out,
            })
        } else {
            Err(InvalidStay {
                check_in,
                check_out,
            })
        }
    }

    /// The stay of `nights` nights from `check_in`; errors for 0 nights or past the calendar's end.
    pub fn with_nights(check_in: NaiveDate, nights: u32) -> Result<Stay, InvalidStay> {
        let check_out = check_in
            .checked_add_days(Days::new(u64::from(nights)))
            .unwrap_or(check_in);
        Stay::new(check_in, check_out)
    }

    /// Validates a guest's requested dates for a new booking and builds the stay.
    ///
    /// Collects every problem, named by field:
    /// - `check_in`: before `today` (arriving today is fine);
    /// - `check_out`: not after `check_in`;
    /// - `check_in` / `check_out`: later than `today + max_ahead_months` (calendar months, clamped
    ///   to the month's end). The whole stay must end by that date: a check-in beyond it names
    ///   `check_in`, otherwise a check-out beyond it names `check_out`.
    pub fn validate_for_booking(
        check_in: NaiveDate,
        check_out: NaiveDate,
        today: NaiveDate,
        max_ahead_months: u32,
    ) -> Result<Stay, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        if check_in < today {
            errors.push("check_in", "la fecha de entrada ya pasó");
        }
        if check_out <= check_in {
            errors.push(
                "check_out",
                "la fecha de salida debe ser posterior a la de entrada",
            );
        }
        if let Some(limit) = today.checked_add_months(Months::new(max_ahead_months)) {
            let message = format!(
                "solo se aceptan reservas hasta {max_ahead_months} meses de anticipación (hasta el {})",
                limit.format("%d/%m/%Y")
            );
            if check_in > limit {
                errors.push("check_in", message);
            } else if check_out > limit {
                errors.push("check_out", message);
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Stay::new(check_in, check_out).map_err(ValidationErrors::from)
    }

    /// The arrival date (the first night).
    pub const fn check_in(&self) -> NaiveDate {
        self.check_in
    }

    /// The departure date (not a night of the stay).
    pub const fn check_out(&self) -> NaiveDate {
        self.check_out
    }

    /// The last night slept (`check_out − 1 day`).
    pub fn last_night(&self) -> NaiveDate {
        self.check_out.pred_opt().unwrap_or(self.check_in)
    }

    /// Number of nights, `check_out − check_in` in days (always ≥ 1).
    pub fn nights(&self) -> u32 {
        let days = (self.check_out - self.check_in).num_days();
        // NaiveDate spans under 200 million days, so this never saturates.
        u32::try_from(days).unwrap_or(u32::MAX)
    }

    /// True when the two stays share at least one night. Symmetric; back-to-back stays
    /// (`a.check_out == b.check_in`) do not overlap.
    pub fn overlaps(&self, other: &Stay) -> bool {
        self.check_in < other.check_out && other.check_in < self.check_out
    }

    /// True when the night starting on `date` belongs to the stay (`check_in <= date < check_out`).
    pub fn contains_night(&self, date: NaiveDate) -> bool {
        self.check_in <= date && date < self.check_out
    }

    /// The nights of the stay, in order (the dates `check_in ..= check_out − 1`).
    pub fn iter_nights(&self) -> Nights {
        Nights {
            next: self.check_in,
            end: self.check_out,
        }
    }

    /// The same-length stay moved by `days` (negative = earlier); `None` past the calendar's ends.
    pub fn shifted(&self, days: i64) -> Option<Stay> {
        let delta = chrono::TimeDelta::try_days(days)?;
        Some(Stay {
            check_in: self.check_in.checked_add_signed(delta)?,
            check_out: self.check_out.checked_add_signed(delta)?,
        })
    }
}

impl IntoIterator for &Stay {
    type Item = NaiveDate;
    type IntoIter = Nights;
    fn into_iter(self) -> Nights {
        self.iter_nights()
    }
}

/// Iterator over the nights of a [`Stay`], from [`Stay::iter_nights`].
#[derive(Debug, Clone)]
pub struct Nights {
    next: NaiveDate,
    end: NaiveDate,
}

impl Iterator for Nights {
    type Item = NaiveDate;

    fn next(&mut self) -> Option<NaiveDate> {
        if self.next >= self.end {
            return None;
        }
        let night = self.next;
        // `end` is a valid date after `night`, so the successor exists.
        self.next = night.succ_opt().unwrap_or(self.end);
        Some(night)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = usize::try_from((self.end - self.next).num_days().max(0)).unwrap_or(0);
        (left, Some(left))
    }
}

impl ExactSizeIterator for Nights {}
