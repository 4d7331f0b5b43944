//! The owner's web app, sections Hoy and Reservas, over HTTP with a logged-in session (issue 13):
//! the list's filters, the search by POST, the CSV (the admin API's own), a reservation's detail,
//! its actions and their refusals (no CSRF token: 403; a move its state does not allow: 409 with
//! a Spanish message), a message sent again reaching the SMTP sink and the fake WhatsApp, and
//! the Hoy page (arrivals and departures today and tomorrow, holds about to run out with their
//! countdown, payments received, open alerts with what settles them).

use posada_domain::ReservationState;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, dashboard_login, days_from_now};
use crate::on_both;
use crate::payments::{Fixture, GUEST_PHONE, approved_for};

const PASSWORD: &str = "una clave larga del dueño";

fn with_password(s: &mut posada_server::config::Settings) {
    let hash = posada_server::http::dashboard::hash_password(PASSWORD).unwrap();
    s.owner_password_hash = Some(posada_server::config::Secret::new(hash));
}

/// A browser-like client: cookies by hand, redirects not followed.
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The owner's session: the client, its cookie and the CSRF token of its pages.
struct Session {
    client: reqwest::Client,
    cookie: String,
    csrf: String,
    base: String,
}

impl Session {
    async fn start(app: &TestApp) -> Session {
        let client = client();
        let res = dashboard_login(app, &client, PASSWORD).await;
        assert_eq!(res.status(), 303);
        let cookie = res.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_string();
        let mut s = Session {
            client,
            cookie,
            csrf: String::new(),
            base: app.base.clone(),
        };
        let (status, html) = s.get("/dashboard").await;
        assert_eq!(status, 200);
        let marker = "name=\"csrf_token\" value=\"";
        let start = html.find(marker).unwrap() + marker.len();
        s.csrf = html[start..start + 64].to_string();
        s
    }

    async fn get(&self, path: &str) -> (u16, String) {
        let res = self
            .client
            .get(format!("{}{path}", self.base))
            .header("Cookie", &self.cookie)
            .send()
            .await
            .unwrap();
        (res.status().as_u16(), decoded(res.text().await.unwrap()))
    }

    /// POST `fields` with the session's CSRF token.
    async fn post(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        let mut form: Vec<(&str, &str)> = vec![("csrf_token", self.csrf.as_str())];
        form.extend_from_slice(fields);
        self.post_raw(path, &form).await
    }

    /// POST exactly `fields` (no CSRF token unless given).
    async fn post_raw(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        self.client
            .post(format!("{}{path}", self.base))
            .header("Cookie", &self.cookie)
            .form(fields)
            .send()
            .await
            .unwrap()
    }
}

/// The page with the engine's escapes of `/` and `&` in attribute values read back, so that
/// links compare as the browser follows them.
fn decoded(html: String) -> String {
    html.replace("&#x2f;", "/").replace("&amp;", "&")
}

/// A hold over the public API for `guest`; (id, code).
async fn hold(app: &TestApp, slug: &str, from: i64, to: i64, guest: Value) -> (i64, String) {
    let res = app
        .post(
            "/api/v1/reservations",
            &json!({
                "accommodation": slug,
                "check_in": days_from_now(from),
                "check_out": days_from_now(to),
                "guests": 2,
                "guest": guest,
            }),
        )
        .await;
    let status = res.status();
    let body: Value = res.json().await.unwrap();
    assert_eq!(status, 201, "{body}");
    let code = body["code"].as_str().unwrap().to_string();
    let r = posada_store::reservations::get_by_code(app.state.db(), &code)
        .await
        .unwrap()
        .unwrap();
    (r.id, code)
}

async fn admin_act(app: &TestApp, id: i64, action: &str) {
    let res = app
        .admin_post(
            &format!("/api/v1/admin/reservations/{id}/{action}"),
            &json!({}),
        )
        .await;
    assert!(res.status().is_success(), "{action}: {}", res.status());
}

async fn state_of(app: &TestApp, id: i64) -> ReservationState {
    posada_store::reservations::get(app.state.db(), id)
        .await
        .unwrap()
        .unwrap()
        .state
}

