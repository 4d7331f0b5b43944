//! Deposits through Mercado Pago: the hold's payment link (a Checkout Pro preference) and the
//! processing of payment notifications.
//!
//! A notification only says "look at payment N": the job fetches the payment from the API and acts
//! on what the API says, never on the webhook body. Each status of a payment is acted on once
//! (`handled_status` on the payment row, deduplicated messages, compare-and-set state changes), so
//! repeated and concurrent notifications are harmless, while a later status (pending → approved,
//! approved → refunded) is still acted on.

use posada_domain::{Actor, Money, ReservationState};
use posada_integrations::{
    BackUrls, MercadoPagoClient, MpError, Payment, PaymentStatus, PreferenceItem, PreferenceRequest,
};
use posada_store::accommodations;
use posada_store::payments::{self, PaymentObservation};
use posada_store::reservations::{self, Reservation};
use serde_json::{Value, json};

use posada_jobs::JobOptions;

use super::booking;
use super::error::AppError;
use super::events::Event;
use super::uow::UnitOfWork;
use crate::jobs::process_payment::ProcessPayment;
use crate::notify::services::provider;
use crate::state::AppState;

/// The provider name stored on payment rows.
pub const MERCADOPAGO: &str = provider::MERCADOPAGO;

/// A payment job failure.
#[derive(Debug, thiserror::Error)]
pub enum PaymentJobError {
    /// Mercado Pago is down (or its circuit is open): try again later.
    #[error("mercado pago unavailable: {0}")]
    Unavailable(String),
    /// Mercado Pago answered 404 for a payment it just notified: look again later.
    #[error("payment {0} is not visible at mercado pago yet")]
    NotYetVisible(String),
    /// A use case or the database failed.
    #[error(transparent)]
    App(#[from] AppError),
}

impl From<posada_store::StoreError> for PaymentJobError {
    fn from(e: posada_store::StoreError) -> Self {
        PaymentJobError::App(e.into())
    }
}

/// What processing a payment notification did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentOutcome {
    /// Mercado Pago is not configured: nothing can be verified.
    NotConfigured,
    /// Mercado Pago does not know the payment (a forged or mistaken notification).
    Unknown,
    /// This status was already acted on.
    AlreadyHandled,
    /// The status was acted on.
    Handled(String),
}

fn client(state: &AppState) -> Option<&MercadoPagoClient> {
    state.services().mercadopago.as_ref()
}

fn breaker_check(state: &AppState) -> Result<(), PaymentJobError> {
    state
        .services()
        .mercadopago_breaker
        .check()
        .map_err(|open| PaymentJobError::Unavailable(open.to_string()))
}

/// Count an API error against the breaker when it says the provider is down.
fn record(state: &AppState, result: Result<(), &MpError>) {
    let breaker = &state.services().mercadopago_breaker;
    match result {
        Err(e) if e.is_retryable() => breaker.record_failure(),
        _ => breaker.record_success(),
    }
}

