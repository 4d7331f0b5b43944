//! Guest WhatsApp conversations over HTTP, against the fake WhatsApp and the SMTP sink: a guest
//! message hands the conversation to a person, the owner reads and answers it through the admin
//! API (only inside the 24 h window), an unanswered conversation alerts the owner once, the
//! cleanup lets a lapsed state go, and the hold reminder's buttons cancel the hold or send the
//! payment link again — only for the guest's own hold. The guest assistant is switched off here.

use std::time::Duration;

use posada_domain::ReservationState;
use serde_json::{Value, json};

use crate::helpers::{Backend, eventually};
use crate::on_both;
use crate::payments::{Fixture, GUEST_PHONE, OWNER_EMAIL, WA_SECRET};

const WAIT: Duration = Duration::from_secs(20);
const OTHER_PHONE: &str = "5493415550000";

async fn json_of(res: reqwest::Response) -> (u16, Value) {
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// These tests are about the hand-off itself: the assistant is off, so every guest message goes
/// to a person (the assistant's own hand-offs are in `assistant.rs`).
fn no_assistant(s: &mut posada_server::config::Settings) {
    s.assistant_enabled = false;
}

/// Unix seconds `ago` before now, as WhatsApp's `timestamp`.
fn ts(ago: chrono::Duration) -> String {
    (chrono::Utc::now() - ago).timestamp().to_string()
}

/// The guest (or anyone) writes a text, sent `ago` before now.
pub(crate) async fn text_from(
    f: &Fixture,
    from: &str,
    wamid: &str,
    body: &str,
    ago: chrono::Duration,
) {
    let payload = posada_testkit::webhook_message(
        "1234567890",
        from,
        "Ana",
        wamid,
        json!({"type": "text", "text": {"body": body}, "timestamp": ts(ago)}),
    )
    .to_string();
    let (status, body) = json_of(f.whatsapp_webhook(&payload, WA_SECRET).await).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["duplicate"], false, "{body}");
}

/// A tap on a reply button `id` (as the hold reminder sends them), at unix second `timestamp`.
async fn tap(f: &Fixture, from: &str, wamid: &str, id: &str, title: &str, timestamp: &str) {
    let payload = posada_testkit::webhook_message(
        "1234567890",
        from,
        "Ana",
        wamid,
        json!({"type": "interactive", "timestamp": timestamp,
               "interactive": {"type": "button_reply", "button_reply": {"id": id, "title": title}}}),
    )
    .to_string();
    let (status, body) = json_of(f.whatsapp_webhook(&payload, WA_SECRET).await).await;
    assert_eq!(status, 200, "{body}");
}

async fn conversation(f: &Fixture, phone: &str) -> (u16, Value) {
    json_of(
        f.app
            .admin_get(&format!("/api/v1/admin/conversations/{phone}"))
            .await,
    )
    .await
}

/// Wait for the conversation with `phone` to satisfy `check`.
async fn conversation_when(f: &Fixture, phone: &str, check: impl Fn(&Value) -> bool) -> Value {
    eventually(WAIT, || async {
        let (status, body) = conversation(f, phone).await;
        (status == 200 && check(&body)).then_some(body)
    })
    .await
}

async fn reply(f: &Fixture, phone: &str, body: &Value) -> (u16, Value) {
    json_of(
        f.app
            .admin_post(&format!("/api/v1/admin/conversations/{phone}/reply"), body)
            .await,
    )
    .await
}

/// Texts the fake WhatsApp accepted for `to`.
/// How many messages of any kind went to `to`.
fn all_to(f: &Fixture, to: &str) -> usize {
    f.wa.sent()
        .into_iter()
        .filter(|m| m.to() == Some(to))
        .count()
}

fn texts_to(f: &Fixture, to: &str) -> Vec<String> {
    f.wa.sent()
        .into_iter()
        .filter(|m| m.to() == Some(to) && m.kind() == Some("text"))
        .filter_map(|m| m.body["text"]["body"].as_str().map(str::to_string))
        .collect()
}

