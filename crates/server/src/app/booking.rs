//! The reservation use cases: quote, hold, confirm (also by a late payment), cancel, expire,
//! complete, no-show and the reminders.
//!
//! Each is one [`UnitOfWork`]: read the current state, check the move with the domain's state
//! machine, compare-and-set the new state (`UPDATE … WHERE state = $old`: a racing confirm and
//! expiry have exactly one winner), record history, and ask the unit for the consequences — the
//! timed jobs by their keys, the messages, the calendar change — so they commit with the change or
//! not at all.

use chrono::{Duration, NaiveDate};
use posada_domain::{
    Actor, PricingError, Quote, ReservationCode, ReservationEvent, ReservationState, Stay,
    availability, transition,
};
use posada_store::StoreError;
use posada_store::accommodations::{self, StoredAccommodation};
use posada_store::reservations::{self, NewHold, Reservation};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::clock::local_instant;
use super::error::{AppError, FieldError};
use super::events::Event;
use super::uow::UnitOfWork;
use crate::jobs::checkin_reminder::CheckInReminder;
use crate::jobs::complete_stay::CompleteStay;
use crate::jobs::create_payment_link::CreatePaymentLink;
use crate::jobs::expire_hold::ExpireHold;
use crate::jobs::hold_reminder::HoldReminder;
use crate::state::AppState;

/// Free dates offered when the requested ones are taken.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct Alternatives {
    /// Same accommodation, same length, nearest in time.
    pub same_accommodation: Vec<StayOut>,
    /// Other accommodations free on the requested dates (and big enough).
    pub other_accommodations: Vec<AccommodationRef>,
}

/// A stay in answers.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct StayOut {
    /// Arrival.
    pub check_in: NaiveDate,
    /// Departure (exclusive).
    pub check_out: NaiveDate,
}

impl From<Stay> for StayOut {
    fn from(s: Stay) -> Self {
        StayOut {
            check_in: s.check_in(),
            check_out: s.check_out(),
        }
    }
}

/// A short reference to an accommodation.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AccommodationRef {
    /// Id.
    pub id: i64,
    /// Slug.
    pub slug: String,
    /// Name.
    pub name: String,
}

/// The guest of a hold.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[schema(as = Guest)]
pub struct GuestIn {
    /// Full name.
    pub name: String,
    /// E-mail (this or a phone is required).
    #[serde(default)]
    #[schema(format = Email)]
    pub email: Option<String>,
    /// Phone in international form (+54 9 11 …); this or an e-mail is required.
    #[serde(default)]
    pub phone: Option<String>,
}

/// A request for a hold.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct HoldRequest {
    /// Accommodation slug.
    #[schema(min_length = 1)]
    pub accommodation: String,
    /// Arrival.
    pub check_in: NaiveDate,
    /// Departure.
    pub check_out: NaiveDate,
    /// Number of guests.
    #[schema(minimum = 1)]
    pub guests: u32,
    /// Who.
    pub guest: GuestIn,
    /// Notes for the owner.
    #[serde(default)]
    pub notes: Option<String>,
}

/// A hold as created: what the guest needs to pay and come back.
#[derive(Debug, Clone)]
pub struct HoldCreated {
    /// The reservation.
    pub reservation: Reservation,
    /// The guest's access token (shown once).
    pub access_token: String,
    /// The accommodation.
    pub accommodation: StoredAccommodation,
}

/// Look up an active accommodation by slug (through the node's short-lived catalogue cache).
pub async fn active_accommodation(
    state: &AppState,
    slug: &str,
) -> Result<StoredAccommodation, AppError> {
    match state.catalog().by_slug(state.db(), slug).await? {
        Some(a) if a.accommodation.active => Ok((*a).clone()),
        _ => Err(AppError::NotFound("accommodation")),
    }
}

fn pricing_error(e: PricingError) -> AppError {
    match e {
        PricingError::InvalidRules(errors) => {
            AppError::internal(format!("stored pricing rules are invalid: {errors}"))
        }
        other => {
            let field = other.field().unwrap_or("check_out").to_string();
            AppError::field(field, other.to_string())
        }
    }
}

