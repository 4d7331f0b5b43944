use std::time::Duration;

use posada_integrations::whatsapp::{DeliveryStatus, MessageContent};
use posada_integrations::{WebhookPayload, WhatsAppClient, WhatsAppError, verify_signature};
use posada_testkit::{FakeGraphError, FakeWhatsApp, webhook_message, webhook_status};
use serde_json::json;

const GUEST: &str = "5491155550000";

fn client(fake: &FakeWhatsApp) -> WhatsAppClient {
    WhatsAppClient::new(
        &fake.base_url(),
        "v21.0",
        "109876543210",
        "EAAG-secret",
        Duration::from_secs(5),
    )
    .unwrap()
}

#[tokio::test]
async fn sends_text_to_the_phone_numbers_messages_endpoint() {
    let fake = FakeWhatsApp::start().await;
    let sent = client(&fake)
        .send_text(
            "+54 9 11 5555-0000",
            "¡Hola! Tu reserva PSD-7K2M está confirmada.",
        )
        .await
        .unwrap();
    assert!(sent.wamid.starts_with("wamid."));
    let recorded = fake.sent();
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].path, "/v21.0/109876543210/messages");
    assert_eq!(
        recorded[0].authorization.as_deref(),
        Some("Bearer EAAG-secret")
    );
    assert_eq!(recorded[0].wamid, sent.wamid);
    assert_eq!(
        recorded[0].body,
        json!({
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": GUEST,
            "type": "text",
            "text": {"preview_url": false, "body": "¡Hola! Tu reserva PSD-7K2M está confirmada."}
        })
    );
}

#[tokio::test]
async fn sends_image_buttons_and_template() {
    let fake = FakeWhatsApp::start().await;
    let client = client(&fake);
    let a = client
        .send_image(
            GUEST,
            "https://posada.example/fotos/lago.jpg",
            Some("Cabaña del Lago"),
        )
        .await
        .unwrap();
    let b = client
        .send_buttons(
            GUEST,
            "¿Confirmás tu llegada?",
            &[("arrival_yes", "Sí"), ("arrival_no", "No")],
        )
        .await
        .unwrap();
    let c = client
        .send_template(
            GUEST,
            "hold_reminder",
            "es_AR",
            &["PSD-7K2M", "22/11 10:00"],
        )
        .await
        .unwrap();
    assert!(a.wamid != b.wamid && b.wamid != c.wamid);
    let sent = fake.sent();
    assert_eq!(sent[0].body["type"], "image");
    assert_eq!(
        sent[0].body["image"],
        json!({"link": "https://posada.example/fotos/lago.jpg", "caption": "Cabaña del Lago"})
    );
    assert_eq!(sent[1].body["type"], "interactive");
    assert_eq!(
        sent[1].body["interactive"],
        json!({
            "type": "button",
            "body": {"text": "¿Confirmás tu llegada?"},
            "action": {"buttons": [
                {"type": "reply", "reply": {"id": "arrival_yes", "title": "Sí"}},
                {"type": "reply", "reply": {"id": "arrival_no", "title": "No"}}
            ]}
        })
    );
    assert_eq!(sent[2].body["type"], "template");
    assert_eq!(
        sent[2].body["template"],
        json!({
            "name": "hold_reminder",
            "language": {"code": "es_AR"},
            "components": [{"type": "body", "parameters": [
                {"type": "text", "text": "PSD-7K2M"},
                {"type": "text", "text": "22/11 10:00"}
            ]}]
        })
    );
    let image_without_caption = client
        .send_image(GUEST, "https://posada.example/a.jpg", None)
        .await;
    assert!(image_without_caption.is_ok());
    assert_eq!(
        fake.sent()[3].body["image"],
        json!({"link": "https://posada.example/a.jpg"})
    );
}

#[tokio::test]
async fn limits_are_enforced_before_anything_is_sent() {
    let fake = FakeWhatsApp::start().await;
    let client = client(&fake);
    let long_body = "ñ".repeat(4097);
    assert!(matches!(
        client.send_text(GUEST, &long_body).await,
        Err(WhatsAppError::InvalidMessage(_))
    ));
    assert!(
        client.send_text(GUEST, &"ñ".repeat(4096)).await.is_ok(),
        "4096 characters (8192 bytes) is fine"
    );
    let long_caption = "x".repeat(1025);
    assert!(matches!(
        client
            .send_image(GUEST, "https://x/y.jpg", Some(&long_caption))
            .await,
        Err(WhatsAppError::InvalidMessage(_))
    ));
    let four = [("a", "A"), ("b", "B"), ("c", "C"), ("d", "D")];
    assert!(matches!(
        client.send_buttons(GUEST, "elegí", &four).await,
        Err(WhatsAppError::InvalidMessage(_))
    ));
    assert!(matches!(
        client.send_buttons(GUEST, "elegí", &[]).await,
        Err(WhatsAppError::InvalidMessage(_))
    ));
    assert!(matches!(
        client
            .send_buttons(GUEST, "elegí", &[("a", "un título demasiado largo")])
            .await,
        Err(WhatsAppError::InvalidMessage(_))
    ));
    assert!(matches!(
        client.send_text("not-a-phone", "hola").await,
        Err(WhatsAppError::InvalidMessage(_))
    ));
    assert!(matches!(
        client.send_text(GUEST, "  ").await,
        Err(WhatsAppError::InvalidMessage(_))
    ));
    assert_eq!(
        fake.requests().len(),
        1,
        "only the valid 4096-character text reached the API"
    );
}

