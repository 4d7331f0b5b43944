//! Every message posada writes for the owner or a guest reaches them. Each flow runs end to end
//! over HTTP against the fakes, the app's own workers run what it enqueued
//! ([`TestApp::run_pending_jobs`]), and the test reads what arrived: the mail in the SMTP sink,
//! the message at the fake WhatsApp. At the end of each flow every row of the outbox must have
//! been handed to its provider, and the provider must have received it — a message row left
//! `queued` fails the test.

use posada_domain::ReservationState;
use posada_jobs::{Job, JobState};
use posada_server::jobs::alert_check::AlertCheck;
use posada_server::jobs::daily_report::DailyReport;
use posada_store::notifications::Notification;
use posada_testkit::{FakeChannel, ParsedMail, SentRequest};
use serde_json::{Value, json};

use crate::conversations::text_from;
use crate::helpers::{Backend, TestApp, days_from_now, eventually};
use crate::ical::ics;
use crate::on_both;
use crate::payments::{Fixture, GUEST_PHONE, OWNER_EMAIL, approved_for, expire_now};

const GUEST_EMAIL: &str = "ana@example.com";
/// The owner's WhatsApp, as configured and as WhatsApp ids write it.
const OWNER_PHONE: &str = "+54 9 11 4444-0000";
const OWNER_WA: &str = "5491144440000";

on_both!(
    an_ical_conflict_over_a_confirmed_stay_reaches_the_owner,
    a_new_hold_reaches_the_guest_and_the_owner,
    a_paid_deposit_confirms_to_the_guest_on_both_channels_and_tells_the_owner,
    a_late_payment_for_free_nights_confirms_the_stay,
    a_late_payment_for_taken_nights_tells_the_owner_to_refund,
    an_unanswered_conversation_alerts_the_owner,
    the_daily_report_reaches_the_owner,
);

// ---------------------------------------------------------------------------------------------
// Helpers

/// posada wired to the fakes, with the owner reachable by e-mail and WhatsApp.
async fn start(backend: Backend) -> Fixture {
    Fixture::start_with(backend, |s| s.owner_phone = Some(OWNER_PHONE.into())).await
}

/// Every mail the sink received for `to`, decoded.
fn mails_to(f: &Fixture, to: &str) -> Vec<ParsedMail> {
    f.smtp
        .messages()
        .into_iter()
        .filter(|m| m.to.iter().any(|t| t == to))
        .filter_map(|m| m.parsed())
        .collect()
}

/// The one mail to `to` with `subject`; fails naming what did arrive.
fn mail(f: &Fixture, to: &str, subject: &str) -> ParsedMail {
    let mails = mails_to(f, to);
    let found: Vec<&ParsedMail> = mails
        .iter()
        .filter(|m| m.subject.as_deref() == Some(subject))
        .collect();
    let subjects: Vec<Option<&str>> = mails.iter().map(|m| m.subject.as_deref()).collect();
    assert_eq!(
        found.len(),
        1,
        "one mail {subject:?} to {to}; it received {subjects:?}"
    );
    found[0].clone()
}

/// The mail's text part.
fn text(m: &ParsedMail) -> &str {
    m.text.as_deref().unwrap_or_default()
}

/// Every WhatsApp message the fake accepted for `to` (digits).
fn whatsapps_to(f: &Fixture, to: &str) -> Vec<SentRequest> {
    f.wa.sent()
        .into_iter()
        .filter(|m| m.to() == Some(to))
        .collect()
}

