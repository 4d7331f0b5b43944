//! Calendario and Canales in headless Chromium: the owner blocks a night from the phone's month
//! grid and a guest then finds it taken (and a desktop tab shows it live); the owner adds a
//! channel's calendar, syncs it and sees its conflict, and copies the unit's export address.

use chrono::{Datelike, Duration, NaiveDate};
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp};
use crate::owner::{PASSWORD, assert_owner_pages_fit, spawn_owner_app};
use crate::scenario;

const MONTHS: [&str; 12] = [
    "enero",
    "febrero",
    "marzo",
    "abril",
    "mayo",
    "junio",
    "julio",
    "agosto",
    "septiembre",
    "octubre",
    "noviembre",
    "diciembre",
];

/// The first of the month after next: all its nights are ahead.
fn target_month(app: &TestApp) -> NaiveDate {
    let first = app.state.today().with_day(1).unwrap();
    (first + Duration::days(70)).with_day(1).unwrap()
}

/// A confirmed stay of `slug` over `[from, until)`; its code.
async fn confirmed_stay(app: &TestApp, slug: &str, from: NaiveDate, until: NaiveDate) -> String {
    let res = app
        .pre_reserve(slug, &from.to_string(), &until.to_string())
        .await;
    assert_eq!(res.status(), 201);
    let held: Value = res.json().await.unwrap();
    let code = held["code"].as_str().unwrap().to_string();
    let id = crate::by_code(app, &code).await.id;
    let res = app
        .admin_post(
            &format!("/api/v1/admin/reservations/{id}/confirm"),
            &json!({}),
        )
        .await;
    assert!(res.status().is_success(), "{}", res.status());
    code
}

async fn the_owner_blocks_a_night_and_guests_find_it_taken(backend: Backend) {
    let app = spawn_owner_app(backend, |_| {}).await;
    app.create_accommodation("lago", 1_500_000).await;
    let m = target_month(&app);
    confirmed_stay(&app, "lago", m + Duration::days(2), m + Duration::days(5)).await;
    let res = app
        .pre_reserve(
            "lago",
            &(m + Duration::days(19)).to_string(),
            &(m + Duration::days(21)).to_string(),
        )
        .await;
    assert_eq!(res.status(), 201, "a hold shows too");
    let night = m + Duration::days(13);
    // A 31-day month, the widest desktop row.
    let long_month = (1..12)
        .map(|k| (m + Duration::days(31 * k)).with_day(1).unwrap())
        .find(|first| first.with_day(31).is_some())
        .unwrap();
    let out = scenario(
        "owner_cal_block",
        json!({
            "base": app.base,
            "password": PASSWORD,
            "slug": "lago",
            "month": m.format("%Y-%m").to_string(),
            "night": night.to_string(),
            "night_label": format!("{} de {}", night.day(), MONTHS[night.month0() as usize]),
            "long_month": long_month.format("%Y-%m").to_string(),
        }),
    )
    .await;
    assert_owner_pages_fit(&out);
    // One unit at a time on the phone, every unit in rows on the desktop.
    assert_eq!(out["phone_grid_visible"], true, "{out}");
    assert_eq!(out["desktop_table_visible_on_phone"], false, "{out}");
    assert_eq!(out["desk_table_visible"], true, "{out}");
    assert_eq!(out["desk_phone_grid_visible"], false, "{out}");
    // The month of 31 nights: the desktop table scrolls inside its box, the page never.
    assert_eq!(out["long_month_desktop_overflow"], 0, "{out}");
    assert!(out["long_month"]["overflow390"] == 0, "{out}");
    assert!(out["held"].as_str().unwrap().ends_with("Prerres."), "{out}");
    assert_eq!(out["before"], format!("{} libre", night.day()), "{out}");
    // The tapped night is the form's first; the unit is chosen.
    assert_eq!(out["form_from"], night.to_string());
    assert_eq!(out["form_until"], (night + Duration::days(1)).to_string());
    assert_eq!(out["form_unit"], "lago");
    assert_eq!(
        out["error"], "Escribí el motivo (por ejemplo: mantenimiento).",
        "{out}"
    );
    assert_eq!(out["error_kept_from"], night.to_string());
    assert!(
        out["notice"]
            .as_str()
            .unwrap()
            .starts_with("Bloqueo creado"),
        "{out}"
    );
    assert_eq!(out["after"], format!("{} Bloq.", night.day()), "{out}");
    assert!(
        out["after_label"]
            .as_str()
            .unwrap()
            .contains("Bloqueado por vos: Arreglo del techo"),
        "{out}"
    );
    // The desktop tab changed by itself.
    assert_eq!(out["desk_updated"], true, "{out}");
    assert!(
        out["desk_cell"].as_str().unwrap().contains("Bloq."),
        "{out}"
    );
    let block = out["block_text"].as_str().unwrap();
    assert!(block.contains("Arreglo del techo"), "{block}");
    assert!(block.contains("Quitar el bloqueo"), "{block}");
    // The guest's booking page shows the night taken; so does the public API.
    assert_eq!(
        out["guest_night"],
        format!(
            "{} de {}: ocupado",
            night.day(),
            MONTHS[night.month0() as usize]
        ),
        "{out}"
    );
    let res = app
        .get(&format!(
            "/api/v1/accommodations/lago/availability?month={}",
            m.format("%Y-%m")
        ))
        .await;
    let body: Value = res.json().await.unwrap();
    let day = body["days"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["date"] == night.to_string())
        .unwrap()
        .clone();
    assert_eq!(day["available"], false, "{body}");
    app.stop().await;
}

