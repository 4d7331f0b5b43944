//! Hoy: the first page after login.

use serde_json::json;

use crate::helpers::{Backend, days_from_now};
use crate::owner::{PASSWORD, assert_owner_pages_fit, spawn_owner_app};
use crate::scenario;

async fn the_owner_logs_in_and_sees_todays_arrival(backend: Backend) {
    let app = spawn_owner_app(backend, |_| {}).await;
    app.create_accommodation("lago", 1_500_000).await;
    let res = app
        .pre_reserve("lago", &days_from_now(0), &days_from_now(2))
        .await;
    assert_eq!(res.status(), 201);
    let held: serde_json::Value = res.json().await.unwrap();
    let code = held["code"].as_str().unwrap().to_string();
    let id = crate::by_code(&app, &code).await.id;
    let res = app
        .admin_post(
            &format!("/api/v1/admin/reservations/{id}/confirm"),
            &json!({}),
        )
        .await;
    assert!(res.status().is_success(), "{}", res.status());

    let out = scenario(
        "owner_login",
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