/// The rows of the list page: the reservation codes it shows, in order.
fn codes_in(html: &str) -> Vec<String> {
    html.split("<tr data-code=\"")
        .skip(1)
        .map(|s| s.split('"').next().unwrap().to_string())
        .collect()
}

async fn accommodation_id(app: &TestApp, slug: &str) -> i64 {
    posada_store::accommodations::list(app.state.db(), false)
        .await
        .unwrap()
        .into_iter()
        .find(|a| a.accommodation.slug == slug)
        .unwrap()
        .accommodation
        .id
}

async fn the_list_filters_searches_pages_and_exports(backend: Backend) {
    let app = TestApp::spawn_with(backend, with_password).await;
    app.create_accommodation("bosque", 1_500_000).await;
    app.create_accommodation("lago", 2_000_000).await;
    app.create_accommodation("monte", 1_000_000).await;
    let (ana, ana_code) = hold(
        &app,
        "bosque",
        5,
        8,
        json!({"name": "Ana Pérez", "email": "ana@example.com", "phone": "+54 9 11 5555-1234"}),
    )
    .await;
    admin_act(&app, ana, "confirm").await;
    let (_, bruno_code) = hold(
        &app,
        "lago",
        10,
        12,
        json!({"name": "Bruno Díaz", "email": "bruno@example.com", "phone": "+54 9 351 555-0000"}),
    )
    .await;
    let (carla, carla_code) = hold(
        &app,
        "lago",
        20,
        22,
        json!({"name": "Carla Gómez", "email": "carla@example.com"}),
    )
    .await;
    admin_act(&app, carla, "cancel").await;
    let s = Session::start(&app).await;

    // Everything, newest stay first.
    let (status, html) = s.get("/dashboard/reservas").await;
    assert_eq!(status, 200, "{html}");
    assert_eq!(
        codes_in(&html),
        [carla_code.as_str(), bruno_code.as_str(), ana_code.as_str()]
    );
    assert!(html.contains("3 reservas"), "{html}");
    assert!(html.contains("data-live=\"reservation\""), "{html}");
    for label in [
        "Estado",
        "Alojamiento",
        "Desde",
        "Hasta",
        "Canal",
        "Buscar por código, nombre, e-mail o teléfono",
    ] {
        assert!(
            html.contains(&format!("{label}</label>")),
            "{label}: {html}"
        );
    }

    // Filters in the query string.
    let (_, html) = s.get("/dashboard/reservas?estado=confirmed").await;
    assert_eq!(codes_in(&html), [ana_code.as_str()]);
    assert!(html.contains("confirmada"), "{html}");
    let lago = accommodation_id(&app, "lago").await;
    let (_, html) = s
        .get(&format!("/dashboard/reservas?alojamiento={lago}"))
        .await;
    assert_eq!(codes_in(&html), [carla_code.as_str(), bruno_code.as_str()]);
    let (_, html) = s
        .get(&format!(
            "/dashboard/reservas?desde={}&hasta={}",
            days_from_now(9),
            days_from_now(13)
        ))
        .await;
    assert_eq!(codes_in(&html), [bruno_code.as_str()]);
    let (_, html) = s.get("/dashboard/reservas?canal=api&estado=&desde=").await;
    assert_eq!(codes_in(&html).len(), 3, "{html}");
    let (_, html) = s.get("/dashboard/reservas?canal=whatsapp").await;
    assert!(codes_in(&html).is_empty());
    assert!(html.contains("Ninguna reserva coincide"), "{html}");
    // Bad filters: the page says which, in Spanish.
    let (status, html) = s
        .get("/dashboard/reservas?estado=nope&desde=2026-13-40&pagina=-1")
        .await;
    assert_eq!(status, 422);
    for said in [
        "Estado: elegí un estado de la lista.",
        "Desde: la fecha no es válida",
        "Página: no es un número de página válido.",
    ] {
        assert!(html.contains(said), "{said}: {html}");
    }

    // The search goes by POST (guest data never in a URL), with the filters it keeps.
    let res = s.post("/dashboard/reservas", &[("q", "bruno@")]).await;
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    assert_eq!(codes_in(&html), [bruno_code.as_str()]);
    assert!(html.contains("Resultados de la búsqueda"), "{html}");
    assert!(
        !html.contains("data-live"),
        "a POST answer is not refreshed by GET"
    );
    assert!(
        !html.contains("bruno%40") && !html.contains("q=bruno"),
        "{html}"
    );
    let res = s
        .post(
            "/dashboard/reservas",
            &[("q", "bruno"), ("estado", "pre_reserved")],
        )
        .await;
    let html = decoded(res.text().await.unwrap());
    assert!(
        html.contains("href=\"/dashboard/reservas?estado=pre_reserved\">Borrar la búsqueda"),
        "{html}"
    );
    let res = s.post("/dashboard/reservas", &[("q", "3515550000")]).await;
    assert_eq!(codes_in(&res.text().await.unwrap()), [bruno_code.as_str()]);
    let res = s
        .post(
            "/dashboard/reservas",
            &[("q", "CARLA"), ("estado", "pre_reserved")],
        )
        .await;
    assert!(codes_in(&res.text().await.unwrap()).is_empty());
    let res = s
        .post("/dashboard/reservas", &[("q", &ana_code[..5])])
        .await;
    assert_eq!(codes_in(&res.text().await.unwrap()), [ana_code.as_str()]);
    let long = "x".repeat(101);
    let res = s.post("/dashboard/reservas", &[("q", &long)]).await;
    assert_eq!(res.status(), 422);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("Buscar: puede tener 100 caracteres")
    );
    // Without the CSRF token: refused.
    let res = s.post_raw("/dashboard/reservas", &[("q", "bruno")]).await;
    assert_eq!(res.status(), 403);

    // The CSV is the admin API's, byte for byte, for the same filters.
    let csv = |path: String| {
        let s = &s;
        async move {
            let res = s
                .client
                .get(format!("{}{path}", s.base))
                .header("Cookie", &s.cookie)
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 200, "{path}");
            assert_eq!(res.headers()["content-type"], "text/csv; charset=utf-8");
            res.text().await.unwrap()
        }
    };
    let admin_csv = |path: String| {
        let app = &app;
        async move {
            let res = app.admin_get(&path).await;
            assert_eq!(res.status(), 200);
            res.text().await.unwrap()
        }
    };
    let all = csv("/dashboard/reservas.csv".into()).await;
    assert_eq!(
        all,
        admin_csv("/api/v1/admin/reservations.csv".into()).await
    );
    assert_eq!(all.lines().count(), 4, "{all}");
    assert!(all.contains("Ana Pérez") && all.contains("bruno@example.com"));
    let filtered = csv(format!(
        "/dashboard/reservas.csv?estado=pre_reserved&alojamiento={lago}"
    ))
    .await;
    assert_eq!(
        filtered,
        admin_csv(format!(
            "/api/v1/admin/reservations.csv?state=pre_reserved&accommodation_id={lago}"
        ))
        .await
    );
    assert_eq!(filtered.lines().count(), 2, "{filtered}");
    assert!(filtered.contains(&bruno_code));
    // The page's link downloads what it shows.
    let (_, html) = s.get("/dashboard/reservas?estado=cancelled").await;
    assert!(
        html.contains("href=\"/dashboard/reservas.csv?estado=cancelled\""),
        "{html}"
    );
    // A searched list's CSV goes by POST, too.
    let res = s.post("/dashboard/reservas.csv", &[("q", "carla")]).await;
    assert_eq!(res.status(), 200);
    let searched = res.text().await.unwrap();
    assert_eq!(searched.lines().count(), 2, "{searched}");
    assert!(searched.contains(&carla_code));
    assert_eq!(
        searched,
        admin_csv("/api/v1/admin/reservations.csv?q=carla".into()).await
    );

    // Pages of 25: 26 reservations make two.
    for i in 0..23 {
        hold(
            &app,
            "monte",
            30 + 2 * i,
            31 + 2 * i,
            json!({"name": format!("Huésped {i}"), "email": format!("h{i}@example.com")}),
        )
        .await;
    }
    let (_, html) = s.get("/dashboard/reservas").await;
    assert_eq!(codes_in(&html).len(), 25);
    assert!(html.contains("26 reservas · página 1 de 2"), "{html}");
    assert!(
        html.contains("href=\"/dashboard/reservas?pagina=2\""),
        "{html}"
    );
    let (_, html) = s.get("/dashboard/reservas?pagina=2").await;
    assert_eq!(codes_in(&html), [ana_code.as_str()]);
    assert!(
        html.contains("href=\"/dashboard/reservas?pagina=1\""),
        "{html}"
    );
    // A search's pages are POST forms that keep the text.
    let res = s
        .post(
            "/dashboard/reservas",
            &[("q", "example.com"), ("pagina", "2")],
        )
        .await;
    let html = res.text().await.unwrap();
    assert_eq!(codes_in(&html), [ana_code.as_str()]);
    assert!(html.contains("name=\"q\" value=\"example.com\""), "{html}");
    app.stop().await;
}

