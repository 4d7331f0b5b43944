//! Fuzzing what posada reads from the providers (issue 15, hostile input): WhatsApp Cloud API
//! deliveries and their `X-Hub-Signature-256`, Mercado Pago notifications' `x-signature`, payments
//! read from the API and their decimal amounts, Graph error bodies. Arbitrary bytes and
//! structure-aware mutations of real payloads (wrong types, missing and unknown fields, huge
//! numbers, deep nesting): nothing panics, and what is accepted is sound.

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use posada_integrations::mercadopago::{Payment, parse_decimal_minor};
use posada_integrations::whatsapp::MessageContent;
use posada_integrations::{
    SignatureError, WebhookPayload, WhatsAppError, verify_signature, verify_webhook_signature,
};
use proptest::prelude::*;
use serde_json::{Value, json};
use sha2::Sha256;

const GUEST: &str = "5491155551234";

/// A delivery as Meta sends it: every message kind and status.
fn real_delivery() -> Value {
    json!({
        "object": "whatsapp_business_account",
        "entry": [
            {"id": "1", "changes": [{"field": "messages", "value": {
                "messaging_product": "whatsapp",
                "metadata": {"display_phone_number": "5491100000000", "phone_number_id": "109876543210"},
                "contacts": [{"profile": {"name": "Lucía"}, "wa_id": GUEST}],
                "messages": [
                    {"from": GUEST, "id": "wamid.1", "timestamp": "1763650000", "type": "text", "text": {"body": "Hola, ¿hay lugar?"}},
                    {"from": GUEST, "id": "wamid.2", "timestamp": "1763650001", "type": "audio",
                     "audio": {"id": "media-1", "mime_type": "audio/ogg; codecs=opus", "sha256": "abc", "voice": true}},
                    {"from": GUEST, "id": "wamid.3", "timestamp": "1763650002", "type": "image",
                     "image": {"id": "media-2", "mime_type": "image/jpeg", "caption": "el auto"}},
                    {"from": GUEST, "id": "wamid.4", "timestamp": "1763650003", "type": "interactive",
                     "interactive": {"type": "button_reply", "button_reply": {"id": "arrival_yes", "title": "Sí"}}},
                    {"from": GUEST, "id": "wamid.5", "timestamp": "1763650004", "type": "interactive",
                     "interactive": {"type": "list_reply", "list_reply": {"id": "room-2", "title": "Cabaña 2", "description": "4 personas"}}},
                    {"from": GUEST, "id": "wamid.6", "timestamp": "1763650005", "type": "button",
                     "button": {"payload": "CANCEL", "text": "Cancelar"}},
                    {"from": GUEST, "id": "wamid.7", "timestamp": "1763650006", "type": "location",
                     "location": {"latitude": -41.13, "longitude": -71.31, "name": "Bariloche"}}
                ]
            }}]},
            {"id": "2", "changes": [{"field": "messages", "value": {"statuses": [
                {"id": "wamid.out1", "status": "delivered", "timestamp": "1763650010", "recipient_id": GUEST},
                {"id": "wamid.out2", "status": "failed", "timestamp": "1763650012", "recipient_id": GUEST,
                 "errors": [{"code": 131047, "title": "Re-engagement message", "error_data": {"details": "24 h passed"}}]}
            ]}}]}
        ]
    })
}

/// A payment as `GET /v1/payments/{id}` answers it.
fn real_payment() -> Value {
    json!({
        "id": 1_319_180_212_u64,
        "status": "approved",
        "status_detail": "accredited",
        "external_reference": "K7P2Q-9XM3D",
        "transaction_amount": 45000.5,
        "currency_id": "ARS",
        "date_approved": "2026-03-01T12:00:00.000-03:00",
        "payer": {"email": "ana@example.com"}
    })
}

/// Values that break assumptions: wrong types, huge and odd numbers, deep nesting.
fn hostile_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("JSON numbers are finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        Just(json!("")),
        "\\PC{0,40}".prop_map(Value::String),
        Just(json!([])),
        Just(json!({})),
        (1usize..100).prop_map(|depth| {
            let mut v = json!("deep");
            for _ in 0..depth {
                v = json!([v]);
            }
            v
        }),
    ]
}

#[derive(Debug, Clone)]
enum Edit {
    /// Replace the node at this (wrapping) index of a depth-first walk.
    Replace(usize, Value),
    /// Remove a key of the object at this index.
    RemoveKey(usize, usize),
    /// Add an unknown key to the object at this index.
    AddKey(usize, String, Value),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), hostile_value()).prop_map(|(i, v)| Edit::Replace(i, v)),
        (any::<usize>(), any::<usize>()).prop_map(|(i, k)| Edit::RemoveKey(i, k)),
        (any::<usize>(), "[a-z_]{1,12}", hostile_value())
            .prop_map(|(i, k, v)| Edit::AddKey(i, k, v)),
    ]
}

fn count_nodes(v: &Value) -> usize {
    1 + match v {
        Value::Array(a) => a.iter().map(count_nodes).sum(),
        Value::Object(o) => o.values().map(count_nodes).sum(),
        _ => 0,
    }
}

