use std::time::Duration;

use chrono::{FixedOffset, TimeZone};
use posada_integrations::{
    BackUrls, MercadoPagoClient, MpError, PaymentStatus, PreferenceItem, PreferenceRequest,
};
use posada_testkit::{FakeMercadoPago, FakePayment};
use serde_json::json;

fn client(fake: &FakeMercadoPago) -> MercadoPagoClient {
    MercadoPagoClient::new(
        &fake.base_url(),
        "APP_USR-secret-token",
        Duration::from_secs(5),
    )
    .unwrap()
}

fn deposit_request() -> PreferenceRequest {
    let art = FixedOffset::west_opt(3 * 3600).unwrap();
    PreferenceRequest {
        items: vec![PreferenceItem {
            id: "deposit-PSD-7K2M".into(),
            title: "Seña — Cabaña del Lago, 3 noches".into(),
            quantity: 1,
            currency_id: "ARS".into(),
            unit_price_minor: 4_500_050,
        }],
        external_reference: "PSD-7K2M".into(),
        notification_url: Some("https://posada.example/api/v1/webhooks/mercadopago".into()),
        back_urls: Some(BackUrls {
            success: "https://posada.example/r/PSD-7K2M?pago=ok".into(),
            failure: "https://posada.example/r/PSD-7K2M?pago=error".into(),
            pending: "https://posada.example/r/PSD-7K2M?pago=pendiente".into(),
        }),
        auto_return: Some("approved".into()),
        binary_mode: true,
        expires: true,
        expiration_date_from: Some(art.with_ymd_and_hms(2026, 11, 20, 10, 0, 0).unwrap()),
        expiration_date_to: Some(art.with_ymd_and_hms(2026, 11, 21, 10, 0, 0).unwrap()),
        payer_email: Some("huesped@example.com".into()),
    }
}

#[tokio::test]
async fn creates_a_preference_with_the_documented_body() {
    let fake = FakeMercadoPago::start().await;
    let preference = client(&fake)
        .create_preference(&deposit_request(), "hold-PSD-7K2M")
        .await
        .unwrap();
    assert!(!preference.id.is_empty());
    assert!(preference.init_point.contains(&preference.id));

    let stored = fake.preferences();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].id, preference.id);
    assert_eq!(stored[0].idempotency_key.as_deref(), Some("hold-PSD-7K2M"));
    let body = &stored[0].request;
    assert_eq!(body["items"][0]["unit_price"], json!(45000.5));
    assert_eq!(body["items"][0]["currency_id"], "ARS");
    assert_eq!(body["items"][0]["quantity"], 1);
    assert_eq!(
        body["items"][0]["title"],
        "Seña — Cabaña del Lago, 3 noches"
    );
    assert_eq!(body["external_reference"], "PSD-7K2M");
    assert_eq!(body["binary_mode"], true);
    assert_eq!(body["expires"], true);
    assert_eq!(body["auto_return"], "approved");
    assert_eq!(
        body["expiration_date_from"],
        "2026-11-20T10:00:00.000-03:00"
    );
    assert_eq!(body["expiration_date_to"], "2026-11-21T10:00:00.000-03:00");
    assert_eq!(
        body["back_urls"]["success"],
        "https://posada.example/r/PSD-7K2M?pago=ok"
    );
    assert_eq!(
        body["notification_url"],
        "https://posada.example/api/v1/webhooks/mercadopago"
    );
    assert_eq!(body["payer"]["email"], "huesped@example.com");

    let request = &fake.requests()[0];
    assert_eq!(
        request.header("authorization"),
        Some("Bearer APP_USR-secret-token")
    );
    assert_eq!(request.header("x-idempotency-key"), Some("hold-PSD-7K2M"));
}

#[tokio::test]
async fn the_same_idempotency_key_returns_the_same_preference() {
    let fake = FakeMercadoPago::start().await;
    let client = client(&fake);
    let first = client
        .create_preference(&deposit_request(), "hold-1")
        .await
        .unwrap();
    let again = client
        .create_preference(&deposit_request(), "hold-1")
        .await
        .unwrap();
    let other = client
        .create_preference(&deposit_request(), "hold-2")
        .await
        .unwrap();
    assert_eq!(first, again);
    assert_ne!(first.id, other.id);
    assert_eq!(fake.preferences().len(), 2);
    assert_eq!(fake.idempotency_keys(), vec!["hold-1", "hold-1", "hold-2"]);
}

