//! Deposits through Mercado Pago over HTTP, against the local fakes: the payment link, signed and
//! legacy notifications, and what each payment status does to the reservation and the messages.

use std::time::Duration;

use futures::future::join_all;
use posada_domain::ReservationState;
use posada_server::config::{Secret, Settings};
use posada_server::jobs::process_payment::ProcessPayment;
use posada_store::notifications::Notification;
use posada_store::reservations::Reservation;
use posada_testkit::{FakeMercadoPago, FakePayment, FakeWhatsApp, SmtpSink, sign_webhook};
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, days_from_now, eventually};
use crate::on_both;

pub const MP_SECRET: &str = "mp-webhook-secret";
pub const WA_SECRET: &str = "wa-app-secret";
pub const GUEST_PHONE: &str = "5491155551234";
pub const OWNER_EMAIL: &str = "duenio@posada.example";
const WAIT: Duration = Duration::from_secs(20);

/// posada wired to a fake Mercado Pago, a fake WhatsApp and an SMTP sink.
pub struct Fixture {
    pub app: TestApp,
    pub mp: FakeMercadoPago,
    pub wa: FakeWhatsApp,
    pub smtp: SmtpSink,
}

impl Fixture {
    pub async fn start(backend: Backend) -> Fixture {
        Self::start_with(backend, |_| {}).await
    }

    pub async fn start_with(backend: Backend, adjust: impl FnOnce(&mut Settings)) -> Fixture {
        let mp = FakeMercadoPago::start().await;
        let wa = FakeWhatsApp::start().await;
        let smtp = SmtpSink::start().await;
        let (mp_url, wa_url, smtp_host, smtp_port) =
            (mp.base_url(), wa.base_url(), smtp.host(), smtp.port());
        let app = TestApp::spawn_with(backend, |s| {
            s.mercadopago_access_token = Some(Secret::new("TEST-mp-token"));
            s.mercadopago_webhook_secret = Some(Secret::new(MP_SECRET));
            s.mercadopago_base_url = mp_url;
            s.whatsapp_access_token = Some(Secret::new("TEST-wa-token"));
            s.whatsapp_phone_number_id = Some("1234567890".into());
            s.whatsapp_app_secret = Some(Secret::new(WA_SECRET));
            s.whatsapp_verify_token = Some(Secret::new("verify-me"));
            s.whatsapp_graph_url = wa_url;
            s.smtp_host = Some(smtp_host);
            s.smtp_port = smtp_port;
            s.smtp_security = "plain".into();
            s.smtp_from = Some("Cabañas del Lago <reservas@posada.example>".into());
            s.owner_email = Some(OWNER_EMAIL.into());
            s.integration_retry_base_ms = 50;
            s.integration_timeout_seconds = 5;
            s.posada_public_url = "https://posada.example".into();
            adjust(s);
        })
        .await;
        Fixture { app, mp, wa, smtp }
    }

    /// An accommodation at `nightly_minor` per night, created over the admin API.
    pub async fn accommodation(&self, slug: &str, nightly_minor: i64) {
        self.app.create_accommodation(slug, nightly_minor).await;
    }

    /// A hold over HTTP for nights `from..from+nights` days ahead.
    pub async fn hold(&self, slug: &str, from: i64, nights: i64) -> Reservation {
        let res = self
            .app
            .pre_reserve(slug, &days_from_now(from), &days_from_now(from + nights))
            .await;
        let status = res.status();
        let body: Value = res.json().await.unwrap();
        assert_eq!(status, 201, "{body}");
        let code = body["code"].as_str().unwrap().to_string();
        posada_store::reservations::get_by_code(self.app.state.db(), &code)
            .await
            .unwrap()
            .unwrap()
    }

    pub async fn reservation(&self, id: i64) -> Reservation {
        posada_store::reservations::get(self.app.state.db(), id)
            .await
            .unwrap()
            .unwrap()
    }

    pub async fn wait_state(&self, id: i64, state: ReservationState) -> Reservation {
        eventually(WAIT, || async {
            let r = self.reservation(id).await;
            (r.state == state).then_some(r)
        })
        .await
    }

