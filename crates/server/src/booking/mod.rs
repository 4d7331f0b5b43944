//! The reservation flows: quote, hold, confirm, cancel, expire, complete, no-show, owner blocks.
//!
//! Each flow is one write transaction that changes the reservation, records its history, enqueues
//! the jobs for its timed consequences (expiry, reminders, completion) and writes the notification
//! outbox rows — so either all of it happens or none of it. Jobs are cancelled by unique key when
//! the reservation leaves the state they were for.

pub mod catalog;
pub mod outbox;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use posada_db::Tx;
use posada_domain::{
    Actor, OwnerBlockInput, PricingError, Quote, ReservationCode, ReservationEvent,
    ReservationState, Stay, ValidationErrors, availability, transition,
};
use posada_jobs::{JobOptions, NewJob};
use posada_store::accommodations::{self, StoredAccommodation};
use posada_store::reservations::{self, NewHold, Reservation};
use posada_store::{StoreError, blocks};
use serde::{Deserialize, Serialize};

use crate::http::{FieldError, Problem};
use crate::jobs::reservations::{CheckInReminder, CompleteStay, ExpireHold, HoldReminder};
use crate::state::AppState;

/// Errors of the flows, each mapped to one HTTP answer.
#[derive(Debug, thiserror::Error)]
pub enum BookingError {
    /// Fields at fault.
    #[error("invalid request: {0:?}")]
    Invalid(Vec<FieldError>),
    /// No such accommodation / reservation / block.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The nights are taken; alternatives attached.
    #[error("the dates are taken")]
    DatesTaken(Box<Alternatives>),
    /// The hold ran out.
    #[error("the hold expired")]
    HoldExpired,
    /// The move is not allowed from the current state.
    #[error("cannot {event} a reservation that is {state}")]
    IllegalTransition {
        /// Current state.
        state: &'static str,
        /// Attempted move.
        event: &'static str,
    },
    /// Anything else.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<StoreError> for BookingError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => BookingError::NotFound(what),
            other => BookingError::Internal(other.into()),
        }
    }
}

impl From<sqlx::Error> for BookingError {
    fn from(e: sqlx::Error) -> Self {
        BookingError::Internal(e.into())
    }
}

impl From<posada_jobs::JobsError> for BookingError {
    fn from(e: posada_jobs::JobsError) -> Self {
        BookingError::Internal(e.into())
    }
}

impl From<ValidationErrors> for BookingError {
    fn from(errors: ValidationErrors) -> Self {
        BookingError::Invalid(
            errors
                .0
                .into_iter()
                .map(|e| FieldError {
                    field: e.field,
                    message: e.message,
                })
                .collect(),
        )
    }
}

impl From<BookingError> for Problem {
    fn from(e: BookingError) -> Problem {
        use axum::http::StatusCode;
        match e {
            BookingError::Invalid(errors) => Problem::validation(errors),
            BookingError::NotFound(what) => Problem::not_found(what),
            BookingError::DatesTaken(alternatives) => Problem::conflict(
                "dates-taken",
                "The dates are not available",
                "some of the requested nights are already taken",
            )
            .with("alternatives", &*alternatives),
            BookingError::HoldExpired => {
                Problem::new(StatusCode::GONE, "hold-expired", "The hold expired").detail(
                    "the pre-reservation expired before it was confirmed; ask for the dates again",
                )
            }
            BookingError::IllegalTransition { state, event } => Problem::conflict(
                "illegal-transition",
                "Not allowed in the reservation's current state",
                format!("cannot {event} a reservation that is {state}"),
            )
            .with("state", state),
            BookingError::Internal(e) => Problem::internal(format!("{e:#}")),
        }
    }
}

/// Free dates offered when the requested ones are taken.
#[derive(Debug, Clone, Serialize)]
pub struct Alternatives {
    /// Same accommodation, same length, nearest in time.
    pub same_accommodation: Vec<StayOut>,
    /// Other accommodations free on the requested dates (and big enough).
    pub other_accommodations: Vec<AccommodationRef>,
}