/// Validate dates and guests and price the stay.
pub fn price(
    state: &AppState,
    acc: &StoredAccommodation,
    check_in: NaiveDate,
    check_out: NaiveDate,
    guests: u32,
) -> Result<(Stay, Quote), AppError> {
    let stay = Stay::validate_for_booking(
        check_in,
        check_out,
        state.today(),
        posada_domain::MAX_BOOKING_AHEAD_MONTHS,
    )?;
    let quote = acc
        .accommodation
        .quote(&stay, guests)
        .map_err(pricing_error)?;
    Ok((stay, quote))
}

/// Free dates near `stay` for the same accommodation, and other accommodations free on it.
pub async fn alternatives(
    state: &AppState,
    acc: &StoredAccommodation,
    stay: &Stay,
    guests: u32,
) -> Result<Alternatives, AppError> {
    let horizon = i64::from(availability::DEFAULT_ALTERNATIVES_HORIZON_DAYS);
    let from = stay.check_in() - Duration::days(horizon);
    let until = stay.check_out() + Duration::days(horizon);
    let taken = reservations::taken_stays_db(state.db(), acc.accommodation.id, from, until).await?;
    let same: Vec<StayOut> = availability::nearest_free_alternatives(
        stay,
        &taken,
        state.today(),
        availability::DEFAULT_ALTERNATIVES_HORIZON_DAYS,
        availability::DEFAULT_ALTERNATIVES_LIMIT * 2,
    )
    .into_iter()
    .filter(|s| acc.accommodation.quote(s, guests).is_ok())
    .take(availability::DEFAULT_ALTERNATIVES_LIMIT)
    .map(StayOut::from)
    .collect();
    let mut others = Vec::new();
    for other in accommodations::list(state.db(), true).await? {
        if other.accommodation.id == acc.accommodation.id
            || other.accommodation.quote(stay, guests).is_err()
        {
            continue;
        }
        let taken = reservations::taken_stays_db(
            state.db(),
            other.accommodation.id,
            stay.check_in(),
            stay.check_out(),
        )
        .await?;
        if availability::is_free(stay, &taken) {
            others.push(AccommodationRef {
                id: other.accommodation.id,
                slug: other.accommodation.slug.clone(),
                name: other.accommodation.name.clone(),
            });
        }
    }
    Ok(Alternatives {
        same_accommodation: same,
        other_accommodations: others,
    })
}

/// The answer for taken nights: [`AppError::DatesTaken`] with the alternatives.
pub async fn taken_error(
    state: &AppState,
    acc: &StoredAccommodation,
    stay: &Stay,
    guests: u32,
) -> AppError {
    metrics::counter!("reservations_date_overlap_total").increment(1);
    match alternatives(state, acc, stay, guests).await {
        Ok(a) => AppError::DatesTaken(Box::new(a)),
        Err(e) => e,
    }
}

/// How often a unit of work the database gave up (deadlock, serialization failure) is run again.
const MAX_TRANSIENT_RETRIES: u32 = 5;

