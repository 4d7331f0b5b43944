//! Hoy: the first page after login: today's and tomorrow's arrivals by code and name, the hold
//! about to run out with its countdown, a stay's code leading to its detail.

use serde_json::json;

use crate::helpers::{Backend, days_from_now};
use crate::owner::{PASSWORD, assert_owner_pages_fit, spawn_owner_app};
use crate::scenario;

/// Confirm reservation `code` over the admin API.
async fn confirm(app: &crate::helpers::TestApp, code: &str) {
    let id = crate::by_code(app, code).await.id;
    let res = app
        .admin_post(
            &format!("/api/v1/admin/reservations/{id}/confirm"),
            &json!({}),
        )
        .await;
    assert!(res.status().is_success(), "{}", res.status());
}

/// A hold over the public API for `name` (e-mail only); its code.
async fn hold(app: &crate::helpers::TestApp, slug: &str, from: i64, to: i64, name: &str) -> String {
    let res = app
        .post(
            "/api/v1/reservations",
            &json!({
                "accommodation": slug,
                "check_in": days_from_now(from),
                "check_out": days_from_now(to),
                "guests": 2,
                "guest": {"name": name, "email": "huesped@example.com"},
            }),
        )
        .await;
    assert_eq!(res.status(), 201);
    let body: serde_json::Value = res.json().await.unwrap();
    body["code"].as_str().unwrap().to_string()
}

async fn the_owner_logs_in_and_sees_todays_arrival(backend: Backend) {
    let app = spawn_owner_app(backend, |_| {}).await;
    app.create_accommodation("lago", 1_500_000).await;
    app.create_accommodation("bosque", 1_500_000).await;
    app.create_accommodation("monte", 1_500_000).await;
    let tomorrow = hold(&app, "bosque", 1, 3, "Bruno Díaz").await;
    confirm(&app, &tomorrow).await;
    let expiring = hold(&app, "monte", 10, 12, "Carla Gómez").await;
    let code = hold(&app, "lago", 0, 2, "Ana Pérez").await;
    confirm(&app, &code).await;

    let out = scenario(
        "owner_today",
        json!({"base": app.base, "password": PASSWORD}),
    )
    .await;
    assert_owner_pages_fit(&out);
    assert!(
        out["login_url"]
            .as_str()
            .unwrap()
            .ends_with("/dashboard/login"),
        "{out}"
    );
    assert!(
        out["after_login_url"]
            .as_str()
            .unwrap()
            .ends_with("/dashboard"),
        "{out}"
    );
    let main = out["main"].as_str().unwrap();
    assert!(main.contains(&code), "today's arrival by code: {main}");
    assert!(
        main.contains("Ana Pérez"),
        "today's arrival by name: {main}"
    );
    // Today's and tomorrow's arrivals, each in its place.
    let arrivals_today = out["arrivals_today"].as_str().unwrap();
    assert!(
        arrivals_today.contains(&code) && arrivals_today.contains("Ana Pérez"),
        "{out}"
    );
    let arrivals_tomorrow = out["arrivals_tomorrow"].as_str().unwrap();
    assert!(
        arrivals_tomorrow.contains(&tomorrow) && arrivals_tomorrow.contains("Bruno Díaz"),
        "{out}"
    );
    assert!(!arrivals_tomorrow.contains(&code), "{out}");
    // The hold about to run out, with its countdown (30 min holds).
    let expiring_text = out["expiring"].as_str().unwrap();
    assert!(expiring_text.contains(&expiring), "{out}");
    assert!(expiring_text.contains("Carla Gómez"), "{out}");
    assert!(
        expiring_text.contains("vence en 29 min") || expiring_text.contains("vence en 28 min"),
        "{out}"
    );
    assert!(
        out["detail_url"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/dashboard/reservas/{code}")),
        "{out}"
    );
    assert_eq!(out["detail_title"], format!("Reserva {code}"));
    let menu: Vec<&str> = out["menu"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap())
        .collect();
    for section in [
        "Hoy",
        "Calendario",
        "Reservas",
        "Alojamientos y precios",
        "Canales",
        "Conversaciones",
        "Automatización",
    ] {
        assert!(menu.contains(&section), "{section} in the menu: {menu:?}");
    }
    app.stop().await;
}

crate::on_both!(the_owner_logs_in_and_sees_todays_arrival);