/// Create the hold's payment link (idempotency key `pref-{id}`), store it and write the guest's
/// `hold_payment_link` message in one transaction. Nothing to do when the reservation is no longer
/// a hold or already has its link.
pub async fn create_payment_link(
    state: &AppState,
    reservation_id: i64,
) -> Result<(), PaymentJobError> {
    let Some(client) = client(state) else {
        tracing::warn!(
            reservation.id = reservation_id,
            "payment link not created: mercado pago is not configured"
        );
        return Ok(());
    };
    let Some(r) = reservations::get(state.db(), reservation_id).await? else {
        return Ok(());
    };
    if r.state != ReservationState::PreReserved || r.payment_link.is_some() {
        return Ok(());
    }
    let acc = accommodations::get(state.db(), r.accommodation_id)
        .await?
        .ok_or(AppError::NotFound("accommodation"))?;
    let settings = state.settings();
    let public = settings.posada_public_url.trim_end_matches('/');
    let tz = settings.tz();
    // The return URLs open the guest's reservation page (token included: the guest may pay on
    // another device); the page shows what posada knows, never what the URL claims.
    let token = super::guest_links::access_token(super::guest_links::key(state).await?, &r.code);
    let back = |result: &str| {
        format!(
            "{public}{}&pago={result}",
            super::guest_links::reservation_path(&r.code, &token)
        )
    };
    let request = PreferenceRequest {
        items: vec![PreferenceItem {
            id: format!("deposit-{}", r.code),
            title: format!("Seña reserva {} · {}", r.code, acc.accommodation.name),
            quantity: 1,
            currency_id: r.deposit.currency.code().to_string(),
            unit_price_minor: r.deposit.minor,
        }],
        external_reference: r.code.clone(),
        notification_url: Some(format!("{public}/api/v1/webhooks/mercadopago")),
        back_urls: Some(BackUrls {
            success: back("aprobado"),
            failure: back("rechazado"),
            pending: back("pendiente"),
        }),
        auto_return: Some("approved".into()),
        binary_mode: true,
        expires: true,
        expiration_date_from: Some(state.now().with_timezone(&tz).fixed_offset()),
        expiration_date_to: r.expires_at.map(|t| t.with_timezone(&tz).fixed_offset()),
        payer_email: r.guest_email.clone(),
    };
    breaker_check(state)?;
    let preference = client
        .create_preference(&request, &format!("pref-{}", r.id))
        .await;
    record(state, preference.as_ref().map(|_| ()));
    let preference = match preference {
        Ok(p) => p,
        Err(e) if e.is_retryable() => return Err(PaymentJobError::Unavailable(e.to_string())),
        Err(e) => {
            // A refused preference will be refused again: the owner must look at it.
            tracing::error!(reservation.code = %r.code, error = %e, "mercado pago refused the payment preference");
            return Ok(());
        }
    };
    let mut uow = UnitOfWork::begin(state).await?;
    let now = uow.now();
    reservations::set_payment_link(uow.conn(), r.id, &preference.init_point, now).await?;
    let Some(current) = reservations::get_in(uow.conn(), r.id).await? else {
        uow.rollback().await?;
        return Ok(());
    };
    if current.state == ReservationState::PreReserved {
        uow.message_guest(&current, &acc, "hold_payment_link", &Value::Null)
            .await?;
    }
    uow.changed(Event::ReservationChanged {
        reservation_id: r.id,
    });
    uow.commit().await?;
    tracing::info!(reservation.code = %r.code, preference.id = %preference.id, "payment link created");
    Ok(())
}

/// A verified notification says payment `payment_id` changed: look it up soon.
///
/// One processing job per payment while it is live (its key), and at most
/// [`LOOKUPS_PER_WINDOW`] started per [`LOOKUP_WINDOW`] (idempotency claims on the payment id), so a
/// burst of duplicates is one job and a stream of them a bounded number. A later notification may carry a newer status (approved,
/// then refunded): it asks for one follow-up look-up shortly after, and further duplicates
/// meanwhile are absorbed by the follow-up's own key.
pub async fn notification_received(
    state: &AppState,
    payment_id: &str,
    trace_id: Option<&str>,
) -> Result<(), AppError> {
    let job = ProcessPayment {
        payment_id: payment_id.to_string(),
    };
    let opts = JobOptions {
        trace_id: trace_id.map(str::to_string),
        ..JobOptions::default()
    };
    let jobs = state.jobs();
    let mut uow = UnitOfWork::begin(state).await?;
    let now = uow.now();
    let again = |at| JobOptions {
        unique_key: Some(job.follow_up_key()),
        run_at: Some(at),
        ..opts.clone()
    };
    // The job and the budget claim are one transaction: a job over budget is never seen by a
    // worker, and concurrent duplicates wait on the job's key instead of spending the budget.
    if jobs
        .enqueue_in(uow.conn(), &job, opts.clone())
        .await?
        .is_none()
    {
        jobs.enqueue_in(uow.conn(), &job, again(now + FOLLOW_UP_WHILE_LIVE))
            .await?;
        return uow.commit().await;
    }
    let in_budget = posada_store::idempotency::claim_slot(
        uow.conn(),
        LOOKUP_SCOPE,
        payment_id,
        LOOKUPS_PER_WINDOW,
        LOOKUP_WINDOW,
        now,
    )
    .await?;
    if in_budget {
        return uow.commit().await;
    }
    uow.rollback().await?;
    tracing::info!(
        payment.id = payment_id,
        "payment looked up {LOOKUPS_PER_WINDOW} times within a minute; the next look-up waits for the window's end"
    );
    jobs.enqueue(&job, again(now + LOOKUP_WINDOW)).await?;
    Ok(())
}