/// Create a hold: validate, price, check the nights inside the write transaction, insert, schedule
/// its expiry and reminder, ask for its payment link, tell the guest and the owner.
pub async fn create_hold(
    state: &AppState,
    req: &HoldRequest,
    channel: &str,
    trace_id: Option<&str>,
) -> Result<HoldCreated, AppError> {
    let acc = active_accommodation(state, &req.accommodation).await?;
    let priced = price(state, &acc, req.check_in, req.check_out, req.guests);
    let guest = validate_guest(&req.guest);
    let (stay, quote, (email, phone)) = match (priced, guest) {
        (Ok((s, q)), Ok(g)) => (s, q, g),
        (Err(AppError::Invalid(mut a)), Err(AppError::Invalid(b))) => {
            a.extend(b);
            return Err(AppError::Invalid(a));
        }
        (Err(e), _) | (_, Err(e)) => return Err(e),
    };
    let notes = req.notes.as_deref().unwrap_or("").trim();
    if notes.chars().count() > 2000 {
        return Err(AppError::field("notes", "hasta 2000 caracteres"));
    }
    let settings = state.settings();
    let link_key = super::guest_links::key(state).await?;

    // A drawn code already in use is drawn again; a transaction the database gave up because
    // of a concurrent one (a deadlock between two overlapping inserts on PostgreSQL's exclusion
    // constraint) is run again: the guest hears 201 or 409, never that.
    let mut transient = 0;
    let mut duplicates = 0;
    loop {
        let attempt = async {
            let code = ReservationCode::generate(&mut rand::rng());
            // Derived from the code, so later messages can carry the guest's link (stored hashed).
            let token = super::guest_links::access_token(link_key, code.as_str());
            let token_hash = posada_store::hash_secret(&token);
            let mut uow = UnitOfWork::begin_hold(state, acc.accommodation.id, &stay)
                .await?
                .with_trace(trace_id);
            let now = uow.now();
            let expires_at =
                now + Duration::minutes(i64::from(settings.prereservation_ttl_minutes));
            let hold = NewHold {
                code: code.as_str(),
                access_token_hash: &token_hash,
                accommodation_id: acc.accommodation.id,
                stay,
                guests: req.guests,
                guest_name: req.guest.name.trim(),
                guest_email: email.as_deref(),
                guest_phone: phone.as_deref(),
                channel,
                quote: &quote,
                expires_at,
                notes,
                trace_id,
                actor: Actor::Guest,
            };
            // Refused (`Overlap`) when a reservation or block takes a night: checked in the insert.
            let reservation = match reservations::insert_hold_if_free(uow.conn(), &hold, now).await
            {
                Ok(r) => r,
                Err(StoreError::Duplicate(_)) => {
                    uow.rollback().await?;
                    return Ok(None);
                }
                Err(StoreError::Overlap) => {
                    uow.rollback().await?;
                    return Err(taken_error(state, &acc, &stay, req.guests).await);
                }
                Err(e) => return Err(e.into()),
            };
            let id = reservation.id;
            uow.schedule(&ExpireHold { reservation_id: id }, expires_at)?;
            let remind_at =
                expires_at - Duration::minutes(i64::from(settings.prereservation_reminder_minutes));
            // A reminder only makes sense if the hold lives long enough for it to come before the end.
            if settings.prereservation_reminder_minutes > 0
                && remind_at > now + Duration::minutes(1)
            {
                uow.schedule(&HoldReminder { reservation_id: id }, remind_at)?;
            }
            if state.services().mercadopago.is_some() {
                uow.enqueue(&CreatePaymentLink { reservation_id: id })?;
            }
            uow.message_guest(&reservation, &acc, "hold_created", &Value::Null)
                .await?;
            uow.message_owner(&reservation, &acc, "owner_new_reservation", &Value::Null)
                .await?;
            uow.changed(Event::CalendarChanged {
                accommodation_id: acc.accommodation.id,
            });
            uow.changed(Event::ReservationChanged { reservation_id: id });
            uow.commit().await?;
            metrics::counter!("reservations_created_total", "channel" => channel.to_string())
                .increment(1);
            tracing::info!(
                reservation.code = %reservation.code,
                accommodation.id = acc.accommodation.id,
                guest.email = %crate::telemetry::mask_email(reservation.guest_email.as_deref().unwrap_or("")),
                guest.phone = %crate::telemetry::mask_phone(reservation.guest_phone.as_deref().unwrap_or("")),
                "hold created"
            );
            Ok(Some(HoldCreated {
                reservation,
                access_token: token,
                accommodation: acc.clone(),
            }))
        };
        match attempt.await {
            Ok(Some(created)) => return Ok(created),
            Ok(None) if duplicates < 3 => duplicates += 1,
            Ok(None) => {
                return Err(AppError::internal(
                    "could not draw an unused reservation code",
                ));
            }
            Err(e) if e.is_transient() && transient < MAX_TRANSIENT_RETRIES => {
                transient += 1;
                metrics::counter!("unit_of_work_retries_total", "use_case" => "create_hold")
                    .increment(1);
                tracing::info!(attempt = transient, error = %e, "hold retried after a concurrent transaction");
            }
            Err(e) => return Err(e),
        }
    }
}