/// Ask the scheduler to run periodic task `name` now (it registers its tasks one by one at start:
/// wait for this one to exist).
async fn run_task(f: &Fixture, name: &str) {
    let path = format!("/api/v1/admin/tasks/{name}/run");
    eventually(WAIT, || async {
        let (status, _) = json_of(f.app.admin_post(&path, &json!({})).await).await;
        assert_ne!(status / 100, 5, "running {name}");
        (status == 202).then_some(())
    })
    .await;
}

/// The owner's alert e-mails about WhatsApp conversations the SMTP sink received.
fn alert_mails(f: &Fixture) -> Vec<String> {
    f.smtp
        .messages()
        .iter()
        .filter_map(|m| m.parsed())
        .filter(|m| {
            m.to.iter().any(|t| t == OWNER_EMAIL)
                && m.subject.as_deref().is_some_and(|s| s.contains("Alerta"))
        })
        .map(|m| m.text.unwrap_or_default())
        .filter(|text| text.contains("WhatsApp"))
        .collect()
}

on_both!(
    a_guest_message_waits_for_a_person_who_reads_and_answers_it,
    an_hour_unanswered_alerts_the_owner_once_and_the_reply_clears_it,
    after_a_day_the_window_is_closed_and_the_cleanup_lets_the_state_go,
    the_cancel_button_cancels_only_the_guests_own_hold,
    the_pay_button_sends_the_payment_link_again,
    the_owner_answers_and_resolves_from_the_dashboard,
    the_owner_takes_a_conversation_over_and_gives_it_back,
);

/// Log in to the dashboard; the session cookie and the CSRF token of the page.
async fn dashboard_session(f: &Fixture, client: &reqwest::Client) -> (String, String) {
    let res = crate::helpers::dashboard_login(&f.app, client, DASHBOARD_PASSWORD).await;
    assert_eq!(res.status(), 303);
    let cookie = res.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let html = dashboard_html(f, client, &cookie).await;
    let marker = "name=\"csrf_token\" value=\"";
    let start = html.find(marker).unwrap() + marker.len();
    (cookie, html[start..start + 64].to_string())
}

