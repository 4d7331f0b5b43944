//! Mercado Pago Checkout Pro: creating the deposit's payment preference, reading a payment back from
//! the API (the only source of truth: the webhook body is never trusted), and verifying the
//! `x-signature` header of inbound notifications over the documented manifest
//! `id:<data.id>;request-id:<x-request-id>;ts:<ts>;`.

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, FixedOffset, Utc};
use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde_json::{Value, json, value::RawValue};
use sha2::Sha256;

use crate::redact::Secret;

/// An error talking to Mercado Pago, classified for the caller's retry decision.
#[derive(Debug, thiserror::Error)]
pub enum MpError {
    /// Worth retrying later: 5xx, 429, a timeout or a connection failure.
    #[error("mercado pago temporarily unavailable (status {status:?}): {message}")]
    Retryable {
        /// HTTP status, when an answer came back.
        status: Option<u16>,
        /// What went wrong.
        message: String,
    },
    /// The request was refused (4xx other than 404 and 429): retrying the same request will not help.
    #[error("mercado pago refused the request (status {status}): {message}")]
    Permanent {
        /// HTTP status.
        status: u16,
        /// Mercado Pago's message.
        message: String,
    },
    /// The payment (or resource) does not exist.
    #[error("not found at mercado pago")]
    NotFound,
    /// Mercado Pago answered 2xx with something we could not read.
    #[error("unexpected answer from mercado pago: {0}")]
    InvalidResponse(String),
    /// The request could not be built (bad id, bad client configuration).
    #[error("invalid mercado pago request: {0}")]
    InvalidRequest(String),
}

impl MpError {
    /// True when the same call may succeed later.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Retryable { .. })
    }

    fn from_transport(err: &reqwest::Error) -> Self {
        let kind = if err.is_timeout() {
            "timeout"
        } else if err.is_connect() {
            "connection failed"
        } else {
            "transport error"
        };
        Self::Retryable {
            status: None,
            message: format!("{kind}: {err}"),
        }
    }

    fn from_status(status: reqwest::StatusCode, body: &str) -> Self {
        let message = error_message(body);
        match status.as_u16() {
            404 => Self::NotFound,
            429 => Self::Retryable {
                status: Some(429),
                message,
            },
            code if status.is_server_error() => Self::Retryable {
                status: Some(code),
                message,
            },
            code => Self::Permanent {
                status: code,
                message,
            },
        }
    }
}

fn error_message(body: &str) -> String {
    let parsed: Option<Value> = serde_json::from_str(body).ok();
    parsed
        .as_ref()
        .and_then(|v| v.get("message").and_then(Value::as_str))
        .map(str::to_owned)
        .unwrap_or_else(|| body.chars().take(300).collect())
}

/// One line of a preference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreferenceItem {
    /// Our id for the item (e.g. `deposit-<code>`).
    pub id: String,
    /// What the guest sees.
    pub title: String,
    /// Units.
    pub quantity: u32,
    /// ISO 4217 currency, e.g. `ARS`.
    pub currency_id: String,
    /// Price per unit in minor units (centavos); sent as a decimal number with two places.
    pub unit_price_minor: i64,
}

/// Where Mercado Pago sends the guest back after paying.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackUrls {
    /// After an approved payment.
    pub success: String,
    /// After a rejected payment.
    pub failure: String,
    /// After a pending payment.
    pub pending: String,
}

/// A Checkout Pro preference to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreferenceRequest {
    /// What is being paid.
    pub items: Vec<PreferenceItem>,
    /// Our reservation code: comes back on the payment.
    pub external_reference: String,
    /// Our webhook URL.
    pub notification_url: Option<String>,
    /// Pages to return to.
    pub back_urls: Option<BackUrls>,
    /// `approved` to return automatically after an approved payment (needs `back_urls.success`).
    pub auto_return: Option<String>,
    /// Only approved or rejected, never pending: suits expiring holds.
    pub binary_mode: bool,
    /// Whether the link expires.
    pub expires: bool,
    /// Start of validity (ISO 8601 with offset on the wire).
    pub expiration_date_from: Option<DateTime<FixedOffset>>,
    /// End of validity: the hold's expiry.
    pub expiration_date_to: Option<DateTime<FixedOffset>>,
    /// The guest's e-mail, to prefill the checkout.
    pub payer_email: Option<String>,
}