/// What a WhatsApp message says: its text, caption or interactive body, or the approved
/// template's name and parameters.
fn words(m: &SentRequest) -> String {
    let b = &m.body;
    match m.kind() {
        Some("text") => b["text"]["body"].as_str().unwrap_or_default().to_string(),
        Some("image") => b["image"]["caption"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        Some("interactive") => b["interactive"]["body"]["text"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        Some("template") => {
            let params = b["template"]["components"][0]["parameters"]
                .as_array()
                .map(|ps| {
                    ps.iter()
                        .filter_map(|p| p["text"].as_str())
                        .collect::<Vec<_>>()
                        .join(" | ")
                })
                .unwrap_or_default();
            format!(
                "[{}] {params}",
                b["template"]["name"].as_str().unwrap_or("?")
            )
        }
        _ => b.to_string(),
    }
}

/// The one WhatsApp message to `to` that mentions every one of `needles`; fails naming what
/// did arrive.
fn whatsapp(f: &Fixture, to: &str, needles: &[&str]) -> SentRequest {
    let sent = whatsapps_to(f, to);
    let found: Vec<&SentRequest> = sent
        .iter()
        .filter(|m| needles.iter().all(|n| words(m).contains(n)))
        .collect();
    let said: Vec<String> = sent.iter().map(words).collect();
    assert_eq!(
        found.len(),
        1,
        "one WhatsApp message to {to} with {needles:?}; it received {said:#?}"
    );
    found[0].clone()
}

/// The approved template's name, when the message went out as one (outside the 24 h window).
fn template_name(m: &SentRequest) -> Option<&str> {
    m.body["template"]["name"].as_str()
}

/// Every row of the outbox, oldest first.
async fn outbox(app: &TestApp) -> Vec<Notification> {
    let sql =
        "SELECT id, reservation_id, audience, channel, recipient, template, data, status, attempts,
                      provider_message_id, last_error, created_at, updated_at
               FROM notifications ORDER BY id";
    match app.state.db() {
        posada_db::Db::Sqlite(p) => sqlx::query_as(sql).fetch_all(p).await.unwrap(),
        posada_db::Db::Postgres(p) => sqlx::query_as(sql).fetch_all(p).await.unwrap(),
    }
}

/// Run the pending jobs, then check that every outbox row was handed to its provider and that
/// the provider received exactly that message (the sink by Message-ID and recipient, the fake
/// WhatsApp by wamid and number). Returns the rows.
async fn every_message_delivered(f: &Fixture) -> Vec<Notification> {
    f.app.run_pending_jobs().await;
    let rows = outbox(&f.app).await;
    let mails = f.smtp.messages();
    let sent = f.wa.sent();
    for n in &rows {
        let what = format!(
            "{} {} {} to {:?} (status {}, attempts {}, error {:?})",
            n.audience, n.channel, n.template, n.recipient, n.status, n.attempts, n.last_error
        );
        assert!(
            matches!(n.status.as_str(), "sent" | "delivered" | "read"),
            "not delivered: {what}"
        );
        let id = n.provider_message_id.as_deref().unwrap_or_default();
        let recipient = n.recipient.as_deref().unwrap_or_default();
        match n.channel.as_str() {
            "email" => {
                let received = mails.iter().any(|m| {
                    m.to.iter().any(|t| t == recipient)
                        && m.parsed().and_then(|p| p.message_id).as_deref()
                            == Some(id.trim_matches(['<', '>']))
                });
                assert!(received, "the SMTP sink never received {what}");
            }
            "whatsapp" => {
                let digits: String = recipient.chars().filter(char::is_ascii_digit).collect();
                let received = sent
                    .iter()
                    .any(|m| m.wamid == id && m.to() == Some(digits.as_str()));
                assert!(received, "the fake WhatsApp never received {what}");
            }
            other => panic!("unknown channel {other}: {what}"),
        }
    }
    rows
}

/// Rows of `template` for `audience`, one per channel the test expects.
fn rows_of<'a>(rows: &'a [Notification], audience: &str, template: &str) -> Vec<&'a Notification> {
    rows.iter()
        .filter(|n| n.audience == audience && n.template == template)
        .collect()
}

/// A hold over HTTP; returns (id, code).
async fn hold(f: &Fixture, slug: &str, from: i64, nights: i64) -> (i64, String) {
    let r = f.hold(slug, from, nights).await;
    (r.id, r.code)
}

/// Ask the scheduler to run periodic task `name` now and wait until the job of `kind` it
/// enqueues exists (the scheduler takes the request within about a second), then run it and
/// what it enqueued.
async fn run_task(f: &Fixture, name: &str, kind: &str) {
    let before = f.app.jobs_of_kind(kind).await.len();
    let path = format!("/api/v1/admin/tasks/{name}/run");
    // The scheduler registers its tasks one by one at start: wait for this one to exist.
    eventually(std::time::Duration::from_secs(20), || async {
        let status = f.app.admin_post(&path, &json!({})).await.status();
        assert!(!status.is_server_error(), "running {name}: {status}");
        (status == 202).then_some(())
    })
    .await;
    eventually(std::time::Duration::from_secs(20), || async {
        (f.app.jobs_of_kind(kind).await.len() > before).then_some(())
    })
    .await;
    f.app.run_pending_jobs().await;
    let job = &f.app.jobs_of_kind(kind).await[0];
    assert_eq!(job.state, JobState::Completed, "{job:?}");
}

