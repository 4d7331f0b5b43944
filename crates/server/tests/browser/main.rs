//! Headless Chromium against the running posada, on both backends: the guest pages as a guest
//! uses them (book, pay, come back, see the reservation), the widget on another origin, the 404s.
//!
//! The browser side is the npm package next to this file (`package.json`, `package-lock.json`
//! pinning `playwright-core`, which downloads no browser): `run.mjs` runs one scenario from
//! `scenarios/` with a JSON context and prints `RESULT <json>`, which the tests here assert on.
//! Chromium is Debian's (`/usr/bin/chromium`, or `POSADA_CHROMIUM`). Missing Chromium or
//! `node_modules` fail the tests with the command that fixes it; `scripts/test` installs both.
//! Screenshots (390 px and 1280 px) go to `target/screenshots/`.

#![expect(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]

#[path = "../api/helpers.rs"]
mod helpers;
mod owner;
mod owner_calendar;
mod owner_conversations;
mod owner_reservations;
mod owner_today;
mod owner_units;

use std::path::PathBuf;
use std::time::Duration;

use posada_domain::ReservationState;
use posada_server::config::Secret;
use posada_store::reservations::Reservation;
use posada_testkit::{FakeMercadoPago, FakePayment, sign_webhook};
use serde_json::{Value, json};

use helpers::{Backend, TestApp, days_from_now, eventually};

const MP_SECRET: &str = "mp-webhook-secret";
const PUBLIC_URL: &str = "https://posada.example";
const WAIT: Duration = Duration::from_secs(30);

fn package_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/browser")
}

fn screenshots_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    target.join("screenshots")
}

/// Chromium, node and the npm package are there, or the test fails saying how to get them.
fn preflight() {
    let chromium =
        std::env::var("POSADA_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_string());
    assert!(
        std::path::Path::new(&chromium).exists(),
        "Chromium is missing at {chromium}: run `apt-get install -y chromium` (scripts/test does \
         it), or point POSADA_CHROMIUM at a Chromium binary"
    );
    let pw = package_dir().join("node_modules/playwright-core/package.json");
    assert!(
        pw.exists(),
        "playwright-core is not installed: run `npm ci` in crates/server/tests/browser \
         (scripts/test does it)"
    );
    let node = std::process::Command::new("node").arg("--version").output();
    assert!(
        node.is_ok_and(|o| o.status.success()),
        "node is missing: install Node.js 18 or later (`apt-get install -y nodejs npm`)"
    );
}

/// Run `scenarios/<name>.mjs` with `ctx`; its result.
pub(crate) async fn scenario(name: &str, ctx: Value) -> Value {
    preflight();
    let out = tokio::process::Command::new("node")
        .arg("run.mjs")
        .arg(name)
        .current_dir(package_dir())
        .env("POSADA_BROWSER_CONTEXT", ctx.to_string())
        .env("POSADA_SCREENSHOTS", screenshots_dir())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(120), out)
        .await
        .unwrap_or_else(|_| panic!("browser scenario {name} took over 120 s"))
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "browser scenario {name} failed ({}):\n{stderr}\n{stdout}",
        out.status
    );
    let line = stdout
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("RESULT "))
        .unwrap_or_else(|| panic!("scenario {name} printed no RESULT line:\n{stdout}\n{stderr}"));
    serde_json::from_str(line).unwrap()
}

/// Every page the scenario shot had no horizontal scroll at 390 px.
pub(crate) fn assert_no_sideways_scroll(result: &Value) {
    fn walk(v: &Value, path: &str) {
        match v {
            Value::Object(m) => {
                for (k, x) in m {
                    if k == "overflow390" {
                        assert_eq!(x, &json!(0), "{path} scrolls horizontally at 390 px");
                    } else {
                        walk(x, &format!("{path}.{k}"));
                    }
                }
            }
            Value::Array(a) => a.iter().for_each(|x| walk(x, path)),
            _ => {}
        }
    }
    walk(result, "");
    assert!(
        result.to_string().contains("overflow390"),
        "no layout was measured: {result}"
    );
}

async fn spawn_with_mp(backend: Backend) -> (TestApp, FakeMercadoPago) {
    let mp = FakeMercadoPago::start().await;
    let mp_url = mp.base_url();
    let app = TestApp::spawn_with(backend, |s| {
        s.mercadopago_access_token = Some(Secret::new("TEST-mp-token"));
        s.mercadopago_webhook_secret = Some(Secret::new(MP_SECRET));
        s.mercadopago_base_url = mp_url;
        s.posada_public_url = PUBLIC_URL.into();
        s.integration_retry_base_ms = 50;
    })
    .await;
    (app, mp)
}