async fn the_owner_adds_a_feed_syncs_it_and_sees_its_conflict(backend: Backend) {
    let app = spawn_owner_app(backend, |_| {}).await;
    let unit = app.create_accommodation("lago", 1_500_000).await["id"]
        .as_i64()
        .unwrap();
    let m = target_month(&app);
    let code = confirmed_stay(&app, "lago", m + Duration::days(9), m + Duration::days(12)).await;
    let channel = posada_testkit::FakeChannel::start().await;
    let over = m + Duration::days(10);
    channel.set_feed(
        "/airbnb/lago.ics",
        format!(
            "BEGIN:VCALENDAR\r\nPRODID:-//Airbnb Inc//Hosting Calendar 1.0//EN\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nDTSTART;VALUE=DATE:{}\r\nDTEND;VALUE=DATE:{}\r\nUID:over@airbnb.com\r\nSUMMARY:Reserved\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
            over.format("%Y%m%d"),
            (over + Duration::days(1)).format("%Y%m%d")
        ),
    );
    let feed_url = channel.url("/airbnb/lago.ics");
    let out = scenario(
        "owner_chan_conflict",
        json!({
            "base": app.base,
            "password": PASSWORD,
            "unit_id": unit,
            "feed_url": feed_url,
            "month": m.format("%Y-%m").to_string(),
            "slug": "lago",
        }),
    )
    .await;
    assert_owner_pages_fit(&out);
    eprintln!("conflict page refreshed live: {}", out["reloaded"] == false);
    assert_eq!(out["form_unit"], unit.to_string(), "{out}");
    assert!(
        out["url_error"]
            .as_str()
            .unwrap()
            .starts_with("Esa dirección no sirve"),
        "{out}"
    );
    assert_eq!(out["kept_channel"], "airbnb", "{out}");
    let remove = out["remove_text"].as_str().unwrap();
    assert!(
        remove.contains("¿Quitar el calendario de Airbnb de Cabaña lago?"),
        "{remove}"
    );
    assert!(
        remove.contains("La noche que bloqueaba queda libre"),
        "{remove}"
    );
    assert!(
        out["added"]
            .as_str()
            .unwrap()
            .contains("Última sincronización todavía ninguna"),
        "{out}"
    );
    let conflict = out["conflict"].as_str().unwrap();
    assert!(
        conflict.contains("1 conflicto: Airbnb marca ocupadas noches de una reserva nuestra"),
        "{conflict}"
    );
    assert!(conflict.contains(&code), "{conflict}");
    assert!(
        conflict.contains(&format!(
            "ocupado del {} al {}",
            over.format("%d/%m/%Y"),
            (over + Duration::days(1)).format("%d/%m/%Y")
        )),
        "{conflict}"
    );
    let feed = out["feed"].as_str().unwrap();
    assert!(
        feed.contains("1 en el calendario, 1 bloqueo guardado"),
        "{feed}"
    );
    assert!(feed.contains("Último error ninguno"), "{feed}");
    assert_eq!(channel.requests_to("/airbnb/lago.ics").len(), 1);
    assert_eq!(
        out["calendar_conflicts"],
        json!([over.to_string()]),
        "{out}"
    );
    assert_eq!(out["edit_url"], feed_url.as_str());
    // The export address works, and it is what the copy button put on the clipboard.
    let url = out["export_url"].as_str().unwrap();
    assert_eq!(out["export_readonly"], "", "{out}");
    assert_eq!(out["copy_state"], "Copiada.", "{out}");
    assert_eq!(out["clipboard"], url, "{out}");
    let path = &url[url.find("/ical/").unwrap()..];
    let res = app.get(path).await;
    assert_eq!(res.status(), 200);
    let ics = res.text().await.unwrap();
    assert!(ics.contains("BEGIN:VCALENDAR"), "{ics}");
    assert!(
        !ics.contains("over@airbnb.com"),
        "Airbnb's own nights are not echoed back"
    );
    app.stop().await;
}

crate::on_both!(
    the_owner_blocks_a_night_and_guests_find_it_taken,
    the_owner_adds_a_feed_syncs_it_and_sees_its_conflict,
);