fn es_ar(days: i64) -> String {
    chrono::NaiveDate::parse_from_str(&days_from_now(days), "%Y-%m-%d")
        .unwrap()
        .format("%d/%m/%Y")
        .to_string()
}

// ---------------------------------------------------------------------------------------------
// Flows

async fn an_ical_conflict_over_a_confirmed_stay_reaches_the_owner(backend: Backend) {
    let f = start(backend).await;
    let channel = FakeChannel::start().await;
    let acc = f.app.create_accommodation("bosque", 5_000_000).await["id"]
        .as_i64()
        .unwrap();
    let (id, code) = hold(&f, "bosque", 10, 3).await;
    // The owner confirms the stay (deposit in cash): guest and owner hear of it.
    let res = f
        .app
        .admin_post(
            &format!("/api/v1/admin/reservations/{id}/confirm"),
            &json!({"reason": "seña en efectivo"}),
        )
        .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    f.app.run_pending_jobs().await;
    let confirmed = mail(&f, GUEST_EMAIL, &format!("¡Reserva {code} confirmada!"));
    assert!(text(&confirmed).contains(&es_ar(10)), "{confirmed:?}");
    let notice = mail(
        &f,
        OWNER_EMAIL,
        &format!("Reserva {code} confirmada · Cabaña bosque"),
    );
    assert!(text(&notice).contains("Ana Pérez"), "{notice:?}");

    // Airbnb reports the second night taken: the owner is told on both channels.
    channel.set_feed(
        "/bosque.ics",
        ics(&[("over@airbnb.com", days_from_now(11), days_from_now(12))]),
    );
    let feed = f
        .app
        .admin_post(
            "/api/v1/admin/feeds",
            &json!({"accommodation_id": acc, "channel": "airbnb", "url": channel.url("/bosque.ics")}),
        )
        .await;
    assert_eq!(feed.status(), 201);
    let feed_id = feed.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let res = f
        .app
        .admin_post(&format!("/api/v1/admin/feeds/{feed_id}/sync"), &json!({}))
        .await;
    assert_eq!(res.status(), 202);
    f.app.run_pending_jobs().await;
    let conflicts: Value = f
        .app
        .admin_get("/api/v1/admin/conflicts")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        conflicts["conflicts"].as_array().unwrap().len(),
        1,
        "{conflicts}"
    );

    let alert = mail(
        &f,
        OWNER_EMAIL,
        &format!("⚠ Conflicto de fechas · reserva {code}"),
    );
    let body = text(&alert);
    assert!(body.contains("Airbnb informa ocupado"), "{body}");
    assert!(body.contains(&es_ar(11)), "{body}");
    let wa = whatsapp(&f, OWNER_WA, &["owner_conflict_alert", &code]);
    assert_eq!(template_name(&wa), Some("owner_conflict_alert"));

    let rows = every_message_delivered(&f).await;
    assert_eq!(rows_of(&rows, "owner", "owner_conflict_alert").len(), 2);
}

async fn a_new_hold_reaches_the_guest_and_the_owner(backend: Backend) {
    let f = start(backend).await;
    // The guest wrote first: the 24 h window is open, free-form messages go out.
    f.guest_writes(GUEST_PHONE, "wamid.in-hold").await;
    f.accommodation("lago", 5_000_000).await;
    let r = f.hold("lago", 20, 2).await;
    let code = r.code.clone();
    f.app.run_pending_jobs().await;

    // The guest: the hold (photo and caption on WhatsApp, mail), then the payment link.
    let held = mail(
        &f,
        GUEST_EMAIL,
        &format!("Tu prerreserva {code} en Cabaña lago"),
    );
    assert!(text(&held).contains(&es_ar(20)), "{held:?}");
    let photo = whatsapp(&f, GUEST_PHONE, &[&code, "Te guardamos"]);
    assert_eq!(photo.kind(), Some("image"));
    let link = f.payment_link(r.id).await;
    let link_mail = mail(
        &f,
        GUEST_EMAIL,
        &format!("Link de pago de la seña · reserva {code}"),
    );
    assert!(text(&link_mail).contains(&link), "{link_mail:?}");
    whatsapp(&f, GUEST_PHONE, &[&link]);

    // The owner: a new hold, by mail and by the approved WhatsApp template.
    let owner = mail(
        &f,
        OWNER_EMAIL,
        &format!("Nueva prerreserva {code} · Cabaña lago"),
    );
    assert!(text(&owner).contains("Ana Pérez"), "{owner:?}");
    let wa = whatsapp(&f, OWNER_WA, &["owner_new_reservation", &code]);
    assert_eq!(template_name(&wa), Some("owner_new_reservation"));

    let rows = every_message_delivered(&f).await;
    for (audience, template, channels) in [
        ("guest", "hold_created", 2),
        ("guest", "hold_payment_link", 2),
        ("owner", "owner_new_reservation", 2),
    ] {
        assert_eq!(
            rows_of(&rows, audience, template).len(),
            channels,
            "{template}"
        );
    }
}

