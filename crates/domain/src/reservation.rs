//! The reservation state machine and the record of each transition.
//!
//! A reservation starts as `pre_reserved` (a hold), becomes `confirmed` (admin or payment), and ends
//! `completed` (after check-out), `cancelled`, `expired` (the hold ran out) or `no_show`.
//! [`transition`] is the only place that knows which moves are legal, so the store asks it before
//! every state write and records a [`StateChange`] in the reservation's history.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Where a reservation is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ReservationState {
    /// A hold that expires unless confirmed (`pre_reserved`).
    PreReserved,
    /// Booked (`confirmed`).
    Confirmed,
    /// The guest stayed and left (`completed`).
    Completed,
    /// Cancelled by the guest or the owner (`cancelled`).
    Cancelled,
    /// The hold ran out before confirmation (`expired`).
    Expired,
    /// The guest never arrived (`no_show`).
    NoShow,
}

impl ReservationState {
    /// Every state.
    pub const ALL: [ReservationState; 6] = [
        ReservationState::PreReserved,
        ReservationState::Confirmed,
        ReservationState::Completed,
        ReservationState::Cancelled,
        ReservationState::Expired,
        ReservationState::NoShow,
    ];

    /// The states that hold dates: `pre_reserved` and `confirmed`.
    pub const ACTIVE: [ReservationState; 2] =
        [ReservationState::PreReserved, ReservationState::Confirmed];

    /// Stored / JSON name: `pre_reserved`, `confirmed`, `completed`, `cancelled`, `expired`,
    /// `no_show`.
    pub const fn as_str(self) -> &'static str {
        match self {
            ReservationState::PreReserved => "pre_reserved",
            ReservationState::Confirmed => "confirmed",
            ReservationState::Completed => "completed",
            ReservationState::Cancelled => "cancelled",
            ReservationState::Expired => "expired",
            ReservationState::NoShow => "no_show",
        }
    }

    /// Spanish label for guests and the owner: prerreservada, confirmada, …
    pub const fn label_es(self) -> &'static str {
        match self {
            ReservationState::PreReserved => "prerreservada",
            ReservationState::Confirmed => "confirmada",
            ReservationState::Completed => "completada",
            ReservationState::Cancelled => "cancelada",
            ReservationState::Expired => "vencida",
            ReservationState::NoShow => "no se presentó",
        }
    }

    /// Parses [`Self::as_str`] output (exact).
    pub fn parse(s: &str) -> Result<ReservationState, UnknownState> {
        ReservationState::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| UnknownState(s.to_owned()))
    }

    /// True when the reservation holds its dates (`pre_reserved` or `confirmed`).
    pub const fn is_active(self) -> bool {
        matches!(
            self,
            ReservationState::PreReserved | ReservationState::Confirmed
        )
    }

    /// True when no event can move it any more.
    pub const fn is_terminal(self) -> bool {
        !self.is_active()
    }
}

impl fmt::Display for ReservationState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ReservationState {
    type Err = UnknownState;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ReservationState::parse(s)
    }
}

/// A string that is not a [`ReservationState`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("estado de reserva desconocido {0:?}")]
pub struct UnknownState(pub String);

/// Something that happens to a reservation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReservationEvent {
    /// Admin or payment confirms a hold.
    Confirm,
    /// The stay is over (a job after check-out).
    Complete,
    /// Guest or admin cancels.
    Cancel,
    /// The hold's time ran out.
    Expire,
    /// The owner marks that the guest did not arrive.
    MarkNoShow,
}

impl ReservationEvent {
    /// Every event.
    pub const ALL: [ReservationEvent; 5] = [
        ReservationEvent::Confirm,
        ReservationEvent::Complete,
        ReservationEvent::Cancel,
        ReservationEvent::Expire,
        ReservationEvent::MarkNoShow,
    ];