async fn dashboard_html(f: &Fixture, client: &reqwest::Client, cookie: &str) -> String {
    let res = client
        .get(f.app.url("/dashboard"))
        .header("Cookie", cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.text().await.unwrap()
}

const DASHBOARD_PASSWORD: &str = "una clave larga del dueño";

async fn the_owner_answers_and_resolves_from_the_dashboard(backend: Backend) {
    let hash = posada_server::http::dashboard::hash_password(DASHBOARD_PASSWORD).unwrap();
    let f = Fixture::start_with(backend, |s| {
        s.owner_password_hash = Some(posada_server::config::Secret::new(hash));
        no_assistant(s);
    })
    .await;
    text_from(
        &f,
        GUEST_PHONE,
        "wamid.d1",
        "¿Aceptan mascotas?",
        chrono::Duration::minutes(5),
    )
    .await;
    text_from(
        &f,
        OTHER_PHONE,
        "wamid.d2",
        "¿Hay lugar en enero?",
        chrono::Duration::minutes(2),
    )
    .await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let (cookie, csrf) = dashboard_session(&f, &client).await;
    let get = |path: String| {
        let client = client.clone();
        let cookie = cookie.clone();
        let url = f.app.url(&path);
        async move {
            let res = client
                .get(url)
                .header("Cookie", cookie)
                .send()
                .await
                .unwrap();
            (res.status().as_u16(), res.text().await.unwrap())
        }
    };
    let (status, html) = get("/dashboard/conversaciones?filtro=esperando".into()).await;
    assert_eq!(status, 200);
    assert!(html.contains("¿Aceptan mascotas?"), "{html}");
    assert!(html.contains("¿Hay lugar en enero?"), "{html}");
    // The phone never goes into a link: each thread is named by an opaque reference.
    let links: Vec<String> = html
        .split("href=\"/dashboard/conversaciones/")
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap().to_string())
        .filter(|r| r.len() == 24)
        .collect();
    assert_eq!(links.len(), 2, "{html}");
    assert!(!html.contains(&format!("conversaciones/{GUEST_PHONE}")));
    let mut refs = std::collections::HashMap::new();
    for r in &links {
        let (status, page) = get(format!("/dashboard/conversaciones/{r}")).await;
        assert_eq!(status, 200);
        let phone = if page.contains("¿Aceptan mascotas?") {
            GUEST_PHONE
        } else {
            OTHER_PHONE
        };
        refs.insert(phone, r.clone());
    }
    let guest = &refs[GUEST_PHONE];
    let other = &refs[OTHER_PHONE];
    let post = |path: String, form: Vec<(&'static str, String)>| {
        let client = client.clone();
        let cookie = cookie.clone();
        let url = f.app.url(&path);
        async move {
            client
                .post(url)
                .header("Cookie", cookie)
                .form(&form)
                .send()
                .await
                .unwrap()
        }
    };

    // A reply without the CSRF token is refused and sends nothing.
    let res = post(
        format!("/dashboard/conversaciones/{guest}/responder"),
        vec![("text", "Sí, con gusto".into())],
    )
    .await;
    assert_eq!(res.status(), 403);
    assert!(texts_to(&f, GUEST_PHONE).is_empty());
    // An empty answer is refused with a message for the owner, on the thread itself.
    let res = post(
        format!("/dashboard/conversaciones/{guest}/responder"),
        vec![("csrf_token", csrf.clone()), ("text", "  ".into())],
    )
    .await;
    assert_eq!(res.status(), 422);
    let page = res.text().await.unwrap();
    assert!(page.contains("Escribí la respuesta"), "{page}");
    assert!(page.contains("¿Aceptan mascotas?"), "{page}");

    // The answer reaches WhatsApp and the conversation stops waiting.
    let res = post(
        format!("/dashboard/conversaciones/{guest}/responder"),
        vec![
            ("csrf_token", csrf.clone()),
            ("text", "Sí, aceptamos mascotas chicas.".into()),
        ],
    )
    .await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        res.headers()["location"],
        format!("/dashboard/conversaciones/{guest}?aviso=enviada").as_str()
    );
    assert_eq!(
        texts_to(&f, GUEST_PHONE),
        vec!["Sí, aceptamos mascotas chicas.".to_string()]
    );
    let (_, c) = conversation(&f, GUEST_PHONE).await;
    assert!(c["awaiting_since"].is_null(), "{c}");
    let (_, page) = get(format!("/dashboard/conversaciones/{guest}?aviso=enviada")).await;
    assert!(page.contains("Respuesta enviada por WhatsApp."), "{page}");
    assert!(page.contains("Sí, aceptamos mascotas chicas."), "{page}");

    // The other one was answered by phone: marked handled, nothing sent.
    let res = post(
        format!("/dashboard/conversaciones/{other}/atendida"),
        vec![("csrf_token", csrf.clone())],
    )
    .await;
    assert_eq!(res.status(), 303);
    assert!(texts_to(&f, OTHER_PHONE).is_empty());
    let (_, html) = get("/dashboard/conversaciones?filtro=esperando".into()).await;
    assert!(html.contains("Ningún huésped espera respuesta"), "{html}");
    // An unknown reference: 404 with a page, nothing done.
    let res = post(
        format!("/dashboard/conversaciones/{}/atendida", "0".repeat(24)),
        vec![("csrf_token", csrf.clone())],
    )
    .await;
    assert_eq!(res.status(), 404);
}

