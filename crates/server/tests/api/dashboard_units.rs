//! The owner's web app, sections Alojamientos y precios and Automatización, over plain HTTP with a
//! logged-in session (issue 13): what the owner sends, what the page answers, and what the rest
//! of the system (the public quote, the engine) then does.

use std::time::Duration;

use posada_jobs::{JobOptions, JobState};
use posada_server::jobs::expire_hold::ExpireHold;
use serde_json::Value;

use crate::helpers::{Backend, TestApp, days_from_now, eventually};
use crate::on_both;

const PASSWORD: &str = "una clave larga del dueño";

/// A logged-in browser: its session cookie and CSRF token.
struct Session {
    client: reqwest::Client,
    cookie: String,
    csrf: String,
}

async fn spawn(backend: Backend) -> TestApp {
    let hash = posada_server::http::dashboard::hash_password(PASSWORD).unwrap();
    TestApp::spawn_with(backend, |s| {
        s.owner_password_hash = Some(posada_server::config::Secret::new(hash));
    })
    .await
}

async fn login(app: &TestApp) -> Session {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let res = crate::helpers::dashboard_login(app, &client, PASSWORD).await;
    assert_eq!(res.status(), 303);
    let cookie = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("posada_session="))
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let mut session = Session {
        client,
        cookie,
        csrf: String::new(),
    };
    let (_, html) = session.get(app, "/dashboard/alojamientos").await;
    let marker = "name=\"csrf_token\" value=\"";
    let start = html.find(marker).unwrap() + marker.len();
    session.csrf = html[start..start + 64].to_string();
    session
}

impl Session {
    async fn get(&self, app: &TestApp, path: &str) -> (u16, String) {
        let res = self
            .client
            .get(app.url(path))
            .header("cookie", &self.cookie)
            .send()
            .await
            .unwrap();
        (res.status().as_u16(), res.text().await.unwrap())
    }

    /// Post a form with the session's CSRF token; (status, Location or body).
    async fn post(&self, app: &TestApp, path: &str, fields: &[(&str, &str)]) -> (u16, String) {
        let mut form: Vec<(&str, &str)> = vec![("csrf_token", self.csrf.as_str())];
        form.extend_from_slice(fields);
        let res = self
            .client
            .post(app.url(path))
            .header("cookie", &self.cookie)
            .form(&form)
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        if status == 303 {
            return (status, res.headers()["location"].to_str().unwrap().into());
        }
        (status, res.text().await.unwrap())
    }
}

/// How minijinja writes `s` in a page.
fn html(s: &str) -> String {
    posada_server::notify::templates::escape_html(s).replace('/', "&#x2f;")
}

async fn admin_unit(app: &TestApp, slug: &str) -> Value {
    let res = app.admin_get("/api/v1/admin/accommodations").await;
    let body: Value = res.json().await.unwrap();
    body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["slug"] == slug)
        .cloned()
        .unwrap_or_else(|| panic!("no unit {slug}: {body}"))
}