/// Idempotency-key scope of the per-payment look-up budget.
const LOOKUP_SCOPE: &str = "mp-payment-lookup";
/// A payment id starts at most this many processing jobs per [`LOOKUP_WINDOW`] (a payment's
/// ordinary life — pending, approved, perhaps refunded — fits); past it, notifications share one
/// follow-up at the end of the window, so a flood of notifications about one payment, forged or
/// not, makes a bounded number of API calls.
const LOOKUPS_PER_WINDOW: u32 = 3;
/// See [`LOOKUPS_PER_WINDOW`].
const LOOKUP_WINDOW: chrono::Duration = chrono::Duration::minutes(1);
/// The follow-up after a notification that found a processing job live.
const FOLLOW_UP_WHILE_LIVE: chrono::Duration = chrono::Duration::seconds(2);

/// How many times (job attempts) a payment Mercado Pago answers 404 for is looked up before the
/// notification is dropped as naming no payment.
pub const NOT_FOUND_LOOKUPS: i32 = 5;

/// Process a payment notification: fetch the payment, record it, act once per status.
/// `attempt` is the job's attempt number (1 first).
pub async fn process_payment(
    state: &AppState,
    payment_id: &str,
    attempt: i32,
) -> Result<PaymentOutcome, PaymentJobError> {
    let Some(client) = client(state) else {
        tracing::warn!(
            payment.id = payment_id,
            "payment notification ignored: mercado pago is not configured"
        );
        return Ok(PaymentOutcome::NotConfigured);
    };
    breaker_check(state)?;
    let fetched = client.get_payment(payment_id).await;
    record(state, fetched.as_ref().map(|_| ()));
    let payment = match fetched {
        Ok(p) => p,
        // A notification can arrive before the payment is readable through the API: a 404 is
        // looked up again a few times before the notification is taken for a stray one.
        Err(MpError::NotFound) if attempt < NOT_FOUND_LOOKUPS => {
            tracing::info!(
                payment.id = payment_id,
                attempt,
                "mercado pago does not know the payment yet; looking again later"
            );
            return Err(PaymentJobError::NotYetVisible(payment_id.to_string()));
        }
        Err(MpError::NotFound | MpError::InvalidRequest(_)) => {
            tracing::warn!(
                payment.id = payment_id,
                "notification for a payment mercado pago does not know; ignored"
            );
            return Ok(PaymentOutcome::Unknown);
        }
        Err(e) if e.is_retryable() => return Err(PaymentJobError::Unavailable(e.to_string())),
        Err(e) => return Err(PaymentJobError::App(AppError::Internal(e.into()))),
    };
    let reservation = match payment.external_reference.as_deref() {
        Some(code) => reservations::get_by_code(state.db(), code).await?,
        None => None,
    };
    let currency = payment.currency_id.clone().unwrap_or_default();
    let status = payment.status.as_str().to_string();
    let mut uow = UnitOfWork::begin(state).await?;
    let now = uow.now();
    let (row, news) = payments::record(
        uow.conn(),
        &PaymentObservation {
            provider: MERCADOPAGO,
            provider_payment_id: &payment.id,
            reservation_id: reservation.as_ref().map(|r| r.id),
            external_reference: payment.external_reference.as_deref(),
            status: &status,
            status_detail: payment.status_detail.as_deref(),
            amount_minor: payment.transaction_amount_minor,
            currency: &currency,
        },
        now,
    )
    .await?;
    if let Some(r) = &reservation {
        uow.changed(Event::ReservationChanged {
            reservation_id: r.id,
        });
    }
    uow.commit().await?;
    if news {
        metrics::counter!("payments_received_total", "status" => status.clone()).increment(1);
        tracing::info!(payment.id = %payment.id, payment.status = %status, reservation.code = payment.external_reference.as_deref().unwrap_or(""), "payment status recorded");
    }
    if row.handled_status.as_deref() == Some(status.as_str()) {
        return Ok(PaymentOutcome::AlreadyHandled);
    }
    act(state, &payment, reservation).await?;
    payments::mark_handled(state.db(), row.id, &status, state.now()).await?;
    Ok(PaymentOutcome::Handled(status))
}