    /// Name: `confirm`, `complete`, `cancel`, `expire`, `mark_no_show`.
    pub const fn as_str(self) -> &'static str {
        match self {
            ReservationEvent::Confirm => "confirm",
            ReservationEvent::Complete => "complete",
            ReservationEvent::Cancel => "cancel",
            ReservationEvent::Expire => "expire",
            ReservationEvent::MarkNoShow => "mark_no_show",
        }
    }

    /// Spanish infinitive for messages: confirmar, completar, …
    const fn verb_es(self) -> &'static str {
        match self {
            ReservationEvent::Confirm => "confirmar",
            ReservationEvent::Complete => "completar",
            ReservationEvent::Cancel => "cancelar",
            ReservationEvent::Expire => "vencer",
            ReservationEvent::MarkNoShow => "marcar como no presentada",
        }
    }
}

impl fmt::Display for ReservationEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An event that is not allowed in the reservation's current state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("no se puede {} una reserva {}", event.verb_es(), from.label_es())]
pub struct IllegalTransition {
    /// The state the reservation is in.
    pub from: ReservationState,
    /// The refused event.
    pub event: ReservationEvent,
}

/// The state `event` leads to from `from`, or [`IllegalTransition`].
///
/// Legal moves, and nothing else:
/// - `pre_reserved` → `confirmed` (Confirm), `cancelled` (Cancel), `expired` (Expire);
/// - `confirmed` → `completed` (Complete), `cancelled` (Cancel), `no_show` (MarkNoShow).
pub fn transition(
    from: ReservationState,
    event: ReservationEvent,
) -> Result<ReservationState, IllegalTransition> {
    use ReservationEvent as E;
    use ReservationState as S;
    match (from, event) {
        (S::PreReserved, E::Confirm) => Ok(S::Confirmed),
        (S::PreReserved, E::Cancel) => Ok(S::Cancelled),
        (S::PreReserved, E::Expire) => Ok(S::Expired),
        (S::Confirmed, E::Complete) => Ok(S::Completed),
        (S::Confirmed, E::Cancel) => Ok(S::Cancelled),
        (S::Confirmed, E::MarkNoShow) => Ok(S::NoShow),
        _ => Err(IllegalTransition { from, event }),
    }
}

/// Who caused a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Actor {
    /// The guest (with their access token).
    Guest,
    /// The owner or an operator (admin API, dashboard, CLI).
    Admin,
    /// posada itself (jobs: expiry, completion).
    System,
    /// A payment provider's notification.
    Payment,
}

impl Actor {
    /// Every actor.
    pub const ALL: [Actor; 4] = [Actor::Guest, Actor::Admin, Actor::System, Actor::Payment];

    /// Stored / JSON name: `guest`, `admin`, `system`, `payment`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Actor::Guest => "guest",
            Actor::Admin => "admin",
            Actor::System => "system",
            Actor::Payment => "payment",
        }
    }

    /// Parses [`Self::as_str`] output (exact).
    pub fn parse(s: &str) -> Result<Actor, UnknownActor> {
        Actor::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| UnknownActor(s.to_owned()))
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Actor {
    type Err = UnknownActor;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Actor::parse(s)
    }
}

/// A string that is not an [`Actor`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("actor desconocido {0:?}")]
pub struct UnknownActor(pub String);

/// One entry of a reservation's history: from, to, when, by whom, why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateChange {
    /// State before.
    pub from: ReservationState,
    /// State after.
    pub to: ReservationState,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// Who caused it.
    pub by: Actor,
    /// Why (cancellation reason, "hold expired", …).
    pub reason: Option<String>,
}

impl StateChange {
    /// Applies `event` to `from` via [`transition`] and records it; errors if illegal.
    pub fn apply(
        from: ReservationState,
        event: ReservationEvent,
        at: DateTime<Utc>,
        by: Actor,
        reason: Option<String>,
    ) -> Result<StateChange, IllegalTransition> {
        let to = transition(from, event)?;
        Ok(StateChange {
            from,
            to,
            at,
            by,
            reason,
        })
    }
}
