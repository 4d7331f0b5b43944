//! The owner's Calendario and Canales pages over plain HTTP (issue 13), as a logged-in browser
//! uses them: the month grid says each night's state in words (free, held, confirmed, owner
//! block, channel block with its channel); a free night opens the block form; the block form
//! creates the block the public availability then refuses, and refuses a bad one with the reason
//! next to its field (422, nothing typed lost) or a missing CSRF token (403); a block's page
//! deletes it; the channels page adds, edits, syncs and removes a feed and shows its conflict;
//! a new export address works at once and the previous one answers 404.

use chrono::{Datelike, Duration, NaiveDate};
use posada_testkit::FakeChannel;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, dashboard_login};
use crate::on_both;

const PASSWORD: &str = "una clave larga del dueño";

/// A logged-in owner's browser: its session cookie and the CSRF token its pages carry.
struct Browser {
    app: TestApp,
    client: reqwest::Client,
    cookie: String,
    csrf: String,
}

impl Browser {
    async fn start(backend: Backend) -> Browser {
        let hash = posada_server::http::dashboard::hash_password(PASSWORD).unwrap();
        let app = TestApp::spawn_with(backend, |s| {
            s.owner_password_hash = Some(posada_server::config::Secret::new(hash));
        })
        .await;
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let res = dashboard_login(&app, &client, PASSWORD).await;
        assert_eq!(res.status(), 303);
        let cookie = res.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_string();
        let mut b = Browser {
            app,
            client,
            cookie,
            csrf: String::new(),
        };
        let (status, html) = b.get("/dashboard").await;
        assert_eq!(status, 200);
        let marker = "name=\"csrf_token\" value=\"";
        let start = html.find(marker).unwrap() + marker.len();
        b.csrf = html[start..start + 64].to_string();
        b
    }

    async fn get(&self, path: &str) -> (u16, String) {
        let res = self
            .client
            .get(self.app.url(path))
            .header("Cookie", &self.cookie)
            .send()
            .await
            .unwrap();
        (res.status().as_u16(), page_text(res).await)
    }

    /// Send a form the way the page does (with its CSRF token).
    async fn post(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        let mut all = vec![("csrf_token", self.csrf.as_str())];
        all.extend_from_slice(fields);
        self.post_raw(path, &all).await
    }

    async fn post_raw(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        self.client
            .post(self.app.url(path))
            .header("Cookie", &self.cookie)
            .form(fields)
            .send()
            .await
            .unwrap()
    }

    /// Post, expect a redirect, and open where it points.
    async fn post_and_follow(&self, path: &str, fields: &[(&str, &str)]) -> (String, String) {
        let res = self.post(path, fields).await;
        let status = res.status().as_u16();
        let location = res
            .headers()
            .get("location")
            .map(|l| l.to_str().unwrap().to_string());
        let body = page_text(res).await;
        assert_eq!(status, 303, "{path}: {body}");
        let location = location.unwrap();
        let (status, html) = self.get(&location).await;
        assert_eq!(status, 200, "{location}");
        (location, html)
    }
}

/// A page's text with the engine's escapes of `/ & " '` undone, to compare with what the owner
/// sees (minijinja writes `/` as `&#x2f;` inside values).
async fn page_text(res: reqwest::Response) -> String {
    unescape(&res.text().await.unwrap())
}

fn unescape(html: &str) -> String {
    html.replace("&#x2f;", "/")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&amp;", "&")
}

/// The first of the month after next: every night of it is in the future.
fn target_month(app: &TestApp) -> NaiveDate {
    let today = app.state.today();
    let first = today.with_day(1).unwrap();
    (first + Duration::days(70)).with_day(1).unwrap()
}

fn day(month: NaiveDate, n: i64) -> NaiveDate {
    month + Duration::days(n - 1)
}

/// A hold for `slug` over `[from, until)`: its code and id.
async fn hold(app: &TestApp, slug: &str, from: NaiveDate, until: NaiveDate) -> (String, i64) {
    let res = app
        .pre_reserve(slug, &from.to_string(), &until.to_string())
        .await;
    let status = res.status();
    let body: Value = res.json().await.unwrap();
    assert_eq!(status, 201, "{body}");
    let code = body["code"].as_str().unwrap().to_string();
    let id = posada_store::reservations::get_by_code(app.state.db(), &code)
        .await
        .unwrap()
        .unwrap()
        .id;
    (code, id)
}