/// Applies an edit to the node picked by index (modulo the node count).
fn apply(doc: &mut Value, e: &Edit) {
    let total = count_nodes(doc);
    let index = match e {
        Edit::Replace(i, _) | Edit::RemoveKey(i, _) | Edit::AddKey(i, _, _) => i % total,
    };
    // Walk again to the node with a plain mutable borrow (no raw pointer dereference needed).
    fn at<'a>(v: &'a mut Value, n: &mut usize) -> Option<&'a mut Value> {
        if *n == 0 {
            return Some(v);
        }
        *n -= 1;
        match v {
            Value::Array(a) => a.iter_mut().find_map(|c| at(c, n)),
            Value::Object(o) => o.values_mut().find_map(|c| at(c, n)),
            _ => None,
        }
    }
    let mut n = index;
    let Some(node) = at(doc, &mut n) else { return };
    match e {
        Edit::Replace(_, v) => *node = v.clone(),
        Edit::RemoveKey(_, k) => {
            if let Value::Object(o) = node
                && !o.is_empty()
            {
                let key = o.keys().nth(k % o.len()).cloned().unwrap_or_default();
                o.remove(&key);
            }
        }
        Edit::AddKey(_, k, v) => {
            if let Value::Object(o) = node {
                o.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
    }
}

/// How many message objects the raw JSON carries where the parser looks for them.
fn raw_message_count(doc: &Value) -> usize {
    doc["entry"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|e| e["changes"].as_array().into_iter().flatten())
        .map(|c| c["value"]["messages"].as_array().map_or(0, Vec::len))
        .sum()
}

fn raw_messages(doc: &Value) -> impl Iterator<Item = &Value> {
    doc["entry"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|e| e["changes"].as_array().into_iter().flatten())
        .flat_map(|c| c["value"]["messages"].as_array().into_iter().flatten())
}

fn raw_message_ids(doc: &Value) -> Vec<String> {
    raw_messages(doc)
        .filter_map(|m| m["id"].as_str().map(str::to_owned))
        .collect()
}

fn raw_texts(doc: &Value) -> Vec<String> {
    raw_messages(doc)
        .filter_map(|m| m["text"]["body"].as_str().map(str::to_owned))
        .collect()
}

fn hmac_hex(secret: &str, data: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(data);
    hex::encode(mac.finalize().into_bytes())
}

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_780_000_000, 0).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Any bytes as a delivery: parsed or refused, never a panic.
    #[test]
    fn whatsapp_delivery_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        if let Ok(p) = WebhookPayload::parse(&bytes) {
            let _ = (p.messages().count(), p.statuses().count());
        }
    }

    /// A real delivery with wrong types, missing and unknown fields, huge numbers and deep
    /// nesting: parsed or refused as a whole, never a panic; what is parsed holds no more messages
    /// than the JSON carries, and each keeps the id and sender it was sent with.
    #[test]
    fn mutated_whatsapp_deliveries_are_read_soundly(edits in proptest::collection::vec(edit(), 1..8)) {
        let mut doc = real_delivery();
        for e in &edits {
            apply(&mut doc, e);
        }
        let bytes = serde_json::to_vec(&doc).unwrap();
        if let Ok(p) = WebhookPayload::parse(&bytes) {
            let parsed: Vec<_> = p.messages().collect();
            prop_assert!(parsed.len() <= raw_message_count(&doc));
            let raw_ids = raw_message_ids(&doc);
            for (value, m) in parsed {
                if let Some(id) = &m.id {
                    prop_assert!(raw_ids.contains(id), "{} was not in the delivery", id);
                }
                if let MessageContent::Text { body } = &m.content {
                    prop_assert!(raw_texts(&doc).contains(body));
                }
                let _ = m.from.as_deref().and_then(|from| value.contact_name(from));
            }
            let _ = p.statuses().map(|(_, s)| s.status.as_str().len()).sum::<usize>();
        }
    }

    /// Unknown fields anywhere (Meta adds them over time) never change what a delivery says.
    #[test]
    fn unknown_fields_never_change_a_delivery(
        additions in proptest::collection::vec((any::<usize>(), "x_[a-z_]{1,10}", hostile_value()), 1..6)
    ) {
        let original = WebhookPayload::parse(&serde_json::to_vec(&real_delivery()).unwrap()).unwrap();
        let mut doc = real_delivery();
        for (i, k, v) in additions {
            apply(&mut doc, &Edit::AddKey(i, k, v));
        }
        let extended = WebhookPayload::parse(&serde_json::to_vec(&doc).unwrap()).unwrap();
        prop_assert_eq!(extended, original);
    }

    /// `X-Hub-Signature-256`: only the HMAC of these exact bytes under this secret verifies.
    #[test]
    fn whatsapp_signatures_verify_only_the_signed_bytes(
        secret in "[ -~]{1,40}",
        body in proptest::collection::vec(any::<u8>(), 0..512),
        header in "\\PC{0,80}",
        flip in any::<prop::sample::Index>(),
    ) {
        let good = format!("sha256={}", hmac_hex(&secret, &body));
        prop_assert!(verify_signature(&secret, &good, &body));
        prop_assert!(!verify_signature(&secret, &header, &body) || header.trim() == good);
        if !body.is_empty() {
            let mut tampered = body.clone();
            let i = flip.index(tampered.len());
            tampered[i] ^= 0x01;
            prop_assert!(!verify_signature(&secret, &good, &tampered));
        }
    }

    /// Mercado Pago's `x-signature`: arbitrary headers, ids and timestamps never panic and never
    /// verify; the real signature of the manifest verifies while fresh and is refused when stale.
    #[test]
    fn mercadopago_signatures_hold_for_any_header(
        header in prop_oneof![
            "\\PC{0,120}",
            ("-?[0-9]{0,22}", "[0-9a-f]{0,70}").prop_map(|(ts, v1)| format!("ts={ts},v1={v1}")),
            any::<i64>().prop_map(|ts| format!("ts={ts},v1={}", "00".repeat(32))),
        ],
        data_id in proptest::option::of("[A-Za-z0-9_-]{0,70}"),
        request_id in proptest::option::of("\\PC{0,40}"),
        ts_offset in -100_000i64..100_000,
    ) {
        let secret = "mp-secret";
        let max_age = Some(std::time::Duration::from_secs(600));
        // Anything we did not sign is refused.
        prop_assert!(verify_webhook_signature(secret, Some(&header), request_id.as_deref(), data_id.as_deref(), now(), max_age).is_err());
        // The real signature, `ts_offset` seconds away from now.
        let ts = (now().timestamp() + ts_offset).to_string();
        let manifest = posada_integrations::mercadopago::signature_manifest(data_id.as_deref(), request_id.as_deref(), Some(&ts));
        let signed = format!("ts={ts},v1={}", hmac_hex(secret, manifest.as_bytes()));
        let verdict = verify_webhook_signature(secret, Some(&signed), request_id.as_deref(), data_id.as_deref(), now(), max_age);
        if ts_offset.abs() <= 600 {
            prop_assert_eq!(verdict, Ok(()));
        } else {
            prop_assert_eq!(verdict, Err(SignatureError::Stale));
        }
        // Signed for another payment: refused.
        let other = format!("{}9", data_id.clone().unwrap_or_default());
        prop_assert!(verify_webhook_signature(secret, Some(&signed), request_id.as_deref(), Some(&other), now(), max_age).is_err());
    }

    /// Payments read from the API: any text, and a real payment with hostile edits, is read or
    /// refused without a panic; an accepted amount is exactly the decimal text's hundredths.
    #[test]
    fn mutated_payments_are_read_soundly(edits in proptest::collection::vec(edit(), 0..6), junk in "\\PC{0,200}") {
        let _ = Payment::from_json(&junk);
        let mut doc = real_payment();
        for e in &edits {
            apply(&mut doc, e);
        }
        let text = serde_json::to_string(&doc).unwrap();
        if let Ok(p) = Payment::from_json(&text) {
            let raw = doc["transaction_amount"].to_string();
            prop_assert_eq!(Some(p.transaction_amount_minor), parse_decimal_minor(raw.trim_matches('"')));
        }
    }

    /// Decimal amounts: every amount in hundredths written as text reads back exactly, and any
    /// text (huge exponents included) is read or refused at once.
    #[test]
    fn decimal_amounts_read_back_exactly(minor in any::<i64>(), junk in "[-+0-9.eE]{0,40}") {
        let text = format!("{}{}.{:02}", if minor < 0 { "-" } else { "" }, (minor / 100).unsigned_abs(), (minor % 100).unsigned_abs());
        prop_assert_eq!(parse_decimal_minor(&text), Some(minor));
        let _ = parse_decimal_minor(&junk);
    }

    /// Graph error bodies of any shape are classified without a panic.
    #[test]
    fn graph_error_bodies_never_panic(status in 100u16..600, body in "\\PC{0,400}", edits in proptest::collection::vec(edit(), 0..4)) {
        let _ = WhatsAppError::from_graph_response(status, &body);
        let mut doc = json!({"error": {"message": "(#131047) Re-engagement message", "code": 131047, "error_data": {"details": "24 h"}}});
        for e in &edits {
            apply(&mut doc, e);
        }
        let _ = WhatsAppError::from_graph_response(status, &doc.to_string());
    }
}

/// Nesting far beyond serde_json's recursion limit is refused, not a stack overflow.
#[test]
fn deeply_nested_deliveries_are_refused() {
    for open in ["[", "{\"a\":"] {
        let body = open.repeat(200_000);
        assert!(WebhookPayload::parse(body.as_bytes()).is_err());
        assert!(Payment::from_json(&body).is_err());
    }
}

/// Exponents far outside any amount are refused at once (no loop over the exponent).
#[test]
fn absurd_exponents_are_refused() {
    for text in [
        "1e2147483647",
        "1e-2147483648",
        "0e2147483647",
        "1e99999999999",
        "9223372036854775807e2",
    ] {
        assert!(parse_decimal_minor(text).is_none_or(|v| v == 0), "{text}");
    }
}