/// The owner takes a conversation over (the assistant stays quiet) and gives it back (it answers
/// again).
async fn the_owner_takes_a_conversation_over_and_gives_it_back(backend: Backend) {
    let hash = posada_server::http::dashboard::hash_password(DASHBOARD_PASSWORD).unwrap();
    let f = Fixture::start_with(backend, |s| {
        s.owner_password_hash = Some(posada_server::config::Secret::new(hash));
    })
    .await;
    text_from(
        &f,
        GUEST_PHONE,
        "wamid.t1",
        "hola",
        chrono::Duration::minutes(5),
    )
    .await;
    f.app.run_pending_jobs().await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let (cookie, csrf) = dashboard_session(&f, &client).await;
    let key = posada_server::app::guest_links::key(&f.app.state)
        .await
        .unwrap();
    let reference = posada_server::app::guest_links::conversation_ref(key, GUEST_PHONE);
    let page = |cookie: String| {
        let client = client.clone();
        let url = f.app.url(&format!("/dashboard/conversaciones/{reference}"));
        async move {
            client
                .get(url)
                .header("Cookie", cookie)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        }
    };
    let html = page(cookie.clone()).await;
    assert!(
        html.contains("El asistente responde esta conversación."),
        "{html}"
    );
    let res = client
        .post(
            f.app
                .url(&format!("/dashboard/conversaciones/{reference}/tomar")),
        )
        .header("Cookie", &cookie)
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let html = page(cookie.clone()).await;
    assert!(html.contains("Devolver al asistente"), "{html}");
    // Taken over: a new guest message gets no assistant answer.
    let before = all_to(&f, GUEST_PHONE);
    text_from(
        &f,
        GUEST_PHONE,
        "wamid.t2",
        "del 10 al 12 de marzo para 2",
        chrono::Duration::minutes(1),
    )
    .await;
    f.app.run_pending_jobs().await;
    assert_eq!(
        all_to(&f, GUEST_PHONE),
        before,
        "the assistant stays quiet in a conversation the owner took"
    );
    let res = client
        .post(
            f.app
                .url(&format!("/dashboard/conversaciones/{reference}/devolver")),
        )
        .header("Cookie", &cookie)
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let html = page(cookie.clone()).await;
    assert!(
        html.contains("El asistente responde esta conversación."),
        "{html}"
    );
    assert!(
        html.contains("del 10 al 12 de marzo para 2"),
        "the whole thread: {html}"
    );
}

