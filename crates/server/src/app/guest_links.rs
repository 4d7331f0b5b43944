//! The guest's link to their reservation page (`/reservas/{code}?t={token}`) and the booking
//! forms' CSRF tokens, both signed with one key the application makes once and keeps in the
//! database (`app_secrets`, shared by every node).
//!
//! A reservation's access token is `HMAC-SHA256(key, code)` (32 hex characters, like before): it
//! is still stored only hashed, yet every later message (reminder, confirmation, check-in
//! reminder) and the payment's return URLs can carry the link without the token being stored in
//! clear anywhere. Tokens of reservations made before this (random ones) keep working through
//! their hash.

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use posada_store::reservations::{self, Reservation};
use sha2::Sha256;
use tokio::sync::OnceCell;

use super::error::AppError;
use crate::state::AppState;

/// The row name of the key in `app_secrets`.
const KEY_NAME: &str = "guest_links";

/// How long a booking form's CSRF token is accepted.
pub const CSRF_TTL_SECONDS: i64 = 4 * 3600;

/// The node's copy of the signing key, read (or made) once.
#[derive(Default)]
pub struct LinkKey {
    key: OnceCell<Vec<u8>>,
}

impl std::fmt::Debug for LinkKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LinkKey(***)")
    }
}

/// The signing key.
pub async fn key(state: &AppState) -> Result<&[u8], AppError> {
    state
        .links()
        .key
        .get_or_try_init(|| async {
            let candidate = hex::encode(rand::random::<[u8; 32]>());
            let stored =
                posada_store::secrets::get_or_create(state.db(), KEY_NAME, &candidate, state.now())
                    .await?;
            hex::decode(stored.trim())
                .map_err(|_| AppError::internal("the stored guest link key is not hex"))
        })
        .await
        .map(Vec::as_slice)
}

fn mac(key: &[u8], purpose: &str, value: &str) -> Hmac<Sha256> {
    // HMAC's own key preparation (RFC 2104): a key longer than the block is hashed, a shorter one
    // padded with zeros; done here so building the MAC cannot fail.
    let mut block = [0u8; 64];
    if key.len() > block.len() {
        use sha2::Digest;
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let mut mac = <Hmac<Sha256> as hmac::digest::KeyInit>::new(
        &hmac::digest::generic_array::GenericArray::from(block),
    );
    mac.update(purpose.as_bytes());
    mac.update(b"\0");
    mac.update(value.as_bytes());
    mac
}

/// The opaque reference of the conversation with `phone` in the owner's pages (24 lower-case hex
/// characters): a guest's phone never goes into a URL, and the reference cannot be guessed from
/// the phone without the key.
pub fn conversation_ref(key: &[u8], phone: &str) -> String {
    let tag = mac(key, "conversation", phone).finalize().into_bytes();
    hex::encode(&tag[..12])
}

/// The access token of reservation `code` (32 lower-case hex characters).
pub fn access_token(key: &[u8], code: &str) -> String {
    let bytes = mac(key, "reservation-access", code).finalize().into_bytes();
    hex::encode(&bytes[..16])
}

/// The reservation page's path, with its token.
pub fn reservation_path(code: &str, token: &str) -> String {
    format!("/reservas/{code}?t={token}")
}

/// The reservation page's full URL (with `POSADA_PUBLIC_URL`).
pub async fn reservation_url(state: &AppState, code: &str) -> Result<String, AppError> {
    let key = key(state).await?;
    let public = state.settings().posada_public_url.trim_end_matches('/');
    Ok(format!(
        "{public}{}",
        reservation_path(code, &access_token(key, code))
    ))
}

/// The guest's own reservation: `code` with a token that opens it. Anything else (no such code,
/// a malformed or wrong token) is the same [`AppError::NotFound`].
pub async fn guest_reservation(
    state: &AppState,
    code: &str,
    token: Option<&str>,
) -> Result<Reservation, AppError> {
    let not_found = || AppError::NotFound("reservation");
    let code = posada_domain::ReservationCode::parse(code).map_err(|_| not_found())?;
    let token = token
        .and_then(|t| posada_domain::AccessToken::parse(t).ok())
        .ok_or_else(not_found)?;
    if let Some(r) = reservations::get_for_guest(
        state.db(),
        code.as_str(),
        &posada_store::hash_secret(token.as_str()),
    )
    .await?
    {
        return Ok(r);
    }
    // A reservation made before tokens were derived: its messages carry the derived token.
    let expected = access_token(key(state).await?, code.as_str());
    if mac_eq(expected.as_bytes(), token.as_str().as_bytes()) {
        return reservations::get_by_code(state.db(), code.as_str())
            .await?
            .ok_or_else(not_found);
    }
    Err(not_found())
}

fn mac_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A CSRF token for a booking form rendered at `now`: `{unix seconds}.{signature}`.
pub fn csrf_token(key: &[u8], now: DateTime<Utc>) -> String {
    let ts = now.timestamp().to_string();
    let sig = mac(key, "booking-form", &ts).finalize().into_bytes();
    format!("{ts}.{}", hex::encode(&sig[..16]))
}

/// Whether `token` is one of ours, made at most [`CSRF_TTL_SECONDS`] before `now`.
pub fn csrf_valid(key: &[u8], token: &str, now: DateTime<Utc>) -> bool {
    let Some((ts, sig)) = token.split_once('.') else {
        return false;
    };
    let Ok(issued) = ts.parse::<i64>() else {
        return false;
    };
    let age = now.timestamp() - issued;
    if !(-300..=CSRF_TTL_SECONDS).contains(&age) {
        return false;
    }
    let Ok(sig) = hex::decode(sig) else {
        return false;
    };
    let expected = mac(key, "booking-form", ts).finalize().into_bytes();
    mac_eq(&expected[..16], &sig)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mac_is_hmac_sha256() {
        // RFC 4231 test case 2.
        let tag = mac(b"Jefe", "what do ya want", "for nothing?")
            .finalize()
            .into_bytes();
        let mut reference = Hmac::<Sha256>::new_from_slice(b"Jefe").unwrap();
        reference.update(b"what do ya want\0for nothing?");
        assert_eq!(tag, reference.finalize().into_bytes());
        let long = [7u8; 100];
        let mut reference = Hmac::<Sha256>::new_from_slice(&long).unwrap();
        reference.update(b"p\0v");
        assert_eq!(
            mac(&long, "p", "v").finalize().into_bytes(),
            reference.finalize().into_bytes()
        );
    }

    #[test]
    fn access_tokens_are_access_tokens_and_differ_by_code_and_key() {
        let t = access_token(b"k1", "ABC123");
        assert!(posada_domain::AccessToken::parse(&t).is_ok_and(|p| p.as_str() == t));
        assert_ne!(t, access_token(b"k1", "ABC124"));
        assert_ne!(t, access_token(b"k2", "ABC123"));
        assert_eq!(t, access_token(b"k1", "ABC123"));
    }

    #[test]
    fn csrf_tokens_expire_and_are_bound_to_the_key() {
        let now = Utc::now();
        let t = csrf_token(b"k", now);
        assert!(csrf_valid(b"k", &t, now));
        assert!(csrf_valid(b"k", &t, now + chrono::Duration::hours(3)));
        assert!(!csrf_valid(b"k", &t, now + chrono::Duration::hours(5)));
        assert!(!csrf_valid(b"other", &t, now));
        assert!(!csrf_valid(b"k", "garbage", now));
        assert!(!csrf_valid(b"k", &t.replace('.', ".0"), now));
    }
}