fn illegal(state: ReservationState, event: ReservationEvent) -> AppError {
    AppError::IllegalTransition {
        state: state.as_str(),
        event: event.as_str(),
    }
}

/// Reservation `id`, or [`AppError::NotFound`].
pub async fn reservation(state: &AppState, id: i64) -> Result<Reservation, AppError> {
    reservations::get(state.db(), id)
        .await?
        .ok_or(AppError::NotFound("reservation"))
}

/// The accommodation of `r`, read from the pool (before a write transaction begins: on SQLite the
/// transaction holds the only write lock, so nothing inside it may wait for a second pooled
/// connection).
pub async fn accommodation_of(
    state: &AppState,
    r: &Reservation,
) -> Result<StoredAccommodation, AppError> {
    accommodations::get(state.db(), r.accommodation_id)
        .await?
        .ok_or(AppError::NotFound("accommodation"))
}

/// Apply `event` to a reservation in one unit of work: check the move, compare-and-set the state,
/// record history; `then` adds the use case's consequences to the same unit.
async fn apply(
    state: &AppState,
    id: i64,
    event: ReservationEvent,
    actor: Actor,
    reason: Option<&str>,
    then: impl AsyncFnOnce(
        &mut UnitOfWork<'_>,
        &Reservation,
        &StoredAccommodation,
    ) -> Result<(), AppError>,
) -> Result<Reservation, AppError> {
    let acc = accommodation_of(state, &reservation(state, id).await?).await?;
    let mut uow = UnitOfWork::begin(state).await?;
    let current = reservations::get_in(uow.conn(), id)
        .await?
        .ok_or(AppError::NotFound("reservation"))?;
    let to = transition(current.state, event).map_err(|_| {
        if current.state == ReservationState::Expired && event == ReservationEvent::Confirm {
            AppError::HoldExpired
        } else {
            illegal(current.state, event)
        }
    })?;
    let now = uow.now();
    let changed =
        match reservations::change_state(uow.conn(), id, current.state, to, actor, reason, now)
            .await
        {
            Ok(Some(r)) => r,
            // Lost a race: report the state that won.
            Ok(None) => {
                uow.rollback().await?;
                return Err(illegal(reservation(state, id).await?.state, event));
            }
            Err(StoreError::Overlap) => {
                uow.rollback().await?;
                return Err(taken_error(state, &acc, &current.stay, current.guests).await);
            }
            Err(e) => return Err(e.into()),
        };
    then(&mut uow, &changed, &acc).await?;
    uow.changed(Event::CalendarChanged {
        accommodation_id: changed.accommodation_id,
    });
    uow.changed(Event::ReservationChanged { reservation_id: id });
    uow.commit().await?;
    Ok(changed)
}

/// Confirm a hold (the owner, or a verified payment): cancels its expiry and reminder, schedules
/// the check-in reminder and the completion.
pub async fn confirm(
    state: &AppState,
    id: i64,
    actor: Actor,
    reason: Option<&str>,
) -> Result<Reservation, AppError> {
    let r = apply(
        state,
        id,
        ReservationEvent::Confirm,
        actor,
        reason,
        async |uow, r, acc| after_confirm(state, uow, r, acc, actor).await,
    )
    .await?;
    tracing::info!(reservation.code = %r.code, "reservation confirmed");
    Ok(r)
}

