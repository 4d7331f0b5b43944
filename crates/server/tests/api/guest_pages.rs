//! The guest pages over plain HTTP (the browser tests in `tests/browser` drive them in Chromium):
//! every guest message carries the reservation page's link and it opens the page, the message
//! fixes (no "link in a few minutes" without payments, the check-in reminder's wording, expiry
//! times with their offset), the forms' CSRF protection, the double-booking guard through the
//! form, and the guest's cancellation.

use posada_domain::ReservationState;
use posada_server::app::booking;
use posada_testkit::FakePayment;
use serde_json::Value;

use crate::helpers::{Backend, TestApp, days_from_now, eventually};
use crate::on_both;
use crate::payments::Fixture;

const PUBLIC: &str = "https://posada.example";

/// The text bodies of the e-mails whose subject contains `subject`.
fn mails(f: &Fixture, subject: &str) -> Vec<String> {
    f.smtp
        .messages()
        .iter()
        .filter_map(|m| m.parsed())
        .filter(|m| m.subject.as_deref().is_some_and(|s| s.contains(subject)))
        .map(|m| {
            format!(
                "{}\n{}",
                m.subject.unwrap_or_default(),
                m.text.unwrap_or_default()
            )
        })
        .collect()
}

async fn mail(f: &Fixture, subject: &str) -> String {
    eventually(std::time::Duration::from_secs(20), || async {
        mails(f, subject).into_iter().next()
    })
    .await
}

/// A hold over the API: (code, access token).
async fn api_hold(app: &TestApp, from: i64, nights: i64) -> (String, String) {
    let res = app
        .pre_reserve("lago", &days_from_now(from), &days_from_now(from + nights))
        .await;
    assert_eq!(res.status(), 201);
    let body: Value = res.json().await.unwrap();
    (
        body["code"].as_str().unwrap().to_string(),
        body["access_token"].as_str().unwrap().to_string(),
    )
}

async fn guest_messages_carry_the_reservation_link(backend: Backend) {
    let f = Fixture::start_with(backend, |s| s.checkin_reminder_hours = 48).await;
    f.accommodation("lago", 1_000_000).await;
    let (code, token) = api_hold(&f.app, 6, 2).await;
    let link = format!("{PUBLIC}/reservas/{code}?t={token}");
    let created = mail(&f, "Tu prerreserva").await;
    assert!(created.contains(&link), "{created}");
    // Expiry times say their offset.
    assert!(created.contains("h (UTC-03:00)"), "{created}");
    let paylink = mail(&f, "Link de pago").await;
    assert!(paylink.contains("(UTC-03:00)"), "{paylink}");
    // The link opens the guest's page.
    let res = f.app.get(&link.replace(PUBLIC, "")).await;
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    assert!(html.contains(&code) && html.contains("prerreservada"));
    // The payment's return URLs carry it too.
    let pref = f.mp.preferences().pop().unwrap();
    assert_eq!(
        pref.request["back_urls"]["success"],
        format!("{link}&pago=aprobado")
    );

    let r = posada_store::reservations::get_by_code(f.app.state.db(), &code)
        .await
        .unwrap()
        .unwrap();
    let deposit = r.deposit.minor;
    f.mp.set_payment(
        "777",
        &FakePayment::approved(&code, &format!("{}.{:02}", deposit / 100, deposit % 100)),
    );
    assert!(f.notify_payment("777").await.status().is_success());
    f.wait_state(r.id, ReservationState::Confirmed).await;
    let confirmed = mail(&f, "confirmada").await;
    assert!(confirmed.contains(&link), "{confirmed}");
    // The check-in reminder (what its job does, run now) says when, from CHECKIN_REMINDER_HOURS.
    assert!(
        booking::remind(
            &f.app.state,
            r.id,
            ReservationState::Confirmed,
            "checkin_reminder"
        )
        .await
        .unwrap()
    );
    let reminder = mail(&f, "te esperamos").await;
    assert!(
        reminder.starts_with(&format!("Pasado mañana te esperamos · reserva {code}")),
        "{reminder}"
    );
    assert!(reminder.contains(&link), "{reminder}");
    // Once confirmed the page shows how to get there.
    let html = f
        .app
        .get(&link.replace(PUBLIC, ""))
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("confirmada") && html.contains("Ruta 40 km 12"));
    f.app.stop().await;
}

async fn without_payments_the_hold_message_says_the_owner_confirms(backend: Backend) {
    let f = Fixture::start_with(backend, |s| {
        s.mercadopago_access_token = None;
        s.checkin_reminder_hours = 24;
    })
    .await;
    f.accommodation("lago", 1_000_000).await;
    let (code, _) = api_hold(&f.app, 6, 2).await;
    let created = mail(&f, "Tu prerreserva").await;
    assert!(!created.contains("En unos minutos"), "{created}");
    assert!(
        created.contains("El anfitrión te va a contactar para coordinar el pago de la seña"),
        "{created}"
    );
    let r = posada_store::reservations::get_by_code(f.app.state.db(), &code)
        .await
        .unwrap()
        .unwrap();
    booking::confirm(&f.app.state, r.id, posada_domain::Actor::Admin, None)
        .await
        .unwrap();
    booking::remind(
        &f.app.state,
        r.id,
        ReservationState::Confirmed,
        "checkin_reminder",
    )
    .await
    .unwrap();
    let reminder = mail(&f, "te esperamos").await;
    assert!(reminder.starts_with("Mañana te esperamos"), "{reminder}");
    f.app.stop().await;
}

fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in {html}"))
        + marker.len();
    html[start..].split('"').next().unwrap().to_string()
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn booking_form_is_csrf_protected_and_guarded(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_accommodation("lago", 1_000_000).await;
    let (ci, co) = (days_from_now(8), days_from_now(10));
    let page = app
        .get(&format!(
            "/reservar/lago?check_in={ci}&check_out={co}&guests=2"
        ))
        .await;
    assert_eq!(page.status(), 200);
    assert!(
        page.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
    let html = page.text().await.unwrap();
    assert!(html.contains("$ 20.000,00"), "the quote's total");
    let csrf = hidden(&html, "csrf_token");
    let client = no_redirects();
    let form = |csrf: &str| {
        vec![
            ("csrf_token", csrf.to_string()),
            ("check_in", ci.clone()),
            ("check_out", co.clone()),
            ("guests", "2".into()),
            ("name", "Ana Pérez".into()),
            ("email", "ana@example.com".into()),
        ]
    };
    let post = |fields: Vec<(&'static str, String)>, origin: Option<&'static str>| {
        let mut req = client.post(app.url("/reservar/lago")).form(&fields);
        if let Some(o) = origin {
            req = req.header("origin", o);
        }
        req.send()
    };
    // No token, a forged token, another site's origin: refused, nothing held.
    assert_eq!(post(form(""), None).await.unwrap().status(), 403);
    assert_eq!(post(form("1.00ff"), None).await.unwrap().status(), 403);
    assert_eq!(
        post(form(&csrf), Some("https://evil.example"))
            .await
            .unwrap()
            .status(),
        403
    );
    let (_, held) = posada_store::reservations::list(
        app.state.db(),
        &posada_store::reservations::ListFilter {
            limit: 10,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(held, 0);
    // Ours: the hold, and a redirect to its page with the token.
    let origin: &'static str = Box::leak(app.base.clone().into_boxed_str());
    let res = post(form(&csrf), Some(origin)).await.unwrap();
    assert_eq!(res.status(), 303);
    let to = res.headers()["location"].to_str().unwrap().to_string();
    assert!(to.starts_with("/reservas/") && to.contains("?t="), "{to}");
    // The same nights again: the double-booking guard, with the nearest free dates offered.
    let res = post(form(&csrf), Some(origin)).await.unwrap();
    assert_eq!(res.status(), 409);
    let html = res.text().await.unwrap();
    assert!(html.contains("Esas fechas se acaban de ocupar"));
    assert!(html.contains("class=\"alts\""));
    // Bad input is a message next to its field, not a crash.
    let mut bad = form(&csrf);
    bad[5].1 = "not-an-email".into();
    bad[1].1 = days_from_now(30);
    bad[2].1 = days_from_now(31);
    let res = post(bad, Some(origin)).await.unwrap();
    assert_eq!(res.status(), 422);
    let html = res.text().await.unwrap();
    assert!(html.contains("id=\"e-email\""), "{html}");

    // The guest cancels from their page (the token and a fresh form token).
    let page = app.get(&to).await.text().await.unwrap();
    let csrf2 = hidden(&page, "csrf_token");
    let t = hidden(&page, "t");
    let code = to
        .trim_start_matches("/reservas/")
        .split('?')
        .next()
        .unwrap();
    let res = client
        .post(app.url(&format!("/reservas/{code}/cancelar")))
        .form(&[("t", "0".repeat(32)), ("csrf_token", csrf2.clone())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404, "a wrong token cancels nothing");
    let res = client
        .post(app.url(&format!("/reservas/{code}/cancelar")))
        .form(&[("t", t), ("csrf_token", csrf2)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let r = posada_store::reservations::get_by_code(app.state.db(), code)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.state, ReservationState::Cancelled);
    app.stop().await;
}

async fn pages_answer_in_html_with_open_graph(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_accommodation("lago", 1_000_000).await;
    for path in ["/reservar", "/reservar/lago", "/reservar/lago/widget"] {
        let res = app.get(path).await;
        assert_eq!(res.status(), 200, "{path}");
        assert!(
            res.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        let html = res.text().await.unwrap();
        assert!(html.len() < 100_000, "{path} is {} bytes", html.len());
        assert!(html.contains("lang=\"es-AR\""), "{path}");
    }
    let html = app.get("/reservar/lago").await.text().await.unwrap();
    assert!(html.contains("<meta property=\"og:title\" content=\"Cabaña lago\">"));
    // (auto-escaped: `/` is written `&#x2f;`; the browser tests read the decoded value)
    assert!(
        html.contains(
            "<meta property=\"og:image\" content=\"https:&#x2f;&#x2f;img.example&#x2f;lago.jpg\">"
        ),
        "{html}"
    );
    // The widget may be framed by any site; the other pages by none.
    let w = app.get("/reservar/lago/widget").await;
    assert!(w.headers().get("x-frame-options").is_none());
    assert!(
        w.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors *")
    );
    let p = app.get("/reservar/lago").await;
    assert_eq!(p.headers()["x-frame-options"], "DENY");
    // Garbage in the query is ignored or explained, never a crash.
    for path in [
        "/reservar/lago?check_in=nope&check_out=2026-13-45&guests=-3&mes=x",
        "/reservar/lago?check_in=2020-01-01&check_out=2020-01-05&guests=2",
        "/reservar/nada",
        "/reservas/%00?t=%ff",
    ] {
        let status = app.get(path).await.status();
        assert!(status == 200 || status == 404, "{path}: {status}");
    }
    app.stop().await;
}

async fn the_dashboard_shows_the_widget_snippet(backend: Backend) {
    let password = "mate-amargo-en-la-galeria";
    let hash = posada_server::http::dashboard::hash_password(password).unwrap();
    let app = TestApp::spawn_with(backend, |s| {
        s.owner_password_hash = Some(posada_server::config::Secret::new(hash));
        s.posada_public_url = PUBLIC.into();
    })
    .await;
    app.create_accommodation("lago", 1_000_000).await;
    let client = no_redirects();
    let res = crate::helpers::dashboard_login(&app, &client, password).await;
    let session = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("posada_session="))
        .expect("logged in");
    // The snippets live on the unit's page in Alojamientos y precios.
    let html = client
        .get(app.url("/dashboard/alojamientos/lago"))
        .header("cookie", session.split(';').next().unwrap())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let (script, iframe) = posada_server::http::guest::widget_snippet(PUBLIC, "lago");
    // As minijinja writes text into HTML (it also escapes `/`).
    let escaped = |s: &str| posada_server::notify::templates::escape_html(s).replace('/', "&#x2f;");
    assert!(html.contains(&escaped(&script)), "{html}");
    assert!(html.contains(&escaped(&iframe)), "{html}");
    assert!(
        html.contains(&escaped(&format!("{PUBLIC}/reservar/lago"))),
        "the public booking page: {html}"
    );
    app.stop().await;
}

/// The real binary at `RUST_LOG=debug`: a guest books, opens their page (also as a payment
/// return), cancels from it; not one log line carries the access token.
#[tokio::test]
async fn the_access_token_never_reaches_the_logs() {
    posada_integrations::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("logs.db").display());
    let bin = env!("CARGO_BIN_EXE_posada");
    let out = std::process::Command::new(bin)
        .args(["admin", "create-token", "--name", "t", "--scope", "write"])
        .env("DATABASE_URL", &url)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let admin = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let log_path = dir.path().join("posada.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut server = tokio::process::Command::new(bin)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .env("DATABASE_URL", &url)
        .env("LOG_FORMAT", "json")
        .env("RUST_LOG", "debug")
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let client = no_redirects();
    eventually(std::time::Duration::from_secs(30), || async {
        client
            .get(format!("{base}/api/v1/livez"))
            .send()
            .await
            .ok()
            .filter(|r| r.status().is_success())
    })
    .await;
    let res = client
        .post(format!("{base}/api/v1/admin/accommodations"))
        .bearer_auth(&admin)
        .json(&serde_json::json!({"name": "Cabaña lago", "slug": "lago", "kind": "cabin", "description": "x", "capacity": 4,
            "pricing": {"base_nightly": {"minor": 1_000_000, "currency": "ARS"}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let res = client
        .post(format!("{base}/api/v1/reservations"))
        .json(&serde_json::json!({"accommodation": "lago", "check_in": days_from_now(5), "check_out": days_from_now(7), "guests": 2,
            "guest": {"name": "Ana Pérez", "email": "ana@example.com"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let body: Value = res.json().await.unwrap();
    let (code, token) = (
        body["code"].as_str().unwrap(),
        body["access_token"].as_str().unwrap(),
    );
    let page = client
        .get(format!("{base}/reservas/{code}?t={token}&pago=aprobado"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    let res = client
        .post(format!("{base}/reservas/{code}/cancelar"))
        .form(&[
            ("t", token),
            ("csrf_token", hidden(&html, "csrf_token").as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    server.kill().await.unwrap();
    let logs = std::fs::read_to_string(&log_path).unwrap();
    assert!(
        logs.contains("/reservas/"),
        "the requests were logged:\n{logs}"
    );
    assert!(logs.contains("reservation cancelled"), "{logs}");
    assert!(
        !logs.contains(token),
        "the access token is in the logs:\n{logs}"
    );
}

on_both!(
    the_dashboard_shows_the_widget_snippet,
    guest_messages_carry_the_reservation_link,
    without_payments_the_hold_message_says_the_owner_confirms,
    booking_form_is_csrf_protected_and_guarded,
    pages_answer_in_html_with_open_graph,
);