/// A stay in answers.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
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
#[derive(Debug, Clone, Serialize)]
pub struct AccommodationRef {
    /// Id.
    pub id: i64,
    /// Slug.
    pub slug: String,
    /// Name.
    pub name: String,
}

/// The guest of a hold.
#[derive(Debug, Clone, Deserialize)]
pub struct GuestIn {
    /// Full name.
    pub name: String,
    /// E-mail (this or a phone is required).
    #[serde(default)]
    pub email: Option<String>,
    /// Phone in international form (+54 9 11 …).
    #[serde(default)]
    pub phone: Option<String>,
}

/// A request for a hold.
#[derive(Debug, Clone, Deserialize)]
pub struct HoldRequest {
    /// Accommodation slug.
    pub accommodation: String,
    /// Arrival.
    pub check_in: NaiveDate,
    /// Departure.
    pub check_out: NaiveDate,
    /// Number of guests.
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

/// The owner's local date today.
pub fn today(state: &AppState) -> NaiveDate {
    Utc::now()
        .with_timezone(&state.settings().tz())
        .date_naive()
}

/// A local date and time in the owner's zone, as UTC.
pub fn local_instant(state: &AppState, date: NaiveDate, time: chrono::NaiveTime) -> DateTime<Utc> {
    let naive = date.and_time(time);
    state
        .settings()
        .tz()
        .from_local_datetime(&naive)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| Utc.from_utc_datetime(&naive))
}

/// Look up an active accommodation by slug (through the node's short-lived catalogue cache).
pub async fn active_accommodation(
    state: &AppState,
    slug: &str,
) -> Result<StoredAccommodation, BookingError> {
    match state.catalog().by_slug(state.db(), slug).await? {
        Some(a) if a.accommodation.active => Ok((*a).clone()),
        _ => Err(BookingError::NotFound("accommodation")),
    }
}