    /// The payment link, once the job stored it.
    pub async fn payment_link(&self, id: i64) -> String {
        eventually(WAIT, || async { self.reservation(id).await.payment_link }).await
    }

    pub async fn notifications(&self, id: i64) -> Vec<Notification> {
        posada_store::notifications::for_reservation(self.app.state.db(), id)
            .await
            .unwrap()
    }

    /// Wait until every job of the app is finished (none available, scheduled, running or
    /// retryable).
    pub async fn settle(&self) {
        eventually(WAIT, || async {
            let stats = self.app.state.jobs().admin().stats().await.unwrap();
            let live = stats
                .iter()
                .filter(|c| c.state.is_live() && c.count > 0 && !c.kind.starts_with("reservation."))
                .count();
            (live == 0).then_some(())
        })
        .await;
    }

    /// A signed Mercado Pago notification for `payment_id`.
    pub async fn notify_payment(&self, payment_id: &str) -> reqwest::Response {
        let ts = self.app.state.now().timestamp_millis();
        self.notify_signed(payment_id, "req-1", ts, MP_SECRET).await
    }

    pub async fn notify_signed(
        &self,
        payment_id: &str,
        request_id: &str,
        ts: i64,
        secret: &str,
    ) -> reqwest::Response {
        self.app
            .client
            .post(self.app.url(&format!(
                "/api/v1/webhooks/mercadopago?data.id={payment_id}&type=payment"
            )))
            .header("x-signature", sign_webhook(secret, payment_id, request_id, ts))
            .header("x-request-id", request_id)
            .json(&json!({"action": "payment.updated", "api_version": "v1", "data": {"id": payment_id}, "type": "payment", "live_mode": false}))
            .send()
            .await
            .unwrap()
    }

    /// The guest writes to us on WhatsApp (opens the 24 h window).
    pub async fn guest_writes(&self, from: &str, wamid: &str) {
        let body = posada_testkit::webhook_message(
            "1234567890",
            from,
            "Ana",
            wamid,
            json!({"type": "text", "text": {"body": "Hola, quiero reservar"}, "timestamp": chrono::Utc::now().timestamp().to_string()}),
        )
        .to_string();
        let res = self.whatsapp_webhook(&body, WA_SECRET).await;
        assert_eq!(res.status(), 200);
    }

    /// POST a WhatsApp delivery signed with `secret`; once it is accepted, wait until the
    /// `whatsapp.delivery` job that applies it has finished (as Meta would see it: acknowledged,
    /// then applied moments later), and return the webhook's answer.
    pub async fn whatsapp_webhook(&self, body: &str, secret: &str) -> reqwest::Response {
        let res = self
            .app
            .client
            .post(self.app.url("/api/v1/webhooks/whatsapp"))
            .header("content-type", "application/json")
            .header(
                "x-hub-signature-256",
                posada_testkit::sign(secret, body.as_bytes()),
            )
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = res.bytes().await.unwrap();
        if status == 200 {
            let answer: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
            assert_eq!(answer["received"], true, "{answer}");
            match answer["job_id"].as_i64() {
                Some(id) => self.app.job_finished(id).await,
                // The same delivery was still queued: its job applies it.
                None => self.app.run_pending_jobs().await,
            }
        }
        let mut rebuilt = axum::http::Response::builder().status(status.as_u16());
        for (name, value) in &headers {
            rebuilt = rebuilt.header(name, value);
        }
        reqwest::Response::from(rebuilt.body(bytes.to_vec()).unwrap())
    }

    pub async fn payments_stored(&self) -> i64 {
        posada_store::payments::count(self.app.state.db())
            .await
            .unwrap()
    }
}

/// Deposit in MP's decimal text (`45000` for 4 500 000 centavos).
fn decimal(minor: i64) -> String {
    format!("{}.{:02}", minor / 100, minor % 100)
}

pub(crate) fn approved_for(r: &Reservation) -> FakePayment {
    FakePayment::approved(&r.code, &decimal(r.deposit.minor))
}

fn es_ar_date(days: i64) -> String {
    chrono::NaiveDate::parse_from_str(&days_from_now(days), "%Y-%m-%d")
        .unwrap()
        .format("%d/%m/%Y")
        .to_string()
}