async fn a_guest_message_waits_for_a_person_who_reads_and_answers_it(backend: Backend) {
    let f = Fixture::start_with(backend, no_assistant).await;
    text_from(
        &f,
        GUEST_PHONE,
        "wamid.q1",
        "Hola, ¿tienen cochera techada?",
        chrono::Duration::minutes(3),
    )
    .await;

    let (status, page) = json_of(
        f.app
            .admin_get("/api/v1/admin/conversations?awaiting=true")
            .await,
    )
    .await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["total"], 1);
    let item = &page["items"][0];
    assert_eq!(item["phone"], GUEST_PHONE);
    assert!(item["awaiting_since"].is_string(), "{item}");
    assert!(item["handed_off_at"].is_string());
    assert_eq!(item["handoff_reason"], "guest_message");
    assert_eq!(item["window_open"], true);
    assert!(item["window_open_until"].is_string());
    assert_eq!(
        item["last_message"]["preview"],
        "Hola, ¿tienen cochera techada?"
    );
    assert_eq!(item["last_message"]["direction"], "in");
    let (_, none) = json_of(
        f.app
            .admin_get("/api/v1/admin/conversations?awaiting=false")
            .await,
    )
    .await;
    assert_eq!(none["total"], 0);
    let (status, bad) = json_of(f.app.admin_get("/api/v1/admin/conversations?limit=0").await).await;
    assert_eq!(status, 422);
    assert_eq!(bad["errors"][0]["field"], "limit");

    // The owner reads it; a read-only token may read but not answer.
    let (status, detail) = conversation(&f, GUEST_PHONE).await;
    assert_eq!(status, 200, "{detail}");
    assert_eq!(
        detail["messages"][0]["body"],
        "Hola, ¿tienen cochera techada?"
    );
    assert_eq!(detail["messages"][0]["kind"], "text");
    let res = f
        .app
        .client
        .post(
            f.app
                .url(&format!("/api/v1/admin/conversations/{GUEST_PHONE}/reply")),
        )
        .bearer_auth(&f.app.read_token)
        .json(&json!({"text": "Sí"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);

    // Bad texts name the field.
    for body in [
        json!({"text": "   "}),
        json!({"text": "x".repeat(4097)}),
        json!({}),
    ] {
        let (status, problem) = reply(&f, GUEST_PHONE, &body).await;
        assert_eq!(status, 422, "{problem}");
        assert_eq!(problem["errors"][0]["field"], "text", "{problem}");
    }
    assert!(texts_to(&f, GUEST_PHONE).is_empty());

    // The answer reaches WhatsApp; nothing waits any more.
    let (status, answered) = reply(
        &f,
        GUEST_PHONE,
        &json!({"text": "¡Hola Ana! Sí, tenemos cochera techada."}),
    )
    .await;
    assert_eq!(status, 200, "{answered}");
    assert_eq!(
        texts_to(&f, GUEST_PHONE),
        ["¡Hola Ana! Sí, tenemos cochera techada."]
    );
    assert!(answered["awaiting_since"].is_null(), "{answered}");
    assert!(answered["last_reply_at"].is_string());
    assert!(answered["handed_off_at"].is_string(), "still with a person");
    assert_eq!(answered["sent"]["direction"], "out");
    let messages = answered["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[1]["direction"], "out", "newest last");
    assert_eq!(
        messages[1]["body"],
        "¡Hola Ana! Sí, tenemos cochera techada."
    );
    let (_, waiting) = json_of(
        f.app
            .admin_get("/api/v1/admin/conversations?awaiting=true")
            .await,
    )
    .await;
    assert_eq!(waiting["total"], 0);

    // Resolved: no longer handed off.
    let (status, resolved) = json_of(
        f.app
            .admin_post(
                &format!("/api/v1/admin/conversations/{GUEST_PHONE}/resolve"),
                &json!({}),
            )
            .await,
    )
    .await;
    assert_eq!(status, 200, "{resolved}");
    assert!(resolved["handed_off_at"].is_null());
    assert!(resolved["handoff_reason"].is_null());

    // Unknown conversations are 404 problems.
    for res in [
        f.app
            .admin_get(&format!("/api/v1/admin/conversations/{OTHER_PHONE}"))
            .await,
        f.app
            .admin_post(
                &format!("/api/v1/admin/conversations/{OTHER_PHONE}/reply"),
                &json!({"text": "hola"}),
            )
            .await,
        f.app
            .admin_post(
                &format!("/api/v1/admin/conversations/{OTHER_PHONE}/resolve"),
                &json!({}),
            )
            .await,
        f.app
            .admin_get("/api/v1/admin/conversations/not-a-phone")
            .await,
    ] {
        assert_eq!(res.status(), 404);
        assert_eq!(res.headers()["content-type"], "application/problem+json");
    }
}

async fn an_hour_unanswered_alerts_the_owner_once_and_the_reply_clears_it(backend: Backend) {
    let f = Fixture::start_with(backend, no_assistant).await;
    text_from(
        &f,
        GUEST_PHONE,
        "wamid.old1",
        "¿Me pueden llamar?",
        chrono::Duration::hours(2),
    )
    .await;
    let key = format!("conversation_unanswered:{GUEST_PHONE}");

    // The periodic check, run now through the admin API: one alert e-mail to the owner.
    run_task(&f, "alert-check").await;
    let mails = eventually(WAIT, || async {
        let mails = alert_mails(&f);
        (!mails.is_empty()).then_some(mails)
    })
    .await;
    assert_eq!(mails.len(), 1);
    assert!(mails[0].contains(GUEST_PHONE), "{}", mails[0]);
    assert!(mails[0].contains("WhatsApp"), "{}", mails[0]);
    let alert = posada_store::ops::alert(f.app.state.db(), &key)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(alert.state, "open");
    assert_eq!(alert.kind, "conversation_unanswered");

    // A second check: still unanswered, no second notice.
    let found = posada_server::app::alerts::findings(&f.app.state)
        .await
        .unwrap();
    assert!(found.iter().any(|x| x.key == key));
    let notified = posada_server::app::alerts::apply_findings(&f.app.state, &found, None)
        .await
        .unwrap();
    assert!(!notified.contains(&key), "{notified:?}");
    f.settle().await;
    assert_eq!(alert_mails(&f).len(), 1);

    // The owner answers: WhatsApp gets the text and the alert clears at the next check.
    let (status, body) = reply(&f, GUEST_PHONE, &json!({"text": "Te llamo en 5 minutos."})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(texts_to(&f, GUEST_PHONE), ["Te llamo en 5 minutos."]);
    let found = posada_server::app::alerts::findings(&f.app.state)
        .await
        .unwrap();
    assert!(!found.iter().any(|x| x.key == key));
    posada_server::app::alerts::apply_findings(&f.app.state, &found, None)
        .await
        .unwrap();
    let alert = posada_store::ops::alert(f.app.state.db(), &key)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(alert.state, "cleared");
    assert_eq!(alert_mails(&f).len(), 1);
}

async fn after_a_day_the_window_is_closed_and_the_cleanup_lets_the_state_go(backend: Backend) {
    let f = Fixture::start_with(backend, no_assistant).await;
    text_from(
        &f,
        GUEST_PHONE,
        "wamid.ayer",
        "¿Hay lugar el finde?",
        chrono::Duration::hours(25),
    )
    .await;
    // (The scheduler may run the cleanup at any moment, so the hand-off itself is not asserted
    // here: the window is, and it does not depend on the cleanup.)
    let (_, before) = conversation(&f, GUEST_PHONE).await;
    assert_eq!(before["window_open"], false, "{before}");

    // Too late for a free-form message: the guest must write first.
    let (status, problem) = reply(&f, GUEST_PHONE, &json!({"text": "¡Sí, hay lugar!"})).await;
    assert_eq!(status, 409, "{problem}");
    assert_eq!(problem["type"], "/problems/whatsapp-window-closed");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("the guest must write first"),
        "{problem}"
    );
    assert!(texts_to(&f, GUEST_PHONE).is_empty());

    // The hourly cleanup, run now: the state lapsed with the window; the message stays readable.
    run_task(&f, "cleanup").await;
    let after = conversation_when(&f, GUEST_PHONE, |c| c["handed_off_at"].is_null()).await;
    assert!(after["awaiting_since"].is_null());
    assert!(after["state_expires_at"].is_null());
    assert_eq!(after["messages"][0]["body"], "¿Hay lugar el finde?");
    let metrics = f.app.state.metrics().render();
    assert!(
        metrics.contains("conversations_expired_total 1"),
        "{metrics}"
    );
    // Nothing to alert about any more.
    let found = posada_server::app::alerts::findings(&f.app.state)
        .await
        .unwrap();
    assert!(!found.iter().any(|x| x.kind == "conversation_unanswered"));
}

async fn the_cancel_button_cancels_only_the_guests_own_hold(backend: Backend) {
    let f = Fixture::start_with(backend, no_assistant).await;
    f.accommodation("lago", 5_000_000).await;
    let r = f.hold("lago", 20, 2).await;
    let cancel = format!("cancel:{}", r.code);
    let now = ts(chrono::Duration::zero());

    // Someone else taps the guest's button: nothing is cancelled, a person looks at it.
    tap(&f, OTHER_PHONE, "wamid.x1", &cancel, "Cancelar", &now).await;
    let other = conversation_when(&f, OTHER_PHONE, |c| c["awaiting_since"].is_string()).await;
    assert_eq!(other["handoff_reason"], "button_unmatched");
    assert_eq!(other["messages"][0]["kind"], "button");
    assert_eq!(other["messages"][0]["outcome"], "handed_off");
    assert_eq!(
        f.reservation(r.id).await.state,
        ReservationState::PreReserved
    );

    // The guest taps it: the hold is cancelled through the booking flow (which tells the guest).
    tap(&f, GUEST_PHONE, "wamid.g1", &cancel, "Cancelar", &now).await;
    let cancelled = f.wait_state(r.id, ReservationState::Cancelled).await;
    assert_eq!(
        cancelled.state_reason.as_deref(),
        Some("cancelada por el huésped desde WhatsApp")
    );
    let guest = conversation_when(&f, GUEST_PHONE, |c| {
        c["messages"][0]["outcome"] == "cancelled"
    })
    .await;
    assert!(guest["awaiting_since"].is_null(), "{guest}");
    assert!(guest["handed_off_at"].is_null());
    assert_eq!(guest["guest_name"], "Ana Pérez");
    assert_eq!(guest["reservation_code"], r.code);
    let history = posada_store::reservations::history(f.app.state.db(), r.id)
        .await
        .unwrap();
    assert_eq!(history.last().unwrap().actor, "guest");
    eventually(WAIT, || async {
        f.notifications(r.id)
            .await
            .into_iter()
            .find(|n| n.template == "reservation_cancelled" && n.channel == "whatsapp")
    })
    .await;

    // A tap on a reservation that is no longer a hold goes to a person.
    tap(&f, GUEST_PHONE, "wamid.g2", &cancel, "Cancelar", &now).await;
    let again = conversation_when(&f, GUEST_PHONE, |c| c["awaiting_since"].is_string()).await;
    assert_eq!(again["handoff_reason"], "button_unmatched");
    let (_, page) = json_of(
        f.app
            .admin_get("/api/v1/admin/conversations?awaiting=true")
            .await,
    )
    .await;
    assert_eq!(page["total"], 2);
}

async fn the_pay_button_sends_the_payment_link_again(backend: Backend) {
    let f = Fixture::start_with(backend, no_assistant).await;
    f.accommodation("lago", 5_000_000).await;
    let r = f.hold("lago", 20, 2).await;
    let link = f.payment_link(r.id).await;
    let link_rows = || async {
        f.notifications(r.id)
            .await
            .into_iter()
            .filter(|n| n.template == "hold_payment_link" && n.channel == "whatsapp")
            .collect::<Vec<_>>()
    };
    eventually(WAIT, || async {
        let rows = link_rows().await;
        (rows.len() == 1 && rows[0].status == "sent").then_some(())
    })
    .await;

    let now = ts(chrono::Duration::zero());
    let pay = format!("pay:{}", r.code);
    tap(&f, GUEST_PHONE, "wamid.p1", &pay, "Pagar seña", &now).await;
    let resent = eventually(WAIT, || async {
        let rows = link_rows().await;
        (rows.len() == 2 && rows.iter().all(|n| n.status == "sent")).then_some(rows)
    })
    .await;
    // Inside the window the link goes out as a text with the link in it.
    let wamid = resent[1].provider_message_id.clone().unwrap();
    let sent = f.wa.sent().into_iter().find(|m| m.wamid == wamid).unwrap();
    assert_eq!(sent.to(), Some(GUEST_PHONE));
    assert_eq!(sent.kind(), Some("text"));
    assert!(
        sent.body["text"]["body"].as_str().unwrap().contains(&link),
        "{}",
        sent.body
    );
    let guest = conversation_when(&f, GUEST_PHONE, |c| {
        c["messages"][0]["outcome"] == "payment_link_sent"
    })
    .await;
    assert!(guest["awaiting_since"].is_null(), "{guest}");

    // A second tap moments later sends nothing new.
    tap(&f, GUEST_PHONE, "wamid.p2", &pay, "Pagar seña", &now).await;
    conversation_when(&f, GUEST_PHONE, |c| {
        c["messages"][1]["outcome"] == "payment_link_recent"
    })
    .await;
    f.settle().await;
    assert_eq!(link_rows().await.len(), 2);
    assert_eq!(
        f.reservation(r.id).await.state,
        ReservationState::PreReserved
    );
}