async fn a_paid_deposit_confirms_to_the_guest_on_both_channels_and_tells_the_owner(
    backend: Backend,
) {
    let f = start(backend).await;
    f.guest_writes(GUEST_PHONE, "wamid.in-pay").await;
    f.accommodation("lago", 5_000_000).await;
    let r = f.hold("lago", 30, 3).await;
    f.app.run_pending_jobs().await;
    f.mp.set_payment("9101", &approved_for(&r));
    assert_eq!(f.notify_payment("9101").await.status(), 200);
    f.app.run_pending_jobs().await;
    assert_eq!(f.reservation(r.id).await.state, ReservationState::Confirmed);

    let guest = mail(&f, GUEST_EMAIL, &format!("¡Reserva {} confirmada!", r.code));
    for needle in [&es_ar(30), &es_ar(33), "$ 45.000,00"] {
        assert!(text(&guest).contains(needle), "{needle} in {guest:?}");
    }
    let photo = whatsapp(&f, GUEST_PHONE, &[&r.code, "confirmada"]);
    assert_eq!(photo.kind(), Some("image"));
    assert!(words(&photo).contains("$ 105.000,00"), "{}", words(&photo));

    let owner = mail(
        &f,
        OWNER_EMAIL,
        &format!("Pago recibido · reserva {}", r.code),
    );
    assert!(text(&owner).contains("$ 45.000,00"), "{owner:?}");
    whatsapp(&f, OWNER_WA, &["owner_payment_received", &r.code]);

    let rows = every_message_delivered(&f).await;
    assert_eq!(rows_of(&rows, "guest", "stay_confirmed").len(), 2);
    assert_eq!(rows_of(&rows, "owner", "owner_payment_received").len(), 2);
}

async fn a_late_payment_for_free_nights_confirms_the_stay(backend: Backend) {
    let f = start(backend).await;
    f.accommodation("lago", 5_000_000).await;
    let r = f.hold("lago", 20, 2).await;
    f.payment_link(r.id).await;
    expire_now(&f, &r).await;
    f.app.run_pending_jobs().await;
    // The guest was told the hold lapsed (outside the window: the approved template).
    let lapsed = mail(
        &f,
        GUEST_EMAIL,
        &format!("Venció tu prerreserva {}", r.code),
    );
    assert!(text(&lapsed).contains(&es_ar(20)), "{lapsed:?}");
    whatsapp(&f, GUEST_PHONE, &["[hold_expired]"]);

    // The deposit arrives after all; the nights are still free: the stay is confirmed.
    f.mp.set_payment("9201", &approved_for(&r));
    assert_eq!(f.notify_payment("9201").await.status(), 200);
    f.app.run_pending_jobs().await;
    assert_eq!(f.reservation(r.id).await.state, ReservationState::Confirmed);
    let guest = mail(&f, GUEST_EMAIL, &format!("¡Reserva {} confirmada!", r.code));
    assert!(text(&guest).contains(&es_ar(20)), "{guest:?}");
    let wa = whatsapp(&f, GUEST_PHONE, &["[stay_confirmed]", &r.code]);
    assert_eq!(template_name(&wa), Some("stay_confirmed"));
    mail(
        &f,
        OWNER_EMAIL,
        &format!("Pago recibido · reserva {}", r.code),
    );

    let rows = every_message_delivered(&f).await;
    assert_eq!(rows_of(&rows, "guest", "hold_expired").len(), 2);
    assert_eq!(rows_of(&rows, "guest", "stay_confirmed").len(), 2);
}