impl PreferenceRequest {
    /// The JSON body Mercado Pago expects.
    pub fn to_json(&self) -> Value {
        let items: Vec<Value> = self
            .items
            .iter()
            .map(|item| {
                json!({
                    "id": item.id,
                    "title": item.title,
                    "quantity": item.quantity,
                    "currency_id": item.currency_id,
                    "unit_price": minor_to_decimal_number(item.unit_price_minor),
                })
            })
            .collect();
        let mut body = json!({
            "items": items,
            "external_reference": self.external_reference,
            "binary_mode": self.binary_mode,
            "expires": self.expires,
        });
        if let Some(obj) = body.as_object_mut() {
            if let Some(url) = &self.notification_url {
                obj.insert("notification_url".into(), json!(url));
            }
            if let Some(back) = &self.back_urls {
                obj.insert(
                    "back_urls".into(),
                    json!({"success": back.success, "failure": back.failure, "pending": back.pending}),
                );
            }
            if let Some(auto_return) = &self.auto_return {
                obj.insert("auto_return".into(), json!(auto_return));
            }
            if let Some(from) = &self.expiration_date_from {
                obj.insert("expiration_date_from".into(), json!(format_mp_date(from)));
            }
            if let Some(to) = &self.expiration_date_to {
                obj.insert("expiration_date_to".into(), json!(format_mp_date(to)));
            }
            if let Some(email) = &self.payer_email {
                obj.insert("payer".into(), json!({"email": email}));
            }
        }
        body
    }
}

/// `2026-11-20T15:00:00.000-03:00`, the format Mercado Pago documents.
fn format_mp_date(at: &DateTime<FixedOffset>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.3f%:z").to_string()
}

/// Minor units to a JSON number with at most two decimals. `i as f64 / 100.0` is correctly rounded and
/// serde_json prints the shortest representation that round-trips, so 1005 becomes exactly `10.05`.
fn minor_to_decimal_number(minor: i64) -> Value {
    if minor % 100 == 0 {
        json!(minor / 100)
    } else {
        #[expect(
            clippy::cast_precision_loss,
            reason = "amounts are far below 2^53 centavos"
        )]
        let value = minor as f64 / 100.0;
        json!(value)
    }
}

/// A created preference.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Preference {
    /// Mercado Pago's preference id.
    pub id: String,
    /// The payment link for the guest.
    pub init_point: String,
    /// The sandbox link, when Mercado Pago sends one.
    #[serde(default)]
    pub sandbox_init_point: Option<String>,
}

/// A payment's status as the API reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentStatus {
    /// Created, not yet paid (e.g. cash voucher).
    Pending,
    /// Paid.
    Approved,
    /// Authorized, not yet captured.
    Authorized,
    /// Under review.
    InProcess,
    /// In dispute.
    InMediation,
    /// Refused.
    Rejected,
    /// Cancelled or expired.
    Cancelled,
    /// Given back to the payer.
    Refunded,
    /// Reversed by the card issuer.
    ChargedBack,
    /// A status this code does not know.
    Other(String),
}

impl PaymentStatus {
    /// Parses Mercado Pago's status string.
    pub fn parse(status: &str) -> Self {
        match status {
            "pending" => Self::Pending,
            "approved" => Self::Approved,
            "authorized" => Self::Authorized,
            "in_process" => Self::InProcess,
            "in_mediation" => Self::InMediation,
            "rejected" => Self::Rejected,
            "cancelled" => Self::Cancelled,
            "refunded" => Self::Refunded,
            "charged_back" => Self::ChargedBack,
            other => Self::Other(other.to_owned()),
        }
    }

    /// Mercado Pago's status string.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Authorized => "authorized",
            Self::InProcess => "in_process",
            Self::InMediation => "in_mediation",
            Self::Rejected => "rejected",
            Self::Cancelled => "cancelled",
            Self::Refunded => "refunded",
            Self::ChargedBack => "charged_back",
            Self::Other(other) => other,
        }
    }
}