/// Mails the SMTP sink got for `to` whose subject contains `subject`.
fn mails(f: &Fixture, to: &str, subject: &str) -> usize {
    f.smtp
        .messages()
        .iter()
        .filter_map(|m| m.parsed())
        .filter(|m| {
            m.to.iter().any(|t| t == to)
                && m.subject.as_deref().is_some_and(|s| s.contains(subject))
        })
        .count()
}

fn location(res: &reqwest::Response) -> String {
    res.headers()["location"].to_str().unwrap().to_string()
}

async fn the_detail_shows_the_reservation_and_its_actions_work(backend: Backend) {
    let f = Fixture::start_with(backend, with_password).await;
    f.accommodation("bosque", 1_500_000).await;
    let r = f.hold("bosque", 5, 3).await;
    let other = f.hold("bosque", 20, 2).await;
    f.app.run_pending_jobs().await;
    let s = Session::start(&f.app).await;
    let code = r.code.clone();
    let detail = format!("/dashboard/reservas/{code}");

    let (status, html) = s.get(&detail).await;
    assert_eq!(status, 200, "{html}");
    for shown in [
        code.as_str(),
        "prerreservada",
        "Cabaña bosque",
        "Ana Pérez",
        "ana@example.com",
        "+5491155551234",
        "$ 45.000",
        "La prerreserva vence en",
        "Historial",
        "Prerreserva creada",
        "al huésped por e-mail",
        "al huésped por WhatsApp",
        "al dueño por e-mail",
        "Sin pagos registrados.",
        "data-live=\"reservation\"",
    ] {
        assert!(html.contains(shown), "{shown}: {html}");
    }
    assert!(html.contains(&format!("action=\"{detail}/confirmar\"")));
    assert!(html.contains(&format!("action=\"{detail}/cancelar\"")));
    assert!(!html.contains(&format!("action=\"{detail}/no-show\"")));

    // Send the hold's e-mail and WhatsApp again: they arrive a second time.
    let sent = f.notifications(r.id).await;
    let email = sent
        .iter()
        .find(|n| n.template == "hold_created" && n.channel == "email")
        .unwrap();
    let whatsapp = sent
        .iter()
        .find(|n| n.template == "hold_created" && n.channel == "whatsapp")
        .unwrap();
    let subject = format!("Tu prerreserva {code}");
    assert_eq!(mails(&f, "ana@example.com", &subject), 1);
    let to_guest = || {
        f.wa.sent()
            .into_iter()
            .filter(|m| m.to() == Some(GUEST_PHONE))
            .count()
    };
    let wa_before = to_guest();
    let resend = |id: i64| format!("{detail}/mensajes/{id}/reenviar");
    let res = s.post_raw(&resend(email.id), &[]).await;
    assert_eq!(res.status(), 403, "no CSRF token, nothing sent");
    let res = s.post(&resend(email.id), &[]).await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), format!("{detail}?aviso=reenviado"));
    let res = s.post(&resend(whatsapp.id), &[]).await;
    assert_eq!(res.status(), 303);
    f.app.run_pending_jobs().await;
    assert_eq!(mails(&f, "ana@example.com", &subject), 2);
    assert_eq!(to_guest(), wa_before + 1);
    let (_, html) = s.get(&format!("{detail}?aviso=reenviado")).await;
    assert!(html.contains("Mensaje reenviado"), "{html}");
    // Another reservation's message is not this one's to resend.
    let theirs = f.notifications(other.id).await[0].id;
    let res = s.post(&resend(theirs), &[]).await;
    assert_eq!(res.status(), 404);
    assert!(res.text().await.unwrap().contains("no tiene ese mensaje"));

    // Confirm: not without the CSRF token; then the same use case as the admin API.
    let res = s.post_raw(&format!("{detail}/confirmar"), &[]).await;
    assert_eq!(res.status(), 403);
    assert_eq!(
        f.reservation(r.id).await.state,
        ReservationState::PreReserved
    );
    let res = s.post(&format!("{detail}/confirmar"), &[]).await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), format!("{detail}?aviso=confirmada"));
    assert_eq!(f.reservation(r.id).await.state, ReservationState::Confirmed);
    let (_, html) = s.get(&location(&res)).await;
    assert!(
        html.contains("Reserva confirmada: le avisamos al huésped."),
        "{html}"
    );
    assert!(html.contains("st-confirmed"), "{html}");
    assert!(html.contains("prerreservada → confirmada"), "{html}");
    assert!(html.contains(&format!("action=\"{detail}/no-show\"")));
    f.app.run_pending_jobs().await;
    assert_eq!(
        mails(
            &f,
            "ana@example.com",
            &format!("¡Reserva {code} confirmada!")
        ),
        1
    );
    // Confirming again is refused with a message.
    let res = s.post(&format!("{detail}/confirmar"), &[]).await;
    assert_eq!(res.status(), 409);
    let text = res.text().await.unwrap();
    assert!(
        text.contains(&format!(
            "No se puede confirmar la reserva {code}: está confirmada."
        )),
        "{text}"
    );

    // No-show, then a cancellation is refused.
    let res = s.post(&format!("{detail}/no-show"), &[]).await;
    assert_eq!(res.status(), 303);
    assert_eq!(f.reservation(r.id).await.state, ReservationState::NoShow);
    let res = s.post(&format!("{detail}/cancelar"), &[]).await;
    assert_eq!(res.status(), 409);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("está marcada como «no se presentó»")
    );

    // Cancel the other one, with a reason: too long is refused naming the field.
    let other_detail = format!("/dashboard/reservas/{}", other.code);
    let long = "m".repeat(501);
    let res = s
        .post(&format!("{other_detail}/cancelar"), &[("motivo", &long)])
        .await;
    assert_eq!(res.status(), 422);
    let html = res.text().await.unwrap();
    assert!(
        html.contains("Motivo: puede tener 500 caracteres"),
        "{html}"
    );
    // Nothing typed is lost: the form comes back open with the reason in it.
    assert!(html.contains(&format!("value=\"{long}\"")), "{html}");
    assert!(html.contains("<details open>"), "{html}");
    assert_eq!(
        f.reservation(other.id).await.state,
        ReservationState::PreReserved
    );
    let res = s
        .post(
            &format!("{other_detail}/cancelar"),
            &[("motivo", "El huésped avisó que no viene")],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        f.reservation(other.id).await.state,
        ReservationState::Cancelled
    );
    let (_, html) = s.get(&other_detail).await;
    assert!(html.contains("El huésped avisó que no viene"), "{html}");
    f.app.run_pending_jobs().await;
    assert_eq!(
        mails(
            &f,
            "ana@example.com",
            &format!("Reserva {} cancelada", other.code)
        ),
        1
    );

    // An expired hold cannot be confirmed.
    let late = f.hold("bosque", 30, 2).await;
    f.app.clock.advance(chrono::Duration::minutes(31));
    posada_server::app::booking::expire_overdue(&f.app.state, 10)
        .await
        .unwrap();
    assert_eq!(
        f.reservation(late.id).await.state,
        ReservationState::Expired
    );
    let res = s
        .post(&format!("/dashboard/reservas/{}/confirmar", late.code), &[])
        .await;
    assert_eq!(res.status(), 409);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("La prerreserva venció antes de confirmarse")
    );
    assert_eq!(
        f.reservation(late.id).await.state,
        ReservationState::Expired
    );

    // A message still in its queue is not copied: it goes out by itself.
    let jobs = f.app.state.jobs().admin();
    jobs.pause_queue("default").await.unwrap();
    let waiting = f.hold("bosque", 40, 2).await;
    let queued = f
        .notifications(waiting.id)
        .await
        .into_iter()
        .find(|n| n.status == "queued")
        .unwrap();
    let waiting_detail = format!("/dashboard/reservas/{}", waiting.code);
    let (_, html) = s.get(&waiting_detail).await;
    assert!(html.contains("en cola"), "{html}");
    let resend_queued = format!("{waiting_detail}/mensajes/{}/reenviar", queued.id);
    assert!(!html.contains(&resend_queued), "{html}");
    let res = s.post(&resend_queued, &[]).await;
    assert_eq!(res.status(), 409);
    assert!(res.text().await.unwrap().contains("todavía está en cola"));
    jobs.resume_queue("default").await.unwrap();

    // An unknown code.
    let (status, html) = s.get("/dashboard/reservas/ZZZZZ-ZZZZZ").await;
    assert_eq!(status, 404);
    assert!(html.contains("No hay ninguna reserva con el código ZZZZZ-ZZZZZ."));
    let res = s
        .post("/dashboard/reservas/ZZZZZ-ZZZZZ/cancelar", &[])
        .await;
    assert_eq!(res.status(), 404);
    f.app.run_pending_jobs().await;
    f.app.stop().await;
}