async fn confirm(app: &TestApp, id: i64) {
    let res = app
        .admin_post(
            &format!("/api/v1/admin/reservations/{id}/confirm"),
            &json!({}),
        )
        .await;
    assert!(res.status().is_success(), "{}", res.status());
}

/// The phone grid's cell for night `date` (its `<td …>…</td>`).
fn phone_cell(html: &str, date: NaiveDate) -> String {
    let grid = &html[html
        .find("<table class=\"cal-month\"")
        .expect("the phone grid")..];
    let at = grid
        .find(&format!("data-date=\"{date}\""))
        .unwrap_or_else(|| panic!("no cell for {date}"));
    let start = grid[..at].rfind("<td").unwrap();
    let end = at + grid[at..].find("</td>").unwrap();
    grid[start..end].to_string()
}

/// The desktop row of unit `slug` (its `<tr …>…</tr>`).
fn desktop_row(html: &str, slug: &str) -> String {
    let table = &html[html
        .find("<table class=\"cal-table\"")
        .expect("the desktop table")..];
    let start = table
        .find(&format!("<tr data-unit=\"{slug}\">"))
        .unwrap_or_else(|| panic!("no row for {slug}"));
    let end = start + table[start..].find("</tr>").unwrap();
    table[start..end].to_string()
}

/// Whether the public availability API says night `date` of `slug` can be booked.
async fn publicly_free(app: &TestApp, slug: &str, date: NaiveDate) -> bool {
    let res = app
        .get(&format!(
            "/api/v1/accommodations/{slug}/availability?month={}",
            date.format("%Y-%m")
        ))
        .await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    body["days"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["date"] == date.to_string())
        .unwrap()["available"]
        .as_bool()
        .unwrap()
}

/// One all-day event feed as Airbnb serves it.
fn airbnb_feed(uid: &str, from: NaiveDate, until: NaiveDate) -> String {
    format!(
        "BEGIN:VCALENDAR\r\nPRODID:-//Airbnb Inc//Hosting Calendar 1.0//EN\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nDTSTART;VALUE=DATE:{}\r\nDTEND;VALUE=DATE:{}\r\nUID:{uid}\r\nSUMMARY:Reserved\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
        from.format("%Y%m%d"),
        until.format("%Y%m%d")
    )
}

/// The text between `from` and the next `"`, after the first `from` in `html`.
fn attr_after<'a>(html: &'a str, from: &str) -> &'a str {
    let start = html.find(from).unwrap_or_else(|| panic!("{from} in page")) + from.len();
    let end = start + html[start..].find('"').unwrap();
    &html[start..end]
}

on_both!(
    the_month_shows_each_nights_state_in_words,
    a_free_night_opens_the_block_form_and_the_block_closes_the_night,
    a_bad_block_is_refused_next_to_its_field_and_nothing_is_lost,
    an_owner_block_is_removed_from_its_page,
    a_feed_is_added_synced_shows_its_conflict_and_is_edited_and_removed,
    a_new_export_address_works_and_the_old_one_answers_404,
);