/// A payment as read from `GET /v1/payments/{id}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payment {
    /// Mercado Pago's payment id (numeric on the wire, kept as text).
    pub id: String,
    /// The status.
    pub status: PaymentStatus,
    /// Mercado Pago's detail (e.g. `accredited`, `cc_rejected_insufficient_amount`).
    pub status_detail: Option<String>,
    /// Our reservation code, as set on the preference.
    pub external_reference: Option<String>,
    /// The amount in minor units (hundredths), parsed from the decimal text without floating point.
    pub transaction_amount_minor: i64,
    /// ISO 4217 currency.
    pub currency_id: Option<String>,
    /// When it was approved.
    pub date_approved: Option<DateTime<FixedOffset>>,
}

#[derive(Deserialize)]
struct RawPayment<'a> {
    #[serde(borrow)]
    id: &'a RawValue,
    status: Option<String>,
    status_detail: Option<String>,
    external_reference: Option<String>,
    #[serde(borrow)]
    transaction_amount: Option<&'a RawValue>,
    currency_id: Option<String>,
    date_approved: Option<String>,
}

impl Payment {
    /// Reads a payment from the API's JSON text.
    pub fn from_json(text: &str) -> Result<Self, MpError> {
        let raw: RawPayment<'_> = serde_json::from_str(text)
            .map_err(|e| MpError::InvalidResponse(format!("payment JSON: {e}")))?;
        let id = raw.id.get().trim().trim_matches('"').to_owned();
        let amount_text = raw
            .transaction_amount
            .map(|v| v.get().trim().trim_matches('"').to_owned())
            .ok_or_else(|| MpError::InvalidResponse("payment without transaction_amount".into()))?;
        let transaction_amount_minor = parse_decimal_minor(&amount_text).ok_or_else(|| {
            MpError::InvalidResponse(format!("unreadable transaction_amount {amount_text:?}"))
        })?;
        Ok(Self {
            id,
            status: PaymentStatus::parse(raw.status.as_deref().unwrap_or("")),
            status_detail: raw.status_detail,
            external_reference: raw.external_reference.filter(|r| !r.is_empty()),
            transaction_amount_minor,
            currency_id: raw.currency_id,
            date_approved: raw
                .date_approved
                .as_deref()
                .and_then(|d| DateTime::parse_from_rfc3339(d).ok()),
        })
    }
}

/// Parses a JSON decimal number (`1234`, `1234.5`, `1234.50`, `-3.1`, `1.2345e3`) into hundredths,
/// exactly. Returns `None` for text that is not a number, for more than two significant decimals
/// (`10.005`) and for values outside `i64`.
pub fn parse_decimal_minor(text: &str) -> Option<i64> {
    let text = text.trim();
    let (negative, rest) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let (mantissa, exponent) = match rest.find(['e', 'E']) {
        Some(pos) => (&rest[..pos], rest[pos + 1..].parse::<i32>().ok()?),
        None => (rest, 0),
    };
    let (int_part, frac_part) = match mantissa.split_once('.') {
        Some((i, f)) => (i, f),
        None => (mantissa, ""),
    };
    if int_part.is_empty() && frac_part.is_empty() {
        return None;
    }
    if !int_part.bytes().all(|b| b.is_ascii_digit())
        || !frac_part.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    // value = digits * 10^(exponent - frac_len); we want value * 100.
    let digits = format!("{int_part}{frac_part}");
    let digits = digits.trim_start_matches('0');
    let frac_len = i32::try_from(frac_part.len()).ok()?;
    let mut scale = exponent.checked_sub(frac_len)?.checked_add(2)?;
    let mut digits: &str = if digits.is_empty() { "0" } else { digits };
    // Drop trailing zeros that a negative scale would divide away.
    while scale < 0 && digits.len() > 1 && digits.ends_with('0') {
        digits = &digits[..digits.len() - 1];
        scale += 1;
    }
    if scale < 0 && digits != "0" {
        return None;
    }
    if digits.len() > 30 {
        return None;
    }
    let mut value: i128 = digits.parse().ok()?;
    if value != 0 {
        for _ in 0..scale.max(0) {
            value = value.checked_mul(10)?;
            if value > i128::from(i64::MAX) {
                return None;
            }
        }
    }
    let value = i64::try_from(value).ok()?;
    Some(if negative { -value } else { value })
}