on_both!(
    happy_path_hold_link_webhook_confirmation_and_messages,
    duplicate_webhooks_confirm_once_and_message_once,
    bad_signature_and_stale_timestamp_are_refused_and_store_nothing,
    unknown_payment_changes_nothing,
    a_payment_readable_only_later_is_found_on_a_retry,
    short_amount_and_wrong_currency_are_not_confirmed_and_alert_the_owner,
    late_payment_confirms_when_the_nights_are_free,
    late_payment_for_taken_nights_needs_a_refund,
    pending_then_approved_confirms,
    rejected_payment_tells_the_guest_and_keeps_the_hold,
    refund_flags_and_alerts_the_owner,
    legacy_ipn_is_verified_through_the_api,
    with_a_secret_unsigned_notifications_are_refused,
    lookups_are_bounded_per_payment_id,
    mercado_pago_down_delays_the_link_never_the_hold,
);

async fn happy_path_hold_link_webhook_confirmation_and_messages(backend: Backend) {
    let f = Fixture::start(backend).await;
    f.guest_writes(GUEST_PHONE, "wamid.in-1").await;
    f.accommodation("lago", 5_000_000).await;
    let r = f.hold("lago", 30, 3).await;
    assert_eq!(r.state, ReservationState::PreReserved);

    // The preference: deposit, reference, expiry, webhook URL, idempotency key.
    let link = f.payment_link(r.id).await;
    let prefs = f.mp.preferences();
    assert_eq!(prefs.len(), 1);
    let pref = &prefs[0];
    assert_eq!(link, pref.init_point);
    assert_eq!(
        pref.idempotency_key.as_deref(),
        Some(format!("pref-{}", r.id).as_str())
    );
    let body = &pref.request;
    assert_eq!(body["external_reference"], r.code);
    assert_eq!(body["binary_mode"], true);
    assert_eq!(body["expires"], true);
    assert_eq!(body["items"][0]["unit_price"], json!(45_000));
    assert_eq!(body["items"][0]["currency_id"], "ARS");
    assert_eq!(
        body["notification_url"],
        "https://posada.example/api/v1/webhooks/mercadopago"
    );
    assert!(
        body["expiration_date_to"]
            .as_str()
            .unwrap()
            .ends_with("-03:00")
    );
    assert!(
        body["back_urls"]["success"]
            .as_str()
            .unwrap()
            .contains(&r.code)
    );

    // The guest gets the link on both channels.
    f.settle().await;
    let link_mail = f
        .smtp
        .messages()
        .into_iter()
        .filter_map(|m| m.parsed())
        .find(|m| {
            m.subject
                .as_deref()
                .is_some_and(|s| s.contains("Link de pago"))
        })
        .expect("payment link e-mail");
    assert!(link_mail.text.unwrap().contains(&link));

    // Mercado Pago approves; the signed notification confirms.
    f.mp.set_payment("9001", &approved_for(&r));
    let res = f.notify_payment("9001").await;
    assert_eq!(res.status(), 200);
    let confirmed = f.wait_state(r.id, ReservationState::Confirmed).await;
    assert!(confirmed.expires_at.is_none());
    let history = posada_store::reservations::history(f.app.state.db(), r.id)
        .await
        .unwrap();
    let last = history.last().unwrap();
    assert_eq!(last.to_state, "confirmed");
    assert_eq!(last.actor, "payment");
    let payment = posada_store::payments::get(f.app.state.db(), "mercadopago", "9001")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(payment.status, "approved");
    assert_eq!(payment.amount_minor, 4_500_000);
    assert_eq!(payment.currency, "ARS");
    assert_eq!(payment.reservation_id, Some(r.id));
    f.settle().await;

    // WhatsApp: the confirmation with the accommodation's photo (the guest wrote within 24 h).
    let confirmation =
        f.wa.sent()
            .into_iter()
            .find(|m| {
                m.to() == Some(GUEST_PHONE)
                    && m.body["image"]["caption"]
                        .as_str()
                        .is_some_and(|c| c.contains("confirmada"))
            })
            .expect("whatsapp confirmation");
    assert_eq!(confirmation.kind(), Some("image"));
    assert_eq!(
        confirmation.body["image"]["link"],
        "https://img.example/lago.jpg"
    );
    let caption = confirmation.body["image"]["caption"].as_str().unwrap();
    for needle in [
        r.code.as_str(),
        &es_ar_date(30),
        &es_ar_date(33),
        "$ 150.000,00",
        "$ 45.000,00",
        "$ 105.000,00",
    ] {
        assert!(caption.contains(needle), "{needle} in {caption}");
    }

    // E-mail to the guest: text and HTML parts with the same facts.
    let mails: Vec<_> = f
        .smtp
        .messages()
        .into_iter()
        .filter_map(|m| m.parsed())
        .collect();
    let guest_mail = mails
        .iter()
        .find(|m| {
            m.to.iter().any(|t| t.contains("ana@example.com"))
                && m.subject.as_deref() == Some(format!("¡Reserva {} confirmada!", r.code).as_str())
        })
        .expect("guest confirmation e-mail");
    let text = guest_mail.text.as_deref().unwrap();
    for needle in [
        r.code.as_str(),
        &es_ar_date(30),
        &es_ar_date(33),
        "$ 45.000,00",
        "14:00",
    ] {
        assert!(text.contains(needle), "{needle} in {text}");
    }
    assert!(guest_mail.html.as_deref().unwrap().contains(&r.code));
    // The owner hears about the payment.
    let owner_mail = mails
        .iter()
        .find(|m| {
            m.to.iter().any(|t| t.contains(OWNER_EMAIL))
                && m.subject.as_deref()
                    == Some(format!("Pago recibido · reserva {}", r.code).as_str())
        })
        .expect("owner notice");
    assert!(owner_mail.text.as_deref().unwrap().contains("Ana Pérez"));

    // Every row is sent, with the provider's id.
    let rows = f.notifications(r.id).await;
    assert!(rows.iter().all(|n| n.status == "sent"), "{rows:#?}");
    assert!(
        rows.iter()
            .all(|n| n.provider_message_id.is_some() && n.attempts == 1)
    );
    let templates: Vec<&str> = rows.iter().map(|n| n.template.as_str()).collect();
    for t in [
        "hold_created",
        "hold_payment_link",
        "stay_confirmed",
        "owner_new_reservation",
        "owner_payment_received",
    ] {
        assert!(templates.contains(&t), "{t} in {templates:?}");
    }
    let metrics = f.app.state.metrics().render();
    assert!(
        metrics.contains("payments_received_total{status=\"approved\"}"),
        "{metrics}"
    );
    assert!(
        metrics
            .contains("notifications_sent_total{channel=\"whatsapp\",template=\"stay_confirmed\"}")
    );
}

