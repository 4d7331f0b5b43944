use std::time::Duration;

use chrono::{DateTime, Utc};
use posada_integrations::{SignatureError, verify_webhook_signature};

const SECRET: &str = "your_webhook_secret";
const REQUEST_ID: &str = "bb56a2f1-6aae-46ac-982e-9dcd3581d08e";
/// HMAC-SHA256(SECRET, "id:123456789;request-id:bb56a2f1-…;ts:1742505638683;"), computed with Python's hmac.
const V1_MS: &str = "7724614d0e1ff0ab8673983bf64a79edd9e40c281374647a0d1d1d19ec639fab";
/// HMAC-SHA256(SECRET, "id:abc123;request-id:req-1;ts:1742505638;"), computed with Python's hmac.
const V1_S: &str = "5f8c348e14a2ebf0c4cd6da2232dfbd9bf0dd23671a6884cfef94aa42d2b4316";

fn at_ms(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap()
}

const TEN_MIN: Option<Duration> = Some(Duration::from_secs(600));

#[test]
fn known_vector_with_millisecond_ts_verifies() {
    let header = format!("ts=1742505638683,v1={V1_MS}");
    let now = at_ms(1_742_505_638_683 + 5_000);
    assert_eq!(
        verify_webhook_signature(
            SECRET,
            Some(&header),
            Some(REQUEST_ID),
            Some("123456789"),
            now,
            TEN_MIN
        ),
        Ok(())
    );
    // Spaces after the comma are tolerated.
    let spaced = format!("ts=1742505638683, v1={V1_MS}");
    assert_eq!(
        verify_webhook_signature(
            SECRET,
            Some(&spaced),
            Some(REQUEST_ID),
            Some("123456789"),
            now,
            TEN_MIN
        ),
        Ok(())
    );
}

#[test]
fn known_vector_with_second_ts_and_uppercase_alphanumeric_id_verifies() {
    let header = format!("ts=1742505638,v1={V1_S}");
    let now = at_ms(1_742_505_638_000 + 60_000);
    // The id from the query is lowercased before signing because it is alphanumeric.
    assert_eq!(
        verify_webhook_signature(
            SECRET,
            Some(&header),
            Some("req-1"),
            Some("ABC123"),
            now,
            TEN_MIN
        ),
        Ok(())
    );
}

#[test]
fn tampered_parts_do_not_verify() {
    let header = format!("ts=1742505638683,v1={V1_MS}");
    let now = at_ms(1_742_505_638_683);
    let check = |secret: &str, header: &str, request_id: &str, id: &str| {
        verify_webhook_signature(
            secret,
            Some(header),
            Some(request_id),
            Some(id),
            now,
            TEN_MIN,
        )
    };
    assert_eq!(
        check(SECRET, &header, REQUEST_ID, "123456780"),
        Err(SignatureError::Mismatch)
    );
    assert_eq!(
        check(SECRET, &header, "another-request", "123456789"),
        Err(SignatureError::Mismatch)
    );
    assert_eq!(
        check("other-secret", &header, REQUEST_ID, "123456789"),
        Err(SignatureError::Mismatch)
    );
    let other_ts = format!("ts=1742505638684,v1={V1_MS}");
    assert_eq!(
        check(SECRET, &other_ts, REQUEST_ID, "123456789"),
        Err(SignatureError::Mismatch)
    );
    let flipped = format!("ts=1742505638683,v1={}{}", &V1_MS[..63], "e");
    assert_eq!(
        check(SECRET, &flipped, REQUEST_ID, "123456789"),
        Err(SignatureError::Mismatch)
    );
    let short = format!("ts=1742505638683,v1={}", &V1_MS[..32]);
    assert_eq!(
        check(SECRET, &short, REQUEST_ID, "123456789"),
        Err(SignatureError::Mismatch)
    );
}

