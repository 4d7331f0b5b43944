//! Payments as the provider reports them: one row per (provider, payment id) with the latest
//! status, amount and currency, a history row for every status seen, and the status whose
//! consequences were already carried out (`handled_status`).
//!
//! Notifications about one payment arrive many times and out of order; keeping "last seen" apart
//! from "last handled" lets the payment job be re-run at will and act exactly once per status.

use chrono::{DateTime, Utc};
use posada_db::{Conn, Db};
use serde::Serialize;

use crate::{Result, on_conn, on_db};

/// What the provider said about a payment, as read from its API.
#[derive(Debug, Clone)]
pub struct PaymentObservation<'a> {
    /// `mercadopago`.
    pub provider: &'a str,
    /// The provider's payment id.
    pub provider_payment_id: &'a str,
    /// The reservation it pays, when `external_reference` matched one.
    pub reservation_id: Option<i64>,
    /// The reference the provider carried (our reservation code).
    pub external_reference: Option<&'a str>,
    /// Provider status (`approved`, `pending`, …).
    pub status: &'a str,
    /// Provider detail (`accredited`, …).
    pub status_detail: Option<&'a str>,
    /// Amount in minor units.
    pub amount_minor: i64,
    /// ISO 4217 currency.
    pub currency: &'a str,
}

/// A stored payment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct PaymentRow {
    /// Id.
    pub id: i64,
    /// Provider name.
    pub provider: String,
    /// Provider's payment id.
    pub provider_payment_id: String,
    /// Reservation paid, if known.
    pub reservation_id: Option<i64>,
    /// Reference carried by the provider.
    pub external_reference: Option<String>,
    /// Latest status seen.
    pub status: String,
    /// Latest detail seen.
    pub status_detail: Option<String>,
    /// Amount in minor units.
    pub amount_minor: i64,
    /// Currency.
    pub currency: String,
    /// The status whose consequences were carried out, if any.
    pub handled_status: Option<String>,
    /// First seen.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

/// One status a payment went through.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct PaymentStatusEntry {
    /// Status.
    pub status: String,
    /// Detail.
    pub status_detail: Option<String>,
    /// Amount at that time.
    pub amount_minor: i64,
    /// Currency at that time.
    pub currency: String,
    /// When posada saw it.
    pub at: DateTime<Utc>,
}

const COLUMNS: &str = "id, provider, provider_payment_id, reservation_id, external_reference, status, status_detail, amount_minor, currency, handled_status, created_at, updated_at";

/// Record what the provider said: insert the payment or update it, and add a history row when the
/// status (or amount) differs from the last one seen. Returns the stored row and whether this was
/// news. Run it inside a write transaction so concurrent runs for one payment serialize.
pub async fn record(
    mut conn: Conn<'_>,
    p: &PaymentObservation<'_>,
    now: DateTime<Utc>,
) -> Result<(PaymentRow, bool)> {
    // Insert-or-nothing first: the unique (provider, payment id) makes concurrent first sightings
    // collapse into one row; the row is then locked by the update below.
    on_conn!(conn.reborrow(), c => sqlx::query(
        "INSERT INTO payments (provider, provider_payment_id, reservation_id, external_reference, status, status_detail, amount_minor, currency, created_at, updated_at)
         VALUES ($1, $2, $3, $4, '', $5, $6, $7, $8, $8) ON CONFLICT (provider, provider_payment_id) DO NOTHING")
        .bind(p.provider).bind(p.provider_payment_id).bind(p.reservation_id).bind(p.external_reference)
        .bind(p.status_detail).bind(p.amount_minor).bind(p.currency).bind(now)
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    let before: PaymentRow = on_conn!(conn.reborrow(), c => sqlx::query_as(&format!(
        "UPDATE payments SET updated_at = updated_at WHERE provider = $1 AND provider_payment_id = $2 RETURNING {COLUMNS}"))
        .bind(p.provider).bind(p.provider_payment_id).fetch_one(&mut *c).await)?;
    let news = before.status != p.status
        || before.amount_minor != p.amount_minor
        || before.currency != p.currency;
    if !news {
        return Ok((before, false));
    }
    let row: PaymentRow = on_conn!(conn.reborrow(), c => sqlx::query_as(&format!(
        "UPDATE payments SET status = $1, status_detail = $2, amount_minor = $3, currency = $4,
                reservation_id = COALESCE($5, reservation_id), external_reference = COALESCE($6, external_reference), updated_at = $7
          WHERE id = $8 RETURNING {COLUMNS}"))
        .bind(p.status).bind(p.status_detail).bind(p.amount_minor).bind(p.currency)
        .bind(p.reservation_id).bind(p.external_reference).bind(now).bind(before.id)
        .fetch_one(&mut *c).await)?;
    on_conn!(conn, c => sqlx::query(
        "INSERT INTO payment_status_history (payment_id, status, status_detail, amount_minor, currency, at) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(row.id).bind(p.status).bind(p.status_detail).bind(p.amount_minor).bind(p.currency).bind(now)
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok((row, true))
}

/// Note that the consequences of `status` were carried out for payment `id`.
pub async fn mark_handled(db: &Db, id: i64, status: &str, now: DateTime<Utc>) -> Result<()> {
    on_db!(db, p => sqlx::query("UPDATE payments SET handled_status = $1, updated_at = $2 WHERE id = $3")
        .bind(status).bind(now).bind(id).execute(p).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// A payment by provider and provider id.
pub async fn get(db: &Db, provider: &str, provider_payment_id: &str) -> Result<Option<PaymentRow>> {
    Ok(on_db!(db, p => sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM payments WHERE provider = $1 AND provider_payment_id = $2"))
        .bind(provider).bind(provider_payment_id).fetch_optional(p).await)?)
}

/// Payments of a reservation, oldest first.
pub async fn for_reservation(db: &Db, reservation_id: i64) -> Result<Vec<PaymentRow>> {
    Ok(on_db!(db, p => sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM payments WHERE reservation_id = $1 ORDER BY id"))
        .bind(reservation_id).fetch_all(p).await)?)
}

/// Every status a payment went through, oldest first.
pub async fn history(db: &Db, payment_id: i64) -> Result<Vec<PaymentStatusEntry>> {
    Ok(on_db!(db, p => sqlx::query_as(
        "SELECT status, status_detail, amount_minor, currency, at FROM payment_status_history WHERE payment_id = $1 ORDER BY id")
        .bind(payment_id).fetch_all(p).await)?)
}

/// How many payments are stored (tests, reports).
pub async fn count(db: &Db) -> Result<i64> {
    Ok(on_db!(db, p => sqlx::query_scalar("SELECT COUNT(*) FROM payments").fetch_one(p).await)?)
}