async fn duplicate_webhooks_confirm_once_and_message_once(backend: Backend) {
    let f = Fixture::start(backend).await;
    f.accommodation("lago", 5_000_000).await;
    let r = f.hold("lago", 20, 2).await;
    f.payment_link(r.id).await;
    f.mp.set_payment("777", &approved_for(&r));
    let ts = f.app.state.now().timestamp_millis();
    let responses =
        join_all((0..50).map(|_| f.notify_signed("777", "req-dup", ts, MP_SECRET))).await;
    for res in responses {
        let status = res.status();
        assert_eq!(status, 200, "{}", res.text().await.unwrap());
    }
    f.wait_state(r.id, ReservationState::Confirmed).await;
    // (Jobs due now: past the per-payment look-up budget a duplicate waits for the window's end.)
    f.app.run_pending_jobs().await;
    // A late duplicate after everything settled is processed again and changes nothing.
    assert_eq!(f.notify_payment("777").await.status(), 200);
    f.app.run_pending_jobs().await;

    let history = posada_store::reservations::history(f.app.state.db(), r.id)
        .await
        .unwrap();
    assert_eq!(
        history.iter().filter(|h| h.to_state == "confirmed").count(),
        1
    );
    let rows = f.notifications(r.id).await;
    let confirmations: Vec<_> = rows
        .iter()
        .filter(|n| n.template == "stay_confirmed")
        .collect();
    assert_eq!(confirmations.len(), 2, "one per channel: {rows:#?}");
    let whatsapp_confirmations =
        f.wa.sent()
            .iter()
            .filter(|m| m.body["template"]["name"] == "stay_confirmed")
            .count();
    assert_eq!(whatsapp_confirmations, 1);
    let mail_confirmations = f
        .smtp
        .messages()
        .iter()
        .filter_map(|m| m.parsed())
        .filter(|m| {
            m.subject
                .as_deref()
                .is_some_and(|s| s.contains("confirmada"))
        })
        .count();
    assert_eq!(mail_confirmations, 1);
    let payment = posada_store::payments::get(f.app.state.db(), "mercadopago", "777")
        .await
        .unwrap()
        .unwrap();
    let statuses = posada_store::payments::history(f.app.state.db(), payment.id)
        .await
        .unwrap();
    assert_eq!(statuses.len(), 1);
    assert!(
        f.mp.payment_lookups("777") >= 2,
        "the late duplicate was looked up again"
    );
}

