//! Blocks: dates an accommodation cannot be booked for reasons other than a reservation.
//!
//! The owner blocks dates for maintenance or personal use; channel blocks come from an iCal feed
//! (Airbnb, Booking) and are owned by the sync. Both take nights exactly like a reservation's
//! [`Stay`], so availability treats them the same.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::stay::Stay;
use crate::validation::ValidationErrors;

/// Longest accepted block reason, in characters.
pub const MAX_REASON_CHARS: usize = 500;

/// Who put a block there.
///
/// JSON: `{"kind": "owner"}` or `{"kind": "channel", "feed_id": 3, "label": "Airbnb"}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum BlockSource {
    /// The owner (admin API or dashboard).
    Owner,
    /// A channel's iCal feed.
    Channel {
        /// The feed's id in the store.
        feed_id: i64,
        /// The feed's label, e.g. `"Airbnb"`.
        label: String,
    },
}

impl BlockSource {
    /// Stored name of the kind: `owner` or `channel`.
    pub const fn kind(&self) -> &'static str {
        match self {
            BlockSource::Owner => "owner",
            BlockSource::Channel { .. } => "channel",
        }
    }

    /// The feed id of a channel block.
    pub const fn feed_id(&self) -> Option<i64> {
        match self {
            BlockSource::Owner => None,
            BlockSource::Channel { feed_id, .. } => Some(*feed_id),
        }
    }
}

/// Nights of one accommodation that cannot be booked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Block {
    /// Database id.
    pub id: i64,
    /// The accommodation it blocks.
    pub accommodation_id: i64,
    /// The blocked nights.
    pub stay: Stay,
    /// Why (free text; may be empty for channel blocks).
    pub reason: String,
    /// Owner or channel.
    pub source: BlockSource,
}

/// Admin input for an owner block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OwnerBlockInput {
    /// First blocked night.
    pub check_in: NaiveDate,
    /// First night no longer blocked.
    pub check_out: NaiveDate,
    /// Why (maintenance, personal use…); required.
    pub reason: String,
}

impl OwnerBlockInput {
    /// Checks the input (`check_out` after `check_in`; `reason` non-empty and at most
    /// [`MAX_REASON_CHARS`]) and returns the blocked nights. Past dates are allowed (the owner may
    /// record history); they never affect a new booking.
    pub fn validate(&self) -> Result<Stay, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let stay = Stay::new(self.check_in, self.check_out);
        if let Err(e) = &stay {
            errors.push("check_out", e.to_string());
        }
        let reason = self.reason.trim().chars().count();
        if reason == 0 {
            errors.push("reason", "indicá el motivo del bloqueo");
        } else if reason > MAX_REASON_CHARS {
            errors.push(
                "reason",
                format!("el motivo admite hasta {MAX_REASON_CHARS} caracteres"),
            );
        }
        match stay {
            Ok(stay) if errors.is_empty() => Ok(stay),
            _ => Err(errors),
        }
    }
}