/// A client for Mercado Pago's REST API. Cheap to clone.
#[derive(Clone)]
pub struct MercadoPagoClient {
    http: reqwest::Client,
    base_url: String,
    access_token: Secret,
}

impl fmt::Debug for MercadoPagoClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MercadoPagoClient")
            .field("base_url", &self.base_url)
            .field("access_token", &self.access_token)
            .finish_non_exhaustive()
    }
}

impl MercadoPagoClient {
    /// A client for `base_url` (`https://api.mercadopago.com` in production, a fake in tests).
    pub fn new(base_url: &str, access_token: &str, timeout: Duration) -> Result<Self, MpError> {
        crate::install_crypto_provider();
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("posada/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| MpError::InvalidRequest(format!("building HTTP client: {e}")))?;
        Ok(Self {
            http,
            base_url: base_url.trim_end_matches('/').to_owned(),
            access_token: Secret::new(access_token),
        })
    }

    /// Creates a Checkout Pro preference. The same `idempotency_key` (send one per hold) makes a retry
    /// after a lost answer return the same preference instead of a second one.
    pub async fn create_preference(
        &self,
        request: &PreferenceRequest,
        idempotency_key: &str,
    ) -> Result<Preference, MpError> {
        let url = format!("{}/checkout/preferences", self.base_url);
        let response = self
            .http
            .post(&url)
            .bearer_auth(self.access_token.expose())
            .header("X-Idempotency-Key", idempotency_key)
            .json(&request.to_json())
            .send()
            .await
            .map_err(|e| MpError::from_transport(&e))?;
        let status = response.status();
        let text = response
            .text()
            .await
            .map_err(|e| MpError::from_transport(&e))?;
        if !status.is_success() {
            let err = MpError::from_status(status, &text);
            tracing::warn!(http.status = status.as_u16(), reservation.code = %request.external_reference, error = %err, "mercado pago preference failed");
            return Err(err);
        }
        serde_json::from_str(&text)
            .map_err(|e| MpError::InvalidResponse(format!("preference JSON: {e}")))
    }

    /// Reads a payment. `NotFound` for an id Mercado Pago does not know.
    pub async fn get_payment(&self, payment_id: &str) -> Result<Payment, MpError> {
        if payment_id.is_empty()
            || !payment_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(MpError::InvalidRequest(format!(
                "payment id {payment_id:?} is not an id"
            )));
        }
        let url = format!("{}/v1/payments/{payment_id}", self.base_url);
        let response = self
            .http
            .get(&url)
            .bearer_auth(self.access_token.expose())
            .send()
            .await
            .map_err(|e| MpError::from_transport(&e))?;
        let status = response.status();
        let text = response
            .text()
            .await
            .map_err(|e| MpError::from_transport(&e))?;
        if !status.is_success() {
            return Err(MpError::from_status(status, &text));
        }
        Payment::from_json(&text)
    }
}

/// Why a webhook signature was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// No `x-signature` header.
    #[error("missing x-signature header")]
    Missing,
    /// The header is not `ts=…,v1=<hex>`.
    #[error("malformed x-signature header")]
    Malformed,
    /// The HMAC does not match.
    #[error("x-signature does not match")]
    Mismatch,
    /// The signature is valid but its `ts` is too far from now.
    #[error("x-signature timestamp is stale")]
    Stale,
}

/// Builds the manifest Mercado Pago signs: `id:<data.id>;request-id:<x-request-id>;ts:<ts>;`, with a
/// part left out when its value is missing and `data.id` lowercased when it is alphanumeric.
pub fn signature_manifest(
    data_id: Option<&str>,
    request_id: Option<&str>,
    ts: Option<&str>,
) -> String {
    let mut manifest = String::new();
    if let Some(id) = data_id.filter(|s| !s.is_empty()) {
        let id = if id.chars().all(|c| c.is_ascii_alphanumeric()) {
            id.to_ascii_lowercase()
        } else {
            id.to_owned()
        };
        manifest.push_str(&format!("id:{id};"));
    }
    if let Some(request_id) = request_id.filter(|s| !s.is_empty()) {
        manifest.push_str(&format!("request-id:{request_id};"));
    }
    if let Some(ts) = ts.filter(|s| !s.is_empty()) {
        manifest.push_str(&format!("ts:{ts};"));
    }
    manifest
}