async fn the_owner_creates_and_edits_a_unit(backend: Backend) {
    let app = spawn(backend).await;
    let s = login(&app).await;
    let (status, page) = s.get(&app, "/dashboard/alojamientos").await;
    assert_eq!(status, 200);
    assert!(page.contains("Todavía no hay alojamientos"), "{page}");

    // Every mistake named next to its field, and what was typed kept.
    let (status, page) = s
        .post(
            &app,
            "/dashboard/alojamientos",
            &[
                ("name", ""),
                ("kind", "cabin"),
                ("capacity", "cien"),
                ("base", "quince mil"),
            ],
        )
        .await;
    assert_eq!(status, 422, "{page}");
    assert!(page.contains("El nombre es obligatorio"), "{page}");
    assert!(
        page.contains("Escribí la capacidad con un número entero"),
        "{page}"
    );
    assert!(
        page.contains("Escribí el precio en pesos, por ejemplo 15000 o 15.000,50."),
        "{page}"
    );
    assert!(page.contains("value=\"quince mil\""), "{page}");
    assert!(page.contains("id=\"new-base-error\""), "{page}");

    // Created with its price in pesos, slug from the name.
    let (status, location) = s
        .post(
            &app,
            "/dashboard/alojamientos",
            &[
                ("name", "Cabaña del Río"),
                ("slug", ""),
                ("kind", "cabin"),
                ("capacity", "4"),
                ("base", "15.000"),
            ],
        )
        .await;
    assert_eq!(status, 303, "{location}");
    assert_eq!(
        location,
        "/dashboard/alojamientos/cabana-del-rio?aviso=creado"
    );
    let unit = admin_unit(&app, "cabana-del-rio").await;
    assert_eq!(unit["pricing"]["base_nightly"]["minor"], 1_500_000);
    assert_eq!(unit["capacity"], 4);
    let (status, page) = s.get(&app, &location).await;
    assert_eq!(status, 200);
    assert!(page.contains("Alojamiento creado."), "{page}");
    assert!(page.contains("$ 15.000,00"), "{page}");
    let (_, list) = s.get(&app, "/dashboard/alojamientos").await;
    assert!(list.contains("Cabaña del Río"), "{list}");
    assert!(
        list.contains("href=\"/dashboard/alojamientos/cabana-del-rio\""),
        "{list}"
    );

    // The same slug again: refused, named.
    let (status, page) = s
        .post(
            &app,
            "/dashboard/alojamientos",
            &[
                ("name", "Otra"),
                ("slug", "cabana-del-rio"),
                ("kind", "house"),
                ("capacity", "2"),
                ("base", "9000"),
            ],
        )
        .await;
    assert_eq!(status, 422);
    assert!(
        page.contains("Ya hay un alojamiento con ese identificador"),
        "{page}"
    );

    // Details: photos one per line (the first is the cover), directions, active.
    let details = |photos: &'static str| {
        vec![
            ("name", "Cabaña del Río"),
            ("kind", "cabin"),
            ("description", "Frente al río, con muelle."),
            ("capacity", "5"),
            ("directions", "Ruta 7 km 3, portón azul"),
            ("photos", photos),
            ("amenities", "wifi\nparrilla"),
            ("check_in_time", "15:00"),
            ("check_out_time", "10:30"),
            ("active", "1"),
        ]
    };
    let path = "/dashboard/alojamientos/cabana-del-rio/datos";
    let (status, page) = s
        .post(
            &app,
            path,
            &details("https://img.example/rio.jpg\nnot a url"),
        )
        .await;
    assert_eq!(status, 422);
    assert!(page.contains("Línea 2: la foto necesita una URL"), "{page}");
    assert!(
        page.contains("Frente al río, con muelle."),
        "typed text kept: {page}"
    );
    assert!(
        page.contains(&html("https://img.example/rio.jpg\nnot a url")),
        "{page}"
    );
    let (status, location) = s
        .post(
            &app,
            path,
            &details("https://img.example/rio.jpg\nhttps://img.example/muelle.jpg"),
        )
        .await;
    assert_eq!(status, 303, "{location}");
    let unit = admin_unit(&app, "cabana-del-rio").await;
    assert_eq!(unit["capacity"], 5);
    assert_eq!(unit["directions"], "Ruta 7 km 3, portón azul");
    assert_eq!(unit["check_in_time"], "15:00");
    assert_eq!(unit["photos"][0]["url"], "https://img.example/rio.jpg");
    assert_eq!(unit["photos"][0]["primary"], true);
    assert_eq!(unit["photos"][1]["url"], "https://img.example/muelle.jpg");
    assert_eq!(unit["amenities"], serde_json::json!(["wifi", "parrilla"]));
    // The prices were not touched by the details form.
    assert_eq!(unit["pricing"]["base_nightly"]["minor"], 1_500_000);

    // Prices: pesos with cents, the weekend surcharge, minimum nights, deposit.
    let prices = "/dashboard/alojamientos/cabana-del-rio/precios";
    let (status, page) = s
        .post(
            &app,
            prices,
            &[
                ("base", "15.000,5,0"),
                ("weekend", "veinte"),
                ("min_nights", "0"),
                ("deposit", "150"),
            ],
        )
        .await;
    assert_eq!(status, 422);
    for message in [
        "id=\"prices-base-error\"",
        "Escribí el recargo como un porcentaje",
        "La estadía mínima debe estar entre 1 y 365.",
        "La seña debe estar entre 0 y 100.",
    ] {
        assert!(page.contains(message), "{message}: {page}");
    }
    assert!(page.contains("value=\"15.000,5,0\""), "{page}");
    let unit = admin_unit(&app, "cabana-del-rio").await;
    assert_eq!(
        unit["pricing"]["base_nightly"]["minor"], 1_500_000,
        "nothing saved"
    );
    let (status, _) = s
        .post(
            &app,
            prices,
            &[
                ("base", "18.000,50"),
                ("weekend", "20"),
                ("min_nights", "2"),
                ("deposit", "40"),
                ("night_fri", "1"),
                ("night_sat", "1"),
                ("night_sun", "1"),
            ],
        )
        .await;
    assert_eq!(status, 303);
    let unit = admin_unit(&app, "cabana-del-rio").await;
    assert_eq!(
        unit["pricing"]["weekend_nights"],
        serde_json::json!(["Fri", "Sat", "Sun"])
    );
    assert_eq!(unit["pricing"]["base_nightly"]["minor"], 1_800_050);
    assert_eq!(unit["pricing"]["weekend_multiplier_bp"], 12_000);
    assert_eq!(unit["pricing"]["min_nights"], 2);
    assert_eq!(unit["pricing"]["deposit_percent"], 40);
    let (_, page) = s.get(&app, "/dashboard/alojamientos/cabana-del-rio").await;
    assert!(page.contains("value=\"18.000,50\""), "{page}");
    // 18.000,50 × 1,2 = 21.600,60 on weekend nights.
    assert!(page.contains("$ 21.600,60"), "{page}");
    assert!(
        page.contains("las noches del viernes, del sábado y del domingo"),
        "{page}"
    );
    assert!(
        page.contains("name=\"night_sun\" value=\"1\" checked"),
        "{page}"
    );
    assert!(
        !page.contains("name=\"night_mon\" value=\"1\" checked"),
        "{page}"
    );
    // The details were not touched by the prices form.
    assert_eq!(unit["capacity"], 5);

    let (status, page) = s.get(&app, "/dashboard/alojamientos/nada").await;
    assert_eq!(status, 404);
    assert!(page.contains("No existe ese alojamiento."));

    // Removing: only when ticked; a unit with a reservation is kept, inactive.
    let remove = "/dashboard/alojamientos/cabana-del-rio/eliminar";
    let (status, page) = s.post(&app, remove, &[]).await;
    assert_eq!(status, 422);
    assert!(page.contains("Marcá la casilla para confirmar"), "{page}");
    let res = app
        .pre_reserve("cabana-del-rio", &days_from_now(30), &days_from_now(32))
        .await;
    assert_eq!(res.status(), 201);
    let (status, location) = s.post(&app, remove, &[("confirm", "1")]).await;
    assert_eq!(status, 303);
    assert_eq!(
        location,
        "/dashboard/alojamientos/cabana-del-rio?aviso=desactivado"
    );
    assert_eq!(admin_unit(&app, "cabana-del-rio").await["active"], false);
    let (_, page) = s.get(&app, &location).await;
    assert!(page.contains("quedó inactivo"), "{page}");
    // One that never had a reservation goes.
    let (status, _) = s
        .post(
            &app,
            "/dashboard/alojamientos",
            &[
                ("name", "Prueba"),
                ("kind", "room"),
                ("capacity", "1"),
                ("base", "5000"),
            ],
        )
        .await;
    assert_eq!(status, 303);
    let (status, location) = s
        .post(
            &app,
            "/dashboard/alojamientos/prueba/eliminar",
            &[("confirm", "1")],
        )
        .await;
    assert_eq!(status, 303);
    assert_eq!(location, "/dashboard/alojamientos?aviso=eliminado");
    let (_, list) = s.get(&app, &location).await;
    assert!(list.contains("Alojamiento eliminado."), "{list}");
    assert!(!list.contains("Prueba"), "{list}");
    app.stop().await;
}