#[tokio::test]
async fn graph_errors_are_classified() {
    let fake = FakeWhatsApp::start().await;
    let client = client(&fake);
    let mut results = Vec::new();
    for error in [
        FakeGraphError::outside_window(),
        FakeGraphError::rate_limited(),
        FakeGraphError::pair_rate_limited(),
        FakeGraphError::invalid_recipient(),
        FakeGraphError::graph(
            400,
            131_009,
            "Parameter value is not valid",
            "The parameter 'to' is not a valid phone number",
        ),
        FakeGraphError::graph(
            400,
            100,
            "Invalid parameter",
            "Invalid phone number in 'to'",
        ),
        FakeGraphError::graph(
            400,
            131_009,
            "Parameter value is not valid",
            "Button title length invalid",
        ),
        FakeGraphError::graph(
            400,
            132_001,
            "Template name does not exist in the translation",
            "template not found",
        ),
        FakeGraphError::graph(500, 131_000, "Something went wrong", "unknown"),
        FakeGraphError::server_error(),
    ] {
        fake.fail_next(error);
        results.push(client.send_text(GUEST, "hola").await.unwrap_err());
    }
    let labels: Vec<&str> = results.iter().map(WhatsAppError::kind_label).collect();
    assert_eq!(
        labels,
        [
            "outside_window",
            "rate_limited",
            "rate_limited",
            "invalid_recipient",
            "invalid_recipient",
            "invalid_recipient",
            "permanent",
            "permanent",
            "transient",
            "transient"
        ]
    );
    assert!(matches!(
        results[0],
        WhatsAppError::OutsideWindow { code: 131_047, .. }
    ));
    assert!(matches!(
        results[1],
        WhatsAppError::RateLimited { code: 130_429, .. }
    ));
    assert!(matches!(
        results[2],
        WhatsAppError::RateLimited { code: 131_056, .. }
    ));
    assert!(matches!(
        results[3],
        WhatsAppError::InvalidRecipient { code: 131_026, .. }
    ));
    assert!(matches!(
        results[7],
        WhatsAppError::Permanent {
            status: 400,
            code: Some(132_001),
            ..
        }
    ));
    assert!(matches!(
        results[9],
        WhatsAppError::Transient {
            status: Some(500),
            ..
        }
    ));
    let retryable: Vec<bool> = results.iter().map(WhatsAppError::is_retryable).collect();
    assert_eq!(
        retryable,
        [
            false, true, true, false, false, false, false, false, true, true
        ]
    );
    assert!(fake.sent().is_empty());
    // The queue is spent: the next message goes through.
    assert!(client.send_text(GUEST, "hola").await.is_ok());
}