/// The payment facts templates can show.
fn payment_data(payment: &Payment, problem: Option<&str>) -> Value {
    let amount = payment
        .currency_id
        .as_deref()
        .and_then(|c| posada_domain::Currency::parse(c).ok())
        .map(|c| Money::new(payment.transaction_amount_minor, c).format_es_ar())
        .unwrap_or_else(|| {
            format!(
                "{} {}",
                payment.currency_id.as_deref().unwrap_or(""),
                payment.transaction_amount_minor
            )
        });
    json!({
        "payment_id": payment.id,
        "payment_status": payment.status.as_str(),
        "amount": amount,
        "problem": problem,
    })
}

/// Tell the owner about a payment problem on `r` (or on no reservation).
async fn owner_alert(
    state: &AppState,
    r: Option<&Reservation>,
    template: &str,
    data: &Value,
    flag: Option<&str>,
) -> Result<(), PaymentJobError> {
    // Read before the transaction (on SQLite it holds the only write lock).
    let acc = match r {
        Some(r) => Some(
            accommodations::get(state.db(), r.accommodation_id)
                .await?
                .ok_or(AppError::NotFound("accommodation"))?,
        ),
        None => None,
    };
    let mut uow = UnitOfWork::begin(state).await?;
    match r.zip(acc.as_ref()) {
        Some((r, acc)) => {
            if let Some(flag) = flag {
                let now = uow.now();
                reservations::add_flag(uow.conn(), r.id, flag, now).await?;
            }
            uow.message_owner(r, acc, template, data).await?;
        }
        None => {
            let dedupe = data
                .get("payment_id")
                .and_then(Value::as_str)
                .map(|p| {
                    format!(
                        "mp-{p}-{}",
                        data.get("payment_status")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                    )
                })
                .unwrap_or_default();
            uow.message_owner_about(template, data, Some(&dedupe))
                .await?;
        }
    }
    uow.commit().await?;
    Ok(())
}

/// Write `template` about `payment` to the guest of `reservation` while it is still a hold;
/// the hold's code when it was written.
async fn tell_holder(
    state: &AppState,
    payment: &Payment,
    reservation: Option<Reservation>,
    template: &str,
) -> Result<Option<String>, PaymentJobError> {
    let Some(r) = reservation.filter(|r| r.state == ReservationState::PreReserved) else {
        return Ok(None);
    };
    let acc = accommodations::get(state.db(), r.accommodation_id)
        .await?
        .ok_or(AppError::NotFound("accommodation"))?;
    let mut uow = UnitOfWork::begin(state).await?;
    uow.message_guest(&r, &acc, template, &payment_data(payment, None))
        .await?;
    uow.commit().await?;
    Ok(Some(r.code))
}

async fn act(
    state: &AppState,
    payment: &Payment,
    reservation: Option<Reservation>,
) -> Result<(), PaymentJobError> {
    match &payment.status {
        PaymentStatus::Approved => approved(state, payment, reservation).await,
        PaymentStatus::Rejected | PaymentStatus::Cancelled => {
            // The hold stays until it expires: the guest may pay again.
            if let Some(code) = tell_holder(state, payment, reservation, "payment_rejected").await?
            {
                tracing::info!(reservation.code = %code, payment.id = %payment.id, "payment rejected; hold kept");
            }
            Ok(())
        }
        PaymentStatus::Refunded | PaymentStatus::ChargedBack => {
            let (flag, problem) = if payment.status == PaymentStatus::Refunded {
                ("refunded", "Mercado Pago devolvió el pago al huésped.")
            } else {
                (
                    "chargeback",
                    "El huésped desconoció el pago ante su banco (contracargo).",
                )
            };
            owner_alert(
                state,
                reservation.as_ref(),
                "owner_refund_alert",
                &payment_data(payment, Some(problem)),
                Some(flag),
            )
            .await?;
            tracing::warn!(payment.id = %payment.id, payment.status = payment.status.as_str(), "payment reversed; owner alerted");
            Ok(())
        }
        PaymentStatus::Pending | PaymentStatus::InProcess => {
            // Tell the guest it is on its way (once per payment); the next status decides.
            if let Some(code) = tell_holder(state, payment, reservation, "payment_pending").await? {
                tracing::info!(reservation.code = %code, payment.id = %payment.id, "payment pending; guest told");
            }
            Ok(())
        }
        // authorized, in_mediation: wait for the next status.
        _ => Ok(()),
    }
}