/// Verifies a Mercado Pago notification's `x-signature` (`ts=<ts>,v1=<hex>`).
///
/// `data_id` is `data.id` from the query string (not the body), `x_request_id` the `x-request-id`
/// header. The HMAC-SHA256 of the manifest under `secret` is compared with `v1` in constant time.
/// With `max_age`, a `ts` (seconds or milliseconds, told apart by magnitude) further than that from
/// `now` in either direction is `Stale`; a header without `ts` is then `Malformed`.
pub fn verify_webhook_signature(
    secret: &str,
    x_signature: Option<&str>,
    x_request_id: Option<&str>,
    data_id: Option<&str>,
    now: DateTime<Utc>,
    max_age: Option<Duration>,
) -> Result<(), SignatureError> {
    let header = x_signature
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .ok_or(SignatureError::Missing)?;
    let mut ts = None;
    let mut v1 = None;
    for part in header.split(',') {
        let (key, value) = part.split_once('=').ok_or(SignatureError::Malformed)?;
        match key.trim() {
            "ts" => ts = Some(value.trim()),
            "v1" => v1 = Some(value.trim()),
            _ => {}
        }
    }
    let v1 = v1.ok_or(SignatureError::Malformed)?;
    let expected = hex::decode(v1).map_err(|_| SignatureError::Malformed)?;
    let manifest = signature_manifest(data_id, x_request_id, ts);
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).map_err(|_| SignatureError::Malformed)?;
    mac.update(manifest.as_bytes());
    mac.verify_slice(&expected)
        .map_err(|_| SignatureError::Mismatch)?;
    if let Some(max_age) = max_age {
        let ts = ts.ok_or(SignatureError::Malformed)?;
        let signed_at = parse_ts(ts).ok_or(SignatureError::Malformed)?;
        let age = (now - signed_at).abs().to_std().unwrap_or(Duration::MAX);
        if age > max_age {
            return Err(SignatureError::Stale);
        }
    }
    Ok(())
}

/// `ts` in milliseconds (current docs) or seconds (older examples): anything above 10^11 cannot be
/// seconds (year 5138) and must be milliseconds (10^11 ms is 1973).
fn parse_ts(ts: &str) -> Option<DateTime<Utc>> {
    let value: i64 = ts.parse().ok()?;
    if value > 100_000_000_000 {
        DateTime::from_timestamp_millis(value)
    } else {
        DateTime::from_timestamp(value, 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_become_exact_minor_units() {
        let cases = [
            ("1234", Some(123_400)),
            ("1234.5", Some(123_450)),
            ("1234.50", Some(123_450)),
            ("0.1", Some(10)),
            ("0.29", Some(29)),
            ("10.005", None),
            ("10.000", Some(1000)),
            ("-3.1", Some(-310)),
            ("1.2345e3", Some(123_450)),
            ("1.5E2", Some(15_000)),
            ("15e-1", Some(150)),
            ("0", Some(0)),
            ("0.00", Some(0)),
            ("", None),
            (".", None),
            ("abc", None),
            ("1.2.3", None),
            ("99999999999999999999", None),
            ("92233720368547758.07", Some(i64::MAX)),
            ("92233720368547758.08", None),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_decimal_minor(text), expected, "{text}");
        }
    }

    #[test]
    fn unit_prices_are_sent_with_two_exact_decimals() {
        assert_eq!(minor_to_decimal_number(1005).to_string(), "10.05");
        assert_eq!(minor_to_decimal_number(2999).to_string(), "29.99");
        assert_eq!(minor_to_decimal_number(1_500_000).to_string(), "15000");
        assert_eq!(minor_to_decimal_number(1).to_string(), "0.01");
    }

    #[test]
    fn manifest_drops_missing_parts_and_lowercases_alphanumeric_ids() {
        assert_eq!(
            signature_manifest(Some("ABC123"), Some("r-1"), Some("17")),
            "id:abc123;request-id:r-1;ts:17;"
        );
        assert_eq!(
            signature_manifest(Some("AB-12"), None, Some("17")),
            "id:AB-12;ts:17;"
        );
        assert_eq!(signature_manifest(None, Some("r"), None), "request-id:r;");
    }
}