async fn bad_signature_and_stale_timestamp_are_refused_and_store_nothing(backend: Backend) {
    let f = Fixture::start(backend).await;
    f.accommodation("lago", 5_000_000).await;
    let r = f.hold("lago", 20, 2).await;
    f.mp.set_payment("555", &approved_for(&r));
    let now = f.app.state.now().timestamp_millis();
    let cases = [
        (
            "wrong secret",
            f.notify_signed("555", "req-x", now, "not-the-secret").await,
        ),
        (
            "stale ts",
            f.notify_signed("555", "req-x", now - 11 * 60 * 1000, MP_SECRET)
                .await,
        ),
        (
            "stale ts in seconds",
            f.notify_signed("555", "req-x", now / 1000 - 3600, MP_SECRET)
                .await,
        ),
    ];
    for (case, res) in cases {
        assert_eq!(res.status(), 401, "{case}");
        assert_eq!(
            res.headers()["content-type"].to_str().unwrap(),
            "application/problem+json",
            "{case}"
        );
    }
    // A signature over another payment id (the query's data.id is what is signed).
    let res = f
        .app
        .client
        .post(
            f.app
                .url("/api/v1/webhooks/mercadopago?data.id=556&type=payment"),
        )
        .header("x-signature", sign_webhook(MP_SECRET, "555", "req-y", now))
        .header("x-request-id", "req-y")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    // No signature at all on the signed form.
    let res = f
        .app
        .client
        .post(
            f.app
                .url("/api/v1/webhooks/mercadopago?data.id=555&type=payment"),
        )
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    f.settle().await;
    assert_eq!(f.mp.payment_lookups("555"), 0);
    assert_eq!(f.payments_stored().await, 0);
    assert_eq!(
        f.reservation(r.id).await.state,
        ReservationState::PreReserved
    );
}

async fn unknown_payment_changes_nothing(backend: Backend) {
    let f = Fixture::start(backend).await;
    f.accommodation("lago", 5_000_000).await;
    let r = f.hold("lago", 20, 2).await;
    assert_eq!(f.notify_payment("424242").await.status(), 200);
    eventually(WAIT, || async {
        (f.mp.payment_lookups("424242") > 0).then_some(())
    })
    .await;
    f.settle().await;
    assert_eq!(
        f.mp.payment_lookups("424242"),
        posada_server::app::payments::NOT_FOUND_LOOKUPS as usize,
        "a 404 is looked up again a few times, then dropped"
    );
    assert_eq!(f.payments_stored().await, 0);
    assert_eq!(
        f.reservation(r.id).await.state,
        ReservationState::PreReserved
    );
}

async fn a_payment_readable_only_later_is_found_on_a_retry(backend: Backend) {
    // Retries 0.5 s, 1 s, 2 s, 4 s apart: the payment shows up well before they run out.
    let f = Fixture::start_with(backend, |s| s.integration_retry_base_ms = 500).await;
    f.accommodation("lago", 5_000_000).await;
    let r = f.hold("lago", 20, 2).await;
    // The notification comes first; the API does not know the payment yet (404).
    assert_eq!(f.notify_payment("515151").await.status(), 200);
    eventually(WAIT, || async {
        (f.mp.payment_lookups("515151") > 0).then_some(())
    })
    .await;
    // A moment later it does: a retry of the same job finds it and confirms the stay.
    f.mp.set_payment("515151", &approved_for(&r));
    let confirmed = f.wait_state(r.id, ReservationState::Confirmed).await;
    assert_eq!(confirmed.state, ReservationState::Confirmed);
    assert!(f.mp.payment_lookups("515151") >= 2);
    assert_eq!(f.payments_stored().await, 1);
}