/// The markup of the page's element with `id`, up to its closing tag.
fn section<'a>(html: &'a str, id: &str) -> &'a str {
    let at = html
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id}: {html}"));
    let open = html[..at].rfind('<').unwrap();
    let tag: String = html[open + 1..]
        .chars()
        .take_while(char::is_ascii_alphanumeric)
        .collect();
    let rest = &html[at..];
    &rest[..rest.find(&format!("</{tag}>")).unwrap()]
}

async fn hoy_shows_the_day_and_what_needs_the_owner(backend: Backend) {
    let f = Fixture::start_with(backend, |s| {
        with_password(s);
        s.prereservation_ttl_minutes = 130;
    })
    .await;
    let app = &f.app;
    for slug in ["lago", "bosque", "monte", "rio"] {
        f.accommodation(slug, 1_000_000).await;
    }
    let (today_id, today_code) = hold(
        app,
        "lago",
        0,
        2,
        json!({"name": "Ana Pérez", "email": "ana@example.com"}),
    )
    .await;
    admin_act(app, today_id, "confirm").await;
    let (tomorrow_id, tomorrow_code) = hold(
        app,
        "bosque",
        1,
        3,
        json!({"name": "Bruno Díaz", "email": "bruno@example.com"}),
    )
    .await;
    admin_act(app, tomorrow_id, "confirm").await;
    let (short_id, short_code) = hold(
        app,
        "monte",
        0,
        1,
        json!({"name": "Carla Gómez", "email": "carla@example.com"}),
    )
    .await;
    admin_act(app, short_id, "confirm").await;
    let (held_id, held_code) = hold(
        app,
        "rio",
        10,
        12,
        json!({"name": "Diego Sosa", "email": "diego@example.com"}),
    )
    .await;
    // A deposit paid through Mercado Pago.
    let paid = f.hold("lago", 20, 2).await;
    f.payment_link(paid.id).await;
    f.mp.set_payment("9001", &approved_for(&paid));
    assert_eq!(f.notify_payment("9001").await.status(), 200);
    f.wait_state(paid.id, ReservationState::Confirmed).await;
    // Open alerts, as the alert check records them.
    let now = app.state.now();
    let db = app.state.db();
    posada_store::ops::raise_alert(
        db,
        &format!("refund_needed:{today_code}"),
        "refund_needed",
        &format!("La reserva {today_code} necesita un reintegro."),
        now,
    )
    .await
    .unwrap();
    posada_store::ops::raise_alert(
        db,
        "jobs_discarded",
        "jobs_discarded",
        "2 tarea(s) … (ver /api/v1/admin/jobs?state=discarded).",
        now,
    )
    .await
    .unwrap();
    posada_store::ops::raise_alert(
        db,
        "conversation_unanswered:5491100000000",
        "conversation_unanswered",
        "…",
        now,
    )
    .await
    .unwrap();
    posada_store::ops::raise_alert(
        db,
        "feed_stale:1",
        "feed_stale",
        "El calendario de Airbnb (alojamiento 1) no se sincroniza hace más de una hora.",
        now,
    )
    .await
    .unwrap();
    let s = Session::start(app).await;

    let (status, html) = s.get("/dashboard").await;
    assert_eq!(status, 200);
    let arrivals_today = section(&html, "llegadas-hoy");
    assert!(arrivals_today.contains(&today_code) && arrivals_today.contains("Ana Pérez"));
    assert!(arrivals_today.contains(&short_code) && arrivals_today.contains("Cabaña monte"));
    let arrivals_tomorrow = section(&html, "llegadas-manana");
    assert!(arrivals_tomorrow.contains(&tomorrow_code) && arrivals_tomorrow.contains("Bruno Díaz"));
    assert!(!arrivals_tomorrow.contains(&today_code));
    assert!(section(&html, "salidas-hoy").contains("Nadie se va hoy."));
    let leaving_tomorrow = section(&html, "salidas-manana");
    assert!(leaving_tomorrow.contains(&short_code) && leaving_tomorrow.contains("Carla Gómez"));
    // The hold's countdown, from the application clock.
    let expiring = section(&html, "vencen");
    assert!(
        expiring.contains(&held_code) && expiring.contains("Diego Sosa"),
        "{expiring}"
    );
    assert!(
        expiring.contains("vence en 2 h 9 min") || expiring.contains("vence en 2 h 8 min"),
        "{expiring}"
    );
    let payments = section(&html, "pagos");
    assert!(
        payments.contains(&paid.code) && payments.contains("$ "),
        "{payments}"
    );
    let deposit = paid.deposit.format_es_ar();
    assert!(payments.contains(&deposit), "{deposit}: {payments}");
    // Each alert with what settles it.
    let alerts = section(&html, "alertas");
    assert!(alerts.contains(&format!("La reserva {today_code} necesita un reintegro.")));
    assert!(alerts.contains(&format!("href=\"/dashboard/reservas/{today_code}\"")));
    assert!(alerts.contains("fallaron definitivamente"), "{alerts}");
    assert!(
        !alerts.contains("/api/v1/"),
        "no API paths for the owner: {alerts}"
    );
    assert!(alerts.contains("href=\"/dashboard/automatizacion\""));
    assert!(alerts.contains("href=\"/dashboard/canales\""));
    assert!(
        alerts.contains("1 huésped espera una respuesta"),
        "{alerts}"
    );
    assert!(alerts.contains("href=\"#esperando\""));
    assert!(html.contains("Conversaciones esperando respuesta"));
    assert!(html.contains("Enviar el informe diario ahora"));

    // An hour later the countdown has moved; a day later tomorrow is today.
    app.clock.advance(chrono::Duration::hours(1));
    let (_, html) = s.get("/dashboard").await;
    let expiring = section(&html, "vencen");
    assert!(
        expiring.contains("vence en 1 h 9 min") || expiring.contains("vence en 1 h 8 min"),
        "{expiring}"
    );
    // Confirm it from Hoy: back to Hoy with the notice.
    let res = s
        .post(
            &format!("/dashboard/reservas/{held_code}/confirmar"),
            &[("volver", "hoy")],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/dashboard?aviso=confirmada");
    assert_eq!(state_of(app, held_id).await, ReservationState::Confirmed);
    let (_, html) = s.get("/dashboard?aviso=confirmada").await;
    assert!(html.contains("Reserva confirmada"), "{html}");
    assert!(html.contains("Ninguna prerreserva vence"), "{html}");

    // A day after the start (the hour above included): the arrivals and departures are read
    // against the start's dates, whatever the time of day the test runs at.
    app.clock
        .advance(chrono::Duration::days(1) - chrono::Duration::hours(1));
    // (The session lasts 12 h: a new day, a new login.)
    let s = Session::start(app).await;
    let (_, html) = s.get("/dashboard").await;
    assert!(section(&html, "llegadas-hoy").contains(&tomorrow_code));
    assert!(section(&html, "salidas-hoy").contains(&short_code));
    assert!(section(&html, "salidas-manana").contains(&today_code));
    f.app.run_pending_jobs().await;
    f.app.stop().await;
}

on_both!(
    the_list_filters_searches_pages_and_exports,
    the_detail_shows_the_reservation_and_its_actions_work,
    hoy_shows_the_day_and_what_needs_the_owner,
);