/// What a confirmation brings, in its unit of work: the hold's jobs cancelled, the check-in
/// reminder and the completion scheduled, the guest and the owner told (the owner hears "payment
/// received" when a payment confirmed it).
async fn after_confirm(
    state: &AppState,
    uow: &mut UnitOfWork<'_>,
    r: &Reservation,
    acc: &StoredAccommodation,
    actor: Actor,
) -> Result<(), AppError> {
    let id = r.id;
    uow.cancel(&ExpireHold { reservation_id: id }).await?;
    uow.cancel(&HoldReminder { reservation_id: id }).await?;
    let tz = state.settings().tz();
    let arrival = local_instant(tz, r.stay.check_in(), acc.accommodation.check_in_time);
    let remind = arrival - Duration::hours(i64::from(state.settings().checkin_reminder_hours));
    if remind > uow.now() {
        uow.schedule(&CheckInReminder { reservation_id: id }, remind)?;
    }
    let departure = local_instant(tz, r.stay.check_out(), acc.accommodation.check_out_time);
    uow.schedule(&CompleteStay { reservation_id: id }, departure)?;
    uow.message_guest(r, acc, "stay_confirmed", &Value::Null)
        .await?;
    let owner_template = if actor == Actor::Payment {
        "owner_payment_received"
    } else {
        "owner_stay_confirmed"
    };
    uow.message_owner(r, acc, owner_template, &Value::Null)
        .await?;
    Ok(())
}

/// Confirm an expired hold whose deposit was approved late (the payment provider approved it after
/// the hold ran out).
///
/// The domain's state machine has no expired → confirmed move, on purpose: nobody may revive an
/// expired hold by hand. A verified payment is the one exception, so this path lives here and not
/// in the domain: in one unit of work it locks the calendar, checks the nights are still free and
/// moves the reservation from `expired` to `confirmed` with history actor `payment`, with the same
/// jobs and messages as [`confirm`]. Nights taken meanwhile → [`AppError::DatesTaken`] (the caller
/// flags the payment for a refund).
pub async fn confirm_late_payment(
    state: &AppState,
    id: i64,
    reason: Option<&str>,
) -> Result<Reservation, AppError> {
    let acc = accommodation_of(state, &reservation(state, id).await?).await?;
    let mut uow = UnitOfWork::begin_calendar(state, acc.accommodation.id).await?;
    let current = reservations::get_in(uow.conn(), id)
        .await?
        .ok_or(AppError::NotFound("reservation"))?;
    if current.state != ReservationState::Expired {
        uow.rollback().await?;
        return Err(illegal(current.state, ReservationEvent::Confirm));
    }
    let taken = reservations::taken_stays(
        uow.conn(),
        acc.accommodation.id,
        current.stay.check_in(),
        current.stay.check_out(),
    )
    .await?;
    if !availability::is_free(&current.stay, &taken) {
        uow.rollback().await?;
        return Err(taken_error(state, &acc, &current.stay, current.guests).await);
    }
    let now = uow.now();
    let changed = match reservations::change_state(
        uow.conn(),
        id,
        ReservationState::Expired,
        ReservationState::Confirmed,
        Actor::Payment,
        reason,
        now,
    )
    .await
    {
        Ok(Some(r)) => r,
        Ok(None) => {
            uow.rollback().await?;
            return Err(illegal(current.state, ReservationEvent::Confirm));
        }
        Err(StoreError::Overlap) => {
            uow.rollback().await?;
            return Err(taken_error(state, &acc, &current.stay, current.guests).await);
        }
        Err(e) => return Err(e.into()),
    };
    after_confirm(state, &mut uow, &changed, &acc, Actor::Payment).await?;
    uow.changed(Event::CalendarChanged {
        accommodation_id: acc.accommodation.id,
    });
    uow.changed(Event::ReservationChanged { reservation_id: id });
    uow.commit().await?;
    tracing::info!(reservation.code = %changed.code, "expired hold confirmed by a late payment");
    Ok(changed)
}

/// Cancel (guest or owner): frees the nights, cancels every pending job of the reservation.
pub async fn cancel(
    state: &AppState,
    id: i64,
    actor: Actor,
    reason: Option<&str>,
) -> Result<Reservation, AppError> {
    cancel_with(state, id, actor, reason, async |_, _| Ok(())).await
}