async fn short_amount_and_wrong_currency_are_not_confirmed_and_alert_the_owner(backend: Backend) {
    let f = Fixture::start(backend).await;
    f.accommodation("lago", 5_000_000).await;
    let r = f.hold("lago", 20, 2).await;
    // Deposit is $ 30.000,00; pay one peso less.
    assert_eq!(r.deposit.minor, 3_000_000);
    f.mp.set_payment("601", &FakePayment::approved(&r.code, "29999.00"));
    f.notify_payment("601").await;
    let mut usd = approved_for(&r);
    usd.currency_id = "USD".into();
    f.mp.set_payment("602", &usd);
    f.notify_payment("602").await;
    f.settle().await;
    let r2 = f.reservation(r.id).await;
    assert_eq!(r2.state, ReservationState::PreReserved);
    assert!(r2.flags.contains(&"payment_problem".to_string()));
    let alerts: Vec<_> = f
        .notifications(r.id)
        .await
        .into_iter()
        .filter(|n| n.template == "owner_payment_problem")
        .collect();
    assert_eq!(alerts.len(), 2, "one per payment");
    let mails: Vec<_> = f
        .smtp
        .messages()
        .into_iter()
        .filter_map(|m| m.parsed())
        .collect();
    let texts: Vec<String> = mails
        .iter()
        .filter(|m| {
            m.subject
                .as_deref()
                .is_some_and(|s| s.contains("Pago con problemas"))
        })
        .map(|m| m.text.clone().unwrap())
        .collect();
    assert!(
        texts
            .iter()
            .any(|t| t.contains("$ 29.999,00") && t.contains("$ 30.000,00")),
        "{texts:?}"
    );
    assert!(texts.iter().any(|t| t.contains("USD")), "{texts:?}");
    assert_eq!(f.payments_stored().await, 2);
}

/// Make the hold overdue (the clock passes its expiry) and let the expiry run.
pub(crate) async fn expire_now(f: &Fixture, r: &Reservation) {
    let expires_at = r.expires_at.expect("a hold has an expiry");
    f.app
        .clock
        .advance(expires_at - f.app.state.now() + chrono::Duration::seconds(1));
    posada_server::app::booking::expire(&f.app.state, r.id)
        .await
        .unwrap();
    assert_eq!(f.reservation(r.id).await.state, ReservationState::Expired);
}

async fn late_payment_confirms_when_the_nights_are_free(backend: Backend) {
    let f = Fixture::start(backend).await;
    f.accommodation("lago", 5_000_000).await;
    let r = f.hold("lago", 20, 2).await;
    f.payment_link(r.id).await;
    expire_now(&f, &r).await;
    f.mp.set_payment("701", &approved_for(&r));
    f.notify_payment("701").await;
    f.wait_state(r.id, ReservationState::Confirmed).await;
    let history = posada_store::reservations::history(f.app.state.db(), r.id)
        .await
        .unwrap();
    let last = history.last().unwrap();
    assert_eq!(last.from_state.as_deref(), Some("expired"));
    assert_eq!(last.to_state, "confirmed");
    assert_eq!(last.actor, "payment");
    f.settle().await;
    assert!(
        f.notifications(r.id)
            .await
            .iter()
            .any(|n| n.template == "stay_confirmed" && n.status == "sent")
    );
}

