//! Conversaciones: the owner takes a guest's WhatsApp conversation over and answers it.

use posada_server::config::Secret;
use posada_testkit::FakeWhatsApp;
use serde_json::json;

use crate::helpers::Backend;
use crate::owner::{PASSWORD, assert_owner_pages_fit, spawn_owner_app};
use crate::scenario;

const WA_SECRET: &str = "wa-app-secret";
const GUEST_PHONE: &str = "5491155551234";

async fn the_owner_takes_over_a_conversation_and_replies(backend: Backend) {
    let wa = FakeWhatsApp::start().await;
    let wa_url = wa.base_url();
    let app = spawn_owner_app(backend, |s| {
        s.whatsapp_access_token = Some(Secret::new("TEST-wa-token"));
        s.whatsapp_phone_number_id = Some("1234567890".into());
        s.whatsapp_app_secret = Some(Secret::new(WA_SECRET));
        s.whatsapp_graph_url = wa_url;
        s.integration_retry_base_ms = 50;
    })
    .await;
    app.create_accommodation("lago", 1_000_000).await;
    let body = posada_testkit::webhook_message(
        "1234567890",
        GUEST_PHONE,
        "Ana",
        "wamid.b1",
        json!({"type": "text", "text": {"body": "Hola, quería saber si hay lugar del 10 al 12 de marzo para 2"},
               "timestamp": chrono::Utc::now().timestamp().to_string()}),
    )
    .to_string();
    let res = app
        .client
        .post(app.url("/api/v1/webhooks/whatsapp"))
        .header("content-type", "application/json")
        .header(
            "x-hub-signature-256",
            posada_testkit::sign(WA_SECRET, body.as_bytes()),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    app.run_pending_jobs().await;
    let reply = "Sí, aceptamos mascotas chicas.";
    let out = scenario(
        "owner_conversation",
        json!({"base": app.base, "password": PASSWORD, "guest": "+5491155551234", "reply": reply}),
    )
    .await;
    assert_owner_pages_fit(&out);
    let thread_url = out["thread_url"].as_str().unwrap();
    assert!(
        !thread_url.contains(GUEST_PHONE),
        "no phone in the URL: {thread_url}"
    );
    assert!(
        out["before"]
            .as_str()
            .unwrap()
            .contains("Hola, quería saber si hay lugar del 10 al 12 de marzo para 2"),
        "{out}"
    );
    assert!(
        out["taken"]
            .as_str()
            .unwrap()
            .contains("Tomaste la conversación"),
        "{out}"
    );
    assert!(
        out["sent"].as_str().unwrap().contains("Respuesta enviada"),
        "{out}"
    );
    assert!(out["after"].as_str().unwrap().contains(reply), "{out}");
    assert_eq!(out["give_back"], true, "{out}");
    // What the guest got: the owner's words at WhatsApp.
    let texts: Vec<String> = wa
        .sent()
        .into_iter()
        .filter(|m| m.to() == Some(GUEST_PHONE) && m.kind() == Some("text"))
        .filter_map(|m| m.body["text"]["body"].as_str().map(str::to_string))
        .collect();
    assert!(texts.contains(&reply.to_string()), "{texts:?}");
    app.stop().await;
}

crate::on_both!(the_owner_takes_over_a_conversation_and_replies);