#[tokio::test]
async fn server_errors_are_retryable_and_a_retry_succeeds() {
    let fake = FakeMercadoPago::start().await;
    let client = client(&fake);
    fake.fail_next(2);
    for _ in 0..2 {
        let err = client
            .create_preference(&deposit_request(), "hold-1")
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                MpError::Retryable {
                    status: Some(500),
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(err.is_retryable());
    }
    let preference = client
        .create_preference(&deposit_request(), "hold-1")
        .await
        .unwrap();
    assert_eq!(fake.preferences().len(), 1);
    assert_eq!(fake.preferences()[0].id, preference.id);
}

#[tokio::test]
async fn a_refused_preference_is_permanent() {
    let fake = FakeMercadoPago::start().await;
    let mut request = deposit_request();
    request.items.clear();
    let err = client(&fake)
        .create_preference(&request, "hold-1")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, MpError::Permanent { status: 400, message } if message.contains("items")),
        "{err:?}"
    );
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn connection_refused_and_timeouts_are_retryable() {
    let dead_url = posada_testkit::unreachable_url();
    let client = MercadoPagoClient::new(&dead_url, "t", Duration::from_secs(2)).unwrap();
    let err = client.get_payment("1").await.unwrap_err();
    assert!(
        matches!(err, MpError::Retryable { status: None, .. }),
        "{err:?}"
    );

    // A server that accepts and never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let _hold = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            open.push(socket);
        }
    });
    let client = MercadoPagoClient::new(&url, "t", Duration::from_millis(300)).unwrap();
    let err = client.get_payment("1").await.unwrap_err();
    assert!(
        matches!(&err, MpError::Retryable { status: None, message } if message.contains("timeout")),
        "{err:?}"
    );
}

#[tokio::test]
async fn reads_a_payment_with_exact_amount() {
    let fake = FakeMercadoPago::start().await;
    fake.set_payment("1234567890", &FakePayment::approved("PSD-7K2M", "45000.5"));
    let payment = client(&fake).get_payment("1234567890").await.unwrap();
    assert_eq!(payment.id, "1234567890");
    assert_eq!(payment.status, PaymentStatus::Approved);
    assert_eq!(payment.status_detail.as_deref(), Some("accredited"));
    assert_eq!(payment.external_reference.as_deref(), Some("PSD-7K2M"));
    assert_eq!(payment.transaction_amount_minor, 4_500_050);
    assert_eq!(payment.currency_id.as_deref(), Some("ARS"));
    assert_eq!(
        payment.date_approved.unwrap().to_rfc3339(),
        "2026-11-20T12:00:00-04:00"
    );
    assert_eq!(fake.payment_lookups("1234567890"), 1);
}

#[tokio::test]
async fn amounts_that_floats_would_round_wrongly_stay_exact() {
    let fake = FakeMercadoPago::start().await;
    let client = client(&fake);
    // 0.29 * 100 = 28.999999999999996 and 1.15 * 100 = 114.99999999999999 in f64.
    for (amount, minor) in [
        ("0.29", 29),
        ("1.15", 115),
        ("4.35", 435),
        ("150000", 15_000_000),
        ("99999.99", 9_999_999),
    ] {
        fake.set_payment("7", &FakePayment::approved("R", amount));
        assert_eq!(
            client
                .get_payment("7")
                .await
                .unwrap()
                .transaction_amount_minor,
            minor,
            "{amount}"
        );
    }
}

#[tokio::test]
async fn every_status_is_read_and_unknown_ones_are_kept() {
    let fake = FakeMercadoPago::start().await;
    let client = client(&fake);
    let cases = [
        ("pending", PaymentStatus::Pending),
        ("approved", PaymentStatus::Approved),
        ("authorized", PaymentStatus::Authorized),
        ("in_process", PaymentStatus::InProcess),
        ("in_mediation", PaymentStatus::InMediation),
        ("rejected", PaymentStatus::Rejected),
        ("cancelled", PaymentStatus::Cancelled),
        ("refunded", PaymentStatus::Refunded),
        ("charged_back", PaymentStatus::ChargedBack),
        ("brand_new", PaymentStatus::Other("brand_new".into())),
    ];
    for (wire, expected) in cases {
        fake.set_payment("9", &FakePayment::approved("R", "10").with_status(wire));
        let payment = client.get_payment("9").await.unwrap();
        assert_eq!(payment.status, expected);
        assert_eq!(payment.status.as_str(), wire);
    }
}

#[tokio::test]
async fn unknown_payments_are_not_found_and_bad_answers_are_reported() {
    let fake = FakeMercadoPago::start().await;
    let client = client(&fake);
    assert!(matches!(
        client.get_payment("404404").await.unwrap_err(),
        MpError::NotFound
    ));
    assert!(matches!(
        client.get_payment("../checkout").await.unwrap_err(),
        MpError::InvalidRequest(_)
    ));
    fake.set_payment_json("5", &json!({"id": 5, "status": "approved"}));
    assert!(matches!(
        client.get_payment("5").await.unwrap_err(),
        MpError::InvalidResponse(_)
    ));
    fake.set_payment_json(
        "6",
        &json!({"id": 6, "status": "approved", "transaction_amount": "12.345"}),
    );
    assert!(matches!(
        client.get_payment("6").await.unwrap_err(),
        MpError::InvalidResponse(_)
    ));
    // A string amount and a missing currency are tolerated.
    fake.set_payment_json(
        "8",
        &json!({"id": "8", "status": "approved", "transaction_amount": "12.30"}),
    );
    let payment = client.get_payment("8").await.unwrap();
    assert_eq!(payment.transaction_amount_minor, 1230);
    assert_eq!(payment.currency_id, None);
}

#[tokio::test]
async fn the_access_token_never_shows_in_debug_output() {
    let fake = FakeMercadoPago::start().await;
    let client = client(&fake);
    let printed = format!("{client:?}");
    assert!(!printed.contains("APP_USR-secret-token"), "{printed}");
    assert!(printed.contains("redacted"));
}