async fn late_payment_for_taken_nights_needs_a_refund(backend: Backend) {
    let f = Fixture::start(backend).await;
    f.accommodation("lago", 5_000_000).await;
    let r = f.hold("lago", 20, 2).await;
    expire_now(&f, &r).await;
    // Someone else takes the nights meanwhile.
    let other = f.hold("lago", 20, 2).await;
    f.mp.set_payment("702", &approved_for(&r));
    f.notify_payment("702").await;
    f.settle().await;
    let late = f.reservation(r.id).await;
    assert_eq!(late.state, ReservationState::Expired);
    assert!(late.flags.contains(&"needs_refund".to_string()));
    assert_eq!(
        f.reservation(other.id).await.state,
        ReservationState::PreReserved
    );
    let alert = f
        .notifications(r.id)
        .await
        .into_iter()
        .find(|n| n.template == "owner_refund_alert")
        .expect("owner refund alert");
    assert_eq!(alert.status, "sent");
    assert!(
        f.smtp
            .messages()
            .iter()
            .filter_map(|m| m.parsed())
            .any(|m| {
                m.subject.as_deref()
                    == Some(format!("⚠ Reintegro necesario · reserva {}", r.code).as_str())
            })
    );
}

async fn pending_then_approved_confirms(backend: Backend) {
    let f = Fixture::start(backend).await;
    f.accommodation("lago", 5_000_000).await;
    let r = f.hold("lago", 20, 2).await;
    f.mp.set_payment("801", &approved_for(&r).with_status("pending"));
    f.notify_payment("801").await;
    eventually(WAIT, || async {
        (f.mp.payment_lookups("801") > 0).then_some(())
    })
    .await;
    f.settle().await;
    assert_eq!(
        f.reservation(r.id).await.state,
        ReservationState::PreReserved
    );
    f.mp.set_payment("801", &approved_for(&r));
    f.notify_payment("801").await;
    f.wait_state(r.id, ReservationState::Confirmed).await;
    let payment = posada_store::payments::get(f.app.state.db(), "mercadopago", "801")
        .await
        .unwrap()
        .unwrap();
    let statuses: Vec<String> = posada_store::payments::history(f.app.state.db(), payment.id)
        .await
        .unwrap()
        .into_iter()
        .map(|h| h.status)
        .collect();
    assert_eq!(statuses, ["pending", "approved"]);
    assert_eq!(payment.handled_status.as_deref(), Some("approved"));
}

async fn rejected_payment_tells_the_guest_and_keeps_the_hold(backend: Backend) {
    let f = Fixture::start(backend).await;
    f.accommodation("lago", 5_000_000).await;
    let r = f.hold("lago", 20, 2).await;
    f.payment_link(r.id).await;
    f.mp.set_payment("851", &approved_for(&r).with_status("rejected"));
    f.notify_payment("851").await;
    f.settle().await;
    let held = f.reservation(r.id).await;
    assert_eq!(held.state, ReservationState::PreReserved);
    assert!(held.expires_at.is_some());
    let rejected: Vec<_> = f
        .notifications(r.id)
        .await
        .into_iter()
        .filter(|n| n.template == "payment_rejected")
        .collect();
    assert_eq!(rejected.len(), 2, "whatsapp and e-mail");
    let mail = f
        .smtp
        .messages()
        .into_iter()
        .filter_map(|m| m.parsed())
        .find(|m| {
            m.subject
                .as_deref()
                .is_some_and(|s| s.contains("No se pudo acreditar"))
        })
        .expect("rejection e-mail");
    assert!(mail.text.unwrap().contains(&held.payment_link.unwrap()));
}

async fn refund_flags_and_alerts_the_owner(backend: Backend) {
    let f = Fixture::start(backend).await;
    f.accommodation("lago", 5_000_000).await;
    let r = f.hold("lago", 20, 2).await;
    f.mp.set_payment("901", &approved_for(&r));
    f.notify_payment("901").await;
    f.wait_state(r.id, ReservationState::Confirmed).await;
    f.mp.set_payment("901", &approved_for(&r).with_status("refunded"));
    f.notify_payment("901").await;
    f.settle().await;
    let refunded = f.reservation(r.id).await;
    assert!(refunded.flags.contains(&"refunded".to_string()));
    assert!(
        f.notifications(r.id)
            .await
            .iter()
            .any(|n| n.template == "owner_refund_alert" && n.audience == "owner")
    );
    let metrics = f.app.state.metrics().render();
    assert!(metrics.contains("payments_received_total{status=\"refunded\"}"));
}