pub(crate) async fn by_code(app: &TestApp, code: &str) -> Reservation {
    posada_store::reservations::get_by_code(app.state.db(), code)
        .await
        .unwrap()
        .unwrap()
}

fn code_of(reservation_url: &str) -> String {
    let path = reservation_url.split("/reservas/").nth(1).unwrap();
    path.split('?').next().unwrap().to_string()
}

async fn book_pay_and_come_back(backend: Backend) {
    let (app, mp) = spawn_with_mp(backend).await;
    app.create_accommodation("lago", 1_500_000).await;
    let booked = scenario(
        "book",
        json!({
            "base": app.base, "slug": "lago", "shot": "book",
            "check_in": days_from_now(3), "check_out": days_from_now(5),
            "name": "Ana Pérez", "email": "ana@example.com", "phone": "+54 9 11 5555-1234",
            "expect_checkout": true, "javascript": false,
        }),
    )
    .await;
    assert_no_sideways_scroll(&booked);
    assert_eq!(booked["og_title"], "Cabaña lago");
    assert_eq!(booked["og_image"], "https://img.example/lago.jpg");
    assert_eq!(booked["nights"], 2, "{booked}");
    assert!(
        booked["total"].as_str().unwrap().contains("30.000"),
        "{booked}"
    );
    // Straight on to Mercado Pago's checkout: the preference the fake made for this hold.
    let reservation_url = booked["reservation_url"].as_str().unwrap().to_string();
    let code = code_of(&reservation_url);
    let r = by_code(&app, &code).await;
    assert_eq!(r.state, ReservationState::PreReserved);
    assert_eq!(r.channel, "web");
    assert_eq!(booked["final_url"], json!(r.payment_link.clone().unwrap()));
    let pref = mp
        .preferences()
        .into_iter()
        .find(|p| p.request["external_reference"] == json!(code))
        .expect("a preference for the hold");
    // Mercado Pago sends the browser to the back_urls it was given (POSADA_PUBLIC_URL is a name
    // the sandbox cannot resolve: the same path on the test server).
    let back = |kind: &str| {
        pref.request["back_urls"][kind]
            .as_str()
            .unwrap()
            .replace(PUBLIC_URL, &app.base)
    };
    let returns = scenario(
        "returns",
        json!({"urls": {"aprobado": back("success"), "pendiente": back("pending"), "rechazado": back("failure")}}),
    )
    .await;
    assert_no_sideways_scroll(&returns);
    for kind in ["aprobado", "pendiente", "rechazado"] {
        assert_eq!(returns[kind]["status"], 200, "{returns}");
        // The return URL is not proof of payment: still a hold, still payable.
        assert_eq!(returns[kind]["state"], "prerreservada", "{returns}");
        assert_eq!(returns[kind]["pay_button"], true, "{returns}");
    }
    let msg = |k: &str| returns[k]["message"].as_str().unwrap().to_string();
    assert!(msg("aprobado").contains("aprobado"), "{returns}");
    assert!(msg("aprobado").contains("acreditación"), "{returns}");
    assert!(msg("pendiente").contains("pendiente"), "{returns}");
    assert!(msg("rechazado").contains("no se completó"), "{returns}");

    // The signed webhook confirms; the page says so.
    let deposit = r.deposit.minor;
    mp.set_payment(
        "9001",
        &FakePayment::approved(&code, &format!("{}.{:02}", deposit / 100, deposit % 100)),
    );
    let ts = app.state.now().timestamp_millis();
    let res = app
        .client
        .post(app.url("/api/v1/webhooks/mercadopago?data.id=9001&type=payment"))
        .header("x-signature", sign_webhook(MP_SECRET, "9001", "req-1", ts))
        .header("x-request-id", "req-1")
        .json(&json!({"action": "payment.updated", "api_version": "v1", "data": {"id": "9001"}, "type": "payment", "live_mode": false}))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.status());
    eventually(WAIT, || async {
        (by_code(&app, &code).await.state == ReservationState::Confirmed).then_some(())
    })
    .await;
    let page = scenario(
        "reservation",
        json!({"url": reservation_url, "shot": "reservation-confirmed"}),
    )
    .await;
    assert_no_sideways_scroll(&page);
    assert_eq!(page["status"], 200);
    assert_eq!(page["state"], "confirmada", "{page}");
    assert_eq!(page["directions"], "Ruta 40 km 12, tranquera verde");
    let again = scenario("returns", json!({"urls": {"aprobado": back("success")}})).await;
    assert_eq!(again["aprobado"]["state"], "confirmada", "{again}");
    assert!(
        again["aprobado"]["message"]
            .as_str()
            .unwrap()
            .contains("está confirmada"),
        "{again}"
    );
    app.stop().await;
}

