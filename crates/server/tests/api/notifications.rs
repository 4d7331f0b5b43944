//! Delivering the outbox over WhatsApp and e-mail against the local fakes: the 24 h window and
//! templates, provider failures and retries, the circuit breaker, unconfigured channels, and the
//! WhatsApp webhook (verification, signatures, statuses, inbound messages).

use std::time::Duration;

use posada_integrations::BreakerState;
use posada_store::notifications::Notification;
use posada_testkit::{FakeGraphError, FakeMercadoPago, FakeWhatsApp, SmtpSink};
use serde_json::json;

use crate::helpers::{Backend, TestApp, days_from_now, eventually};
use crate::on_both;
use crate::payments::{Fixture, GUEST_PHONE, WA_SECRET};

const WAIT: Duration = Duration::from_secs(20);

async fn find_row(f: &Fixture, rid: i64, channel: &str, template: &str) -> Option<Notification> {
    f.notifications(rid)
        .await
        .into_iter()
        .find(|n| n.channel == channel && n.template == template && n.audience == "guest")
}

async fn row(f: &Fixture, rid: i64, channel: &str, template: &str) -> Notification {
    find_row(f, rid, channel, template)
        .await
        .unwrap_or_else(|| panic!("no {channel} {template} row"))
}

/// One guest message per channel: no payment link, no owner notices.
fn quiet(s: &mut posada_server::config::Settings) {
    s.mercadopago_access_token = None;
    s.owner_email = None;
}

async fn wait_row(
    f: &Fixture,
    rid: i64,
    channel: &str,
    template: &str,
    status: &str,
) -> Notification {
    eventually(WAIT, || async {
        let n = find_row(f, rid, channel, template).await?;
        (n.status == status).then_some(n)
    })
    .await
}

on_both!(
    outside_the_window_whatsapp_uses_the_approved_template,
    closed_window_error_falls_back_to_the_template,
    hold_reminder_has_reply_buttons,
    provider_errors_are_retried_until_sent,
    rate_limits_are_retried_later,
    invalid_number_fails_without_retrying,
    circuit_opens_then_closes,
    an_open_circuit_on_the_last_attempt_reschedules_the_row,
    connection_lost_mid_send_leaves_the_row_retryable,
    not_configured_channels_are_recorded_without_network_calls,
    whatsapp_webhook_verification_and_signatures,
    whatsapp_statuses_update_rows_in_order_and_once,
    messages_to_one_guest_arrive_in_the_order_written,
);

async fn outside_the_window_whatsapp_uses_the_approved_template(backend: Backend) {
    let f = Fixture::start(backend).await;
    f.accommodation("lago", 5_000_000).await;
    let r = f.hold("lago", 20, 2).await;
    let sent = wait_row(&f, r.id, "whatsapp", "hold_created", "sent").await;
    let msg =
        f.wa.sent()
            .into_iter()
            .find(|m| Some(m.wamid.as_str()) == sent.provider_message_id.as_deref())
            .unwrap();
    assert_eq!(msg.kind(), Some("template"));
    assert_eq!(msg.body["template"]["name"], "hold_created");
    assert_eq!(msg.body["template"]["language"]["code"], "es_AR");
    let params: Vec<&str> = msg.body["template"]["components"][0]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["text"].as_str().unwrap())
        .collect();
    assert_eq!(params[0], "Ana Pérez");
    assert_eq!(params[1], r.code);
}

async fn closed_window_error_falls_back_to_the_template(backend: Backend) {
    // Quiet: the payment link's WhatsApp message would race the hold's for the one failure; so
    // would the guest assistant's answer to the guest's message.
    let f = Fixture::start_with(backend, |s| {
        quiet(s);
        s.assistant_enabled = false;
    })
    .await;
    f.guest_writes(GUEST_PHONE, "wamid.in-2").await;
    f.wa.fail_next(FakeGraphError::outside_window());
    f.accommodation("lago", 5_000_000).await;
    let r = f.hold("lago", 20, 2).await;
    let sent = wait_row(&f, r.id, "whatsapp", "hold_created", "sent").await;
    assert_eq!(sent.attempts, 1, "the fallback is part of the same attempt");
    let msg =
        f.wa.sent()
            .into_iter()
            .find(|m| Some(m.wamid.as_str()) == sent.provider_message_id.as_deref())
            .unwrap();
    assert_eq!(msg.kind(), Some("template"));
}