async fn legacy_ipn_is_verified_through_the_api(backend: Backend) {
    // The unsigned legacy form is read only by a server with no secret to check.
    let f = Fixture::start_with(backend, |s| s.mercadopago_webhook_secret = None).await;
    f.accommodation("lago", 5_000_000).await;
    let r = f.hold("lago", 20, 2).await;
    f.mp.set_payment("951", &approved_for(&r));
    let res = f
        .app
        .client
        .post(
            f.app
                .url("/api/v1/webhooks/mercadopago?topic=payment&id=951"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    f.wait_state(r.id, ReservationState::Confirmed).await;
    // merchant_order notifications are acknowledged and ignored.
    let res = f
        .app
        .client
        .post(
            f.app
                .url("/api/v1/webhooks/mercadopago?topic=merchant_order&id=1"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

async fn mercado_pago_down_delays_the_link_never_the_hold(backend: Backend) {
    let f = Fixture::start(backend).await;
    f.mp.fail_next(3);
    f.accommodation("lago", 5_000_000).await;
    let r = f.hold("lago", 20, 2).await;
    assert_eq!(r.state, ReservationState::PreReserved);
    let link = f.payment_link(r.id).await;
    assert!(link.contains("pref_id="));
    assert_eq!(f.mp.preferences().len(), 1);
    let attempts: Vec<_> =
        f.mp.requests()
            .into_iter()
            .filter(|q| q.method == "POST" && q.path == "/checkout/preferences")
            .collect();
    assert_eq!(attempts.len(), 4, "three failures then success");
    let key = format!("pref-{}", r.id);
    assert!(
        attempts
            .iter()
            .all(|q| q.header("x-idempotency-key") == Some(key.as_str()))
    );
    assert_eq!(
        f.reservation(r.id).await.state,
        ReservationState::PreReserved
    );
}

/// With `MERCADOPAGO_WEBHOOK_SECRET` set, neither the legacy form nor an unsigned new-style
/// notification is acted on: 401, and Mercado Pago is never asked (issue 15 #6).
async fn with_a_secret_unsigned_notifications_are_refused(backend: Backend) {
    let f = Fixture::start(backend).await;
    f.accommodation("lago", 5_000_000).await;
    let r = f.hold("lago", 20, 2).await;
    f.mp.set_payment("31337", &approved_for(&r));
    for query in ["topic=payment&id=31337", "data.id=31337&type=payment"] {
        let res = f
            .app
            .client
            .post(f.app.url(&format!("/api/v1/webhooks/mercadopago?{query}")))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401, "{query}");
        assert_eq!(res.headers()["content-type"], "application/problem+json");
    }
    f.app.run_pending_jobs().await;
    assert_eq!(f.mp.payment_lookups("31337"), 0);
    assert!(f.app.jobs_of::<ProcessPayment>().await.is_empty());
    assert_eq!(
        f.reservation(r.id).await.state,
        ReservationState::PreReserved
    );
}

/// Twenty notifications about one payment, each after the previous one was processed, start at
/// most three look-ups in the window; the rest share one follow-up at its end (issue 15 #6).
async fn lookups_are_bounded_per_payment_id(backend: Backend) {
    let f = Fixture::start_with(backend, |s| s.mercadopago_webhook_secret = None).await;
    f.accommodation("lago", 5_000_000).await;
    let r = f.hold("lago", 20, 2).await;
    f.mp.set_payment("31337", &approved_for(&r));
    for _ in 0..20 {
        let res = f
            .app
            .client
            .post(
                f.app
                    .url("/api/v1/webhooks/mercadopago?topic=payment&id=31337"),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        f.app.run_pending_jobs().await;
    }
    assert_eq!(f.mp.payment_lookups("31337"), 3);
    f.wait_state(r.id, ReservationState::Confirmed).await;
    let live: Vec<_> = f
        .app
        .jobs_of::<ProcessPayment>()
        .await
        .into_iter()
        .filter(|j| j.state.is_live())
        .collect();
    assert_eq!(
        live.len(),
        1,
        "one follow-up at the end of the window: {live:?}"
    );
}