async fn taken_dates_offer_an_alternative_that_books(backend: Backend) {
    // Payments not configured: the hold's page says the owner will confirm.
    let app = TestApp::spawn(backend).await;
    app.create_accommodation("lago", 1_000_000).await;
    let res = app
        .pre_reserve("lago", &days_from_now(10), &days_from_now(13))
        .await;
    assert_eq!(res.status(), 201);
    let alt = scenario(
        "alternative",
        json!({"base": app.base, "slug": "lago", "check_in": days_from_now(10), "check_out": days_from_now(12),
               "name": "Bruno Díaz", "email": "bruno@example.com"}),
    )
    .await;
    assert_no_sideways_scroll(&alt);
    assert_eq!(alt["refused"], "Esas fechas no están disponibles.", "{alt}");
    assert_eq!(alt["form_offered_for_taken"], false);
    let final_url = alt["final_url"].as_str().unwrap();
    assert!(final_url.contains("/reservas/"), "{alt}");
    let r = by_code(&app, &code_of(final_url)).await;
    assert_eq!(r.state, ReservationState::PreReserved);
    assert_eq!(r.guest_name, "Bruno Díaz");
    // The booked stay is the alternative offered, and it does not touch the taken nights.
    let href = alt["href"].as_str().unwrap();
    assert!(
        href.contains(&format!("check_in={}", r.stay.check_in())),
        "{alt}"
    );
    assert!(
        r.stay.check_out()
            <= chrono::NaiveDate::parse_from_str(&days_from_now(10), "%Y-%m-%d").unwrap()
            || r.stay.check_in()
                >= chrono::NaiveDate::parse_from_str(&days_from_now(13), "%Y-%m-%d").unwrap(),
        "{alt}"
    );
    // Without JavaScript and without payments: the booking lands on the page saying the owner
    // will confirm.
    let booked = scenario(
        "book",
        json!({
            "base": app.base, "slug": "lago", "shot": "book-nopay",
            "check_in": days_from_now(20), "check_out": days_from_now(21),
            "name": "Carla Gómez", "email": "carla@example.com", "phone": "",
            "expect_checkout": false, "javascript": false,
        }),
    )
    .await;
    assert_no_sideways_scroll(&booked);
    assert_eq!(booked["held"]["state"], "prerreservada", "{booked}");
    assert!(
        booked["held"]["box"]
            .as_str()
            .unwrap()
            .contains("El anfitrión va a revisar tu pedido"),
        "{booked}"
    );
    app.stop().await;
}

async fn widget_renders_on_another_origin(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_accommodation("lago", 1_000_000).await;
    let (script, iframe) = posada_server::http::guest::widget_snippet(&app.base, "lago");
    let w = scenario(
        "widget",
        json!({"snippet_script": script, "snippet_iframe": iframe}),
    )
    .await;
    assert_no_sideways_scroll(&w);
    let frames = w["frames"].as_array().unwrap();
    assert_eq!(frames.len(), 2, "{w}");
    for f in frames {
        assert_eq!(f["title"], "Cabaña lago", "{w}");
        assert_eq!(f["reservar_text"], "Reservar");
        assert!(
            f["reservar"].as_str().unwrap().ends_with("/reservar/lago"),
            "{w}"
        );
        assert!(f["free_days"].as_u64().unwrap() > 0, "{w}");
    }
    assert_ne!(
        w["host_origin"].as_str().unwrap(),
        app.base,
        "the host page is another origin"
    );
    app.stop().await;
}

async fn a_wrong_token_gives_the_same_404(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_accommodation("lago", 1_000_000).await;
    let res = app
        .pre_reserve("lago", &days_from_now(4), &days_from_now(6))
        .await;
    let body: Value = res.json().await.unwrap();
    let code = body["code"].as_str().unwrap();
    let token = body["access_token"].as_str().unwrap();
    let wrong = "0".repeat(32);
    let out = scenario(
        "status",
        json!({"urls": [
            app.url(&format!("/reservas/{code}?t={wrong}")),
            app.url(&format!("/reservas/{code}")),
            app.url(&format!("/reservas/ZZZZZZ?t={token}")),
            app.url(&format!("/reservas/{code}?t={token}")),
        ]}),
    )
    .await;
    let pages = out.as_array().unwrap();
    for p in &pages[..3] {
        assert_eq!(p["status"], 404, "{p}");
        assert_eq!(p["body"], pages[0]["body"], "every 404 is the same page");
        assert!(!p["body"].as_str().unwrap().contains("Ana"), "{p}");
    }
    assert_eq!(pages[3]["status"], 200);
    assert!(pages[3]["body"].as_str().unwrap().contains(code));
    app.stop().await;
}

crate::on_both!(
    book_pay_and_come_back,
    taken_dates_offer_an_alternative_that_books,
    widget_renders_on_another_origin,
    a_wrong_token_gives_the_same_404,
);