/// The preview's figures: (nights, total).
fn preview(page: &str) -> (String, String) {
    let grab = |class: &str| {
        let marker = format!("class=\"{class}\">");
        let start = page
            .find(&marker)
            .unwrap_or_else(|| panic!("no {class}: {page}"))
            + marker.len();
        page[start..start + page[start..].find('<').unwrap()].to_string()
    };
    (grab("quote-nights"), grab("quote-total"))
}

async fn public_total(app: &TestApp, slug: &str, from: &str, to: &str) -> String {
    let res = app
        .get(&format!(
            "/api/v1/accommodations/{slug}/quote?check_in={from}&check_out={to}&guests=2"
        ))
        .await;
    let body: Value = res.json().await.unwrap();
    body["quote"]["total_text"].as_str().unwrap().to_string()
}

async fn seasons_are_added_changed_removed_and_quoted(backend: Backend) {
    let app = spawn(backend).await;
    app.create_accommodation("lago", 1_000_000).await;
    let s = login(&app).await;
    let base = "/dashboard/alojamientos/lago";
    let (from, to) = (days_from_now(10), days_from_now(13));
    let quote_path = format!("{base}?entrada={from}&salida={to}&personas=2");

    // Before any season: 3 nights at the base price.
    let (status, page) = s.get(&app, &quote_path).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(preview(&page), ("3 noches".into(), "$ 30.000,00".into()));
    assert_eq!(public_total(&app, "lago", &from, &to).await, "$ 30.000,00");

    // A season over those nights (first and last night included).
    let season = |name: &'static str, first: String, last: String, price: &'static str| {
        vec![
            ("name", name.to_string()),
            ("first", first),
            ("last", last),
            ("price", price.to_string()),
            ("min_nights", String::new()),
        ]
    };
    let post_season = |path: String, fields: Vec<(&'static str, String)>| {
        let s = &s;
        let app = &app;
        async move {
            let f: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            s.post(app, &path, &f).await
        }
    };
    let (status, page) = post_season(
        format!("{base}/temporadas"),
        season("Verano", days_from_now(5), days_from_now(20), "20 mil"),
    )
    .await;
    assert_eq!(status, 422);
    assert!(page.contains("id=\"new-season-price-error\""), "{page}");
    assert!(page.contains("value=\"Verano\""), "typed name kept: {page}");
    let (status, page) = post_season(
        format!("{base}/temporadas"),
        season("Verano", days_from_now(20), days_from_now(5), "20000"),
    )
    .await;
    assert_eq!(status, 422);
    assert!(
        page.contains("La última noche no puede ser anterior a la primera."),
        "{page}"
    );
    let (status, location) = post_season(
        format!("{base}/temporadas"),
        season("Verano", days_from_now(5), days_from_now(20), "20.000"),
    )
    .await;
    assert_eq!(status, 303, "{location}");
    assert_eq!(location, format!("{base}?aviso=temporada-agregada"));
    let unit = admin_unit(&app, "lago").await;
    let stored = &unit["pricing"]["seasons"][0];
    assert_eq!(stored["nightly"]["minor"], 2_000_000);
    assert_eq!(stored["start"], days_from_now(5));
    assert_eq!(
        stored["end"],
        days_from_now(21),
        "the last night is included"
    );

    let (_, page) = s.get(&app, &quote_path).await;
    assert_eq!(preview(&page), ("3 noches".into(), "$ 60.000,00".into()));
    assert!(page.contains("Verano"));
    assert_eq!(public_total(&app, "lago", &from, &to).await, "$ 60.000,00");

    // Change its price: the preview and the public quote follow.
    let (status, _) = post_season(
        format!("{base}/temporadas/0"),
        season("Verano", days_from_now(5), days_from_now(20), "25.000,50"),
    )
    .await;
    assert_eq!(status, 303);
    let (_, page) = s.get(&app, &quote_path).await;
    assert_eq!(preview(&page), ("3 noches".into(), "$ 75.001,50".into()));
    assert_eq!(public_total(&app, "lago", &from, &to).await, "$ 75.001,50");

    // An overlapping season is refused on its own form, nothing lost.
    let (status, page) = post_season(
        format!("{base}/temporadas"),
        season("Fiestas", days_from_now(15), days_from_now(25), "30000"),
    )
    .await;
    assert_eq!(status, 422);
    assert!(
        page.contains("Se superpone con la temporada «Verano»"),
        "{page}"
    );
    assert!(page.contains("value=\"Fiestas\""), "{page}");
    assert_eq!(
        admin_unit(&app, "lago").await["pricing"]["seasons"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // The preview's own mistakes, in Spanish, with 422.
    let (status, page) = s
        .get(
            &app,
            &format!("{base}?entrada={to}&salida={from}&personas=2"),
        )
        .await;
    assert_eq!(status, 422);
    assert!(
        page.contains("debe ser posterior a la de entrada"),
        "{page}"
    );
    let (status, page) = s
        .get(
            &app,
            &format!("{base}?entrada={from}&salida={to}&personas=9"),
        )
        .await;
    assert_eq!(status, 422);
    assert!(page.contains("admite hasta 4 huéspedes"), "{page}");
    let (status, page) = s
        .get(&app, &format!("{base}?entrada=mañana&salida={to}"))
        .await;
    assert_eq!(status, 422);
    assert!(
        page.contains("La fecha de entrada no es una fecha válida"),
        "{page}"
    );

    // Removed: back to the base price.
    let (status, location) = s
        .post(&app, &format!("{base}/temporadas/0/quitar"), &[])
        .await;
    assert_eq!(status, 303);
    assert_eq!(location, format!("{base}?aviso=temporada-quitada"));
    let (_, page) = s.get(&app, &quote_path).await;
    assert_eq!(preview(&page), ("3 noches".into(), "$ 30.000,00".into()));
    let (status, _) = s
        .post(&app, &format!("{base}/temporadas/0/quitar"), &[])
        .await;
    assert_eq!(status, 404, "no season left to remove");
    app.stop().await;
}

/// A hold's expiry run too early, allowed one attempt: discarded with the engine's error.
async fn discarded_early_expiry(app: &TestApp) -> i64 {
    app.create_accommodation("sierra", 3_000_000).await;
    let res = app
        .pre_reserve("sierra", &days_from_now(5), &days_from_now(7))
        .await;
    assert_eq!(res.status(), 201);
    let code = res.json::<Value>().await.unwrap()["code"]
        .as_str()
        .unwrap()
        .to_string();
    let r = posada_store::reservations::get_by_code(app.state.db(), &code)
        .await
        .unwrap()
        .unwrap();
    let id = app
        .state
        .jobs()
        .enqueue(
            &ExpireHold {
                reservation_id: r.id,
            },
            JobOptions {
                max_attempts: Some(1),
                unique_key: Some(format!("early-expiry:{}", r.id)),
                ..JobOptions::default()
            },
        )
        .await
        .unwrap()
        .unwrap();
    app.job_finished(id).await;
    let job = app.state.jobs().admin().get(id).await.unwrap().unwrap();
    assert_eq!(job.job.state, JobState::Discarded);
    id
}

async fn tasks_jobs_and_queues_from_the_dashboard(backend: Backend) {
    let app = spawn(backend).await;
    let s = login(&app).await;
    let page = eventually(Duration::from_secs(10), || async {
        let (_, page) = s.get(&app, "/dashboard/automatizacion").await;
        page.contains("id=\"tarea-daily-report\"").then_some(page)
    })
    .await;
    assert!(page.contains("Informe diario por e-mail"), "{page}");
    assert!(page.contains("todos los días a las 08:00"), "{page}");
    // The connections the jobs use: none configured in this test.
    let smtp = &page[page.find("id=\"conexion-smtp\"").unwrap()..];
    assert!(
        smtp[..smtp.find("</li>").unwrap()].contains("Sin configurar"),
        "{smtp}"
    );

    // Pause, resume, run now.
    let task = |name: &str| {
        let app = &app;
        let name = name.to_string();
        async move {
            app.state
                .jobs()
                .admin()
                .periodic_list()
                .await
                .unwrap()
                .into_iter()
                .find(|t| t.name == name)
                .unwrap()
        }
    };
    let (status, location) = s.post(&app, "/dashboard/tasks/cleanup/pause", &[]).await;
    assert_eq!(status, 303);
    assert_eq!(location, "/dashboard/automatizacion?aviso=tarea-pausada");
    assert!(task("cleanup").await.paused);
    let (_, page) = s.get(&app, &location).await;
    assert!(page.contains("Tarea pausada"), "{page}");
    assert!(
        page.contains(&html("/dashboard/tasks/cleanup/resume")),
        "{page}"
    );
    let (status, _) = s.post(&app, "/dashboard/tasks/cleanup/resume", &[]).await;
    assert_eq!(status, 303);
    assert!(!task("cleanup").await.paused);
    let (status, location) = s.post(&app, "/dashboard/tasks/cleanup/run", &[]).await;
    assert_eq!(status, 303);
    assert_eq!(location, "/dashboard/automatizacion?aviso=tarea-pedida");
    eventually(Duration::from_secs(15), || async {
        task("cleanup").await.last_run_at.map(|_| ())
    })
    .await;
    let (_, page) = s.get(&app, "/dashboard/automatizacion").await;
    let row = &page[page.find("id=\"tarea-cleanup\"").unwrap()..];
    let row = &row[..row.find("</tr>").unwrap()];
    assert!(!row.contains("Nunca"), "the run is shown: {row}");
    // The chart of the last hour counts the run's job among the completed ones.
    let caption = &page[page.find("completados (").unwrap() + "completados (".len()..];
    let completed: i64 = caption[..caption.find(')').unwrap()].parse().unwrap();
    assert!(completed >= 1, "{caption}");
    let (status, page) = s.post(&app, "/dashboard/tasks/nope/run", &[]).await;
    assert_eq!(status, 404);
    assert!(page.contains("No existe esa tarea periódica."));

    // A discarded job: listed with its error, its page has the history; retried, it runs again.
    let id = discarded_early_expiry(&app).await;
    let (_, page) = s.get(&app, "/dashboard/automatizacion").await;
    assert!(page.contains(&format!("id=\"trabajo-{id}\"")), "{page}");
    assert!(page.contains("is not due until"), "{page}");
    assert!(
        page.contains("descartados (1)"),
        "the chart counts it: {page}"
    );
    let job_path = format!("/dashboard/automatizacion/trabajos/{id}");
    let (status, page) = s.get(&app, &job_path).await;
    assert_eq!(status, 200);
    assert!(page.contains("Descartado"), "{page}");
    assert!(page.contains("Intento 1"), "{page}");
    assert!(page.contains("reservation.expire_hold"), "{page}");
    let (status, location) = s
        .post(&app, &format!("/dashboard/jobs/{id}/retry"), &[])
        .await;
    assert_eq!(status, 303);
    assert_eq!(location, format!("{job_path}?aviso=reintentado"));
    // Still too early: it runs, fails again, and its page shows both attempts.
    eventually(Duration::from_secs(15), || async {
        let j = app.state.jobs().admin().get(id).await.unwrap()?;
        (j.errors.len() == 2 && j.job.state == JobState::Discarded).then_some(())
    })
    .await;
    let (_, page) = s.get(&app, &job_path).await;
    assert!(page.contains("Intento 2"), "{page}");

    // Cancel a job that waits (its queue has no worker), then a second cancel is refused.
    let waiting = app
        .state
        .jobs()
        .enqueue(
            &ExpireHold {
                reservation_id: 999_999,
            },
            JobOptions {
                queue: Some("other".into()),
                ..JobOptions::default()
            },
        )
        .await
        .unwrap()
        .unwrap();
    let (status, _) = s
        .post(&app, &format!("/dashboard/jobs/{waiting}/cancel"), &[])
        .await;
    assert_eq!(status, 303);
    let j = app
        .state
        .jobs()
        .admin()
        .get(waiting)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(j.job.state, JobState::Cancelled);
    let (status, page) = s
        .post(&app, &format!("/dashboard/jobs/{waiting}/cancel"), &[])
        .await;
    assert_eq!(status, 409);
    assert!(page.contains("El trabajo ya terminó (cancelado)"), "{page}");
    let (status, _) = s.post(&app, "/dashboard/jobs/999999/retry", &[]).await;
    assert_eq!(status, 404);
    let (status, _) = s
        .get(&app, "/dashboard/automatizacion/trabajos/999999")
        .await;
    assert_eq!(status, 404);

    // Queues: pause and resume.
    let (status, location) = s.post(&app, "/dashboard/queues/other/pause", &[]).await;
    assert_eq!(status, 303);
    assert_eq!(location, "/dashboard/automatizacion?aviso=cola-pausada");
    assert_eq!(
        app.state.jobs().admin().paused_queues().await.unwrap(),
        vec!["other".to_string()]
    );
    let (_, page) = s.get(&app, "/dashboard/automatizacion").await;
    let row = &page[page.find("id=\"cola-other\"").unwrap()..];
    assert!(
        row[..row.find("</tr>").unwrap()].contains("Pausada"),
        "{row}"
    );
    let (status, _) = s.post(&app, "/dashboard/queues/other/resume", &[]).await;
    assert_eq!(status, 303);
    assert!(
        app.state
            .jobs()
            .admin()
            .paused_queues()
            .await
            .unwrap()
            .is_empty()
    );
    let (status, page) = s
        .post(&app, "/dashboard/queues/bad%20name/pause", &[])
        .await;
    assert_eq!(status, 422);
    assert!(page.contains("El nombre de la cola no es válido"), "{page}");
    app.stop().await;
}

async fn the_forms_need_the_session_and_its_token(backend: Backend) {
    let app = spawn(backend).await;
    app.create_accommodation("lago", 1_000_000).await;
    let s = login(&app).await;
    let paths = [
        "/dashboard/alojamientos",
        "/dashboard/alojamientos/lago/datos",
        "/dashboard/alojamientos/lago/precios",
        "/dashboard/alojamientos/lago/temporadas",
        "/dashboard/alojamientos/lago/temporadas/0",
        "/dashboard/alojamientos/lago/temporadas/0/quitar",
        "/dashboard/alojamientos/lago/eliminar",
        "/dashboard/tasks/cleanup/pause",
        "/dashboard/tasks/cleanup/resume",
        "/dashboard/jobs/1/retry",
        "/dashboard/jobs/1/cancel",
        "/dashboard/queues/default/pause",
        "/dashboard/queues/default/resume",
    ];
    for path in paths {
        // No session: 401.
        let res = s
            .client
            .post(app.url(path))
            .form(&[("csrf_token", s.csrf.as_str()), ("base", "1")])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401, "{path}");
        // A session but no or a wrong token: 403.
        for token in [None, Some("0".repeat(64))] {
            let mut req = s.client.post(app.url(path)).header("cookie", &s.cookie);
            req = match &token {
                Some(t) => req.form(&[("csrf_token", t.as_str()), ("base", "1")]),
                None => req.form(&[("base", "1")]),
            };
            let res = req.send().await.unwrap();
            assert_eq!(res.status(), 403, "{path} {token:?}");
        }
        // Not a form: 415, problem+json.
        let res = s
            .client
            .post(app.url(path))
            .header("cookie", &s.cookie)
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 415, "{path}");
        assert_eq!(res.headers()["content-type"], "application/problem+json");
    }
    // Nothing changed.
    let unit = admin_unit(&app, "lago").await;
    assert_eq!(unit["pricing"]["base_nightly"]["minor"], 1_000_000);
    assert!(
        app.state
            .jobs()
            .admin()
            .paused_queues()
            .await
            .unwrap()
            .is_empty()
    );
    // Pages without a session go to the login.
    for path in [
        "/dashboard/alojamientos",
        "/dashboard/alojamientos/lago",
        "/dashboard/automatizacion",
        "/dashboard/automatizacion/trabajos/1",
    ] {
        let res = s.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(res.status(), 303, "{path}");
        assert_eq!(res.headers()["location"], "/dashboard/login");
    }
    app.stop().await;
}

on_both!(
    the_owner_creates_and_edits_a_unit,
    seasons_are_added_changed_removed_and_quoted,
    tasks_jobs_and_queues_from_the_dashboard,
    the_forms_need_the_session_and_its_token,
);