async fn hold_reminder_has_reply_buttons(backend: Backend) {
    let f = Fixture::start(backend).await;
    f.guest_writes(GUEST_PHONE, "wamid.in-3").await;
    f.accommodation("lago", 5_000_000).await;
    let r = f.hold("lago", 20, 2).await;
    f.payment_link(r.id).await;
    // Run the reminder now instead of waiting for its time (beside the scheduled one, which
    // holds the kind's own key).
    let job = posada_server::jobs::hold_reminder::HoldReminder {
        reservation_id: r.id,
    };
    f.app
        .state
        .jobs()
        .enqueue(&job, posada_jobs::JobOptions::unique("hold-reminder-now"))
        .await
        .unwrap();
    let sent = wait_row(&f, r.id, "whatsapp", "hold_reminder", "sent").await;
    let msg =
        f.wa.sent()
            .into_iter()
            .find(|m| Some(m.wamid.as_str()) == sent.provider_message_id.as_deref())
            .unwrap();
    assert_eq!(msg.kind(), Some("interactive"));
    let buttons = msg.body["interactive"]["action"]["buttons"]
        .as_array()
        .unwrap();
    let titles: Vec<&str> = buttons
        .iter()
        .map(|b| b["reply"]["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["Pagar seña", "Cancelar"]);
    assert_eq!(buttons[0]["reply"]["id"], format!("pay:{}", r.code));
    assert!(
        msg.body["interactive"]["body"]["text"]
            .as_str()
            .unwrap()
            .contains(&r.code)
    );
    // hold_created within the window went out as the photo with its caption.
    let created = row(&f, r.id, "whatsapp", "hold_created").await;
    let created_msg =
        f.wa.sent()
            .into_iter()
            .find(|m| Some(m.wamid.as_str()) == created.provider_message_id.as_deref())
            .unwrap();
    assert_eq!(created_msg.kind(), Some("image"));
}

async fn provider_errors_are_retried_until_sent(backend: Backend) {
    let f = Fixture::start_with(backend, quiet).await;
    f.wa.fail_next(FakeGraphError::server_error());
    f.wa.fail_next(FakeGraphError::server_error());
    f.smtp.fail_next_mail_from(2, 451);
    f.accommodation("lago", 5_000_000).await;
    let r = f.hold("lago", 20, 2).await;
    let wa = wait_row(&f, r.id, "whatsapp", "hold_created", "sent").await;
    assert_eq!(wa.attempts, 3);
    assert!(wa.last_error.is_none());
    let mail = wait_row(&f, r.id, "email", "hold_created", "sent").await;
    assert_eq!(mail.attempts, 3, "{mail:?}");
    f.settle().await;
    let hold_mails = f
        .smtp
        .messages()
        .iter()
        .filter_map(|m| m.parsed())
        .filter(|m| {
            m.subject
                .as_deref()
                .is_some_and(|s| s.contains("Tu prerreserva"))
        })
        .count();
    assert_eq!(hold_mails, 1);
}

async fn rate_limits_are_retried_later(backend: Backend) {
    let f = Fixture::start_with(backend, quiet).await;
    f.wa.fail_next(FakeGraphError::rate_limited());
    f.wa.fail_next(FakeGraphError::pair_rate_limited());
    f.accommodation("lago", 5_000_000).await;
    let r = f.hold("lago", 20, 2).await;
    let wa = wait_row(&f, r.id, "whatsapp", "hold_created", "sent").await;
    assert_eq!(wa.attempts, 3);
    let metrics = f.app.state.metrics().render();
    assert!(
        metrics.contains("whatsapp_send_retries_total 2"),
        "{metrics}"
    );
    // Rate limits do not count against the provider's health.
    assert_eq!(
        f.app.state.services().whatsapp_breaker.state(),
        BreakerState::Closed
    );
}

async fn invalid_number_fails_without_retrying(backend: Backend) {
    let f = Fixture::start(backend).await;
    f.wa.fail_recipient(GUEST_PHONE, FakeGraphError::invalid_recipient());
    f.accommodation("lago", 5_000_000).await;
    let r = f.hold("lago", 20, 2).await;
    let failed = wait_row(&f, r.id, "whatsapp", "hold_created", "failed").await;
    assert_eq!(failed.attempts, 1);
    assert!(failed.last_error.unwrap().contains("131026"));
    f.settle().await;
    let tries =
        f.wa.requests()
            .iter()
            .filter(|q| q.json().is_some_and(|v| v["to"] == GUEST_PHONE))
            .count();
    // hold_created and owner... only the guest's rows go to this number: one request each.
    let rows = f
        .notifications(r.id)
        .await
        .into_iter()
        .filter(|n| n.channel == "whatsapp")
        .count();
    assert_eq!(tries, rows);
    let metrics = f.app.state.metrics().render();
    assert!(metrics.contains("notifications_failed_total{channel=\"whatsapp\"}"));
}

async fn circuit_opens_then_closes(backend: Backend) {
    let f = Fixture::start_with(backend, |s| {
        s.breaker_failure_threshold = 2;
        s.breaker_cool_down_ms = 1500;
        s.smtp_host = None;
        quiet(s);
    })
    .await;
    f.wa.fail_next(FakeGraphError::server_error());
    f.wa.fail_next(FakeGraphError::server_error());
    f.accommodation("lago", 5_000_000).await;
    let r = f.hold("lago", 20, 2).await;
    let breaker = f.app.state.services().whatsapp_breaker.clone();
    // Two failures open the circuit; while open the row waits, queued, without counting attempts.
    let waiting = eventually(WAIT, || async {
        let n = row(&f, r.id, "whatsapp", "hold_created").await;
        (breaker.state() == BreakerState::Open
            && n.last_error
                .as_deref()
                .is_some_and(|e| e.contains("circuit breaker")))
        .then_some(n)
    })
    .await;
    assert_eq!(waiting.status, "queued");
    assert_eq!(waiting.attempts, 2);
    let metrics = f.app.state.metrics().render();
    assert!(
        metrics.contains("circuit_breaker_open{provider=\"whatsapp\"} 1"),
        "{metrics}"
    );
    // After the cool-down a trial goes through and closes the circuit.
    let sent = wait_row(&f, r.id, "whatsapp", "hold_created", "sent").await;
    assert_eq!(sent.attempts, 3);
    assert_eq!(breaker.state(), BreakerState::Closed);
    let metrics = f.app.state.metrics().render();
    assert!(
        metrics.contains("circuit_breaker_open{provider=\"whatsapp\"} 0"),
        "{metrics}"
    );
}

async fn an_open_circuit_on_the_last_attempt_reschedules_the_row(backend: Backend) {
    let f = Fixture::start_with(backend, |s| {
        s.breaker_failure_threshold = 1;
        s.breaker_cool_down_ms = 600_000;
        s.smtp_host = None;
        quiet(s);
    })
    .await;
    // One failed send opens the WhatsApp circuit for ten minutes.
    f.wa.fail_next(FakeGraphError::server_error());
    f.accommodation("lago", 5_000_000).await;
    let r = f.hold("lago", 20, 2).await;
    let breaker = f.app.state.services().whatsapp_breaker.clone();
    eventually(WAIT, || async {
        (breaker.state() == BreakerState::Open).then_some(())
    })
    .await;
    // A message of the outbox with no job of its own (so nothing else delivers it meanwhile).
    let data = serde_json::json!({"code": r.code});
    let mut tx = f.app.state.db().begin().await.unwrap();
    let id = posada_store::notifications::insert(
        tx.conn(),
        &posada_store::notifications::NewNotification {
            reservation_id: Some(r.id),
            audience: "guest",
            channel: "whatsapp",
            recipient: Some("+54 9 11 5555-0000"),
            template: "hold_reminder",
            data: &data,
            dedupe_key: None,
        },
        chrono::Utc::now(),
    )
    .await
    .unwrap()
    .unwrap();
    tx.commit().await.unwrap();
    let status = || async {
        posada_store::notifications::get(f.app.state.db(), id)
            .await
            .unwrap()
            .unwrap()
    };
    // An attempt that is not the last keeps the row waiting for the circuit…
    let outcome = posada_server::notify::deliver(&f.app.state, id, false).await;
    assert!(outcome.is_err(), "{outcome:?}");
    assert_eq!(status().await.status, "queued");
    // …and the last one hands it to a new delivery job due after the cool-down: still queued,
    // never failed, never left without a job.
    let outcome = posada_server::notify::deliver(&f.app.state, id, true)
        .await
        .unwrap();
    assert_eq!(outcome, posada_server::notify::DeliveryOutcome::Rescheduled);
    let row = status().await;
    assert_eq!(row.status, "queued");
    assert!(
        row.last_error
            .as_deref()
            .is_some_and(|e| e.contains("circuit breaker")),
        "{row:?}"
    );
    let jobs = f
        .app
        .state
        .jobs()
        .admin()
        .list(
            &posada_jobs::ListFilter {
                kind: Some("notification.deliver".into()),
                ..Default::default()
            },
            posada_jobs::Page::default(),
        )
        .await
        .unwrap();
    let resumed: Vec<_> = jobs
        .iter()
        .filter(|j| {
            j.unique_key
                .as_deref()
                .is_some_and(|k| k.starts_with(&format!("notify:{id}:resumed:")))
        })
        .collect();
    assert_eq!(resumed.len(), 1, "{jobs:?}");
    assert_eq!(resumed[0].state, posada_jobs::JobState::Scheduled);
    assert!(resumed[0].run_at > chrono::Utc::now() + chrono::Duration::minutes(5));
}

async fn connection_lost_mid_send_leaves_the_row_retryable(backend: Backend) {
    let f = Fixture::start_with(backend, |s| s.owner_email = None).await;
    f.smtp.close_mid_data_next(1);
    f.accommodation("lago", 5_000_000).await;
    let r = f.hold("lago", 20, 2).await;
    let sent = wait_row(&f, r.id, "email", "hold_created", "sent").await;
    assert_eq!(
        sent.attempts, 2,
        "the interrupted send was retried: {sent:?}"
    );
    // A row whose job died mid-send is still queued: running the delivery again sends it.
    let data = json!({"code": r.code, "guest_name": "Ana"});
    let mut tx = f.app.state.db().begin().await.unwrap();
    let id = posada_store::notifications::insert(
        tx.conn(),
        &posada_store::notifications::NewNotification {
            reservation_id: Some(r.id),
            audience: "guest",
            channel: "email",
            recipient: Some("ana@example.com"),
            template: "hold_expired",
            data: &data,
            dedupe_key: Some("orphan".into()),
        },
        chrono::Utc::now(),
    )
    .await
    .unwrap()
    .unwrap();
    tx.commit().await.unwrap();
    let outcome = posada_server::notify::deliver(&f.app.state, id, false)
        .await
        .unwrap();
    assert!(matches!(
        outcome,
        posada_server::notify::DeliveryOutcome::Sent(_)
    ));
    // And again: nothing more is sent.
    let again = posada_server::notify::deliver(&f.app.state, id, false)
        .await
        .unwrap();
    assert_eq!(
        again,
        posada_server::notify::DeliveryOutcome::AlreadyHandled
    );
}

async fn not_configured_channels_are_recorded_without_network_calls(backend: Backend) {
    let mp = FakeMercadoPago::start().await;
    let wa = FakeWhatsApp::start().await;
    let smtp = SmtpSink::start().await;
    let app = TestApp::spawn_with(backend, |s| {
        s.owner_email = Some("duenio@posada.example".into());
        s.integration_retry_base_ms = 50;
    })
    .await;
    app.create_accommodation("lago", 5_000_000).await;
    let res = app
        .pre_reserve("lago", &days_from_now(20), &days_from_now(22))
        .await;
    assert_eq!(res.status(), 201);
    let code = res.json::<serde_json::Value>().await.unwrap()["code"]
        .as_str()
        .unwrap()
        .to_string();
    let r = posada_store::reservations::get_by_code(app.state.db(), &code)
        .await
        .unwrap()
        .unwrap();
    let rows = eventually(WAIT, || async {
        let rows = posada_store::notifications::for_reservation(app.state.db(), r.id)
            .await
            .unwrap();
        rows.iter()
            .all(|n| n.status == "not_configured")
            .then_some(rows)
    })
    .await;
    assert_eq!(rows.len(), 3, "guest whatsapp + e-mail, owner e-mail");
    assert!(rows.iter().all(|n| {
        n.attempts == 0
            && n.last_error
                .as_deref()
                .is_some_and(|e| e.contains("not configured"))
    }));
    assert!(r.payment_link.is_none());
    assert!(mp.requests().is_empty());
    assert!(wa.requests().is_empty());
    assert_eq!(smtp.connections(), 0);
    // Without Mercado Pago the webhook says so instead of pretending.
    let res = app
        .client
        .post(app.url("/api/v1/webhooks/mercadopago?data.id=1&type=payment"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 503);
}

async fn whatsapp_webhook_verification_and_signatures(backend: Backend) {
    let f = Fixture::start(backend).await;
    let ok = f
        .app
        .get("/api/v1/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=verify-me&hub.challenge=12345")
        .await;
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.text().await.unwrap(), "12345");
    let bad = f
        .app
        .get("/api/v1/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=nope&hub.challenge=12345")
        .await;
    assert_eq!(bad.status(), 403);
    let body = posada_testkit::webhook_message(
        "1234567890",
        GUEST_PHONE,
        "Ana",
        "wamid.forged",
        json!({"type": "text", "text": {"body": "hola"}}),
    )
    .to_string();
    let res = f.whatsapp_webhook(&body, "wrong-secret").await;
    assert_eq!(res.status(), 401);
    assert!(
        posada_store::conversations::last_inbound(f.app.state.db(), GUEST_PHONE)
            .await
            .unwrap()
            .is_none(),
        "nothing stored on a bad signature"
    );
    let res = f.whatsapp_webhook(&body, WA_SECRET).await;
    assert_eq!(res.status(), 200);
    let answer = res.json::<serde_json::Value>().await.unwrap();
    assert_eq!(answer["received"], true, "{answer}");
    assert!(answer["job_id"].is_i64(), "{answer}");
    assert!(
        posada_store::conversations::last_inbound(f.app.state.db(), GUEST_PHONE)
            .await
            .unwrap()
            .is_some()
    );
    let stored = || async {
        f.app
            .admin_get(&format!("/api/v1/admin/conversations/{GUEST_PHONE}"))
            .await
            .json::<serde_json::Value>()
            .await
            .unwrap()["messages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["direction"] == "in")
            .count()
    };
    assert_eq!(stored().await, 1);
    // Meta redelivers: applied once.
    let res = f.whatsapp_webhook(&body, WA_SECRET).await;
    assert_eq!(res.status(), 200);
    assert_eq!(stored().await, 1, "a redelivery stores nothing new");
}

async fn whatsapp_statuses_update_rows_in_order_and_once(backend: Backend) {
    let f = Fixture::start(backend).await;
    f.accommodation("lago", 5_000_000).await;
    let r = f.hold("lago", 20, 2).await;
    let sent = wait_row(&f, r.id, "whatsapp", "hold_created", "sent").await;
    let wamid = sent.provider_message_id.clone().unwrap();
    let status =
        |s: &str| posada_testkit::webhook_status("1234567890", &wamid, s, GUEST_PHONE).to_string();
    // read arrives before delivered: the row goes to read and stays there.
    let res = f.whatsapp_webhook(&status("read"), WA_SECRET).await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        row(&f, r.id, "whatsapp", "hold_created").await.status,
        "read"
    );
    f.whatsapp_webhook(&status("delivered"), WA_SECRET).await;
    assert_eq!(
        row(&f, r.id, "whatsapp", "hold_created").await.status,
        "read"
    );
    let res = f.whatsapp_webhook(&status("read"), WA_SECRET).await;
    assert_eq!(res.status(), 200, "a duplicate is acknowledged");
    assert_eq!(
        row(&f, r.id, "whatsapp", "hold_created").await.status,
        "read"
    );
    // A failure report on a delivered message of another row.
    let other = wait_row(&f, r.id, "whatsapp", "hold_payment_link", "sent").await;
    let other_wamid = other.provider_message_id.unwrap();
    let failed = json!({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "5491100000000", "phone_number_id": "1234567890"},
        "statuses": [{"id": other_wamid, "status": "failed", "timestamp": "1763650001", "recipient_id": GUEST_PHONE,
                      "errors": [{"code": 131049, "title": "Not delivered", "error_data": {"details": "ecosystem limit"}}]}]
    }}]}]})
    .to_string();
    f.whatsapp_webhook(&failed, WA_SECRET).await;
    let n = row(&f, r.id, "whatsapp", "hold_payment_link").await;
    assert_eq!(n.status, "failed");
    assert!(n.last_error.unwrap().contains("131049"));
}

async fn messages_to_one_guest_arrive_in_the_order_written(backend: Backend) {
    let f = Fixture::start(backend).await;
    f.accommodation("lago", 5_000_000).await;
    // The hold's message fails once (a Graph hiccup) and is retried; the payment link, written a
    // moment later, must not overtake it.
    f.wa.fail_next(posada_testkit::whatsapp::FakeGraphError::server_error());
    let r = f.hold("lago", 20, 2).await;
    let first = wait_row(&f, r.id, "whatsapp", "hold_created", "sent").await;
    let second = wait_row(&f, r.id, "whatsapp", "hold_payment_link", "sent").await;
    assert!(first.id < second.id, "the link is written after the hold");
    assert_eq!(first.attempts, 2, "the hold's message was retried once");
    let order: Vec<String> = f.wa.sent().into_iter().map(|s| s.wamid).collect();
    let position = |n: &Notification| {
        order
            .iter()
            .position(|w| Some(w) == n.provider_message_id.as_ref())
            .unwrap()
    };
    assert!(
        position(&first) < position(&second),
        "the hold's message reached WhatsApp before the payment link: {order:?}"
    );
}