#[tokio::test]
async fn errors_can_be_tied_to_one_recipient() {
    let fake = FakeWhatsApp::start().await;
    let client = client(&fake);
    fake.fail_recipient("5491100000001", FakeGraphError::outside_window());
    let err = client.send_text("5491100000001", "hola").await.unwrap_err();
    assert!(matches!(err, WhatsAppError::OutsideWindow { .. }));
    // The caller falls back to a template; here the fake keeps refusing that recipient until cleared.
    assert!(client.send_text(GUEST, "hola").await.is_ok());
    fake.clear_failures();
    assert!(
        client
            .send_template("5491100000001", "hold_created", "es_AR", &["PSD-1"])
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn unreachable_api_is_transient() {
    let url = posada_testkit::unreachable_url();
    let client = WhatsAppClient::new(&url, "v21.0", "1", "t", Duration::from_secs(2)).unwrap();
    let err = client.send_text(GUEST, "hola").await.unwrap_err();
    assert!(
        matches!(err, WhatsAppError::Transient { status: None, .. }),
        "{err:?}"
    );
    assert!(!format!("{client:?}").contains("\"t\""));
}

#[test]
fn signature_verification_on_raw_bytes() {
    let body = br#"{"object":"whatsapp_business_account","entry":[]}"#;
    // HMAC-SHA256("app-secret", body) computed with Python's hmac.
    let header = "sha256=d3e4f9da0ce6c71ab3dba55929b8eeeee2455349e534924ead19f98d143e904f";
    assert!(verify_signature("app-secret", header, body));
    assert_eq!(posada_testkit::sign("app-secret", body), header);
    assert!(!verify_signature("other-secret", header, body));
    assert!(!verify_signature(
        "app-secret",
        header,
        br#"{"object":"whatsapp_business_account","entry":[ ]}"#
    ));
    assert!(!verify_signature(
        "app-secret",
        &header.replace("sha256=", "sha1="),
        body
    ));
    assert!(!verify_signature("app-secret", "sha256=nothex", body));
    assert!(!verify_signature("app-secret", "", body));
    assert!(!verify_signature("app-secret", &header[..40], body));
}

#[test]
fn webhook_payload_reads_every_message_kind_and_status() {
    let delivery = json!({
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
                     "location": {"latitude": -41.13, "longitude": -71.31, "name": "Bariloche"}},
                    {"from": GUEST, "id": "wamid.8", "timestamp": "1763650007", "type": "sticker", "sticker": {"id": "s"}},
                    {"from": GUEST, "id": "wamid.9", "type": "text"}
                ]
            }}]},
            {"id": "2", "changes": [
                {"field": "messages", "value": {"statuses": [
                    {"id": "wamid.out1", "status": "delivered", "timestamp": "1763650010", "recipient_id": GUEST},
                    {"id": "wamid.out1", "status": "read", "timestamp": "1763650011", "recipient_id": GUEST},
                    {"id": "wamid.out2", "status": "failed", "timestamp": "1763650012", "recipient_id": GUEST,
                     "errors": [{"code": 131047, "title": "Re-engagement message", "error_data": {"details": "24 h passed"}}]},
                    {"id": "wamid.out3", "status": "deleted", "new_field": 1}
                ]}},
                {"field": "account_update", "value": {"event": "something", "unknown": [1, 2]}}
            ]}
        ]
    });
    let payload = WebhookPayload::parse(delivery.to_string().as_bytes()).unwrap();
    let messages: Vec<_> = payload.messages().collect();
    assert_eq!(messages.len(), 9);
    let (value, first) = messages[0];
    assert_eq!(value.contact_name(GUEST), Some("Lucía"));
    assert_eq!(
        value.metadata.as_ref().unwrap().phone_number_id.as_deref(),
        Some("109876543210")
    );
    assert_eq!(first.id.as_deref(), Some("wamid.1"));
    assert_eq!(first.from.as_deref(), Some(GUEST));
    let contents: Vec<&MessageContent> = messages.iter().map(|(_, m)| &m.content).collect();
    assert_eq!(
        contents[0],
        &MessageContent::Text {
            body: "Hola, ¿hay lugar?".into()
        }
    );
    assert!(
        matches!(contents[1], MessageContent::Audio { voice: true, id: Some(id), .. } if id == "media-1")
    );
    assert!(
        matches!(contents[2], MessageContent::Image { caption: Some(c), .. } if c == "el auto")
    );
    assert_eq!(
        contents[3],
        &MessageContent::ButtonReply {
            id: "arrival_yes".into(),
            title: "Sí".into()
        }
    );
    assert_eq!(
        contents[4],
        &MessageContent::ListReply {
            id: "room-2".into(),
            title: "Cabaña 2".into(),
            description: Some("4 personas".into())
        }
    );
    assert_eq!(
        contents[5],
        &MessageContent::TemplateButton {
            payload: Some("CANCEL".into()),
            text: Some("Cancelar".into())
        }
    );
    assert!(
        matches!(contents[6], MessageContent::Location { latitude, name: Some(n), .. } if (*latitude + 41.13).abs() < 1e-9 && n == "Bariloche")
    );
    assert_eq!(contents[7], &MessageContent::Other("sticker".into()));
    assert_eq!(
        contents[8],
        &MessageContent::Other("text".into()),
        "a text without body is kept, not dropped"
    );

    let statuses: Vec<_> = payload.statuses().map(|(_, s)| s).collect();
    assert_eq!(statuses.len(), 4);
    assert_eq!(statuses[0].status, DeliveryStatus::Delivered);
    assert_eq!(statuses[1].status, DeliveryStatus::Read);
    assert_eq!(statuses[2].status, DeliveryStatus::Failed);
    assert_eq!(statuses[2].errors[0].code, Some(131_047));
    assert_eq!(
        statuses[2].errors[0]
            .error_data
            .as_ref()
            .unwrap()
            .details
            .as_deref(),
        Some("24 h passed")
    );
    assert_eq!(statuses[3].status, DeliveryStatus::Other("deleted".into()));
}

#[test]
fn testkit_webhook_builders_parse() {
    let inbound = webhook_message(
        "1098",
        GUEST,
        "Lucía",
        "wamid.in",
        json!({"type": "text", "text": {"body": "hola"}}),
    );
    let payload = WebhookPayload::parse(inbound.to_string().as_bytes()).unwrap();
    let (value, message) = payload.messages().next().unwrap();
    assert_eq!(
        message.content,
        MessageContent::Text {
            body: "hola".into()
        }
    );
    assert_eq!(value.contact_name(GUEST), Some("Lucía"));
    let status = webhook_status("1098", "wamid.out", "sent", GUEST);
    let payload = WebhookPayload::parse(status.to_string().as_bytes()).unwrap();
    assert_eq!(
        payload.statuses().next().unwrap().1.status,
        DeliveryStatus::Sent
    );
    assert!(WebhookPayload::parse(b"not json").is_err());
    assert_eq!(WebhookPayload::parse(b"{}").unwrap().messages().count(), 0);
}