/// [`cancel`], with `also` run in the cancellation's unit of work (to record, atomically, what
/// caused it — e.g. the guest's WhatsApp button tap).
pub async fn cancel_with(
    state: &AppState,
    id: i64,
    actor: Actor,
    reason: Option<&str>,
    also: impl AsyncFnOnce(&mut UnitOfWork<'_>, &Reservation) -> Result<(), AppError>,
) -> Result<Reservation, AppError> {
    let reason = reason
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .unwrap_or(match actor {
            Actor::Guest => "cancelada por el huésped",
            _ => "cancelada por el anfitrión",
        });
    let r = apply(
        state,
        id,
        ReservationEvent::Cancel,
        actor,
        Some(reason),
        async |uow, r, acc| {
            let reservation_id = r.id;
            uow.cancel(&ExpireHold { reservation_id }).await?;
            uow.cancel(&HoldReminder { reservation_id }).await?;
            uow.cancel(&CheckInReminder { reservation_id }).await?;
            uow.cancel(&CompleteStay { reservation_id }).await?;
            uow.message_guest(r, acc, "reservation_cancelled", &Value::Null)
                .await?;
            uow.message_owner(r, acc, "owner_reservation_cancelled", &Value::Null)
                .await?;
            also(uow, r).await
        },
    )
    .await?;
    tracing::info!(reservation.code = %r.code, actor = actor.as_str(), "reservation cancelled");
    Ok(r)
}

/// Expire a hold whose time has come. `Ok(None)` when there is nothing to do (already confirmed,
/// cancelled or expired: the other side of the race won).
pub async fn expire(state: &AppState, id: i64) -> Result<Option<Reservation>, AppError> {
    let Some(r) = reservations::get(state.db(), id).await? else {
        return Ok(None);
    };
    if r.state != ReservationState::PreReserved {
        return Ok(None);
    }
    if r.expires_at.is_some_and(|at| at > state.now()) {
        return Err(AppError::internal(format!(
            "hold {} is not due until {:?}",
            r.code, r.expires_at
        )));
    }
    let started = std::time::Instant::now();
    let result = apply(
        state,
        id,
        ReservationEvent::Expire,
        Actor::System,
        Some("el plazo de la prerreserva venció sin pago"),
        async |uow, r, acc| {
            uow.cancel(&HoldReminder {
                reservation_id: r.id,
            })
            .await?;
            uow.message_guest(r, acc, "hold_expired", &Value::Null)
                .await
        },
    )
    .await;
    metrics::histogram!("prereservation_expiry_job_duration_seconds")
        .record(started.elapsed().as_secs_f64());
    match result {
        Ok(r) => {
            metrics::counter!("prereservations_expired_total", "accommodation_id" => r.accommodation_id.to_string()).increment(1);
            tracing::info!(reservation.code = %r.code, "hold expired");
            Ok(Some(r))
        }
        Err(AppError::IllegalTransition { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Expire every overdue hold (the safety net behind the per-hold expiry jobs); returns how many.
pub async fn expire_overdue(state: &AppState, limit: i64) -> Result<usize, AppError> {
    let due = reservations::overdue_holds(state.db(), state.now(), limit).await?;
    let mut expired = 0;
    for id in due {
        if expire(state, id).await?.is_some() {
            expired += 1;
        }
    }
    Ok(expired)
}

/// Mark a confirmed stay completed after check-out. `Ok(None)` when not applicable.
pub async fn complete(state: &AppState, id: i64) -> Result<Option<Reservation>, AppError> {
    let Some(r) = reservations::get(state.db(), id).await? else {
        return Ok(None);
    };
    if r.state != ReservationState::Confirmed || r.stay.check_out() > state.today() {
        return Ok(None);
    }
    match apply(
        state,
        id,
        ReservationEvent::Complete,
        Actor::System,
        None,
        async |uow, r, acc| {
            uow.message_guest(r, acc, "thanks_after_checkout", &Value::Null)
                .await
        },
    )
    .await
    {
        Ok(r) => Ok(Some(r)),
        Err(AppError::IllegalTransition { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Complete every confirmed stay whose check-out has passed (the daily safety net).
pub async fn complete_finished(state: &AppState, limit: i64) -> Result<usize, AppError> {
    let due = reservations::finished_stays(state.db(), state.today(), limit).await?;
    let mut completed = 0;
    for id in due {
        if complete(state, id).await?.is_some() {
            completed += 1;
        }
    }
    Ok(completed)
}

/// The owner marks a confirmed stay as a no-show.
pub async fn mark_no_show(
    state: &AppState,
    id: i64,
    reason: Option<&str>,
) -> Result<Reservation, AppError> {
    apply(
        state,
        id,
        ReservationEvent::MarkNoShow,
        Actor::Admin,
        reason,
        async |uow, r, _acc| {
            let reservation_id = r.id;
            uow.cancel(&CheckInReminder { reservation_id }).await?;
            uow.cancel(&CompleteStay { reservation_id }).await
        },
    )
    .await
}

/// Remind the guest of reservation `id` with `template` while it is still `expected` (a hold about
/// to run out, a stay about to begin). Returns whether a reminder was written.
pub async fn remind(
    state: &AppState,
    id: i64,
    expected: ReservationState,
    template: &str,
) -> Result<bool, AppError> {
    let Some(r) = reservations::get(state.db(), id).await? else {
        return Ok(false);
    };
    if r.state != expected {
        return Ok(false);
    }
    let acc = accommodation_of(state, &r).await?;
    let mut uow = UnitOfWork::begin(state).await?;
    uow.message_guest(&r, &acc, template, &Value::Null).await?;
    uow.commit().await?;
    tracing::info!(reservation.code = %r.code, template, "reminder requested");
    Ok(true)
}

/// A guest or owner quote without holding: the accommodation, the quote and whether the nights
/// are free now.
pub async fn quote(
    state: &AppState,
    slug: &str,
    check_in: NaiveDate,
    check_out: NaiveDate,
    guests: u32,
) -> Result<(StoredAccommodation, Quote, bool), AppError> {
    let acc = active_accommodation(state, slug).await?;
    let (stay, quote) = price(state, &acc, check_in, check_out, guests)?;
    let taken = reservations::taken_stays_db(
        state.db(),
        acc.accommodation.id,
        stay.check_in(),
        stay.check_out(),
    )
    .await?;
    let available = availability::is_free(&stay, &taken);
    Ok((acc, quote, available))
}

fn validate_guest(g: &GuestIn) -> Result<(Option<String>, Option<String>), AppError> {
    let mut errors = Vec::new();
    let name = g.name.trim();
    if name.is_empty() || name.chars().count() > 120 {
        errors.push(FieldError::new(
            "guest.name",
            "el nombre es obligatorio (hasta 120 caracteres)",
        ));
    }
    let email = g.email.as_deref().map(str::trim).filter(|e| !e.is_empty());
    if let Some(e) = email {
        let ok = e.len() <= 254
            && e.split_once('@').is_some_and(|(a, b)| {
                !a.is_empty() && b.contains('.') && !b.starts_with('.') && !b.ends_with('.')
            })
            && !e.contains(char::is_whitespace);
        if !ok {
            errors.push(FieldError {
                field: "guest.email".into(),
                message: "no es un e-mail válido".into(),
            });
        }
    }
    let phone = g.phone.as_deref().map(str::trim).filter(|p| !p.is_empty());
    let phone = match phone {
        Some(p) => {
            let digits: String = p.chars().filter(char::is_ascii_digit).collect();
            let allowed = p
                .chars()
                .all(|c| c.is_ascii_digit() || " +-().".contains(c));
            if !allowed || !(8..=15).contains(&digits.len()) {
                errors.push(FieldError {
                    field: "guest.phone".into(),
                    message: "usá el formato internacional, por ejemplo +54 9 11 1234-5678".into(),
                });
                None
            } else {
                Some(digits)
            }
        }
        None => None,
    };
    if email.is_none()
        && phone.is_none()
        && errors
            .iter()
            .all(|e| e.field != "guest.phone" && e.field != "guest.email")
    {
        errors.push(FieldError {
            field: "guest.email".into(),
            message: "indicá un e-mail o un teléfono para poder avisarte".into(),
        });
    }
    if errors.is_empty() {
        Ok((email.map(str::to_lowercase), phone))
    } else {
        Err(AppError::Invalid(errors))
    }
}