async fn a_late_payment_for_taken_nights_tells_the_owner_to_refund(backend: Backend) {
    let f = start(backend).await;
    f.accommodation("lago", 5_000_000).await;
    let r = f.hold("lago", 20, 2).await;
    expire_now(&f, &r).await;
    // Someone else takes the nights meanwhile.
    let other = f.hold("lago", 20, 2).await;
    f.app.run_pending_jobs().await;
    f.mp.set_payment("9301", &approved_for(&r));
    assert_eq!(f.notify_payment("9301").await.status(), 200);
    f.app.run_pending_jobs().await;
    assert_eq!(f.reservation(r.id).await.state, ReservationState::Expired);
    assert_eq!(
        f.reservation(other.id).await.state,
        ReservationState::PreReserved
    );

    // The owner is told at once, on both channels…
    let refund = mail(
        &f,
        OWNER_EMAIL,
        &format!("⚠ Reintegro necesario · reserva {}", r.code),
    );
    assert!(text(&refund).contains("9301"), "{refund:?}");
    whatsapp(&f, OWNER_WA, &["[owner_refund_alert]", &r.code]);
    // …and the late guest gets no confirmation.
    let confirmations = mails_to(&f, GUEST_EMAIL)
        .iter()
        .filter(|m| m.subject.as_deref() == Some(&format!("¡Reserva {} confirmada!", r.code)))
        .count();
    assert_eq!(confirmations, 0);

    // The alert check finds the reservation waiting for its refund and mails the owner once.
    run_task(&f, "alert-check", AlertCheck::KIND).await;
    let alerts: Vec<ParsedMail> = mails_to(&f, OWNER_EMAIL)
        .into_iter()
        .filter(|m| m.subject.as_deref() == Some("⚠ Alerta de posada"))
        .collect();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert!(text(&alerts[0]).contains(&r.code), "{:?}", alerts[0]);
    assert!(text(&alerts[0]).contains("reintegro"), "{:?}", alerts[0]);

    let rows = every_message_delivered(&f).await;
    assert_eq!(rows_of(&rows, "owner", "owner_refund_alert").len(), 2);
    assert_eq!(rows_of(&rows, "owner", "owner_alert").len(), 1);
}

async fn an_unanswered_conversation_alerts_the_owner(backend: Backend) {
    // The assistant off: the guest's message goes straight to a person.
    let f = Fixture::start_with(backend, |s| {
        s.owner_phone = Some(OWNER_PHONE.into());
        s.assistant_enabled = false;
    })
    .await;
    text_from(
        &f,
        GUEST_PHONE,
        "wamid.unanswered",
        "¿Me pueden llamar?",
        chrono::Duration::hours(2),
    )
    .await;
    run_task(&f, "alert-check", AlertCheck::KIND).await;
    let alerts: Vec<ParsedMail> = mails_to(&f, OWNER_EMAIL)
        .into_iter()
        .filter(|m| m.subject.as_deref() == Some("⚠ Alerta de posada"))
        .collect();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    let body = text(&alerts[0]);
    assert!(body.contains(GUEST_PHONE), "{body}");
    assert!(body.contains("WhatsApp"), "{body}");

    let rows = every_message_delivered(&f).await;
    assert_eq!(rows_of(&rows, "owner", "owner_alert").len(), 1);
}

async fn the_daily_report_reaches_the_owner(backend: Backend) {
    let f = start(backend).await;
    f.accommodation("lago", 5_000_000).await;
    // A stay of three nights from tomorrow, confirmed by the owner.
    let (id, _) = hold(&f, "lago", 1, 3).await;
    let res = f
        .app
        .admin_post(
            &format!("/api/v1/admin/reservations/{id}/confirm"),
            &json!({"reason": "seña en efectivo"}),
        )
        .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    run_task(&f, "daily-report", DailyReport::KIND).await;
    let reports: Vec<ParsedMail> = mails_to(&f, OWNER_EMAIL)
        .into_iter()
        .filter(|m| {
            m.subject
                .as_deref()
                .is_some_and(|s| s.starts_with("Informe diario · "))
        })
        .collect();
    assert_eq!(reports.len(), 1, "{reports:?}");
    let body = text(&reports[0]);
    assert!(body.contains("OCUPACIÓN"), "{body}");
    assert!(
        body.contains("Próximos 7 días: 43% (3 de 7 noches)"),
        "{body}"
    );

    let rows = every_message_delivered(&f).await;
    assert_eq!(rows_of(&rows, "owner", "owner_daily_report").len(), 1);
}