async fn approved(
    state: &AppState,
    payment: &Payment,
    reservation: Option<Reservation>,
) -> Result<(), PaymentJobError> {
    let Some(r) = reservation else {
        let problem = format!(
            "El pago no corresponde a ninguna reserva (referencia {:?}).",
            payment.external_reference.as_deref().unwrap_or("")
        );
        return owner_alert(
            state,
            None,
            "owner_payment_problem",
            &payment_data(payment, Some(&problem)),
            None,
        )
        .await;
    };
    let expected = r.deposit.currency.code();
    if payment.currency_id.as_deref() != Some(expected) {
        let problem = format!(
            "El pago está en {} y la reserva en {expected}: no se confirmó.",
            payment.currency_id.as_deref().unwrap_or("otra moneda")
        );
        return owner_alert(
            state,
            Some(&r),
            "owner_payment_problem",
            &payment_data(payment, Some(&problem)),
            Some("payment_problem"),
        )
        .await;
    }
    if payment.transaction_amount_minor < r.deposit.minor {
        let problem = format!(
            "Se recibió {} y la seña es {}: no se confirmó.",
            Money::new(payment.transaction_amount_minor, r.deposit.currency).format_es_ar(),
            r.deposit.format_es_ar()
        );
        return owner_alert(
            state,
            Some(&r),
            "owner_payment_problem",
            &payment_data(payment, Some(&problem)),
            Some("payment_problem"),
        )
        .await;
    }
    let reason = format!("seña acreditada en Mercado Pago (pago {})", payment.id);
    let mut current = r;
    for _ in 0..2 {
        match current.state {
            ReservationState::PreReserved => {
                match booking::confirm(state, current.id, Actor::Payment, Some(&reason)).await {
                    Ok(_) => return Ok(()),
                    // The expiry won the race: read again and take the late path.
                    Err(AppError::HoldExpired | AppError::IllegalTransition { .. }) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            ReservationState::Expired => {
                match booking::confirm_late_payment(state, current.id, Some(&reason)).await {
                    Ok(_) => return Ok(()),
                    Err(AppError::DatesTaken(_)) => {
                        let problem = "El pago llegó después de que venciera la prerreserva y las fechas ya están ocupadas: hay que devolverlo.";
                        tracing::warn!(reservation.code = %current.code, payment.id = %payment.id, "late payment for taken nights; needs refund");
                        return owner_alert(
                            state,
                            Some(&current),
                            "owner_refund_alert",
                            &payment_data(payment, Some(problem)),
                            Some("needs_refund"),
                        )
                        .await;
                    }
                    Err(AppError::IllegalTransition { .. }) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            ReservationState::Confirmed | ReservationState::Completed => {
                tracing::info!(reservation.code = %current.code, payment.id = %payment.id, "approved payment for an already confirmed reservation");
                return Ok(());
            }
            _ => {
                let problem = format!(
                    "Se recibió un pago para una reserva en estado «{}»: hay que devolverlo.",
                    current.state.label_es()
                );
                return owner_alert(
                    state,
                    Some(&current),
                    "owner_refund_alert",
                    &payment_data(payment, Some(&problem)),
                    Some("needs_refund"),
                )
                .await;
            }
        }
        current = reservations::get(state.db(), current.id)
            .await?
            .ok_or(AppError::NotFound("reservation"))?;
    }
    Err(PaymentJobError::App(AppError::internal(format!(
        "reservation {} kept changing state while confirming payment {}",
        current.code, payment.id
    ))))
}