#[test]
fn stale_timestamps_are_refused_in_seconds_and_milliseconds() {
    let ms_header = format!("ts=1742505638683,v1={V1_MS}");
    let late = at_ms(1_742_505_638_683 + 11 * 60_000);
    assert_eq!(
        verify_webhook_signature(
            SECRET,
            Some(&ms_header),
            Some(REQUEST_ID),
            Some("123456789"),
            late,
            TEN_MIN
        ),
        Err(SignatureError::Stale)
    );
    let early = at_ms(1_742_505_638_683 - 11 * 60_000);
    assert_eq!(
        verify_webhook_signature(
            SECRET,
            Some(&ms_header),
            Some(REQUEST_ID),
            Some("123456789"),
            early,
            TEN_MIN
        ),
        Err(SignatureError::Stale),
        "a ts far in the future is as suspect as an old one"
    );
    let s_header = format!("ts=1742505638,v1={V1_S}");
    let late = at_ms(1_742_505_638_000 + 601_000);
    assert_eq!(
        verify_webhook_signature(
            SECRET,
            Some(&s_header),
            Some("req-1"),
            Some("abc123"),
            late,
            TEN_MIN
        ),
        Err(SignatureError::Stale)
    );
    // Without a max age, staleness is not checked.
    assert_eq!(
        verify_webhook_signature(
            SECRET,
            Some(&s_header),
            Some("req-1"),
            Some("abc123"),
            late,
            None
        ),
        Ok(())
    );
}

#[test]
fn missing_and_malformed_headers() {
    let now = at_ms(1_742_505_638_683);
    assert_eq!(
        verify_webhook_signature(SECRET, None, Some(REQUEST_ID), Some("1"), now, TEN_MIN),
        Err(SignatureError::Missing)
    );
    assert_eq!(
        verify_webhook_signature(
            SECRET,
            Some("  "),
            Some(REQUEST_ID),
            Some("1"),
            now,
            TEN_MIN
        ),
        Err(SignatureError::Missing)
    );
    for bad in [
        "garbage",
        "ts=1742505638683",
        "ts=1742505638683,v1=zz",
        "v1",
    ] {
        assert_eq!(
            verify_webhook_signature(SECRET, Some(bad), Some(REQUEST_ID), Some("1"), now, TEN_MIN),
            Err(SignatureError::Malformed),
            "{bad}"
        );
    }
}

#[test]
fn missing_request_id_and_data_id_are_dropped_from_the_manifest() {
    let now = Utc::now();
    let ts = now.timestamp_millis();
    // The testkit signer always includes every part; sign the reduced manifests by hand here.
    use hmac::{Hmac, Mac};
    let sign = |manifest: &str| {
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
        mac.update(manifest.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    };
    let no_request_id = format!("ts={ts},v1={}", sign(&format!("id:42;ts:{ts};")));
    assert_eq!(
        verify_webhook_signature(SECRET, Some(&no_request_id), None, Some("42"), now, TEN_MIN),
        Ok(())
    );
    let no_id = format!("ts={ts},v1={}", sign(&format!("request-id:r1;ts:{ts};")));
    assert_eq!(
        verify_webhook_signature(SECRET, Some(&no_id), Some("r1"), None, now, TEN_MIN),
        Ok(())
    );
    assert_eq!(
        verify_webhook_signature(SECRET, Some(&no_id), Some("r1"), Some(""), now, TEN_MIN),
        Ok(())
    );
    // The same header does not verify once a part is present that was not signed.
    assert_eq!(
        verify_webhook_signature(SECRET, Some(&no_id), Some("r1"), Some("42"), now, TEN_MIN),
        Err(SignatureError::Mismatch)
    );
}

#[test]
fn testkit_signer_agrees_with_the_verifier() {
    let now = Utc::now();
    let ts = now.timestamp_millis();
    let header = posada_testkit::sign_webhook("s3cret", "PAY123", "req-9", ts);
    assert_eq!(
        verify_webhook_signature(
            "s3cret",
            Some(&header),
            Some("req-9"),
            Some("PAY123"),
            now,
            TEN_MIN
        ),
        Ok(())
    );
    let header_s = posada_testkit::sign_webhook("s3cret", "77", "req-9", now.timestamp());
    assert_eq!(
        verify_webhook_signature(
            "s3cret",
            Some(&header_s),
            Some("req-9"),
            Some("77"),
            now,
            TEN_MIN
        ),
        Ok(())
    );
}