async fn the_month_shows_each_nights_state_in_words(backend: Backend) {
    let b = Browser::start(backend).await;
    let app = &b.app;
    let acc = app.create_accommodation("lago", 1_500_000).await["id"]
        .as_i64()
        .unwrap();
    app.create_accommodation("bosque", 1_000_000).await;
    let m = target_month(app);
    let (confirmed, id) = hold(app, "lago", day(m, 3), day(m, 6)).await;
    confirm(app, id).await;
    let (held, _) = hold(app, "lago", day(m, 10), day(m, 12)).await;
    let res = app
        .admin_post(
            "/api/v1/admin/blocks",
            &json!({"accommodation_id": acc, "check_in": day(m, 20), "check_out": day(m, 22), "reason": "Pintura"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    // A channel's nights, imported through the channels page.
    let channel = FakeChannel::start().await;
    channel.set_feed(
        "/airbnb.ics",
        airbnb_feed("x1@airbnb.com", day(m, 25), day(m, 27)),
    );
    let acc_s = acc.to_string();
    let url = channel.url("/airbnb.ics");
    b.post_and_follow(
        "/dashboard/canales/nuevo",
        &[
            ("unidad", &acc_s),
            ("canal", "airbnb"),
            ("url", &url),
            ("activo", "on"),
        ],
    )
    .await;
    let feed_id = posada_store::feeds::list(app.state.db(), Some(acc))
        .await
        .unwrap()[0]
        .id;
    b.post_and_follow(&format!("/dashboard/canales/{feed_id}/sincronizar"), &[])
        .await;
    app.run_pending_jobs().await;

    let (status, html) = b
        .get(&format!(
            "/dashboard/calendario?mes={}&unidad=lago",
            m.format("%Y-%m")
        ))
        .await;
    assert_eq!(status, 200);
    assert!(
        html.contains("data-live=\"calendar reservation\""),
        "live page"
    );
    // The phone grid: one unit, every night in words.
    let c = phone_cell(&html, day(m, 4));
    assert!(c.contains("k-confirmed") && c.contains("Conf."), "{c}");
    assert!(
        c.contains(&format!("Confirmada: {confirmed}, Ana Pérez")),
        "{c}"
    );
    assert!(
        c.contains(&format!("href=\"/dashboard/reservas/{confirmed}\"")),
        "{c}"
    );
    let c = phone_cell(&html, day(m, 10));
    assert!(c.contains("k-held") && c.contains("Prerres."), "{c}");
    assert!(c.contains(&format!("Prerreserva: {held}")), "{c}");
    let c = phone_cell(&html, day(m, 21));
    assert!(c.contains("k-owner") && c.contains("Bloq."), "{c}");
    assert!(c.contains("Bloqueado por vos: Pintura"), "{c}");
    assert!(c.contains("/dashboard/calendario/bloqueos/"), "{c}");
    let c = phone_cell(&html, day(m, 25));
    assert!(c.contains("k-channel") && c.contains(">Airbnb<"), "{c}");
    assert!(c.contains("Ocupado en Airbnb"), "{c}");
    let c = phone_cell(&html, day(m, 15));
    assert!(c.contains("k-free") && c.contains("libre"), "{c}");
    assert!(
        c.contains(&format!(
            "href=\"/dashboard/calendario/bloqueos/nuevo?unidad=lago&desde={}\"",
            day(m, 15)
        )),
        "{c}"
    );
    // Nights of one stay are one cell of the desktop row, with its code and guest.
    let row = desktop_row(&html, "lago");
    assert!(
        row.contains(&format!(
            "colspan=\"3\" class=\"k-confirmed\" data-date=\"{}\"",
            day(m, 3)
        )),
        "{row}"
    );
    assert!(
        row.contains(&format!("Conf. {confirmed} Ana Pérez")),
        "{row}"
    );
    assert!(row.contains("colspan=\"2\" class=\"k-channel\""), "{row}");
    assert!(desktop_row(&html, "bosque").contains("libre, bloquear"));
    // Month navigation keeps the unit.
    let next = (m + Duration::days(40)).with_day(1).unwrap();
    assert!(
        html.contains(&format!(
            "/dashboard/calendario?mes={}&unidad=lago",
            next.format("%Y-%m")
        )),
        "next month link"
    );
    // The picker shows the other unit, all free.
    let (_, other) = b
        .get(&format!(
            "/dashboard/calendario?mes={}&unidad=bosque",
            m.format("%Y-%m")
        ))
        .await;
    assert!(
        other.contains("<h3 id=\"cal-unit-title\">Cabaña bosque</h3>"),
        "bosque chosen"
    );
    assert!(phone_cell(&other, day(m, 4)).contains("k-free"));
    assert!(other.contains("Todas las noches están libres."));
    // The channel block's own page says where it comes from and offers no delete.
    let href = attr_after(&phone_cell(&html, day(m, 25)), "href=\"").to_string();
    let (status, page) = b.get(&href).await;
    assert_eq!(status, 200);
    assert!(page.contains("Ocupado en Airbnb"), "{page}");
    assert!(!page.contains("Quitar el bloqueo"), "{page}");
    let id: i64 = href.rsplit('/').next().unwrap().parse().unwrap();
    let res = b
        .post(&format!("/dashboard/calendario/bloqueos/{id}/quitar"), &[])
        .await;
    assert_eq!(res.status(), 404);
    assert!(!publicly_free(app, "lago", day(m, 25)).await);
    // A month that does not read as one: the current month, said so.
    let (status, html) = b.get("/dashboard/calendario?mes=2027-13").await;
    assert_eq!(status, 200);
    assert!(html.contains("No entendimos el mes pedido"));
    b.app.stop().await;
}

async fn a_free_night_opens_the_block_form_and_the_block_closes_the_night(backend: Backend) {
    let b = Browser::start(backend).await;
    let app = &b.app;
    app.create_accommodation("lago", 1_500_000).await;
    let m = target_month(app);
    let night = day(m, 14);
    assert!(publicly_free(app, "lago", night).await);
    let (_, html) = b
        .get(&format!(
            "/dashboard/calendario?mes={}&unidad=lago",
            m.format("%Y-%m")
        ))
        .await;
    let link = attr_after(&phone_cell(&html, night), "href=\"").to_string();
    let (status, form) = b.get(&link).await;
    assert_eq!(status, 200);
    assert!(
        form.contains(&format!("name=\"desde\" type=\"date\" value=\"{night}\"")),
        "{form}"
    );
    assert!(
        form.contains(&format!(
            "name=\"hasta\" type=\"date\" value=\"{}\"",
            night + Duration::days(1)
        )),
        "{form}"
    );
    assert!(form.contains("<option value=\"lago\" selected>"), "{form}");
    for field in ["b-unidad", "b-desde", "b-hasta", "b-motivo"] {
        assert!(
            form.contains(&format!("<label for=\"{field}\">")),
            "{field} labelled"
        );
    }

    let until = night + Duration::days(2);
    let (location, html) = b
        .post_and_follow(
            "/dashboard/calendario/bloqueos/nuevo",
            &[
                ("unidad", "lago"),
                ("desde", &night.to_string()),
                ("hasta", &until.to_string()),
                ("motivo", "Arreglo del techo"),
            ],
        )
        .await;
    assert_eq!(
        location,
        format!(
            "/dashboard/calendario?mes={}&unidad=lago&aviso=bloqueo-creado",
            m.format("%Y-%m")
        )
    );
    assert!(html.contains("Bloqueo creado"), "notice");
    for d in [night, night + Duration::days(1)] {
        let c = phone_cell(&html, d);
        assert!(
            c.contains("k-owner") && c.contains("Arreglo del techo"),
            "{c}"
        );
        assert!(!publicly_free(app, "lago", d).await, "{d} taken for guests");
    }
    assert!(phone_cell(&html, until).contains("k-free"));
    assert!(publicly_free(app, "lago", until).await);
    // A guest can no longer hold it.
    let res = app
        .pre_reserve("lago", &night.to_string(), &until.to_string())
        .await;
    assert_eq!(res.status(), 409);
    b.app.stop().await;
}

async fn a_bad_block_is_refused_next_to_its_field_and_nothing_is_lost(backend: Backend) {
    let b = Browser::start(backend).await;
    let app = &b.app;
    app.create_accommodation("lago", 1_500_000).await;
    let m = target_month(app);
    let (_, id) = hold(app, "lago", day(m, 5), day(m, 8)).await;
    confirm(app, id).await;
    let path = "/dashboard/calendario/bloqueos/nuevo";
    let (d3, d6, d10) = (
        day(m, 3).to_string(),
        day(m, 6).to_string(),
        day(m, 10).to_string(),
    );

    // Without the page's CSRF token: 403, nothing created.
    let res = b
        .post_raw(
            path,
            &[
                ("unidad", "lago"),
                ("desde", &d10),
                ("hasta", &day(m, 11).to_string()),
                ("motivo", "x"),
            ],
        )
        .await;
    assert_eq!(res.status(), 403);
    // A wrong token: 403 too.
    let res = b
        .post_raw(
            path,
            &[
                ("csrf_token", &"0".repeat(64)),
                ("unidad", "lago"),
                ("desde", &d10),
                ("hasta", &day(m, 11).to_string()),
                ("motivo", "x"),
            ],
        )
        .await;
    assert_eq!(res.status(), 403);
    assert!(publicly_free(app, "lago", day(m, 10)).await);

    // Over a confirmed stay: 422, the reason next to "Desde", everything typed kept.
    let res = b
        .post(
            path,
            &[
                ("unidad", "lago"),
                ("desde", &d3),
                ("hasta", &d6),
                ("motivo", "Fumigación"),
            ],
        )
        .await;
    assert_eq!(res.status(), 422);
    let html = page_text(res).await;
    assert!(
        html.contains(&format!(
            "<p class=\"field-error\" id=\"b-desde-err\">Entre el {} y el {} hay noches ocupadas",
            day(m, 3).format("%d/%m/%Y"),
            day(m, 6).format("%d/%m/%Y")
        )),
        "{html}"
    );
    assert!(html.contains("aria-describedby=\"b-desde-err\""), "{html}");
    assert!(html.contains("value=\"Fumigación\""), "{html}");
    assert!(html.contains(&format!("value=\"{d3}\"")) && html.contains(&format!("value=\"{d6}\"")));
    assert!(
        publicly_free(app, "lago", day(m, 3)).await,
        "nothing was created"
    );

    // The end not after the start.
    let res = b
        .post(
            path,
            &[
                ("unidad", "lago"),
                ("desde", &d10),
                ("hasta", &d10),
                ("motivo", "Pintura"),
            ],
        )
        .await;
    assert_eq!(res.status(), 422);
    let html = page_text(res).await;
    assert!(
        html.contains("id=\"b-hasta-err\">«Hasta» tiene que ser posterior a «Desde»"),
        "{html}"
    );
    assert!(html.contains("value=\"Pintura\""));

    // Missing and malformed fields, each named.
    let res = b
        .post(
            path,
            &[
                ("unidad", ""),
                ("desde", "mañana"),
                ("hasta", ""),
                ("motivo", "  "),
            ],
        )
        .await;
    assert_eq!(res.status(), 422);
    let html = page_text(res).await;
    assert!(
        html.contains("id=\"b-unidad-err\">Elegí el alojamiento."),
        "{html}"
    );
    assert!(
        html.contains("id=\"b-desde-err\">Esa fecha no es válida"),
        "{html}"
    );
    assert!(
        html.contains("id=\"b-hasta-err\">Elegí el día en que vuelve a estar libre."),
        "{html}"
    );
    assert!(
        html.contains("id=\"b-motivo-err\">Escribí el motivo"),
        "{html}"
    );
    assert!(html.contains("value=\"mañana\""), "typed text kept: {html}");

    // No session: 401, not a login page for a form post.
    let res = reqwest::Client::new()
        .post(app.url(path))
        .form(&[("csrf_token", b.csrf.as_str()), ("unidad", "lago")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    b.app.stop().await;
}

async fn an_owner_block_is_removed_from_its_page(backend: Backend) {
    let b = Browser::start(backend).await;
    let app = &b.app;
    app.create_accommodation("lago", 1_500_000).await;
    let m = target_month(app);
    let (_, html) = b
        .post_and_follow(
            "/dashboard/calendario/bloqueos/nuevo",
            &[
                ("unidad", "lago"),
                ("desde", &day(m, 8).to_string()),
                ("hasta", &day(m, 9).to_string()),
                ("motivo", "Visita familiar"),
            ],
        )
        .await;
    assert!(!publicly_free(app, "lago", day(m, 8)).await);
    let href = attr_after(&phone_cell(&html, day(m, 8)), "href=\"").to_string();
    let (status, page) = b.get(&href).await;
    assert_eq!(status, 200);
    assert!(page.contains("Visita familiar"), "{page}");
    assert!(page.contains("1 noche"), "{page}");
    assert!(page.contains("Quitar el bloqueo"), "{page}");

    let res = b.post_raw(&format!("{href}/quitar"), &[]).await;
    assert_eq!(res.status(), 403, "no CSRF token");
    assert!(!publicly_free(app, "lago", day(m, 8)).await);

    let (location, html) = b.post_and_follow(&format!("{href}/quitar"), &[]).await;
    assert!(
        location.ends_with("&unidad=lago&aviso=bloqueo-quitado"),
        "{location}"
    );
    assert!(html.contains("Bloqueo quitado"));
    assert!(phone_cell(&html, day(m, 8)).contains("k-free"));
    assert!(publicly_free(app, "lago", day(m, 8)).await);
    // Gone: its page and a second delete say so.
    let (status, page) = b.get(&href).await;
    assert_eq!(status, 404);
    assert!(page.contains("Ese bloqueo no existe"));
    let res = b.post(&format!("{href}/quitar"), &[]).await;
    assert_eq!(res.status(), 404);
    b.app.stop().await;
}

async fn a_feed_is_added_synced_shows_its_conflict_and_is_edited_and_removed(backend: Backend) {
    let b = Browser::start(backend).await;
    let app = &b.app;
    let acc = app.create_accommodation("lago", 1_500_000).await["id"]
        .as_i64()
        .unwrap();
    let acc_s = acc.to_string();
    let m = target_month(app);
    let (code, id) = hold(app, "lago", day(m, 10), day(m, 13)).await;
    confirm(app, id).await;
    let channel = FakeChannel::start().await;
    channel.set_feed(
        "/cal.ics",
        airbnb_feed("over@airbnb.com", day(m, 11), day(m, 12)),
    );
    let url = channel.url("/cal.ics");

    let (_, html) = b.get("/dashboard/canales").await;
    assert!(html.contains("No importa ningún calendario."), "{html}");
    assert!(html.contains("data-live=\"feed calendar\""));
    let (status, form) = b
        .get(&format!("/dashboard/canales/nuevo?unidad={acc}"))
        .await;
    assert_eq!(status, 200);
    assert!(
        form.contains(&format!("<option value=\"{acc}\" selected>")),
        "{form}"
    );
    for field in ["f-unidad", "f-canal", "f-url", "f-activo"] {
        assert!(
            form.contains(&format!("for=\"{field}\"")),
            "{field} labelled"
        );
    }

    // A bad address: 422 next to the field, what was typed kept.
    let res = b
        .post(
            "/dashboard/canales/nuevo",
            &[
                ("unidad", &acc_s),
                ("canal", "airbnb"),
                ("url", "calendario de airbnb"),
                ("activo", "on"),
            ],
        )
        .await;
    assert_eq!(res.status(), 422);
    let html = page_text(res).await;
    assert!(
        html.contains("id=\"f-url-err\">Esa dirección no sirve"),
        "{html}"
    );
    assert!(html.contains("value=\"calendario de airbnb\""), "{html}");
    let res = b
        .post_raw(
            "/dashboard/canales/nuevo",
            &[("unidad", &acc_s), ("canal", "airbnb"), ("url", &url)],
        )
        .await;
    assert_eq!(res.status(), 403);
    assert!(
        posada_store::feeds::list(app.state.db(), None)
            .await
            .unwrap()
            .is_empty()
    );

    let (location, html) = b
        .post_and_follow(
            "/dashboard/canales/nuevo",
            &[
                ("unidad", &acc_s),
                ("canal", "airbnb"),
                ("url", &url),
                ("activo", "on"),
            ],
        )
        .await;
    assert_eq!(location, "/dashboard/canales?aviso=agregado");
    assert!(html.contains("Calendario agregado"));
    assert!(html.contains("<strong>Airbnb</strong>"), "{html}");
    assert!(html.contains("todavía ninguna"), "{html}");
    let feed_id = posada_store::feeds::list(app.state.db(), None)
        .await
        .unwrap()[0]
        .id;

    // "Sincronizar ahora": the job fetches the feed; the page shows what it brought.
    let (location, _) = b
        .post_and_follow(&format!("/dashboard/canales/{feed_id}/sincronizar"), &[])
        .await;
    assert_eq!(location, "/dashboard/canales?aviso=sincronizando");
    app.run_pending_jobs().await;
    assert_eq!(channel.requests_to("/cal.ics").len(), 1);
    let (_, html) = b.get("/dashboard/canales").await;
    assert!(!html.contains("todavía ninguna"), "{html}");
    assert!(
        html.contains("1 en el calendario, 1 bloqueo guardado"),
        "{html}"
    );
    assert!(
        html.contains("⚠ 1 conflicto: Airbnb marca ocupadas noches de una reserva nuestra."),
        "{html}"
    );
    assert!(
        html.contains(&format!(
            "Reserva <a href=\"/dashboard/reservas/{code}\">{code}</a> (confirmada, del {} al {}) choca con Airbnb: ocupado del {} al {}",
            day(m, 10).format("%d/%m/%Y"),
            day(m, 13).format("%d/%m/%Y"),
            day(m, 11).format("%d/%m/%Y"),
            day(m, 12).format("%d/%m/%Y"),
        )),
        "{html}"
    );
    // The calendar shows the overlap as a conflict.
    let (_, cal) = b
        .get(&format!(
            "/dashboard/calendario?mes={}&unidad=lago",
            m.format("%Y-%m")
        ))
        .await;
    let c = phone_cell(&cal, day(m, 11));
    assert!(c.contains("k-conflict") && c.contains("⚠"), "{c}");
    assert!(c.contains("también Ocupado en Airbnb"), "{c}");

    // Edit: the form comes filled in; a failing address shows its error after the next sync.
    let (status, form) = b.get(&format!("/dashboard/canales/{feed_id}/editar")).await;
    assert_eq!(status, 200);
    assert!(form.contains(&format!("value=\"{url}\"")), "{form}");
    assert!(
        form.contains("<option value=\"airbnb\" selected>"),
        "{form}"
    );
    channel.set_status("/broken.ics", 500);
    let broken = channel.url("/broken.ics");
    let (location, html) = b
        .post_and_follow(
            &format!("/dashboard/canales/{feed_id}/editar"),
            &[
                ("unidad", &acc_s),
                ("canal", "booking"),
                ("url", &broken),
                ("activo", "on"),
            ],
        )
        .await;
    assert_eq!(location, "/dashboard/canales?aviso=guardado");
    assert!(html.contains("<strong>Booking.com</strong>"), "{html}");
    b.post_and_follow(&format!("/dashboard/canales/{feed_id}/sincronizar"), &[])
        .await;
    app.run_pending_jobs().await;
    let (_, html) = b.get("/dashboard/canales").await;
    assert!(html.contains("El canal respondió con un error"), "{html}");
    assert!(
        html.contains("1 bloqueo guardado"),
        "kept on failure: {html}"
    );
    // A paused feed is not synced on request.
    b.post_and_follow(
        &format!("/dashboard/canales/{feed_id}/editar"),
        &[("unidad", &acc_s), ("canal", "booking"), ("url", &broken)],
    )
    .await;
    let res = b
        .post(&format!("/dashboard/canales/{feed_id}/sincronizar"), &[])
        .await;
    assert_eq!(res.status(), 409);
    assert!(page_text(res).await.contains("está pausado"));

    // Remove: a page says what it frees; its button removes the feed and the nights it blocked.
    assert!(!publicly_free(app, "lago", day(m, 11)).await);
    let (_, html) = b.get("/dashboard/canales").await;
    assert!(
        html.contains(&format!(
            "href=\"/dashboard/canales/{feed_id}/quitar\">Quitar</a>"
        )),
        "{html}"
    );
    let (status, page) = b.get(&format!("/dashboard/canales/{feed_id}/quitar")).await;
    assert_eq!(status, 200);
    assert!(
        page.contains(
            "¿Quitar el calendario de <strong>Booking.com</strong> de <strong>Cabaña lago</strong>?"
        ),
        "{page}"
    );
    assert!(
        page.contains("La noche que bloqueaba queda libre"),
        "{page}"
    );
    assert!(
        !publicly_free(app, "lago", day(m, 11)).await,
        "opening the page removes nothing"
    );
    let (location, html) = b
        .post_and_follow(&format!("/dashboard/canales/{feed_id}/quitar"), &[])
        .await;
    assert_eq!(location, "/dashboard/canales?aviso=quitado");
    assert!(html.contains("No importa ningún calendario."), "{html}");
    assert!(!html.contains("conflicto:"), "{html}");
    let (_, cal) = b
        .get(&format!(
            "/dashboard/calendario?mes={}&unidad=lago",
            m.format("%Y-%m")
        ))
        .await;
    assert!(!phone_cell(&cal, day(m, 11)).contains("k-conflict"));
    let (status, _) = b.get(&format!("/dashboard/canales/{feed_id}/editar")).await;
    assert_eq!(status, 404);
    let (status, _) = b.get(&format!("/dashboard/canales/{feed_id}/quitar")).await;
    assert_eq!(status, 404);
    b.app.stop().await;
}

async fn a_new_export_address_works_and_the_old_one_answers_404(backend: Backend) {
    let b = Browser::start(backend).await;
    let app = &b.app;
    let acc = app.create_accommodation("lago", 1_500_000).await["id"]
        .as_i64()
        .unwrap();
    let (_, html) = b.get("/dashboard/canales").await;
    assert!(
        html.contains("<strong>Airbnb</strong>: todavía no creada"),
        "{html}"
    );
    let action = format!("/dashboard/canales/exportar/{acc}/airbnb");
    assert!(html.contains(&format!("action=\"{action}\"")), "{html}");

    let res = b.post_raw(&action, &[]).await;
    assert_eq!(res.status(), 403, "no CSRF token");
    assert!(html.contains("todavía no creada"));

    let address = |html: &str| -> String {
        let url = attr_after(
            html,
            "id=\"export-url\" name=\"export_url\" type=\"text\" value=\"",
        );
        let path = &url[url.find("/ical/").unwrap()..];
        assert!(path.ends_with(".ics"), "{url}");
        path.to_string()
    };
    let res = b.post(&action, &[]).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let page = page_text(res).await;
    assert!(
        page.contains("<label for=\"export-url\">Dirección de exportación para Airbnb</label>"),
        "{page}"
    );
    assert!(page.contains("readonly"), "{page}");
    assert!(page.contains("<script src=\"/static/channels.js\" defer></script>"));
    assert!(
        !page.contains("La anterior ya no funciona"),
        "nothing was replaced: {page}"
    );
    let first = address(&page);
    let res = app.get(&first).await;
    assert_eq!(res.status(), 200);
    assert!(page_text(res).await.starts_with("BEGIN:VCALENDAR"));

    // The channels page never shows it again, only when it was made.
    let (_, html) = b.get("/dashboard/canales").await;
    assert!(!html.contains(&first), "the secret is shown only once");
    assert!(
        html.contains("<strong>Airbnb</strong>: creada el"),
        "{html}"
    );
    assert!(
        html.contains("Generar una nueva dirección para Airbnb"),
        "{html}"
    );

    // Rotation: a new address works, the old one is gone.
    let page = page_text(b.post(&action, &[]).await).await;
    assert!(
        page.contains("La anterior ya no funciona: cambiala también en Airbnb."),
        "{page}"
    );
    let second = address(&page);
    assert_ne!(first, second);
    assert_eq!(app.get(&second).await.status(), 200);
    assert_eq!(app.get(&first).await.status(), 404);
    // Another channel's address is its own.
    let page = b
        .post(&format!("/dashboard/canales/exportar/{acc}/booking"), &[])
        .await;
    let page = page_text(page).await;
    assert!(page.contains("Dirección de exportación para Booking.com"));
    assert_eq!(app.get(&address(&page)).await.status(), 200);
    assert_eq!(app.get(&second).await.status(), 200);
    // Unknown channel or unit: 404 with a message.
    let res = b
        .post(&format!("/dashboard/canales/exportar/{acc}/expedia"), &[])
        .await;
    assert_eq!(res.status(), 404);
    let res = b
        .post("/dashboard/canales/exportar/999999/airbnb", &[])
        .await;
    assert_eq!(res.status(), 404);
    // The copy button's script is served as a script.
    let res = app.get("/static/channels.js").await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
    b.app.stop().await;
}