fn pricing_error(e: PricingError) -> BookingError {
    match e {
        PricingError::InvalidRules(errors) => BookingError::Internal(anyhow::anyhow!(
            "stored pricing rules are invalid: {errors}"
        )),
        other => {
            let field = other.field().unwrap_or("check_out").to_string();
            BookingError::Invalid(vec![FieldError {
                field,
                message: other.to_string(),
            }])
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
) -> Result<(Stay, Quote), BookingError> {
    let stay = Stay::validate_for_booking(
        check_in,
        check_out,
        today(state),
        posada_domain::MAX_BOOKING_AHEAD_MONTHS,
    )?;
    let quote = acc
        .accommodation
        .quote(&stay, guests)
        .map_err(pricing_error)?;
    Ok((stay, quote))
}

fn validate_guest(g: &GuestIn) -> Result<(Option<String>, Option<String>), BookingError> {
    let mut errors = Vec::new();
    let name = g.name.trim();
    if name.is_empty() || name.chars().count() > 120 {
        errors.push(FieldError {
            field: "guest.name".into(),
            message: "el nombre es obligatorio (hasta 120 caracteres)".into(),
        });
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
        Err(BookingError::Invalid(errors))
    }
}

/// Unique keys of the jobs a reservation can have pending.
pub mod keys {
    /// Hold expiry.
    pub fn expiry(id: i64) -> String {
        format!("hold-expiry:{id}")
    }
    /// Hold reminder.
    pub fn reminder(id: i64) -> String {
        format!("hold-reminder:{id}")
    }
    /// Check-in reminder.
    pub fn checkin(id: i64) -> String {
        format!("checkin-reminder:{id}")
    }
    /// Completion after check-out.
    pub fn complete(id: i64) -> String {
        format!("complete:{id}")
    }
    /// Every key of a reservation.
    pub fn all(id: i64) -> [String; 4] {
        [expiry(id), reminder(id), checkin(id), complete(id)]
    }
}

fn opts(key: String, at: DateTime<Utc>, trace_id: Option<&str>) -> JobOptions {
    JobOptions {
        run_at: Some(at),
        unique_key: Some(key),
        trace_id: trace_id.map(str::to_string),
        ..JobOptions::default()
    }
}

/// Compute alternatives for taken dates.
async fn alternatives(
    state: &AppState,
    acc: &StoredAccommodation,
    stay: &Stay,
    guests: u32,
) -> Result<Alternatives, BookingError> {
    let horizon = i64::from(availability::DEFAULT_ALTERNATIVES_HORIZON_DAYS);
    let from = stay.check_in() - Duration::days(horizon);
    let until = stay.check_out() + Duration::days(horizon);
    let taken = reservations::taken_stays_db(state.db(), acc.accommodation.id, from, until).await?;
    let today = today(state);
    let same: Vec<StayOut> = availability::nearest_free_alternatives(
        stay,
        &taken,
        today,
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

/// Create a hold: validate, price, check the nights inside the write transaction, insert, enqueue
/// expiry and reminder, write the notifications.
pub async fn create_hold(
    state: &AppState,
    req: &HoldRequest,
    channel: &str,
    trace_id: Option<&str>,
) -> Result<HoldCreated, BookingError> {
    let acc = active_accommodation(state, &req.accommodation).await?;
    let priced = price(state, &acc, req.check_in, req.check_out, req.guests);
    let guest = validate_guest(&req.guest);
    let (stay, quote, (email, phone)) = match (priced, guest) {
        (Ok((s, q)), Ok(g)) => (s, q, g),
        (Err(BookingError::Invalid(mut a)), Err(BookingError::Invalid(b))) => {
            a.extend(b);
            return Err(BookingError::Invalid(a));
        }
        (Err(e), _) | (_, Err(e)) => return Err(e),
    };
    let notes = req.notes.as_deref().unwrap_or("").trim();
    if notes.chars().count() > 2000 {
        return Err(BookingError::Invalid(vec![FieldError {
            field: "notes".into(),
            message: "hasta 2000 caracteres".into(),
        }]));
    }
    let settings = state.settings();
    let now = Utc::now();
    let expires_at = now + Duration::minutes(i64::from(settings.prereservation_ttl_minutes));
    let token = posada_domain::AccessToken::generate(&mut rand::rng());
    let token_hash = posada_store::hash_secret(token.as_str());

    for _ in 0..3 {
        let code = ReservationCode::generate(&mut rand::rng());
        // The calendar lock, shared (holds run in parallel; blocks wait), with `BEGIN`.
        let mut tx =
            accommodations::begin_with_calendar_shared(state.db(), acc.accommodation.id).await?;
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
        let reservation = match reservations::insert_hold_if_free(tx.conn(), &hold).await {
            Ok(r) => r,
            Err(StoreError::Duplicate(_)) => {
                tx.rollback().await?;
                continue;
            }
            Err(StoreError::Overlap) => {
                tx.rollback().await?;
                return Err(taken_error(state, &acc, &stay, req.guests).await);
            }
            Err(e) => return Err(e.into()),
        };
        let jobs = state.jobs();
        // The expiry and the reminder (and, below, the messages' delivery jobs) go in with one
        // statement.
        let mut timed = vec![
            NewJob::new(
                &ExpireHold {
                    reservation_id: reservation.id,
                },
                opts(keys::expiry(reservation.id), expires_at, trace_id),
            )
            .map_err(|e| BookingError::Internal(anyhow::anyhow!("serializing a job: {e}")))?,
        ];
        let remind_at =
            expires_at - Duration::minutes(i64::from(settings.prereservation_reminder_minutes));
        // A reminder only makes sense if the hold lives long enough for it to come before the end.
        if settings.prereservation_reminder_minutes > 0 && remind_at > now + Duration::minutes(1) {
            timed.push(
                NewJob::new(
                    &HoldReminder {
                        reservation_id: reservation.id,
                    },
                    opts(keys::reminder(reservation.id), remind_at, trace_id),
                )
                .map_err(|e| BookingError::Internal(anyhow::anyhow!("serializing a job: {e}")))?,
            );
        }
        if state.services().mercadopago.is_some() {
            crate::jobs::payments::enqueue_payment_link(state, &mut tx, &reservation).await?;
        }
        // The messages' delivery jobs join the expiry and the reminder: one statement for all.
        let none = &serde_json::Value::Null;
        let hold_created = "hold_created";
        outbox::guest_into(
            state,
            &mut tx,
            &reservation,
            &acc,
            hold_created,
            none,
            Some(&mut timed),
        )
        .await?;
        let new_reservation = "owner_new_reservation";
        outbox::owner_into(
            state,
            &mut tx,
            &reservation,
            &acc,
            new_reservation,
            none,
            Some(&mut timed),
        )
        .await?;
        jobs.enqueue_many_in(tx.conn(), timed).await?;
        jobs.commit(tx).await?;
        state.calendar_changed();
        metrics::counter!("reservations_created_total", "channel" => channel.to_string())
            .increment(1);
        tracing::info!(
            reservation.code = %reservation.code,
            accommodation.id = acc.accommodation.id,
            guest.email = %crate::telemetry::mask_email(reservation.guest_email.as_deref().unwrap_or("")),
            guest.phone = %crate::telemetry::mask_phone(reservation.guest_phone.as_deref().unwrap_or("")),
            "hold created"
        );
        return Ok(HoldCreated {
            reservation,
            access_token: token.as_str().to_string(),
            accommodation: acc,
        });
    }
    Err(BookingError::Internal(anyhow::anyhow!(
        "could not draw an unused reservation code"
    )))
}

async fn taken_error(
    state: &AppState,
    acc: &StoredAccommodation,
    stay: &Stay,
    guests: u32,
) -> BookingError {
    metrics::counter!("reservations_date_overlap_total").increment(1);
    match alternatives(state, acc, stay, guests).await {
        Ok(a) => BookingError::DatesTaken(Box::new(a)),
        Err(e) => e,
    }
}

async fn load_in(tx: &mut Tx, id: i64) -> Result<Reservation, BookingError> {
    reservations::get_in(tx.conn(), id)
        .await?
        .ok_or(BookingError::NotFound("reservation"))
}

fn illegal(state: ReservationState, event: ReservationEvent) -> BookingError {
    BookingError::IllegalTransition {
        state: state.as_str(),
        event: event.as_str(),
    }
}

/// The accommodation of reservation `id`, read from the pool (before a write transaction begins).
async fn accommodation_for(state: &AppState, id: i64) -> Result<StoredAccommodation, BookingError> {
    let r = reservations::get(state.db(), id)
        .await?
        .ok_or(BookingError::NotFound("reservation"))?;
    accommodation_of(state, &r).await
}

async fn accommodation_of(
    state: &AppState,
    r: &Reservation,
) -> Result<StoredAccommodation, BookingError> {
    accommodations::get(state.db(), r.accommodation_id)
        .await?
        .ok_or(BookingError::NotFound("accommodation"))
}

/// Apply `event` to a reservation in one transaction: check the move, compare-and-set the state,
/// record history; `then` adds the flow's jobs and messages in the same transaction.
async fn apply(
    state: &AppState,
    id: i64,
    event: ReservationEvent,
    actor: Actor,
    reason: Option<&str>,
    then: impl AsyncFnOnce(&mut Tx, &Reservation, &StoredAccommodation) -> Result<(), BookingError>,
) -> Result<Reservation, BookingError> {
    // Read before the transaction: on SQLite it holds the only write lock, so nothing inside it
    // may wait for a second pooled connection (others waiting for the lock may hold them all).
    let acc = accommodation_for(state, id).await?;
    let mut tx = state.db().begin().await?;
    let current = load_in(&mut tx, id).await?;
    let to = transition(current.state, event).map_err(|_| {
        if current.state == ReservationState::Expired && event == ReservationEvent::Confirm {
            BookingError::HoldExpired
        } else {
            illegal(current.state, event)
        }
    })?;
    let changed =
        match reservations::change_state(tx.conn(), id, current.state, to, actor, reason).await {
            Ok(Some(r)) => r,
            // Lost a race: report the state that won.
            Ok(None) => {
                tx.rollback().await?;
                let now = reservations::get(state.db(), id)
                    .await?
                    .ok_or(BookingError::NotFound("reservation"))?;
                return Err(illegal(now.state, event));
            }
            Err(StoreError::Overlap) => {
                tx.rollback().await?;
                return Err(taken_error(state, &acc, &current.stay, current.guests).await);
            }
            Err(e) => return Err(e.into()),
        };
    then(&mut tx, &changed, &acc).await?;
    state.jobs().commit(tx).await?;
    state.calendar_changed();
    Ok(changed)
}

/// Confirm a hold (admin now, a verified payment later): cancels its expiry and reminder,
/// schedules the check-in reminder and the completion.
pub async fn confirm(
    state: &AppState,
    id: i64,
    actor: Actor,
    reason: Option<&str>,
) -> Result<Reservation, BookingError> {
    let r = apply(
        state,
        id,
        ReservationEvent::Confirm,
        actor,
        reason,
        async |tx, r, acc| after_confirm(state, tx, r, acc, actor).await,
    )
    .await?;
    tracing::info!(reservation.code = %r.code, "reservation confirmed");
    Ok(r)
}

/// What a confirmation brings, in its transaction: the hold's jobs cancelled, the check-in
/// reminder and the completion scheduled, the guest and the owner told (the owner hears "payment
/// received" when a payment confirmed it).
async fn after_confirm(
    state: &AppState,
    tx: &mut Tx,
    r: &Reservation,
    acc: &StoredAccommodation,
    actor: Actor,
) -> Result<(), BookingError> {
    let jobs = state.jobs();
    jobs.cancel_by_key(tx.conn(), &keys::expiry(r.id)).await?;
    jobs.cancel_by_key(tx.conn(), &keys::reminder(r.id)).await?;
    let arrival = local_instant(state, r.stay.check_in(), acc.accommodation.check_in_time);
    let remind = arrival - Duration::hours(i64::from(state.settings().checkin_reminder_hours));
    if remind > Utc::now() {
        jobs.enqueue_in(
            tx.conn(),
            &CheckInReminder {
                reservation_id: r.id,
            },
            opts(keys::checkin(r.id), remind, r.trace_id.as_deref()),
        )
        .await?;
    }
    let departure = local_instant(state, r.stay.check_out(), acc.accommodation.check_out_time);
    jobs.enqueue_in(
        tx.conn(),
        &CompleteStay {
            reservation_id: r.id,
        },
        opts(keys::complete(r.id), departure, r.trace_id.as_deref()),
    )
    .await?;
    outbox::guest(state, tx, r, acc, "stay_confirmed").await?;
    let owner_template = if actor == Actor::Payment {
        "owner_payment_received"
    } else {
        "owner_stay_confirmed"
    };
    outbox::owner(state, tx, r, acc, owner_template).await?;
    Ok(())
}

/// Confirm an expired hold whose deposit was approved late (the payment provider approved it after
/// the hold ran out).
///
/// The domain's state machine has no expired → confirmed move, on purpose: nobody may revive an
/// expired hold by hand. A verified payment is the one exception, so this path lives here and not
/// in the domain: in one write transaction it locks the calendar, checks the nights are still free
/// and moves the reservation from `expired` to `confirmed` with history actor `payment`, with the
/// same jobs and messages as [`confirm`]. Nights taken meanwhile → [`BookingError::DatesTaken`]
/// (the caller flags the payment for a refund).
pub async fn confirm_late_payment(
    state: &AppState,
    id: i64,
    reason: Option<&str>,
) -> Result<Reservation, BookingError> {
    let acc = accommodation_for(state, id).await?;
    let mut tx = state.db().begin().await?;
    let current = load_in(&mut tx, id).await?;
    if current.state != ReservationState::Expired {
        tx.rollback().await?;
        return Err(illegal(current.state, ReservationEvent::Confirm));
    }
    accommodations::lock_calendar(tx.conn(), acc.accommodation.id).await?;
    let taken = reservations::taken_stays(
        tx.conn(),
        acc.accommodation.id,
        current.stay.check_in(),
        current.stay.check_out(),
    )
    .await?;
    if !availability::is_free(&current.stay, &taken) {
        tx.rollback().await?;
        return Err(taken_error(state, &acc, &current.stay, current.guests).await);
    }
    let changed = match reservations::change_state(
        tx.conn(),
        id,
        ReservationState::Expired,
        ReservationState::Confirmed,
        Actor::Payment,
        reason,
    )
    .await
    {
        Ok(Some(r)) => r,
        Ok(None) => {
            tx.rollback().await?;
            return Err(illegal(current.state, ReservationEvent::Confirm));
        }
        Err(StoreError::Overlap) => {
            tx.rollback().await?;
            return Err(taken_error(state, &acc, &current.stay, current.guests).await);
        }
        Err(e) => return Err(e.into()),
    };
    after_confirm(state, &mut tx, &changed, &acc, Actor::Payment).await?;
    state.jobs().commit(tx).await?;
    state.calendar_changed();
    tracing::info!(reservation.code = %changed.code, "expired hold confirmed by a late payment");
    Ok(changed)
}

/// Cancel (guest or admin): frees the nights, cancels every pending job of the reservation.
pub async fn cancel(
    state: &AppState,
    id: i64,
    actor: Actor,
    reason: Option<&str>,
) -> Result<Reservation, BookingError> {
    cancel_with(state, id, actor, reason, async |_, _| Ok(())).await
}

/// [`cancel`], with `also` run in the cancellation's transaction (to record, atomically, what
/// caused it — e.g. the guest's WhatsApp button tap).
pub async fn cancel_with(
    state: &AppState,
    id: i64,
    actor: Actor,
    reason: Option<&str>,
    also: impl AsyncFnOnce(&mut Tx, &Reservation) -> Result<(), BookingError>,
) -> Result<Reservation, BookingError> {
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
        async |tx, r, acc| {
            for key in keys::all(r.id) {
                state.jobs().cancel_by_key(tx.conn(), &key).await?;
            }
            outbox::guest(state, tx, r, acc, "reservation_cancelled").await?;
            outbox::owner(state, tx, r, acc, "owner_reservation_cancelled").await?;
            also(tx, r).await
        },
    )
    .await?;
    tracing::info!(reservation.code = %r.code, actor = actor.as_str(), "reservation cancelled");
    Ok(r)
}

/// Expire a hold whose time has come. `Ok(None)` when there is nothing to do (already confirmed,
/// cancelled or expired: the other side of the race won).
pub async fn expire(state: &AppState, id: i64) -> Result<Option<Reservation>, BookingError> {
    let Some(r) = reservations::get(state.db(), id).await? else {
        return Ok(None);
    };
    if r.state != ReservationState::PreReserved {
        return Ok(None);
    }
    if r.expires_at.is_some_and(|at| at > Utc::now()) {
        return Err(BookingError::Internal(anyhow::anyhow!(
            "hold {} is not due until {:?}",
            r.code,
            r.expires_at
        )));
    }
    let started = std::time::Instant::now();
    let result = apply(
        state,
        id,
        ReservationEvent::Expire,
        Actor::System,
        Some("el plazo de la prerreserva venció sin pago"),
        async |tx, r, acc| {
            state
                .jobs()
                .cancel_by_key(tx.conn(), &keys::reminder(r.id))
                .await?;
            outbox::guest(state, tx, r, acc, "hold_expired").await?;
            Ok(())
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
        Err(BookingError::IllegalTransition { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Mark a confirmed stay completed after check-out. `Ok(None)` when not applicable.
pub async fn complete(state: &AppState, id: i64) -> Result<Option<Reservation>, BookingError> {
    let Some(r) = reservations::get(state.db(), id).await? else {
        return Ok(None);
    };
    if r.state != ReservationState::Confirmed || r.stay.check_out() > today(state) {
        return Ok(None);
    }
    match apply(
        state,
        id,
        ReservationEvent::Complete,
        Actor::System,
        None,
        async |tx, r, acc| {
            outbox::guest(state, tx, r, acc, "thanks_after_checkout").await?;
            Ok(())
        },
    )
    .await
    {
        Ok(r) => Ok(Some(r)),
        Err(BookingError::IllegalTransition { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Owner marks a confirmed stay as a no-show.
pub async fn mark_no_show(
    state: &AppState,
    id: i64,
    reason: Option<&str>,
) -> Result<Reservation, BookingError> {
    apply(
        state,
        id,
        ReservationEvent::MarkNoShow,
        Actor::Admin,
        reason,
        async |tx, r, _acc| {
            state
                .jobs()
                .cancel_by_key(tx.conn(), &keys::checkin(r.id))
                .await?;
            state
                .jobs()
                .cancel_by_key(tx.conn(), &keys::complete(r.id))
                .await?;
            Ok(())
        },
    )
    .await
}

/// Create an owner block over free nights.
pub async fn create_block(
    state: &AppState,
    accommodation_id: i64,
    input: &OwnerBlockInput,
) -> Result<blocks::BlockRow, BookingError> {
    let stay = input.validate()?;
    let acc = accommodations::get(state.db(), accommodation_id)
        .await?
        .ok_or_else(|| {
            BookingError::Invalid(vec![FieldError {
                field: "accommodation_id".into(),
                message: "no existe ese alojamiento".into(),
            }])
        })?;
    let mut tx = state.db().begin().await?;
    accommodations::lock_calendar(tx.conn(), accommodation_id).await?;
    let taken = reservations::taken_stays(
        tx.conn(),
        accommodation_id,
        stay.check_in(),
        stay.check_out(),
    )
    .await?;
    if !availability::is_free(&stay, &taken) {
        tx.rollback().await?;
        return Err(taken_error(state, &acc, &stay, 1).await);
    }
    let block =
        blocks::insert_owner(tx.conn(), accommodation_id, &stay, input.reason.trim()).await?;
    tx.commit().await?;
    state.calendar_changed();
    Ok(block)
}

/// Change an owner block's dates or reason (the new nights must be free apart from itself).
pub async fn update_block(
    state: &AppState,
    id: i64,
    input: &OwnerBlockInput,
) -> Result<blocks::BlockRow, BookingError> {
    let stay = input.validate()?;
    let existing = blocks::get(state.db(), id)
        .await?
        .filter(|b| b.source == "owner")
        .ok_or(BookingError::NotFound("block"))?;
    let acc = accommodations::get(state.db(), existing.accommodation_id)
        .await?
        .ok_or(BookingError::NotFound("accommodation"))?;
    let mut tx = state.db().begin().await?;
    accommodations::lock_calendar(tx.conn(), existing.accommodation_id).await?;
    let busy = !reservations::active_overlapping(tx.conn(), existing.accommodation_id, &stay)
        .await?
        .is_empty()
        || !blocks::overlapping(tx.conn(), existing.accommodation_id, &stay, Some(id))
            .await?
            .is_empty();
    if busy {
        tx.rollback().await?;
        return Err(taken_error(state, &acc, &stay, 1).await);
    }
    let block = blocks::update_owner(tx.conn(), id, &stay, input.reason.trim()).await?;
    tx.commit().await?;
    state.calendar_changed();
    Ok(block)
}

/// Guest or admin quote without holding.
pub async fn quote(
    state: &AppState,
    slug: &str,
    check_in: NaiveDate,
    check_out: NaiveDate,
    guests: u32,
) -> Result<(StoredAccommodation, Quote, bool), BookingError> {
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

/// Find a reservation by id, for jobs (the expiry sweep, reminders).
pub async fn reservation(state: &AppState, id: i64) -> Result<Option<Reservation>, BookingError> {
    Ok(reservations::get(state.db(), id).await?)
}
